"""PNG plots of the per-block analyses in the style of SEW Figs. 4-8 and S2 (matplotlib, Agg).

Downsample blocks (whose shortcut is not the identity) are marked with a triangle-down marker and
a dotted vertical line, as in the paper; the blocks between two such lines form an identity
mapping area.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _integer_ticks(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _downsample_lines(ax, blocks: list[dict]) -> None:
    for b in blocks:
        if b["downsample"]:
            ax.axvline(b["index"], color="0.6", linestyle=":", linewidth=0.8)


def _curve(ax, blocks: list[dict], key: str, label: str) -> None:
    xs = [b["index"] for b in blocks if b.get(key) is not None]
    ys = [b[key] for b in blocks if b.get(key) is not None]
    (line,) = ax.plot(xs, ys, marker=".", markersize=4, linewidth=1.2, label=label)
    dx = [b["index"] for b in blocks if b["downsample"] and b.get(key) is not None]
    dy = [b[key] for b in blocks if b["downsample"] and b.get(key) is not None]
    ax.plot(dx, dy, linestyle="none", marker="v", markersize=7, color=line.get_color())


def _title(result: dict[str, Any]) -> str:
    n = result.get("neuron", {})
    s = result.get("surrogate", {})
    parts = [
        result["model"],
        f"T={result['T']}",
        f"{n.get('name', '')} V_th={n.get('v_threshold', '?')}",
        f"{s.get('name', '')} alpha={s.get('alpha', '?')}" if "alpha" in s else s.get("name", ""),
    ]
    src = "trained" if result.get("source") not in (None, "init") else "at initialization"
    return ", ".join(p for p in parts if p) + f" ({src})"


def plot_firing(result: dict[str, Any], path: str | Path) -> Path:
    """Two panels: firing rate of A^l (Fig. 4, 5b, S2a) and of O^l (Fig. 5a, S2b) per block."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    panels = ((axes[0], "rate_A", r"$A^l = SN(F(S^l))$"), (axes[1], "rate_O", r"$O^l$ (block output)"))
    for ax, key, name in panels:
        for v in result["variants"]:
            _curve(ax, v["blocks"], key, v["label"])
        if result["variants"]:
            _downsample_lines(ax, result["variants"][0]["blocks"])
        ax.set_xlabel("block index $l$")
        ax.set_ylabel(f"firing rate of {name}")
        _integer_ticks(ax)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(_title(result), fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_gradients(result: dict[str, Any], path: str | Path) -> Path:
    """||dL/dS^l|| per block on a log scale (Figs. 6-8)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    positive = False
    for v in result["variants"]:
        blocks = [b for b in v["blocks"] if b.get("grad_norm") is not None]
        positive |= any(b["grad_norm"] > 0 for b in blocks)
        _curve(ax, [dict(b, grad_norm=max(b["grad_norm"], 1e-30)) for b in blocks], "grad_norm", v["label"])
    if result["variants"]:
        _downsample_lines(ax, result["variants"][0]["blocks"])
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel("block index $l$")
    ax.set_ylabel(r"$\|\partial L / \partial S^l\|$")
    _integer_ticks(ax)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(_title(result), fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


__all__ = ["plot_firing", "plot_gradients"]
