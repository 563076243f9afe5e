"""The table of any sweep (not only a paper's experiments): what the runs vary against their
accuracy, seeds pooled into mean ± std, and nothing else pooled.

Runs are pooled only when their resolved configs are equal in everything but the seed (and the
keys that do not change what a run measures, :data:`IGNORED`). Every key that differs between two
such groups is an axis: the overrides the sweep varied first (``block``, ``experiment``), then,
where two groups still look alike, the first config key that tells them apart. A job whose run
failed or has no accuracy yet is listed with its status and left out of the means; a job of the
sweep that never made a directory is listed as missing. One run has no ± (its n says so).
"""

from __future__ import annotations

import csv
import io
import itertools
import statistics
from pathlib import Path
from typing import Any

from snnexp import runfiles
from snnexp.report.runs import HARMLESS, RunRecord

POOLED = ("seed",)
# config keys that do not change what a run measures (besides HARMLESS's overrides)
IGNORED = (*HARMLESS, "seed", "paths", "threads", "plots", "trainer.progress", "claim", "hydra")


def _ignored(key: str) -> bool:
    return any(key == h or key.startswith(h + ".") for h in IGNORED)


def _flat(node: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(node, dict):
        out: dict[str, str] = {}
        for k, v in node.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: str(node)}


def _overrides(run: RunRecord) -> dict[str, str]:
    out = {}
    for o in run.overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if key == "experiment" or not _ignored(key):
            out[key] = value
    return out


def _identity(run: RunRecord) -> dict[str, str]:
    """What the run is: its resolved config (and overrides, for runs without a config) minus the
    seed and the keys that change nothing measured."""
    flat = {k: v for k, v in _flat(run.config).items() if not _ignored(k)}
    for k, v in _overrides(run).items():
        flat.setdefault(k, v)
    return flat


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def _axes(groups: list[dict[str, str]], override_keys: list[str]) -> list[str]:
    """The override keys that vary, then config keys until no two groups look the same."""
    varied = lambda k: len({g.get(k) for g in groups}) > 1  # noqa: E731
    axes = [k for k in override_keys if varied(k)]
    for k in sorted({k for g in groups for k in g}):
        labels = [tuple(g.get(a) for a in axes) for g in groups]
        if len(set(labels)) == len(labels):
            break
        if k not in axes and varied(k):
            clash = any(
                labels[i] == labels[j] and groups[i].get(k) != groups[j].get(k)
                for i, j in itertools.combinations(range(len(groups)), 2)
            )
            if clash:
                axes.append(k)
    return axes


def sweep_table(runs: list[RunRecord], roots: list[str | Path] = ()) -> dict[str, Any]:
    idents = [_identity(r) for r in runs]
    by_identity: dict[tuple, list[int]] = {}
    for i, ident in enumerate(idents):
        by_identity.setdefault(tuple(sorted(ident.items())), []).append(i)
    groups = [dict(key) for key in by_identity]
    override_keys = sorted({k for r in runs for k in _overrides(r) if k not in POOLED})
    axes = _axes(groups, override_keys)
    rows = [_row(axes, dict(key), [runs[i] for i in members]) for key, members in by_identity.items()]
    rows.sort(key=lambda r: [str(r[a]) for a in axes])
    missing = missing_jobs(runs, roots)
    for m in missing:
        rows.append(
            {
                **{a: m.get(a, "") for a in axes},
                **_empty_row(),
                "status": "missing",
                "seeds": m.get("seed", ""),
            }
        )
    seeds = {str(r.get("seed")) for r in runs}
    return {
        "id": "sweep",
        "axes": axes,
        "pooled": ["seed"] if len(seeds) > 1 else [],
        "rows": rows,
        "left_out": [{"run_dir": str(r.path), "status": r.status} for r in runs if r.best("acc1")[0] is None],
        "missing": missing,
    }


def _empty_row() -> dict[str, Any]:
    keys = ("best_acc1_mean", "best_acc1_std", "last_acc1_mean", "last_acc1_std")
    return {"runs": 0, "n": 0, **dict.fromkeys(keys), "best_acc1_values": [], "run_dirs": []}


def _row(axes: list[str], ident: dict[str, str], members: list[RunRecord]) -> dict[str, Any]:
    best = [v for v in (r.best("acc1")[0] for r in members) if v is not None]
    last = [v for v in (r.last("acc1") for r in members) if v is not None]
    counts: dict[str, int] = {}
    for r in members:
        counts[r.status] = counts.get(r.status, 0) + 1
    return {
        **{a: ident.get(a, "") for a in axes},
        "runs": len(members),
        "n": len(best),
        "best_acc1_mean": _mean_std(best)[0],
        "best_acc1_std": _mean_std(best)[1],
        "last_acc1_mean": _mean_std(last)[0],
        "last_acc1_std": _mean_std(last)[1],
        "best_acc1_values": best,
        "status": ", ".join(f"{s} x{c}" if c > 1 else s for s, c in sorted(counts.items())),
        "seeds": " ".join(sorted(str(r.get("seed")) for r in members)),
        "run_dirs": [str(r.path) for r in members],
    }


# ------------------------------------------------------------------------------- missing jobs
def _expand(overrides: list[str]) -> list[dict[str, str]] | None:
    """The jobs of a sweep's overrides (``a=1,2 b=x,y``: the product); None when a value uses
    Hydra's sweep functions (range, choice, glob) that this simple reading does not expand."""
    by_key: dict[str, list[tuple[str, str]]] = {}
    for o in overrides:
        key, _, value = str(o).lstrip("+~").partition("=")
        if "(" in value or "[" in value:
            return None
        # a key given twice keeps its first place and its last values (Hydra's basic sweeper)
        by_key[key] = [(key, v) for v in value.split(",")] if "," in value else []
    axes = [a for a in by_key.values() if a]
    return [dict(combo) for combo in itertools.product(*axes)] if axes else []


def missing_jobs(runs: list[RunRecord], roots: list[str | Path] = ()) -> list[dict[str, str]]:
    """Jobs a sweep's ``multirun.yaml`` asked for whose run directory is not there."""
    sweeps = {r.path.parent for r in runs if (r.path.parent / "multirun.yaml").is_file()}
    sweeps |= {Path(p) for p in roots if (Path(p) / "multirun.yaml").is_file()}
    missing = []
    for sweep in sorted(sweeps):
        conf = runfiles.read_yaml(sweep / "multirun.yaml") or {}
        hydra = conf.get("hydra") or {}
        # the experiment's own axes (hydra.sweeper.params) first, then the command line's
        params = (hydra.get("sweeper") or {}).get("params") or {}
        task = ((hydra.get("overrides") or {}).get("task")) or []
        jobs = _expand([*(f"{k}={v}" for k, v in params.items()), *task])
        if not jobs:
            continue
        have = [
            dict(o.lstrip("+~").partition("=")[::2] for o in r.overrides)
            for r in runs
            if r.path.parent == sweep
        ]
        missing += [j for j in jobs if not any(all(h.get(k) == v for k, v in j.items()) for h in have)]
    return missing


# ------------------------------------------------------------------------------------- render
def _pm(mean: float | None, std: float | None, n: int) -> str:
    if mean is None:
        return "—"
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


def render_markdown(t: dict[str, Any]) -> str:
    head = [*t["axes"], "seeds", "n", "best acc@1 (%)", "last acc@1 (%)", "status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in t["rows"]:
        cells = [str(r[a]) for a in t["axes"]] + [
            str(r.get("seeds", "")),
            f"{r['n']}/{r['runs']}" if r["n"] != r["runs"] else str(r["n"]),
            _pm(r["best_acc1_mean"], r["best_acc1_std"], r["n"]),
            _pm(r["last_acc1_mean"], r["last_acc1_std"], r["n"]),
            r["status"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    pooled = f" over {', '.join(t['pooled'])}s" if t["pooled"] else ""
    lines.append(
        f"\nmean ± std{pooled} (sample std; a single run has no ±); n: runs with an accuracy / runs; "
        "best = max over epochs, last = the last epoch's test accuracy. Runs are pooled only when "
        "their configs differ in the seed alone."
    )
    if t["left_out"]:
        lines.append("\nNot in the means (no accuracy):")
        lines += [f"- {x['run_dir']} ({x['status']})" for x in t["left_out"]]
    if t["missing"]:
        lines.append("\nMissing jobs (asked for by the sweep, no run directory):")
        lines += ["- " + ", ".join(f"{k}={v}" for k, v in m.items()) for m in t["missing"]]
    return "\n".join(lines)


CSV_COLUMNS = [
    "runs",
    "n",
    "best_acc1_mean",
    "best_acc1_std",
    "last_acc1_mean",
    "last_acc1_std",
    "status",
    "seeds",
]


def render_csv(t: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[*t["axes"], *CSV_COLUMNS], extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(t["rows"])
    return buf.getvalue()


def write_sweep_table(t: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, cs = out / "sweep.md", out / "sweep.csv"
    md.write_text(render_markdown(t) + "\n")
    cs.write_text(render_csv(t))
    return md, cs


__all__ = ["missing_jobs", "render_csv", "render_markdown", "sweep_table", "write_sweep_table"]
