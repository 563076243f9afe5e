"""Whether a run may start, and with what: the one start decision (``decide_start``), asked by the
CLI before Hydra writes ``.hydra/`` and by ``Run`` under the run directory's lock.

A resume continues the optimizer and the schedule from their saved state, so a changed optimizer,
schedule or model setting would be silently ignored while ``config.yaml`` recorded it: such a
resume is refused (:func:`check_same_config`); only runtime keys may differ. ``trainer.epochs``
may change only where the result is a fresh run of the new length (:func:`check_new_length`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from snnexp.engine.rundir import Start, check_start
from snnexp.errors import CheckpointError

# keys a resume may change: where and how fast it runs, what it prints, how long it goes on
RUNTIME_KEYS = (
    "resume",
    "device",
    "threads",
    "paths",
    "data.root",
    "trainer.epochs",
    "trainer.stop_after_epochs",
    "trainer.progress",
    "trainer.num_workers",
    "trainer.eval_batch_size",
    "trainer.eval_every",
    "trainer.ckpt_every_steps",
    "trainer.keep_best",
    "trainer.compile",
    "logger",
    "experiment_name",
    "paper",
)


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out or {prefix[:-1]: {}}
    return {prefix[:-1]: d}


def _runtime(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in RUNTIME_KEYS)


def check_same_config(saved_yaml: str | None, cfg: DictConfig, path) -> None:
    """Refuse a resume whose config differs from the checkpoint's in anything but runtime keys
    (keys missing on either side, from an older or newer schema, are not compared)."""
    if not saved_yaml:
        return
    from snnexp.config.gate import check_config  # a stored config is a config like any other

    saved = _flat(
        OmegaConf.to_container(check_config(saved_yaml, f"{path}: its stored config"), resolve=False)
    )
    now = _flat(OmegaConf.to_container(cfg, resolve=True))
    for key in sorted(saved.keys() & now.keys()):
        if not _runtime(key) and saved[key] != now[key]:
            raise CheckpointError(
                f"resume: {key}={now[key]!r} differs from {saved[key]!r} in {path}, and a resumed run "
                f"keeps its optimizer, schedule and model as saved; resume with {key}={saved[key]!r}, "
                "or start a new run (another hydra.run.dir) for the new value"
            )


def check_new_length(ckpt: dict[str, Any], cfg: DictConfig, path) -> None:
    """A resume with another ``trainer.epochs`` is allowed only when the run so far is what a fresh
    run of the new length would have done: the same learning rate at every step taken (and the one
    about to be taken), and no evaluation a fresh run would have skipped. A cosine over the whole
    run changes with its length, so extending one is refused; a constant or step schedule (or a
    cosine with an explicit ``t_max``) extends exactly."""
    from snnexp.engine.schedule import lr_lambda

    saved = OmegaConf.create(ckpt.get("config") or "{}")
    old, new = int(saved.get("trainer", {}).get("epochs", 0)), int(cfg.trainer.epochs)
    if not old or old == new:
        return
    step, epoch, in_epoch = int(ckpt["step"]), int(ckpt["epoch"]), int(ckpt["step_in_epoch"])
    per_epoch = int(ckpt.get("steps_per_epoch") or ((step - in_epoch) // epoch if epoch else 0))
    why = None
    if not per_epoch:
        why = "the checkpoint does not say how many steps an epoch has"
    else:
        f_old = lr_lambda(saved.sched, float(saved.optim.lr), old, per_epoch)
        f_new = lr_lambda(cfg.sched, float(cfg.optim.lr), new, per_epoch)
        changed = next((i for i in range(step + 1) if f_old(i) != f_new(i)), None)
        every = int(saved.trainer.get("eval_every", 1))
        if changed is not None:
            why = f"the {cfg.sched.name} schedule over {new} epochs has another lr at step {changed + 1}"
        elif epoch == old and old % every:
            why = f"epoch {old} was evaluated as the last one (trainer.eval_every={every})"
    if why:
        raise CheckpointError(
            f"resume: trainer.epochs={new} differs from {old} in {path}, and {why}: the result would "
            f"be no run of either length; resume with trainer.epochs={old}, or start a new run"
        )


def decide_start(run_dir: str | Path, cfg: DictConfig) -> Start:
    """What a start in ``run_dir`` does (engine/rundir.py: refuse, continue, restart, nothing), with
    the checkpoint it continues from checked against ``cfg`` (``Start.checkpoint``, loaded once)."""
    from snnexp.engine.checkpoint import load_checkpoint

    start = check_start(run_dir, cfg.resume, int(cfg.trainer.epochs))
    if start.restart:  # config.yaml of the run that never reached a checkpoint: the same run?
        saved = Path(run_dir) / "config.yaml"
        check_same_config(saved.read_text() if saved.is_file() else None, cfg, saved)
    if start.resume_from and not start.finished:
        ckpt = load_checkpoint(start.resume_from)
        check_same_config(ckpt.get("config"), cfg, start.resume_from)
        check_new_length(ckpt, cfg, start.resume_from)
        start.checkpoint = ckpt
    return start


__all__ = ["RUNTIME_KEYS", "check_new_length", "check_same_config", "decide_start"]
