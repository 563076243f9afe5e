"""Hyper-parameter search over any config keys: optuna's TPE sampler with its Hyperband pruner fed by
the per-epoch test accuracy, the BOHB recipe (Falkner et al. 2018) KEYS used for leak, T and lr
(Sec. 3.5, Table 9). Hydra's optuna sweeper pins optuna < 3 and has no pruner, hence this module.

- Every trial is an ordinary training run (``snnexp.train``) of the base config with the trial's
  values set, in ``<root>/trials/<number>``; after each epoch its test acc1 goes to the pruner, which
  may stop it there (Hyperband over epochs: ``min_resource`` .. ``trainer.epochs``).
- The study is ``<root>/study.db`` (SQLite): running the same search on the same directory resumes
  it; trials left running by a killed search are marked failed and their values queued again.
- ``n_jobs`` trials run at once, each in its own process, sharing the study through SQLite.
- The summary names the best trial and gives the mean and std of each value over the ``top_k`` best
  (KEYS Table 9: the leak as the mean (std) of the 6 best configurations).
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import statistics
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from snnexp.errors import ConfigError

KINDS = ("float", "int", "categorical")
FINISHED = ("COMPLETE", "PRUNED")


# ------------------------------------------------------------------------------ the space
def flat_space(space: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{optim.lr: {type: ...}}`` or nested ``{optim: {lr: {type: ...}}}`` (what the command line's
    ``+search.space.optim.lr={type: ...}`` makes) -> dotted key -> distribution."""
    out: dict[str, Any] = {}
    for key, spec in (space or {}).items():
        name = f"{prefix}{key}"
        if isinstance(spec, Mapping) and "type" not in spec:
            out |= flat_space(spec, f"{name}.")
        else:
            out[name] = spec
    return out


def check_space(cfg: DictConfig, space: dict[str, Any]) -> None:
    """Every searched key exists in the config and has a known distribution, and the configs at the
    ends of each range (every choice of a categorical) pass the config gate: a space with ``T`` in
    [-5, -1] is refused here, not after its trials have failed."""
    if not space:
        raise ConfigError("search.space is empty: give at least one key to search")
    for key, spec in space.items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"search.space.{key}: a distribution {{type: ..., ...}}, got {spec!r}")
        if OmegaConf.select(cfg, key, default="__missing__") == "__missing__":
            raise ConfigError(f"search.space: the config has no key {key!r}")
        kind = (spec or {}).get("type")
        if kind not in KINDS:
            raise ConfigError(f"search.space.{key}: type={kind!r}; allowed: {', '.join(KINDS)}")
        if kind == "categorical":
            if not spec.get("choices") or isinstance(spec["choices"], (str, Mapping)):
                raise ConfigError(f"search.space.{key}: a categorical needs a list of choices")
            probes = list(spec["choices"])
        else:
            probes = _range(key, spec, kind)
        for value in probes:
            _check_trial(cfg, key, value)


def _range(key: str, spec: Mapping, kind: str) -> list[float]:
    ends = []
    for end in ("low", "high"):
        v = spec.get(end)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind == "int" and v != int(v)):
            what = "a whole number" if kind == "int" else "a number"
            raise ConfigError(f"search.space.{key}.{end}={v!r} must be {what}")
        ends.append(int(v) if kind == "int" else float(v))
    if not ends[0] < ends[1]:
        raise ConfigError(f"search.space.{key}: needs low < high (got {ends[0]} and {ends[1]})")
    if spec.get("log") and ends[0] <= 0:
        raise ConfigError(f"search.space.{key}: log=true needs low > 0 (got {ends[0]})")
    return ends


def _check_trial(cfg: DictConfig, key: str, value: Any) -> None:
    from snnexp.config.gate import check_config

    try:
        check_config(trial_config(cfg, {key: value}), train=True)
    except ConfigError as e:
        raise ConfigError(f"search.space.{key}: a trial with {key}={value!r} is refused: {e}") from None


def check_study_file(root: Path) -> None:
    """``study.db`` is the search's SQLite database; any other file there is not ours to open."""
    db = root / "study.db"
    if db.exists():
        with open(db, "rb") as f:
            head = f.read(16)
        if head and head != b"SQLite format 3\x00":
            raise ConfigError(f"{db} is not an SQLite database (the study of a search); move it away")


def suggest(trial, space: dict[str, Any]) -> dict[str, Any]:
    """The trial's value of every searched key."""
    values = {}
    for key, s in space.items():
        if s["type"] == "float":
            values[key] = trial.suggest_float(
                key, float(s["low"]), float(s["high"]), log=bool(s.get("log", False)), step=s.get("step")
            )
        elif s["type"] == "int":
            values[key] = trial.suggest_int(
                key, int(s["low"]), int(s["high"]), log=bool(s.get("log", False)), step=int(s.get("step", 1))
            )
        else:
            values[key] = trial.suggest_categorical(key, list(s["choices"]))
    return values


def trial_config(base: DictConfig, values: dict[str, Any]) -> DictConfig:
    """The base config (unresolved: ``frames_number: ${T}`` follows a searched T) with ``values``."""
    cfg = OmegaConf.create(OmegaConf.to_container(base, resolve=False))
    with open_dict(cfg):
        cfg.pop("search", None)
        for key, v in values.items():
            OmegaConf.update(cfg, key, v, merge=False)
    return cfg


def middle_values(space: dict[str, Any]) -> dict[str, Any]:
    """The middle of the search space (geometric for log scales; the first choice of a
    categorical): the trial whose cost stands for all in an estimate."""
    values = {}
    for key, s in space.items():
        if s["type"] == "categorical":
            values[key] = list(s["choices"])[0]
            continue
        lo, hi = float(s["low"]), float(s["high"])
        mid = math.sqrt(lo * hi) if s.get("log") else (lo + hi) / 2
        values[key] = round(mid) if s["type"] == "int" else mid
    return values


def estimate(base: DictConfig) -> float:
    """Print, before a search starts, its trials and their time on this machine: a probe of the
    middle trial (snnexp/estimate.py), every trial to its last epoch (Hyperband stops most trials
    earlier, so this bounds the search from above). Returns the seconds."""
    from snnexp.estimate import human, probe, run_seconds

    search = OmegaConf.to_container(base.search, resolve=True)
    cfg = trial_config(base, middle_values(flat_space(search["space"])))
    n, jobs = int(search["n_trials"]), int(search["n_jobs"])
    p = probe(cfg, jobs=jobs)
    per_trial = run_seconds(cfg, p)
    total = n * per_trial / jobs
    print(
        f"snnexp tune: {n} trials, {jobs} at a time; the middle trial: {p.step_s:.3g} s/step "
        f"({p.device}), {human(per_trial)} for all {cfg.trainer.epochs} epochs -> at most {human(total)} "
        "on this machine (Hyperband stops most trials earlier)",
        file=sys.stderr,
        flush=True,
    )
    return total


class Progress:
    """After each trial: how many are done, and the time left at the pace so far."""

    def __init__(self, n_trials: int):
        self.n, self.t0 = n_trials, time.time()

    def __call__(self, study, trial) -> None:
        done = _finished(study)
        spent = time.time() - self.t0
        left = spent / max(done, 1) * max(self.n - done, 0)
        print(
            f"snnexp tune: trial {trial.number} {trial.state.name.lower()}; {done}/{self.n} done in "
            f"{spent / 60:.1f} min, ETA {left / 60:.1f} min",
            file=sys.stderr,
            flush=True,
        )


# ------------------------------------------------------------------------------ the study
def _study(root: Path, search: dict[str, Any], epochs: int, worker: int = 0):
    import optuna

    s, p = search["sampler"], search["pruner"]
    sampler = optuna.samplers.TPESampler(
        seed=None if s.get("seed") is None else int(s["seed"]) + worker,  # parallel workers draw apart
        n_startup_trials=int(s["n_startup_trials"]),
        multivariate=bool(s["multivariate"]),
    )
    pruner = optuna.pruners.HyperbandPruner(
        min_resource=int(p["min_resource"]), max_resource=epochs, reduction_factor=int(p["reduction_factor"])
    )
    return optuna.create_study(
        study_name=str(search.get("name", "snnexp")),
        storage=f"sqlite:///{root / 'study.db'}",
        load_if_exists=True,
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
    )


def requeue_interrupted(study) -> list[int]:
    """Trials a killed search left RUNNING: marked failed, their values queued to be tried again."""
    from optuna.trial import TrialState

    numbers = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(t.number, state=TrialState.FAIL)
        study.enqueue_trial(t.params, skip_if_exists=False)
        numbers.append(t.number)
    return numbers


def _objective(base: DictConfig, root: Path, search: dict[str, Any]):
    import optuna

    from snnexp.engine.trainer import train

    def objective(trial) -> float:
        values = suggest(trial, search["space"])
        cfg = trial_config(base, values)

        def on_epoch(epoch: int, row: dict[str, float]) -> bool:
            acc = row["test_acc1"]
            if math.isnan(acc):
                return False
            trial.report(acc, epoch)
            # after the last epoch nothing is left to save: the trial completes with its value
            return epoch < int(cfg.trainer.epochs) and trial.should_prune()

        metrics = train(cfg, run_dir=root / "trials" / str(trial.number), on_epoch=on_epoch)
        if metrics["status"] == "stopped":
            raise optuna.TrialPruned(f"pruned after epoch {metrics['epochs_done']}")
        value = metrics["last_acc1"] if search["objective"] == "last" else metrics["best_acc1"]
        return float(value)

    return objective


def _worker(
    base_yaml: str, root: str, search: dict[str, Any], epochs: int, worker: int, threads: int
) -> None:
    """One process of the search: take trials from the shared study until it has enough."""
    import optuna
    import torch

    from snnexp.config.compose import register_resolvers

    register_resolvers()
    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    root_path = Path(root)
    study = _study(root_path, search, epochs, worker)
    states = tuple(getattr(optuna.trial.TrialState, s) for s in FINISHED)
    study.optimize(
        _objective(OmegaConf.create(base_yaml), root_path, search),
        callbacks=[
            optuna.study.MaxTrialsCallback(int(search["n_trials"]), states=states),
            Progress(int(search["n_trials"])),
        ],
        catch=(Exception,),  # a diverged or failing trial is recorded as failed; the search goes on
    )


def check_search(base: DictConfig, root: str | Path | None) -> dict[str, Any]:
    """The search of ``base.search`` as plain data, its space checked (``snnexp tune`` calls this
    before Hydra writes anything, and again where the search runs)."""
    search = OmegaConf.to_container(base.search, resolve=True)
    search["space"] = flat_space(search["space"])
    check_space(base, search["space"])
    if root is not None:
        check_study_file(Path(root))
    return search


def run_search(base: DictConfig, root: str | Path) -> dict[str, Any]:
    """Run (or resume) the search ``base.search`` of config ``base`` in directory ``root``; returns
    the summary (also written to ``<root>/search_summary.{md,json}``)."""
    import os

    search = check_search(base, root)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    epochs = int(base.trainer.epochs)
    study = _study(root, search, epochs)
    requeued = requeue_interrupted(study)
    if _finished(study) < int(search["n_trials"]):
        n_jobs = int(search["n_jobs"])
        args = (OmegaConf.to_yaml(base, resolve=False), str(root), search, epochs)
        threads = max(1, (os.cpu_count() or 1) // n_jobs)
        if n_jobs <= 1:
            _worker(*args, 0, threads)
        else:
            ctx = mp.get_context("spawn")  # a fresh interpreter per worker: no shared torch state
            procs = [ctx.Process(target=_worker, args=(*args, i, threads)) for i in range(n_jobs)]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
    summary = summarize(_study(root, search, epochs), int(search["top_k"]))
    summary["requeued"] = requeued
    write_summary(summary, root)
    return summary


def _finished(study) -> int:
    return sum(t.state.name in FINISHED for t in study.get_trials(deepcopy=False))


# ------------------------------------------------------------------------------ the summary
def summarize(study, top_k: int) -> dict[str, Any]:
    trials = study.get_trials(deepcopy=False)
    done = sorted((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: -t.value)
    counts = {s: sum(t.state.name == s for t in trials) for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")}
    out: dict[str, Any] = {"counts": counts, "top_k": top_k, "best": None, "top": [], "stats": {}}
    if not done:
        return out
    top = done[:top_k]
    out["best"] = {"number": done[0].number, "value": done[0].value, "params": done[0].params}
    out["top"] = [{"number": t.number, "value": t.value, "params": t.params} for t in top]
    for key in top[0].params:
        xs = [t.params[key] for t in top if isinstance(t.params.get(key), (int, float))]
        if xs:  # KEYS Table 9: mean (std) over the k best
            out["stats"][key] = {"mean": statistics.fmean(xs), "std": statistics.pstdev(xs), "n": len(xs)}
    return out


def best_overrides(summary: dict[str, Any]) -> str:
    """The best configuration as command-line overrides."""
    if not summary["best"]:
        return ""
    return " ".join(f"{k}={_fmt(v)}" for k, v in summary["best"]["params"].items())


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def render_summary(summary: dict[str, Any]) -> str:
    c = summary["counts"]
    lines = [
        "## Hyper-parameter search (TPE + Hyperband)",
        "",
        f"Trials: {c['COMPLETE']} complete, {c['PRUNED']} pruned, {c['FAIL']} failed.",
    ]
    if not summary["best"]:
        return "\n".join([*lines, "", "No trial has completed yet."]) + "\n"
    b = summary["best"]
    lines += [
        "",
        f"Best configuration (trial {b['number']}, acc1 {b['value']:.2f} %): {best_overrides(summary)}",
    ]
    keys = list(b["params"])
    lines += ["", f"| trial | acc1 | {' | '.join(keys)} |", "|---|---|" + "---|" * len(keys)]
    for t in summary["top"]:
        lines.append(
            f"| {t['number']} | {t['value']:.2f} | " + " | ".join(_fmt(t["params"][k]) for k in keys) + " |"
        )
    if summary["stats"]:
        n = len(summary["top"])
        stats = ", ".join(f"{k} {s['mean']:.4g} (± {s['std']:.2g})" for k, s in summary["stats"].items())
        lines += ["", f"Mean (std) over the {n} best: {stats}"]
    return "\n".join(lines) + "\n"


def write_summary(summary: dict[str, Any], root: Path) -> None:
    (root / "search_summary.json").write_text(json.dumps(summary, indent=1))
    (root / "search_summary.md").write_text(render_summary(summary))


__all__ = ["run_search", "summarize", "render_summary", "best_overrides", "suggest", "trial_config"]
