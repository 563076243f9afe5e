"""TDBN's iterative LIF (Zheng et al., AAAI 2021, Eq. 2-3; Wu et al. 2019):

    u_t = tau_decay * u_{t-1} * (1 - o_{t-1}) + x_t,    o_t = 1 if u_t > V_th else 0.

The multiplicative (1 - o) is a hard reset to 0, kept in the graph (TDBN Eq. 14-15 back-propagate
through it). spikingjelly's LIFNode with ``decay_input=False, v_reset=0`` has the same recursion
(tau_decay = 1 - 1/tau) but fires at u >= V_th; TDBN fires only strictly above, so this class
overrides the firing rule: ``surrogate(u - V_th) - 1[u == V_th]`` turns the >= of the Heaviside
into > without touching the surrogate gradient.
"""

from __future__ import annotations

import functools

import torch
from spikingjelly.activation_based.neuron import SimpleBaseNode

from snnexp.errors import ConfigError
from snnexp.neurons._state import Fp32State
from snnexp.neurons.flex import FlexScan, heaviside_value, reset, surrogate_spike
from snnexp.neurons.traits import NeuronTraits
from snnexp.registry import NEURONS


def tdbn_core(x, v, *, tau_decay: float, strict: bool, spike_fn, v_threshold: float, detach_reset: bool):
    """One step of the class below (charge, fire, SimpleBaseNode's hard reset to 0) as a pure
    function for FlexSN (neurons/flex.py)."""
    h = tau_decay * v + x
    d = h - v_threshold
    spike = spike_fn(d)
    if strict:
        spike = spike - (d == 0).to(spike)
    value = (d > 0).to(d) if strict else heaviside_value(d)  # the spike without its graph
    return spike, reset(h, spike, value, v_threshold=v_threshold, v_reset=0.0, detach_reset=detach_reset)


class TDBNLIFNode(Fp32State, FlexScan, SimpleBaseNode):  # fp32 membrane state under AMP; FlexSN core
    def __init__(self, surrogate, *, tau_decay: float, v_threshold: float, detach_reset: bool, strict: bool):
        super().__init__(
            v_threshold=float(v_threshold),
            v_reset=0.0,
            surrogate_function=surrogate,
            detach_reset=detach_reset,
            step_mode="m",
        )
        self.tau_decay = float(tau_decay)
        self.strict = strict

    def neuronal_charge(self, x: torch.Tensor) -> None:
        # self.v holds u_{t-1} (1 - o_{t-1}) (the hard reset of neuronal_reset)
        self.v = self.tau_decay * self.v + x

    def neuronal_fire(self) -> torch.Tensor:
        x = self.v - self.v_threshold
        spike = self.surrogate_function(x)
        if self.strict:
            spike = spike - (x == 0).to(spike)  # u == V_th does not fire (Eq. 3: u > V_th)
        return spike

    def flex_core(self):
        return functools.partial(
            tdbn_core,
            tau_decay=self.tau_decay,
            strict=bool(self.strict),
            spike_fn=surrogate_spike(self.surrogate_function),
            v_threshold=float(self.v_threshold),
            detach_reset=bool(self.detach_reset),
        ), ()

    def extra_repr(self) -> str:
        return (
            f"tau_decay={self.tau_decay}, v_threshold={self.v_threshold}, strict={self.strict}, "
            f"detach_reset={self.detach_reset}"
        )


@NEURONS.register(
    "tdbn_lif",
    paper="TDBN",
    # no spikingjelly kernel (its own SimpleBaseNode); tdbn_core's other branch: fire at u >= V_th
    # with the reset outside the graph (TDBN Eq. 14-15 keep it inside)
    traits=NeuronTraits(
        flexsn=True,
        fp32_state=True,
        fullgraph=True,
        examples={"": (), "ge-detached": ("strict=false", "detach_reset=true")},
    ),
)
def tdbn_lif(surrogate, *, tau_decay: float, v_threshold: float, detach_reset: bool, strict: bool):
    if not 0.0 <= float(tau_decay) < 1.0:
        raise ConfigError(f"neuron tdbn_lif: tau_decay must be in [0, 1), got {tau_decay}")
    return TDBNLIFNode(
        surrogate, tau_decay=tau_decay, v_threshold=v_threshold, detach_reset=detach_reset, strict=strict
    )
