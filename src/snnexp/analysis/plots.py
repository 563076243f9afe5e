"""Figures of the per-block analyses in the style of SEW Figs. 4-8 and S2.

Downsample blocks (whose shortcut is not the identity) are marked with a triangle-down marker and
a dotted vertical line, as in the paper; the blocks between two such lines form an identity
mapping area. Both marks are in the legend. Blocks are named on the x axis (index and module).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnexp.figures.style import GREY, colour, log_ticks, marker, pyplot, save, styled, wrap

# blocks whose output O sums two spike tensors (SEW ADD: O = A + S, SEW Eq. 2): O is not binary
NON_BINARY_OUTPUT = ("sew_add", "plain")


def _downsample_lines(ax, blocks: list[dict]) -> None:
    for b in blocks:
        if b["downsample"]:
            ax.axvline(b["index"], color=GREY, linestyle=":", linewidth=1.0)


def _curve(ax, i: int, blocks: list[dict], key: str, label: str) -> None:
    pts = [b for b in blocks if b.get(key) is not None]
    ax.plot(
        [b["index"] for b in pts],
        [b[key] for b in pts],
        marker=marker(i),
        markersize=4,
        color=colour(i),
        label=label,
    )
    down = [b for b in pts if b["downsample"]]
    ax.plot(
        [b["index"] for b in down],
        [b[key] for b in down],
        linestyle="none",
        marker="v",
        markersize=9,
        color=colour(i),
        markeredgecolor="k",
    )


def _block_axis(ax, blocks: list[dict]) -> None:
    """Ticks at every block (up to 24), labelled '<index> <module name>'."""
    step = max(1, len(blocks) // 24 + (len(blocks) % 24 > 0))
    shown = blocks[::step]
    ax.set_xticks([b["index"] for b in shown])
    ax.set_xticklabels([f"{b['index']} {b['name']}" for b in shown], rotation=55, ha="right", fontsize=7.5)
    ax.set_xlabel("residual block $l$ (index, module)")


def _mark_handles(blocks: list[dict]) -> list:
    from matplotlib.lines import Line2D

    if not any(b["downsample"] for b in blocks):
        return []
    return [
        Line2D(
            [],
            [],
            linestyle="none",
            marker="v",
            markersize=9,
            color=GREY,
            markeredgecolor="k",
            label="downsample block (shortcut not the identity)",
        ),
        Line2D([], [], linestyle=":", color=GREY, label="start of a downsample block"),
    ]


def _title(result: dict[str, Any], what: str) -> str:
    n = result.get("neuron", {})
    s = result.get("surrogate", {})
    src = "trained" if result.get("source") not in (None, "init") else "at initialisation"
    parts = [
        f"{result['model']} on {result.get('data', '?')}, T={result['T']}",
        f"{n.get('name', '')} neuron, V_th={n.get('v_threshold', '?')}",
        f"{s.get('name', '')} surrogate" + (f", alpha={s['alpha']}" if "alpha" in s else ""),
        src,
    ]
    batches = f"{result.get('batches', '?')} batch(es) of {result.get('batch_size', '?')}"
    return wrap(
        f"{what}: " + "; ".join(p for p in parts if p) + f" ({batches}, {result.get('split', '')})", 95
    )


def _legend_below(fig, axes, extra: list) -> None:
    handles, labels = axes[0].get_legend_handles_labels()
    handles += extra
    labels += [h.get_label() for h in extra]
    # below the figure: savefig's tight bounding box takes it in, the axes keep their size
    fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=min(3, len(handles)),
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
    )


@styled
def firing_figure(result: dict[str, Any]):
    """Two panels: firing rate of A^l (Fig. 4, 5b, S2a) and mean of O^l (Fig. 5a, S2b) per block."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
    blocks0 = result["variants"][0]["blocks"] if result["variants"] else []
    non_binary = any(v.get("block") in NON_BINARY_OUTPUT for v in result["variants"]) or any(
        (b.get("rate_O") or 0) > 1 for v in result["variants"] for b in v["blocks"]
    )
    panels = (
        (axes[0], "rate_A", r"firing rate of $A^l = SN(F(S^l))$ (spikes / neuron / step)"),
        (axes[1], "rate_O", r"mean of block output $O^l$ per neuron and step"),
    )
    for ax, key, ylabel in panels:
        for i, v in enumerate(result["variants"]):
            _curve(ax, i, v["blocks"], key, v["label"])
        _downsample_lines(ax, blocks0)
        _block_axis(ax, blocks0)
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
    axes[0].set_title(r"$A^l$: spikes of the residual branch")
    axes[1].set_title(r"$O^l$: block output")
    extra = _mark_handles(blocks0)
    if non_binary:
        axes[1].axhline(1.0, color="k", linestyle="--", linewidth=0.9)
        from matplotlib.lines import Line2D

        extra.append(
            Line2D(
                [],
                [],
                color="k",
                linestyle="--",
                label="1 = a spike every step; ADD (O = A + S) and plain outputs are not binary",
            )
        )
    _legend_below(fig, axes, extra)
    fig.suptitle(_title(result, "Firing per block"))
    fig.tight_layout()
    return fig


@styled
def gradients_figure(result: dict[str, Any]):
    """||dL/dS^l|| per block on a log scale (SEW Figs. 6-8)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 6.4))
    values = []
    for i, v in enumerate(result["variants"]):
        blocks = [b for b in v["blocks"] if b.get("grad_norm") is not None]
        values += [b["grad_norm"] for b in blocks]
        _curve(
            ax, i, [dict(b, grad_norm=max(b["grad_norm"], 1e-30)) for b in blocks], "grad_norm", v["label"]
        )
    blocks0 = result["variants"][0]["blocks"] if result["variants"] else []
    _downsample_lines(ax, blocks0)
    if any(g > 0 for g in values):
        ax.set_yscale("log")
        log_ticks(ax.yaxis, values)
    _block_axis(ax, blocks0)
    ax.set_ylabel(r"gradient norm $\|\partial L / \partial S^l\|$ (log scale)")
    ax.grid(alpha=0.3, which="both")
    _legend_below(fig, [ax], _mark_handles(blocks0))
    ax.set_title(_title(result, "Gradient per block"), fontsize=10)
    fig.tight_layout()
    return fig


def plot_firing(result: dict[str, Any], path: str | Path, formats: tuple[str, ...] = ("png",)) -> Path:
    save(firing_figure(result), path, formats)
    return Path(path)


def plot_gradients(result: dict[str, Any], path: str | Path, formats: tuple[str, ...] = ("png",)) -> Path:
    save(gradients_figure(result), path, formats)
    return Path(path)


__all__ = ["firing_figure", "gradients_figure", "plot_firing", "plot_gradients"]
