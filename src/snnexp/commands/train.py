"""snnexp train: compose, train, write the run directory."""

from __future__ import annotations

import os
import sys

CONFIG_NAME = "train"


def task(cfg, flags: set[str]) -> None:
    from hydra.core.hydra_config import HydraConfig

    from snnexp.errors import UserError
    from snnexp.engine.trainer import train

    try:
        metrics = train(cfg, HydraConfig.get().runtime.output_dir)
    except UserError as e:  # inside Hydra's job: report it ourselves (one line, exit 2)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"snnexp: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    best, last = metrics.get("best_acc1"), metrics.get("last_acc1")
    if best is not None:
        print(f"done: best test acc1 {best:.2f}% (epoch {metrics['best_epoch']}), last {last:.2f}%  "
              f"-> {metrics['run_dir']}")
