"""Shared pieces of the spiking model files: the time axis, the stem, the readout."""

from __future__ import annotations

import torch
from spikingjelly.activation_based import layer
from torch import nn

from snnexp.errors import ConfigError

DROPOUT_MASKS = ("per_step", "shared")


def repeat_in_time(x: torch.Tensor, T: int) -> torch.Tensor:
    """[B, ...] -> [T, B, ...] (a static input presented at every step)."""
    return x.unsqueeze(0).repeat(T, *([1] * x.dim()))


def uses_per_step_state(module: nn.Module) -> bool:
    """True if any submodule keeps separate parameters/statistics per time step (BNTT)."""
    return any(getattr(m, "per_step", False) for m in module.modules())


class StepwiseDropout(nn.Dropout):
    """Dropout with a fresh mask at every time step and sample, as the DSR authors' nn.Dropout on
    their T copies concatenated on the batch axis ([T*B, ...]; qymeng94/DSR cifar/modules/vgg.py).
    ``per_step_mask``: method=dsr's flat formulation cannot replay it on time averages."""

    per_step_mask = True


def dropout_layer(p: float, mask: str) -> nn.Module:
    """``per_step``: a mask per time step (the DSR authors' code); ``shared``: one mask for all
    steps (spikingjelly's multi-step Dropout), which method=dsr's flat formulation needs."""
    if mask not in DROPOUT_MASKS:
        raise ConfigError(f"model.dropout_mask={mask!r}; choose one of {', '.join(DROPOUT_MASKS)}")
    if p <= 0:
        return nn.Identity()
    return StepwiseDropout(p) if mask == "per_step" else layer.Dropout(p, step_mode="m")


class SpikingNet(nn.Module):
    """A multi-step network: ``stem`` -> ``body`` -> ``readout``.

    ``forward`` takes either a static batch ``[B, C, H, W]`` (direct encoding: repeated T times)
    or a sequence ``[T, B, C, H, W]`` (Poisson or event frames) and returns logits ``[B, K]``.
    With ``stem_once`` (SEW's trick) the stateless stem (conv + norm) of a static batch runs once
    and its output is repeated T times, which is exact for any norm whose statistics are shared by
    all steps; it is turned off automatically for per-step norms such as BNTT.
    """

    static_dims = 4  # [B, C, H, W]

    def __init__(self, T: int, stem: nn.Module, body: nn.Module, readout: nn.Module, stem_once: bool = True):
        super().__init__()
        self.T = T
        self.stem = stem
        self.body = body
        self.readout = readout
        self.stem_once = stem_once and not uses_per_step_state(stem)
        self.encoder: nn.Module = nn.Identity()  # set by snnexp.build_model from the encoder group

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.encoder(x)
        if x.dim() == self.static_dims:
            if self.stem_once:
                x = self.stem(x.unsqueeze(0)).expand(self.T, *([-1] * x.dim()))
            else:
                x = self.stem(repeat_in_time(x, self.T))
        else:
            x = self.stem(x)
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x))
