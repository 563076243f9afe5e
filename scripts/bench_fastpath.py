"""Benchmark: the neurons' paths for SEW-ResNet-18, side by side with the ANN.

1. One training step (forward + backward + SGD) of SEW-ResNet-18 eager, compiled (``torch.compile``,
   Inductor) and with only its neurons compiled (trainer.compile_scope=neurons) against
   torchvision's ResNet-18 eager and compiled at batch T*B (the same conv work), with the SNN/ANN
   ratios. On CUDA, "eager" is spikingjelly's fused kernel
   where engine/fastpath.py says so (printed).
2. ``trainer.memopt`` (none / checkpoint / compress) at T=4 and T=16: step time and memory
   (peak bytes allocated during a step over those held before it: CUDA's allocator statistics, or
   on CPU the profiler's allocation events).
3. CUDA only: the issue's GPU goal, SEW-ResNet-50 at T=4 as ``experiment=sew/imagenet`` trains it
   (AMP in its dtype, 224x224) against torchvision's ResNet-50 at batch T*B under the same AMP:
   images per second of each, and SNN img/s x T over ANN img/s (goal: >= 1/1.3).

Variants run alternately in one process (order rotating per round), so drifting clocks and other
load hit them alike. Compiling is not timed (warm-up rounds).

    python scripts/bench_fastpath.py [--iters N] [--device cpu|cuda] [--T 4] [--batch 8] [--size 64]
        [--memopt-T 4 16] [--skip-compile] [--skip-memopt] [--skip-resnet50] [--batch50 64] [--profile50]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from torch import nn

from _common import build_ann, mb, seconds, sync  # noqa: E402  (scripts/_common.py: shared by the benches)


def build_snn(args, T: int, memopt: str = "none") -> nn.Module:
    from snnexp import build_model
    from snnexp.config import compose
    from snnexp.engine import memopt as mo

    cfg = compose(
        [
            "model=sew_resnet18",
            f"block={args.block}",
            f"neuron={args.neuron}",
            f"surrogate={args.surrogate}",
            "data=synthetic",
            f"data.image_size={args.size}",
            "data.num_classes=1000",
            f"T={T}",
            "logger=none",
        ]
    )
    return mo.apply(build_model(cfg), memopt)


class Variant:
    def __init__(
        self,
        label: str,
        model: nn.Module,
        n: int,
        args,
        device,
        *,
        compiled=False,
        snn=True,
        amp=None,
        size=None,
    ):
        from snnexp.engine.fastpath import CompiledOrEager

        torch.manual_seed(0)
        self.label, self.snn, self.device = label, snn, device
        self.model = model.to(device)
        # compiled: False, True (the whole net) or "neurons" (trainer.compile_scope=neurons)
        scope = "neurons" if compiled == "neurons" else "model"
        self.net = CompiledOrEager(self.model, scope=scope) if compiled else self.model
        g = torch.Generator().manual_seed(1)
        size = size or args.size
        self.x = torch.rand(n, 3, size, size, generator=g).to(device)
        self.y = torch.randint(0, 1000, (n,), generator=g).to(device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.times: list[float] = []
        self.mem = float("nan")
        self.amp = amp  # None, or the autocast dtype (fp16 gets a grad scaler)
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)

    def step(self) -> None:
        from spikingjelly.activation_based import functional

        self.opt.zero_grad(set_to_none=False)  # grads held: peak - held = activations
        with torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
            loss = nn.functional.cross_entropy(self.net(self.x).float(), self.y)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        if self.snn:
            functional.reset_net(self.model)

    def timed(self) -> float:
        return seconds(self.step, self.device)


def alternate(variants: list[Variant], warmup: int, iters: int) -> None:
    for r in range(warmup + iters):
        k = r % len(variants)
        for v in variants[k:] + variants[:k]:
            if v.device.type == "cuda" and r == warmup - 1:  # peak memory of a warm step
                torch.cuda.synchronize(v.device)
                held = torch.cuda.memory_allocated(v.device)
                torch.cuda.reset_peak_memory_stats(v.device)
                v.step()
                v.mem = torch.cuda.max_memory_allocated(v.device) - held
                continue
            t = v.timed()
            if r >= warmup:
                v.times.append(t)


def med(v: Variant) -> float:
    return statistics.median(v.times)


def speed_table(args, device) -> None:
    from snnexp.engine import fastpath

    snn = build_snn(args, args.T)
    rows = fastpath.layer_paths(snn, device=device.type, dtype=torch.float32, compiled=False)
    print(f"  neuron paths (eager): {'; '.join(r.line() for r in rows)}")
    vs = [Variant("SEW-ResNet-18 eager", snn, args.batch, args, device)]
    ann_n = args.T * args.batch
    vs.append(Variant("ANN ResNet-18 eager", build_ann(), ann_n, args, device, snn=False))
    if not args.skip_compile:
        snn_c = build_snn(args, args.T)
        vs.append(Variant("SEW-ResNet-18 compiled", snn_c, args.batch, args, device, compiled=True))
        ann_c = build_ann()
        vs.append(Variant("ANN ResNet-18 compiled", ann_c, ann_n, args, device, compiled=True, snn=False))
        snn_n = build_snn(args, args.T)
        vs.append(Variant("SEW-ResNet-18 neurons comp.", snn_n, args.batch, args, device, compiled="neurons"))
    alternate(vs, args.warmup, args.iters)
    print(f"  {'variant':28s} {'median ms':>10s} {'min ms':>9s}")
    for v in vs:
        failed = " (compile failed: eager)" if getattr(v.net, "failed", None) else ""
        print(f"  {v.label:28s} {med(v) * 1e3:10.1f} {min(v.times) * 1e3:9.1f}{failed}")
    t = {v.label: med(v) for v in vs}
    print(f"  SNN/ANN eager    : {t['SEW-ResNet-18 eager'] / t['ANN ResNet-18 eager']:5.2f}")
    if not args.skip_compile:
        print(f"  SNN/ANN compiled : {t['SEW-ResNet-18 compiled'] / t['ANN ResNet-18 compiled']:5.2f}")
        print(f"  SNN compiled/eager speed-up: {t['SEW-ResNet-18 eager'] / t['SEW-ResNet-18 compiled']:5.2f}")
        # the goal (<= 1.05 on CPU at T=4) for each side at its fastest, too: compiling
        # does not always speed the ANN up on CPU, and a user runs whichever is faster
        n = t["SEW-ResNet-18 neurons comp."]
        print(f"  SNN (neurons compiled)/ANN eager: {n / t['ANN ResNet-18 eager']:5.2f}")
        best = min(t["SEW-ResNet-18 eager"], t["SEW-ResNet-18 compiled"], n)
        best_ann = min(t["ANN ResNet-18 eager"], t["ANN ResNet-18 compiled"])
        print(f"  SNN/ANN, each at its fastest: {best / best_ann:5.2f}")


def memopt_table(args, device) -> None:
    from snnexp.analysis.memory import cpu_allocated_peak

    modes = ("none", "checkpoint", "compress")
    kind = "peak alloc MB"  # CUDA: max_memory_allocated; CPU: the profiler's allocation events
    print(f"  {'T':>3s} {'memopt':12s} {'median ms':>10s} {kind:>17s} {'time x':>7s} {'memory x':>9s}")
    for T in args.memopt_T:
        vs = [Variant(m, build_snn(args, T, m), args.batch, args, device) for m in modes]
        alternate(vs, max(args.warmup, 1), args.iters)
        if device.type == "cpu":
            for v in vs:
                v.mem = cpu_allocated_peak(v.step)
        base = vs[0]
        for v in vs:
            ratio_t, ratio_m = med(v) / med(base), v.mem / base.mem
            row = f"{med(v) * 1e3:10.1f} {mb(v.mem):>17s} {ratio_t:7.2f} {ratio_m:9.2f}"
            print(f"  {T:3d} {v.label:12s} {row}")
        del vs


def sew50(args, device):
    """SEW-ResNet-50 as experiment=sew/imagenet trains it, with its T and AMP dtype."""
    from snnexp import build_model
    from snnexp.config import compose
    from snnexp.engine import fastpath

    cfg = compose(["experiment=sew/imagenet", "model=sew_resnet50", "data.num_classes=1000", "logger=none"])
    return build_model(cfg), int(cfg.T), fastpath.amp_dtype(cfg, "cuda")


def profile50(args, device) -> None:
    """The CUDA kernels of one SEW-ResNet-50 training step, by total time (where the SNN's time goes)."""
    from torch.profiler import ProfilerActivity, profile

    snn, T, amp = sew50(args, device)
    v = Variant("SEW-ResNet-50", snn, args.batch50, args, device, amp=amp, size=224)
    for _ in range(3):
        v.step()
    sync(device)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        v.step()
        sync(device)
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=60))


def resnet50_table(args, device) -> None:
    """SEW-ResNet-50 (experiment=sew/imagenet, T=4) vs ResNet-50 at batch T*B, both under the
    experiment's AMP dtype, eager: img/s and the issue's ratio."""
    import torchvision

    from snnexp.engine import fastpath

    snn, T, amp = sew50(args, device)
    B = args.batch50
    rows = fastpath.layer_paths(snn, device="cuda", dtype=amp, compiled=False)
    print(f"SEW-ResNet-50 T={T} batch {B} vs ResNet-50 batch {T * B}, 224x224, AMP {amp}, eager:")
    print(f"  neuron paths: {'; '.join(r.line() for r in rows)}")
    vs = [
        Variant("SEW-ResNet-50", snn, B, args, device, amp=amp, size=224),
        Variant(
            "ANN ResNet-50", torchvision.models.resnet50(), T * B, args, device, snn=False, amp=amp, size=224
        ),
    ]
    alternate(vs, args.warmup, args.iters)
    snn_ips, ann_ips = B / med(vs[0]), T * B / med(vs[1])
    print(f"  {'variant':16s} {'median ms':>10s} {'img/s':>8s} {'peak MB':>9s}")
    for v, ips in zip(vs, (snn_ips, ann_ips), strict=True):
        print(f"  {v.label:16s} {med(v) * 1e3:10.1f} {ips:8.1f} {mb(v.mem):>9s}")
    print(f"  SNN img/s x T / ANN img/s: {snn_ips * T / ann_ips:5.2f}  (goal >= {1 / 1.3:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=None, help="timed rounds (default: 5 on CPU, 30 on CUDA)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed rounds first (compiling happens here)")
    ap.add_argument("--device", default="auto", help="auto|cpu|cuda")
    ap.add_argument("--T", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--block", default="sew_add")
    ap.add_argument("--neuron", default="if")
    ap.add_argument("--surrogate", default="atan")
    ap.add_argument("--memopt-T", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--skip-compile", action="store_true")
    ap.add_argument("--skip-memopt", action="store_true")
    ap.add_argument("--skip-resnet50", action="store_true", help="CUDA only anyway")
    ap.add_argument("--profile50", action="store_true", help="CUDA: only profile one SEW-ResNet-50 step")
    ap.add_argument(
        "--batch50",
        type=int,
        default=64,
        help="SEW-ResNet-50 batch (the ANN gets T times it; at 32 an H200 waits on the host)",
    )
    args = ap.parse_args()
    dev = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = torch.device("cpu" if dev == "auto" else dev)
    args.iters = args.iters or (30 if device.type == "cuda" else 5)
    torch.backends.cudnn.benchmark = True
    cuda = device.type == "cuda"
    if cuda and args.profile50:
        return profile50(args, device)
    where = torch.cuda.get_device_name(device) if cuda else f"cpu, {torch.get_num_threads()} threads"
    print(f"neuron fast paths: training step (fwd + bwd + SGD), {where}, torch {torch.__version__}")
    print(
        f"  SNN: sew_resnet18 block={args.block} neuron={args.neuron} surrogate={args.surrogate} "
        f"T={args.T} batch={args.batch} {args.size}x{args.size}; ANN: resnet18 batch={args.T * args.batch}; "
        f"{args.iters} rounds"
    )
    speed_table(args, device)
    if not args.skip_memopt:
        print(f"trainer.memopt on SEW-ResNet-18 (batch {args.batch}, {args.size}x{args.size}):")
        memopt_table(args, device)
    if cuda and not args.skip_resnet50:
        resnet50_table(args, device)


if __name__ == "__main__":
    main()
