"""method=dsr's record pass streamed over time (``method.record_chunk=N``): peak memory flat in T.

The plain record pass (``record_chunk: 0``) runs the network multi-step, layer by layer, so it
holds a few [T, B, ...] activations of one layer at a time: peak memory still grows with T
(scripts/bench_dsr.py). Streamed, the network runs N steps at a time with the neuron state carried
from chunk to chunk, so what it holds is [N, B, ...]: nothing grows with T.

Train-mode BN is what makes that more than a loop: its statistics are over all T*B inputs, which
exist only once the layers before it have run all T steps. So the BNs are fixed one at a time, in
the order the forward reaches them. Pass k runs the chunks up to the first BN whose statistics are
still unknown, adds up that BN's input (sums in float64), and stops there; the BNs fixed by
earlier passes normalise with their statistics. A last pass runs the whole network with every BN
fixed: the DSR neurons accumulate I_hat and r, max pools their averages. Each pass starts from
reset neurons and the same random state (one dropout mask per simulation, as in one pass).

Under DDP with trainer.sync_bn the statistics are those of every rank's batch, as the BN's own
forward computes them (methods/_dsr_bn.py: global_statistics; the one-pass record does the same).

Cost: with L train-mode BNs, about L/2 + 1 no-grad forwards instead of one (time for memory); the
record equals the layer-by-layer one up to summation order. The running statistics are updated
once, with the T*B statistics, as BN does in the layer-by-layer pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from spikingjelly.activation_based import functional
from torch import nn

from snnexp.errors import ConfigError
from snnexp.methods import _dsr_bn as dsr_bn


class _Stop(Exception):
    """Raised at the BN a statistics pass was run for: nothing after it is needed."""


def _chunks(model: nn.Module, xs: torch.Tensor, n: int) -> Iterator[torch.Tensor]:
    """The model's input N steps at a time: a sequence [T, B, ...] sliced in time; a static batch
    as is, with the model's step count set to the chunk's length (SpikingNet.T)."""
    static = xs.dim() == getattr(model, "static_dims", xs.dim() + 1)
    if not static:
        yield from xs.split(n, dim=0)
        return
    if not hasattr(model, "T"):
        raise ConfigError(f"method.record_chunk: {type(model).__name__} has no step count T to stream")
    T = int(model.T)
    try:
        for start in range(0, T, n):
            model.T = min(n, T - start)
            yield xs
    finally:
        model.T = T


def _run(model: nn.Module, xs: torch.Tensor, n: int, rewind: Callable[[], None]) -> None:
    """One streamed simulation from reset neurons and the recorded random state; a statistics
    pass runs each chunk up to its BN (_Stop), then the next chunk."""
    rewind()
    functional.reset_net(model)
    for x in _chunks(model, xs, n):
        with contextlib.suppress(_Stop):
            model(x)


@contextlib.contextmanager
def _fixed(stats: dict):
    """Every BN in ``stats`` normalises with its recorded T*B statistics (no graph: record pass)."""

    def hook(m, args, out):
        mean, var = stats[m]
        x = args[0]
        w, b = dsr_bn._affine(m, mean.numel(), x)
        # in BN's own output dtype (under AMP too), as in the one-pass record
        return dsr_bn._FlatBN.apply(x, w, b, mean, var, m.eps, dsr_bn._axis(m)).to(out.dtype)

    with dsr_bn._removed_after([m.register_forward_hook(hook) for m in stats]):
        yield


def _statistics_pass(model, xs, n, pending: list[nn.Module], stats: dict, counts: dict, rewind) -> None:
    """Fix the statistics of the first pending BN the forward reaches (removed from ``pending``)."""
    target: list[nn.Module] = []
    parts: list[tuple[int, torch.Tensor, torch.Tensor]] = []  # per chunk: (count, mean, var)

    def pre_hook(m, args):
        if not target:
            target.append(m)
        if m is target[0]:
            parts.append(dsr_bn.chunk_statistics(m, args[0]))
        raise _Stop

    with dsr_bn._removed_after([m.register_forward_pre_hook(pre_hook) for m in pending]), _fixed(stats):
        _run(model, xs, n, rewind)
    if not target:  # the forward reaches none of them (unused modules): nothing to normalise
        pending.clear()
        return
    (m,) = target
    counts[m], mean, var = dsr_bn.global_statistics(m, parts)
    stats[m] = (mean, var)
    pending.remove(m)


def _update_running_statistics(norms: list[nn.Module], stats: dict, counts: dict, momenta: dict) -> None:
    """BN's own running-statistics update, once, with the T*B statistics (unbiased variance)."""
    for m in norms:
        momentum = momenta[m]
        if not m.track_running_stats or m.running_mean is None:
            continue
        mean, var = stats[m]
        n = counts[m]
        m.num_batches_tracked.add_(1)
        f = momentum if momentum is not None else 1.0 / float(m.num_batches_tracked)
        m.running_mean.mul_(1 - f).add_(mean, alpha=f)
        m.running_var.mul_(1 - f).add_(var * (n / max(n - 1, 1)), alpha=f)


def record(model, xs, n: int, *, stats: dict, pooled: dict, decay: float, rewind) -> None:
    """The streamed record pass (no graph): fills ``stats`` {train-mode BN: (mean, var)} and
    ``pooled`` {max pool: time-averaged output}; the DSR neurons keep their record."""
    norms = dsr_bn.train_mode_norms(model)
    momenta = {m: m.momentum for m in norms}
    counts: dict = {}
    pending = list(norms)
    with torch.no_grad():
        with dsr_bn.frozen_running_statistics(model):
            while pending:
                _statistics_pass(model, xs, n, pending, stats, counts, rewind)
            with _fixed(stats), dsr_bn.record_outputs(dsr_bn.max_pools(model), pooled, decay):
                _run(model, xs, n, rewind)
        _update_running_statistics([m for m in norms if m in stats], stats, counts, momenta)
