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
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn

from snnexp.build import build_model
from snnexp.config.compose import apply_overrides, task_overrides
from snnexp.config.gate import check_config
from snnexp.engine.checkpoint import load_checkpoint, load_weights
from snnexp.errors import CheckpointError


def load_for_inference(
    ckpt_path: str | Path,
    cfg: DictConfig,
    overrides: list[str] | None,
    own_keys: set[str],
    device: torch.device | str | None = None,
    weights_format: str | None = None,
) -> tuple[nn.Module, DictConfig, dict[str, Any]]:
    """(model in eval mode, the config it was built from, the checkpoint dict).

    ``cfg`` is the command's composed config, where the values of ``overrides`` (default: the
    running Hydra job's) are taken from; ``own_keys`` are the command's own keys (``ckpt``,
    ``split``, ...), not part of the model's config. The model is moved to ``device`` when given
    (else it stays on the CPU). A checkpoint that is unreadable, has no config, or does not fit the
    model its config builds is a one-line CheckpointError.
    """
    fmt = str(weights_format or cfg.get("format") or "auto")  # the checkpoint's layout
    if fmt != "snnexp":
        from snnexp.engine.foreign import read_weights

        weights = read_weights(ckpt_path, fmt)
        if weights.format != "snnexp":
            return _load_foreign(weights, ckpt_path, cfg, own_keys, device)
    ckpt = load_checkpoint(ckpt_path)
    if not ckpt.get("config"):
        raise CheckpointError(f"{ckpt_path} holds no config (it was not written by snnexp train or fold)")
    overrides = task_overrides() if overrides is None else overrides
    saved = check_config(ckpt["config"], f"{ckpt_path}: its stored config")  # the config gate
    run_cfg = apply_overrides(OmegaConf.create(OmegaConf.to_container(saved)), cfg, overrides, own_keys)
    check_structure(saved, run_cfg, overrides, ckpt_path)
    check_config(run_cfg, f"{ckpt_path} with {' '.join(overrides)}" if overrides else "")
    model = build_model(run_cfg)
    if ckpt.get("folded"):  # written by `snnexp fold`: same structure with the norms folded away
        from snnexp.fold import fold_tdbn

        model = fold_tdbn(model)
    if device is not None:
        model = model.to(device)
    load_weights(model, ckpt, ckpt_path)
    check_finite(model, ckpt_path)
    return model.eval(), run_cfg, ckpt


def check_finite(model: nn.Module, ckpt_path) -> None:
    """A checkpoint with an inf/NaN weight or norm statistic (a diverged run's) evaluates to chance
    with a NaN loss: an error, not a number."""
    for name, t in (*model.named_parameters(), *model.named_buffers()):
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(
                f"{ckpt_path}: {name} holds inf/NaN (the run diverged); evaluate an earlier checkpoint"
            )


def _load_foreign(weights, path, cfg: DictConfig, own_keys: set[str], device):
    """Weights written by other code (engine/weight_layouts.py): the network is the one the command
    line composes (``model=sew_resnet34 block=sew_add ...``), checked against what the file says."""
    from snnexp.engine.foreign import check_fits, load_strict, refuse_swapped_iand

    run_cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    with open_dict(run_cfg):
        for k in (*own_keys, "format", "weights"):
            run_cfg.pop(k, None)
    check_fits(weights, run_cfg, path)
    model = build_model(run_cfg)
    refuse_swapped_iand(model, weights, path)
    load_strict(model, weights, path)
    if device is not None:
        model = model.to(device)
    ckpt = {"model": weights.state, "foreign": weights.format, "epoch": weights.meta.get("epoch")}
    ckpt["config"] = OmegaConf.to_yaml(run_cfg)
    ckpt["source"] = {k: v for k, v in weights.meta.items() if k != "family"}
    return model.eval(), run_cfg, ckpt


def evaluate_split(model: nn.Module, run_cfg: DictConfig, split: str, device) -> dict[str, float]:
    """Loss, acc@1, acc@5 (percent) and the sample count of ``model`` on ``split`` of ``run_cfg.data``."""
    from snnexp.data import build_eval_loader
    from snnexp.engine.distributed import Dist
    from snnexp.engine.steps import StepContext, evaluate

    device = torch.device(device)
    ctx = StepContext.from_config(run_cfg, device, amp=False)
    return evaluate(model.to(device), build_eval_loader(run_cfg, split), device, ctx, Dist())


# what the weights were trained as: an override that changes one of these would evaluate another
# network with these weights (block=plain on a sew_add checkpoint loads, and reports a number)
STRUCTURAL = ("model", "block", "neuron", "surrogate", "norm", "encoder", "method", "data")
RUNTIME_DATA = ("data.root",)  # where the same data set lives on this machine


def check_structure(saved: DictConfig, run_cfg: DictConfig, overrides: list[str], path) -> None:
    """Refuse an override that contradicts the checkpoint's own config in what the network is;
    runtime keys (T, split, batch sizes, device, threads, data.root, ...) may change."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for o in OverridesParser.create().parse_overrides(list(overrides)):
        key = o.get_key_element().lstrip("+~")
        if key.split(".")[0] not in STRUCTURAL or key in RUNTIME_DATA:
            continue
        was, now = OmegaConf.select(saved, key), OmegaConf.select(run_cfg, key)
        if key == "data" and isinstance(was, DictConfig) and isinstance(now, DictConfig):
            was, now = ({k: v for k, v in c.items() if k != "root"} for c in (was, now))
        if isinstance(was, DictConfig) or isinstance(now, DictConfig):
            was, now = (OmegaConf.to_container(c) if isinstance(c, DictConfig) else c for c in (was, now))
        if was != now:
            old = was.get("name", was) if isinstance(was, dict) else was
            raise CheckpointError(
                f"{o.input_line} contradicts {path}, which was trained with {key}={old}: the model is "
                "rebuilt from the checkpoint's own config; only runtime keys (T, split, batch size, "
                "device, data.root, ...) may change"
            )


__all__ = ["check_finite", "check_structure", "evaluate_split", "load_for_inference"]
