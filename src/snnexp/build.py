"""``build_model(cfg)``: the registered model of ``cfg.model.name`` with the spiking parts and
the input encoder the config names."""

from __future__ import annotations

from omegaconf import DictConfig
from torch import nn

from snnexp.parts import Parts, _kwargs, check_kwargs
from snnexp.registry import MODELS


def build_model(cfg: DictConfig) -> nn.Module:
    parts = Parts(cfg)
    fn = MODELS.get(cfg.model.name)
    kw = _kwargs(cfg.model)
    check_kwargs(fn, kw, f"model {cfg.model.name!r}", skip=1)
    model = fn(parts, **kw)
    model.encoder = parts.encoder()
    return model


__all__ = ["build_model"]
