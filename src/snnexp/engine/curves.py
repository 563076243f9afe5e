"""``curves.png`` of a run (drawn by :mod:`snnexp.figures.curves`), titled with what the run is."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from snnexp.figures.curves import run_title, write_curves
from snnexp.figures.style import formats_of


def run_label(cfg: DictConfig, run_dir: Path) -> str | None:
    """A sweep job's label (its directory name says what it varies), else the experiment's name."""
    if (run_dir.parent / "multirun.yaml").is_file() and not run_dir.name.isdigit():
        return run_dir.name
    return cfg.get("experiment_name") or None


def plot_curves(history: list[dict[str, float]], cfg: DictConfig, out: Path) -> list[Path]:
    title = run_title(cfg.model.name, cfg.data.name, cfg.T, run_label(cfg, out.parent))
    return write_curves(history, title, out, formats_of(cfg))
