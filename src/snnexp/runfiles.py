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
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

SUMMARY = "summary.csv"
METRICS = "metrics.json"
CONFIG = "config.yaml"
LOCK = ".lock"  # {pid, host} of the process training in the directory (engine/rundir.py)
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
    tmp = run_dir / f".{name}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", newline="") as f:
            write(f)
        os.replace(tmp, run_dir / name)
    except BaseException:  # disk full, or interrupted: the old file stays, no temporary one
        tmp.unlink(missing_ok=True)
        raise


def write_summary(run_dir: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """``summary.csv``: one row per epoch, in :data:`SUMMARY_COLUMNS` order."""

    def write(f):
        w = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
        w.writeheader()
        w.writerows(rows)

    _replace(Path(run_dir), SUMMARY, write)


def strict_json(obj: Any) -> Any:
    """``obj`` with every NaN/inf float as None: JSON has no NaN, and a strict reader (``jq``,
    JavaScript, Go) refuses Python's bare ``NaN``; "no value" is what an unevaluated epoch has."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict_json(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """Strict JSON text of ``obj`` (NaN/inf as null), indented, with a final newline."""
    return json.dumps(strict_json(obj), indent=2, allow_nan=False) + "\n"


def write_metrics(run_dir: str | Path, metrics: Mapping[str, Any]) -> None:
    """``metrics.json``: the run's status and final numbers (strict JSON: null, never NaN)."""
    _replace(Path(run_dir), METRICS, lambda f: f.write(dumps(dict(metrics))))


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


def lock_holder(run_dir: str | Path) -> dict | None:
    """The lock's {pid, host}; None without a lock; {} for a lock being written or garbage."""
    try:
        h = json.loads((Path(run_dir) / LOCK).read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):
        return {}
    return h if isinstance(h, dict) else {}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def holder_gone(h: dict) -> bool:
    """A lock holder that is certainly gone: a dead pid on this host (another host cannot be checked)."""
    if h.get("host") != socket.gethostname():
        return False
    pid = h.get("pid")
    return not isinstance(pid, int) or not pid_alive(pid)


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
    "LOCK",
    "RUN_FILES",
    "SUMMARY_COLUMNS",
    "dumps",
    "holder_gone",
    "is_run_dir",
    "last_modified",
    "lock_holder",
    "pid_alive",
    "read_config",
    "read_metrics",
    "read_overrides",
    "read_summary",
    "strict_json",
    "to_number",
    "write_metrics",
    "write_summary",
]
