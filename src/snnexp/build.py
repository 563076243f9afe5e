"""``build_model(cfg)``: the registered model of ``cfg.model.name`` with the spiking parts and
the input encoder the config names."""

from __future__ import annotations

from omegaconf import DictConfig
from torch import nn

from snnexp.errors import ConfigError
from snnexp.parts import Parts, _kwargs, check_kwargs
from snnexp.registry import METHODS, MODELS


def build_model(cfg: DictConfig) -> nn.Module:
    parts = Parts(cfg)
    fn = MODELS.get(cfg.model.name)
    kw = _kwargs(cfg.model)
    check_kwargs(fn, kw, f"model {cfg.model.name!r}", skip=1)
    try:
        model = fn(parts, **kw)
        model.encoder = parts.encoder()
    except ValueError as e:  # the builders' checks of sizes and combinations the config asks for
        raise ConfigError(str(e)) from e
    return model


def build_method(cfg: DictConfig):
    """The training method of ``cfg.method`` (its YAML keys are the constructor's arguments)."""
    Parts(cfg)  # fills the registries
    cls = METHODS.get(cfg.method.name)
    kw = _kwargs(cfg.method)
    check_kwargs(cls, kw, f"method {cfg.method.name!r}")
    return cls(**kw)


__all__ = ["build_model", "build_method"]
