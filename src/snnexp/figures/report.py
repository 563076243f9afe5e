"""What ``snnexp report`` tabulates, drawn: a paper table (ours beside the paper's numbers) and any
sweep (the metric against each varied axis; every job's test-accuracy curve overlaid).

Inputs are the report's own dicts (:mod:`snnexp.report.tables`, :mod:`snnexp.report.sweep`) and
run records; nothing here reads run files itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnexp.figures.style import accuracy_axis, colour, integer_ticks, marker, pyplot, save, styled, wrap


def _setting(row: dict[str, Any], axes: list[str], skip: str | None = None) -> str:
    return ", ".join(f"{a}={row[a]}" for a in axes if a != skip) or "all runs"


@styled
def sweep_metric_figure(t: dict[str, Any], title: str):
    """One panel per varied axis: best test acc@1 of every run (points) and the mean ± std of each
    setting, one series per setting of the other axes."""
    plt = pyplot()
    axes = t["axes"] or ["setting"]
    rows = [r for r in t["rows"] if r["n"]]
    fig, panels = plt.subplots(1, len(axes), figsize=(5.2 * len(axes) + 1, 4.6), squeeze=False)
    values = [v for r in rows for v in r["best_acc1_values"]]
    for ax, axis in zip(panels[0], axes, strict=True):
        xs = sorted({str(r.get(axis, "all")) for r in t["rows"]}, key=_natural)
        series: dict[str, list[dict]] = {}
        for r in rows:
            series.setdefault(_setting(r, t["axes"], axis), []).append(r)
        for i, (name, members) in enumerate(sorted(series.items())):
            members.sort(key=lambda r: xs.index(str(r.get(axis, "all"))))
            pos = [xs.index(str(r.get(axis, "all"))) + 0.06 * (i - (len(series) - 1) / 2) for r in members]
            for p, r in zip(pos, members, strict=True):
                ax.scatter(
                    [p] * len(r["best_acc1_values"]),
                    r["best_acc1_values"],
                    s=14,
                    alpha=0.6,
                    color=colour(i),
                    edgecolors="none",
                )
            ax.errorbar(
                pos,
                [r["best_acc1_mean"] for r in members],
                yerr=[r["best_acc1_std"] or 0.0 for r in members],
                marker=marker(i),
                capsize=3,
                color=colour(i),
                label=name if len(series) > 1 else "mean ± std over seeds",
            )
            for p, r in zip(pos, members, strict=True):
                ax.annotate(
                    f"n={r['n']}",
                    (p, r["best_acc1_mean"]),
                    textcoords="offset points",
                    xytext=(6, 6),
                    fontsize=7.5,
                    color=colour(i),
                )
        ax.set_xticks(range(len(xs)))
        ax.set_xticklabels([wrap(x, 14) for x in xs])
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_xlabel(axis)
        accuracy_axis(ax, values, label="best test acc@1 (%, max over epochs)")
        ax.legend(loc="best", fontsize=7.5, title="small points: each run", title_fontsize=7.5)
    fig.suptitle(wrap(title, 100))
    fig.tight_layout()
    return fig


def _natural(x: str):
    try:
        return (0, float(x), x)
    except ValueError:
        return (1, 0.0, x)


@styled
def sweep_curves_figure(t: dict[str, Any], curves: dict[str, list[tuple[int, float]]], title: str):
    """Test acc@1 per epoch of every job: one colour per setting, each seed a thin line, the mean
    over seeds a thick one."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 5))
    values, epochs = [], []
    for i, r in enumerate([r for r in t["rows"] if r.get("run_dirs")]):
        runs = [curves.get(d) or [] for d in r["run_dirs"]]
        for c in runs:
            ax.plot([e for e, _ in c], [v for _, v in c], color=colour(i), linewidth=0.8, alpha=0.55)
            values += [v for _, v in c]
            epochs += [e for e, _ in c]
        mean = _mean_curve(runs)
        ax.plot(
            [e for e, _ in mean],
            [v for _, v in mean],
            color=colour(i),
            linewidth=2.4,
            marker=marker(i),
            markersize=4,
            label=f"{_setting(r, t['axes'])} (n={len(runs)})",
        )
    ax.set_xlabel("epoch")
    integer_ticks(ax.xaxis, epochs)
    accuracy_axis(ax, values)
    ax.legend(loc="best", fontsize=7.5, title="thin: each seed; thick: mean", title_fontsize=7.5)
    ax.set_title(wrap(title, 90))
    fig.tight_layout()
    return fig


def _mean_curve(runs: list[list[tuple[int, float]]]) -> list[tuple[int, float]]:
    by_epoch: dict[int, list[float]] = {}
    for c in runs:
        for e, v in c:
            by_epoch.setdefault(e, []).append(v)
    return [(e, sum(vs) / len(vs)) for e, vs in sorted(by_epoch.items())]


@styled
def paper_table_figure(t: dict[str, Any], metric: str = "acc1"):
    """Ours beside the paper's number for each cell of a paper table: the paper's value a hollow
    diamond, ours the comparable column (max or last epoch; mean ± std over seeds where the paper
    reports a mean of several runs) with every seed a small point."""
    plt = pyplot()
    cells = [(r, c) for r in t["rows"] for c in t["columns"]]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 + 0.75 * len(cells)), 4.8))
    which = "ours_last" if t["reported"] == "last" else "ours_max"
    values = []
    for i, (r, c) in enumerate(cells):
        v = r["columns"][c["id"]]["metrics"].get(metric) or {}
        paper, std = v.get("paper"), v.get("paper_std")
        if paper is not None:
            ax.errorbar(
                [i - 0.12],
                [paper],
                yerr=[std] if std else None,
                marker="D",
                mfc="white",
                color="k",
                capsize=3,
                linestyle="none",
                label="paper" if i == 0 else None,
            )
            values.append(paper)
        ours = v.get("ours_mean") if v.get("ours_mean") is not None else v.get(which)
        if ours is not None and r["ours"]:
            ax.errorbar(
                [i + 0.12],
                [ours],
                yerr=[v["ours_std"]] if v.get("ours_std") else None,
                marker="o",
                color=colour(0),
                capsize=3,
                linestyle="none",
                label=(
                    "ours, mean ± std over seeds"
                    if t.get("runs", 1) > 1
                    else ("ours (last epoch)" if which == "ours_last" else "ours (max over epochs)")
                )
                if not ax.get_legend_handles_labels()[1].count("ours")
                else None,
            )
            seeds = v.get("ours_values") or []
            ax.scatter([i + 0.2] * len(seeds), seeds, s=10, color=colour(0), alpha=0.6)
            values.append(ours)
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    ax.legend(uniq.values(), uniq.keys(), loc="lower left")
    names = [r["label"] if len(t["columns"]) == 1 else f"{r['label']}\n{c['label']}" for r, c in cells]
    ax.set_xticks(range(len(cells)))
    ax.set_xticklabels(
        [wrap(n, 16) for n in names],
        rotation=30 if len(cells) > 6 else 0,
        ha="right" if len(cells) > 6 else "center",
        fontsize=8,
    )
    accuracy_axis(ax, values, label=f"test {metric.replace('acc', 'acc@')} (%)")
    ax.set_title(wrap(f"{t['paper']} Table {t['id']}: {t['caption']}", 90))
    fig.tight_layout()
    return fig


def write_sweep_figures(t: dict[str, Any], runs, out_dir: Path, title: str, formats=("png",)) -> list[Path]:
    curves = {str(r.path): r.test_curve("acc1") for r in runs}
    out_dir = Path(out_dir)
    written = save(sweep_metric_figure(t, title), out_dir / "sweep_acc1.png", formats)
    written += save(
        sweep_curves_figure(t, curves, f"{title}: test accuracy per epoch"),
        out_dir / "sweep_curves.png",
        formats,
    )
    return written


def write_table_figure(t: dict[str, Any], out_dir: Path, formats=("png",)) -> list[Path]:
    return save(paper_table_figure(t), Path(out_dir) / f"table_{t['id']}.png", formats)


__all__ = [
    "paper_table_figure",
    "sweep_curves_figure",
    "sweep_metric_figure",
    "write_sweep_figures",
    "write_table_figure",
]
