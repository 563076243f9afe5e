"""The demo network: a small SEW-style residual CNN for small images (digits 8x8, CIFAR 32x32).

c{w}k3s1-norm-SN - {block(c{w}) - MPk2s2} * stages - readout
"""

from __future__ import annotations

from spikingjelly.activation_based import layer
from torch import nn

from snnexp.models.base import SpikingNet
from snnexp.registry import MODELS


# no paper tag: the project's demo network, not one of SEW's (config/paper_recipe.py compares a paper's
# networks with that paper's recipe)
@MODELS.register("sew_mini")
def sew_mini(
    parts,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    width: int,
    stages: int,
    blocks_per_stage: int,
    readout: str,
    stem_once: bool,
):
    stem = nn.Sequential(
        layer.Conv2d(in_channels, width, 3, padding=1, bias=False, step_mode="m"),
        parts.norm(width),
    )
    body: list[nn.Module] = [parts.neuron()]
    size = image_size
    for _ in range(stages):
        body += [parts.block(width, width) for _ in range(blocks_per_stage)]
        body.append(layer.MaxPool2d(2, 2, step_mode="m"))
        size //= 2
    if size < 1:
        raise ValueError(f"model.stages={stages} halves a {image_size}px image below 1px")
    head = parts.readout(readout, width * size * size, num_classes)
    return SpikingNet(parts.T, stem, nn.Sequential(*body), head, stem_once=stem_once)
