"""Input encoders (config group ``encoder``).

``direct`` leaves a static image as it is ([B, C, H, W]); the model repeats it T times, either
before its stem or (``stem_once``) after it, since conv+BN of identical frames are identical.
"""

from __future__ import annotations

import torch
from torch import nn

from snnexp.registry import ENCODERS


class Direct(nn.Module):
    """The analog image is the input at every step (SEW, TDBN, DSR, KEYS 'direct')."""

    def __init__(self, T: int):
        super().__init__()
        self.T = T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@ENCODERS.register("direct", help="analog image fed at every time step (first conv sees it)")
def direct(T: int):
    return Direct(T)
