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
    rows: list[dict[str, Any]], stem: str | Path, *, trained_T: int, title: str
) -> dict[str, Path]:
    """``rows``: one dict per T with :data:`COLUMNS`. Writes ``<stem>.md/.csv/.json/.png``."""
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
    plot(rows, paths["png"], trained_T=trained_T, title=title)
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


def plot(rows: list[dict[str, Any]], path: Path, *, trained_T: int, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    pts = sorted((int(r["T"]), float(r["acc1"])) for r in rows)
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o")
    ax.axvline(trained_T, color="0.6", linestyle=":", linewidth=0.8, label=f"trained T={trained_T}")
    ax.set_xlabel("inference time steps T'")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


__all__ = ["FirstSteps", "write_accuracy_vs_T", "markdown", "plot"]
