"""S-ResNet of KEYS (Vicente-Sola et al., Sec. 3.2.2, Table 1, Fig. 2): He et al.'s CIFAR ResNet
(depth 6n+2) with spiking neurons, a residual every two convs of the configured type
(``block=keys_s2s|keys_s2m|keys_v2v``; the SEW blocks fit the same layout) and BNTT.

    output map   32x32                 16x16        8x8
    # layers     1 + 2n                2n           2n
    # filters    F                     2F           4F        (F = base_width: 16, "wider" 32)

    stem   c{F}k3s1-norm-SN                      (DVS, Table 13: c{F}k3s2, or c{F}k5s2-SN-MPk2s2)
    stage  n blocks of 2 convs; the first block of stages 2 and 3 has stride 2 and maps its
           residual through a 1x1 stride-2 conv + norm (no neuron)
    head   global avgpool - readout (``integrate``: fc into a non-leaky, non-spiking integrator,
           u_T / T; ``voting``: the boosting layer, fc to 10 C then average pool of 10)

The authors' code (VicenteAlex/Spiking_ResNet, model.py ``SResnet``): no conv/fc bias, one BNTT
after every conv (stem and 1x1 convs included), Xavier-uniform init with gain 2 of every conv and
fc (``init: xavier_uniform``, ``init_gain: 2``), avgpool before the fc. Parameter counts (BNTT
weight only, T=50; Tables 6-7, tests/test_keys_models.py): 634,000 (F=16, CIFAR-10),
639,760 (F=16 + boosting on CIFAR-10, or F=16 on CIFAR-100), 697,360 (F=16 + boosting, CIFAR-100);
2,388,256 / 2,399,776 / 2,514,976 for F=32.

With a V2V block, the body passes (spikes, input current) pairs between blocks, starting with the
stem's current (KEYS Eq. 18); any other block sees spikes only.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from spikingjelly.activation_based import layer
from torch import nn

from snnexp.models.base import SpikingNet
from snnexp.registry import MODELS

# depth -> n (He et al. Sec. 4.2: 6n+2 layers, 2n per stage); KEYS Table 3 uses 20, 38, 44
RESNET_LAYOUT: dict[int, int] = {20: 3, 38: 6, 44: 7, 56: 9, 110: 18}
STAGE_FACTORS = (1, 2, 4)  # filters of the 3 stages, times base_width
INITS = ("xavier_uniform", "kaiming", "default")


class KeysBody(nn.Module):
    """Stem neuron -> stages of blocks -> global avgpool. Blocks with ``carries_current`` (V2V)
    get and return (spikes, input current); the stem's current starts the chain."""

    def __init__(self, sn1: nn.Module, pool: nn.Module | None, stages: list[nn.Module]):
        super().__init__()
        self.sn1 = sn1
        self.maxpool = pool
        for i, stage in enumerate(stages, 1):
            self.add_module(f"layer{i}", stage)
        self.n_stages = len(stages)
        self.avgpool = layer.AdaptiveAvgPool2d((1, 1), step_mode="m")

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        spikes = self.sn1(current)
        if self.maxpool is not None:
            # the paper is silent on the current a V2V block gets after a pooled stem: pooled alike
            spikes, current = self.maxpool(spikes), self.maxpool(current)
        for i in range(1, self.n_stages + 1):
            for blk in getattr(self, f"layer{i}"):
                if getattr(blk, "carries_current", False):
                    spikes, current = blk((spikes, current))
                else:
                    spikes = blk(spikes)
        return self.avgpool(spikes)


def init_weights(model: nn.Module, init: str, gain: float) -> None:
    """``xavier_uniform``: Xavier-uniform with ``gain`` on every conv and fc weight (the KEYS
    authors' code, gain 2); ``kaiming``: He-normal (fan_out) convs; ``default``: PyTorch's."""
    if init not in INITS:
        raise ValueError(f"model.init={init!r}; choose one of {', '.join(INITS)}")
    for m in model.modules():
        if init == "xavier_uniform" and isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight, gain=gain)
        elif init == "kaiming" and isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def s_resnet(
    parts,
    depth: int,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    base_width: int,
    stem_kernel: int,
    stem_stride: int,
    stem_pool: int,
    readout: str,
    init: str,
    init_gain: float,
) -> SpikingNet:
    if depth not in RESNET_LAYOUT:
        raise ValueError(f"S-ResNet depth {depth} is not 6n+2 in {sorted(RESNET_LAYOUT)}")
    n = RESNET_LAYOUT[depth]
    size = image_size // stem_stride // max(stem_pool, 1)
    if size < 4:
        raise ValueError(
            f"s_resnet{depth}: a {image_size}px input after the stem (stride {stem_stride}, "
            f"pool {stem_pool}) is {size}px; the two stride-2 stages need >= 4px"
        )
    stem = nn.Sequential(
        OrderedDict(
            conv1=layer.Conv2d(
                in_channels,
                base_width,
                stem_kernel,
                stride=stem_stride,
                padding=stem_kernel // 2,
                bias=False,
                step_mode="m",
            ),
            bn1=parts.norm(base_width),
        )
    )
    pool = layer.MaxPool2d(stem_pool, stem_pool, step_mode="m") if stem_pool > 1 else None
    parts.passes_current = True  # KeysBody hands V2V blocks the current of the layer before
    stages, cin = [], base_width
    for i, factor in enumerate(STAGE_FACTORS):
        cout = base_width * factor
        blocks = []
        for j in range(n):
            blocks.append(parts.block(cin, cout, stride=2 if (i > 0 and j == 0) else 1))
            cin = cout
        stages.append(nn.Sequential(*blocks))
    net = SpikingNet(
        parts.T,
        stem,
        KeysBody(parts.neuron(), pool, stages),
        parts.readout(readout, cin, num_classes),
        stem_once=True,  # turned off by SpikingNet for per-step norms (BNTT)
    )
    init_weights(net, init, init_gain)
    return net


for _depth in RESNET_LAYOUT:
    MODELS.variant(f"s_resnet{_depth}", s_resnet, depth=_depth, paper="KEYS")
