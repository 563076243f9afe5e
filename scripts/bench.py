"""make bench [QUICK=1]: every benchmark script, after an estimate of their time on this machine.

The estimate times one training step of each benchmark's spiking model at its shape
(snnexp/estimate.py; the ANN counterparts and compiled variants count as one such step each,
memopt's recomputation as two) and multiplies by the steps the benchmark runs with its
arguments. ``--quick`` (``make bench QUICK=1``) runs each benchmark with fewer rounds, smaller
inputs and fewer time steps: the same tables, noisier numbers, about a minute on 2 CPU cores.
A progress line with the time left follows each benchmark.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass
class Bench:
    script: str
    quick: list[str]  # the script's arguments in quick mode
    probe: dict[str, list[str]]  # {"full"|"quick": the spiking model as train overrides at that shape}
    steps: dict[str, int]  # {"full"|"quick": training steps of that model the script runs}
    children: dict[str, int] = field(default_factory=dict)  # python processes it starts


SEW18 = ["model=sew_resnet18", "T=4", "trainer.batch_size=8"]
KEYS = ["model=s_resnet38", "block=keys_s2s", "neuron=lif", "data.image_size=32"]
DSR = ["model=preact_resnet18", "neuron=dsr_if", "method=dsr", "data.image_size=32"]
BENCHES = [
    # 3 variants x (1 warm-up + iters) rounds + one saved-tensor step each (+ an RSS child each)
    Bench(
        "bench_sew.py",
        ["--iters", "2", "--size", "32", "--no-rss"],
        {"full": [*SEW18, "data.image_size=64"], "quick": [*SEW18, "data.image_size=32"]},
        {"full": 3 * 9 + 3 + 3, "quick": 3 * 3 + 3},
        {"full": 3},
    ),
    # 2 variants x (1 warm-up + 1) rounds + one saved-tensor step each
    Bench(
        "bench_keys.py",
        ["--T", "4", "--batch", "4"],
        {"full": [*KEYS, "T=50", "trainer.batch_size=21"], "quick": [*KEYS, "T=4", "trainer.batch_size=4"]},
        {"full": 6, "quick": 6},
    ),
    # 3 methods x each T, (1 warm-up + iters) steps each in its own process; a step's cost ~ T:
    # full T 5, 10, 20 = 7 steps of T=5 per method and round; quick T 2, 4 = 3 steps of T=2
    Bench(
        "bench_dsr.py",
        ["--T", "2", "4", "--iters", "1", "--batch", "2"],
        {"full": [*DSR, "T=5", "trainer.batch_size=8"], "quick": [*DSR, "T=2", "trainer.batch_size=2"]},
        {"full": 3 * 7 * 3, "quick": 3 * 3 * 2},
        {"full": 9, "quick": 6},
    ),
    # speed: 2-3 variants x (warm-up + iters) rounds; memopt: 3 modes (~1.5 steps each) x each T
    Bench(
        "bench_fastpath.py",
        ["--iters", "1", "--warmup", "1", "--size", "32", "--memopt-T", "4", "--skip-compile"],
        {"full": [*SEW18, "data.image_size=64"], "quick": [*SEW18, "data.image_size=32"]},
        {"full": 3 * 7 + 5 * 7 * 5, "quick": 2 * 2 + 5 * 2 + 3},
    ),
]


def start_up_seconds() -> float:
    """A fresh python that imports torch and snnexp, as every benchmark process does (measured)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, snnexp.build"], check=True)
    return time.perf_counter() - t0


def estimate(benches: list[Bench], mode: str) -> float:
    """Seconds for ``benches``, from one probe step of each benchmark's model at its shape."""
    from snnexp.config import compose
    from snnexp.estimate import probe

    start = start_up_seconds()
    total = 0.0
    for b in benches:
        cfg = compose(["data=synthetic", "logger=none", "threads=auto", *b.probe[mode]])
        step = probe(cfg, steps=1).step_s
        procs = 1 + b.children.get(mode, 0)
        total += step * b.steps[mode] + start * procs
        line = f"  {b.script}: {step:.2f} s/step x {b.steps[mode]} steps, {procs} process(es)"
        print(line, file=sys.stderr)
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds, smaller inputs: about a minute")
    ap.add_argument("--no-estimate", action="store_true")
    args = ap.parse_args()
    mode = "quick" if args.quick else "full"
    from snnexp.estimate import human

    if not args.no_estimate:
        print(
            f"bench: {len(BENCHES)} benchmarks ({mode}); probing one step of each model ...", file=sys.stderr
        )
        print(
            f"bench: estimated {human(estimate(BENCHES, mode))} on this machine", file=sys.stderr, flush=True
        )
    t0 = time.time()
    for k, b in enumerate(BENCHES, 1):
        print(f"== scripts/{b.script}", flush=True)
        extra = b.quick if args.quick else []
        rc = subprocess.call([sys.executable, str(HERE / b.script), *extra])
        if rc:
            return rc
        spent = time.time() - t0
        left = spent / k * (len(BENCHES) - k)
        print(
            f"bench: {k}/{len(BENCHES)} done in {human(spent)}, ETA {human(left)}",
            file=sys.stderr,
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
