"""A FlexSN scan for the neurons spikingjelly has no fused kernel for.

spikingjelly 2.0 fuses multi-step IF/LIF/PLIF on CUDA only with its own surrogate classes.
KEYS's triangle (peak 0.3, width U_th), TDBN's rectangle and LIF, and SEW's "Constant 1" run its
Python loop over T instead. spikingjelly's ``FlexSN(core, num_states, static_inputs)`` turns a
pure one-step function ``core(x, v, *static) -> (spike, v_next)`` into a Triton scan kernel on
CUDA, with the backward kernel traced from the same function (``make_fx`` + AOT autograd). So
each snnexp neuron class writes its charge / fire / reset once more as such a core
(``flex_core``), with the same arithmetic in the same order as the loop it replaces, and this
mixin runs it when ``flex_scan`` is set (engine/fastpath.py sets it from ``trainer.flexsn``).

FlexSN's rules for a core, and how the cores here keep them:
  - no captured tensors or modules: constants are floats bound with ``functools.partial``;
    learnable values (PLIF's w) are static inputs, passed on every call;
  - no ``.detach()`` (it silently breaks the trace): a detached spike is recomputed from a
    comparison, ``(h - V_th >= 0)``, which has no graph and the same value as the Heaviside;
  - the surrogate is its class's static ``spiking_function`` with its float parameters (an
    ``autograd.Function.apply``, which the trace follows into its backward).
On CPU FlexSN runs the same core in a Python loop (``_torch_scan``): no faster, but bitwise
what the kernel computes, which is how the tests check the cores without a GPU.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import torch
from spikingjelly.activation_based.neuron.flexsn import FlexSN

from snnexp.neurons._state import STATE_DTYPE, _fp32_state


def surrogate_spike(surrogate) -> Callable:
    """The surrogate module as a pure function x -> spike (its spiking_function, float params)."""
    params = {k: float(v) for k, v in surrogate._sg_params.items()}
    return functools.partial(type(surrogate).spiking_function, **params)


def heaviside_value(d: torch.Tensor) -> torch.Tensor:
    """The spike's value without its graph: ``spike.detach()`` for a core (FlexSN cannot trace
    ``.detach()``). Heaviside(0) = 1 as in spikingjelly."""
    return (d >= 0).to(d)


def reset(h, spike, value, *, v_threshold: float, v_reset: float | None, detach_reset: bool):
    """spikingjelly's voltage reset (``_ops/reset.py``), same operations in the same order:
    soft ``h - s V_th``, hard ``s V_reset + (1 - s) h``, where ``s`` is ``value`` (the spike
    without its graph) when detach_reset, else ``spike``."""
    s = value if detach_reset else spike
    if v_reset is None:
        return h - s * v_threshold
    return s * v_reset + (1.0 - s) * h


def reset_constants(node) -> dict:
    """The float constants of :func:`reset` from a spikingjelly node."""
    return dict(
        v_threshold=float(node.v_threshold),
        v_reset=None if node.v_reset is None else float(node.v_reset),
        detach_reset=bool(node.detach_reset),
    )


def _frozen(value):
    """A comparable description of a core (partials compare by identity, not by value)."""
    if isinstance(value, functools.partial):
        return (value.func, _frozen(value.args), _frozen(value.keywords))
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, (tuple, list)):
        return tuple(_frozen(v) for v in value)
    return value


class FlexScan:
    """Mixin (before the spikingjelly class): run multi-step forward through a FlexSN scan of
    ``self.flex_core()`` when ``self.flex_scan`` is set; otherwise the class's own path."""

    flex_scan: bool = False

    def flex_supports(self, dtype: torch.dtype) -> bool:
        """Whether the scan takes inputs of ``dtype`` (the AMP dtype under trainer.amp)."""
        return True

    def flex_core(self) -> tuple[Callable, tuple[torch.Tensor, ...]]:
        """(pure core ``core(x, v, *static) -> (spike, v_next)``, its static tensors)."""
        raise NotImplementedError(f"{type(self).__name__} has no FlexSN core")

    def multi_step_forward(self, x_seq: torch.Tensor, *args, **kwargs):
        if not self.flex_scan or getattr(self, "store_v_seq", False):
            return super().multi_step_forward(x_seq, *args, **kwargs)
        core, statics = self.flex_core()
        fill = self.v_reset if self.v_reset is not None else 0.0
        v = _fp32_state(self.v, x_seq[0], fill)  # the membrane state in fp32 (neurons/_state.py)
        ran = self.flex_run(core, statics, x_seq.to(STATE_DTYPE), (v,))
        if ran is None:
            return super().multi_step_forward(x_seq, *args, **kwargs)
        (spikes,), (self.v,) = ran
        return spikes if spikes.dtype == x_seq.dtype else spikes.to(x_seq.dtype)

    def flex_run(self, core, statics: tuple, x_seq: torch.Tensor, states: tuple):
        """The FlexSN scan of ``core`` over ``x_seq`` from ``states``: (outputs, final states), or
        None when it cannot run here (then the caller runs its own loop)."""
        flex = self._flexsn(core, len(statics), len(states))
        if not self._flex_checked(flex, x_seq, statics):
            return None
        return flex.multi_step_functional_forward((x_seq,), states, static_inputs=statics)

    def _flexsn(self, core, num_statics: int, num_states: int) -> FlexSN:
        """One FlexSN per core of the layer (its Triton kernels are built once), a new one when a
        constant of the core changed. Kept outside the module tree: it holds no parameter."""
        cache = self.__dict__.setdefault("_flex_cache", {})
        key = (_frozen(core), num_statics, num_states)
        if key not in cache:
            placeholders = tuple(torch.zeros((), dtype=STATE_DTYPE) for _ in range(num_statics))  # arity
            cache[key] = FlexSN(core, num_states=num_states, static_inputs=placeholders)
        return cache[key]

    def _flex_checked(self, flex: FlexSN, x_seq: torch.Tensor, statics) -> bool:
        """Before the first real call per input shape: run the scan once on detached copies, with
        backward when grad is on, so that a kernel that does not build (Triton compiles at the
        first launch, the backward kernel inside loss.backward() where nothing could fall back)
        fails here. Then the layer falls back to its loop for good, with one warning. Only this
        check is guarded: an exception in a real call is torch's own (e.g. checkpointing stopping
        a recomputation) and must pass through."""
        checked = self.__dict__.setdefault("_flex_checked_keys", set())
        key = (id(flex), tuple(x_seq.shape), x_seq.device, torch.is_grad_enabled())
        if key in checked:
            return True
        try:
            _probe(flex, x_seq, statics)
        except Exception as e:  # noqa: BLE001 -- any failure to build or run: the loop instead
            self.flex_scan = False
            why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            _warn_once(f"FlexSN scan of {type(self).__name__} failed ({why}); running its loop")
            return False
        checked.add(key)
        return True


def _probe(flex: FlexSN, x_seq: torch.Tensor, statics) -> None:
    grad = torch.is_grad_enabled()
    leaves = [t.detach().requires_grad_(grad) for t in (x_seq, *statics)]
    states = tuple(torch.zeros_like(x_seq[0]) for _ in range(flex.num_states))
    # plain saved tensors: inside memopt's checkpointed block the probe is no part of the block
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        outputs, _ = flex.multi_step_functional_forward((leaves[0],), states, static_inputs=tuple(leaves[1:]))
        if grad:
            torch.autograd.grad(outputs[0].sum(), leaves)


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        print(f"snnexp: warning: {message}", file=sys.stderr)
