"""Learning-rate schedules of the ``sched`` group.

The schedule is one function of the optimizer step (a LambdaLR), so it is exact after resume
(its state is the step counter) and can be stepped per batch (smooth cosine) or per epoch
(step decay, as SEW Table S1's "step 64 x 0.1"). Times are in epochs, as the papers give them.
A schedule registered in ``SCHEDULES`` maps (sched config, epochs, base lr) to the factor of the
base lr at epoch e; warm-up multiplies any of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from omegaconf import DictConfig

from snnexp.errors import ConfigError
from snnexp.registry import SCHEDULES

Shape = Callable[[float], float]


@SCHEDULES.register("cosine")
def cosine(s: DictConfig, epochs: int, base_lr: float) -> Shape:
    t_max, eta_min = float(s.t_max or epochs), float(s.eta_min)

    def f(e: float) -> float:
        cos = 0.5 * (1 + math.cos(math.pi * min(e, t_max) / t_max))
        return (eta_min + (base_lr - eta_min) * cos) / base_lr

    return f


@SCHEDULES.register("step")
def step(s: DictConfig, epochs: int, base_lr: float) -> Shape:
    gamma, size = float(s.gamma), int(s.step_size)
    return lambda e: gamma ** math.floor(e / size)


@SCHEDULES.register("multistep")
def multistep(s: DictConfig, epochs: int, base_lr: float) -> Shape:
    gamma = float(s.gamma)
    # "after": the lr drops once epoch m has run, so epoch m + 1 is the first at the lower lr
    shift = 1 if s.get("milestone_epoch", "at") == "after" else 0
    milestones = [(m * epochs if m < 1 else m) + shift for m in s.get("milestones", [])]
    return lambda e: gamma ** sum(e >= m for m in milestones)


@SCHEDULES.register("constant")
def constant(s: DictConfig, epochs: int, base_lr: float) -> Shape:
    return lambda e: 1.0


def lr_lambda(s: DictConfig, base_lr: float, epochs: int, steps_per_epoch: int) -> Callable[[int], float]:
    """factor(step) multiplying the base lr; ``step`` counts optimizer steps from 0."""
    warm, start = float(s.get("warmup_epochs", 0.0)), float(s.get("warmup_start_factor", 0.1))
    warm_steps = int(s.get("warmup_steps", 0))
    per_step = bool(s.get("per_step", True))
    if s.get("milestone_epoch", "at") != "at" and s.name != "multistep":
        raise ConfigError(
            f"sched.milestone_epoch={s.milestone_epoch} only applies to sched=multistep (got sched={s.name})"
        )
    shape = SCHEDULES.get(s.name)(s, epochs, base_lr)

    def factor(step: int) -> float:
        exact = step / steps_per_epoch
        f = shape(exact if per_step else math.floor(exact))
        if warm > 0 and exact < warm:
            f *= start + (1 - start) * exact / warm
        if step < warm_steps:  # the DSR authors' warm-up: (i + 1) / warmup over the first steps
            f *= (step + 1) / warm_steps
        return f

    return factor


def build_scheduler(cfg: DictConfig, opt: torch.optim.Optimizer, steps_per_epoch: int):
    fn = lr_lambda(cfg.sched, float(cfg.optim.lr), int(cfg.trainer.epochs), max(1, steps_per_epoch))
    return torch.optim.lr_scheduler.LambdaLR(opt, fn)
