"""The authors' training curve of the experiment a run reproduces, where one exists: the tables
shipped in ``snnexp/papers/curves/`` (index.yaml says which run of the SEW authors' origin_logs
each comes from), or, with ``SNNEXP_ORIGIN_LOGS=<a local copy of origin_logs/>``, read from the
TensorBoard files there. No torch (``snnexp report`` and the engine both use it).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CURVES = Path(__file__).resolve().parents[1] / "papers" / "curves"
ENV = "SNNEXP_ORIGIN_LOGS"


@lru_cache(maxsize=1)
def index() -> list[dict[str, str]]:
    return yaml.safe_load((CURVES / "index.yaml").read_text())["curves"]


def _get(config: Mapping[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def entry_for(config: Mapping[str, Any]) -> dict[str, str] | None:
    """The index entry whose experiment, model and block are the run's (None: no authors' curve)."""
    key = (_get(config, "experiment_name"), _get(config, "model.name"), _get(config, "block.name"))
    return next((e for e in index() if (e["experiment"], e["model"], e["block"]) == key), None)


def authors_curve(config: Mapping[str, Any]) -> tuple[list[dict[str, float]], dict[str, str]] | None:
    """(per-epoch rows with 1-based ``epoch`` like snnexp's summary, the index entry) or None."""
    entry = entry_for(config)
    if entry is None:
        return None
    local = os.environ.get(ENV)
    if local:
        from snnexp.tfevents import read_run

        rows = read_run(Path(local) / entry["run_dir"])
    else:
        with open(CURVES / entry["file"], newline="") as f:
            rows = [{k: float(v) for k, v in r.items() if v != ""} for r in csv.DictReader(f)]
    for r in rows:  # their train.py logs epoch 0 for the first epoch; snnexp counts from 1
        r["epoch"] = int(r["epoch"]) + 1
    return rows, entry


__all__ = ["ENV", "authors_curve", "entry_for", "index"]


def track_rows(runs) -> list[dict[str, Any]]:
    """For each run (report/runs.RunRecord) with epochs and an authors' curve: its last epoch's test
    acc@1 and loss beside the authors' at the same epoch."""
    out = []
    for run in runs:
        found = authors_curve(run.config) if run.summary else None
        last = run.summary[-1] if run.summary else {}
        if found is None or last.get("epoch") is None:
            continue
        epoch = int(last["epoch"])
        theirs = next((r for r in found[0] if r["epoch"] == epoch), {})
        out.append(
            {
                "run": str(run.path),
                "epoch": epoch,
                "test_acc1": last.get("test_acc1"),
                "authors_test_acc1": theirs.get("test_acc1"),
                "test_loss": last.get("test_loss"),
                "authors_test_loss": theirs.get("test_loss"),
                "authors_run": found[1]["run_dir"],
            }
        )
    return out


def render_track(rows: list[dict[str, Any]]) -> str:
    """Markdown: each run against the authors' curve at its last epoch."""

    def f(v: Any, digits: int) -> str:
        return "—" if v is None else f"{v:.{digits}f}"

    lines = [
        "## On the authors' track (SEW origin_logs, same epoch)",
        "",
        "| run | epoch | test acc@1 | authors' | test loss | authors' | authors' run |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | {r['epoch']} | {f(r['test_acc1'], 2)} | {f(r['authors_test_acc1'], 2)} | "
            f"{f(r['test_loss'], 4)} | {f(r['authors_test_loss'], 4)} | {r['authors_run']} |"
        )
    return "\n".join(lines) + "\n"
