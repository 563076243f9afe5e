"""Experiment loggers (config group ``logger``): ``wandb`` (offline by default), ``csv``, ``none``.

Only rank 0 logs. Loggers get scalar dicts; the run's own files (summary.csv, metrics.json) are
written by the engine whatever the logger.
"""

from __future__ import annotations

import csv
import secrets
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from snnexp.registry import LOGGERS


class NoLogger:
    def log(self, metrics: dict[str, float], step: int) -> None:
        pass

    def finish(self, summary: dict[str, Any] | None = None) -> None:
        pass


class CsvLogger(NoLogger):
    """metrics_steps.csv: one row per logged step; on resume the rows past the checkpoint go."""

    def __init__(self, run_dir: Path, start_step: int = 0):
        self.path = run_dir / "metrics_steps.csv"
        self.fields: list[str] | None = None
        if self.path.is_file():
            with open(self.path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(float(r["step"])) < start_step]
            if rows:
                self.fields = list(rows[0])
                self._write(rows, "w")
            else:
                self.path.unlink()

    def _write(self, rows: list[dict[str, Any]], mode: str) -> None:
        with open(self.path, mode, newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            if mode == "w":
                w.writeheader()
            w.writerows(rows)

    def log(self, metrics: dict[str, float], step: int) -> None:
        # epoch/ rows are in summary.csv, energy/ ones in energy.jsonl (trainer.log_energy)
        metrics = {k: v for k, v in metrics.items() if not k.startswith(("epoch/", "energy/"))}
        if not metrics:
            return
        row = {"step": step, **metrics}
        if self.fields is None:
            self.fields = list(row)
            self._write([row], "w")
        else:
            self._write([row], "a")


class WandbLogger(NoLogger):
    """W&B run stored under the run dir; resumes the same W&B run when the training resumes."""

    def __init__(self, cfg: DictConfig, run_dir: Path, resolved: dict[str, Any]):
        import wandb

        lg = cfg.logger
        id_file = run_dir / "wandb_run_id.txt"
        run_id = id_file.read_text().strip() if id_file.is_file() else secrets.token_hex(4)
        id_file.write_text(run_id)
        group = lg.group or _sweep_group(run_dir) or cfg.get("experiment_name")
        settings = wandb.Settings(init_timeout=60, silent=True, console="off")
        try:
            self.run = wandb.init(
                project=lg.project,
                entity=lg.entity,
                mode=lg.mode,
                dir=str(run_dir),
                config=resolved,
                group=group,
                tags=list(lg.tags),
                id=run_id,
                resume="allow",
                name=run_dir.name,
                settings=settings,
                reinit="finish_previous",
            )
        except Exception as e:  # no network, bad key...: never lose the training run for this
            if lg.mode != "online":
                raise
            print(
                f"snnexp: wandb online init failed ({str(e).splitlines()[0][:120]}); "
                "logging offline instead (sync later with `wandb sync`)",
                file=sys.stderr,
            )
            self.run = wandb.init(
                project=lg.project,
                entity=lg.entity,
                mode="offline",
                dir=str(run_dir),
                config=resolved,
                group=group,
                id=run_id,
                resume="allow",
                name=run_dir.name,
                settings=settings,
                reinit="finish_previous",
            )

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(metrics, step=step)

    def finish(self, summary: dict[str, Any] | None = None) -> None:
        if summary:
            for k, v in summary.items():
                self.run.summary[k] = v
        self.run.finish()


def _sweep_group(run_dir: Path) -> str | None:
    """Jobs of one multirun share their sweep directory: group them by it."""
    return run_dir.parent.name if (run_dir.parent / "multirun.yaml").is_file() else None


@LOGGERS.register("wandb", help="Weights & Biases, offline in the run directory by default")
def wandb_logger(cfg: DictConfig, run_dir: Path, start_step: int = 0) -> WandbLogger:
    return WandbLogger(cfg, run_dir, OmegaConf.to_container(cfg, resolve=True))


@LOGGERS.register("csv", help="metrics_steps.csv in the run directory")
def csv_logger(cfg: DictConfig, run_dir: Path, start_step: int = 0) -> CsvLogger:
    return CsvLogger(run_dir, start_step)


@LOGGERS.register("none", help="nothing beyond the run files")
def no_logger(cfg: DictConfig, run_dir: Path, start_step: int = 0) -> NoLogger:
    return NoLogger()


def build_logger(cfg: DictConfig, run_dir: Path, is_main: bool, start_step: int = 0):
    if not is_main:  # only rank 0 logs
        return NoLogger()
    return LOGGERS.get(cfg.logger.name)(cfg, run_dir, start_step)
