"""Weights written by other code (the SEW authors' released checkpoints, spikingjelly 2.0's model
zoo) as snnexp state dicts: recognise the layout (or take ``format=``), map every name with the
rules of :mod:`snnexp.engine.weight_layouts`, and refuse anything that does not map, naming the
first tensor that does not.

Loading stays ``weights_only=True``. A checkpoint saved by a torchvision-style ``train.py`` holds
its command line as an ``argparse.Namespace``; that one class (a plain attribute bag, whose
unpickling sets attributes and runs no code of the file) is allowed, nothing else.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from snnexp.engine.checkpoint import why_unreadable
from snnexp.engine.weight_layouts import EXPECTED_CONFIG, FORMATS, LAYOUTS, MODELS
from snnexp.errors import CheckpointError, ConfigError


@dataclass
class Weights:
    """A file's weights: ``format`` (snnexp or a layout of weight_layouts), the state dict in
    snnexp's names (for snnexp: the whole checkpoint in ``ckpt``), and what the file says of itself."""

    format: str
    state: dict[str, torch.Tensor]
    ckpt: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def torch_load(path: str | Path) -> Any:
    """``torch.load(weights_only=True)``, with ``argparse.Namespace`` the one class allowed."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, not a checkpoint, or holds other pickled objects
        raise CheckpointError(f"cannot read checkpoint {path}: {why_unreadable(e, path)}") from None


def read_weights(path: str | Path, fmt: str = "auto") -> Weights:
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r} is not a weights layout; allowed: {', '.join(FORMATS)}")
    obj = torch_load(path)
    if isinstance(obj, dict) and "config" in obj and "model" in obj and fmt in ("auto", "snnexp"):
        return Weights("snnexp", obj["model"], ckpt=obj)
    if fmt == "snnexp":
        raise CheckpointError(f"{path} is not an snnexp checkpoint (no 'config' and 'model' entries)")
    state, meta = _unwrap(obj, path)
    if fmt == "auto":
        fmt = recognise(state)
        if fmt is None and "model" in obj:  # snnexp's own names (a checkpoint without its config)
            return Weights("snnexp", state, ckpt=obj)
        if fmt is None:
            raise CheckpointError(
                f"{path}: its tensor names fit no known layout (first: {next(iter(state))!r}); "
                f"give format= one of {', '.join(FORMATS[1:])}"
            )
    return Weights(fmt, map_names(state, fmt, path), meta={**meta, **_family(state, fmt)})


def _unwrap(obj: Any, path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state dict (the file itself, or its ``'model'`` as ``train.py`` saves it) and the
    training facts saved beside it (epoch, the max test accuracy, the Namespace's model/T/g)."""
    meta: dict[str, Any] = {}
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        for k in ("epoch", "max_test_acc1", "test_acc5_at_max_test_acc1"):
            if isinstance(obj.get(k), int | float):
                meta[k] = obj[k]
        args = obj.get("args")
        if isinstance(args, argparse.Namespace):
            meta["args"] = {k: v for k, v in vars(args).items() if k in ("model", "T", "connect_f")}
        obj = obj["model"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} holds neither a state dict nor one under 'model'")
    return obj, meta


def recognise(state: dict[str, torch.Tensor]) -> str | None:
    """The layout whose signature name the state dict has, if any."""
    for name, layout in LAYOUTS.items():
        if any(re.match(layout["signature"], k) for k in state):
            return name
    return None


def map_names(state: dict[str, torch.Tensor], fmt: str, path) -> dict[str, torch.Tensor]:
    rules = [(re.compile(p), r) for p, r in LAYOUTS[fmt]["rules"]]
    out: dict[str, torch.Tensor] = {}
    for key, t in state.items():
        for pattern, repl in rules:
            if pattern.match(key):
                out[pattern.sub(repl, key)] = t
                break
        else:
            raise CheckpointError(f"{path}: tensor {key!r} does not map to snnexp in the {fmt} layout")
    return out


def _family(state: dict[str, torch.Tensor], fmt: str) -> dict[str, str]:
    for pattern, family in LAYOUTS[fmt]["family"].items():
        if any(re.search(pattern, k) for k in state):
            return {"family": family}
    return {}


def check_fits(w: Weights, cfg, path) -> None:
    """Refuse a config that would run these weights as another network: a model the layout has no
    place for, a block family (SEW / Spiking ResNet) or g other than the file says, neurons or
    norms other than the authors' (one line naming the key and what the file says)."""
    from omegaconf import OmegaConf

    name = OmegaConf.select(cfg, "model.name")
    if name not in MODELS:
        raise ConfigError(
            f"model={name}: {w.format} weights are ImageNet ResNets; give model= one of {', '.join(MODELS)}"
        )
    for key, want in EXPECTED_CONFIG.items():
        if OmegaConf.select(cfg, key) != want:
            raise ConfigError(f"{key}={OmegaConf.select(cfg, key)}: {path} was trained with {key}={want}")
    block = str(OmegaConf.select(cfg, "block.name"))
    family = w.meta.get("family")
    g = (w.meta.get("args") or {}).get("connect_f")
    want_block = f"sew_{str(g).lower()}" if g else ("spiking" if family == "spiking" else None)
    if family == "sew" and not g and not block.startswith("sew_"):
        want_block = "sew_add|sew_and|sew_iand"
    if want_block and not re.fullmatch(want_block, block):
        raise ConfigError(
            f"block={block}: {path} holds a {want_block} network (its downsample and args say so)"
        )
    # the last number of args.model: sew_resnet34, or the original code's names (origin_logs/readme.md:
    # spiking_resnet34 for SEW, mem_add_resnet2_34 for the Spiking ResNet)
    numbers = re.findall(r"\d+", str((w.meta.get("args") or {}).get("model", "")))
    depth = numbers[-1] if numbers else ""
    if depth and f"sew_resnet{depth}" != name:
        raise ConfigError(f"model={name}: {path} was trained as ResNet-{depth} (its args.model)")


def refuse_swapped_iand(model: nn.Module, w: Weights, path) -> None:
    """spikingjelly 2.0's Bottleneck computes IAND as A * (1 - S) where SEW Table 1 (and its own
    BasicBlock, and the authors' code) has (1 - A) * S: zoo weights of a bottleneck IAND net were
    trained for another function than the one snnexp runs."""
    if w.format != "spikingjelly":
        return
    for name, m in model.named_modules():
        if getattr(m, "connect", None) == "iand" and getattr(m, "form", None) == "bottleneck":
            raise CheckpointError(
                f"{path}: {name} is a bottleneck SEW IAND block; spikingjelly 2.0 computes its IAND "
                "as A*(1-S), not SEW Table 1's (1-A)*S, so these weights would run another network"
            )


def load_strict(model: nn.Module, w: Weights, path) -> None:
    """Every tensor of the model from the file and every tensor of the file into the model, with
    the same shape; the first that does not is named."""
    own = model.state_dict()
    for k, t in w.state.items():
        if k not in own:
            raise CheckpointError(
                f"{path}: the checkpoint's {k} has no place in this model ({w.format} layout)"
            )
        if own[k].shape != t.shape:
            shape = "x".join(map(str, t.shape))
            raise CheckpointError(
                f"{path}: {k} is {shape} in the checkpoint, {'x'.join(map(str, own[k].shape))} here"
            )
    missing = [k for k in own if k not in w.state]
    if missing:
        raise CheckpointError(
            f"{path}: this model's {missing[0]} is not in the checkpoint ({w.format} layout)"
        )
    model.load_state_dict(w.state)


__all__ = ["Weights", "check_fits", "load_strict", "map_names", "read_weights", "recognise", "torch_load"]
