"""What a training method's step gets from the engine (:class:`StepContext`), and the losses.

The context hides the optimizer, the grad scaler (AMP), gradient clipping and the divergence
check, so that every method updates the weights the same way: ``ctx.backward(loss)`` then
``ctx.optimizer_step(loss)``. With gradient accumulation (``trainer.accumulate=N``) a step's batch
comes as N micro-batches (:meth:`StepContext.micro_batches`): each is forwarded and
back-propagated on its own (the activation memory of one micro-batch), the gradients add up, and
one optimizer step follows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from spikingjelly.activation_based import functional
from torch import nn

from snnexp.engine.device import to_time_major
from snnexp.engine.distributed import Dist
from snnexp.engine.metrics import Sums
from snnexp.errors import TrainingDiverged


@dataclass
class StepContext:
    loss_fn: Any
    scaler: torch.amp.GradScaler | None
    autocast: Callable[[], Any]  # a context-manager factory
    num_classes: int
    optimizer: torch.optim.Optimizer | None = None
    params: list[nn.Parameter] | None = None  # what clip_grad clips
    clip_grad: float | None = None
    where: Callable[[], str] = lambda: ""  # "epoch e, step s" for error messages
    accumulate: int = 1  # micro-batches per optimizer step

    @classmethod
    def from_config(
        cls,
        cfg: Any,
        device: torch.device,
        *,
        model: nn.Module | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        training: bool = False,
        amp: bool = True,
        where: Callable[[], str] = lambda: "",
    ) -> StepContext:
        """The context ``cfg`` implies on ``device``, for training, evaluation, analysis and the
        scripts alike: its loss (label smoothing and clipping in training only), autocast in the
        dtype the neurons see (fastpath.amp_dtype: trainer.amp applies on CUDA; ``amp=False``
        evaluates in fp32), the grad scaler fp16 needs, ``trainer.accumulate`` micro-batches."""
        from snnexp.engine.fastpath import amp_dtype

        dtype = amp_dtype(cfg, device.type) if amp else torch.float32
        on = dtype != torch.float32
        t, classes = cfg.trainer, int(cfg.data.num_classes)
        return cls(
            loss_fn=make_loss(t.loss, classes, float(t.label_smoothing) if training else 0.0),
            scaler=torch.amp.GradScaler("cuda", enabled=on and dtype == torch.float16),
            autocast=lambda: torch.autocast(device.type, dtype=dtype, enabled=on),
            num_classes=classes,
            optimizer=optimizer,
            params=list(model.parameters()) if model is not None else None,
            clip_grad=t.clip_grad if training else None,
            where=where,
            accumulate=int(t.get("accumulate", 1)) if training else 1,
        )

    def micro_batches(
        self, net: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, float]]:
        """The step's batch as ``accumulate`` micro-batches ``(x_i, y_i, weight_i)``, weight_i =
        len(y_i) / len(y): the sum of the weighted micro-batch mean losses is the mean loss of the
        whole batch, and so is the gradient. Under DDP, the caller's forward and backward of every
        micro-batch but the last run inside ``no_sync()``: the gradients are all-reduced once, with
        the last backward."""
        n = min(self.accumulate, y.shape[0])
        if n == 1:
            yield x, y, 1.0
            return
        dim = 1 if x.dim() == 5 else 0  # [T, B, ...] sequences (engine/device.py), else [B, ...]
        ddp = _ddp(net)
        for i, (xi, yi) in enumerate(zip(x.tensor_split(n, dim), y.tensor_split(n), strict=True)):
            last = i == n - 1
            with contextlib.nullcontext() if last or ddp is None else ddp.no_sync():
                yield xi.contiguous(), yi, yi.shape[0] / y.shape[0]

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss).backward()

    def optimizer_step(self, loss: torch.Tensor) -> None:
        """Check the loss, clip, step the optimizer (through the scaler under fp16 AMP)."""
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"loss is {loss.item()} at {self.where()}; lower optim.lr or set trainer.clip_grad"
            )
        if self.clip_grad:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.params, float(self.clip_grad))
        self.scaler.step(self.optimizer)
        self.scaler.update()


def _ddp(net: nn.Module) -> nn.parallel.DistributedDataParallel | None:
    """The DDP wrapper inside ``net`` (which torch.compile may wrap again), or None."""
    while net is not None and not isinstance(net, nn.parallel.DistributedDataParallel):
        net = getattr(net, "_orig_mod", None)
    return net


def make_loss(name: str, num_classes: int, label_smoothing: float):
    if name == "ce":
        return nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    def mse(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # rate-coded targets (TET-style MSE)
        return nn.functional.mse_loss(logits, nn.functional.one_hot(y, num_classes).to(logits.dtype))

    return mse


@torch.no_grad()
def evaluate(
    model: nn.Module, loader, device: torch.device, ctx: StepContext, d: Dist, bar=None
) -> dict[str, float]:
    """Loss, top-1 and top-5 over ``loader`` (summed over DDP ranks)."""
    model.eval()
    sums = Sums(device)
    for x, y in loader:
        x, y = to_time_major(x.to(device, non_blocking=True)), y.to(device, non_blocking=True)
        with ctx.autocast():
            logits = model(x).float()
        sums.add(ctx.loss_fn(logits, y), logits, y)
        functional.reset_net(model)
        if bar is not None:
            bar.update(y.shape[0] * d.world_size)
    if bar is not None:
        bar.close()
    return sums.reduce(d)
