"""Batch-norm statistics over all DDP ranks for any backend (gloo on CPU included).

torch's SyncBatchNorm kernels (``torch.batch_norm_stats`` ...) exist for GPUs only. Here the
per-channel statistics are sums reduced with the differentiable ``torch.distributed.nn`` all-reduce,
so the backward pass also sums, over ranks, the gradients that flow through the shared mean and
variance: with DDP averaging the weight gradients, a step equals one process with the global batch.
Two passes (mean, then the centred sum of squares) keep the variance as exact as F.batch_norm's.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.distributed.nn.functional import all_reduce


def _channel_sum(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(0, 1).reshape(x.shape[1], -1).sum(1)  # [N, C, ...] -> [C]


def sync_batch_norm(
    x: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    momentum: float,
    eps: float,
    group=None,
) -> torch.Tensor:
    """Training-mode batch norm of ``x`` [N, C, ...] with statistics over the N of every rank;
    updates the running statistics (unbiased variance, as F.batch_norm)."""
    group = group or dist.group.WORLD
    xf = x.float()
    count = torch.tensor([xf.numel() // xf.shape[1]], dtype=xf.dtype, device=xf.device)
    stats = all_reduce(torch.cat([_channel_sum(xf), count]), group=group)
    n = stats[-1]
    mean = stats[:-1] / n
    shape = (1, -1) + (1,) * (x.dim() - 2)
    centred = xf - mean.view(shape)
    var = all_reduce(_channel_sum(centred * centred), group=group) / n
    with torch.no_grad():
        running_mean.mul_(1 - momentum).add_(mean.detach().to(running_mean.dtype), alpha=momentum)
        unbiased = var.detach() * (n / (n - 1)).clamp(min=0)
        running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype), alpha=momentum)
    y = centred * torch.rsqrt(var + eps).view(shape) * weight.view(shape) + bias.view(shape)
    return y.to(x.dtype)
