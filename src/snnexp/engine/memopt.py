"""``trainer.memopt``: spikingjelly's memopt (gradient checkpointing with bit-compressed spikes,
Huang et al. ICLR 2026) over the model's residual blocks.

- ``none``: nothing changes.
- ``checkpoint``: every block keeps only its input for backward and recomputes its forward
  (``memopt.checkpoint_module``; neuron states are recomputed from the saved explicit state).
- ``compress``: the same, and a block input that is a spike tensor (all 0/1) is stored packed
  8 spikes per byte (``BitSpikeCompressor``). spikingjelly's ``optimize_memory`` decides this once
  from a probe forward; a SEW-ADD block's input is an integer count (S + SN(F(S)) can be 2) that
  a probe may not reveal, and packing it would silently corrupt the gradients, so here the check
  is made on every call and a non-binary input is stored as is.

Blocks are the outermost modules whose class lives in ``snnexp.blocks`` (any block file added
there is covered). Gradients are those of the plain model (tests/test_memopt.py).
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based.memopt import BitSpikeCompressor, SpikeCompressor, checkpoint_module
from torch import nn

from snnexp.errors import ConfigError

MODES = ("none", "checkpoint", "compress")


class CheckedBitCompressor(SpikeCompressor):
    """BitSpikeCompressor for 0/1 tensors; anything else is kept uncompressed."""

    def __init__(self) -> None:
        self.bits = BitSpikeCompressor()

    def compress(self, x: torch.Tensor) -> object:
        if bool(((x == 0) | (x == 1)).all()):
            return ("bits", self.bits.compress(x))
        return ("raw", x)

    def decompress(self, packed: object) -> torch.Tensor:
        kind, payload = packed
        return self.bits.decompress(payload) if kind == "bits" else payload


def blocks(model: nn.Module) -> list[str]:
    """Paths of the outermost snnexp blocks of ``model``."""
    paths: list[str] = []
    for path, m in model.named_modules():
        if path and type(m).__module__.startswith("snnexp.blocks"):
            if not any(path.startswith(p + ".") for p in paths):
                paths.append(path)
    return paths


def apply(model: nn.Module, mode: str) -> nn.Module:
    """Wrap the blocks of ``model`` in place for ``mode``; returns ``model``."""
    if mode not in MODES:
        raise ConfigError(f"trainer.memopt={mode!r}: expected one of {', '.join(MODES)}")
    if mode == "none":
        return model
    paths = blocks(model)
    if not paths:
        raise ConfigError(
            f"trainer.memopt={mode}: {type(model).__name__} has no snnexp blocks to checkpoint "
            "(memopt wraps the modules of src/snnexp/blocks); use trainer.memopt=none"
        )
    for path in paths:
        compressor = CheckedBitCompressor() if mode == "compress" else None
        model.set_submodule(path, checkpoint_module(model.get_submodule(path), compressor=compressor))
    return model
