"""Per-batch training steps. BPTT and DSR share the engine and differ only here.

A step gets the model, a batch already on the device in time-major layout, and the engine's
context; it runs forward and backward (through the grad scaler) and returns (loss, logits).
The engine owns zero_grad, clipping, the optimizer and scheduler steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from spikingjelly.activation_based import functional
from torch import nn

from snnexp.registry import STEPS


@dataclass
class StepContext:
    loss_fn: Any
    scaler: torch.amp.GradScaler
    autocast: Any  # a context-manager factory
    num_classes: int


@STEPS.register("bptt", paper="SEW", help="backpropagation through time with surrogate gradients")
def bptt_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: StepContext):
    with ctx.autocast():
        logits = model(x)
        loss = ctx.loss_fn(logits.float(), y)
    ctx.scaler.scale(loss).backward()
    functional.reset_net(model)  # neuron state must not leak into the next batch
    return loss.detach(), logits.detach()


def make_loss(name: str, num_classes: int, label_smoothing: float):
    if name == "ce":
        return nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    def mse(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # rate-coded targets (TET-style MSE)
        return nn.functional.mse_loss(logits, nn.functional.one_hot(y, num_classes).to(logits.dtype))

    return mse
