"""Normalisations: tdBN statistics (TDBN Eq. 5-8, Alg. 1), BNTT per-step statistics without bias
(KEYS Sec. 3.2.2), plain BN over T*B (SEW), identity, and how models see them."""

from __future__ import annotations

import functools
import math

import pytest
import torch

from snnexp.config import compose
from snnexp.config.compose import group_options
from snnexp.models.base import SpikingNet, uses_per_step_state
from snnexp.parts import Parts


@functools.cache
def cfg(*overrides: str):
    return compose(list(overrides))


def norm(*overrides: str, channels: int = 4, residual: bool = False, dims: int = 2):
    return Parts(cfg(*overrides)).norm(channels, residual=residual, dims=dims)


def skewed_input(T=4, B=8, C=4, H=5, W=5, seed=0) -> torch.Tensor:
    """Per-channel means/stds far from N(0, 1), and a per-step offset."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, B, C, H, W, generator=g)
    x = x * torch.arange(1, C + 1).view(1, 1, C, 1, 1) * 3 + torch.arange(C).view(1, 1, C, 1, 1) * 5
    return x + torch.arange(T).view(T, 1, 1, 1, 1) * 2.0


def channel_stats(y: torch.Tensor, over=(0, 1, 3, 4)) -> tuple[torch.Tensor, torch.Tensor]:
    y = y.detach()
    return y.mean(over), y.var(over, unbiased=False).sqrt()


def test_all_norm_options_are_registered():
    assert set(group_options("norm")) == {"bn", "tdbn", "bntt", "none"}


@pytest.mark.parametrize("v_th", [1.0, 0.5])
def test_tdbn_normalises_each_channel_over_T_N_H_W_to_alpha_vth(v_th):
    x = skewed_input()
    for residual, alpha in ((False, 1.0), (True, 1 / math.sqrt(2))):
        m = norm("norm=tdbn", f"neuron.v_threshold={v_th}", residual=residual)
        m.train()
        y = m(x)
        mean, std = channel_stats(y)
        assert mean.abs().max() < 1e-5
        assert std == pytest.approx(torch.full((4,), alpha * v_th), abs=2e-4)
        # statistics are shared by the steps: the per-step offset survives (unlike BNTT)
        per_step = y.mean((1, 2, 3, 4))
        assert per_step[-1] - per_step[0] > 0.1


def test_tdbn_parameters_are_lambda_1_beta_0_with_alpha_vth_as_a_fixed_factor():
    m = norm("norm=tdbn", "neuron.v_threshold=0.5", residual=True)
    assert torch.equal(m.weight.data, torch.ones(4)) and torch.equal(m.bias.data, torch.zeros(4))
    assert m.alpha == pytest.approx(1 / math.sqrt(2)) and m.scale.item() == pytest.approx(0.5 / math.sqrt(2))
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    # y = lambda * x_hat + beta (Eq. 6)
    with torch.no_grad():
        m.weight.fill_(2.0)
        m.bias.fill_(0.25)
    y = m.train()(skewed_input())
    mean, std = channel_stats(y)
    assert mean == pytest.approx(torch.full((4,), 0.25), abs=1e-5)
    assert std == pytest.approx(torch.full((4,), 2.0 * 0.5 / math.sqrt(2)), abs=2e-4)


def test_tdbn_running_statistics_and_eval_mode():
    x = skewed_input(seed=1)
    m = norm("norm=tdbn")
    m.train()
    m(x)
    flat = x.transpose(0, 2).reshape(4, -1)  # channel-major
    assert m.running_mean == pytest.approx(0.1 * flat.mean(1), rel=1e-5)
    assert m.running_var == pytest.approx(0.9 + 0.1 * flat.var(1, unbiased=True), rel=1e-5)
    m.eval()
    y = m(x)
    ref = (x - m.running_mean.view(1, 1, 4, 1, 1)) / torch.sqrt(m.running_var.view(1, 1, 4, 1, 1) + 1e-5)
    assert torch.allclose(y, ref, atol=1e-5)  # alpha V_th = 1


def test_tdbn_on_features_T_B_C():
    m = norm("norm=tdbn", dims=1)
    y = m.train()(torch.randn(3, 16, 4) * 5 + 2)
    mean, std = channel_stats(y, over=(0, 1))
    assert mean.abs().max() < 1e-5 and std == pytest.approx(torch.ones(4), abs=1e-3)


def test_bntt_has_per_step_statistics_and_weight_only():
    m = norm("norm=bntt", "T=4")
    assert m.per_step and uses_per_step_state(torch.nn.Sequential(m))
    assert len(m.bn_list) == 4 and all(bn.bias is None for bn in m.bn_list)
    assert sum(p.numel() for p in m.parameters()) == 4 * 4  # T x C weights, no bias
    x = skewed_input()
    m.train()
    y = m(x)
    for t in range(4):  # each step normalised with its own statistics
        mean, std = channel_stats(y[t : t + 1])
        assert mean.abs().max() < 1e-4 and std == pytest.approx(torch.ones(4), abs=1e-3)
    # a separate weight per step, applied to that step only
    with torch.no_grad():
        m.bn_list[2].weight.fill_(3.0)
    y = m(x)
    assert channel_stats(y[2:3])[1] == pytest.approx(torch.full((4,), 3.0), abs=3e-3)
    assert channel_stats(y[1:2])[1] == pytest.approx(torch.ones(4), abs=1e-3)
    assert m.bn_list[0].eps == pytest.approx(1e-4)  # the KEYS authors' eps


def test_bntt_runs_shorter_sequences_and_rejects_longer_ones():
    m = norm("norm=bntt", "T=4").eval()
    assert m(torch.randn(2, 3, 4, 5, 5)).shape == (2, 3, 4, 5, 5)  # KEYS Table 16: fewer steps
    with pytest.raises(ValueError, match="T=4"):
        m(torch.randn(5, 3, 4, 5, 5))


def test_bntt_turns_off_the_stem_once_trick_and_bn_does_not():
    for name, expect in (("bntt", False), ("bn", True), ("tdbn", True)):
        stem = torch.nn.Sequential(torch.nn.Identity(), norm(f"norm={name}", "T=4"))
        net = SpikingNet(4, stem, torch.nn.Identity(), torch.nn.Identity(), stem_once=True)
        assert net.stem_once is expect, name


def test_bn_statistics_over_T_times_B_and_none_is_identity():
    x = skewed_input()
    y = norm("norm=bn").train()(x)
    mean, std = channel_stats(y)
    assert mean.abs().max() < 1e-5 and std == pytest.approx(torch.ones(4), abs=2e-4)
    m = norm("norm=none")
    assert m(x) is x and not list(m.parameters())
