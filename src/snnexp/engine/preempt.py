"""Stopping on a scheduler's signal: a checkpoint at the next step boundary, then the signal's
own course (a requeue, or the end of the process).

A cluster warns a job before it stops it. SLURM sends SIGTERM on preemption and at the time
limit (and SIGKILL ``KillWait`` seconds later, 30 s by default), and the signal a job asks for
with ``--signal=USR1@<s>`` (submitit: SIGUSR2, ``hydra.launcher.signal_delay_s``) <s> seconds
before the time limit. During :meth:`Run.fit` such a signal only raises a flag; the run stops
as for any other stop (``Run.request_stop``: the loop looks after every optimizer step, under DDP
every ``logger.log_every`` steps, where the ranks agree), writes
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

WARNING_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)  # sent ahead of a time limit, never by `kill`
WARNING_NAMES = tuple(s.name for s in WARNING_SIGNALS)


class StopSignals:
    """Installed for the duration of ``fit()`` (main thread only: Python runs signal handlers
    there; a run in another thread keeps the process's handlers). The first warning asks the run
    to stop (``request_stop``: last.pt at the next step boundary, status "stopped"); SIGINT and
    SIGTERM are the run's own (engine/lifecycle.py)."""

    def __init__(self, request_stop, is_main: bool = True):
        self.request_stop, self.is_main = request_stop, is_main
        self.received: int | None = None
        self.previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in WARNING_SIGNALS:
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
        print(
            f"snnexp: {signal.Signals(signum).name}: checkpoint at the end of this step, then stop",
            file=sys.stderr,
            flush=True,
        )
        self.request_stop(signal.Signals(signum).name)

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
        if signum in WARNING_SIGNALS and self.is_main:
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


__all__ = ["WARNING_NAMES", "WARNING_SIGNALS", "StopSignals"]
