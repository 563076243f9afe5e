"""Threshold-dependent BN (TDBN Eq. 5-8, Algorithm 1): each channel k of the pre-synaptic input
x_k = (x_k^1, ..., x_k^T) is normalised over (T, N, H, W) together,

    x_hat = alpha V_th (x - E[x_k]) / sqrt(Var[x_k] + eps),   y = lambda_k x_hat + beta_k,

lambda, beta initialised to 1, 0; running statistics for inference (then folded into the conv,
Eq. 9-10: :func:`snnexp.fold.fold_tdbn`). alpha = 1, or 1/sqrt(2) for the BN before a residual
addition and the BN in the shortcut (``residual=True``; Fig. 5b).

spikingjelly's ThresholdDependentBatchNorm2d folds alpha V_th into the *initial* BN weight
(weight = alpha V_th, trained directly). The function is the same at initialisation, but the
paper's trainable parameter is lambda (init 1), with alpha V_th a fixed factor; gradients,
weight decay and zero-init act on lambda. This module keeps that parametrisation: ``weight`` is
lambda, ``bias`` is beta, the buffer ``scale`` is alpha V_th.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from snnexp.registry import NORMS


class ThresholdDependentBN(nn.modules.batchnorm._BatchNorm):
    """Multi-step tdBN on [T, B, C, ...] (``dims`` = number of dims after C: 0, 1, 2 or 3)."""

    per_step = False  # one set of statistics for all steps

    def __init__(
        self,
        num_features: int,
        *,
        alpha: float,
        v_threshold: float,
        dims: int = 2,
        eps: float = 1e-5,  # PyTorch's BN defaults (not paper values)
        momentum: float | None = 0.1,
    ):
        super().__init__(num_features, eps=eps, momentum=momentum, affine=True, track_running_stats=True)
        self.dims = dims
        self.alpha = float(alpha)
        self.v_threshold = float(v_threshold)
        self.register_buffer("scale", torch.tensor(self.alpha * self.v_threshold))
        self.step_mode = "m"
        self.sync = False  # True: statistics over all DDP ranks (set by the trainer's sync-BN)
        self.process_group = None

    def _check_input_dim(self, x: torch.Tensor) -> None:
        ok = (3, 4) if self.dims <= 1 else (self.dims + 3,)  # dims 0/1: [T, B, C] or [T, B, C, L]
        if x.dim() not in ok:
            raise ValueError(
                f"tdBN(dims={self.dims}) expects a [T, B, C, ...] input with "
                f"{' or '.join(map(str, ok))} dims, got shape {tuple(x.shape)}"
            )

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x_seq)
        x = x_seq.flatten(0, 1)  # [T*B, C, ...]: statistics over T, B and space (Fig. 1)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked)
        weight = self.weight * self.scale
        world = self._sync_world_size()
        if world > 1 and x.device.type == "cuda":  # TDBN trains with sync-BN (supplement C)
            from torch.nn.modules._functions import SyncBatchNorm as sync_batch_norm

            y = sync_batch_norm.apply(
                x,
                weight,
                self.bias,
                self.running_mean,
                self.running_var,
                self.eps,
                momentum,
                self.process_group or dist.group.WORLD,
                world,
            )
        elif world > 1:  # torch's sync-BN kernels are GPU-only: sums over ranks (gloo on CPU too)
            from snnexp.norms._sync import sync_batch_norm

            y = sync_batch_norm(
                x,
                self.running_mean,
                self.running_var,
                weight,
                self.bias,
                momentum,
                self.eps,
                self.process_group,
            )
        else:
            y = F.batch_norm(
                x, self.running_mean, self.running_var, weight, self.bias, self.training, momentum, self.eps
            )
        return y.view_as(x_seq)

    def _sync_world_size(self) -> int:
        """> 1 when ``self.sync`` is set (by the trainer's sync-BN conversion), in training mode,
        with an initialised process group of several ranks (any backend, any device)."""
        if not (self.sync and self.training and dist.is_available() and dist.is_initialized()):
            return 1
        return dist.get_world_size(self.process_group or dist.group.WORLD)

    def extra_repr(self) -> str:
        return f"{self.num_features}, alpha={self.alpha}, v_threshold={self.v_threshold}, eps={self.eps}"


@NORMS.register("tdbn", paper="TDBN")
def tdbn(
    channels: int,
    *,
    residual: bool,
    v_threshold: float,
    T: int,
    dims: int,
    alpha: float,
    residual_alpha: float,
    eps: float,
    momentum: float,
):
    del T
    return ThresholdDependentBN(
        channels,
        alpha=residual_alpha if residual else alpha,
        v_threshold=v_threshold,
        dims=dims,
        eps=eps,
        momentum=momentum,
    )
