"""The five block types of SEW (Fang et al. 2021) Fig. 1/2, in basic and bottleneck form.

Residual branch F (He et al. 2016, Table 1):
- ``form=basic``:      conv3x3(stride)-norm-SN - conv3x3-norm
- ``form=bottleneck``: conv1x1-norm-SN - conv3x3(stride)-norm-SN - conv1x1-norm, with
  ``channels`` output channels and ``channels // expansion`` (expansion 4) inside. The stride sits
  on the 3x3 conv, as in torchvision's ResNet v1.5 and the SEW authors' code (He et al. put it on
  the first 1x1; the parameter count is the same).

How the block joins the branch with its input S:
- ``sew_add|sew_and|sew_iand``: O = g(A, S) with A = SN(F(S)) and g from SEW Table 1
  (ADD: A + S, AND: A * S, IAND: (1 - A) * S); downsample shortcut Conv-BN-SN (SEW Fig. 2b).
- ``spiking`` (Spiking ResNet): O = SN(F(S) + S); downsample shortcut Conv-BN (SEW Fig. 2a).
- ``plain``: O = SN(F(S)), no shortcut.
A shortcut is the identity unless the block changes the stride or the number of channels.

``zero_init`` sets the weight of the branch's last norm to 0, and its bias to V_th for AND: F(S)
is then constant 0 (V_th for AND), A = SN(0) = 0 for ADD/IAND and SN(V_th) = 1 for AND with IF
neurons, so every SEW block starts as an identity mapping (SEW Sec. 3.3), and a Spiking ResNet
block with IF neurons and V_th <= 1 too (SEW Sec. 3.2).

Submodules are named like torchvision's and spikingjelly's ResNets (``conv1, bn1, sn1, ...,
downsample``), so state dicts map one to one (``tests/test_sew_equivalence.py``).
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based import layer
from torch import nn

from snnexp.registry import BLOCKS


def g_add(a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return a + s


def g_and(a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return a * s


def g_iand(a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return (1.0 - a) * s


CONNECT = {"add": g_add, "and": g_and, "iand": g_iand}
FORMS = ("basic", "bottleneck")


def conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Module:
    """A bias-free multi-step conv with 'same' padding (the norm after it carries the bias)."""
    return layer.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False, step_mode="m")


def branch_plan(form: str, in_channels: int, channels: int, stride: int, expansion: int):
    """The convs of F as (in, out, kernel, stride), one per conv-norm(-SN) stage."""
    if form == "basic":
        return [(in_channels, channels, 3, stride), (channels, channels, 3, 1)]
    if form == "bottleneck":
        if channels % expansion:
            raise ValueError(
                f"bottleneck block: {channels} output channels are not a multiple of expansion={expansion}"
            )
        mid = channels // expansion
        return [(in_channels, mid, 1, 1), (mid, mid, 3, stride), (mid, channels, 1, 1)]
    raise ValueError(f"unknown block form {form!r}; choose one of {', '.join(FORMS)}")


class ResidualBlock(nn.Module):
    """One block of SEW Fig. 1/2: ``kind`` is sew|spiking|plain, ``connect`` the SEW g."""

    def __init__(
        self,
        parts,
        in_channels: int,
        channels: int,
        *,
        kind: str,
        connect: str | None,
        zero_init: bool,
        stride: int = 1,  # stride, form, expansion: set by the model's layout, not by the YAML
        form: str = "basic",
        expansion: int = 4,
    ):
        super().__init__()
        self.kind, self.connect, self.form = kind, connect, form
        self.in_channels, self.channels, self.stride = in_channels, channels, stride
        plan = branch_plan(form, in_channels, channels, stride, expansion)
        self.n_convs = len(plan)
        for i, (cin, cout, k, s) in enumerate(plan, 1):
            last = i == self.n_convs
            setattr(self, f"conv{i}", conv(cin, cout, k, s))
            # tdBN's 1/sqrt(2) scale applies where a norm's output meets the shortcut in a sum
            setattr(self, f"bn{i}", parts.norm(cout, residual=last and kind == "spiking"))
            setattr(self, f"sn{i}", parts.neuron())
        self.downsample: nn.Module | None = None
        if kind != "plain" and (stride != 1 or in_channels != channels):
            sc = [conv(in_channels, channels, 1, stride), parts.norm(channels, residual=kind == "spiking")]
            if kind == "sew":
                sc.append(parts.neuron())  # SEW Fig. 2b: Conv-BN-SN, the shortcut carries spikes
            self.downsample = nn.Sequential(*sc)
        if zero_init:
            self.zero_init_(parts.v_threshold)

    @property
    def last_norm(self) -> nn.Module:
        return getattr(self, f"bn{self.n_convs}")

    @property
    def last_neuron(self) -> nn.Module:
        """The block's last SN: A = SN(F(S)) for SEW, O = SN(F(S) + S) for Spiking ResNet."""
        return getattr(self, f"sn{self.n_convs}")

    def zero_init_(self, v_threshold: float) -> None:
        norm = self.last_norm
        # the norm itself, or the per-step norms inside it (BNTT keeps one BN per time step)
        affine = [m for m in norm.modules() if isinstance(getattr(m, "weight", None), torch.Tensor)]
        if not affine:
            raise ValueError(f"zero_init needs a norm with a weight; {type(norm).__name__} has none")
        if self.connect == "and" and any(getattr(m, "bias", None) is None for m in affine):
            raise ValueError(
                f"zero_init with g=AND needs a norm with a bias (set to V_th); {type(norm).__name__} has none"
            )
        with torch.no_grad():
            for m in affine:
                nn.init.zeros_(m.weight)
                if getattr(m, "bias", None) is not None:
                    nn.init.constant_(m.bias, v_threshold if self.connect == "and" else 0.0)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        x = s
        for i in range(1, self.n_convs):
            x = getattr(self, f"sn{i}")(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)))
        x = self.last_norm(getattr(self, f"conv{self.n_convs}")(x))  # F(S)
        if self.kind == "plain":
            return self.last_neuron(x)
        identity = s if self.downsample is None else self.downsample(s)
        if self.kind == "spiking":
            return self.last_neuron(x + identity)
        return CONNECT[self.connect](self.last_neuron(x), identity)

    def extra_repr(self) -> str:
        g = f", g={self.connect.upper()}" if self.connect else ""
        return f"{self.kind}{g}, form={self.form}"


# the five block types of SEW Table 1 / Fig. 3: one ResidualBlock, kind and g bound
BLOCKS.variant("sew_add", ResidualBlock, kind="sew", connect="add", paper="SEW")
BLOCKS.variant("sew_and", ResidualBlock, kind="sew", connect="and", paper="SEW")
BLOCKS.variant("sew_iand", ResidualBlock, kind="sew", connect="iand", paper="SEW")
BLOCKS.variant("spiking", ResidualBlock, kind="spiking", connect=None, paper="SEW")
BLOCKS.variant("plain", ResidualBlock, kind="plain", connect=None, paper="SEW")
