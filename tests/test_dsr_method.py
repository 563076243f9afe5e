"""method=dsr (DSR Sec. 3.4, Eq. 16-17, 19): the memory-flat formulation against the authors'
per-step one, against the hand-derived gradient of the representation network, and its memory."""

from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import functional, layer
from torch import nn

from snnexp.config import compose
from snnexp.errors import ConfigError
from snnexp.methods.dsr import DSR
from snnexp.models.base import SpikingNet
from snnexp.parts import Parts

# conf/method/dsr.yaml
HYBRID_OFF = {
    "flat_bn": "recorded",
    "record_chunk": 0,
    "calibrate_thresholds": False,
    "threshold_percentile": 99.9,
}


def parts(*overrides: str) -> Parts:
    return Parts(compose(["T=6", "neuron.v_threshold=1.0", *overrides]))


def conv_net(p: Parts, width: int = 6) -> SpikingNet:
    """conv-norm-N-conv-norm-N-avgpool-rate: affine stateless layers only."""
    stem = nn.Sequential(layer.Conv2d(1, width, 3, padding=1, step_mode="m"), p.norm(width))
    body = nn.Sequential(
        p.neuron(),
        layer.Conv2d(width, width, 3, padding=1, step_mode="m"),
        p.norm(width),
        p.neuron(),
        layer.AvgPool2d(2, 2, step_mode="m"),
    )
    return SpikingNet(p.T, stem, body, p.readout("rate", width * 16, 3))


def grads(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.grad.clone() for k, v in model.named_parameters() if v.grad is not None}


def per_step_grads(model, x, y):
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    functional.reset_net(model)
    return grads(model)


def flat_grads(model, x, y):
    model.zero_grad()
    out = DSR(formulation="flat", **HYBRID_OFF).flat_forward(model, model, x)
    nn.functional.cross_entropy(out, y).backward()
    functional.reset_net(model)
    return grads(model)


@pytest.mark.parametrize("neuron", ["dsr_if", "dsr_lif"])
@pytest.mark.parametrize("norm", ["none", "bn_eval"])
def test_flat_equals_per_step_without_batch_statistics(neuron, norm):
    torch.manual_seed(0)
    lif = ["neuron.v_threshold=0.05", "neuron.v_threshold_lower_bound=0.0005"]
    extra = lif if neuron == "dsr_lif" else []
    model = conv_net(parts(f"neuron={neuron}", f"norm={'none' if norm == 'none' else 'bn'}", *extra))
    if norm == "bn_eval":
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.eval()
    DSR(formulation="flat", **HYBRID_OFF).prepare(model)
    x, y = torch.rand(5, 1, 8, 8) * 2, torch.tensor([0, 1, 2, 1, 0])
    ref, got = per_step_grads(model, x, y), flat_grads(model, x, y)
    assert ref.keys() == got.keys()
    assert any("v_threshold" in k and ref[k].abs() > 0 for k in ref)  # Eq. 19 is exercised
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], atol=1e-5, rtol=1e-5, msg=k)


def test_if_gradient_is_that_of_the_representation_network():
    """o^i = clamp(W^i r^{i-1}, 0, V_th^i) (Eq. 17, IF): dL/dW^i = (g^i * m^i)^T r^{i-1},
    g^{i-1} = (g^i * m^i) W^i, dL/dV_th^i = sum g^i * 1[W^i r^{i-1} > V_th^i] (Eq. 19),
    evaluated at the SNN's spike representations r^i and its output o^L = r^L."""
    torch.manual_seed(1)
    p = parts("neuron=dsr_if", "norm=none", "T=8")
    fcs = [layer.Linear(10, 12, step_mode="m"), layer.Linear(12, 8, step_mode="m")]
    body = nn.Sequential(p.neuron(), fcs[1], p.neuron())
    model = SpikingNet(p.T, fcs[0], body, p.readout("rate", 8, 3, norm=False))
    model.static_dims = 2  # a static input is [B, 10]
    neurons = [model.body[0], model.body[2], model.readout.neuron]
    weights = [fcs[0], fcs[1], model.readout.fc]
    x, y = torch.rand(6, 10) * 3, torch.tensor([0, 1, 2, 0, 1, 2])
    outs = []
    hooks = [n.register_forward_hook(lambda m, i, o: outs.append(o.detach().mean(0))) for n in neurons]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    functional.reset_net(model)
    reps = [x, *outs]  # r^0 (the static input), r^1, r^2, r^3 = output
    r_out = reps[-1].requires_grad_()
    nn.functional.cross_entropy(r_out, y).backward()
    g, expect = r_out.grad, {}
    for i in (2, 1, 0):
        fc, th = weights[i], float(neurons[i].v_threshold.detach())
        z = reps[i] @ fc.weight.T + fc.bias
        delta = g * ((z >= 0) & (z <= th)).float()
        expect[f"w{i}"], expect[f"b{i}"] = delta.T @ reps[i], delta.sum(0)
        expect[f"th{i}"] = (g * (z > th).float()).sum()
        g = delta @ fc.weight
    DSR(formulation="flat", **HYBRID_OFF).prepare(model)
    for get in (flat_grads, per_step_grads):
        get(model, x, y)
        for i in range(3):
            torch.testing.assert_close(weights[i].weight.grad, expect[f"w{i}"], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(weights[i].bias.grad, expect[f"b{i}"], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(neurons[i].v_threshold.grad, expect[f"th{i}"], atol=1e-5, rtol=1e-4)
        assert any(float(expect[f"th{i}"].detach()) != 0 for i in range(3))


def saved_bytes(model: nn.Module, T: int, formulation: str) -> int:
    model.T = T
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 0])
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        if formulation == "flat":
            out = DSR(formulation="flat", **HYBRID_OFF).flat_forward(model, model, x)
        else:
            out = model(x)
        nn.functional.cross_entropy(out, y).backward()
    functional.reset_net(model)
    return total


def test_flat_memory_does_not_grow_with_T():
    torch.manual_seed(0)
    model = conv_net(parts("neuron=dsr_if", "norm=bn"), width=8)
    DSR(formulation="flat", **HYBRID_OFF).prepare(model)
    flat = saved_bytes(model, 20, "flat") / saved_bytes(model, 5, "flat")
    per_step = saved_bytes(model, 20, "per_step") / saved_bytes(model, 5, "per_step")
    assert flat <= 1.15
    assert per_step > 3.0  # the authors' formulation saves every step's input


def test_prepare_names_the_neurons_that_support_dsr():
    model = conv_net(parts("neuron=if", "norm=none"))
    with pytest.raises(ConfigError, match="neuron=dsr_if or neuron=dsr_lif"):
        DSR(formulation="flat", **HYBRID_OFF).prepare(model)
    with pytest.raises(ConfigError, match="formulation"):
        DSR(formulation="both", **HYBRID_OFF)


def test_flat_bn_gradient_is_the_time_sum_of_the_per_step_one():
    """Train-mode BN (T*B statistics) with ``flat_bn: recorded``: the replay's BN is the average of
    the per-step BN outputs and its gradient the per-step gradient summed over time, so for IF a
    net whose only BN sits between a conv on the static image and a neuron trains exactly as the
    authors' per-step formulation (the conv's input is the same at every step)."""
    torch.manual_seed(3)
    p = parts("neuron=dsr_if", "norm=bn", "neuron.v_threshold=0.5")
    stem = nn.Sequential(layer.Conv2d(1, 6, 3, padding=1, step_mode="m"), p.norm(6))
    body = nn.Sequential(p.neuron(), layer.AvgPool2d(2, 2, step_mode="m"))
    model = SpikingNet(p.T, stem, body, p.readout("rate", 6 * 16, 3, norm=False))
    DSR(formulation="flat", **HYBRID_OFF).prepare(model)
    x, y = torch.rand(5, 1, 8, 8) * 2, torch.tensor([0, 1, 2, 1, 0])
    ref, got = per_step_grads(model, x, y), flat_grads(model, x, y)
    assert ref[next(k for k in ref if k.endswith("1.weight"))].abs().sum() > 0  # BN's gamma learns
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], atol=1e-5, rtol=1e-4, msg=k)


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_cli_names_the_dsr_neurons(tmp_path):
    from conftest import run_cli

    p = run_cli("train", "debug=fast", "method=dsr", "neuron=lif", cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert (
        p.stderr.strip()
        .splitlines()[-1]
        .startswith("snnexp: error: method=dsr needs neuron=dsr_if or neuron=dsr_lif")
    )
