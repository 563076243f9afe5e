"""The files of a run directory, written by the training engine and read by ``snnexp report``.

A run directory holds ``config.yaml`` (the resolved config; runs older than that file have only
``.hydra/config.yaml``), ``.hydra/overrides.yaml`` (the command line's overrides), ``summary.csv``
(one row per epoch, :data:`SUMMARY_COLUMNS`, accuracies in percent) and ``metrics.json`` (the run's
state and final numbers). Both sides go through this module so that the format lives in one place.

Writers replace a file atomically (temporary file, then ``os.replace``): a reader, or a run killed
mid-write, never sees half a file. Readers are forgiving: a missing, truncated or corrupt file
reads as empty, because a report over a tree of runs must not stop at one broken run.

Only json/csv/yaml here: ``snnexp report`` must not import torch.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

SUMMARY = "summary.csv"
METRICS = "metrics.json"
CONFIG = "config.yaml"
HYDRA_CONFIG = ".hydra/config.yaml"
OVERRIDES = ".hydra/overrides.yaml"
# any of these makes a directory a run directory (a run killed early may have only the config)
RUN_FILES = (METRICS, SUMMARY, CONFIG)

SUMMARY_COLUMNS = [
    "epoch",
    "lr",
    "train_loss",
    "train_acc1",
    "test_loss",
    "test_acc1",
    "test_acc5",
    "best_acc1",
    "epoch_time_s",
]


# ---------------------------------------------------------------------------------------- write
def _replace(run_dir: Path, name: str, write) -> None:
    """``write(file)`` into a hidden temporary file, then rename it over ``run_dir/name``."""
    tmp = run_dir / f".{name}.tmp"
    with open(tmp, "w", newline="") as f:
        write(f)
    os.replace(tmp, run_dir / name)


def write_summary(run_dir: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """``summary.csv``: one row per epoch, in :data:`SUMMARY_COLUMNS` order."""

    def write(f):
        w = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
        w.writeheader()
        w.writerows(rows)

    _replace(Path(run_dir), SUMMARY, write)


def write_metrics(run_dir: str | Path, metrics: Mapping[str, Any]) -> None:
    """``metrics.json``: the run's status and final numbers."""
    _replace(Path(run_dir), METRICS, lambda f: f.write(json.dumps(dict(metrics), indent=2) + "\n"))


# ----------------------------------------------------------------------------------------- read
def to_number(v: Any) -> float | None:
    """A float, or None for an empty, unparsable or NaN value (an epoch without evaluation)."""
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return None


def read_summary(run_dir: str | Path) -> list[dict[str, float | None]]:
    """The rows of ``summary.csv`` as numbers (None where empty or NaN); [] without the file."""
    p = Path(run_dir) / SUMMARY
    if not p.is_file():
        return []
    try:
        with open(p, newline="") as f:
            return [{k: to_number(v) for k, v in row.items() if k} for row in csv.DictReader(f)]
    except (OSError, csv.Error, UnicodeDecodeError):
        return []


def read_metrics(run_dir: str | Path) -> dict[str, Any]:
    """``metrics.json`` as a dict; {} when missing or not a JSON object."""
    p = Path(run_dir) / METRICS
    if not p.is_file():
        return {}
    try:
        m = json.loads(p.read_text())
    except (json.JSONDecodeError, OSError, UnicodeDecodeError):
        return {}
    return m if isinstance(m, dict) else {}


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """The resolved config (``config.yaml``, else ``.hydra/config.yaml``); {} when unreadable."""
    for name in (CONFIG, HYDRA_CONFIG):
        p = Path(run_dir) / name
        if p.is_file():
            c = _read_yaml(p)
            return c if isinstance(c, dict) else {}
    return {}


def read_overrides(run_dir: str | Path) -> list[str]:
    """The command line's overrides (``.hydra/overrides.yaml``); [] when missing or unreadable."""
    p = Path(run_dir) / OVERRIDES
    o = _read_yaml(p) if p.is_file() else None
    return [str(x) for x in o] if isinstance(o, list) else []


def read_yaml(path: str | Path) -> Any:
    """Any YAML file of a run or sweep (``multirun.yaml``); None when missing or unreadable."""
    p = Path(path)
    return _read_yaml(p) if p.is_file() else None


def is_run_dir(path: str | Path) -> bool:
    return any((Path(path) / f).is_file() for f in RUN_FILES)


def last_modified(run_dir: str | Path) -> float:
    """The newest modification time of the run's files (0.0 without any)."""
    times = [(Path(run_dir) / f).stat().st_mtime for f in RUN_FILES if (Path(run_dir) / f).exists()]
    return max(times, default=0.0)


__all__ = [
    "RUN_FILES",
    "SUMMARY_COLUMNS",
    "is_run_dir",
    "last_modified",
    "read_config",
    "read_metrics",
    "read_overrides",
    "read_summary",
    "to_number",
    "write_metrics",
    "write_summary",
]
