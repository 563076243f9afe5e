"""What the benchmarks share (scripts run from this folder import it as ``_common``): the ANN they
compare against, device-synchronised timing, the bytes autograd saves, MiB formatting."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn


def build_ann() -> nn.Module:
    import torchvision

    return torchvision.models.resnet18(num_classes=1000)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds(step: Callable[[], object], device: torch.device) -> float:
    """Wall time of ``step()``, the device's queued work included."""
    sync(device)
    t0 = time.perf_counter()
    step()
    sync(device)
    return time.perf_counter() - t0


def saved_for_backward_bytes(step: Callable[[], None]) -> int:
    """Bytes of the distinct tensors autograd keeps for backward during one step."""
    seen: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor):
        if t.numel():
            key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
            seen[key] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(seen.values())


def mb(n: float) -> str:
    return f"{n / 2**20:8.1f}"
