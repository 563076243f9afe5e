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
    quick: list[str]
    probe: list[str]  # the spiking model as train overrides (data=synthetic: no data is read)
    steps: dict[str, int] = field(default_factory=dict)  # CPU steps run: {"full": n, "quick": n}
    T_scale: float = 1.0  # quick mode's time steps over the probe's


BENCHES = [
    Bench(
        "bench_sew.py",
        ["--iters", "2", "--size", "32", "--no-rss"],
        ["model=sew_resnet18", "data.image_size=64", "T=4", "trainer.batch_size=8"],
        # 3 variants x (1 warm-up + iters) rounds + one saved-tensor step each (+ 3 RSS children)
        {"full": 3 * 9 + 3 + 3 * 3, "quick": (3 * 3 + 3) // 4},  # quick: 32x32 is a quarter of 64x64
    ),
    Bench(
        "bench_keys.py",
        ["--T", "10", "--batch", "8"],
        [
            "model=s_resnet38",
            "block=keys_s2s",
            "neuron=lif",
            "data.image_size=32",
            "T=50",
            "trainer.batch_size=21",
        ],
        {"full": 2 * 2 + 2, "quick": 1},  # quick: T 10/50, batch 8/21 -> ~1/13 of a step per step
    ),
    Bench(
        "bench_dsr.py",
        ["--T", "5", "10", "--iters", "1", "--batch", "4"],
        ["model=preact_resnet18", "neuron=dsr_if", "method=dsr", "data.image_size=32", "T=5"]
        + ["trainer.batch_size=8"],
        # 3 methods x T in (5, 10, 20) x (iters + 1) steps, a step's cost ~ T: (5+10+20)/5 = 7 T=5 steps
        {"full": 3 * 7 * 3, "quick": 3 * 3 * 2 // 2},
    ),
    Bench(
        "bench_fastpath.py",
        ["--iters", "1", "--warmup", "1", "--size", "32", "--memopt-T", "4", "--skip-compile"],
        ["model=sew_resnet18", "data.image_size=64", "T=4", "trainer.batch_size=8"],
        # speed: 2-3 variants x (2 + 5) rounds; memopt: 3 modes (~2 steps each) x T in (4, 16) x 7 rounds
        {"full": 3 * 7 + 6 * 7 * 5, "quick": (2 * 2 + 6 * 2) // 4},
    ),
]


def estimate(benches: list[Bench], mode: str) -> float:
    """Seconds for ``benches``, from one probe step of each benchmark's model."""
    from snnexp.config import compose
    from snnexp.estimate import probe

    total = 0.0
    for b in benches:
        step = probe(compose(["data=synthetic", "logger=none", "threads=auto", *b.probe]), steps=1).step_s
        total += step * b.steps[mode]
        print(f"  {b.script}: {step:.2f} s per probe step x {b.steps[mode]} steps", file=sys.stderr)
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
