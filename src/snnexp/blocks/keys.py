"""The three spiking residual connections of KEYS (Vicente-Sola et al.), Sec. 3.2.1, Fig. 1.

A KEYS block is two layers of the CIFAR ResNet (He et al. Table 1; the residual skips n = 2):

    layer l-1:  I_{l-1} = norm(conv3x3_s(o_{l-2})),      o_{l-1} = g(lambda u_{l-1} + I_{l-1})
    layer l:    I_l     = norm(conv3x3(o_{l-1})) [+ r],  o_l = g(lambda u_l + I_l) [+ ...]

where o_{l-2} is the block input (the previous block's output, or the stem's) and g/u the
configured neuron (``keys_lif``: u_t = lambda u_{t-1} + I_t, soft reset). How the residual joins:

- ``keys_s2m`` (Eq. 7):  o_l = g(W_{l-1} o_{l-1} + lambda u_{l,t-1} + W' o_{l-n}); W' is fixed
  (``s2m_weight``, the YAML sets it to U_th: an identity when the branch is silent).
- ``keys_s2s`` (Eq. 10): o_l = o'_l + o_{l-n}, o'_l = g(...): the block output is a non-binary sum.
- ``keys_v2v`` (Eq. 15-16): r_l = W_{l-n-1} o_{l-n-1} + r_{l-n} is the whole input current of layer
  l-n (synaptic current plus its own residual), carried into the membrane of layer l. A block
  therefore takes and returns the pair (spikes, input current of its last layer); the stem's
  current starts the chain (Eq. 18: r_l is the sum of the PSPs of layers l-n-1, l-2n-1, ...).

At a resolution change (first block of stages 2 and 3: stride 2, channels doubled) the residual
goes through a 1x1 stride-2 conv and its norm, with NO spiking neuron (Sec. 3.2.1, Eq. 13: "by
applying this convolution o_{l-n,t} gets now multiplied by the learnable W''"; Sec. 4: in all three
S-ResNets "the residual connection go[es] through a 1x1 convolution" at layers 14 and 26):
- S2S: o_l = o'_l + norm(conv1x1(o_{l-n})) (the authors' code: ``conv_resize`` + its BNTT).
- S2M: the learnable W'' o_{l-n} = norm(conv1x1(o_{l-n})) replaces the fixed W' o_{l-n} in the
  membrane sum (the paper gives no separate W' there; a fixed factor before a learned conv and
  norm would be redundant).
- V2V: the carried current r_{l-n} is mapped the same way, r = norm(conv1x1(r_{l-n})) + ...
  (the paper is silent on what maps a current; the same 1x1 conv + norm as the other two).

``zero_init`` (not in the paper or the authors' code) sets the weight of the branch's last norm to
0, so that each block starts as the identity the paper describes for a silent branch.
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based import layer
from torch import nn

from snnexp.errors import ConfigError
from snnexp.registry import BLOCKS

KINDS = ("s2m", "s2s", "v2v")


def conv3x3(cin: int, cout: int, stride: int) -> nn.Module:
    return layer.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False, step_mode="m")


class KeysBlock(nn.Module):
    """Two conv-norm-neuron layers of S-ResNet joined by one KEYS residual connection (``kind``)."""

    def __init__(
        self,
        parts,
        in_channels: int,
        channels: int,
        *,
        stride: int,
        kind: str,
        s2m_weight: float | None,
        zero_init: bool,
    ):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown KEYS residual {kind!r}; choose one of {', '.join(KINDS)}")
        self.kind, self.stride = kind, stride
        self.carries_current = kind == "v2v"  # takes and returns (spikes, input current)
        self.s2m_weight = s2m_weight
        self.conv1, self.bn1 = conv3x3(in_channels, channels, stride), parts.norm(channels)
        self.sn1 = parts.neuron()
        self.conv2, self.bn2 = conv3x3(channels, channels, 1), parts.norm(channels)
        self.sn2 = parts.neuron()
        # the 1x1 mapping of the residual at a resolution change: conv + norm, no neuron
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                layer.Conv2d(in_channels, channels, 1, stride=stride, bias=False, step_mode="m"),
                parts.norm(channels, residual=True),
            )
        if zero_init:
            affine = [m for m in self.bn2.modules() if isinstance(getattr(m, "weight", None), torch.Tensor)]
            if not affine:
                raise ValueError(f"zero_init needs a norm with a weight; {type(self.bn2).__name__} has none")
            with torch.no_grad():
                for m in affine:
                    nn.init.zeros_(m.weight)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """What the skip carries into layer l: o_{l-n} (S2S), W' o_{l-n} (S2M), r_{l-n} (V2V),
        through the 1x1 conv + norm at a resolution change."""
        if self.downsample is not None:
            return self.downsample(x)
        return x * self.s2m_weight if self.kind == "s2m" else x

    def forward(self, x):
        if self.carries_current:
            if not isinstance(x, tuple):
                raise ConfigError(
                    "block keys_v2v needs the input current of the previous block (a model that "
                    "passes (spikes, current) pairs: s_resnet*)"
                )
            s, r = x
        else:
            s = x[0] if isinstance(x, tuple) else x
        current = self.bn2(self.conv2(self.sn1(self.bn1(self.conv1(s)))))  # W_{l-1} o_{l-1}
        if self.kind == "s2s":
            return self.sn2(current) + self.residual(s)  # Eq. 10 / 13
        if self.kind == "s2m":
            return self.sn2(current + self.residual(s))  # Eq. 7
        current = current + self.residual(r)  # Eq. 15: I_l = W_{l-1} o_{l-1} + r_l
        return self.sn2(current), current  # Eq. 16; I_l is r for the next block

    def extra_repr(self) -> str:
        w = f", W'={self.s2m_weight}" if self.kind == "s2m" else ""
        return f"{self.kind.upper()}{w}"


def keys_block(
    parts,
    in_channels: int,
    channels: int,
    *,
    kind: str,
    zero_init: bool,
    s2m_weight: float | None = None,  # S2M only: its YAML sets W' (= U_th)
    stride: int = 1,  # stride, form: set by the model's layout, not by the YAML
    form: str = "basic",
) -> KeysBlock:
    name = f"keys_{kind}"
    if form != "basic":
        raise ValueError(f"block {name} has the basic form (two 3x3 convs) only, not {form!r}")
    if kind == "v2v" and not parts.passes_current:
        raise ValueError(
            "block keys_v2v carries the input current from block to block; this model passes "
            "spikes only (use model=s_resnet20|38|44|56|110)"
        )
    if kind == "s2m" and s2m_weight is None:
        raise ValueError("block keys_s2m needs s2m_weight (W', the paper sets it to U_th)")
    return KeysBlock(
        parts, in_channels, channels, stride=stride, kind=kind, s2m_weight=s2m_weight, zero_init=zero_init
    )


BLOCKS.variant("keys_s2m", keys_block, kind="s2m", paper="KEYS")
BLOCKS.variant("keys_s2s", keys_block, kind="s2s", paper="KEYS")
BLOCKS.variant("keys_v2v", keys_block, kind="v2v", paper="KEYS")
