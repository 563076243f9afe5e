"""What a W&B run is called and tagged with, from its config alone (pure functions, no wandb).

Name: the experiment (or ``model/data``) and what the run changes: the sweep job's label in a
sweep (``block=sew_iand,seed=1``), else the command line's overrides that change what is measured.
Tags: ``paper:``, ``experiment:``, ``method:``, ``model:``, ``neuron:``, ``block:`` and the user's
``logger.tags``; W&B filters and groups runs by them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# overrides that say nothing about what a run is (where it runs, how it logs)
_QUIET = (
    "hydra",
    "logger",
    "launcher",
    "resume",
    "device",
    "data.root",
    "paths",
    "threads",
    "plots",
    "trainer.progress",
    "trainer.num_workers",
    "experiment",
)
NAME_MAX = 128  # W&B shows about this much
TAG_MAX = 64  # W&B's limit per tag


def _name_of(cfg: Mapping[str, Any], group: str) -> str | None:
    node = cfg.get(group)
    return str(node.get("name")) if isinstance(node, Mapping) and node.get("name") else None


def run_name(cfg: Mapping[str, Any], overrides: list[str] = (), sweep_label: str | None = None) -> str:
    base = (
        cfg.get("experiment_name") or f"{_name_of(cfg, 'model') or 'model'}/{_name_of(cfg, 'data') or 'data'}"
    )
    if sweep_label:
        changes = [sweep_label]
    else:
        changes = [
            o.lstrip("+~")
            for o in overrides
            if not any(
                o.lstrip("+~").split("=")[0] == q or o.lstrip("+~").startswith(q + ".") for q in _QUIET
            )
        ]
    name = " ".join([str(base), ",".join(changes)]).strip()
    return name if len(name) <= NAME_MAX else name[: NAME_MAX - 1] + "…"


def run_tags(cfg: Mapping[str, Any], extra: list[str] = ()) -> list[str]:
    tags = []
    if cfg.get("paper"):
        tags.append(f"paper:{cfg['paper']}")
    if cfg.get("experiment_name"):
        tags.append(f"experiment:{cfg['experiment_name']}")
    for group in ("method", "model", "neuron", "block"):
        if _name_of(cfg, group):
            tags.append(f"{group}:{_name_of(cfg, group)}")
    tags += [str(t) for t in extra]
    return list(dict.fromkeys(t[:TAG_MAX] for t in tags))


__all__ = ["run_name", "run_tags"]
