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


# what each claim metric is, with its unit (claims/measure.py and the run's metrics.json)
METRIC_LABELS = {
    "best_acc1": "best test accuracy (%, max over epochs)",
    "last_acc1": "test accuracy after the last epoch (%)",
    "best_acc5": "best top-5 test accuracy (%)",
    "last_acc5": "top-5 test accuracy, last epoch (%)",
    "acc1": "test accuracy (%)",
    "acc5": "top-5 test accuracy (%)",
    "loss": "test loss (cross-entropy)",
    "last_rate_O": "firing rate of the deepest block output (spikes / neuron / step)",
    "rate_log_spread": "|log10(rate first block / rate last block)| (decades)",
    "grad_log_spread": "|log10(grad first block / grad last block)| (decades)",
    "saved_bytes_ratio": "bytes saved for backward, larger T / smaller T (x)",
}


def threshold(rule: dict[str, Any], means: dict[str, float]) -> tuple[float, float] | None:
    """(low, high) of the values of arm ``a``'s mean for which the rule holds, from the other
    arms' means: greater -> (max b + margin, inf); less_ratio -> (-inf, factor x min b);
    within -> (b - tol, b + tol) (one b)."""
    bs = [means.get(b, float("nan")) for b in rule.get("b", [])]
    if not bs or any(not math.isfinite(b) for b in bs):
        return None
    if rule["type"] == "greater":
        return max(bs) + float(rule["margin"]), math.inf
    if rule["type"] == "less_ratio":
        return -math.inf, float(rule["factor"]) * min(bs)
    tol = float(rule["tol"])
    return max(bs) - tol, min(bs) + tol


def figure(result: dict[str, Any]):
    from snnexp.figures.style import styled

    return styled(_draw)(result)


def _draw(result: dict[str, Any]):
    """Each seed a point, the mean a bar-free line with ± std when n > 1, the rule's threshold for
    arm a drawn, the verdict in the corner, the claim's statement as the title."""
    from snnexp.figures.style import GREY, VERDICT_COLOURS, colour, pyplot, wrap

    plt = pyplot()
    arms = list(result["values"])
    fig, ax = plt.subplots(figsize=(max(5.5, 1.7 + 1.5 * len(arms)), 4.6))
    for i, a in enumerate(arms):
        vals = [v for v in result["values"][a] if v is not None and math.isfinite(v)]
        k = len(vals)
        xs = [i + (j - (k - 1) / 2) * 0.08 for j in range(k)]
        ax.scatter(
            xs,
            vals,
            color=colour(i),
            s=28,
            zorder=3,
            edgecolors="k",
            linewidths=0.5,
            label="each seed" if i == 0 else None,
        )
        if vals:
            m = sum(vals) / k
            ax.hlines(m, i - 0.25, i + 0.25, color=colour(i), linewidth=2.5, label="mean" if i == 0 else None)
            if k > 1:
                sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (k - 1))
                ax.errorbar(
                    [i + 0.3],
                    [m],
                    yerr=[sd],
                    color=colour(i),
                    capsize=4,
                    fmt="none",
                    label="± std over seeds" if i == 0 else None,
                )
        missing = len(result["values"][a]) - k
        if missing:
            ax.annotate(
                f"{missing} seed(s): inf / none",
                (i, 0.02),
                xycoords=("data", "axes fraction"),
                ha="center",
                color=colour(1),
                fontsize=8,
            )
    rule = result.get("rule_spec")
    band = threshold(rule, result["mean"]) if rule else None
    if band is not None:
        ai = arms.index(rule["a"])
        lo, hi = band
        for y in (lo, hi):
            if math.isfinite(y):
                ax.hlines(y, ai - 0.45, ai + 0.45, color="k", linestyle="--", linewidth=1.2)
        where = {"greater": "above", "less_ratio": "below", "within": "between"}[rule["type"]]
        ax.plot([], [], color="k", linestyle="--", label=f"'holds' needs {rule['a']}'s mean {where} this")
    ax.set_xticks(range(len(arms)))
    ax.set_xticklabels([f"{a}\nn={len(result['values'][a])}" for a in arms])
    ax.set_xlim(-0.6, len(arms) - 0.4)
    label = wrap(METRIC_LABELS.get(result["metric"], result["metric"]), 45)
    if "acc" in result["metric"]:  # accuracies on the honest 0-100 % axis of every figure
        from snnexp.figures.style import accuracy_axis

        seen = [v for vs in result["values"].values() for v in vs if v is not None and math.isfinite(v)]
        accuracy_axis(ax, seen + ([band[0]] if band and math.isfinite(band[0]) else []), label=label)
    else:
        ax.set_ylabel(label)
    ax.set_title(wrap(result["paper_says"], 70), fontsize=10.5)  # the paper's words; our test is in claims.md
    quick = ", quick run" if result.get("quick") else ""
    fig.suptitle(
        f"{result['paper']} claim ({result['source']}){quick}",
        fontsize=9,
        color=GREY,
        x=0.02,
        ha="left",
        y=0.995,
    )
    verdict = result["verdict"]
    fig.text(
        0.99,
        0.995,
        verdict,
        ha="right",
        va="top",
        fontsize=11,
        fontweight="bold",
        color="white",
        bbox={"boxstyle": "round", "facecolor": VERDICT_COLOURS.get(verdict, GREY), "edgecolor": "none"},
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot(result: dict[str, Any], path: Path, formats: tuple[str, ...] = ("png",)) -> list[Path]:
    from snnexp.figures.style import save

    return save(figure(result), path, formats)


def write_all(results: list[dict[str, Any]], out: Path, formats: tuple[str, ...] = ("png",)) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "claims.md", out / "claims.csv"]
    written[0].write_text(markdown(results))
    written[1].write_text(csv_text(results))
    for r in results:
        png = out / f"{r['id'].replace('/', '_')}.png"
        written += plot(r, png, formats)
    return written
