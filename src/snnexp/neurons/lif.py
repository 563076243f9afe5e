"""Leaky neurons built on spikingjelly's LIFNode / ParametricLIFNode.

- ``lif``  (SEW Eq. 5): H = V + (X - (V - V_reset)) / tau (``decay_input: true``) or
  H = V - (V - V_reset) / tau + X (``decay_input: false``); fire at H >= V_th; hard reset.
- ``plif`` (SEW, DVS nets; Fang et al. ICCV 2021): the same with a learnable 1/tau = sigmoid(w),
  tau initialised to 2. ``shared: true`` uses one w for every layer of the model (KEYS Table 10).
- ``keys_lif`` (KEYS Eq. 3-5): u_t = lambda u_{t-1} + I_t, fire at u >= U_th, soft reset
  u <- u - U_th. spikingjelly's LIFNode with ``decay_input=False, v_reset=None`` computes
  v - v/tau + x = (1 - 1/tau) v + x, i.e. exactly KEYS with lambda = 1 - 1/tau; the builder takes
  KEYS's lambda and converts. ``learn_leak`` learns lambda as PLIF does (lambda = 1 - sigmoid(w)),
  per layer (KEYS Table 8) or, with ``shared: true``, one value for the whole model (Table 10).
  ``fire``: ``ge`` fires at u >= U_th (KEYS Eq. 4, the default); ``gt`` at u > U_th, as the
  authors' code (VicenteAlex/Spiking_ResNet model.py: ``out[input > 0] = 1`` on u/U_th - 1). The
  two differ only when u lands exactly on U_th. ``gt`` runs its own loop (:class:`_StrictFire`,
  no fused kernel).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based.functional.neuron import lif_charge

from snnexp.errors import ConfigError
from snnexp.neurons._state import Fp32State
from snnexp.neurons.flex import FlexScan, heaviside_value, reset, reset_constants, surrogate_spike
from snnexp.neurons.traits import NeuronTraits
from snnexp.registry import NEURONS


def lif_core(x, v, *, tau: float, decay_input: bool, spike_fn, **rst):
    """One LIF step as spikingjelly's reference: its own charge (SEW Eq. 5), fire, reset."""
    h = lif_charge(x, v, tau, decay_input, rst["v_reset"])
    d = h - rst["v_threshold"]
    spike = spike_fn(d)
    return spike, reset(h, spike, heaviside_value(d), **rst)


def plif_core(x, v, w, *, decay_input: bool, spike_fn, **rst):
    """One PLIF step as spikingjelly's reference (``_ops/plif/reference.py``): 1/tau = sigmoid(w),
    w a static input so that its gradient flows."""
    q = w.sigmoid()
    v_reset = 0.0 if rst["v_reset"] is None else rst["v_reset"]
    h = v + (x - (v - v_reset)) * q if decay_input else v - (v - v_reset) * q + x
    d = h - rst["v_threshold"]
    spike = spike_fn(d)
    return spike, reset(h, spike, heaviside_value(d), **rst)


# spikingjelly's nodes with the membrane state in fp32 under AMP (neurons/_state.py) and a
# FlexSN core each (neurons/flex.py)
class LIFNode(Fp32State, FlexScan, sj_neuron.LIFNode):
    def flex_core(self):
        return functools.partial(
            lif_core,
            tau=float(self.tau),
            decay_input=bool(self.decay_input),
            spike_fn=surrogate_spike(self.surrogate_function),
            **reset_constants(self),
        ), ()


class ParametricLIFNode(Fp32State, FlexScan, sj_neuron.ParametricLIFNode):
    def flex_core(self):
        return functools.partial(
            plif_core,
            decay_input=bool(self.decay_input),
            spike_fn=surrogate_spike(self.surrogate_function),
            **reset_constants(self),
        ), (self.w,)


FIRE_RULES = ("ge", "gt")  # keys_lif: spike at u >= U_th (KEYS Eq. 4) | u > U_th (the authors' code)


class _StrictFire:
    """Mixin (first in the bases) for keys_lif with ``fire: gt``: KEYS's soft-reset LIF stepped in
    Python, spike = surrogate(u - U_th) with the tie u = U_th not firing (the surrogate's gradient
    is unchanged). No FlexSN core: its cores fire at >=."""

    def flex_supports(self, dtype: torch.dtype) -> bool:
        return False

    def _charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """u = lambda u + I, as the fused paths compute it (lif_core / plif_core, v_reset = 0)."""
        if hasattr(self, "w"):
            return v - v * self.w.sigmoid() + x
        return lif_charge(x, v, self.tau, False, None)

    def multi_step_forward(self, x_seq: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        v = self.v
        if not isinstance(v, torch.Tensor) or v.shape != x_seq.shape[1:]:
            v = torch.zeros_like(x_seq[0], dtype=torch.float32)
        th, spikes = self.v_threshold, []
        for x in x_seq:
            h = self._charge(x, v)
            d = h - th
            s = self.surrogate_function(d) - (d == 0).to(d.dtype)  # the tie does not fire
            v = h - (s.detach() if self.detach_reset else s) * th  # soft reset
            spikes.append(s.to(x_seq.dtype))
        self.v = v
        return torch.stack(spikes)


class StrictLIFNode(_StrictFire, LIFNode):
    pass


class StrictParametricLIFNode(_StrictFire, ParametricLIFNode):
    pass


def _reset(v_reset: float | None) -> float | None:
    return None if v_reset is None else float(v_reset)


def share_parameter(node, name: str, store: dict[str, Any] | None, key: str):
    """Make ``node.<name>`` the model-wide parameter ``store[key]`` (the first layer built
    creates it). ``store`` is ``Parts.shared``: one dict per model build."""
    if store is None:
        raise ConfigError(
            "neuron shared=true needs the model to be built through Parts "
            "(parts.neuron()), which keeps the shared parameter"
        )
    if key in store:
        setattr(node, name, store[key])
    else:
        store[key] = getattr(node, name)
    return node


# spikingjelly's LIFNode / ParametricLIFNode: fused kernel, a FlexSN core, fp32 state, one graph
_SJ_NODE = dict(fused=True, flexsn=True, fp32_state=True, fullgraph=True)


@NEURONS.register(
    "lif",
    paper="SEW",
    # lif_core's other branches: the input not divided by tau (SEW Eq. 5's alternative), soft reset
    traits=NeuronTraits(
        **_SJ_NODE,
        examples={"": (), "nodecay-soft": ("decay_input=false", "v_reset=null", "detach_reset=false")},
    ),
)
def lif(
    surrogate, *, tau: float, decay_input: bool, v_threshold: float, v_reset: float | None, detach_reset: bool
):
    if float(tau) <= 1.0:
        raise ConfigError(f"neuron lif: tau must be > 1 (got {tau})")
    # spikingjelly's LIFNode is SEW Eq. 5 (+ Eq. 2-3: heaviside(H - V_th) with heaviside(0) = 1).
    return LIFNode(
        tau=float(tau),
        decay_input=decay_input,
        v_threshold=float(v_threshold),
        v_reset=_reset(v_reset),
        surrogate_function=surrogate,
        detach_reset=detach_reset,
        step_mode="m",
    )


@NEURONS.register(
    "plif",
    paper="SEW",
    traits=NeuronTraits(**_SJ_NODE),
)
def plif(
    surrogate,
    *,
    init_tau: float,
    decay_input: bool,
    v_threshold: float,
    v_reset: float | None,
    detach_reset: bool,
    shared: bool,
    shared_store: dict | None = None,
):
    if float(init_tau) <= 1.0:
        raise ConfigError(f"neuron plif: init_tau must be > 1 (got {init_tau})")
    node = ParametricLIFNode(
        init_tau=float(init_tau),
        decay_input=decay_input,
        v_threshold=float(v_threshold),
        v_reset=_reset(v_reset),
        surrogate_function=surrogate,
        detach_reset=detach_reset,
        step_mode="m",
    )
    if shared:
        key = f"plif.w(init_tau={float(init_tau)})"
        share_parameter(node, "w", shared_store, key)
    return node


@NEURONS.register(
    "keys_lif",
    paper="KEYS",
    # learn_leak builds a ParametricLIFNode (plif_core with w, KEYS Table 8) instead of a LIFNode
    traits=NeuronTraits(**_SJ_NODE, examples={"": (), "learned": ("learn_leak=true",)}),
)
def keys_lif(
    surrogate,
    *,
    leak: float,
    learn_leak: bool,
    shared: bool,
    v_threshold: float,
    detach_reset: bool,
    fire: str,
    shared_store: dict | None = None,
):
    if not 0.0 < float(leak) < 1.0:
        raise ConfigError(f"neuron keys_lif: leak (lambda) must be in (0, 1), got {leak}")
    if fire not in FIRE_RULES:
        raise ConfigError(
            f"neuron.fire={fire!r}; choose ge (u >= U_th, KEYS Eq. 4) or gt (u > U_th, the authors' code)"
        )
    strict = fire == "gt"
    tau = 1.0 / (1.0 - float(leak))  # lambda = 1 - 1/tau
    common = dict(
        decay_input=False,
        v_threshold=float(v_threshold),
        v_reset=None,
        surrogate_function=surrogate,
        detach_reset=detach_reset,
        step_mode="m",
    )
    if not learn_leak:
        if shared:
            raise ConfigError(
                "neuron keys_lif: shared=true needs learn_leak=true "
                "(a fixed leak is the same in every layer anyway)"
            )
        return (StrictLIFNode if strict else LIFNode)(tau=tau, **common)
    node = (StrictParametricLIFNode if strict else ParametricLIFNode)(
        init_tau=tau, **common
    )  # lambda = 1 - sigmoid(w)
    if shared:
        share_parameter(node, "w", shared_store, f"keys_lif.w(leak={float(leak)})")
    return node


def leak_of(node) -> float:
    """KEYS's lambda of a keys_lif/plif/lif layer (1 - 1/tau)."""
    if hasattr(node, "w"):
        return float(1.0 - node.w.detach().sigmoid())
    return 1.0 - 1.0 / float(node.tau)
