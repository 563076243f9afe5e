"""Placing runs in the cells of a paper table (``snnexp.papers``).

A table names the experiments its runs come from; each of its rows and columns may carry a
``match`` (dotted config keys and values). A run fills the cell whose row and column both match its
resolved config. For every cell we keep the paper's number, our best test accuracy over the epochs
run ("max", which is what the SEW and DSR authors report) and our test accuracy after the last epoch
run ("last"); missing and unfinished runs are marked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnexp.errors import UserError, choices_hint
from snnexp.papers import available, load_paper, normalize_table_id
from snnexp.report.runs import RunRecord, find_runs


# ------------------------------------------------------------------------------------ one cell
def _matches(run: RunRecord, match: dict[str, Any]) -> bool:
    """Every key of ``match`` has its value in the run's config (a list: any of its values)."""
    return all(str(run.get(k)) in map(str, v if isinstance(v, list) else [v]) for k, v in match.items())


def _pick(runs: list[RunRecord]) -> RunRecord | None:
    """Several runs for one cell (a re-run, a second seed): the finished one with most epochs,
    then the newest."""
    if not runs:
        return None
    return max(runs, key=lambda r: (r.finished, r.epochs_done, r.mtime))


def run_status(run: RunRecord | None) -> str:
    if run is None:
        return "missing"
    planned = run.epochs_planned
    done = f"{run.epochs_done}/{planned}" if planned else f"{run.epochs_done}"
    return f"{run.status} {done} ep" if run.status != "finished" else f"finished {done} ep"


def _fixed_keys(table: dict[str, Any]) -> set[str]:
    """The keys the table's rows and columns match on (and their groups): overrides of these are
    the table's axes, not deviations from the paper's setting."""
    fixed = {"experiment"}
    for item in [*table["rows"], *table["columns"]]:
        for k in item.get("match") or {}:
            fixed.add(k[: -len(".name")] if k.endswith(".name") else k)
            fixed.add(k)
    return fixed


def _ours(run: RunRecord | None, metric: str) -> dict[str, Any]:
    best, best_epoch = run.best(metric) if run else (None, None)
    return {"ours_max": best, "ours_max_epoch": best_epoch, "ours_last": run.last(metric) if run else None}


def _over_seeds(hits: list[RunRecord], metric: str) -> dict[str, Any]:
    """Mean and sample std over seeds of the max-over-epochs accuracy (one run per seed), for the
    tables whose paper numbers are means over several runs (``runs`` in the paper file). Only runs
    whose configs differ in the seed alone are averaged: the largest such group of the cell; the
    others are counted in ``ours_excluded`` (and named in the table's notes)."""
    from snnexp.report.sweep import _identity

    groups: dict[tuple, list[RunRecord]] = {}
    for r in hits:
        groups.setdefault(tuple(sorted(_identity(r).items())), []).append(r)
    pooled = max(groups.values(), key=lambda g: (len({r.get("seed") for r in g}), len(g)), default=[])
    by_seed: dict[Any, list[RunRecord]] = {}
    for r in pooled:
        by_seed.setdefault(r.get("seed"), []).append(r)
    best = [b for b in (_pick(rs).best(metric)[0] for rs in by_seed.values()) if b is not None]
    excluded = len(hits) - len(pooled)
    if not best:
        return {"ours_mean": None, "ours_std": None, "ours_seeds": 0, "ours_excluded": excluded}
    mean = sum(best) / len(best)
    std = (sum((b - mean) ** 2 for b in best) / (len(best) - 1)) ** 0.5 if len(best) > 1 else None
    return {
        "ours_mean": mean,
        "ours_std": std,
        "ours_seeds": len(best),
        "ours_values": best,
        "ours_excluded": excluded,
    }


def _column(
    table: dict[str, Any], row: dict[str, Any], col: dict[str, Any], hits: list[RunRecord]
) -> dict[str, Any]:
    """One cell of a row: the chosen run's status and, per metric, the paper's number and ours
    (and, where the paper reports a mean of several runs, ours as mean and std over seeds)."""
    run = _pick(hits)
    values = (table.get("values", {}).get(row["id"]) or {}).get(col["id"]) or {}
    stds = (table.get("std", {}).get(row["id"]) or {}).get(col["id"]) or {}
    seeds = table.get("runs", 1) > 1
    return {
        "status": run_status(run) if row.get("match") is not None else None,
        "run_dir": str(run.path) if run else None,
        "n_runs": len(hits),
        "metrics": {
            m: {
                "paper": values.get(m),
                "paper_std": stds.get(m),
                **_ours(run, m),
                **(_over_seeds(hits, m) if seeds else {}),
            }
            for m in table["metrics"]
        },
    }


def _flat_cells(
    table: dict[str, Any],
    row: dict[str, Any],
    col: dict[str, Any],
    cell: dict[str, Any],
    run: RunRecord | None,
) -> list[dict[str, Any]]:
    """The cell as CSV records, one per metric (the fields of ``render.CSV_FIELDS``, in order)."""
    return [
        {
            "table": table["id"],
            "row": row["id"],
            "row_label": row["label"],
            "column": col["id"],
            "column_label": col["label"],
            "metric": metric,
            "paper": v["paper"],
            "paper_std": v["paper_std"],
            "paper_reported": table["reported"],
            "ours_max": v["ours_max"],
            "ours_max_epoch": v["ours_max_epoch"],
            "ours_last": v["ours_last"],
            "ours_mean": v.get("ours_mean"),
            "ours_std": v.get("ours_std"),
            "ours_seeds": v.get("ours_seeds"),
            "epochs_done": run.epochs_done if run else None,
            "epochs_planned": run.epochs_planned if run else None,
            "status": cell["status"] or "paper only",
            "n_runs": cell["n_runs"],
            "params_paper": table["params"].get(row["id"]),
            "params_ours": run.params if run else None,
            "run_dir": cell["run_dir"],
        }
        for metric, v in cell["metrics"].items()
    ]


# -------------------------------------------------------------------------------------- one row
def _row(
    table: dict[str, Any], row: dict[str, Any], cands: list[RunRecord]
) -> tuple[dict[str, Any], list[dict[str, Any]], list[RunRecord]]:
    """(the row, its CSV records, the runs placed in it). A row without ``match`` is the paper's
    alone (another method it compares with): no run goes there."""
    rmatch = row.get("match")
    out = {
        "id": row["id"],
        "label": row["label"],
        "info": {k: row.get(k) for k in table["info"]},
        "ours": rmatch is not None,
        "columns": {},
    }
    cells, placed = [], []
    ours_in = row.get("columns") or [c["id"] for c in table["columns"]]  # a row may fill fewer columns
    for col in table["columns"]:
        hits = []
        if rmatch is not None and col["id"] in ours_in:
            hits = [r for r in cands if _matches(r, {**(col.get("match") or {}), **rmatch})]
        run = _pick(hits)
        if run is not None:
            placed += hits if table.get("runs", 1) > 1 else [run]
        cell = _column(table, row, col, hits)
        if rmatch is not None and col["id"] not in ours_in:
            cell["status"] = "—"  # neither the paper nor we have this cell (DSR Table 2's ANN under LIF)
        out["columns"][col["id"]] = cell
        cells += _flat_cells(table, row, col, cell, run)
    out["params_paper"] = table["params"].get(row["id"])
    out["params_ours"] = next((r.params for r in placed if r.params is not None), None)
    return out, cells, placed


# ------------------------------------------------------------------------------------ one table
def _notes(
    table: dict[str, Any], placed: list[RunRecord], cands: list[RunRecord], rows: list[dict[str, Any]] = ()
) -> list[str]:
    notes = list(table["notes"])
    split = [
        f"{r['label']} / {cid}"
        for r in rows
        for cid, cell in r["columns"].items()
        if any(v.get("ours_excluded") for v in cell["metrics"].values())
    ]
    if split:
        notes.append(
            "runs whose configs differ in more than the seed are not averaged; left out of: "
            + ", ".join(split)
        )
    fixed = _fixed_keys(table)
    extra = {o for run in placed for o in run.extra_overrides(fixed)}
    if extra:
        notes.append(
            "runs were made with extra overrides (not the paper's setting): " + ", ".join(sorted(extra))
        )
    used = {r.path for r in placed}
    unused = [r for r in cands if r.path not in used]
    if unused and all(r.get("match") is not None for r in table["rows"]):  # not for comparison tables
        exps = ", ".join(sorted(set(table["experiments"])))
        notes.append(f"{len(unused)} run(s) of {exps} fit no cell of this table")
    return notes


def build_table(table: dict[str, Any], runs: list[RunRecord], paper: str = "SEW") -> dict[str, Any]:
    """Place ``runs`` in the cells of a paper ``table`` (a dict from ``snnexp.papers``).

    Returns ``{"id", "paper", "caption", ..., "cells": [...], "rows": [...], "notes": [...]}`` where
    each cell has the paper's value, ours (max over epochs and last), the run's status and path.
    """
    exps = set(table["experiments"])
    cands = [r for r in runs if r.experiment_name in exps]
    rows, cells, placed = [], [], []
    for row in table["rows"]:
        r, c, p = _row(table, row, cands)
        rows.append(r)
        cells += c
        placed += p
    return {
        "paper": paper,
        "id": table["id"],
        "caption": table["caption"],
        "source": table.get("source"),
        "reported": table["reported"],
        "metrics": list(table["metrics"]),
        "info": list(table["info"]),
        "info_labels": dict(table.get("info_labels") or {}),
        "row_header": table.get("row_header", "Network"),
        "columns": [{"id": c["id"], "label": c["label"]} for c in table["columns"]],
        "has_params": bool(table["params"]),
        "runs": int(table.get("runs", 1)),
        "rows": rows,
        "cells": cells,
        "notes": _notes(table, placed, cands, rows),
        "n_runs": len({r.path for r in placed}),
    }


# ------------------------------------------------------------------------------------- selection
def tables_for_runs(runs: list[RunRecord], paper: str | None = None) -> list[tuple[str, str]]:
    """(paper, table id) of every stored table that some run fills, in the papers' order."""
    out = []
    papers = [paper.lower()] if paper else available()
    names = {r.experiment_name for r in runs}
    for p in papers:
        for tid, t in load_paper(p)["tables"].items():
            if names & set(t["experiments"]):
                out.append((p, tid))
    return out


def _named_table(runs: list[RunRecord], table: str, paper: str | None) -> tuple[str, str]:
    """(paper, table id) for ``--table``; the paper defaults to the runs' own (if one), else SEW."""
    tid = normalize_table_id(table)
    if paper is None:
        run_papers = sorted({r.paper.lower() for r in runs if r.paper and r.paper.lower() in available()})
        paper = run_papers[0] if len(run_papers) == 1 else "sew"
    tables = load_paper(paper)["tables"]
    if tid not in tables:
        raise UserError(f"{paper.upper()} has no table {table!r}; {choices_hint(tid, tables)}")
    return paper.lower(), tid


def make_tables(
    paths: list[str | Path], table: str = "auto", paper: str | None = None
) -> list[dict[str, Any]]:
    """Find the runs under ``paths`` and build the tables they fill (``table='auto'``) or the one
    asked for. Raises UserError for a missing directory or one without runs."""
    runs = find_runs(paths)
    where = ", ".join(map(str, paths))
    if not runs:
        raise UserError(f"no runs in {where} (a run directory has metrics.json, summary.csv or config.yaml)")
    if str(table).lower() == "auto":
        chosen = tables_for_runs(runs, paper)
        if not chosen:
            names = sorted({str(r.experiment_name) for r in runs})
            raise UserError(
                f"{len(runs)} run(s) in {where} but none of a paper experiment "
                f"(experiment_name: {', '.join(names)}); pick one with --table"
            )
    else:
        chosen = [_named_table(runs, table, paper)]
    out = []
    for p, tid in chosen:
        data = load_paper(p)
        out.append(build_table(data["tables"][tid], runs, paper=data.get("paper", p.upper())))
    return out


__all__ = ["build_table", "make_tables", "run_status", "tables_for_runs"]
