"""A built paper table (:func:`snnexp.report.tables.build_table`) as markdown or CSV.

Markdown follows the paper's layout (one row per network, the paper's columns), with the paper's
number, our max over epochs and our last-epoch accuracy side by side; CSV has one line per cell and
metric, for plotting and diffing.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

METRIC_LABEL = {"acc1": "Acc@1", "acc5": "Acc@5"}
LEGEND = (
    "Accuracies in %. paper: the paper's number ({reported}), to compare with ours {which}. "
    "ours max: our best test accuracy over the epochs run (max over epochs); "
    "ours last: our test accuracy after the last epoch run."
)
# which of our columns measures what the paper reports (KEYS: the test after the last epoch)
COMPARABLE = {"max": "max", "last": "last"}
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
    "paper_std",  # tables of means over several runs (DSR): the paper's std, ours over seeds
    "ours_mean",
    "ours_std",
    "ours_seeds",
]


def _fmt(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _fmt_pm(mean: float | None, std: float | None, n: int | None = None) -> str:
    """'95.24 ± 0.17' (and '(n=3)' for ours); a single value without its std."""
    if mean is None:
        return "—"
    text = f"{mean:.2f}" + ("" if std is None else f" ± {std:.2f}")
    return text + (f" (n={n})" if n else "")


def _fmt_params(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n / 1e6:.2f}M"


def _reported_words(reported: str) -> str:
    return {"max": "max test accuracy over epochs", "last": "test accuracy after the last epoch"}.get(
        reported, str(reported)
    )


def _md_header(t: dict[str, Any]) -> list[str]:
    cols, single = t["columns"], len(t["columns"]) == 1
    header = [t["row_header"]] + [t["info_labels"].get(i, str(i)) for i in t["info"]]
    for c in cols:
        for m in t["metrics"]:
            name = METRIC_LABEL.get(m, m) if single else f"{c['label']} {METRIC_LABEL.get(m, m)}"
            if t.get("runs", 1) > 1:
                header += [f"{name} paper (mean ± std)", "ours max (mean ± std over seeds)", "ours last"]
            else:
                header += [f"{name} paper", "ours max", "ours last"]
    header += ["run" if single else f"{c['label']} run" for c in cols]
    if t["has_params"]:
        header += ["Params paper", "Params ours"]
    return header


def _md_row(t: dict[str, Any], r: dict[str, Any]) -> list[str]:
    """One table row: label, info, then per column and metric (paper, ours max, ours last); rows the
    paper has but we do not run (``ours`` false) leave our cells empty."""
    cells = [r["label"].replace("|", "\\|")] + [
        "—" if r["info"].get(i) is None else str(r["info"][i]) for i in t["info"]
    ]
    ours = r["ours"]
    for c in t["columns"]:
        for m in t["metrics"]:
            v = r["columns"][c["id"]]["metrics"][m]
            if t.get("runs", 1) > 1:
                cells += [
                    _fmt_pm(v["paper"], v["paper_std"]),
                    _fmt_pm(v["ours_mean"], v["ours_std"], v["ours_seeds"]) if ours else "",
                    _fmt(v["ours_last"]) if ours else "",
                ]
                continue
            cells += [
                _fmt(v["paper"]),
                _fmt(v["ours_max"]) if ours else "",
                _fmt(v["ours_last"]) if ours else "",
            ]
    cells += [r["columns"][c["id"]]["status"] or "paper only" for c in t["columns"]]
    if t["has_params"]:
        cells += [str(r["params_paper"] or "—"), _fmt_params(r["params_ours"]) if ours else ""]
    return cells


def render_markdown(t: dict[str, Any]) -> str:
    header = _md_header(t)
    lines = [f"## {t['paper']} Table {t['id']}: {t['caption']}", ""]
    if t.get("source"):
        lines += [f"Source: {t['source']}.", ""]
    which = COMPARABLE.get(t["reported"], "max")
    lines += [LEGEND.format(reported=_reported_words(t["reported"]), which=which), ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] * len(header)) + "|")
    lines += ["| " + " | ".join(_md_row(t, r)) + " |" for r in t["rows"]]
    if t["notes"]:
        lines.append("")
        lines += [f"- {n}" for n in t["notes"]]
    return "\n".join(lines) + "\n"


def render_csv(t: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for c in t["cells"]:
        w.writerow({k: ("" if c.get(k) is None else c[k]) for k in CSV_FIELDS})
    return buf.getvalue()


def write_table(t: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """``table_<id>.md`` and ``table_<id>.csv`` in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md, cs = out_dir / f"table_{t['id']}.md", out_dir / f"table_{t['id']}.csv"
    md.write_text(render_markdown(t))
    cs.write_text(render_csv(t))
    return md, cs


__all__ = ["CSV_FIELDS", "render_csv", "render_markdown", "write_table"]
