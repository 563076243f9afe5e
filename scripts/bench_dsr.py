"""Benchmark: peak memory and time of one training step of PreAct-ResNet-18 on 32x32
input with ``method=dsr`` (the flat formulation; ``dsr-stream``: its record pass streamed,
``method.record_chunk``) and ``method=bptt``, side by side, for T = 5, 10, 20, and the ratio
T=20 / T=5 (target for DSR: <= 1.15; BPTT grows about 4x).

All train the same network (neuron=dsr_if, norm=bn, rate readout): bptt with the neuron's
surrogate path (``neuron.grad=surrogate``), dsr with its record/replay step. Memory:
- CUDA: ``torch.cuda.max_memory_allocated`` during the step minus the memory held before it
  (parameters, gradients, momentum, the batch);
- CPU: the peak of the bytes torch's allocator holds during the step over those held before it
  (profiler allocation events), beside it the peak-RSS increase (VmHWM, reset through
  /proc/self/clear_refs after a warm-up step and ``malloc_trim``; it also moves with what malloc
  keeps: DSR streamed 224 -> 270 MiB from T=5 to 20 while torch's peak stayed at 154 MiB, and
  with MALLOC_MMAP_THRESHOLD_=65536, so that malloc returns freed blocks, 115 MiB at both T, at
  x1.78 the step time: 15.8 -> 28.1 s at T=20, batch 8, 2 cores; 4 MiB: 185 -> 188 MiB, x1.75);
- both: the bytes autograd saves for the backward pass.
Each (method, T) runs in a fresh process, so no variant inherits another's allocator state.

    python scripts/bench_dsr.py [--device cpu|cuda] [--batch 8] [--iters 3] [--T 5 10 20] [--chunk 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch

from snnexp.analysis.memory import cpu_allocated_peak, cpu_step_peak, saved_bytes, training_step

# dsr: the flat formulation, record pass at once (record_chunk=0); dsr-stream: its record pass
# streamed --chunk steps at a time (method.record_chunk), the variant whose peak is flat in T
METHODS = ("dsr", "dsr-stream", "bptt")


def build(method: str, T: int, batch: int, device: torch.device, chunk: int):
    import snnexp

    over = [
        "model=preact_resnet18",
        "data=synthetic",
        "data.image_size=32",
        "data.in_channels=3",
        "neuron=dsr_if",
        "norm=bn",
        f"T={T}",
        f"method={method.removesuffix('-stream')}",
        "logger=none",
    ]
    over.append("neuron.grad=surrogate" if method == "bptt" else "method.formulation=flat")
    if method == "dsr-stream":
        over.append(f"method.record_chunk={chunk}")
    return training_step(snnexp.compose(over), batch, device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(method: str, T: int, args, device: torch.device) -> dict:
    step = build(method, T, args.batch, device, args.chunk)
    saved = saved_bytes(step)  # also the warm-up step (gradients, momentum buffers allocated)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        held = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        sync(device)
        peak = torch.cuda.max_memory_allocated(device) - held
        rss = float("nan")
    else:
        rss, peak = cpu_step_peak(step), cpu_allocated_peak(step)
    times = []
    for _ in range(args.iters):
        sync(device)
        t0 = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t0)
    return {"peak": peak, "rss": rss, "saved": saved, "time": statistics.median(times)}


def measure_fresh(method: str, T: int, args, device: torch.device) -> dict:
    """:func:`measure` in a process of its own. In one process, the allocator state the earlier
    variants leave (glibc raises its mmap threshold after large frees) inflated a later variant's
    peak RSS: DSR at T=20 measured 741 MiB after five other variants and 247 MiB alone."""
    cmd = [sys.executable, __file__, "--one", method, str(T), "--device", device.type]
    cmd += ["--batch", str(args.batch), "--iters", str(args.iters), "--chunk", str(args.chunk)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        sys.exit(f"{method} T={T} failed:\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=None, help="default: 8 on CPU, 64 on CUDA")
    ap.add_argument("--iters", type=int, default=None, help="timed steps (default: 2 on CPU, 10 on CUDA)")
    ap.add_argument("--T", type=int, nargs="+", default=[5, 10, 20])
    ap.add_argument("--chunk", type=int, default=5, help="dsr-stream: time steps per chunk")
    ap.add_argument("--one", nargs=2, metavar=("METHOD", "T"), help=argparse.SUPPRESS)  # a child's job
    args = ap.parse_args()
    dev = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = torch.device("cpu" if dev == "auto" else dev)
    args.batch = args.batch or (64 if device.type == "cuda" else 8)
    args.iters = args.iters or (10 if device.type == "cuda" else 2)
    torch.backends.cudnn.benchmark = True
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args, device)))
        return
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(f"PreAct-ResNet-18, 32x32, batch {args.batch}, one training step (SGD), {name}")
    print(f"dsr-stream: method.record_chunk={args.chunk}")
    print(f"{'method':10} {'T':>3} {'peak MiB':>9} {'RSS MiB':>8} {'saved MiB':>10} {'time s':>8}")
    res = {}
    for T in args.T:
        for method in METHODS:
            r = res[method, T] = measure_fresh(method, T, args, device)
            print(
                f"{method:10} {T:3d} {r['peak'] / 2**20:9.1f} {r['rss'] / 2**20:8.1f} "
                f"{r['saved'] / 2**20:10.1f} {r['time']:8.3f}",
                flush=True,
            )
    lo, hi = min(args.T), max(args.T)
    for method in METHODS:
        a, b = res[method, lo], res[method, hi]
        ratio = {k: b[k] / a[k] for k in ("peak", "rss", "saved", "time")}
        print(
            f"{method:10}: T={hi}/T={lo}  peak x{ratio['peak']:.2f}  RSS x{ratio['rss']:.2f}"
            f"  saved x{ratio['saved']:.2f}  time x{ratio['time']:.2f}"
        )


if __name__ == "__main__":
    main()
