"""``init.from=<checkpoint>``: start a run from the weights of another run (pre-train, then fine-tune;
KEYS Tables 11-13: CIFAR-100 weights fine-tuned on CIFAR-10 or DVS-CIFAR10).

Every tensor of the new model (parameters and buffers: BN/BNTT statistics too) whose name and shape
match the checkpoint's is loaded. The others keep the fresh initialisation the model was just built
with, i.e. they are re-initialised:
- ``init.skip``: name prefixes never loaded (the KEYS authors reload everything but the stem conv and
  the fc, even where the shapes agree: ``skip: [stem.conv1, readout.fc]``);
- ``init.reinit=auto``: a tensor whose shape differs (the stem of 2 DVS polarities against 3 colours,
  the fc of 10 against 100 classes); ``reinit=strict`` makes any difference an error, a checkpoint
  tensor this model has no place for included (but for the names the training method sets itself,
  ``Method.init_fresh``: DSR's thresholds calibrated from an ANN).
Nothing is frozen; the optimizer, scheduler and epoch counter start afresh (only weights are read).
Used by the engine when a run starts, never on resume (the run's own checkpoint has it all).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from snnexp.engine.checkpoint import load_checkpoint
from snnexp.errors import CheckpointError, ConfigError

REINIT = ("auto", "strict")


def _shape(t: torch.Tensor) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def plan_init(
    own: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor], skip: Sequence[str]
) -> dict[str, list[str]]:
    """Sort the model's tensor names into loaded / skipped / reshaped (shape differs) / missing
    (not in the checkpoint), and the checkpoint's leftovers into unused."""
    out: dict[str, list[str]] = {"loaded": [], "skipped": [], "reshaped": [], "missing": [], "unused": []}
    for name, t in own.items():
        if any(name == p or name.startswith(p + ".") for p in skip):
            out["skipped"].append(name)
        elif name not in theirs:
            out["missing"].append(name)
        elif theirs[name].shape != t.shape:
            out["reshaped"].append(f"{name} ({_shape(t)}; checkpoint {_shape(theirs[name])})")
        else:
            out["loaded"].append(name)
    out["unused"] = [n for n in theirs if n not in own]
    return out


def init_from(
    model: nn.Module,
    path: str | Path,
    *,
    reinit: str,
    skip: Sequence[str],
    fresh: Sequence[str] = (),
    echo: bool = True,
    fmt: str = "auto",
) -> dict[str, Any]:
    """Load the matching weights of checkpoint ``path`` into ``model``; print and return what was
    loaded, skipped and re-initialised. ``fresh``: name suffixes the checkpoint may lack even with
    ``reinit=strict`` (the training method sets them: DSR's calibrated thresholds)."""
    if reinit not in REINIT:
        raise ConfigError(f"init.reinit={reinit!r} is not allowed; allowed: {', '.join(REINIT)}")
    skip = [str(s) for s in skip or []]
    theirs = _their_weights(model, path, fmt)
    own = model.state_dict()
    plan = plan_init(own, theirs, skip)
    unknown = [p for p in skip if not any(n == p or n.startswith(p + ".") for n in own)]
    if unknown:
        raise ConfigError(f"init.skip: the model has no tensor under {unknown[0]!r}")
    if not plan["loaded"]:
        raise CheckpointError(f"init.from={path}: no tensor of the checkpoint fits this model")
    missing = [n for n in plan["missing"] if not n.endswith(tuple(fresh))] if fresh else plan["missing"]
    if reinit == "strict" and (plan["reshaped"] or missing):
        bad = (plan["reshaped"] + missing)[0]
        raise CheckpointError(
            f"init.from={path}: {bad} does not match the checkpoint (init.reinit=auto re-initialises it)"
        )
    if reinit == "strict" and plan["unused"]:  # e.g. a deeper network's checkpoint
        raise CheckpointError(
            f"init.from={path}: the checkpoint's {plan['unused'][0]} has no place in this model "
            "(init.reinit=auto leaves it out)"
        )
    with torch.no_grad():
        for name in plan["loaded"]:
            own[name].copy_(theirs[name])
    report = {"from": str(path), "reinit": reinit, **plan}
    if echo:
        print(format_report(report), file=sys.stderr)
    return report


def _their_weights(model: nn.Module, path, fmt: str) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors in snnexp's names: an snnexp checkpoint's as they are, other code's
    (the SEW authors' released weights, spikingjelly 2.0's zoo; ``init.format``) mapped."""
    from snnexp.engine.foreign import read_weights, refuse_swapped_iand

    if fmt == "snnexp":
        return load_checkpoint(path)["model"]
    weights = read_weights(path, fmt)
    refuse_swapped_iand(model, weights, path)
    return weights.state


def format_report(r: dict[str, Any]) -> str:
    lines = [f"snnexp: init.from={r['from']}: loaded {len(r['loaded'])} tensors"]
    for key, what in (
        ("skipped", "skipped (init.skip), re-initialised"),
        ("reshaped", "shape differs, re-initialised"),
        ("missing", "not in the checkpoint, re-initialised"),
        ("unused", "in the checkpoint, not in this model"),
    ):
        if r[key]:
            lines.append(f"  {what}: {', '.join(r[key])}")
    return "\n".join(lines)


__all__ = ["init_from", "plan_init", "format_report"]
