"""Input encoders (config group ``encoder``).

``direct`` leaves a static image as it is ([B, C, H, W]); the model repeats it T times, either
before its stem or (``stem_once``) after it, since conv+BN of identical frames are identical.
``poisson`` turns a static image into a spike sequence [T, B, C, H, W] (KEYS Table 4).
``frames`` passes an event-frame sequence [T, B, C, H, W] through unchanged.
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based.encoding import PoissonEncoder
from torch import nn

from snnexp.registry import ENCODERS


class Direct(nn.Module):
    """The analog image is the input at every step (SEW, TDBN, DSR, KEYS 'direct')."""

    def __init__(self, *, T: int):
        super().__init__()
        self.T = T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@ENCODERS.register("direct")
def direct(T: int):
    return Direct(T=T)


class Poisson(nn.Module):
    """T independent Bernoulli draws per pixel ("Poisson spike generation", KEYS Sec. 3.4).

    Each step fires with probability ``rate_scale * |x|`` (clipped to [0, 1]); with ``signed``
    the spike carries the sign of x, so dataset-normalised (negative) pixels are encoded too, as
    in the KEYS authors' generator (sign(x) * 1[rand * 2 <= |x|], i.e. rate_scale 0.5). With
    ``signed: false, rate_scale: 1`` this is spikingjelly's PoissonEncoder (p = x, x in [0, 1]).
    """

    def __init__(self, *, T: int, signed: bool, rate_scale: float):
        super().__init__()
        self.T, self.signed, self.rate_scale = T, signed, float(rate_scale)
        self.draw = PoissonEncoder(step_mode="s")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"encoder poisson expects a static batch [B, C, H, W], got {tuple(x.shape)}")
        p = (x.abs() if self.signed else x) * self.rate_scale
        p = p.clamp(0.0, 1.0)
        spikes = torch.stack([self.draw(p) for _ in range(self.T)])  # [T, B, C, H, W]
        return spikes * torch.sign(x) if self.signed else spikes

    def extra_repr(self) -> str:
        return f"T={self.T}, signed={self.signed}, rate_scale={self.rate_scale}"


@ENCODERS.register("poisson", paper="KEYS")
def poisson(*, T: int, signed: bool, rate_scale: float):
    if rate_scale <= 0:
        raise ValueError(f"encoder poisson: rate_scale must be > 0, got {rate_scale}")
    return Poisson(T=T, signed=signed, rate_scale=rate_scale)


class Frames(nn.Module):
    """Event frames are already a sequence [T, B, C, H, W]: pass them on (as floats)."""

    def __init__(self, *, T: int):
        super().__init__()
        self.T = T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3:
            raise ValueError(
                f"encoder frames expects a time-major sequence [T, B, ...], got {tuple(x.shape)}"
            )
        return x if x.is_floating_point() else x.to(torch.get_default_dtype())


@ENCODERS.register("frames")
def frames(T: int):
    return Frames(T=T)
