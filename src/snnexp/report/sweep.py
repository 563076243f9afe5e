"""The table of any sweep (not only a paper's experiments): the keys the runs vary against their
accuracy, seeds pooled into mean ± std.

A key varies when the runs' overrides give it more than one value; ``seed`` is pooled, not a
column. Each row is one setting of the other varied keys: the number of runs (seeds), best acc@1
(max over epochs) and last-epoch acc@1 as mean ± std over those runs, and their status.
"""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path
from typing import Any

from snnexp.report.runs import HARMLESS, RunRecord

POOLED = ("seed",)


def _settings(run: RunRecord) -> dict[str, str]:
    out = {}
    for o in run.overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if not any(key == h or key.startswith(h + ".") for h in HARMLESS):
            out[key] = value
    return out


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def sweep_table(runs: list[RunRecord]) -> dict[str, Any]:
    settings = [_settings(r) for r in runs]
    keys = sorted({k for s in settings for k in s})
    varied = [k for k in keys if len({s.get(k) for s in settings}) > 1]
    axes = [k for k in varied if k not in POOLED]
    groups: dict[tuple, list[RunRecord]] = {}
    for run, s in zip(runs, settings, strict=True):
        groups.setdefault(tuple(s.get(k, "") for k in axes), []).append(run)
    rows = []
    for values, members in sorted(groups.items()):
        best = [v for v in (r.best("acc1")[0] for r in members) if v is not None]
        last = [v for v in (r.last("acc1") for r in members) if v is not None]
        statuses = sorted({r.status for r in members})
        rows.append(
            {
                **dict(zip(axes, values, strict=True)),
                "runs": len(members),
                "best_acc1_mean": _mean_std(best)[0],
                "best_acc1_std": _mean_std(best)[1],
                "last_acc1_mean": _mean_std(last)[0],
                "last_acc1_std": _mean_std(last)[1],
                "status": ",".join(statuses),
            }
        )
    return {"id": "sweep", "axes": axes, "pooled": [k for k in POOLED if k in varied], "rows": rows}


def _pm(mean: float | None, std: float | None) -> str:
    return "-" if mean is None else f"{mean:.2f} ± {std:.2f}"


def render_markdown(t: dict[str, Any]) -> str:
    head = [*t["axes"], "runs", "best acc@1 (%)", "last acc@1 (%)", "status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in t["rows"]:
        cells = [str(r[a]) for a in t["axes"]] + [
            str(r["runs"]),
            _pm(r["best_acc1_mean"], r["best_acc1_std"]),
            _pm(r["last_acc1_mean"], r["last_acc1_std"]),
            r["status"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    pooled = f" over {', '.join(t['pooled'])}" if t["pooled"] else ""
    lines.append(f"\nmean ± std{pooled}; best = max over epochs, last = the last epoch's test accuracy")
    return "\n".join(lines)


def render_csv(t: dict[str, Any]) -> str:
    buf = io.StringIO()
    cols = [
        *t["axes"],
        "runs",
        "best_acc1_mean",
        "best_acc1_std",
        "last_acc1_mean",
        "last_acc1_std",
        "status",
    ]
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    w.writerows(t["rows"])
    return buf.getvalue()


def write_sweep_table(t: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    out = Path(out_dir)
    md, cs = out / "sweep.md", out / "sweep.csv"
    md.write_text(render_markdown(t) + "\n")
    cs.write_text(render_csv(t))
    return md, cs


__all__ = ["render_csv", "render_markdown", "sweep_table", "write_sweep_table"]
