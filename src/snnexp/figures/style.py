"""The one look of snnexp's figures: fonts, sizes, colours, dpi, the accuracy axis, saving.

Colours are the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"), told apart with
every common colour-vision deficiency; series also differ by marker, so a greyscale print still
separates them. Text sizes are for a slide or a two-column paper at the figure's size (no
rescaling needed). PNGs are written at :data:`DPI`; ``plots.format`` adds PDF/SVG vector copies.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from snnexp.config.schema import PLOT_FORMATS
from snnexp.errors import ConfigError

# Okabe-Ito: blue, vermillion, bluish green, reddish purple, orange, sky blue, black, yellow (last:
# faint on white)
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
GREY = "0.45"
DPI = 200
VERDICT_COLOURS = {"holds": "#009E73", "does not hold": "#D55E00", "inconclusive": "#E69F00"}

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "figure.titlesize": 12,
    "legend.fontsize": 8.5,
    "legend.framealpha": 0.9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "lines.markersize": 5,
    "savefig.dpi": DPI,
    "savefig.bbox": "tight",
    "figure.dpi": 100,
}


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed), with the style's colours."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from cycler import cycler

    RC["axes.prop_cycle"] = cycler(color=list(PALETTE))
    return plt


def styled(draw):
    """Run a figure-building function inside the style (title sizes are read when text is made)."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        plt = pyplot()
        with plt.rc_context(RC):
            return draw(*args, **kwargs)

    return wrapper


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def marker(i: int) -> str:
    return MARKERS[i % len(MARKERS)]


# ------------------------------------------------------------------------------------- formats
def parse_formats(value: str | Iterable[str] | None, where: str = "plots.format") -> tuple[str, ...]:
    """The formats asked for ('png,pdf' or a list), PNG first and always; anything else is one line."""
    if value is None:
        return ("png",)
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    items = [i.strip().lower().lstrip(".") for i in items if i.strip()]
    bad = [i for i in items if i not in PLOT_FORMATS]
    if bad:
        raise ConfigError(f"{where}={bad[0]!r} is not a figure format; allowed: {', '.join(PLOT_FORMATS)}")
    return tuple(dict.fromkeys(["png", *items]))


def formats_of(cfg) -> tuple[str, ...]:
    """``plots.format`` of a composed config (a config without the key: PNG only)."""
    plots = cfg.get("plots") if hasattr(cfg, "get") else None
    return parse_formats(None if not plots else plots.get("format"))


def save(fig, png: str | Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write ``fig`` as ``png`` and, for each other format, the same name with that suffix; close it."""
    plt = pyplot()
    png = Path(png)
    written = []
    for fmt in parse_formats(list(formats)):
        path = png.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.1, metadata=_metadata(fmt))
        written.append(path)
    plt.close(fig)
    return written


def _metadata(fmt: str) -> dict | None:
    # no creation date in vector files: the same figure gives the same bytes
    return {"CreationDate": None} if fmt == "pdf" else ({"Date": None} if fmt == "svg" else None)


# ------------------------------------------------------------------------------- accuracy axis
MIN_SPAN = 10.0  # points of accuracy an axis shows at least: a 0.5-point gap stays small
ZOOM_FROM = 30.0  # data all above this: the axis starts near the data, and says so


def accuracy_axis(ax, values: Iterable[float], label: str = "test accuracy (%)") -> None:
    """y from 0 to 100 %, or, when every value is high, from a round number below them to 100 %,
    never narrower than :data:`MIN_SPAN` points; a zoomed axis says where it starts."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    low = 0.0
    if vals and min(vals) > ZOOM_FROM:
        low = max(0.0, 5.0 * math.floor(min(min(vals) - 2.0, 100.0 - MIN_SPAN) / 5.0))
    ax.set_ylim(low, 100.0)
    ax.set_ylabel(label if low == 0 else f"{label}, axis from {low:g} %")


def integer_ticks(axis, values: Sequence[int] | None = None) -> None:
    """Whole-number ticks (epochs, steps, blocks); a single value gets a single tick."""
    from matplotlib.ticker import FixedLocator, MaxNLocator

    if values is not None and len(set(values)) <= 1:
        axis.set_major_locator(FixedLocator(sorted(set(values))))
        return
    axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))


def log_ticks(axis, values: Iterable[float]) -> None:
    """A log axis with labels at 1, 2, (3,) 5 (, 7) x 10^k over a short range (a bare log axis over less than
    two decades shows one or two labels), at powers of ten over a long one."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    vals = [v for v in values if v and v > 0 and math.isfinite(v)]
    decades = math.log10(max(vals) / min(vals)) if vals else 0.0
    subs = (1.0, 2.0, 5.0) if decades < 2 else ((1.0, 3.0) if decades < 4 else (1.0,))
    if decades < 1:  # under a decade: 1, 2, 5 alone may leave two labels
        subs = (1.0, 2.0, 3.0, 5.0, 7.0) if decades >= 0.5 else tuple(float(k) for k in range(1, 10))
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(_power_of_ten))
    axis.set_minor_formatter(NullFormatter())


def _power_of_ten(value: float, _pos=None) -> str:
    """2e-3 as $2\\times10^{-3}$, 1e-3 as $10^{-3}$ (every major tick labelled)."""
    if value <= 0:
        return ""
    exp = math.floor(math.log10(value) + 1e-9)
    coeff = round(value / 10**exp, 2)
    head = "" if coeff == 1 else f"{coeff:g}\\times"
    return f"${head}10^{{{exp}}}$"


def wrap(text: str, width: int = 80) -> str:
    """Each line of ``text`` broken at ``width`` characters (titles that say a whole claim)."""
    import textwrap

    return "\n".join(textwrap.fill(line, width) or line for line in str(text).split("\n"))


__all__ = [
    "DPI",
    "PALETTE",
    "accuracy_axis",
    "colour",
    "formats_of",
    "integer_ticks",
    "log_ticks",
    "marker",
    "parse_formats",
    "pyplot",
    "save",
    "styled",
]
