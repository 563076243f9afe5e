"""Figures made after the runs (``snnexp report``, ``snnexp claims``) logged to W&B when the runs
were: one W&B run of job type ``report`` in the runs' project and group, beside the figures."""

from __future__ import annotations

import sys
from pathlib import Path


def _wandb_logger_of(runs) -> dict | None:
    for r in runs:
        lg = (r.config or {}).get("logger") or {}
        if lg.get("name") == "wandb" and lg.get("mode") != "disabled":
            return lg
    return None


def log_report_images(runs, pngs: list[Path], out_dir: Path, kind: str = "report") -> bool:
    """True when the figures went to W&B; nothing is logged when no run used the wandb logger."""
    lg = _wandb_logger_of(runs)
    if lg is None or not pngs:
        return False
    try:
        import wandb

        from snnexp.loggers import _reachable

        mode = lg.get("mode") or "offline"
        if mode == "online" and not _reachable():
            mode = "offline"
        groups = {r.path.parent.name for r in runs if (r.path.parent / "multirun.yaml").is_file()}
        run = wandb.init(
            project=lg.get("project") or "snnexp",
            entity=lg.get("entity"),
            mode=mode,
            dir=str(out_dir),
            group=next(iter(groups)) if len(groups) == 1 else None,
            job_type=kind,
            name=f"{kind} {Path(out_dir).resolve().name}",
            tags=[kind],
            settings=wandb.Settings(silent=True, console="off"),
            reinit="finish_previous",
        )
        run.log({f"{kind}/{p.stem}": wandb.Image(str(p)) for p in pngs})
        run.finish()
    except Exception as e:  # the figures are on disk: W&B is a copy, never a reason to fail
        print(f"snnexp: figures not logged to W&B ({str(e).splitlines()[0][:120]})", file=sys.stderr)
        return False
    return True
