"""Membrane state in fp32 whatever the input dtype (so that AMP keeps spikingjelly's fused kernels).

spikingjelly's ``BaseNode.materialize_states`` creates ``v`` in the input's dtype, so under AMP
(bf16/fp16 inputs) the state is bf16/fp16: the membrane potential loses its small increments
(bf16 has 8 mantissa bits) and spikingjelly's fused CUDA kernels, which require an fp32 ``v``,
fall back to the Python reference loop. ``Fp32State`` keeps ``v`` in fp32 and returns spikes in
the input's dtype (spikes are 0/1: the cast is exact), so the layers after a neuron see the
dtype they would have seen without it.

A mixin placed before the spikingjelly class: ``class IFNode(Fp32State, sj_neuron.IFNode)``.
It overrides neither ``single_step_functional_forward`` nor ``multi_step_functional_forward``,
which is what spikingjelly's IF/LIF/PLIF check before taking their registered (fused) path.
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based.neuron import SimpleBaseNode

STATE_DTYPE = torch.float32


def _fp32_state(v, x: torch.Tensor, fill: float):
    """BaseNode.materialize_states's rules with fp32 in place of ``x.dtype``."""
    if isinstance(v, float):
        return torch.full(x.shape, v, dtype=STATE_DTYPE, device=x.device)
    if isinstance(v, torch.Tensor):
        if v.shape != x.shape:
            return torch.full(x.shape, fill, dtype=STATE_DTYPE, device=x.device)
        if v.dtype != STATE_DTYPE or v.device != x.device:
            return v.to(dtype=STATE_DTYPE, device=x.device)
    return v


class Fp32State:
    """Mixin for spikingjelly BaseNode / SimpleBaseNode neurons: fp32 ``v``, output in x's dtype."""

    def materialize_states(self, inputs, states, step_mode):
        if getattr(self, "_neuron_precision", None) is not None:  # spikingjelly's explicit precision
            return super().materialize_states(inputs, states, step_mode)
        x = inputs[0][0] if step_mode == "m" else inputs[0]
        fill = self.v_reset if self.v_reset is not None else 0.0
        return (_fp32_state(states[0], x, fill), *states[1:])

    def _cast_out(self, out, x: torch.Tensor):
        if isinstance(out, torch.Tensor) and out.is_floating_point() and out.dtype != x.dtype:
            return out.to(x.dtype)
        return out

    def multi_step_forward(self, x_seq: torch.Tensor, *args, **kwargs):
        if isinstance(self, SimpleBaseNode):  # charge/fire/reset in Python: no materialize_states
            self.v = _fp32_state(self.v, x_seq[0], self.v_reset if self.v_reset is not None else 0.0)
        return self._cast_out(super().multi_step_forward(x_seq, *args, **kwargs), x_seq)

    def single_step_forward(self, x: torch.Tensor, *args, **kwargs):
        if isinstance(self, SimpleBaseNode):
            self.v = _fp32_state(self.v, x, self.v_reset if self.v_reset is not None else 0.0)
        return self._cast_out(super().single_step_forward(x, *args, **kwargs), x)
