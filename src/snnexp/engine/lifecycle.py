"""The state of one run, owned by ``Run`` (engine/trainer.py, which adds the training loop): the
start decision, the checkpoint dict and its restore, the best epoch, stopping, and the files that
say where the run stands.

The lifecycle ``metrics.json`` records: ``started`` (no epoch done yet), ``running``,
``finished``, ``stopped`` (``stopped_by``: SIGINT/SIGTERM, ``stop_after_epochs``, ``on_epoch``)
and ``failed`` (``error``: its one line). A process killed outright (``kill -9``, out of memory)
records nothing; it leaves its lock, whose dead pid ``snnexp runs`` reads as ``crashed``.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from snnexp.engine import checkpoint as ck
from snnexp.engine.distributed import all_reduce_sum, broadcast_str
from snnexp.engine.resume import check_new_length, check_same_config, decide_start
from snnexp.engine.rundir import Start, remove_dead_tmp
from snnexp.runfiles import write_metrics, write_summary


class RunState:
    """The part of ``Run`` that is its state and lifecycle (no training here)."""

    def _start(self) -> Start:
        """Rank 0 takes the run dir's lock, then decides what this start does with it (under the
        lock: no other process can change it meanwhile); the other ranks follow (the checkpoint
        path is broadcast)."""
        start = Start(None)
        if self.dist.is_main:
            created = not self.run_dir.exists()
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.lock.acquire()  # raises, touching nothing, while a live process holds the dir
            try:
                start = decide_start(self.run_dir, self.cfg)
            except BaseException:
                self.lock.release()
                if created:
                    with contextlib.suppress(OSError):
                        self.run_dir.rmdir()
                raise
            if start.finished:
                self.lock.release()
            else:
                remove_dead_tmp(self.ckpt_dir)  # writes cut short by a crash (never a live process's)
                remove_dead_tmp(self.run_dir)
            if start.restart:
                print(
                    f"snnexp: {self.run_dir} stopped before its first checkpoint; starting it again "
                    "from scratch",
                    file=sys.stderr,
                )
        path = broadcast_str(
            str(start.resume_from or "") + ("|finished" if start.finished else ""), self.dist
        )
        path, _, done = path.partition("|")
        if not self.dist.is_main:
            return Start(Path(path) if path else None, finished=bool(done))
        return start

    # ------------------------------------------------------------------ checkpoint
    def wall_time(self) -> float:
        """Seconds of training so far, all resumes included."""
        return round(self.wall_before + time.time() - self.t0, 2)

    def checkpoint_dict(self) -> dict[str, Any]:
        """Everything a resume needs to continue bit for bit (tensors and plain values only: loaded
        with weights_only=True)."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": ck.rng_state(),
            "epoch": self.epoch,
            "step": self.step,
            "step_in_epoch": self.step_in_epoch,
            "steps_per_epoch": self.steps_per_epoch,  # a resume with another trainer.epochs checks it
            "epoch_sums": self.epoch_sums.t.detach().cpu().clone(),  # the epoch so far (mid-epoch saves)
            "wall_time_s": self.wall_time(),
            "history": self.history,
            "config": OmegaConf.to_yaml(self.cfg, resolve=True),
            "snnexp_version": 1,
        }

    def _load(self, path: Path, c: dict | None = None) -> None:
        """Restore :meth:`checkpoint_dict` (rank 0 has it loaded and checked by decide_start)."""
        if c is None:
            c = ck.load_checkpoint(path, map_location="cpu")
            check_same_config(c.get("config"), self.cfg, path)
            check_new_length(c, self.cfg, path)
        ck.load_weights(self.model, c, path, hint="; resume with the overrides it was trained with")
        self.opt.load_state_dict(c["optimizer"])
        self.sched.load_state_dict(c["scheduler"])
        self.scaler.load_state_dict(c["scaler"])
        ck.set_rng_state(c["rng"])
        self.epoch, self.step, self.step_in_epoch = c["epoch"], c["step"], c["step_in_epoch"]
        if self.step_in_epoch and "epoch_sums" in c:
            self.epoch_sums.t.copy_(torch.as_tensor(c["epoch_sums"], dtype=torch.float64))
        self.wall_before = float(c.get("wall_time_s", 0.0))
        self.history = list(c.get("history", []))
        if self.dist.is_main:
            where = f"epoch {self.epoch}" + (f", batch {self.step_in_epoch}" if self.step_in_epoch else "")
            print(f"snnexp: resumed from {path} at {where}", file=sys.stderr)

    def _save(self, name: str = "last.pt") -> None:
        if self.dist.is_main:
            ck.save_atomic(self.checkpoint_dict(), self.ckpt_dir / name)

    def _mark_best(self) -> None:
        """best.pt = the checkpoint just written (a hard link: no second write)."""
        if not self.dist.is_main:
            return
        last, best = self.ckpt_dir / "last.pt", self.ckpt_dir / "best.pt"
        tmp = self.ckpt_dir / f".best.pt.{os.getpid()}{ck.TMP_SUFFIX}"
        try:
            os.link(last, tmp)
        except OSError:
            import shutil

            shutil.copyfile(last, tmp)
        os.replace(tmp, best)

    def best_row(self) -> dict[str, float] | None:
        """The epoch with the highest test acc@1 so far (the first of a tie: best.pt holds it)."""
        evaluated = [r for r in self.history if not math.isnan(r["test_acc1"])]
        return max(evaluated, key=lambda r: r["test_acc1"], default=None)

    # ------------------------------------------------------------------ stopping
    def request_stop(self, reason: str) -> None:
        """End the run at the next step boundary: last.pt is written there (inside an epoch if
        need be; a resume continues it exactly), metrics.json says ``stopped`` with
        ``stopped_by: reason``, the lock is released. The one way to stop a run from outside: the
        signal handler of :meth:`_stop_on_signals` calls it, and so may a cluster's preemption
        notice. Alone, a run checks it every step; under DDP every ``logger.log_every`` steps
        (the ranks agree on it then)."""
        self.stop_reason = reason

    def _stop_requested(self) -> bool:
        if not self.dist.enabled:
            return self.stop_reason is not None
        if self.step % int(self.cfg.logger.get("log_every", 50)):
            return False
        flag = torch.tensor([float(self.stop_reason is not None)], device=self.device)
        return bool(all_reduce_sum(flag, self.dist).item() > 0)

    @contextlib.contextmanager
    def _stop_on_signals(self):
        """SIGINT and SIGTERM request a stop (Ctrl-C, ``kill``, a scheduler's notice); a second
        Ctrl-C acts at once (KeyboardInterrupt: the run is recorded as stopped, last.pt is the last
        one written). A SIGTERM after the first signal changes nothing: Ctrl-C in a terminal
        reaches a `snnexp claims` worker and its parent, which then sends SIGTERM too."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        signums = (signal.SIGINT, signal.SIGTERM)
        before = {s: signal.getsignal(s) for s in signums}
        got: list[int] = []

        def handler(signum, frame):
            if got and signum == signal.SIGINT:
                raise KeyboardInterrupt
            if not got:
                self.request_stop(signal.Signals(signum).name)
            got.append(signum)

        for s in signums:
            signal.signal(s, handler)
        try:
            yield
        finally:
            for s, h in before.items():
                signal.signal(s, h)

    # ------------------------------------------------------------------ files
    def _record_end(self, status: str, stopped_by: str | None = None, error: str | None = None) -> None:
        """metrics.json says how the run ended, as far as the disk lets it (a full disk may not)."""
        if not hasattr(self, "history"):
            return
        self.stop_reason = stopped_by
        with contextlib.suppress(OSError):
            self._write_files(status=status, error=error)

    def _write_files(self, status: str, error: str | None = None) -> dict[str, Any]:
        last = self.history[-1] if self.history else {}
        best_row = self.best_row() or {}
        metrics = {
            "status": status,
            "epochs_done": len(self.history),  # epochs with a row (a diverged epoch has none)
            "epochs": int(self.cfg.trainer.epochs),
            "last_acc1": last.get("test_acc1"),
            "last_acc5": last.get("test_acc5"),
            "last_test_loss": last.get("test_loss"),
            "last_train_loss": last.get("train_loss"),
            "best_acc1": best_row.get("test_acc1"),
            "best_epoch": best_row.get("epoch"),  # the first epoch of the best (best.pt holds it)
            # the papers' acc@5 is its own maximum over epochs, not the acc@5 of the best acc@1 epoch
            "best_acc5": max(
                (r["test_acc5"] for r in self.history if not math.isnan(r["test_acc5"])), default=None
            ),
            "params": self.n_params,
            "experiment_name": self.cfg.get("experiment_name"),
            "world_size": self.dist.world_size,
            "threads": self.threads,  # intra-op CPU threads: results are bitwise only for the same count
            "effective": getattr(self, "effective", {}),  # keys this device overrode (trainer.amp on a CPU)
            "wall_time_s": self.wall_time(),
            "run_dir": str(self.run_dir),
        }
        if status == "stopped":
            metrics["stopped_by"] = self.stop_reason
        if error is not None:
            metrics["error"] = error
        if self.dist.is_main:
            write_summary(self.run_dir, self.history)
            write_metrics(self.run_dir, metrics)
        return metrics


__all__ = ["RunState"]
