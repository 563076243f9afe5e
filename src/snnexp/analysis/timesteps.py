"""Accuracy against the number of inference steps (KEYS Sec. 5.2, Tables 16-17).

A network trained with T steps is evaluated with T' <= T: the input is presented for T' steps only,
per-step norms use their first T' members (BNTT 0..T'-1, loaded so by norms/bntt.py), and the
integrating readout divides by T' ("early stopping": "the last N time-steps (and learned BNTT
layers) are not used"). A sequence input (event frames) keeps the frames it was trained on and the
model sees the first T' of them (:class:`FirstSteps`).

:func:`write_accuracy_vs_T` writes the table (Markdown + CSV + JSON) and a PNG plot.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

COLUMNS = ("T", "acc1", "acc5", "loss", "n")


class FirstSteps(nn.Module):
    """Feed the wrapped model only the first ``T`` steps of a time-major sequence [T0, B, ...]; a
    static batch passes unchanged (the model repeats it ``T`` times itself)."""

    def __init__(self, net: nn.Module, T: int, static_dims: int = 4):
        super().__init__()
        self.net, self.T, self.static_dims = net, T, static_dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() > self.static_dims:
            if x.shape[0] < self.T:
                raise ValueError(f"T={self.T} inference steps, but the input has only {x.shape[0]} frames")
            x = x[: self.T]
        return self.net(x)


def write_accuracy_vs_T(
    rows: list[dict[str, Any]],
    stem: str | Path,
    *,
    trained_T: int,
    title: str,
    formats: tuple[str, ...] = ("png",),
) -> dict[str, Path]:
    """``rows``: one dict per T with :data:`COLUMNS`. Writes ``<stem>.md/.csv/.json/.png`` (and the
    other ``formats`` of the figure)."""
    from snnexp.figures.style import save

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: -int(r["T"]))
    paths = {ext: stem.with_name(f"{stem.name}.{ext}") for ext in ("md", "csv", "json", "png")}
    with open(paths["csv"], "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    paths["json"].write_text(json.dumps({"trained_T": trained_T, "title": title, "rows": rows}, indent=1))
    paths["md"].write_text(markdown(rows, trained_T=trained_T, title=title))
    for p in save(figure(rows, trained_T=trained_T, title=title), paths["png"], formats)[1:]:
        paths[p.suffix[1:]] = p
    return paths


def markdown(rows: list[dict[str, Any]], *, trained_T: int, title: str) -> str:
    lines = [
        f"## Accuracy vs inference steps: {title}",
        "",
        f"Trained with T={trained_T}; T' < T uses the first T' steps (and per-step norms) only. "
        "Test accuracy in %.",
        "",
        "| Inference t-steps | Training t-steps | Acc@1 | Acc@5 | loss |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['T']} | {trained_T} | {r['acc1']:.2f} | {r['acc5']:.2f} | {r['loss']:.4f} |")
    return "\n".join(lines) + "\n"


def standard_error(acc_percent: float, n: int) -> float:
    """Binomial standard error of an accuracy measured on ``n`` samples, in points: the spread of
    the measurement itself (one checkpoint, one test set), sqrt(p (1 - p) / n)."""
    p = min(max(acc_percent / 100.0, 0.0), 1.0)
    return 100.0 * math.sqrt(p * (1.0 - p) / n) if n else float("nan")


def figure(rows: list[dict[str, Any]], *, trained_T: int, title: str):
    from snnexp.figures.style import styled

    return styled(_draw)(rows, trained_T=trained_T, title=title)


def _draw(rows: list[dict[str, Any]], *, trained_T: int, title: str):
    from snnexp.figures.style import accuracy_axis, colour, integer_ticks, pyplot, wrap

    plt = pyplot()
    pts = sorted((int(r["T"]), float(r["acc1"]), int(r.get("n") or 0)) for r in rows)
    ts, accs = [p[0] for p in pts], [p[1] for p in pts]
    errs = [standard_error(a, n) for _, a, n in pts]
    ns = sorted({p[2] for p in pts})
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.errorbar(
        ts, accs, yerr=errs, marker="o", capsize=3, color=colour(0), label="top-1 accuracy ± binomial s.e."
    )
    ax.axvline(trained_T, color="0.45", linestyle=":", linewidth=1.2, label=f"trained with T={trained_T}")
    ax.set_xlabel("inference time steps T'")
    integer_ticks(ax.xaxis, ts)
    accuracy_axis(ax, [a - e for a, e in zip(accs, errs, strict=True)] + accs)
    n_text = f"n={ns[0]} test samples" if len(ns) == 1 else f"n={ns[0]}-{ns[-1]} samples"
    ax.set_title(wrap(f"{title}\naccuracy vs inference steps, one checkpoint, {n_text}", 70))
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot(rows: list[dict[str, Any]], path: Path, *, trained_T: int, title: str) -> None:
    from snnexp.figures.style import save

    save(figure(rows, trained_T=trained_T, title=title), path)


__all__ = ["FirstSteps", "figure", "markdown", "plot", "standard_error", "write_accuracy_vs_T"]
