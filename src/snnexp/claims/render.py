"""claims.md, claims.csv and one PNG per claim."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any


def _fmt(m: float, s: float) -> str:
    if math.isnan(m):
        return "—"
    return f"{m:.3g}" if math.isnan(s) else f"{m:.3g} ± {s:.2g}"


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "# Claims reproduced in miniature",
        "",
        "What the paper says (its words or a paraphrase, with its table or figure) is kept apart from "
        "our miniature test and our rule: the test, its arms and its threshold are ours, written in the "
        "claim's experiment file before the run. Measured values are mean ± std over the seeds.",
        "",
        "| paper | the paper says | source | our test (ours) | measured | our rule (ours) | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        measured = "; ".join(f"{k}: {_fmt(r['mean'][k], r['std'][k])}" for k in r["mean"])
        quick = " (quick run)" if r["quick"] else ""
        cells = [r["paper"], r["paper_says"], r["source"], r["test"], f"{r['metric']}: {measured}{quick}"]
        cells.append(r["rule"])
        cells.append(f"**{r['verdict']}**")
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


CSV_FIELDS = [
    "id",
    "paper",
    "paper_says",
    "source",
    "test",
    "metric",
    "arm",
    "mean",
    "std",
    "n",
    "values",
    "verdict",
]


def csv_text(results: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in results:
        for arm, vals in r["values"].items():
            w.writerow(
                {
                    **{k: r[k] for k in ("id", "paper", "paper_says", "source", "test", "metric", "verdict")},
                    "arm": arm,
                    "mean": r["mean"][arm],
                    "std": r["std"][arm],
                    "n": len(vals),
                    "values": " ".join(f"{v:.6g}" for v in vals),
                }
            )
    return buf.getvalue()


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(result["mean"])
    fig, ax = plt.subplots(figsize=(1.6 + 1.2 * len(arms), 3.4))
    means = [_finite_or_nan(result["mean"][a]) for a in arms]
    stds = [_finite_or_nan(result["std"][a]) for a in arms]
    ax.bar(arms, [0.0 if math.isnan(m) else m for m in means], yerr=stds, capsize=4)
    for i, a in enumerate(arms):
        finite = [v for v in result["values"][a] if math.isfinite(v)]
        ax.scatter([i] * len(finite), finite, color="k", s=10, zorder=3)
        if len(finite) < len(result["values"][a]):  # inf (e.g. a silent block) or no value
            ax.annotate("inf/none", (i, 0), ha="center", va="bottom", color="C3")
    ax.set(ylabel=result["metric"], title=f"{result['paper']}: {result['verdict']}")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _finite_or_nan(v: float) -> float:
    return v if math.isfinite(v) else float("nan")


def write_all(results: list[dict[str, Any]], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "claims.md", out / "claims.csv"]
    written[0].write_text(markdown(results))
    written[1].write_text(csv_text(results))
    for r in results:
        png = out / f"{r['id'].replace('/', '_')}.png"
        plot(r, png)
        written.append(png)
    return written
