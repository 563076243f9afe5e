"""hydra-submitit-launcher's launchers, with one change: a job that submitit requeues after a
preemption or at its time limit comes back with ``resume=auto``, so it continues from the
checkpoint the run wrote when the signal came (snnexp/engine/preempt.py) instead of being
refused by its own run directory. ``conf/launcher/slurm.yaml`` and ``submitit_local.yaml`` name
these classes as ``hydra.launcher._target_``.
"""

from __future__ import annotations

from typing import Any

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher


def with_resume_auto(overrides: list[str]) -> list[str]:
    return [o for o in overrides if not o.lstrip("+~").startswith("resume=")] + ["resume=auto"]


class _Requeue:
    def checkpoint(self, sweep_overrides: list[str], *args: Any, **kwargs: Any) -> Any:
        """What submitit pickles for the requeued job: the same job, resuming its run."""
        import submitit

        return submitit.helpers.DelayedSubmission(self, with_resume_auto(sweep_overrides), *args, **kwargs)


class RequeueLocalLauncher(_Requeue, LocalLauncher):
    """``launcher=submitit_local``: submitit's local executor (the SLURM code path, no scheduler)."""


class RequeueSlurmLauncher(_Requeue, SlurmLauncher):
    """``launcher=slurm``: one SLURM job per sweep point."""
