"""snnexp train: compose, train, write the run directory."""

from __future__ import annotations

import sys
from pathlib import Path

CONFIG_NAME = "train"


def precheck(cfg, overrides: list[str], multirun: bool) -> bool:
    """Before Hydra writes ``.hydra/`` into the run directory: refuse a start that would overwrite
    or retrain a run, or whose directory cannot be made, and leave a finished run untouched.
    False: nothing to do (already finished)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from snnexp.engine.resume import decide_start
    from snnexp.engine.rundir import check_writable
    from snnexp.errors import ConfigError

    given = {
        o.get_key_element(): o.value() for o in OverridesParser.create().parse_overrides(list(overrides))
    }
    where = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    if cfg.resume == "auto" and not given.get(where):  # the default dir is new: nothing to continue
        raise ConfigError(
            f"resume=auto continues the {'sweep' if multirun else 'run'} in {where}, and none was given "
            f"(the default directory is a new one each time); add {where}=<its directory>"
        )
    if multirun:  # a sweep's job dirs are new; the engine checks each one
        check_writable(given.get("hydra.sweep.dir") or "outputs", "hydra.sweep.dir")
        return True
    run_dir = given.get("hydra.run.dir")
    if run_dir is None:  # the default run dir has a timestamp and a per-process id: always new
        check_writable("outputs", "hydra.run.dir")
        return True
    if cfg.resume == "auto" and not Path(run_dir).exists():  # said out loud, not a silent fresh start
        print(f"snnexp: resume=auto: {run_dir} does not exist yet; starting a new run there", file=sys.stderr)
    check_writable(run_dir, "hydra.run.dir")
    start = decide_start(run_dir, cfg)  # the engine's own decision, asked before Hydra writes .hydra/
    if start.finished:
        print(
            f"snnexp: {run_dir} already finished {cfg.trainer.epochs} epochs (nothing changed)",
            file=sys.stderr,
        )
    return not start.finished


def _parallel_jobs() -> int:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from snnexp.engine.threads import parallel_jobs

    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return 1
    return parallel_jobs(hc.launcher.get("n_jobs", 1))


def _sweep_progress() -> None:
    """A sweep's progress line at the start of each job: k of N, and the time left at the pace of
    the jobs so far (parallel jobs included)."""
    import os
    import time

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    n, t0 = int(os.environ.get("SNNEXP_SWEEP_RUNS") or 0), float(os.environ.get("SNNEXP_SWEEP_T0") or 0)
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN or n <= 1 or not t0:
        return
    k, spent = int(hc.job.num), time.time() - t0
    eta = f", ETA {spent / k * (n - k) / 60:.1f} min" if k else ""
    print(
        f"snnexp: sweep run {k + 1}/{n} ({k} done in {spent / 60:.1f} min{eta})", file=sys.stderr, flush=True
    )


def task(cfg, flags: set[str]) -> None:
    from hydra.core.hydra_config import HydraConfig

    from snnexp.console import tee_to_log
    from snnexp.engine.rundir import remove_stub
    from snnexp.engine.trainer import train
    from snnexp.errors import UserError

    run_dir = HydraConfig.get().runtime.output_dir
    jobs = _parallel_jobs()
    _sweep_progress()
    prefix = f"[{Path(run_dir).name}] " if jobs > 1 else ""  # lines of parallel jobs interleave
    try:
        with tee_to_log(run_dir, prefix):
            metrics = train(cfg, run_dir, jobs=jobs)
            best, last = metrics.get("best_acc1"), metrics.get("last_acc1")
            if best is not None:
                print(
                    f"done: best test acc1 {best:.2f}% (epoch {metrics['best_epoch']}), last {last:.2f}%  "
                    f"-> {metrics['run_dir']}"
                )
    except UserError as e:
        remove_stub(run_dir)  # a config or data error leaves no near-empty run directory behind
        _log_error(Path(run_dir), e)
        raise


def _log_error(run_dir: Path, e: Exception) -> None:
    """The error line the console gets, also at the end of the run's snnexp.log (a run that
    diverged or met a bad checkpoint keeps its directory, and its log says why it stopped)."""
    log = run_dir / "snnexp.log"
    if log.is_file():
        with open(log, "a") as f:
            f.write(f"snnexp: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}\n")
