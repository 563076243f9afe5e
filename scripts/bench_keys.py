"""Benchmark: one KEYS training step (forward + backward + SGD step) of S-ResNet38 as the paper trains
it, against the ANN ResNet38 with the same convolutions (run beside bench_sew.py by `make bench`).

    SNN: s_resnet38, block=keys_s2s, keys_lif, triangle, BNTT, T=50, batch 21, 32x32 (KEYS Sec. 3.5)
    ANN: the same model with neuron=relu, norm=bn, T=1, batch 50*21 = 1,050 (the same conv work)

The variants alternate in one process (the order rotates every round) so that other load hits both
alike. Printed: median and min step time, the SNN/ANN ratio (the neurons', BNTT's and the time
axis' overhead), memory (CUDA: peak allocated during a step; CPU: bytes saved for the backward).

    python scripts/bench_keys.py [--iters N] [--device cpu|cuda] [--T 50] [--batch 21] [--width 16]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from torch import nn

from _common import mb, saved_for_backward_bytes, seconds  # noqa: E402  (scripts/_common.py: shared by the benches)

VARIANTS = ("keys", "ann")


def build(args, ann: bool) -> nn.Module:
    from snnexp import build_model
    from snnexp.config import compose

    common = ["model=s_resnet38", f"block={args.block}", "data=cifar10", f"model.base_width={args.width}"]
    common += [f"model.readout={args.readout}", "surrogate=triangle"]
    if ann:
        return build_model(compose([*common, "neuron=relu", "norm=bn", "T=1"]))
    return build_model(compose([*common, "neuron=keys_lif", "norm=bntt", f"T={args.T}"]))


class Variant:
    def __init__(self, name: str, args, device: torch.device):
        torch.manual_seed(0)
        self.name, self.snn, self.device = name, name == "keys", device
        self.model = build(args, ann=not self.snn).to(device)
        n = args.batch if self.snn else args.T * args.batch
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 3, 32, 32, generator=g).to(device)
        self.y = torch.randint(0, 10, (n,), generator=g).to(device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.0268, momentum=0.9, weight_decay=1e-4)
        self.times: list[float] = []

    def step(self) -> None:
        from spikingjelly.activation_based import functional

        self.opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(self.model(self.x), self.y).backward()
        self.opt.step()
        functional.reset_net(self.model)

    def timed_step(self) -> float:
        return seconds(self.step, self.device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=None, help="timed rounds (default: 1 on CPU, 20 on CUDA)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="auto", help="auto|cpu|cuda")
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--batch", type=int, default=21)
    ap.add_argument("--width", type=int, default=16, help="base filters (KEYS 'wider': 32)")
    ap.add_argument("--block", default="keys_s2s")
    ap.add_argument("--readout", default="integrate", help="integrate | voting (boosting)")
    args = ap.parse_args()
    dev = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = torch.device("cpu" if dev == "auto" else dev)
    iters = args.iters or (20 if device.type == "cuda" else 1)  # a CPU step at T=50 takes long
    torch.backends.cudnn.benchmark = True

    variants = [Variant(name, args, device) for name in VARIANTS]
    saved = {v.name: saved_for_backward_bytes(v.step) for v in variants}  # also a warm-up step
    peak: dict[str, int] = {}
    for r in range(args.warmup + iters):
        for v in variants[r % 2 :] + variants[: r % 2]:
            if device.type == "cuda" and v.name not in peak:
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
                v.step()
                peak[v.name] = torch.cuda.max_memory_allocated(device)
                continue
            t = v.timed_step()
            if r >= args.warmup:
                v.times.append(t)

    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu, {torch.get_num_threads()} threads"
    )
    print(
        f"KEYS training step (forward + backward + SGD), {where}, torch {torch.__version__}, {iters} rounds"
    )
    print(
        f"  SNN: s_resnet38 F={args.width} block={args.block} keys_lif BNTT T={args.T} batch={args.batch} "
        f"32x32, readout={args.readout};  ANN: relu + BN, T=1, batch={args.T * args.batch} (same conv work)"
    )
    col = "peak alloc MB" if device.type == "cuda" else "saved-for-bwd MB"
    print(f"  {'variant':28s} {'median ms':>10s} {'min ms':>9s} {col:>17s}")
    med = {}
    for v, label in zip(variants, ("S-ResNet38 (KEYS)", "ANN ResNet38 (relu)"), strict=True):
        med[v.name] = statistics.median(v.times)
        m = peak[v.name] if device.type == "cuda" else saved[v.name]
        print(f"  {label:28s} {med[v.name] * 1e3:10.1f} {min(v.times) * 1e3:9.1f} {mb(m):>17s}")
    print(f"  ratio SNN/ANN: {med['keys'] / med['ann']:5.2f}  (neurons, BNTT, time axis; 1.0 is the limit)")


if __name__ == "__main__":
    main()
