"""snnexp estimate [-m] [overrides, sweeps a,b allowed]: how many runs and how long on this machine.

Every combination of the sweep's values is one run (as ``snnexp train -m`` would start them); with
``-m`` the experiment's own axes (``hydra.sweeper.params`` in its YAML) are swept too. One
probe per distinct cost (runs that differ only in the seed, the logger, paths share one) times a
few optimizer steps of the real model on a random batch of the run's shape (snnexp/estimate.py);
no data is read and nothing is written. ``make table-* DRY=1`` prints this before the commands.
"""

from __future__ import annotations

import sys

FLAGS = ("-m", "--multirun")


def runs(overrides: list[str], multirun: bool = True) -> list[list[str]]:
    """The runs, in Hydra's basic sweeper order: with ``-m``, the experiment's own axes
    (hydra.sweeper.params) and the command line's sweeps; without, the command line's alone."""
    from snnexp.config.sweep import jobs, plain_jobs

    return jobs(overrides) if multirun else plain_jobs(overrides)


def plan(overrides: list[str], out=sys.stderr, jobs: int = 1, multirun: bool = True) -> float:
    """Print the number of runs and their estimated time (one line per probe); returns seconds."""
    from snnexp.config import compose
    from snnexp.estimate import cost_key, human, overhead, probe, run_seconds

    combos = runs(overrides, multirun)
    configs = [compose(c) for c in combos]  # every combination composes before any probe
    probes: dict[tuple[str, ...], object] = {}
    total = 0.0
    print(
        f"snnexp estimate: {len(combos)} run(s); probing each distinct setting on this machine ...", file=out
    )
    extra = None
    for combo, cfg in zip(combos, configs, strict=True):
        key = cost_key(combo)
        extra = extra or overhead(cfg)  # measured once: model and data build, checkpoints, plots
        if key not in probes:
            p = probes[key] = probe(cfg, jobs=jobs)
            secs = run_seconds(cfg, p, extra)
            label = " ".join(key) or "(defaults)"
            print(
                f"  {label}: {p.step_s:.3g} s/step (probe: batch {p.probe_batch} of "
                f"{cfg.trainer.batch_size}, {p.device}, {p.threads} thread(s)) -> {human(secs)} per run",
                file=out,
                flush=True,
            )
        total += run_seconds(cfg, probes[key], extra)
    print(
        f"snnexp estimate: {len(combos)} run(s), about {human(total)} on this machine"
        + (f" ({jobs} side by side: {human(total / jobs)})" if jobs > 1 else " one after another"),
        file=out,
        flush=True,
    )
    return total


def plan_tune(overrides: list[str]) -> float:
    """``snnexp tune``'s estimate (snnexp/tune.py) for ``make ... DRY=1``."""
    from snnexp.config import compose
    from snnexp.tune import estimate

    return estimate(compose(overrides, "tune"))


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    plan([a for a in argv if a not in FLAGS], out=sys.stdout, multirun=any(a in FLAGS for a in argv))
    return 0
