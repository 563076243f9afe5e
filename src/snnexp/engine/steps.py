"""What a training method's step gets from the engine (:class:`StepContext`), and the losses.

The context hides the optimizer, the grad scaler (AMP), gradient clipping and the divergence
check, so that every method updates the weights the same way: ``ctx.backward(loss)`` then
``ctx.optimizer_step(loss)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

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


def make_loss(name: str, num_classes: int, label_smoothing: float):
    if name == "ce":
        return nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    def mse(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # rate-coded targets (TET-style MSE)
        return nn.functional.mse_loss(logits, nn.functional.one_hot(y, num_classes).to(logits.dtype))

    return mse
