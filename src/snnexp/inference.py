"""A trained checkpoint, ready for inference: the one way ``eval``, ``fold`` and ``analyze`` load it.

The model is rebuilt from the config stored in the checkpoint (the resolved config it was trained
with), so a checkpoint needs no command-line overrides to load; overrides given anyway are applied
on top (``T=2`` evaluates with fewer time steps, KEYS Tables 16-17; ``data=...`` swaps a whole
group). A checkpoint written by ``snnexp fold`` has its norms folded away: the structure is folded
the same way before its weights go in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from snnexp.build import build_model
from snnexp.config.compose import apply_overrides, task_overrides
from snnexp.engine.checkpoint import load_checkpoint, load_weights
from snnexp.errors import CheckpointError


def load_for_inference(
    ckpt_path: str | Path,
    cfg: DictConfig,
    overrides: list[str] | None,
    own_keys: set[str],
    device: torch.device | str | None = None,
) -> tuple[nn.Module, DictConfig, dict[str, Any]]:
    """(model in eval mode, the config it was built from, the checkpoint dict).

    ``cfg`` is the command's composed config, where the values of ``overrides`` (default: the
    running Hydra job's) are taken from; ``own_keys`` are the command's own keys (``ckpt``,
    ``split``, ...), not part of the model's config. The model is moved to ``device`` when given
    (else it stays on the CPU). A checkpoint that is unreadable, has no config, or does not fit the
    model its config builds is a one-line CheckpointError.
    """
    ckpt = load_checkpoint(ckpt_path)
    if not ckpt.get("config"):
        raise CheckpointError(f"{ckpt_path} holds no config (it was not written by snnexp train or fold)")
    overrides = task_overrides() if overrides is None else overrides
    run_cfg = apply_overrides(OmegaConf.create(ckpt["config"]), cfg, overrides, own_keys)
    model = build_model(run_cfg)
    if ckpt.get("folded"):  # written by `snnexp fold`: same structure with the norms folded away
        from snnexp.fold import fold_tdbn

        model = fold_tdbn(model)
    if device is not None:
        model = model.to(device)
    load_weights(model, ckpt, ckpt_path)
    return model.eval(), run_cfg, ckpt


__all__ = ["load_for_inference"]
