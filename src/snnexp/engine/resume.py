"""What a checkpoint holds of a run and how a resume restores it exactly.

Besides model, optimizer, scheduler, scaler and RNG states, a checkpoint written inside an epoch
carries the epoch's partial sums (loss, correct@1/5, samples) so that the resumed epoch's train
loss and accuracy cover the whole epoch, and the wall time so far (``wall_time_s`` adds up across
resumes).

A resume continues the optimizer and the schedule from their saved state, so a changed optimizer,
schedule or model setting would be silently ignored while ``config.yaml`` recorded it: such a
resume is refused (:func:`check_same_config`); only runtime keys may differ.
"""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

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


def state_dict(run) -> dict[str, Any]:
    from snnexp.engine import checkpoint as ck

    return {
        "model": run.model.state_dict(),
        "optimizer": run.opt.state_dict(),
        "scheduler": run.sched.state_dict(),
        "scaler": run.scaler.state_dict(),
        "rng": ck.rng_state(),
        "epoch": run.epoch,
        "step": run.step,
        "step_in_epoch": run.step_in_epoch,
        "epoch_sums": run.epoch_sums.t.detach().cpu().clone(),  # the epoch so far (mid-epoch saves)
        "wall_time_s": run.wall_time(),
        "history": run.history,
        "config": OmegaConf.to_yaml(run.cfg, resolve=True),
        "snnexp_version": 1,
    }


def restore(run, c: dict[str, Any], path) -> None:
    from snnexp.engine import checkpoint as ck

    check_same_config(c.get("config"), run.cfg, path)
    ck.load_weights(run.model, c, path, hint="; resume with the overrides it was trained with")
    run.opt.load_state_dict(c["optimizer"])
    run.sched.load_state_dict(c["scheduler"])
    run.scaler.load_state_dict(c["scaler"])
    ck.set_rng_state(c["rng"])
    run.epoch, run.step, run.step_in_epoch = c["epoch"], c["step"], c["step_in_epoch"]
    if run.step_in_epoch and "epoch_sums" in c:
        run.epoch_sums.t.copy_(torch.as_tensor(c["epoch_sums"], dtype=torch.float64))
    run.wall_before = float(c.get("wall_time_s", 0.0))
    run.history = list(c.get("history", []))


__all__ = ["RUNTIME_KEYS", "check_same_config", "restore", "state_dict"]
