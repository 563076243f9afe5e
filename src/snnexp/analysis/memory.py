"""Memory of one training step: the bytes autograd saves for the backward pass (the memory that
BPTT's graph grows with T and DSR's does not, DSR Sec. 4.3) and the peak-RSS increase on CPU.

Used by ``snnexp claims`` (kind ``memory``) and ``scripts/bench_dsr.py``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import torch
from omegaconf import DictConfig


def training_step(cfg: DictConfig, batch: int, device: torch.device | str = "cpu") -> Callable[[], object]:
    """One optimisation step of the model, method and loss ``cfg`` builds, on a fixed random batch
    shaped like ``cfg.data`` (the values do not matter for memory; the shapes do)."""
    from snnexp.build import build_method, build_model
    from snnexp.engine.steps import StepContext

    device = torch.device(device)
    torch.manual_seed(0)
    model = build_model(cfg).to(device)
    method = build_method(cfg)
    method.prepare(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    ctx = StepContext.from_config(cfg, device, model=model, optimizer=opt, amp=False)
    g = torch.Generator().manual_seed(1)
    shape = (batch, int(cfg.data.in_channels), int(cfg.data.image_size), int(cfg.data.image_size))
    x = torch.rand(shape, generator=g).to(device)
    y = torch.randint(0, int(cfg.data.num_classes), (batch,), generator=g).to(device)
    model.train()
    return lambda: method.train_step(model, x, y, ctx)


def saved_bytes(step: Callable[[], object]) -> int:
    """Bytes of the distinct storages autograd saves for backward during ``step()``."""
    seen: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
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


def cpu_step_peak(step: Callable[[], object]) -> int:
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


def cpu_allocated_peak(step: Callable[[], object]) -> int:
    """Peak bytes torch's CPU allocator holds during ``step()`` over those held before it (the
    profiler's allocation events in time order, summed). Unlike the peak RSS it does not see
    malloc keeping freed pages or the libraries, so it is what a change to the step itself moves."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    cur = peak = 0
    for e in sorted(prof.events(), key=lambda e: e.time_range.start):
        cur += e.self_cpu_memory_usage
        peak = max(peak, cur)
    return peak
