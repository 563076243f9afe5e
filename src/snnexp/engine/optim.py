"""Optimizers of the ``optim`` group, over parameter groups by kind (torchvision's reference
recipe): conv/linear ``weight``s, ``norm`` parameters, ``bias``es and spiking ``threshold``s
(DSR's trainable V_th). Each kind may have its own weight decay (``optim.<kind>_weight_decay``;
null: ``optim.weight_decay``). When no kind differs, all parameters form one group, as before.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import nn

from snnexp.registry import OPTIMIZERS

KINDS = ("weight", "norm", "bias", "threshold")
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)


def parameter_kind(module: nn.Module, name: str) -> str:
    """The kind of ``module``'s own parameter ``name``."""
    if name == "v_threshold":
        return "threshold"
    if isinstance(module, _NORMS):
        return "norm"
    return "bias" if name == "bias" else "weight"


def param_groups(model: nn.Module, o: DictConfig) -> list[dict]:
    """Trainable parameters grouped by kind, each group with its weight decay."""
    by_kind: dict[str, list[nn.Parameter]] = {k: [] for k in KINDS}
    seen: set[int] = set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if p.requires_grad and id(p) not in seen:  # shared parameters (one PLIF leak) once
                seen.add(id(p))
                by_kind[parameter_kind(module, name)].append(p)
    decay = {k: o.get(f"{k}_weight_decay") for k in KINDS}
    base = float(o.weight_decay)
    if all(v is None or float(v) == base for v in decay.values()):
        return [{"params": [p for k in KINDS for p in by_kind[k]], "weight_decay": base}]
    return [
        {"params": by_kind[k], "weight_decay": base if decay[k] is None else float(decay[k]), "kind": k}
        for k in KINDS
        if by_kind[k]
    ]


@OPTIMIZERS.register("sgd")
def sgd(groups: list[dict], o: DictConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov)


@OPTIMIZERS.register("adam")
def adam(groups: list[dict], o: DictConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(groups, lr=o.lr, betas=tuple(o.betas))


@OPTIMIZERS.register("adamw")
def adamw(groups: list[dict], o: DictConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(groups, lr=o.lr, betas=tuple(o.betas))


def build_optimizer(cfg: DictConfig, model: nn.Module) -> torch.optim.Optimizer:
    return OPTIMIZERS.get(cfg.optim.name)(param_groups(model, cfg.optim), cfg.optim)
