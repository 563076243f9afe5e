"""IF neurons as in SEW (ImageNet): H = V + X, spike when H >= V_th, hard reset to V_reset."""

from __future__ import annotations

import functools

from spikingjelly.activation_based import neuron as sj_neuron

from snnexp.neurons._state import Fp32State
from snnexp.neurons.flex import FlexScan, heaviside_value, reset, reset_constants, surrogate_spike
from snnexp.neurons.traits import NeuronTraits
from snnexp.registry import NEURONS


def if_core(x, v, *, spike_fn, **rst):
    """One IF step as spikingjelly's reference (``_ops/if_/reference.py``): H = V + X."""
    h = v + x
    d = h - rst["v_threshold"]
    spike = spike_fn(d)
    return spike, reset(h, spike, heaviside_value(d), **rst)


class IFNode(Fp32State, FlexScan, sj_neuron.IFNode):
    """spikingjelly's IFNode with its membrane state in fp32 under AMP (neurons/_state.py) and a
    FlexSN core (neurons/flex.py)."""

    def flex_core(self):
        return functools.partial(
            if_core, spike_fn=surrogate_spike(self.surrogate_function), **reset_constants(self)
        ), ()


@NEURONS.register(
    "if",
    paper="SEW",
    traits=NeuronTraits(
        fused=True,
        flexsn=True,
        fp32_state=True,
        fullgraph=True,
        # if_core's other reset: soft (subtract V_th), through the graph
        examples={"": (), "soft": ("v_reset=null", "detach_reset=false")},
    ),
)
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
