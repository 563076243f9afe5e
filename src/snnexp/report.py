"""Paper tables from run directories: our accuracies beside the paper's numbers.

A run directory (written by the training engine) holds ``config.yaml`` (the resolved config),
``.hydra/overrides.yaml``, ``summary.csv`` (one row per epoch: ``epoch, lr, train_loss, train_acc1,
test_loss, test_acc1, test_acc5, best_acc1, epoch_time_s``, accuracies in percent) and
``metrics.json`` (``last_acc1, last_acc5, best_acc1, best_epoch, epochs_done, params,
experiment_name, status``). A multirun sweep directory holds one numbered run directory per job.

:func:`find_runs` collects the runs under some directories, :func:`build_table` places them in the
cells of a paper table (``snnexp.papers``) by matching their resolved configs, and
:func:`render_markdown` / :func:`render_csv` print it. For every cell we show the paper's number,
our best test accuracy over the epochs run ("max", which is what the SEW and DSR authors report)
and our test accuracy after the last epoch run ("last"); missing and unfinished runs are marked.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from snnexp.errors import UserError
from snnexp.papers import available, load_paper, normalize_table_id

RUN_FILES = ("metrics.json", "summary.csv", "config.yaml")
METRIC_LABEL = {"acc1": "Acc@1", "acc5": "Acc@5"}
# overrides that do not change what a run measures (not worth a note under the table)
HARMLESS = (
    "hydra",
    "logger",
    "launcher",
    "data.root",
    "trainer.num_workers",
    "trainer.progress",
    "device",
    "resume",
    "trainer.eval_batch_size",
    "trainer.ckpt_every_steps",
    "experiment",
)
LEGEND = (
    "Accuracies in %. paper: the paper's number ({reported}). "
    "ours max: our best test accuracy over the epochs run (max over epochs, as the paper); "
    "ours last: our test accuracy after the last epoch run."
)


# ------------------------------------------------------------------------------------------ runs
def _num(v: Any) -> float | None:
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


@dataclass
class Run:
    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    summary: list[dict[str, float | None]] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> Run:
        path = Path(path)
        run = cls(path)
        for name in ("config.yaml", ".hydra/config.yaml"):
            p = path / name
            if p.is_file():
                try:
                    run.config = yaml.safe_load(p.read_text()) or {}
                except yaml.YAMLError:
                    run.config = {}
                break
        p = path / ".hydra" / "overrides.yaml"
        if p.is_file():
            try:
                run.overrides = [str(o) for o in (yaml.safe_load(p.read_text()) or [])]
            except yaml.YAMLError:
                run.overrides = []
        p = path / "metrics.json"
        if p.is_file():
            try:
                run.metrics = json.loads(p.read_text()) or {}
            except (json.JSONDecodeError, OSError):
                run.metrics = {}
        p = path / "summary.csv"
        if p.is_file():
            with open(p, newline="") as f:
                run.summary = [{k: _num(v) for k, v in row.items() if k} for row in csv.DictReader(f)]
        return run

    # ---- identity
    def get(self, key: str) -> Any:
        """A dotted key of the resolved config (``experiment_name`` also from metrics/overrides)."""
        if key == "experiment_name":
            return self.experiment_name
        node: Any = self.config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return self._from_overrides(key)
            node = node[part]
        return node

    def _from_overrides(self, key: str) -> Any:
        group = key[: -len(".name")] if key.endswith(".name") else None
        for o in self.overrides:
            k, _, v = o.lstrip("+~").partition("=")
            if k == key or (group is not None and k == group):
                return v
        return None

    @property
    def experiment_name(self) -> str | None:
        name = self.config.get("experiment_name") or self.metrics.get("experiment_name")
        if not name:
            for o in self.overrides:
                k, _, v = o.lstrip("+").partition("=")
                if k == "experiment":
                    return v
        return name or None

    @property
    def paper(self) -> str | None:
        p = self.config.get("paper")
        return str(p) if p else None

    # ---- progress
    @property
    def epochs_done(self) -> int:
        if self.metrics.get("epochs_done") is not None:
            return int(self.metrics["epochs_done"])
        if self.summary:
            e = self.summary[-1].get("epoch")
            # summary epochs may count from 0 or 1: the number of rows is what ran
            return max(len(self.summary), int(e) if e is not None else 0)
        return 0

    @property
    def epochs_planned(self) -> int | None:
        e = (self.config.get("trainer") or {}).get("epochs", self.metrics.get("epochs"))
        return int(e) if isinstance(e, int | float) else None

    @property
    def status(self) -> str:
        s = self.metrics.get("status")
        if s:
            return str(s)
        return "running" if self.summary else "started"

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def params(self) -> int | None:
        p = self.metrics.get("params")
        return int(p) if isinstance(p, int | float) else None

    # ---- accuracies
    def _column(self, metric: str) -> list[tuple[int, float]]:
        out = []
        for i, row in enumerate(self.summary):
            v = row.get(f"test_{metric}")
            if v is not None:
                e = row.get("epoch")
                out.append((int(e) if e is not None else i, v))
        return out

    def best(self, metric: str) -> tuple[float | None, int | None]:
        """(max over epochs of the test ``metric``, the epoch it was reached)."""
        col = self._column(metric)
        if col:
            e, v = max(col, key=lambda ev: ev[1])
            return v, e
        v = _num(self.metrics.get(f"best_{metric}"))
        return v, (self.metrics.get("best_epoch") if metric == "acc1" and v is not None else None)

    def last(self, metric: str) -> float | None:
        """Test ``metric`` after the last epoch that was evaluated."""
        col = self._column(metric)
        if col:
            return col[-1][1]
        return _num(self.metrics.get(f"last_{metric}"))

    def extra_overrides(self, fixed_groups: set[str]) -> list[str]:
        """Overrides beyond the table's own axes (e.g. ``trainer.epochs=2``): worth a note."""
        out = []
        for o in self.overrides:
            k = o.lstrip("+~").partition("=")[0]
            if k in fixed_groups or any(k == h or k.startswith(h + ".") for h in HARMLESS):
                continue
            out.append(o)
        return out


def _is_run_dir(p: Path) -> bool:
    return any((p / f).is_file() for f in RUN_FILES)


def find_runs(paths: list[str | Path]) -> list[Run]:
    """Every run directory at or under ``paths`` (a run dir, a sweep dir, or a tree of them)."""
    runs: list[Run] = []
    seen: set[Path] = set()
    for root in map(Path, paths):
        if not root.exists():
            raise UserError(f"no such directory: {root}")
        if not root.is_dir():
            raise UserError(f"not a directory: {root} (give a run or sweep directory)")
        stack = [root]
        while stack:
            d = stack.pop()
            rd = d.resolve()
            if rd in seen:
                continue
            seen.add(rd)
            if _is_run_dir(d):
                runs.append(Run.load(d))
                continue  # a run's subdirectories (checkpoints, .hydra, wandb) are not runs
            try:
                children = sorted(c for c in d.iterdir() if c.is_dir() and not c.name.startswith("."))
            except OSError:
                continue
            stack.extend(reversed(children))
    return runs


# ---------------------------------------------------------------------------------------- tables
def _matches(run: Run, match: dict[str, Any]) -> bool:
    return all(str(run.get(k)) == str(v) for k, v in match.items())


def _pick(runs: list[Run]) -> Run | None:
    """Several runs for one cell (a re-run, a second seed): the finished one with most epochs,
    then the newest."""
    if not runs:
        return None

    def key(r: Run):
        try:
            mtime = max((r.path / f).stat().st_mtime for f in RUN_FILES if (r.path / f).exists())
        except ValueError:
            mtime = 0.0
        return (r.finished, r.epochs_done, mtime)

    return max(runs, key=key)


def _fmt(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _fmt_params(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n / 1e6:.2f}M"


def run_status(run: Run | None) -> str:
    if run is None:
        return "missing"
    planned = run.epochs_planned
    done = f"{run.epochs_done}/{planned}" if planned else f"{run.epochs_done}"
    return f"{run.status} {done} ep" if run.status != "finished" else f"finished {done} ep"


def build_table(table: dict[str, Any], runs: list[Run], paper: str = "SEW") -> dict[str, Any]:
    """Place ``runs`` in the cells of a paper ``table`` (a dict from ``snnexp.papers``).

    Returns ``{"id", "paper", "caption", ..., "cells": [...], "rows": [...], "notes": [...]}`` where
    each cell has the paper's value, ours (max over epochs and last), the run's status and path.
    """
    exps = set(table["experiments"])
    cands = [r for r in runs if r.experiment_name in exps]
    fixed = {"experiment"}
    for item in [*table["rows"], *table["columns"]]:
        for k in item.get("match") or {}:
            fixed.add(k[: -len(".name")] if k.endswith(".name") else k)
            fixed.add(k)
    cells, rows_out, used, extra = [], [], set(), set()
    for row in table["rows"]:
        rmatch = row.get("match")
        row_runs: list[Run] = []
        row_out = {
            "id": row["id"],
            "label": row["label"],
            "info": {k: row.get(k) for k in table["info"]},
            "ours": rmatch is not None,
            "columns": {},
        }
        for col in table["columns"]:
            run, n = None, 0
            if rmatch is not None:
                m = {**(col.get("match") or {}), **rmatch}
                hits = [r for r in cands if _matches(r, m)]
                n, run = len(hits), _pick(hits)
                if run is not None:
                    row_runs.append(run)
                    used.add(run.path)
                    extra.update(run.extra_overrides(fixed))
            col_out = {
                "status": run_status(run) if rmatch is not None else None,
                "run_dir": str(run.path) if run else None,
                "n_runs": n,
                "metrics": {},
            }
            for metric in table["metrics"]:
                pv = ((table.get("values", {}).get(row["id"]) or {}).get(col["id"]) or {}).get(metric)
                best, best_epoch = run.best(metric) if run else (None, None)
                last = run.last(metric) if run else None
                col_out["metrics"][metric] = {
                    "paper": pv,
                    "ours_max": best,
                    "ours_max_epoch": best_epoch,
                    "ours_last": last,
                }
                cells.append(
                    {
                        "table": table["id"],
                        "row": row["id"],
                        "row_label": row["label"],
                        "column": col["id"],
                        "column_label": col["label"],
                        "metric": metric,
                        "paper": pv,
                        "paper_reported": table["reported"],
                        "ours_max": best,
                        "ours_max_epoch": best_epoch,
                        "ours_last": last,
                        "epochs_done": run.epochs_done if run else None,
                        "epochs_planned": run.epochs_planned if run else None,
                        "status": col_out["status"] or "paper only",
                        "n_runs": n,
                        "params_paper": table["params"].get(row["id"]),
                        "params_ours": run.params if run else None,
                        "run_dir": str(run.path) if run else None,
                    }
                )
            row_out["columns"][col["id"]] = col_out
        row_out["params_paper"] = table["params"].get(row["id"])
        row_out["params_ours"] = next((r.params for r in row_runs if r.params is not None), None)
        rows_out.append(row_out)
    notes = list(table["notes"])
    if extra:
        notes.append(
            "runs were made with extra overrides (not the paper's setting): " + ", ".join(sorted(extra))
        )
    unused = [r for r in cands if r.path not in used]
    if unused and all(r.get("match") is not None for r in table["rows"]):  # not for comparison tables
        notes.append(f"{len(unused)} run(s) of {', '.join(sorted(exps))} fit no cell of this table")
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
        "rows": rows_out,
        "cells": cells,
        "notes": notes,
        "n_runs": len(used),
    }


def _reported_words(reported: str) -> str:
    return {"max": "max test accuracy over epochs", "last": "test accuracy after the last epoch"}.get(
        reported, str(reported)
    )


def render_markdown(t: dict[str, Any]) -> str:
    cols, metrics = t["columns"], t["metrics"]
    single = len(cols) == 1
    header = [t["row_header"]] + [t["info_labels"].get(i, str(i)) for i in t["info"]]
    for c in cols:
        for m in metrics:
            name = METRIC_LABEL.get(m, m) if single else f"{c['label']} {METRIC_LABEL.get(m, m)}"
            header += [f"{name} paper", "ours max", "ours last"]
    header += ["run" if single else f"{c['label']} run" for c in cols]
    if t["has_params"]:
        header += ["Params paper", "Params ours"]
    lines = [f"## {t['paper']} Table {t['id']}: {t['caption']}", ""]
    if t.get("source"):
        lines += [f"Source: {t['source']}.", ""]
    lines += [LEGEND.format(reported=_reported_words(t["reported"])), ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---"] * (len(header) - 1)) + "|")
    for r in t["rows"]:
        cells = [r["label"].replace("|", "\\|")] + [
            "—" if r["info"].get(i) is None else str(r["info"][i]) for i in t["info"]
        ]
        for c in cols:
            co = r["columns"][c["id"]]
            for m in metrics:
                v = co["metrics"][m]
                ours = r["ours"]
                cells += [
                    _fmt(v["paper"]),
                    _fmt(v["ours_max"]) if ours else "",
                    _fmt(v["ours_last"]) if ours else "",
                ]
        cells += [r["columns"][c["id"]]["status"] or "paper only" for c in cols]
        if t["has_params"]:
            cells += [str(r["params_paper"] or "—"), _fmt_params(r["params_ours"]) if r["ours"] else ""]
        lines.append("| " + " | ".join(cells) + " |")
    if t["notes"]:
        lines.append("")
        lines += [f"- {n}" for n in t["notes"]]
    return "\n".join(lines) + "\n"


CSV_FIELDS = [
    "table",
    "row",
    "row_label",
    "column",
    "column_label",
    "metric",
    "paper",
    "paper_reported",
    "ours_max",
    "ours_max_epoch",
    "ours_last",
    "epochs_done",
    "epochs_planned",
    "status",
    "n_runs",
    "params_paper",
    "params_ours",
    "run_dir",
]


def render_csv(t: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for c in t["cells"]:
        w.writerow({k: ("" if c.get(k) is None else c[k]) for k in CSV_FIELDS})
    return buf.getvalue()


# ------------------------------------------------------------------------------------- selection
def tables_for_runs(runs: list[Run], paper: str | None = None) -> list[tuple[str, str]]:
    """(paper, table id) of every stored table that some run fills, in the papers' order."""
    out = []
    papers = [paper.lower()] if paper else available()
    names = {r.experiment_name for r in runs}
    for p in papers:
        for tid, t in load_paper(p)["tables"].items():
            if names & set(t["experiments"]):
                out.append((p, tid))
    return out


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
        tid = normalize_table_id(table)
        if paper is None:
            run_papers = sorted({r.paper.lower() for r in runs if r.paper and r.paper.lower() in available()})
            paper = run_papers[0] if len(run_papers) == 1 else "sew"
        tables = load_paper(paper)["tables"]
        if tid not in tables:
            from snnexp.errors import choices_hint

            raise UserError(f"{paper.upper()} has no table {table!r}; {choices_hint(tid, tables)}")
        chosen = [(paper.lower(), tid)]
    out = []
    for p, tid in chosen:
        data = load_paper(p)
        out.append(build_table(data["tables"][tid], runs, paper=data.get("paper", p.upper())))
    return out


def write_table(t: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md, cs = out_dir / f"table_{t['id']}.md", out_dir / f"table_{t['id']}.csv"
    md.write_text(render_markdown(t))
    cs.write_text(render_csv(t))
    return md, cs


__all__ = [
    "Run",
    "build_table",
    "find_runs",
    "make_tables",
    "render_csv",
    "render_markdown",
    "tables_for_runs",
    "write_table",
]
