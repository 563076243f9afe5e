"""The basic block of TDBN (Zheng et al. 2021) Fig. 5b, in basic and bottleneck form.

    F(S)  = conv - tdBN(alpha=1) - LIF - conv - tdBN(alpha=1/sqrt2)        (basic)
            conv1x1 - tdBN - LIF - conv3x3(stride) - tdBN - LIF - conv1x1 - tdBN(1/sqrt2)  (bottleneck)
    sc(S) = [conv1x1(stride)] - tdBN(alpha=1/sqrt2)
    O     = LIF(F(S) + sc(S))

The two 1/sqrt2 norms make the sum of two independent N(0, (V_th/sqrt2)^2) inputs N(0, V_th^2) at
initialisation (TDBN Sec. "Basic block"); ``parts.norm(..., residual=True)`` gives them the norm's
``residual_alpha``.

Figure vs. table: Fig. 5b draws a tdBN on *every* shortcut, the identity included ("we change the
shortcut connection and add a tdBN layer before the final addition"); Table 4 only says that a
downsampling block changes resolution "directly with convolution kernels". We follow the figure
(``shortcut_norm: always``); ``shortcut_norm: downsample`` gives the plain Spiking-ResNet shortcut
(identity unless the shape changes), which is ``block=spiking``.
The bottleneck (ResNet-50) is not drawn in the paper: same pattern with three convs, the stride on
the 3x3 conv as in torchvision's ResNet v1.5 (see :mod:`snnexp.blocks.sew`).
"""

from __future__ import annotations

import torch
from torch import nn

from snnexp.blocks.sew import branch_plan, conv
from snnexp.registry import BLOCKS

SHORTCUT_NORM = ("always", "downsample")


class TDBNBlock(nn.Module):
    def __init__(
        self,
        parts,
        in_channels: int,
        channels: int,
        *,
        stride: int,
        form: str,
        expansion: int,
        shortcut_norm: str,
        zero_init: bool,
    ):
        super().__init__()
        if shortcut_norm not in SHORTCUT_NORM:
            raise ValueError(
                f"block.shortcut_norm={shortcut_norm!r}; choose one of {', '.join(SHORTCUT_NORM)}"
            )
        self.form, self.in_channels, self.channels, self.stride = form, in_channels, channels, stride
        plan = branch_plan(form, in_channels, channels, stride, expansion)
        self.n_convs = len(plan)
        for i, (cin, cout, k, s) in enumerate(plan, 1):
            setattr(self, f"conv{i}", conv(cin, cout, k, s))
            setattr(self, f"bn{i}", parts.norm(cout, residual=i == self.n_convs))
            setattr(self, f"sn{i}", parts.neuron())  # the last one fires on F(S) + sc(S)
        sc: list[nn.Module] = []
        if stride != 1 or in_channels != channels:
            sc.append(conv(in_channels, channels, 1, stride))
        if sc or shortcut_norm == "always":
            sc.append(parts.norm(channels, residual=True))
        self.downsample = nn.Sequential(*sc) if sc else None
        if zero_init:  # not in TDBN; as SEW Sec. 3.2: F(S) = 0 at start (lambda = 0)
            nn.init.zeros_(getattr(self, f"bn{self.n_convs}").weight)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        x = s
        for i in range(1, self.n_convs):
            x = getattr(self, f"sn{i}")(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)))
        x = getattr(self, f"bn{self.n_convs}")(getattr(self, f"conv{self.n_convs}")(x))
        identity = s if self.downsample is None else self.downsample(s)
        return getattr(self, f"sn{self.n_convs}")(x + identity)

    def extra_repr(self) -> str:
        return f"tdbn, form={self.form}"


@BLOCKS.register("tdbn", paper="TDBN")
def tdbn(
    parts,
    in_channels: int,
    channels: int,
    *,
    shortcut_norm: str,
    zero_init: bool,
    stride: int = 1,  # stride, form, expansion: set by the model's layout, not by the YAML
    form: str = "basic",
    expansion: int = 4,
):
    return TDBNBlock(
        parts,
        in_channels,
        channels,
        stride=stride,
        form=form,
        expansion=expansion,
        shortcut_norm=shortcut_norm,
        zero_init=zero_init,
    )
