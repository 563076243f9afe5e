"""DSR hybrid training (ImageNet recipe): ANN weights into the SNN, thresholds = the percentile of
each layer's ANN (ReLU) activations, as the authors' preresnet_cal_Vth.py."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snnexp
from snnexp.engine.init_from import init_from
from snnexp.errors import CheckpointError
from snnexp.methods.dsr import DSR, dsr_nodes

MODEL = ["model=preact_resnet20", "data=synthetic", "data.image_size=8", "data.in_channels=3", "norm=bn"]


def hybrid_dsr(percentile: float) -> DSR:
    """method=dsr as experiment=dsr/imagenet_if sets it up: thresholds from the ANN's percentiles."""
    return DSR(
        formulation="flat",
        flat_bn="recorded",
        record_chunk=0,
        calibrate_thresholds=True,
        threshold_percentile=percentile,
    )


def test_thresholds_are_the_ann_activation_percentiles(tmp_path):
    torch.manual_seed(0)
    ann = snnexp.build_model(snnexp.compose([*MODEL, "neuron=relu", "T=1"]))
    ann.train()
    ann(torch.randn(16, 3, 8, 8))  # BN running statistics that differ from the init
    ann.eval()
    torch.save({"model": ann.state_dict()}, tmp_path / "ann.pt")

    snn = snnexp.build_model(snnexp.compose([*MODEL, "neuron=dsr_if", "T=4"]))
    method = hybrid_dsr(99.0)
    # what the engine does with init.from=ann.pt init.reinit=strict: every tensor but V_th from the ANN
    init_from(snn, tmp_path / "ann.pt", reinit="strict", skip=[], fresh=method.init_fresh, echo=False)
    method.prepare(snn)
    nodes = dsr_nodes(snn)
    assert all(torch.isnan(n.v_threshold) for n in nodes)  # uncalibrated until the first batch

    # the expected percentiles: the ANN's own post-ReLU activations, taken by hooks on its ReLUs
    x = torch.randn(32, 3, 8, 8)
    relus = [m for m in ann.modules() if type(m).__name__ == "ReLUUnit"]
    acts = []
    hooks = [r.register_forward_hook(lambda m, i, o: acts.append(o.detach().flatten())) for r in relus]
    ann.train()  # the SNN calibrates in training mode (batch statistics), as its first step
    with torch.no_grad():
        ann(x)
    for h in hooks:
        h.remove()
    expect = [a.sort().values[int(0.99 * a.numel())] for a in acts]

    snn.train()
    method.calibrate_if_needed(snn, x)
    assert len(nodes) == len(expect) == 3 * 3 * 2 + 3
    for n, e in zip(nodes, expect, strict=True):
        torch.testing.assert_close(n.v_threshold.detach(), e.clamp_min(n.lower_bound))
    # ANN weights were loaded, and a second call (e.g. after resume) changes nothing
    torch.testing.assert_close(snn.stem.weight, ann.stem.weight)
    before = [n.v_threshold.detach().clone() for n in nodes]
    method.calibrate_if_needed(snn, torch.randn(32, 3, 8, 8))
    assert all(torch.equal(b, n.v_threshold.detach()) for b, n in zip(before, nodes, strict=True))


def test_init_from_an_ann_of_another_model_is_refused_with_strict(tmp_path):
    snn_cfg = [*MODEL, "neuron=dsr_if", "T=2"]
    fresh = hybrid_dsr(99.9)
    for other, why in (("preact_resnet32", "has no place in this model"), ("preact_resnet20", None)):
        ann = snnexp.build_model(snnexp.compose([*MODEL, f"model={other}", "neuron=relu", "T=1"]))
        torch.save({"model": ann.state_dict()}, tmp_path / "ann.pt")
        snn = snnexp.build_model(snnexp.compose(snn_cfg))
        if why is None:  # the same model: only the thresholds are left to the method
            report = init_from(snn, tmp_path / "ann.pt", reinit="strict", skip=[], fresh=fresh.init_fresh)
            assert report["missing"] and all(n.endswith("v_threshold") for n in report["missing"])
            continue
        with pytest.raises(CheckpointError, match=why):
            init_from(snn, tmp_path / "ann.pt", reinit="strict", skip=[], fresh=fresh.init_fresh)
    with pytest.raises(CheckpointError, match="v_threshold does not match"):  # without the method's say
        init_from(snnexp.build_model(snnexp.compose(snn_cfg)), tmp_path / "ann.pt", reinit="strict", skip=[])
    assert isinstance(snn, nn.Module)


def test_hybrid_as_two_commands(tmp_path):
    """ANN run (neuron=relu, T=1), then a DSR run initialised from its checkpoint: the DSR run's
    checkpoint has finite, calibrated thresholds and starts from the ANN's weights."""
    base = [
        "data=synthetic",
        "data.image_size=8",
        "data.in_channels=3",
        "data.train_size=32",
        "data.test_size=16",
        "model=preact_resnet20",
        "trainer.batch_size=16",
        "trainer.epochs=1",
        "logger=none",
        "trainer.progress=false",
    ]
    snnexp.train(snnexp.compose([*base, "neuron=relu", "T=1"]), run_dir=str(tmp_path / "ann"))
    ckpt = tmp_path / "ann" / "checkpoints" / "last.pt"
    cfg = snnexp.compose(
        [*base, "neuron=dsr_if", "T=3", "method=dsr", f"init.from={ckpt}", "init.reinit=strict"]
        + ["method.calibrate_thresholds=true"]
    )
    snnexp.train(cfg, run_dir=str(tmp_path / "snn"))
    state = torch.load(tmp_path / "snn" / "checkpoints" / "last.pt", weights_only=False)["model"]
    ths = [v for k, v in state.items() if k.endswith("v_threshold")]
    assert len(ths) == 21 and all(torch.isfinite(t) and t > 0 for t in ths)
