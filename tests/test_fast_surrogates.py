"""snnexp's surrogates in the forms spikingjelly's fused kernels accept, checked against
the papers' equations (KEYS Eq. 24: alpha max(0, 1 - |x| / width)) bit for bit in fp32, and
through a whole IF/LIF layer: spikingjelly's registered op (what runs fused on CUDA) against the
Python reference loop with snnexp's own Triangle class."""

from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import surrogate as sj_surrogate

from snnexp.engine import fastpath
from snnexp.neurons.integrate_and_fire import if_node
from snnexp.neurons.lif import lif
from snnexp.registry import SURROGATES
from snnexp.surrogates import Triangle, is_piecewise_quadratic


def keys_eq24(x: torch.Tensor, alpha: float, width: float) -> torch.Tensor:
    """KEYS Eq. 24 with x = u - U_th: alpha max(0, 1 - |x| / width), in x's dtype."""
    return alpha * (1 - x.abs() / width).clamp_min(0)


def grads(sg, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.clone().requires_grad_()
    y = sg(x)
    y.sum().backward()
    return y.detach(), x.grad


# x on a fine grid, the window edges and the threshold exactly, in fp32
X = torch.cat([torch.linspace(-3, 3, 60001), torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])])


@pytest.mark.parametrize("alpha", [1.0, 2.0, 0.5, 4.0])
def test_triangle_with_width_1_over_alpha_is_piecewise_quadratic_bit_for_bit(alpha):
    sg = SURROGATES.get("triangle")(alpha=alpha, width=1.0 / alpha)
    assert type(sg) is sj_surrogate.PiecewiseQuadratic  # the class the fused kernels know
    spikes, g = grads(sg, X)
    assert torch.equal(spikes, (X >= 0).float())
    assert torch.equal(g, keys_eq24(X, alpha, 1.0 / alpha))
    own_spikes, own_g = grads(Triangle(alpha=alpha, width=1.0 / alpha), X)
    assert torch.equal(spikes, own_spikes) and torch.equal(g, own_g)


def test_keys_triangle_peak_0_3_width_1_stays_our_class():
    # peak 0.3 at width 1 is no PiecewiseQuadratic (whose peak is 1/width): no fused kernel
    assert not is_piecewise_quadratic(0.3, 1.0) and not is_piecewise_quadratic(3.0, 1 / 3)
    sg = SURROGATES.get("triangle")(alpha=0.3, width=1.0)
    assert type(sg) is Triangle
    assert torch.equal(grads(sg, X)[1], keys_eq24(X, 0.3, 1.0))


def test_rect_is_spikingjellys_rect_and_tdbn_eq16():
    sg = SURROGATES.get("rect")(a=1.0)
    assert type(sg) is sj_surrogate.Rect  # not a fused surrogate in spikingjelly 2.0 (no box kernel)
    _, g = grads(sg, X)
    assert torch.equal(g, (X.abs() < 0.5).float())  # TDBN Eq. 16, a = 1


def layer(kind: str, sg):
    common = dict(v_threshold=1.0, v_reset=0.0, detach_reset=False)
    if kind == "if":
        return if_node(sg, **common)
    return lif(sg, tau=2.0, decay_input=True, **common)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["if", "lif"])
def test_fused_op_with_piecewise_quadratic_equals_reference_loop_with_triangle(kind, device):
    # on CPU spikingjelly's registered op (the one fused on CUDA) vs the reference loop; on CUDA
    # the fused kernel itself (bitwise there too is the claim to verify)
    torch.manual_seed(0)
    x = (torch.rand(8, 4, 64) * 1.5).to(device)
    x[2, 0, :8] = 1.0  # exact threshold ties: H = V_th fires in both
    fast = layer(kind, SURROGATES.get("triangle")(alpha=1.0, width=1.0)).to(device)
    ref = layer(kind, Triangle(alpha=1.0, width=1.0)).to(device)
    assert fastpath.why_not_fused(fast, torch.float32) == ("", "")
    assert fastpath.why_not_fused(ref, torch.float32)[0]  # the reference loop
    outs = []
    for n in (fast, ref):
        xi = x.clone().requires_grad_()
        s = n(xi)
        (s * torch.linspace(-1, 1, s.numel(), device=device).view_as(s)).sum().backward()
        outs.append((s.detach(), xi.grad))
    assert torch.equal(outs[0][0], outs[1][0])
    if device == "cpu":
        assert torch.equal(outs[0][1], outs[1][1])
    else:  # CUDA: Triton's fused kernel is the same function with its own rounding (H200: not bitwise)
        torch.testing.assert_close(outs[0][1], outs[1][1], rtol=1e-5, atol=1e-6)
