"""snnexp: a config-driven experiment runner for directly-trained deep spiking neural networks.

Notebook / script API (the CLI is a thin layer over these)::

    import snnexp
    cfg = snnexp.compose(["model=sew_mini", "T=4", "trainer.epochs=2", "logger=none"])
    model = snnexp.build_model(cfg)
    train_loader, test_loader = snnexp.build_data(cfg)
    metrics = snnexp.train(cfg)          # {'best_acc1': ..., 'last_acc1': ..., ...}

Imports are lazy so that ``snnexp --help`` and ``snnexp list`` do not pay for torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from omegaconf import DictConfig
    from torch import nn


def compose(overrides: list[str] | tuple[str, ...] = (), config_name: str = "train") -> DictConfig:
    """The config ``snnexp train <overrides>`` would run with (validated)."""
    from snnexp.config import compose as _compose

    return _compose(overrides, config_name)


def build_model(cfg: DictConfig) -> nn.Module:
    """The model the config describes (multi-step; logits [B, K] from [B, C, H, W] or [T, B, ...])."""
    from snnexp.build import build_model as _build

    return _build(cfg)


def build_data(cfg: DictConfig, rank: int = 0, world_size: int = 1) -> Any:
    """(train_loader, test_loader) for ``cfg.data``."""
    from snnexp.data import build_data as _build

    return _build(cfg, rank, world_size)


def train(cfg: DictConfig, run_dir: str | None = None, on_epoch=None) -> dict[str, Any]:
    """Train; returns the final metrics (written to ``<run_dir>/metrics.json`` too).
    ``on_epoch(epoch, row)``, if given, runs after every epoch; a true result stops the run."""
    from snnexp.engine.trainer import train as _train

    return _train(cfg, run_dir, on_epoch=on_epoch)


__all__ = ["compose", "build_model", "build_data", "train", "__version__"]
