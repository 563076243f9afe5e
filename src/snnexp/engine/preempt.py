"""Stopping on a scheduler's signal: a checkpoint at the next step boundary, then the signal's
own course (a requeue, or the end of the process).

A cluster warns a job before it stops it. SLURM sends SIGTERM on preemption and at the time
limit (and SIGKILL ``KillWait`` seconds later, 30 s by default), and the signal a job asks for
with ``--signal=USR1@<s>`` (submitit: SIGUSR2, ``hydra.launcher.signal_delay_s``) <s> seconds
before the time limit. During :meth:`Run.fit` such a signal only raises a flag; the loop looks
at it after every optimizer step (all DDP ranks agree on the step, one all-reduce), writes
``last.pt`` there, records the run as "stopped" and only then lets the signal take its course:

- under submitit (``launcher=slurm``, ``launcher=submitit_local``): submitit's
  checkpoint-and-requeue handler, which puts the job back in the queue with ``resume=auto``
  (hydra_plugins/snnexp_requeue) and exits;
- elsewhere: the handler that was there before, or, by default, the signal itself again, so the
  process ends as it would have (the exit status a scheduler expects), with
  ``scontrol requeue`` first under a bare SLURM job warned by SIGUSR1/SIGUSR2.

A second signal while the checkpoint is pending does not wait. SIGINT (Ctrl-C) is not caught here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading

import torch

from snnexp.engine.distributed import Dist, all_reduce_sum

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)
WARNING_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)  # sent ahead of a time limit, never by `kill`


class Stop(Exception):
    """Raised inside the loop at the step boundary after the checkpoint is written."""


class StopSignals:
    """Installed for the duration of ``fit()`` (main thread only: Python runs signal handlers
    there; a run in another thread keeps the process's handlers)."""

    def __init__(self, dist: Dist, device: torch.device):
        self.dist, self.device = dist, device
        self.received: int | None = None
        self.previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                before = signal.getsignal(sig)
                if before is not signal.SIG_IGN:
                    self.previous[sig] = before
                    signal.signal(sig, self._note)
        return self

    def __exit__(self, *exc) -> None:
        self._restore()

    def _restore(self) -> None:
        for sig, before in self.previous.items():
            signal.signal(sig, before if before is not None else signal.SIG_DFL)

    def _note(self, signum: int, frame) -> None:
        if self.received is not None:  # asked twice: no more waiting for the step to end
            self.received = signum
            self.hand_over()
            return
        self.received = signum
        if self.dist.is_main:
            print(
                f"snnexp: {signal.Signals(signum).name}: checkpoint at the end of this step, then stop",
                file=sys.stderr,
                flush=True,
            )

    def due(self) -> bool:
        """True on every rank once any rank got a signal (collective: every rank calls it at
        the same step)."""
        flag = float(self.received is not None)
        if not self.dist.enabled:
            return bool(flag)
        t = torch.tensor([flag], device=self.device)
        return bool(all_reduce_sum(t, self.dist).item() > 0)

    def hand_over(self) -> None:
        """After the checkpoint (and the run lock released): the signal's own course."""
        signum = self.received
        if signum is None:
            return
        self._restore()
        requeue = _submitit_requeue(self.previous)
        if requeue is not None:  # checkpoint() of the launcher, requeue, sys.exit (rank 0)
            requeue(signum, None)
            return
        before = self.previous.get(signum, signal.SIG_DFL)
        if callable(before):
            before(signum, None)
            return
        if signum in WARNING_SIGNALS and self.dist.is_main:
            _scontrol_requeue()
        os.kill(os.getpid(), signum)  # the default action: the process ends by the signal


def _submitit_requeue(previous: dict[int, object]):
    """submitit's checkpoint-and-requeue handler, if this process runs a submitit job."""
    for handler in previous.values():
        owner = getattr(handler, "__self__", None)
        requeue = getattr(owner, "checkpoint_and_try_requeue", None)
        if requeue is not None:
            return requeue
    return None


def _scontrol_requeue() -> None:
    """A bare ``sbatch --requeue`` job warned of its time limit puts itself back in the queue."""
    job = os.environ.get("SLURM_JOB_ID")
    tool = shutil.which("scontrol")
    if not job or not tool:
        return
    r = subprocess.run([tool, "requeue", job], capture_output=True, text=True)
    print(
        f"snnexp: scontrol requeue {job}: "
        + ("done" if r.returncode == 0 else f"failed ({(r.stderr or r.stdout).strip()})"),
        file=sys.stderr,
        flush=True,
    )


__all__ = ["STOP_SIGNALS", "Stop", "StopSignals"]
