"""snnexp: a config-driven experiment runner for directly-trained deep spiking neural networks.

Notebook / script API (the CLI is a thin layer over these)::

    import snnexp
    cfg = snnexp.compose(["model=sew_mini", "T=4", "trainer.epochs=2", "logger=none"])
    model = snnexp.build_model(cfg)
    train_loader, test_loader = snnexp.build_data(cfg)
    metrics = snnexp.train(cfg)          # {'best_acc1': ..., 'last_acc1': ..., ...}
    model, cfg = snnexp.load("outputs/runs/.../checkpoints/best.pt", ["T=2"])
    snnexp.evaluate(model, cfg)          # {'acc1': ..., 'acc5': ..., 'loss': ..., 'n': ...}

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
    from snnexp.config.gate import check_config

    return _build(check_config(cfg))


def build_data(cfg: DictConfig, rank: int = 0, world_size: int = 1) -> Any:
    """(train_loader, test_loader) for ``cfg.data``."""
    from snnexp.config.gate import check_config
    from snnexp.data import build_data as _build

    return _build(check_config(cfg), rank, world_size)


def train(cfg: DictConfig, run_dir: str | None = None, on_epoch=None) -> dict[str, Any]:
    """Train; returns the final metrics (written to ``<run_dir>/metrics.json`` too). ``run_dir``
    may not hold another run unless ``cfg.resume`` says to continue it.
    ``on_epoch(epoch, row)``, if given, runs after every epoch; a true result stops the run."""
    from snnexp.engine.trainer import train as _train

    return _train(cfg, run_dir, on_epoch=on_epoch)


def load(
    ckpt: str, overrides: list[str] | tuple[str, ...] = (), device: str = "cpu"
) -> tuple[nn.Module, DictConfig]:
    """(model in eval mode with the checkpoint's weights, the config it was built from). Runtime
    overrides (``T=2``, ``data.root=...``, batch sizes) apply on top of the checkpoint's own config;
    structural ones (``block=...``) that contradict it are refused, as in ``snnexp eval``."""
    from snnexp.inference import load_for_inference

    cfg = compose([f"ckpt={ckpt}", *overrides], "eval")
    model, run_cfg, _ = load_for_inference(ckpt, cfg, list(overrides), {"ckpt", "split", "out"}, device)
    return model, run_cfg


def evaluate(model: nn.Module, cfg: DictConfig, split: str = "test", device: str = "cpu") -> dict[str, float]:
    """Loss, acc1, acc5 (percent) and n of ``model`` on ``split`` ("test" or "train") of ``cfg.data``."""
    from snnexp.inference import evaluate_split

    if split not in ("test", "train"):
        from snnexp.errors import ConfigError

        raise ConfigError(f"split={split!r} is not allowed; allowed: test, train")
    return evaluate_split(model, cfg, split, device)


__all__ = ["compose", "build_model", "build_data", "train", "load", "evaluate", "__version__"]
