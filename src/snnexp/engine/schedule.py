"""Optimizers and learning-rate schedules from the ``optim`` and ``sched`` groups.

The schedule is one function of the optimizer step (a LambdaLR), so it is exact after resume
(its state is the step counter) and can be stepped per batch (smooth cosine) or per epoch
(step decay, as SEW Table S1's "step 64 x 0.1"). Times are in epochs, as the papers give them.
"""

from __future__ import annotations

import math

import torch
from omegaconf import DictConfig
from torch import nn


def build_optimizer(cfg: DictConfig, model: nn.Module) -> torch.optim.Optimizer:
    o = cfg.optim
    params = [p for p in model.parameters() if p.requires_grad]
    if o.name == "sgd":
        return torch.optim.SGD(
            params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay
        )
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[o.name]
    return cls(params, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)


def lr_lambda(s: DictConfig, base_lr: float, epochs: int, steps_per_epoch: int):
    """factor(step) multiplying the base lr; ``step`` counts optimizer steps from 0."""
    warm, start = float(s.get("warmup_epochs", 0.0)), float(s.get("warmup_start_factor", 0.1))
    per_step = bool(s.get("per_step", True))
    milestones = [m * epochs if m < 1 else m for m in s.get("milestones", [])]

    def factor(step: int) -> float:
        exact = step / steps_per_epoch
        e = exact if per_step else math.floor(exact)
        if s.name == "cosine":
            t_max, eta_min = float(s.t_max or epochs), float(s.eta_min)
            cos = 0.5 * (1 + math.cos(math.pi * min(e, t_max) / t_max))
            f = (eta_min + (base_lr - eta_min) * cos) / base_lr
        elif s.name == "step":
            f = float(s.gamma) ** math.floor(e / int(s.step_size))
        elif s.name == "multistep":
            f = float(s.gamma) ** sum(e >= m for m in milestones)
        else:
            f = 1.0
        if warm > 0 and exact < warm:
            f *= start + (1 - start) * exact / warm
        return f

    return factor


def build_scheduler(cfg: DictConfig, opt: torch.optim.Optimizer, steps_per_epoch: int):
    fn = lr_lambda(cfg.sched, float(cfg.optim.lr), int(cfg.trainer.epochs), max(1, steps_per_epoch))
    return torch.optim.lr_scheduler.LambdaLR(opt, fn)
