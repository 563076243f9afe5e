"""Plain BN over the flattened [T*B, C, ...] view: statistics over T, B and space (SEW default)."""

from __future__ import annotations

from spikingjelly.activation_based import layer

from snnexp.registry import NORMS

_BN = {1: layer.BatchNorm1d, 2: layer.BatchNorm2d, 3: layer.BatchNorm3d}


@NORMS.register("bn", paper="SEW")
def bn(channels: int, *, residual: bool, v_threshold: float, T: int, dims: int, eps: float, momentum: float):
    del residual, v_threshold, T  # plain BN has no threshold-dependent scale
    return _BN[dims](channels, eps=eps, momentum=momentum, step_mode="m")
