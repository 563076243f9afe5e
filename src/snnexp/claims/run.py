"""Running claims: plan every (claim, arm, seed), train each distinct configuration once (claims
that share an arm share its runs), measure, then apply each claim's rule.

Work runs in ``jobs`` worker processes side by side, one CPU thread each (``threads=1`` is part of
every run's config, so a result is the same bits however many jobs ran it)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from snnexp.claims.spec import Claim, parse_claim
from snnexp.claims.verdict import decide, mean_std
from snnexp.config import compose
from snnexp.errors import RunInterrupted, TrainingDiverged, UserError

FIXED = ["logger=none", "trainer.progress=false", "threads=1"]
NOT_HASHED = ("claim", "experiment_name", "paper")  # labels only: the same training under another name
MEMORY_BATCH = 8


@dataclass
class Job:
    claim: Claim
    arm: str
    seed: int
    cfg: DictConfig  # the arm's config (kind eval: the claim's own, which is trained)
    run_dir: Path | None = None  # kinds train and eval: the training run measured
    eval_overrides: tuple[str, ...] = ()


def load_claim(claim_id: str) -> Claim:
    cfg = compose([f"experiment={claim_id}"])
    return parse_claim(claim_id, OmegaConf.to_container(cfg.claim, resolve=True))


def arm_config(claim: Claim, arm_overrides: list[str], seed: int, quick: bool) -> DictConfig:
    extra = claim.quick if quick else []
    return compose([f"experiment={claim.id}", *arm_overrides, f"seed={seed}", *FIXED, *extra])


def run_dir_for(out: Path, cfg: DictConfig) -> Path:
    """One directory per resolved training config (claim labels left out): a changed claim file
    never reuses an old run, and two claims with the same arm train it once."""
    data = OmegaConf.to_container(cfg, resolve=True)
    for key in NOT_HASHED:
        data.pop(key, None)
    digest = hashlib.sha1(OmegaConf.to_yaml(OmegaConf.create(data)).encode()).hexdigest()[:10]
    return out / "runs" / f"{cfg.model.name}-seed{cfg.seed}-{digest}"


def plan(claims: list[Claim], out: Path, quick: bool) -> list[Job]:
    jobs = []
    for claim in claims:
        for arm in claim.arms:
            for seed in claim.seeds[:1] if quick else claim.seeds:
                if claim.kind == "eval":  # the arm is how the claim's own training is evaluated
                    cfg = arm_config(claim, [], seed, quick)
                    jobs.append(Job(claim, arm.label, seed, cfg, run_dir_for(out, cfg), tuple(arm.overrides)))
                else:
                    cfg = arm_config(claim, arm.overrides, seed, quick)
                    run_dir = run_dir_for(out, cfg) if claim.kind == "train" else None
                    jobs.append(Job(claim, arm.label, seed, cfg, run_dir))
    return jobs


# ------------------------------------------------------------------ what a worker does
def _init_worker() -> None:
    """One CPU thread; die with the parent (kill -9 of `snnexp claims` must not leave workers
    training on, holding the run dirs' locks against the next `snnexp claims`); and leave Ctrl-C to
    the parent, which stops the workers itself (:func:`_stop_workers`; a run in training takes the
    terminal's SIGINT too and stops at its next step)."""
    import ctypes
    import os
    import signal

    import torch

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)
    torch.set_num_threads(1)


@contextlib.contextmanager
def _quiet(log: Path | None = None):
    """A run's own lines (epochs, neuron path) stay off the claims' console; with ``log``, they
    are appended to that file (the run's snnexp.log) as `snnexp train` would have written them."""
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        if log is not None and log.parent.is_dir() and sink.getvalue():
            with open(log, "a") as f:
                f.write(sink.getvalue())


_INTERRUPTED: list[RunInterrupted] = []  # a worker whose run was stopped by a signal starts no other


def _train(cfg: DictConfig, run_dir: Path) -> dict:
    from snnexp.claims.measure import ensure_trained

    if _INTERRUPTED:  # a queued call that reached this worker before the pool was told to stop
        raise _INTERRUPTED[0]
    try:
        with _quiet(run_dir / "snnexp.log"):
            return ensure_trained(cfg, run_dir)
    except RunInterrupted as e:
        _INTERRUPTED.append(e)
        raise
    except TrainingDiverged as e:  # that arm has no number, and the table says so (any other error stops)
        print(f"snnexp claims: {run_dir}: {e}", file=sys.stderr, flush=True)
        return {"status": "failed", "error": str(e)}


def _measure(job: Job) -> float:
    from snnexp.claims import measure

    c = job.claim
    with _quiet():
        if c.kind == "eval":
            return measure.eval_value(job.cfg, job.run_dir, list(job.eval_overrides), c.metric)
        if c.kind == "memory":
            return measure.memory_value(job.cfg, c.compare_T, MEMORY_BATCH)
        return measure.analysis_value(job.cfg, c.kind, c.metric)


def _execute(fn: Callable, items: list, n_jobs: int, names: list[str]) -> list:
    """``fn(*item)`` for every item, in ``n_jobs`` processes; progress with an ETA on stderr."""
    if not items:
        return []
    t0, results = time.time(), [None] * len(items)

    def done(k: int, i: int) -> None:
        spent = time.time() - t0
        eta = spent / k * (len(items) - k)  # wall time per item so far, parallel jobs included
        print(
            f"snnexp claims: [{k}/{len(items)}] {names[i]}  ({spent:.0f} s, ETA {eta / 60:.1f} min)",
            file=sys.stderr,
            flush=True,
        )

    with _sigterm_interrupts():
        if n_jobs <= 1:
            for k, (i, item) in enumerate(enumerate(items), 1):
                results[i] = fn(*item)
                done(k, i)
            return results
        return _in_pool(fn, items, n_jobs, results, done)


def _in_pool(fn: Callable, items: list, n_jobs: int, results: list, done: Callable) -> list:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")  # no fork of a process that holds torch's threads
    pool = ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx, initializer=_init_worker)
    try:
        # the workers are born ignoring SIGINT (inherited through exec): a Ctrl-C while they import
        # torch must not print their tracebacks; the parent stops them (_stop_workers)
        with _sigint_ignored():
            futures = {pool.submit(fn, *item): i for i, item in enumerate(items)}
        for k, f in enumerate(as_completed(futures), 1):
            results[futures[f]] = f.result()
            done(k, futures[f])
    except BrokenProcessPool:
        raise UserError(
            "a worker process died (killed, or out of memory); run the same command again: "
            "finished runs are kept and a cut run resumes from its last checkpoint"
        ) from None
    except (KeyboardInterrupt, RunInterrupted):
        _stop_workers(pool)
        raise RunInterrupted(
            "snnexp claims: interrupted; queued runs cancelled, running ones stopped at their next "
            "step with a checkpoint; the same command continues them"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def _stop_workers(pool, grace_s: float = 20.0) -> None:
    """Cancel what has not started; SIGTERM each worker, again every second while it runs (a run in
    training stops at its next step, checkpoint written, status stopped, and ignores the repeats;
    a worker outside a run, or that just finished one, ends); SIGKILL any still there after
    ``grace_s`` (a run killed that way resumes from its last checkpoint all the same)."""
    import os
    import signal

    procs = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.time() + grace_s
    while (left := [p for p in procs if _running(p.pid)]) and time.time() < deadline:
        for p in left:
            with contextlib.suppress(OSError):
                os.kill(p.pid, signal.SIGTERM)
        time.sleep(1.0)  # not p.join(): the pool's own thread may have reaped them already
    for p in procs:
        if _running(p.pid):
            p.kill()


def _running(pid: int | None) -> bool:
    """The process exists and is not a zombie (it still runs, and may still hold a run's lock)."""
    import os

    if pid is None:
        return False
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return not os.path.isdir("/proc")  # no /proc (macOS): assume it runs


@contextlib.contextmanager
def _sigint_ignored():
    import signal

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM (``kill``, a scheduler) ends ``snnexp claims`` as Ctrl-C does: cleanly, with the
    workers stopped, not with orphans left training."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


# ------------------------------------------------------------------ the whole run
def _unique_trainings(jobs: Iterable[Job]) -> dict[Path, DictConfig]:
    runs: dict[Path, DictConfig] = {}
    for j in jobs:
        if j.run_dir is not None:
            runs.setdefault(j.run_dir, j.cfg)
    return runs


def estimate(runs: dict[Path, DictConfig], n_jobs: int) -> float:
    """Before the first run: the time of the training runs still to do, from one probe per distinct
    setting (snnexp/estimate.py; runs that differ only in the seed share one). The measurements
    after training (eval, memory, analysis) are not included. Returns the seconds."""
    import json

    from snnexp.estimate import human, overhead, probe, run_seconds

    todo = [cfg for rd, cfg in runs.items() if not _finished(rd)]
    extra = overhead(todo[0]) if todo else None  # build, checkpoints, plots: same for all runs here
    probes: dict[str, float] = {}
    total = 0.0
    for cfg in todo:
        plain = OmegaConf.to_container(cfg, resolve=True)
        plain.pop("seed", None)
        key = json.dumps(plain, sort_keys=True, default=str)
        if key not in probes:
            probes[key] = run_seconds(cfg, probe(cfg, jobs=n_jobs), extra)
        total += probes[key]
    wall = total / max(1, min(n_jobs, len(todo)))
    print(
        f"snnexp claims: {len(todo)} of {len(runs)} training runs to do "
        f"({len(runs) - len(todo)} done before), "
        f"estimated {human(wall)} on this machine ({len(probes)} settings probed, {n_jobs} jobs)",
        file=sys.stderr,
        flush=True,
    )
    return wall


def _finished(run_dir: Path) -> bool:
    from snnexp.runfiles import read_metrics

    try:
        return read_metrics(run_dir).get("status") == "finished"
    except (OSError, ValueError):
        return False


def run_claims(claims: list[Claim], out: Path, quick: bool = False, n_jobs: int = 1) -> list[dict[str, Any]]:
    """Measure every arm x seed of every claim; returns each claim's result (JSON-able)."""
    jobs = plan(claims, out, quick)
    runs = _unique_trainings(jobs)
    print(f"snnexp claims: {len(claims)} claims, {len(runs)} training runs, {n_jobs} jobs", file=sys.stderr)
    estimate(runs, n_jobs)
    trained = _execute(_train, [(cfg, rd) for rd, cfg in runs.items()], n_jobs, [rd.name for rd in runs])
    metrics = dict(zip(runs, trained, strict=True))
    measured = [j for j in jobs if j.claim.kind != "train"]
    names = [f"{j.claim.id} [{j.arm}] seed {j.seed}" for j in measured]
    found = _execute(_measure, [(j,) for j in measured], n_jobs, names)
    values = dict(zip(map(id, measured), found, strict=True))
    for j in jobs:
        if j.claim.kind == "train":
            values[id(j)] = _metric(metrics[j.run_dir], j.claim.metric)
    return [_result(c, [j for j in jobs if j.claim is c], values, quick) for c in claims]


def _metric(metrics: dict, metric: str) -> float:
    value = metrics.get(metric)
    return float("nan") if value is None else float(value)


def _result(claim: Claim, jobs: list[Job], values: dict[int, float], quick: bool) -> dict[str, Any]:
    per_arm: dict[str, list[float]] = {a.label: [] for a in claim.arms}
    runs: dict[str, list[str]] = {a.label: [] for a in claim.arms}
    for j in jobs:
        per_arm[j.arm].append(values[id(j)])
        if j.run_dir is not None:
            runs[j.arm].append(str(j.run_dir))
    stats = {label: mean_std(v) for label, v in per_arm.items()}
    return {
        "id": claim.id,
        "paper": claim.paper,
        "paper_says": claim.paper_says,
        "source": claim.source,
        "test": claim.test,
        "metric": claim.metric,
        "rule": claim.rule_text(),
        "rule_spec": dict(claim.rule),
        "seeds": sorted({j.seed for j in jobs}),
        "quick": quick,
        "values": per_arm,
        "mean": {k: m for k, (m, _) in stats.items()},
        "std": {k: s for k, (_, s) in stats.items()},
        "runs": runs,
        "verdict": decide(claim.rule, per_arm),
    }
