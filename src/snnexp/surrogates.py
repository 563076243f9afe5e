"""Surrogate gradients (config group ``surrogate``): the derivative used for the Heaviside spike."""

from __future__ import annotations

from spikingjelly.activation_based import surrogate as sj_surrogate

from snnexp.registry import SURROGATES


@SURROGATES.register("atan", paper="SEW", help="ArcTan: a / (2 (1 + (pi/2 a x)^2)), a=2 (SEW)")
def atan(alpha: float = 2.0, spiking: bool = True):
    # spikingjelly's ATan is exactly SEW Eq. (sigma'(x) = alpha / (2 (1 + (pi/2 alpha x)^2))).
    return sj_surrogate.ATan(alpha=alpha, spiking=spiking)
