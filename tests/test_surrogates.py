"""Surrogate derivatives against the values the papers quote (SEW A.1/A.5 and Sec. 4.1 Fig. 6-8,
TDBN Eq. 16, KEYS Eq. 24, SEW Table S3)."""

from __future__ import annotations

import functools
import math

import pytest
import torch

from snnexp.config import compose
from snnexp.config.compose import group_options
from snnexp.parts import Parts
from snnexp.registry import SURROGATES


@functools.cache
def cfg(*overrides: str):
    return compose(list(overrides))


def surrogate(*overrides: str):
    return Parts(cfg(*overrides)).surrogate()


def grad_at(sg, xs) -> list[float]:
    x = torch.as_tensor(xs, dtype=torch.float64).clone().requires_grad_()
    sg(x).sum().backward()
    return x.grad.tolist()


def test_all_surrogate_options_are_registered():
    assert set(group_options("surrogate")) == {"atan", "rect", "triangle", "sigmoid", "constant"}


@pytest.mark.parametrize("name", group_options("surrogate"))
def test_forward_is_the_heaviside_step_with_h0_equal_1(name):
    sg = surrogate(f"surrogate={name}")
    x = torch.tensor([-2.0, -1e-6, 0.0, 1e-6, 3.0])
    assert sg(x).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


def test_atan_values_quoted_by_sew():
    sg = surrogate("surrogate=atan")  # alpha = 2 (SEW A.1)
    d0, dm1, dp1 = grad_at(sg, [0.0, -1.0, 1.0])
    assert d0 == pytest.approx(1.0)  # sigma'(1 - V_th) = sigma'(0) = 1 with V_th = 1
    assert dm1 == pytest.approx(0.092, abs=5e-4)  # sigma'(0 - V_th) = 0.092 (Sec. 4.1)
    assert dm1 == pytest.approx(1 / (1 + math.pi**2)) and dp1 == dm1
    # V_th = 0.5: sigma'(+-0.5) = 0.288 (Fig. 7); alpha = 3: sigma'(0) = 1.5 (Fig. 8)
    assert grad_at(sg, [0.5, -0.5]) == pytest.approx([0.288, 0.288], abs=5e-4)
    assert grad_at(surrogate("surrogate=atan", "surrogate.alpha=3"), [0.0]) == pytest.approx([1.5])


def test_rect_is_tdbn_eq16_and_sew_table_s3_rectangular():
    sg = surrogate("surrogate=rect")  # a = 1: sigma'(x) = sign(|x| < 1/2) (SEW A.5), values {0, 1}
    assert grad_at(sg, [-0.6, -0.49, 0.0, 0.49, 0.5, 0.6]) == [0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    sg = surrogate("surrogate=rect", "surrogate.a=0.5")  # (1/a) 1[|u - V_th| < a/2]
    assert grad_at(sg, [-0.3, -0.2, 0.0, 0.24, 0.26]) == [0.0, 2.0, 2.0, 2.0, 0.0]
    sg = SURROGATES.get("rect")(a=4.0)
    assert grad_at(sg, [-2.1, -1.9, 1.9, 2.1]) == [0.0, 0.25, 0.25, 0.0]
    # the window integrates to 1 for every a (a rectangle of width a, height 1/a)
    xs = torch.linspace(-5, 5, 100001, dtype=torch.float64)
    for a in (0.5, 1.0, 4.0):
        g = torch.tensor(grad_at(SURROGATES.get("rect")(a=a), xs))
        assert float(g.sum() * (xs[1] - xs[0])) == pytest.approx(1.0, abs=1e-3)


def test_triangle_is_keys_eq24_peak_alpha_at_threshold_zero_outside_0_2uth():
    # as a function of u: alpha max(0, 1 - |u/U_th - 1|); the surrogate sees x = u - U_th
    for u_th in (1.0, 2.0):
        sg = surrogate("surrogate=triangle", f"neuron.v_threshold={u_th}")  # width follows U_th
        us = [-0.5, 0.0, 0.5 * u_th, u_th, 1.5 * u_th, 2.0 * u_th, 2.5 * u_th]
        want = [0.0, 0.0, 0.15, 0.3, 0.15, 0.0, 0.0]
        assert grad_at(sg, [u - u_th for u in us]) == pytest.approx(want)
    # peak and width are independent (spikingjelly's PiecewiseQuadratic ties them)
    sg = SURROGATES.get("triangle")(alpha=1.0, width=1.0)
    assert grad_at(sg, [0.0, 0.5, 1.0]) == pytest.approx([1.0, 0.5, 0.0])


def test_sigmoid_and_constant():
    sg = surrogate("surrogate=sigmoid")  # alpha = 4: alpha sg(0) (1 - sg(0)) = 1
    assert grad_at(sg, [0.0]) == pytest.approx([1.0])
    assert grad_at(sg, [1.0])[0] == pytest.approx(4 * math.exp(-4) / (1 + math.exp(-4)) ** 2)
    sg = surrogate("surrogate=constant")  # SEW Table S3 'Constant 1'
    assert grad_at(sg, [-100.0, -1.0, 0.0, 0.5, 100.0]) == [1.0] * 5


def test_the_surrogate_group_reaches_the_neurons_gradient():
    """BPTT through an IF neuron uses the configured surrogate's derivative at H - V_th."""
    for name, want in (("atan", 1.0), ("rect", 1.0), ("triangle", 0.3), ("constant", 1.0)):
        parts = Parts(cfg(f"surrogate={name}"))  # composed above already (cached)
        n = parts.neuron()  # IF, V_th = 1
        x = torch.tensor([[1.0]], requires_grad=True)  # H = 1 = V_th: the surrogate's peak
        n(x).sum().backward()
        assert x.grad.item() == pytest.approx(want), name


@pytest.mark.parametrize(
    "name,kwargs,bad",
    [("atan", {"alpha": -2.0}, "alpha"), ("sigmoid", {"alpha": 0.0}, "alpha"), ("rect", {"a": 0.0}, "a"),
     ("triangle", {"alpha": 0.3, "width": -1.0}, "width"),
     ("triangle", {"alpha": -0.3, "width": 1.0}, "alpha")],
)  # fmt: skip
def test_a_width_or_height_that_is_not_positive_is_refused(name, kwargs, bad):
    """alpha <= 0 trains silently with zero or sign-flipped gradients: refuse it by name."""
    with pytest.raises(ValueError, match=f"surrogate {name}: {bad} must be > 0"):
        SURROGATES.get(name)(**kwargs)
