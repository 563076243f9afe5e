"""Run the Triton kernels FlexSN generates for a neuron's core, on CPU, in Triton's interpreter
(``TRITON_INTERPRET=1``): the kernel source a GPU would compile, executed with numpy.

FlexSN itself launches them only on CUDA (``_ops/flexsn/triton.py`` registers CUDA ops, and the
autotuner needs a GPU to time its configurations). This helper does what those ops do, step for
step: trace the core (``_trace_core``), build the kernels (``_build_kernels``), then call the
launchers (``_ops/flexsn/launch.py``) with each kernel's plain jitted function and one block size.
These are spikingjelly 2.0.0 internals, pinned in pyproject.toml.

It runs as its own process (``TRITON_INTERPRET=1`` must hold before anything decorates a Triton
function, and the interpreted kernels must not stay in the cache of a process that runs real ones):

    TRITON_INTERPRET=1 python tests/flex_triton.py IN.pt OUT.pt

IN.pt: {"x": [T, N], "weights": [T, N], "cases": {name: [config overrides]}}; OUT.pt: {name: run(...)}.
"""

from __future__ import annotations

import sys

import torch
from spikingjelly._ops.flexsn import launch
from spikingjelly._ops.flexsn.kernel import _build_kernels
from spikingjelly.activation_based.neuron.flexsn import FlexSN
from spikingjelly.activation_based.neuron.flexsn_trace import _trace_core


class _OneConfig:
    """``kernel[grid](...)`` without the autotuner: its jitted function at one block size."""

    def __init__(self, autotuned, block: int = 64):
        self.fn, self.block = autotuned.fn, block

    def __getitem__(self, grid):
        return lambda *args, **kw: self.fn[grid](*args, BLOCK_NCL=self.block, **kw)


def build(core, num_statics: int, num_states: int = 1):
    """The kernels FlexSN builds for ``core`` (statics carried as extra states, as FlexSN does)."""
    flex = FlexSN(
        core, num_states=num_states, static_inputs=tuple(torch.zeros(()) for _ in range(num_statics))
    )
    states = num_states + num_statics
    wrapped = flex._wrapped_core(1, flex._num_outputs)
    graphs = _trace_core(wrapped, tuple(torch.zeros(1) for _ in range(1 + states)), 1, states)
    return _build_kernels("core", 1, states, 1, *graphs)


def run(node, x_seq: torch.Tensor, grad: torch.Tensor):
    """(spikes, dL/dx, [dL/d static], final v, spikes of the no-grad kernel) for L = sum(grad * s),
    from a zero membrane state, for ``node.flex_core()``."""
    core, statics = node.flex_core()
    return train(core, statics, x_seq, grad, (torch.zeros_like(x_seq[0]),))


def train(core, statics, x_seq, grad, states):
    """The training kernels (forward, backward) and the no-grad one: (outputs[0], dL/dx,
    [dL/d static], first final state, outputs[0] of the no-grad kernel)."""
    kernels = build(core, len(statics), len(states))
    extra = tuple(s.detach().float().expand_as(x_seq[0]).contiguous() for s in statics)
    info = kernels["training_info"]
    rets = launch._forward(_OneConfig(kernels["forward_kernel"]), info, x_seq, *states, *extra)
    saved = [rets[i] for i in info.c2k_return_mapping]
    zeros = [torch.zeros_like(x_seq) for _ in range(len(states) + len(extra))]  # no grad of a state
    grads = launch._backward(
        _OneConfig(kernels["backward_kernel"]),
        info,
        grad,
        *zeros,
        *saved,
        input_templates=(x_seq,),
        state_templates=(*states, *extra),
    )
    no_grad = infer(core, statics, x_seq, states, kernels)
    return rets[0], grads[0], [g.sum() for g in grads[1 + len(states) :]], rets[1][-1], no_grad[0]


def infer(core, statics, x_seq, states, kernels=None):
    """The no-grad kernel: (outputs[0], *final states)."""
    kernels = kernels or build(core, len(statics), len(states))
    extra = tuple(s.detach().float().expand_as(x_seq[0]).contiguous() for s in statics)
    return launch._inference_final_state(
        _OneConfig(kernels["inference_final_state_kernel"]), kernels["inference_info"], x_seq, *states, *extra
    )


def main(src: str, dst: str) -> None:
    from snnexp.config import compose
    from snnexp.parts import Parts

    data = torch.load(src, weights_only=True)
    out = {}
    for name, overrides in data["cases"].items():
        node = Parts(compose(list(overrides))).neuron()
        if hasattr(node, "dsr_phase"):  # the DSR cores: the record scan, then grad=surrogate's
            out[name] = dsr(node, data["x"], data["weights"])
        else:
            out[name] = run(node, data["x"], data["weights"])
    torch.save(out, dst)


def dsr(node, x_seq, grad):
    """A DSR neuron's record scan (no grad: out and the final v, I sum, r sum) and its
    grad=surrogate scan (as :func:`run`)."""
    import functools

    from snnexp.neurons.dsr import dsr_core, dsr_surrogate_core
    from snnexp.neurons.flex import surrogate_spike

    v_th = node.threshold().detach()
    zero = torch.zeros_like(x_seq[0])
    record = infer(functools.partial(dsr_core, **node._constants()), (v_th,), x_seq, (zero, zero, zero))
    core = functools.partial(
        dsr_surrogate_core,
        spike_fn=surrogate_spike(node.surrogate_function),
        detach_reset=bool(node.detach_reset),
        **node._constants(),
    )
    return record, train(core, (v_th,), x_seq, grad, (zero,))


if __name__ == "__main__":
    main(*sys.argv[1:])
