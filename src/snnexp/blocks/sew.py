"""The five block types of SEW Fig. 1/2, basic form (two 3x3 convs).

- ``sew_add|sew_and|sew_iand``: O = g(SN(F(S)), S); downsample shortcut Conv-BN-SN.
- ``spiking`` (Spiking ResNet): O = SN(F(S) + S); downsample shortcut Conv-BN.
- ``plain``: O = SN(F(S)), no shortcut.
F is conv-norm-SN-conv-norm. ``zero_init`` sets the weight of the branch's last norm to 0 (and its
bias to V_th for AND, so SN(F(S)) = 1 and AND passes S through): every SEW ADD/IAND/AND block then
starts as an identity mapping.
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based import layer
from torch import nn

from snnexp.registry import BLOCKS

CONNECT = {
    "add": lambda a, s: a + s,
    "and": lambda a, s: a * s,
    "iand": lambda a, s: (1.0 - a) * s,
}


def conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Module:
    return layer.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False, step_mode="m")


def last_norm(branch: nn.Sequential) -> nn.Module:
    norms = [m for m in branch if not isinstance(m, layer.Conv2d) and hasattr(m, "weight")]
    return norms[-1]


class BasicBlock(nn.Module):
    """conv3x3(stride)-norm-SN-conv3x3-norm, then the block type's way of joining the shortcut."""

    def __init__(self, parts, in_channels: int, channels: int, stride: int, kind: str,
                 connect: str | None, zero_init: bool):
        super().__init__()
        self.kind, self.connect = kind, connect
        sew = kind == "sew"
        self.branch = nn.Sequential(
            conv(in_channels, channels, 3, stride), parts.norm(channels), parts.neuron(),
            conv(channels, channels, 3), parts.norm(channels, residual=not sew and kind != "plain"),
        )
        self.branch_sn = parts.neuron() if kind != "spiking" else None
        self.shortcut = None
        if kind != "plain" and (stride != 1 or in_channels != channels):
            sc = [conv(in_channels, channels, 1, stride), parts.norm(channels, residual=not sew)]
            if sew:
                sc.append(parts.neuron())  # SEW: the downsample shortcut is Conv-BN-SN
            self.shortcut = nn.Sequential(*sc)
        self.out_sn = parts.neuron() if kind == "spiking" else None
        if zero_init:
            bn = last_norm(self.branch)
            nn.init.zeros_(bn.weight)
            if connect == "and" and getattr(bn, "bias", None) is not None:
                nn.init.constant_(bn.bias, parts.v_threshold)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        a = self.branch(s)
        if self.kind == "plain":
            return self.branch_sn(a)
        identity = s if self.shortcut is None else self.shortcut(s)
        if self.kind == "spiking":
            return self.out_sn(a + identity)
        return CONNECT[self.connect](self.branch_sn(a), identity)


def _register(name: str, kind: str, connect: str | None, help: str) -> None:
    @BLOCKS.register(name, paper="SEW", help=help)
    def build(parts, in_channels: int, channels: int, *, stride: int = 1, zero_init: bool = False,
              form: str = "basic"):
        if form != "basic":
            raise NotImplementedError(f"block form {form!r}")
        return BasicBlock(parts, in_channels, channels, stride, kind, connect, zero_init)


_register("sew_add", "sew", "add", "SEW block, g = ADD: O = SN(F(S)) + S")
_register("sew_and", "sew", "and", "SEW block, g = AND: O = SN(F(S)) * S")
_register("sew_iand", "sew", "iand", "SEW block, g = IAND: O = (1 - SN(F(S))) * S")
_register("spiking", "spiking", None, "Spiking ResNet block: O = SN(F(S) + S)")
_register("plain", "plain", None, "plain block, no shortcut: O = SN(F(S))")
