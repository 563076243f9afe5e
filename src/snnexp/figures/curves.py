"""``curves.png`` of a run: loss and accuracy per epoch, train and test, the best epoch marked."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from snnexp.figures.style import accuracy_axis, colour, integer_ticks, save, styled


def run_title(model: str, data: str, T: Any, label: str | None = None) -> str:
    """'<label>: <model> on <data>, T=<T>' (the label: the experiment or the sweep job)."""
    what = f"{model} on {data}, T={T}"
    return f"{label}: {what}" if label else what


def _series(history: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    pts = [(int(r["epoch"]), float(r[key])) for r in history if _finite(r.get(key))]
    return [p[0] for p in pts], [p[1] for p in pts]


def _finite(v: Any) -> bool:
    try:
        return v is not None and v != "" and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


@styled
def curves_figure(history: list[dict[str, Any]], title: str, reference: list[dict[str, Any]] | None = None):
    """Two panels (loss, top-1 accuracy), markers on every epoch so a one-epoch run shows a point;
    the epoch of the best test accuracy is a star, named in the legend. ``reference``: the
    authors' per-epoch test curve of the same experiment, dashed grey beneath the run."""
    from snnexp.figures.style import pyplot

    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = [int(r["epoch"]) for r in history]
    for ax, key_fmt, ylabel in ((a, "{}_loss", "loss (cross-entropy)"), (b, "{}_acc1", None)):
        for i, (split, name) in enumerate((("train", "train"), ("test", "test"))):
            xs, ys = _series(history, key_fmt.format(split))
            ax.plot(xs, ys, marker="os"[i], color=colour(i), label=name, linestyle="-" if i else "--")
        ax.set_xlabel("epoch")
        integer_ticks(ax.xaxis, epochs)
        if len(set(epochs)) == 1:
            ax.set_xlim(epochs[0] - 1, epochs[0] + 1)
        if ylabel:
            ax.set_ylabel(ylabel)
    xs, ys = _series(history, "test_acc1")
    if ys:
        best = max(range(len(ys)), key=lambda i: (ys[i], -i))  # the first epoch of the best
        b.plot(
            [xs[best]],
            [ys[best]],
            marker="*",
            markersize=14,
            color=colour(4),
            linestyle="none",
            markeredgecolor="k",
            zorder=5,
            label=f"best test {ys[best]:.2f} % (epoch {xs[best]})",
        )
    _, train_acc = _series(history, "train_acc1")
    ref_acc = _reference(a, b, reference or [])
    accuracy_axis(b, ys + train_acc + ref_acc, label="top-1 accuracy (%)")
    a.set_title("loss")
    b.set_title("accuracy")
    a.legend(loc="best")
    b.legend(loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _reference(loss_ax, acc_ax, rows: list[dict[str, Any]]) -> list[float]:
    """The authors' test loss and accuracy (their TensorBoard logs), dashed grey; returns the
    accuracies drawn (the accuracy axis must hold them)."""
    style = dict(color="0.45", linestyle="--", linewidth=1.3, zorder=1)
    xs, ys = _series(rows, "test_loss")
    if ys:
        loss_ax.plot(xs, ys, label="authors' test", **style)
    xs, acc = _series(rows, "test_acc1")
    if acc:
        acc_ax.plot(xs, acc, label="authors' test", **style)
    return acc


def write_curves(
    history: list[dict[str, Any]],
    title: str,
    out: Path,
    formats: tuple[str, ...] = ("png",),
    reference: list[dict[str, Any]] | None = None,
) -> list[Path]:
    if not history:
        return []
    return save(curves_figure(history, title, reference), out, formats)


__all__ = ["curves_figure", "run_title", "write_curves"]
