"""No normalisation."""

from __future__ import annotations

from torch import nn

from snnexp.registry import NORMS


@NORMS.register("none", help="no normalisation (identity)")
def none(channels: int, *, residual: bool = False, v_threshold: float = 1.0, T: int = 1,
         dims: int = 2):
    del channels, residual, v_threshold, T, dims
    return nn.Identity()
