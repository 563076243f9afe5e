"""Benchmark: one training step (forward + backward + SGD step) of SEW-ResNet-18 against the ANN
ResNet-18 with the same convolutions.

    SNN: sew_resnet18, T=4, batch 8, 64x64 synthetic images (T*8 = 32 conv passes per layer)
    ANN: torchvision resnet18, batch 32 (= T*8 images: the same conv work)

The variants run alternately in one process (the order rotates every round) so that drifting
clock speeds and other load hit all of them alike. Printed: the median and min step time, the
SNN/ANN ratio (the neurons' and the time axis' overhead; 1.0 is the limit), SEW's stem_once on vs
off, and memory:
- CUDA: ``torch.cuda.max_memory_allocated`` during a step (peak), and its increase over the memory
  held before the step (parameters, gradients, momentum);
- CPU: the peak-RSS increase of a training step, each variant measured in a fresh subprocess
  (``ru_maxrss`` is per process), and, in-process, the bytes autograd saves for the backward pass.

    python scripts/bench_sew.py [--iters N] [--device cpu|cuda] [--T 4] [--batch 8] [--size 64]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys

import torch
from torch import nn

from _common import build_ann, mb, saved_for_backward_bytes, seconds

VARIANTS = ("snn_stem_once", "snn_stem_every_step", "ann")
LABEL = {
    "snn_stem_once": "SEW-ResNet-18, stem_once=on",
    "snn_stem_every_step": "SEW-ResNet-18, stem_once=off",
    "ann": "ANN ResNet-18 (torchvision)",
}


def build_snn(args, stem_once: bool) -> nn.Module:
    from snnexp.config import compose
    from snnexp.parts import Parts, _kwargs
    from snnexp.registry import MODELS

    cfg = compose(
        [
            "model=sew_resnet18",
            f"block={args.block}",
            f"neuron={args.neuron}",
            "data=synthetic",
            f"data.image_size={args.size}",
            "data.num_classes=1000",
            f"T={args.T}",
            "logger=none",
            f"model.stem_once={str(stem_once).lower()}",
        ]
    )
    try:
        from snnexp import build_model
    except ImportError:  # older checkouts: the builder without the encoder (direct encoding)
        parts = Parts(cfg)
        return MODELS.get(cfg.model.name)(parts, **_kwargs(cfg.model))
    return build_model(cfg)


class Variant:
    def __init__(self, name: str, args, device: torch.device):
        torch.manual_seed(0)
        self.name = name
        self.snn = name.startswith("snn")
        self.model = (build_snn(args, name == "snn_stem_once") if self.snn else build_ann()).to(device)
        n = args.batch if self.snn else args.T * args.batch  # the ANN sees T*B images: same conv work
        g = torch.Generator().manual_seed(1)
        self.x = torch.rand(n, 3, args.size, args.size, generator=g).to(device)
        self.y = torch.randint(0, 1000, (n,), generator=g).to(device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)
        self.device = device
        self.times: list[float] = []

    def step(self) -> None:
        from spikingjelly.activation_based import functional

        self.opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        if self.snn:
            functional.reset_net(self.model)

    def timed_step(self) -> float:
        return seconds(self.step, self.device)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child_rss(args) -> None:
    """``--rss-child NAME``: build one variant, run 2 steps, print the peak-RSS increase (JSON)."""
    v = Variant(args.rss_child, args, torch.device("cpu"))
    before = rss_bytes()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    for _ in range(2):
        v.step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"step_peak": peak - max(before, 0), "peak_before": peak_before, "peak": peak}))


def rss_in_subprocesses(args) -> dict[str, dict]:
    out: dict[str, dict] = {}
    procs = {}
    for name in VARIANTS:  # memory only: run side by side, their timings are not used
        cmd = [
            sys.executable,
            __file__,
            "--rss-child",
            name,
            "--T",
            str(args.T),
            "--batch",
            str(args.batch),
            "--size",
            str(args.size),
            "--block",
            args.block,
            "--neuron",
            args.neuron,
        ]
        procs[name] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for name, p in procs.items():
        stdout, stderr = p.communicate()
        if p.returncode:
            raise RuntimeError(f"RSS child {name} failed:\n{stderr[-2000:]}")
        out[name] = json.loads(stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=None, help="timed rounds (default: 8 on CPU, 30 on CUDA)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    ap.add_argument("--device", default="auto", help="auto|cpu|cuda")
    ap.add_argument("--T", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--block", default="sew_add")
    ap.add_argument("--neuron", default="if")
    ap.add_argument("--no-rss", action="store_true", help="CPU: skip the per-variant RSS subprocesses")
    ap.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        return child_rss(args)

    dev = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = torch.device("cpu" if dev == "auto" else dev)
    iters = args.iters or (30 if device.type == "cuda" else 8)
    torch.backends.cudnn.benchmark = True

    rss = rss_in_subprocesses(args) if device.type == "cpu" and not args.no_rss else None
    variants = [Variant(name, args, device) for name in VARIANTS]
    saved = {v.name: saved_for_backward_bytes(v.step) for v in variants}  # also a warm-up step
    cuda_mem: dict[str, tuple[int, int]] = {}
    for r in range(args.warmup + iters):
        order = variants[r % 3 :] + variants[: r % 3]
        for v in order:
            if device.type == "cuda" and v.name not in cuda_mem:
                torch.cuda.synchronize(device)
                held = torch.cuda.memory_allocated(device)
                torch.cuda.reset_peak_memory_stats(device)
                v.step()
                peak = torch.cuda.max_memory_allocated(device)
                cuda_mem[v.name] = (peak, peak - held)
                continue
            t = v.timed_step()
            if r >= args.warmup:
                v.times.append(t)

    threads = torch.get_num_threads()
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {threads} threads"
    print(f"training step (forward + backward + SGD), {where}, torch {torch.__version__}, {iters} rounds")
    print(
        f"  SNN: sew_resnet18 block={args.block} neuron={args.neuron} T={args.T} batch={args.batch} "
        f"{args.size}x{args.size};  ANN: torchvision resnet18 batch={args.T * args.batch} (same conv work)"
    )
    cuda = device.type == "cuda"
    mem_cols = ("peak alloc MB", "step incr MB") if cuda else ("step peak RSS MB", "saved-for-bwd MB")
    print(f"  {'variant':32s} {'median ms':>10s} {'min ms':>9s} {mem_cols[0]:>17s} {mem_cols[1]:>17s}")
    med = {}
    for v in variants:
        med[v.name] = statistics.median(v.times)
        if device.type == "cuda":
            m1, m2 = cuda_mem[v.name]
        else:
            m1, m2 = (rss[v.name]["step_peak"] if rss else float("nan")), saved[v.name]
        ms = f"{med[v.name] * 1e3:10.1f} {min(v.times) * 1e3:9.1f}"
        print(f"  {LABEL[v.name]:32s} {ms} {mb(m1):>17s} {mb(m2):>17s}")
    if device.type == "cuda":
        per = ", ".join(f"{LABEL[k]}: {mb(b).strip()}" for k, b in saved.items())
        print(f"  saved-for-backward MB: {per}")
    ann = med["ann"]
    print(f"  ratio SNN/ANN, stem_once=on : {med['snn_stem_once'] / ann:5.2f}  (overhead; 1.0 is the limit)")
    print(f"  ratio SNN/ANN, stem_once=off: {med['snn_stem_every_step'] / ann:5.2f}  (identical conv work)")
    print(f"  stem_once speed-up (off/on) : {med['snn_stem_every_step'] / med['snn_stem_once']:5.2f}")


if __name__ == "__main__":
    main()
