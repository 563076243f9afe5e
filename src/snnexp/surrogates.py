"""Surrogate gradients (config group ``surrogate``): the derivative used for the Heaviside spike.

Every builder returns a spikingjelly ``SurrogateFunctionBase``: forward is the Heaviside step
``x >= 0`` (``x = u - threshold``), backward is ``grad * sigma'(x)``. The constants live in
``conf/surrogate/*.yaml`` (each option declares its own: ``alpha``, ``a``, ``width``).

spikingjelly's fused CUDA kernels accept only its own Sigmoid, ATan, PiecewiseQuadratic,
PiecewiseExp, SoftSign, SuperSpike and Erf (exact class, float alpha): here ``atan``, ``sigmoid``
and a ``triangle`` with alpha a power of two and width 1/alpha (built as PiecewiseQuadratic, the
same bits). ``rect`` (a box), ``constant`` and KEYS's triangle (peak 0.3, width U_th) match none
of them; their fast paths are ``trainer.flexsn=true`` (a FlexSN Triton scan of the neuron, which
takes the surrogate's ``spiking_function`` as a pure function: neurons/flex.py) and
``trainer.compile=true`` (engine/fastpath.py reports which applies).
"""

from __future__ import annotations

import math

import torch
from spikingjelly.activation_based import surrogate as sj_surrogate

from snnexp.registry import SURROGATES


def heaviside(x: torch.Tensor) -> torch.Tensor:
    return (x >= 0).to(x)


def _positive(surrogate: str, **values: float) -> None:
    """A surrogate's width or height <= 0 gives no gradient (or one of the wrong sign): refuse it."""
    for name, v in values.items():
        if not float(v) > 0:
            raise ValueError(f"surrogate {surrogate}: {name} must be > 0, got {v}")


# ------------------------------------------------------------------------------------- ArcTan
@SURROGATES.register("atan", paper="SEW")
def atan(*, alpha: float, spiking: bool = True):
    # spikingjelly's ATan is exactly SEW A.1: sigma'(x) = alpha / (2 (1 + (pi/2 alpha x)^2)).
    _positive("atan", alpha=alpha)
    return sj_surrogate.ATan(alpha=alpha, spiking=spiking)


# ------------------------------------------------------------------------------------- Sigmoid
@SURROGATES.register("sigmoid")
def sigmoid(*, alpha: float, spiking: bool = True):
    # spikingjelly's Sigmoid: sigma'(x) = alpha * sigmoid(alpha x) * (1 - sigmoid(alpha x)).
    _positive("sigmoid", alpha=alpha)
    return sj_surrogate.Sigmoid(alpha=alpha, spiking=spiking)


# ------------------------------------------------------------------------------------- Rectangular
@SURROGATES.register("rect", paper="TDBN")
def rect(*, a: float, spiking: bool = True):
    """TDBN Eq. 16: do/du = (1/a) sign(|u - V_th| < a/2). spikingjelly's Rect(alpha) is
    alpha * 1[|x| < 0.5/alpha], the same window with alpha = 1/a: ``a`` sets width and height."""
    _positive("rect", a=a)
    return sj_surrogate.Rect(alpha=1.0 / a, spiking=spiking)


# ------------------------------------------------------------------------------------- Triangle
class _TriangleFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float, width: float):
        ctx.save_for_backward(x)
        ctx.alpha, ctx.width = alpha, width
        return heaviside(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        g = ctx.alpha * (1.0 - x.abs() / ctx.width).clamp_min(0.0)
        return grad * g, None, None


class Triangle(sj_surrogate.SurrogateFunctionBase):
    """KEYS Eq. 24 (triangle of [19] BNTT): sigma'(u) = alpha * max(0, 1 - |u/U_th - 1|).

    With ``x = u - U_th`` this is ``alpha * max(0, 1 - |x| / width)``, ``width = U_th``: peak
    ``alpha`` at the threshold, zero outside ``(0, 2 U_th)``. spikingjelly's PiecewiseQuadratic
    ties the peak to the width (peak = alpha, width = 1/alpha); KEYS sets them independently
    (peak 0.3, width U_th = 1), hence this class.
    """

    def __init__(self, *, alpha: float, width: float, spiking: bool = True):
        if width <= 0:
            raise ValueError(f"surrogate triangle: width must be > 0, got {width}")
        super().__init__(spiking, alpha=alpha, width=width)

    @staticmethod
    def spiking_function(x, alpha, width):
        return _TriangleFn.apply(x, alpha, width)

    @staticmethod
    def primitive_function(x, alpha, width):
        # the integral of the triangle, + 1/2 so that it rises from 0.5 - alpha w/2 to 0.5 + alpha w/2
        xc = x.clamp(-width, width)
        return 0.5 + alpha * (xc - xc * xc.abs() / (2.0 * width))


@SURROGATES.register("triangle", paper="KEYS")
def triangle(*, alpha: float, width: float, spiking: bool = True):
    """spikingjelly's PiecewiseQuadratic where it is this triangle bit for bit (its fused CUDA
    kernels know it), else the Triangle class (a compiled loop is then the fast path)."""
    _positive("triangle", alpha=alpha, width=width)
    if is_piecewise_quadratic(alpha, width):
        return sj_surrogate.PiecewiseQuadratic(alpha=float(alpha), spiking=spiking)
    return Triangle(alpha=alpha, width=width, spiking=spiking)


def is_piecewise_quadratic(alpha: float, width: float) -> bool:
    """PiecewiseQuadratic(a)'s derivative is max(0, a - a^2 |x|) = a max(0, 1 - |x| / (1/a)): the
    triangle with width = 1/alpha. Bitwise equal to ours when alpha is a power of two (scaling by
    2^k commutes with rounding); KEYS's alpha=0.3, width=1 is not one."""
    mantissa, _ = math.frexp(float(alpha))
    return float(alpha) > 0 and mantissa == 0.5 and float(alpha) * float(width) == 1.0


# ------------------------------------------------------------------------------------- Constant 1
class _ConstantFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor):
        return heaviside(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Constant(sj_surrogate.SurrogateFunctionBase):
    """SEW Table S3 'Constant 1': sigma'(x) = 1 everywhere (a straight-through estimator)."""

    def __init__(self, *, spiking: bool = True):
        super().__init__(spiking)

    @staticmethod
    def spiking_function(x):
        return _ConstantFn.apply(x)

    @staticmethod
    def primitive_function(x):
        return x + 0.5


@SURROGATES.register("constant", paper="SEW")
def constant(*, spiking: bool = True):
    """The derivative is 1 everywhere: no shape constant."""
    return Constant(spiking=spiking)
