"""ResNet-17/19/34/34(large)/50 of TDBN (Zheng et al. 2021), supplement Table 4, built from the
configured block (``block=tdbn``: Fig. 5b) with tdBN and LIF from ``norm=``/``neuron=``.

    conv1    k x k conv (stride s) - tdBN - LIF          ("encoding layer", direct input)
    block1-4 [block(c)] x n; a '*' stage starts with a stride-2 block ("the first basic block in
             the series performs downsampling directly with convolution kernels and a stride of 2")
    head     average pool - [fc(hidden) - LIF] - fc(num_classes) averaged over T (Eq. 11)

Table 4, as layout rows (stem kernel, width, stride; block form; stages (width, blocks, stride)):
ResNet-17 (DVS Gesture) 3x3 64 s1, [64*x3, 128*x4], "average pool/2, 256-d fc, 11-d fc";
ResNet-19 (CIFAR-10) 3x3 128 s1, [128 x3, 256* x3, 512* x2], same head with 10-d fc;
ResNet-34 7x7 64/128 s2, [64*, 128*, 256*, 512*] (/ twice for large) x [3, 4, 6, 3], global pool;
ResNet-50 7x7 64 s2, bottlenecks [256*, 512*, 1024*, 2048*] x [3, 4, 6, 3]. No max-pool: the
first stage's stride-2 block does its job. Weighted layers on the main path (shortcut convs not
counted, as He et al.): 15+2, 17+2, 33+1, 49+1 = the names' 17, 19, 34, 50.

The main text says the encoding layer "performs downsampling directly with ... a stride of 2", but
Table 4 gives s1 for ResNet-17/19; we follow the table (the stride is in the layout). Two readings
are config values of the model YAML: ``pool`` (the table's "average pool/2" read as a 2x2 average
pool; null: global average pool as for ResNet-34/50) and ``hidden_features`` (the 256-d fc, followed
by a LIF so that the decoding layer sees spikes, Eq. 11). The paper is ambiguous on the pool of
ResNet-17/19; both readings are reachable: ``pool: 2`` (the default; ResNet-19 on CIFAR-10: 8x8
-> 4x4, fc 8192 -> 256) and ``pool: null`` (global average pool, fc 512 -> 256).
"""

from __future__ import annotations

from collections import OrderedDict

from spikingjelly.activation_based import layer
from torch import nn

from snnexp.errors import ConfigError
from snnexp.models.base import SpikingNet
from snnexp.models.sew_resnet import init_convs
from snnexp.registry import MODELS

Stem = tuple[int, int, int]  # kernel, channels, stride
Stages = tuple[tuple[int, int, int], ...]  # (output channels, blocks, stride of the first block)

# TDBN supplement Table 4
TDBN_LAYOUT: dict[str, tuple[Stem, str, Stages]] = {
    "17": ((3, 64, 1), "basic", ((64, 3, 2), (128, 4, 2))),
    "19": ((3, 128, 1), "basic", ((128, 3, 1), (256, 3, 2), (512, 2, 2))),
    "34": ((7, 64, 2), "basic", ((64, 3, 2), (128, 4, 2), (256, 6, 2), (512, 3, 2))),
    "34_large": ((7, 128, 2), "basic", ((128, 3, 2), (256, 4, 2), (512, 6, 2), (1024, 3, 2))),
    "50": ((7, 64, 2), "bottleneck", ((256, 3, 2), (512, 4, 2), (1024, 6, 2), (2048, 3, 2))),
}


def _down(size: int, stride: int) -> int:
    return (size - 1) // stride + 1  # a conv with padding k//2 (or 1x1, padding 0)


def head_features(depth: str, image_size: int, pool: int | None) -> int:
    """Features entering the first fc: channels x the spatial size left after the pool."""
    (_, _, s0), _, stages = TDBN_LAYOUT[depth]
    size = _down(image_size, s0)
    for _, _, s in stages:
        size = _down(size, s)
    if pool is not None:
        if not 1 <= pool <= size:
            raise ConfigError(
                f"model.pool={pool}: tdbn_resnet{depth}'s last feature map here is {size}x{size}; "
                f"use 1..{size} (an NxN average pool) or null (global average pool)"
            )
        size //= pool
    else:
        size = 1
    return stages[-1][0] * size * size


def tdbn_resnet(
    parts,
    depth: str,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    pool: int | None,
    hidden_features: int | None,
    stem_once: bool,
    readout: str,
    init: str,
) -> SpikingNet:
    (k, width, s0), form, stages = TDBN_LAYOUT[depth]
    stem = nn.Sequential(
        OrderedDict(
            conv1=layer.Conv2d(in_channels, width, k, stride=s0, padding=k // 2, bias=False, step_mode="m"),
            bn1=parts.norm(width),
        )
    )
    body: OrderedDict[str, nn.Module] = OrderedDict(sn1=parts.neuron())
    cin = width
    for i, (cout, n, stride) in enumerate(stages, 1):
        blocks = [
            parts.block(cin if j == 0 else cout, cout, stride=stride if j == 0 else 1, form=form)
            for j in range(n)
        ]
        body[f"layer{i}"] = nn.Sequential(*blocks)
        cin = cout
    if pool is None:
        body["avgpool"] = layer.AdaptiveAvgPool2d((1, 1), step_mode="m")
    else:
        body["avgpool"] = layer.AvgPool2d(pool, pool, step_mode="m")
    body["flatten"] = layer.Flatten(start_dim=1, step_mode="m")
    features = head_features(depth, image_size, pool)
    if hidden_features is not None:
        body["fc1"] = layer.Linear(features, hidden_features, step_mode="m")
        body["sn_fc1"] = parts.neuron()
        features = hidden_features
    net = SpikingNet(
        parts.T, stem, nn.Sequential(body), parts.readout(readout, features, num_classes), stem_once=stem_once
    )
    init_convs(net, init)
    return net


for _depth in TDBN_LAYOUT:
    MODELS.variant(f"tdbn_resnet{_depth}", tdbn_resnet, depth=_depth, paper="TDBN")
