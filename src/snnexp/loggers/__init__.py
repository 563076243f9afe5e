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

    def log_images(self, images: dict[str, Path]) -> None:
        """Figures of the run (curves.png), under their names; only W&B keeps them."""

    def log_checkpoint(self, path: Path) -> None:
        """A checkpoint as a model artifact (``logger.log_checkpoints``); only W&B keeps it."""

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
        from snnexp import runfiles
        from snnexp.loggers.naming import run_name, run_tags

        group = lg.group or _sweep_group(run_dir) or cfg.get("experiment_name")
        sweep_label = run_dir.name if _sweep_group(run_dir) else None
        name = run_name(resolved, runfiles.read_overrides(run_dir), sweep_label)
        tags = run_tags(resolved, list(lg.tags))
        settings = wandb.Settings(init_timeout=ONLINE_INIT_TIMEOUT_S, silent=True, console="off")
        mode = lg.mode
        if mode == "online" and not _reachable():
            print(
                "snnexp: wandb server unreachable; logging offline (sync later with `wandb sync`)",
                file=sys.stderr,
            )
            mode = "offline"
        init = dict(
            project=lg.project,
            entity=lg.entity,
            dir=str(run_dir),
            config=resolved,
            group=group,
            tags=tags,
            id=run_id,
            resume="allow",
            name=name,
            settings=settings,
            reinit="finish_previous",
        )
        try:
            self.run = wandb.init(mode=mode, **init)
        except Exception as e:  # no network, bad key...: never lose the training run for this
            if mode != "online":
                raise
            print(
                f"snnexp: wandb online init failed ({str(e).splitlines()[0][:120]}); "
                "logging offline instead (sync later with `wandb sync`)",
                file=sys.stderr,
            )
            self.run = wandb.init(mode="offline", **init)

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(metrics, step=step)

    def log_images(self, images: dict[str, Path]) -> None:
        import wandb

        self.run.log({k: wandb.Image(str(p)) for k, p in images.items() if Path(p).is_file()})

    def log_checkpoint(self, path: Path) -> None:
        import wandb

        art = wandb.Artifact(f"model-{self.run.id}", type="model", metadata={"file": Path(path).name})
        art.add_file(str(path), name=Path(path).name)
        self.run.log_artifact(art, aliases=[Path(path).stem, "latest"])

    def finish(self, summary: dict[str, Any] | None = None) -> None:
        if summary:
            for k, v in summary.items():
                self.run.summary[k] = v
        self.run.finish()


# W&B waits 90 s by default before giving up on the server; a run must not sit that long before
# its first step: check the connection first (a few seconds), then give init a short budget
ONLINE_INIT_TIMEOUT_S = 20
PROBE_TIMEOUT_S = 3.0


def _reachable() -> bool:
    """Can a TCP connection to the W&B server (WANDB_BASE_URL, default api.wandb.ai) be opened?"""
    import os
    import socket
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "api.wandb.ai", port), timeout=PROBE_TIMEOUT_S).close()
    except OSError:
        return False
    return True


def _sweep_group(run_dir: Path) -> str | None:
    """Jobs of one multirun share their sweep directory: group them by it."""
    return run_dir.parent.name if (run_dir.parent / "multirun.yaml").is_file() else None


@LOGGERS.register("wandb")
def wandb_logger(cfg: DictConfig, run_dir: Path, start_step: int = 0) -> WandbLogger:
    return WandbLogger(cfg, run_dir, OmegaConf.to_container(cfg, resolve=True))


@LOGGERS.register("csv")
def csv_logger(cfg: DictConfig, run_dir: Path, start_step: int = 0) -> CsvLogger:
    return CsvLogger(run_dir, start_step)


@LOGGERS.register("none")
def no_logger(cfg: DictConfig, run_dir: Path, start_step: int = 0) -> NoLogger:
    return NoLogger()


def build_logger(cfg: DictConfig, run_dir: Path, is_main: bool, start_step: int = 0):
    if not is_main:  # only rank 0 logs
        return NoLogger()
    return LOGGERS.get(cfg.logger.name)(cfg, run_dir, start_step)
