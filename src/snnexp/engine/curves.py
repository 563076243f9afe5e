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


def authors_rows(cfg: DictConfig, last_epoch: int) -> list[dict] | None:
    """The authors' per-epoch test loss and accuracy of the same experiment
    (report/author_curves.py), up to a little past the run's last epoch; None where there is none."""
    from omegaconf import OmegaConf

    from snnexp.report.author_curves import authors_curve

    found = authors_curve(OmegaConf.to_container(cfg, resolve=False))
    if found is None:
        return None
    return [r for r in found[0] if r["epoch"] <= max(last_epoch * 1.25, last_epoch + 2)]


def plot_curves(history: list[dict[str, float]], cfg: DictConfig, out: Path) -> list[Path]:
    title = run_title(cfg.model.name, cfg.data.name, cfg.T, run_label(cfg, out.parent))
    reference = authors_rows(cfg, int(history[-1]["epoch"])) if history else None
    return write_curves(history, title, out, formats_of(cfg), reference=reference)


def authors_at(cfg: DictConfig, epoch: int) -> dict[str, float]:
    """The authors' test accuracy and loss at ``epoch`` as W&B reference series (empty if none)."""
    from omegaconf import OmegaConf

    from snnexp.report.author_curves import authors_curve

    found = authors_curve(OmegaConf.to_container(cfg, resolve=False))
    row = next((r for r in found[0] if r["epoch"] == epoch), None) if found else None
    keys = ("test_acc1", "test_acc5", "test_loss", "train_loss")
    return {f"authors/{k}": row[k] for k in keys if row and k in row}
