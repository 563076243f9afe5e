"""tdBN/BN folding into the preceding conv (TDBN Eq. 9-10): same outputs in eval mode, no norm
left, the original model untouched."""

from __future__ import annotations

import functools
import warnings

import pytest
import torch
from spikingjelly.activation_based import functional, layer
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from snnexp.build import build_model
from snnexp.config import compose
from snnexp.fold import fold_pair, fold_tdbn
from snnexp.norms.tdbn import ThresholdDependentBN


@functools.cache
def cfg(*overrides: str):
    return compose(list(overrides))


def randomise(model: nn.Module, x: torch.Tensor, steps: int = 3, seed: int = 0) -> None:
    """Give every norm non-trivial running statistics and affine parameters."""
    g = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                if m.weight is not None:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 1.5 + 0.25)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.3)
        for i in range(steps):
            model(x * (1 + 0.3 * i) + 0.1 * i)
            functional.reset_net(model)


def test_fold_pair_is_tdbn_eq9_eq10():
    conv = layer.Conv2d(3, 5, 3, padding=1, bias=True, step_mode="m")
    bn = ThresholdDependentBN(5, alpha=0.7, v_threshold=0.5)
    randomise(nn.Sequential(conv, bn), torch.randn(4, 2, 3, 6, 6) * 2 + 1)
    folded = fold_pair(conv, bn)
    s = bn.weight * 0.7 * 0.5 / torch.sqrt(bn.running_var + bn.eps)  # lambda alpha V_th / sigma
    assert torch.allclose(folded.weight, conv.weight * s.view(-1, 1, 1, 1), atol=1e-6)  # Eq. 9
    assert torch.allclose(folded.bias, s * (conv.bias - bn.running_mean) + bn.bias, atol=1e-6)  # Eq. 10
    x = (torch.rand(4, 2, 3, 6, 6) > 0.5).float()  # spikes
    bn.eval()
    assert (folded(x) - bn(conv(x))).abs().max() < 1e-5


@pytest.mark.parametrize(
    "make",
    [
        lambda: (
            layer.Conv2d(3, 6, 3, padding=1, bias=False, step_mode="m"),
            layer.BatchNorm2d(6, step_mode="m"),
        ),
        lambda: (nn.Conv2d(3, 6, 1), nn.BatchNorm2d(6)),
        lambda: (layer.Linear(7, 6, step_mode="m"), layer.BatchNorm1d(6, step_mode="m")),
    ],
)
def test_plain_bn_after_conv_or_linear_folds_too(make):
    conv, bn = make()
    seq = nn.Sequential(conv, bn)
    x = (
        torch.randn(8, 3, 6, 6)
        if isinstance(conv, nn.Conv2d) and not isinstance(conv, layer.Conv2d)
        else (torch.randn(3, 4, 7) if isinstance(conv, nn.Linear) else torch.randn(3, 4, 3, 6, 6))
    )
    randomise(seq, x)
    seq.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left unfolded
        folded = fold_tdbn(seq, strict=True)
    assert isinstance(folded[1], nn.Identity) and folded.folded_norms == 1
    assert (folded(x) - seq(x)).abs().max() < 1e-5


@pytest.mark.parametrize(
    "overrides",
    [
        ("norm=tdbn", "neuron=tdbn_lif", "surrogate=rect"),  # TDBN
        ("norm=tdbn", "block=spiking"),  # residual alpha = 1/sqrt 2
        ("norm=bn", "block=sew_iand", "neuron=plif"),  # SEW
        ("norm=tdbn", "neuron=dsr_if", "model.readout=rate"),  # norm in the readout too
    ],
)
def test_folded_network_gives_the_same_outputs_in_eval_mode(overrides):
    torch.manual_seed(0)
    model = build_model(cfg("model.width=8", *overrides))
    x = torch.rand(6, 1, 8, 8) * 4
    randomise(model, x)
    model.eval()
    n_norms = sum(isinstance(m, _BatchNorm) for m in model.modules())
    with torch.no_grad():
        ref = model(x)
        functional.reset_net(model)
        folded = fold_tdbn(model, strict=True)
        out = folded(x)
        functional.reset_net(folded)
    assert not any(isinstance(m, _BatchNorm) for m in folded.modules())
    assert folded.folded_norms == n_norms
    assert (out - ref).abs().max() < 1e-5
    assert ref.abs().max() > 0  # the comparison is not vacuous
    # the original keeps its norms
    assert sum(isinstance(m, _BatchNorm) for m in model.modules()) == n_norms
    # the data-flow search finds the same pairs and checks the result itself
    folded2 = fold_tdbn(model, example_input=x, strict=True)
    assert folded2.folded_norms == n_norms


def test_norms_that_cannot_be_folded_are_reported():
    model = build_model(cfg("model.width=8", "norm=bntt"))  # one BN per step: no single conv
    with pytest.warns(UserWarning, match="not folded"):
        fold_tdbn(model)
    with pytest.raises(ValueError, match="not folded"):
        fold_tdbn(model, strict=True)
    # a pre-activation BN (fed by a sum, not by a conv) stays as well
    pre = nn.Sequential(nn.Identity(), nn.BatchNorm2d(3), nn.Conv2d(3, 3, 1))
    with pytest.warns(UserWarning, match="1 norm"):
        out = fold_tdbn(pre)
    assert isinstance(out[1], nn.BatchNorm2d)


def test_fold_leaves_the_original_model_and_its_state_alone():
    model = build_model(cfg("model.width=8", "norm=tdbn"))
    model.train()
    x = torch.rand(2, 1, 8, 8) * 3
    model(x)  # neurons now hold a membrane potential with a graph
    folded = fold_tdbn(model)
    assert model.training and not folded.training
    assert any(isinstance(m, ThresholdDependentBN) for m in model.modules())
    functional.reset_net(model)
