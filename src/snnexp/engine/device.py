"""Where tensors go and in which layout: shared by training, evaluation and analysis."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from snnexp.engine.distributed import Dist
from snnexp.errors import ConfigError


def pick_device(name: str, d: Dist | None = None) -> torch.device:
    """``device=auto|cpu|cuda|mps`` -> a torch device (under DDP, this rank's GPU); a device that is
    not there is a one-line ConfigError, not a failure at the first tensor moved."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device=cuda but no CUDA device is visible; allowed here: cpu, auto")
        return torch.device("cuda", (d or Dist()).local_rank)
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device=mps but MPS is not available; allowed here: cpu, auto")
    return torch.device(name)


def to_time_major(x: torch.Tensor) -> torch.Tensor:
    """Batched sequences come as [B, T, C, H, W]; the network wants [T, B, C, H, W]. Static images
    ([B, C, H, W]) stay as they are: the encoder repeats them over time."""
    return x.transpose(0, 1).contiguous() if x.dim() == 5 else x


def seed_everything(seed: int, deterministic: bool) -> None:
    """Python, NumPy and torch seeded; ``deterministic``: torch picks deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        # torch.use_deterministic_algorithms also imports Inductor's config (1.1 s of a 2-core
        # start-up) to set its flag: set the eager flag alone here; CompiledOrEager sets
        # Inductor's where a run compiles (engine/fastpath.py)
        torch._C._set_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True


__all__ = ["pick_device", "seed_everything", "to_time_major"]
