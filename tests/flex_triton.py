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


def build(node):
    """The kernels of ``node.flex_core()`` (statics carried as extra states, as FlexSN does)."""
    core, statics = node.flex_core()
    flex = FlexSN(core, num_states=1, static_inputs=tuple(torch.zeros(()) for _ in statics))
    states = 1 + len(statics)
    wrapped = flex._wrapped_core(1, flex._num_outputs)
    graphs = _trace_core(wrapped, tuple(torch.zeros(1) for _ in range(1 + states)), 1, states)
    return _build_kernels("core", 1, states, 1, *graphs), statics


def run(node, x_seq: torch.Tensor, grad: torch.Tensor):
    """(spikes, dL/dx, [dL/d static], final v, spikes of the no-grad kernel) for L = sum(grad * s),
    from a zero membrane state."""
    kernels, statics = build(node)
    step = x_seq[0]
    v0 = torch.zeros_like(step)
    extra = tuple(s.detach().float().expand_as(step).contiguous() for s in statics)
    info = kernels["training_info"]
    rets = launch._forward(_OneConfig(kernels["forward_kernel"]), info, x_seq, v0, *extra)
    saved = [rets[i] for i in info.c2k_return_mapping]
    zeros = [torch.zeros_like(x_seq) for _ in range(1 + len(extra))]  # no grad of any state
    grads = launch._backward(
        _OneConfig(kernels["backward_kernel"]),
        info,
        grad,
        *zeros,
        *saved,
        input_templates=(x_seq,),
        state_templates=(v0, *extra),
    )
    infer = launch._inference_final_state(
        _OneConfig(kernels["inference_final_state_kernel"]), kernels["inference_info"], x_seq, v0, *extra
    )
    return rets[0], grads[0], [g.sum() for g in grads[2:]], rets[1][-1], infer[0]


def main(src: str, dst: str) -> None:
    from snnexp.config import compose
    from snnexp.parts import Parts

    data = torch.load(src, weights_only=True)
    out = {}
    for name, overrides in data["cases"].items():
        node = Parts(compose(list(overrides))).neuron()
        out[name] = run(node, data["x"], data["weights"])
    torch.save(out, dst)


if __name__ == "__main__":
    main(*sys.argv[1:])
