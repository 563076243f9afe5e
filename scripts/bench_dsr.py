"""Benchmark (issue 8): peak memory and time of one training step of PreAct-ResNet-18 on 32x32
input with ``method=dsr`` (the memory-flat formulation) and ``method=bptt``, side by side, for
T = 5, 10, 20, and the ratio T=20 / T=5 (target for DSR: <= 1.15; BPTT grows about 4x).

Both methods train the same network (neuron=dsr_if, norm=bn, rate readout): bptt with the neuron's
surrogate path (``neuron.grad=surrogate``), dsr with its record/replay step. Memory:
- CUDA: ``torch.cuda.max_memory_allocated`` during the step minus the memory held before it
  (parameters, gradients, momentum, the batch);
- CPU: the peak-RSS increase of the step (VmHWM, reset through /proc/self/clear_refs after a
  warm-up step and ``malloc_trim``), and the bytes autograd saves for the backward pass.

    python scripts/bench_dsr.py [--device cpu|cuda] [--batch 8] [--iters 3] [--T 5 10 20]
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time

import torch

METHODS = ("dsr", "bptt")


def build(method: str, T: int, batch: int, device: torch.device):
    import snnexp
    from snnexp.build import build_method
    from snnexp.engine.steps import StepContext

    over = [
        "model=preact_resnet18",
        "data=synthetic",
        "data.image_size=32",
        "data.in_channels=3",
        "neuron=dsr_if",
        "norm=bn",
        f"T={T}",
        f"method={method}",
        "logger=none",
    ]
    if method == "bptt":
        over.append("neuron.grad=surrogate")
    else:
        over.append("method.formulation=flat")
    cfg = snnexp.compose(over)
    torch.manual_seed(0)
    model = snnexp.build_model(cfg).to(device)
    m = build_method(cfg)
    m.prepare(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    ctx = StepContext(
        loss_fn=torch.nn.CrossEntropyLoss(),
        scaler=torch.amp.GradScaler(device.type, enabled=False),
        autocast=lambda: torch.autocast(device.type, enabled=False),
        num_classes=10,
        optimizer=opt,
        params=list(model.parameters()),
    )
    g = torch.Generator().manual_seed(1)
    x = torch.rand(batch, 3, 32, 32, generator=g).to(device)
    y = torch.randint(0, 10, (batch,), generator=g).to(device)
    return lambda: m.train_step(model, x, y, ctx)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def saved_bytes(step) -> int:
    seen: dict[tuple[int, int], int] = {}

    def pack(t):
        if t.numel():
            s = t.untyped_storage()
            seen[(s.data_ptr(), s.nbytes())] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(seen.values())


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key))


def cpu_step_peak(step) -> int:
    """Peak-RSS increase of one step (bytes); -1 where the kernel cannot reset VmHWM."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return -1
    before = _status_kb("VmRSS:")
    step()
    return (_status_kb("VmHWM:") - before) * 1024


def measure(method: str, T: int, args, device: torch.device) -> dict:
    step = build(method, T, args.batch, device)
    saved = saved_bytes(step)  # also the warm-up step (gradients, momentum buffers allocated)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        held = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        sync(device)
        peak = torch.cuda.max_memory_allocated(device) - held
    else:
        peak = cpu_step_peak(step)
    times = []
    for _ in range(args.iters):
        sync(device)
        t0 = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t0)
    return {"peak": peak, "saved": saved, "time": statistics.median(times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=None, help="default: 8 on CPU, 64 on CUDA")
    ap.add_argument("--iters", type=int, default=None, help="timed steps (default: 2 on CPU, 10 on CUDA)")
    ap.add_argument("--T", type=int, nargs="+", default=[5, 10, 20])
    args = ap.parse_args()
    dev = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = torch.device("cpu" if dev == "auto" else dev)
    args.batch = args.batch or (64 if device.type == "cuda" else 8)
    args.iters = args.iters or (10 if device.type == "cuda" else 2)
    torch.backends.cudnn.benchmark = True
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(f"PreAct-ResNet-18, 32x32, batch {args.batch}, one training step (SGD), {name}")
    print(f"{'method':8} {'T':>3} {'peak MiB':>9} {'saved MiB':>10} {'time s':>8}")
    res = {}
    for T in args.T:
        for method in METHODS:
            r = res[method, T] = measure(method, T, args, device)
            print(
                f"{method:8} {T:3d} {r['peak'] / 2**20:9.1f} {r['saved'] / 2**20:10.1f} {r['time']:8.3f}",
                flush=True,
            )
    lo, hi = min(args.T), max(args.T)
    for method in METHODS:
        a, b = res[method, lo], res[method, hi]
        ratio = {k: b[k] / a[k] for k in ("peak", "saved", "time")}
        print(
            f"{method}: T={hi}/T={lo}  peak x{ratio['peak']:.2f}  saved x{ratio['saved']:.2f}"
            f"  time x{ratio['time']:.2f}"
        )


if __name__ == "__main__":
    main()
