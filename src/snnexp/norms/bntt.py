"""BNTT, Batch Normalization Through Time (Kim & Panda 2021; KEYS Sec. 3.2.2, Table 5): a separate
BN (own statistics, own weight) for every time step, weight only, no bias.

spikingjelly's BatchNormThroughTime2d is the same computation but stateful: it counts steps in a
memory ``t`` that must be reset after every sequence, and cannot take a partial sequence twice.
This version is stateless: step t of the input [T', B, C, ...] goes through BN number t, so it
also runs with fewer steps than it was built for (KEYS Tables 16-17: early stopping uses the
first T' BNs).
"""

from __future__ import annotations

import torch
from torch import nn

from snnexp.registry import NORMS

_BN = {0: nn.BatchNorm1d, 1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}


class BNTT(nn.Module):
    per_step = True  # models must not run a shared stem once and repeat it (SpikingNet.stem_once)

    def __init__(self, num_features: int, T: int, *, dims: int, eps: float, momentum: float, bias: bool):
        super().__init__()
        self.T, self.dims, self.num_features = T, dims, num_features
        self.bn_list = nn.ModuleList(_BN[dims](num_features, eps=eps, momentum=momentum) for _ in range(T))
        if not bias:
            for bn in self.bn_list:
                bn.bias = None  # KEYS/BNTT: weight (gamma_t) only
        self.step_mode = "m"
        self._register_load_state_dict_pre_hook(self._keep_first_steps)

    def _keep_first_steps(self, state_dict, prefix, *args) -> None:
        """A BNTT built for T' steps loads the first T' per-step BNs of a checkpoint trained with
        more steps and ignores the rest (the KEYS authors' test.py: "a model built with N steps
        loads BNTT 0...N-1"; Tables 16-17)."""
        head = prefix + "bn_list."
        for key in [k for k in state_dict if k.startswith(head)]:
            step = key[len(head) :].split(".", 1)[0]
            if step.isdigit() and int(step) >= self.T:
                del state_dict[key]

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.shape[0] > self.T:
            raise ValueError(f"BNTT was built for T={self.T} steps, got a sequence of {x_seq.shape[0]}")
        return torch.stack([self.bn_list[t](x_seq[t]) for t in range(x_seq.shape[0])])

    def extra_repr(self) -> str:
        return f"{self.num_features}, T={self.T}"


@NORMS.register("bntt", paper="KEYS")
def bntt(
    channels: int,
    *,
    residual: bool,
    v_threshold: float,
    T: int,
    dims: int,
    eps: float,
    momentum: float,
    bias: bool,
):
    del residual, v_threshold
    return BNTT(channels, T, dims=dims, eps=eps, momentum=momentum, bias=bias)
