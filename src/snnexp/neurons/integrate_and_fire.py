"""IF neurons as in SEW (ImageNet): H = V + X, spike when H >= V_th, hard reset to V_reset."""

from __future__ import annotations

from spikingjelly.activation_based import neuron as sj_neuron

from snnexp.neurons._state import Fp32State
from snnexp.registry import NEURONS


class IFNode(Fp32State, sj_neuron.IFNode):
    """spikingjelly's IFNode with its membrane state in fp32 under AMP (neurons/_state.py)."""


@NEURONS.register("if", paper="SEW", help="IF: V_th=1, hard reset to 0, reset detached (SEW ImageNet)")
def if_node(surrogate, *, v_threshold: float, v_reset: float | None, detach_reset: bool):
    # spikingjelly's IFNode fires at H >= V_th (heaviside(H - V_th) with heaviside(0) = 1) and
    # v_reset=None switches to soft reset; both as the papers define them.
    return IFNode(
        v_threshold=v_threshold,
        v_reset=v_reset,
        surrogate_function=surrogate,
        detach_reset=detach_reset,
        step_mode="m",
    )
