"""The failure of one job of a sweep (``-m``), as Hydra's launchers should see it."""

from __future__ import annotations

from hydra.errors import CompactHydraException


class SweepJobFailed(CompactHydraException):
    """An ordinary exception, not ``sys.exit``: Hydra records the job as failed and the launcher
    (joblib's too, whose worker would die with a SystemExit and take the other jobs with it) runs
    the other jobs to the end; Hydra then prints this message, one line, and exits."""
