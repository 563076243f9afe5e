"""Train-mode BN in method=dsr's flat replay: the time-sum of the per-step BN gradient.

With batch statistics over the T*B inputs (mu, sigma per channel; the authors' code and our
record pass), BN at step n is y[n] = gamma x_hat[n] + beta, x_hat[n] = (x[n] - mu) / sigma. The
replay sees the time average x_bar of the input (weights w_n), so:

- forward: y_bar = gamma (x_bar - mu) / sigma + beta with the *recorded* mu, sigma: exactly the
  average of the per-step outputs;
- backward: when the gradient reaching BN is the same at every step up to the weight w_n (it is, when
  BN feeds a DSR neuron: dL/dy[n] = w_n G), the per-step BN gradient summed over time is

      sum_n dL/dx[n] = gamma / sigma (G - mean(G) - xb_hat mean(G xb_hat)),   xb_hat = (x_bar - mu) / sigma

  (means over the batch and spatial positions of a channel), and dL/dgamma = sum G xb_hat,
  dL/dbeta = sum G: the usual BN backward, with the T*B statistics (exact for IF, where mu is also
  the mean of x_bar; for LIF's weights w_n an approximation).

What stays approximate is the layer *before* BN: its weight gradient sum_n dL/dx[n] in[n]^T needs the
per-step products, which the replay replaces by dL/dx_bar in_bar^T.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn


class _FlatBN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, mean, var, eps: float, axis: int):
        shape = [1] * x.dim()
        shape[axis] = -1
        inv = (var + eps).rsqrt()
        xh = (x - mean.view(shape)) * inv.view(shape)
        ctx.save_for_backward(xh, weight, inv)
        ctx.axis, ctx.shape = axis, shape
        return xh * weight.view(shape) + bias.view(shape)

    @staticmethod
    def backward(ctx, g):
        xh, weight, inv = ctx.saved_tensors
        dims = [d for d in range(g.dim()) if d != ctx.axis]
        n = g.numel() // g.shape[ctx.axis]
        g_bias, g_weight = g.sum(dims), (g * xh).sum(dims)
        s = ctx.shape
        g_x = (weight * inv).view(s) * (g - g_bias.view(s) / n - xh * (g_weight.view(s) / n))
        return g_x, g_weight, g_bias, None, None, None, None


def _axis(m: nn.Module) -> int:
    return 2 if getattr(m, "step_mode", "s") == "m" else 1  # [T, B, C, ...] or [N, C, ...]


def _affine(m: nn.Module, c: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    w = m.weight if m.weight is not None else torch.ones(c, dtype=like.dtype, device=like.device)
    b = m.bias if m.bias is not None else torch.zeros(c, dtype=like.dtype, device=like.device)
    scale = getattr(m, "scale", None)  # tdBN: weight * alpha V_th
    return (w * scale if isinstance(scale, torch.Tensor) else w), b


def train_mode_norms(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]


@contextlib.contextmanager
def _removed_after(handles: list):
    """The hooks of ``handles`` stay registered for the ``with`` body only."""
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def chunk_statistics(m: nn.Module, x: torch.Tensor) -> tuple[int, torch.Tensor, torch.Tensor]:
    """(count, mean, biased variance) per channel of BN ``m``'s input ``x``, as BN computes them."""
    x = x.detach()
    dims = [d for d in range(x.dim()) if d != _axis(m)]
    var, mean = torch.var_mean(x, dim=dims, correction=0)
    return x.numel() // x.shape[_axis(m)], mean, var


def combined(parts: list[tuple[int, torch.Tensor, torch.Tensor]]) -> tuple[int, torch.Tensor, torch.Tensor]:
    """(count, mean, biased variance) of the union of ``parts`` (Chan et al.'s pairwise update, in
    float64); one part is returned as it is (BN's own statistics, bit for bit)."""
    if len(parts) == 1:
        return parts[0]
    total = sum(c for c, _, _ in parts)
    mean = sum(c * mu.double() for c, mu, _ in parts) / total
    m2 = sum(c * (var.double() + (mu.double() - mean).square()) for c, mu, var in parts)
    dtype = parts[0][1].dtype
    return total, mean.to(dtype), (m2 / total).to(dtype)


def _synced(m: nn.Module) -> bool:
    """A BN that normalises with statistics over all DDP ranks (trainer.sync_bn: torch's SyncBN,
    or tdBN's own ``sync``)."""
    import torch.distributed as dist

    syncs = isinstance(m, nn.SyncBatchNorm) or getattr(m, "sync", False) is True
    return syncs and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def global_statistics(m: nn.Module, parts: list) -> tuple[int, torch.Tensor, torch.Tensor]:
    """The statistics BN ``m`` normalised with over the chunks ``parts`` of its input: over this
    rank's batch, or over every rank's when ``m`` syncs them (as its own forward did)."""
    count, mean, var = combined(parts)
    if not _synced(m):
        return count, mean, var
    import torch.distributed as dist

    mine = torch.cat([mean.new_tensor([count]), mean, var]).double()
    every = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(every, mine)
    c = mean.numel()
    return combined([(int(t[0]), t[1 : 1 + c].to(mean.dtype), t[1 + c :].to(mean.dtype)) for t in every])


@contextlib.contextmanager
def record_statistics(norms: list[nn.Module], store: dict):
    """Record pass: keep the batch mean and (biased) variance each BN normalised its input with."""

    def hook(m, args):
        _, mean, var = global_statistics(m, [chunk_statistics(m, args[0])])
        store[m] = (mean, var)

    with _removed_after([m.register_forward_pre_hook(hook) for m in norms]):
        yield


@contextlib.contextmanager
def replay_with_statistics(store: dict):
    """Replay pass: each BN's output becomes :class:`_FlatBN` of its input with the recorded
    statistics (BN's own batch-statistics output is computed and discarded)."""

    def hook(m, args, out):
        x = args[0]
        mean, var = store[m]
        w, b = _affine(m, mean.numel(), x)
        return _FlatBN.apply(x, w, b, mean, var, m.eps, _axis(m))

    with _removed_after([m.register_forward_hook(hook) for m in store]):
        yield


@contextlib.contextmanager
def frozen_running_statistics(model: nn.Module):
    """BN running statistics unchanged in the ``with`` body: the replay must not update them a
    second time (the record pass did, over the T*B inputs that inference will see), and a
    streamed record pass updates them itself, once (methods/_dsr_stream.py)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.num_batches_tracked) for m in bns]
    saved = [(mom, None if nbt is None else nbt.clone()) for mom, nbt in saved]
    for m in bns:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (mom, nbt) in zip(bns, saved, strict=True):
            m.momentum = mom
            if nbt is not None:
                m.num_batches_tracked.copy_(nbt)


# ------------------------------------------------------------------ max pooling in the replay
_MAXPOOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)


def max_pools(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, _MAXPOOL)]


@contextlib.contextmanager
def record_outputs(pools: list[nn.Module], store: dict, decay: float):
    """Record pass: the (lambda-weighted) time average of each max pool's output (max of the
    average is not the average of the maxima, and a train-mode BN after it must see the true
    average), accumulated over the calls of a streamed pass."""
    sums: dict = {}  # pool -> (sum_n lambda^{N-n} out[n] so far, N): a streamed pass calls it per chunk

    def hook(m, args, out):
        # Horner, one step at a time (acc = lambda acc + out[n]), as DSRNode._record sums I and r:
        # the same operations in the same order however the T steps are chunked, so a streamed
        # record equals the one-pass record bit for bit. A summation order that depended on the
        # chunking moved the average by an ulp, enough to break the exact ties between spike
        # rates that the replay's max pool routes its gradient by (SEW ADD sums of rates tie often).
        out = out.detach()
        acc, seen = sums.get(m, (None, 0))
        if acc is None:
            acc = torch.zeros_like(out[0])
        for t in range(out.shape[0]):
            acc.mul_(decay).add_(out[t])
        seen += out.shape[0]
        sums[m] = (acc, seen)
        store[m] = acc / sum(decay**k for k in range(seen))

    with _removed_after([m.register_forward_hook(hook) for m in pools]):
        yield


@contextlib.contextmanager
def replay_with_outputs(store: dict):
    """Replay pass: a max pool's value is its recorded average output; its gradient is routed by
    the argmax of the averaged input (the per-step routing would need T index maps)."""

    def hook(m, args, out):
        return out + (store[m].unsqueeze(0) - out).detach()

    with _removed_after([m.register_forward_hook(hook) for m in store]):
        yield
