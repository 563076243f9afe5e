"""A run directory's guards: what a start may do with it, and a lock naming the process that trains in it.

``check_start`` decides before anything is written (``engine/resume.py``'s ``decide_start``, the
one start decision, calls it; the CLI asks that before Hydra writes ``.hydra/``):

- no ``resume``: the directory must not hold a run already;
- ``resume=auto``: continue from ``checkpoints/last.pt``; a run that stopped before its first
  checkpoint (killed in its first epoch, preempted) has nothing to lose and starts again from
  scratch (``Start.restart``); a run that did epochs but has no ``last.pt`` (checkpoints deleted)
  is refused, never retrained over;
- a run that already finished its epochs is left untouched (``Start.finished``).

Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from snnexp.errors import CheckpointError
from snnexp.runfiles import LOCK, RUN_FILES, holder_gone, lock_holder, pid_alive, read_metrics, read_summary


@dataclass
class Start:
    resume_from: Path | None  # the checkpoint to continue from
    finished: bool = False  # the run already did its epochs: nothing to do, nothing to write
    restart: bool = False  # resume=auto on a run stopped before its first checkpoint: from scratch
    checkpoint: dict | None = None  # resume_from, loaded and checked (engine/resume.py)


def epochs_done(run_dir: Path) -> int:
    """Epochs the run recorded as done (metrics.json, else the rows of summary.csv)."""
    m = read_metrics(run_dir)
    if isinstance(m.get("epochs_done"), int):
        return m["epochs_done"]
    return len(read_summary(run_dir))


def check_start(run_dir: str | Path, resume: str | None, epochs: int) -> Start:
    run_dir = Path(run_dir)
    last = run_dir / "checkpoints" / "last.pt"
    holds_run = last.is_file() or any((run_dir / f).is_file() for f in RUN_FILES)
    check_lock(run_dir)
    if resume in (None, "", "none"):
        if holds_run:
            raise CheckpointError(
                f"{run_dir} already holds a run; resume=auto continues it, or pick another "
                "hydra.run.dir (nothing was overwritten)"
            )
        return Start(None)
    if resume == "auto":
        done = epochs_done(run_dir) if holds_run else 0
        if not last.is_file():
            if done:
                raise CheckpointError(
                    f"{run_dir} holds a run but no checkpoints/last.pt to continue from ({done} "
                    "epochs were done: retraining would lose them); pick another hydra.run.dir "
                    "(nothing was overwritten)"
                )
            return Start(None, restart=holds_run)  # nothing was trained that a restart could lose
        if done > epochs:
            raise CheckpointError(
                f"{run_dir} has done {done} epochs, more than trainer.epochs={epochs}; resume with "
                f"trainer.epochs>={done} (nothing was changed)"
            )
        status = read_metrics(run_dir).get("status")
        return Start(last, finished=status in ("finished", "stopped") and done >= epochs)
    p = Path(resume).expanduser()
    if not p.is_file():
        raise CheckpointError(
            f"resume={resume}: no such checkpoint file (use resume=auto to continue the run in hydra.run.dir)"
        )
    if holds_run:
        raise CheckpointError(
            f"{run_dir} already holds a run; resume={resume} starts a new run: pick another hydra.run.dir"
        )
    return Start(p)


def check_writable(path: str | Path, key: str) -> None:
    """Make the directory (Hydra would next) and check a file can be created in it: one line
    instead of Hydra's stack trace for a path under a file, in /proc, or without permission."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / f".snnexp-write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise CheckpointError(f"{key}={path}: cannot write there ({e.strerror or e})") from None


# ------------------------------------------------------------------------------------- lock
def check_lock(run_dir: Path) -> None:
    h = lock_holder(run_dir)
    if h is None or h.get("pid") == os.getpid() or holder_gone(h):
        return
    raise CheckpointError(
        f"{run_dir} is in use by pid {h.get('pid')} on {h.get('host')} (lock file {run_dir / LOCK}); "
        "wait for it, or delete the lock file if that process is gone"
    )


class RunLock:
    """``run_dir/.lock`` holding {pid, host} while a process trains in the directory; a lock whose
    holder is dead (same host) is taken over. Created with O_EXCL, so two starts cannot both win."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK
        self.held = False

    def acquire(self) -> RunLock:
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                check_lock(self.path.parent)  # raises unless the holder is gone (or is us)
                self.path.unlink(missing_ok=True)  # stale: take it over
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return self
        check_lock(self.path.parent)
        return self

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


_TMP = re.compile(r"^\..+\.(\d+)\.tmp$")  # .<name>.<pid>.tmp: checkpoint.save_atomic, runfiles


def remove_dead_tmp(directory: str | Path) -> list[Path]:
    """Temporary files whose writer is dead (a write cut short by a crash). Called with the lock
    held; a file of a live process (its pid in the name) is never touched."""
    d = Path(directory)
    dead = [
        p
        for p in (d.iterdir() if d.is_dir() else [])
        if (m := _TMP.match(p.name)) and not pid_alive(int(m[1]))
    ]
    for p in dead:
        p.unlink(missing_ok=True)
    return dead


# ------------------------------------------------------------------------------------- stubs
def remove_stub(run_dir: str | Path) -> bool:
    """Remove what a failed start left (Hydra's ``.hydra/`` and an empty ``snnexp.log``) when
    the directory holds nothing else, and the parents it left empty under the working directory
    (``outputs/runs/<date>/``); never the working directory or one above it."""
    d = Path(run_dir).resolve()
    cwd = Path.cwd().resolve()
    if not d.is_dir() or cwd.is_relative_to(d):
        return False
    entries = {p.name for p in d.iterdir()}
    if not entries <= {".hydra", "snnexp.log", LOCK, "checkpoints"}:
        return False
    ck = d / "checkpoints"
    if ck.exists() and (not ck.is_dir() or any(ck.iterdir())):
        return False
    shutil.rmtree(d, ignore_errors=True)
    parent = d.parent
    while parent != cwd and parent.is_relative_to(cwd) and parent.is_dir() and not any(parent.iterdir()):
        try:
            parent.rmdir()
        except OSError:  # another run started in it meanwhile
            break
        parent = parent.parent
    return True


def new_run_dir() -> Path:
    """outputs/runs/<date>/<time>-<process id>: a run started without hydra.run.dir."""
    from snnexp.config.compose import _RUN_UID

    return Path("outputs/runs") / f"{time.strftime('%Y-%m-%d/%H-%M-%S')}-{_RUN_UID}"


__all__ = [
    "RunLock",
    "Start",
    "check_lock",
    "check_start",
    "check_writable",
    "epochs_done",
    "new_run_dir",
    "remove_dead_tmp",
    "remove_stub",
]
