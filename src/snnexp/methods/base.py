"""The method interface the training loop calls (one object per run)."""

from __future__ import annotations

import torch
from spikingjelly.activation_based import functional
from torch import nn

from snnexp.engine.steps import StepContext


class Method:
    """One optimisation step per batch; subclasses override what differs.

    The loop calls :meth:`prepare` once with the built model (before DDP, compile and the
    optimizer), then :meth:`train_step` for every batch. ``train_step`` returns the detached loss
    and logits of the batch, for the running metrics. A method whose forward/backward differs
    overrides :meth:`micro_step` and keeps gradient accumulation (``trainer.accumulate``).
    Constructor arguments are the keys of ``conf/method/<name>.yaml`` (keyword-only: the YAML is
    their one source).
    """

    name = "base"
    # tensors (name suffixes) a checkpoint given by ``init.from`` may lack even with
    # ``init.reinit=strict``: the method sets them itself (DSR's calibrated thresholds)
    init_fresh: tuple[str, ...] = ()

    def prepare(self, model: nn.Module) -> None:
        """Check (and adapt) the model before training; raise ConfigError for a model the method
        cannot train, naming what it needs."""

    def before_training(self, model: nn.Module, test_inputs) -> None:
        """Called once before the first step (after a resume has loaded its checkpoint), with a lazy
        iterator over the test split's inputs (time-major, on the device): nothing is read unless
        the method asks (DSR's hybrid calibration on validation images)."""

    def forward_loss(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: StepContext):
        with ctx.autocast():
            logits = net(x)
            loss = ctx.loss_fn(logits.float(), y)
        return loss, logits

    def train_step(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: StepContext):
        """One optimizer step on the batch, back-propagated one micro-batch at a time
        (``trainer.accumulate``; one micro-batch, the whole batch, by default)."""
        ctx.zero_grad()
        losses, outputs = [], []
        for xi, yi, weight in ctx.micro_batches(net, x, y):
            loss, logits = self.micro_step(net, xi, yi, ctx, weight)
            losses.append(loss if weight == 1.0 else loss * weight)
            outputs.append(logits)
        loss = losses[0] if len(losses) == 1 else torch.stack(losses).sum()  # the whole batch's mean
        ctx.optimizer_step(loss)
        return loss, outputs[0] if len(outputs) == 1 else torch.cat(outputs)

    def micro_step(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: StepContext, weight: float):
        """Forward and backward of one micro-batch, its loss scaled by its share of the batch;
        returns the detached (unscaled) loss and logits."""
        loss, logits = self.forward_loss(net, x, y, ctx)
        ctx.backward(loss if weight == 1.0 else loss * weight)
        functional.reset_net(net)  # neuron state must not leak into the next batch
        return loss.detach(), logits.detach()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
