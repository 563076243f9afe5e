"""snnexp train: compose, train, write the run directory."""

from __future__ import annotations

CONFIG_NAME = "train"


def task(cfg, flags: set[str]) -> None:
    from hydra.core.hydra_config import HydraConfig

    from snnexp.engine.trainer import train

    metrics = train(cfg, HydraConfig.get().runtime.output_dir)
    best, last = metrics.get("best_acc1"), metrics.get("last_acc1")
    if best is not None:
        print(
            f"done: best test acc1 {best:.2f}% (epoch {metrics['best_epoch']}), last {last:.2f}%  "
            f"-> {metrics['run_dir']}"
        )
