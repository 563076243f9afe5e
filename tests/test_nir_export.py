"""NIR out and back: the exported graph, read back by an independent importer (spikingjelly 2.0's
``nir_exchange`` node mapping run by nirtorch's graph executor), gives the snnexp model's outputs
step by step on the same input.

spikingjelly's importer has no mapping for the two NIR nodes a max pool is written with
(``SumPool2d``, ``Threshold``; nir_export.py), so this test adds them from the NIR definitions:
SumPool2d = the sum over each window (zero padding), Threshold = H(x - theta).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from spikingjelly.activation_based import functional

import snnexp
from snnexp.nir_export import CannotExport, to_nir

ATOL = 1e-6


class Heaviside(torch.nn.Module):
    def __init__(self, theta):
        super().__init__()
        self.register_buffer("theta", torch.from_numpy(np.asarray(theta, dtype=np.float32)))

    def forward(self, x):
        return (x > self.theta).to(x.dtype)


def import_back(path):
    import nir
    import nirtorch
    from spikingjelly.activation_based.nir_exchange.from_nir import _NodeMapper

    node_map = dict(_NodeMapper().map_dict)
    node_map[nir.SumPool2d] = lambda n: torch.nn.AvgPool2d(
        tuple(n.kernel_size), tuple(n.stride), tuple(n.padding), divisor_override=1
    )
    node_map[nir.Threshold] = lambda n: Heaviside(n.threshold)
    net = nirtorch.nir_to_torch(nir.read(str(path)), node_map)
    functional.set_step_mode(net, "s")
    return net


def randomized(overrides: list[str]):
    cfg = snnexp.compose([*overrides, "logger=none"])
    model = snnexp.build_model(cfg).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # trained-looking BN statistics, so that folding matters
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(0.4 * torch.rand(c, generator=g) - 0.2)
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
                m.weight.copy_(0.5 + 1.5 * torch.rand(c, generator=g))
                if m.bias is not None:
                    m.bias.copy_(0.5 * torch.rand(c, generator=g))
    return cfg, model


def round_trip(tmp_path, overrides: list[str]) -> dict[str, float]:
    import nir

    cfg, model = randomized(overrides)
    size, c = int(cfg.data.image_size), int(cfg.data.in_channels)
    graph, folded = to_nir(model, (c, size, size))
    path = tmp_path / "model.nir"
    nir.write(str(path), graph)
    back = import_back(path)
    x = torch.rand(3, c, size, size, generator=torch.Generator().manual_seed(1))
    per_step: list[torch.Tensor] = []
    hook = folded.readout.fc.register_forward_hook(lambda m, i, o: per_step.append(o))
    with torch.no_grad():
        logits = folded(x)
        hook.remove()
        state, outs = None, []
        for _ in range(int(cfg.T)):
            y, state = back(x, state)
            outs.append(y)
    theirs = torch.stack(outs)
    assert logits.std() > 0, "constant logits: the comparison says nothing"
    return {
        "per_step": (theirs - per_step[0]).abs().max().item(),
        "logits": (theirs.mean(0) - logits).abs().max().item(),
        "nodes": len(graph.nodes),
    }


def test_sew_mini_round_trip(tmp_path):
    """sew_mini (SEW ADD): its max pools read sums of spikes (values 0..2), written as two levels."""
    d = round_trip(tmp_path, ["model=sew_mini", "data=digits", "T=4"])
    print("sew_mini", d)
    assert d["per_step"] <= ATOL and d["logits"] <= ATOL, d


def test_sew_resnet18_round_trip(tmp_path):
    d = round_trip(
        tmp_path,
        [
            "model=sew_resnet18",
            "data=synthetic",
            "data.image_size=32",
            "data.num_classes=10",
            "neuron=if",
            "T=2",
        ],
    )
    print("sew_resnet18", d)
    assert d["per_step"] <= ATOL and d["logits"] <= ATOL, d


@pytest.mark.parametrize(
    "overrides,first",
    [
        (["block=sew_and"], r"body\.1 \(SEW block, g=AND\)"),
        (["block=sew_iand"], r"body\.1 \(SEW block, g=IAND\)"),
        (["neuron=keys_lif"], r"body\.0 .*soft reset"),
        (["neuron=tdbn_lif"], r"body\.0 \(TDBNLIFNode\)"),
        (["norm=bntt"], r"stem\.1 .*BNTT"),
        (["encoder=poisson"], r"encoder \(Poisson"),
    ],
)
def test_what_nir_cannot_express_is_refused_by_name(overrides, first):
    cfg, model = randomized(["model=sew_mini", "data=digits", "T=2", *overrides])
    with pytest.raises(CannotExport, match=first):
        to_nir(model, (1, 8, 8))


def test_nir_read_without_snnexp(tmp_path):
    import nir

    _, model = randomized(["model=sew_mini", "data=digits", "T=2"])
    graph, _ = to_nir(model, (1, 8, 8))
    path = tmp_path / "m.nir"
    nir.write(str(path), graph)
    code = (
        "import sys, nir; g = nir.read(sys.argv[1]); "
        "assert 'snnexp' not in sys.modules; "
        "print(len(g.nodes), sorted({type(n).__name__ for n in g.nodes.values()}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.startswith(f"{len(graph.nodes)} "), done.stdout
    assert "IF" in done.stdout and "Conv2d" in done.stdout and "SumPool2d" in done.stdout
