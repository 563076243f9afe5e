"""Plain stacks of residual blocks and max-pools, the small SEW nets written in the papers' notation:

    c{c0}k{k}s1-BN-SN-{ {Block(c)}*n - MPk2s2 }*stages - FC{K}

A stage whose width differs from the previous one starts with a transition c{c}k{k}s1-BN-SN
(Wide-7B-Net's c128k3s1-BN-PLIF). The SEW authors' released code builds the stem and transition
convs with 1x1 kernels although the paper writes k3; ``stem_kernel``/``transition_kernel`` choose.
"""

from __future__ import annotations

from collections.abc import Sequence

from spikingjelly.activation_based import layer
from torch import nn

from snnexp.models.base import SpikingNet


def conv_norm(parts, cin: int, cout: int, k: int) -> list[nn.Module]:
    """c{cout}k{k}s1-BN: bias-free conv with 'same' padding, then the configured norm."""
    if k % 2 != 1:
        raise ValueError(f"kernel size {k} must be odd to keep the size ('same' padding)")
    return [layer.Conv2d(cin, cout, k, padding=k // 2, bias=False, step_mode="m"), parts.norm(cout)]


def block_stack(
    parts,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    stages: Sequence[tuple[int, int]],
    stem_kernel: int,
    transition_kernel: int,
    readout: str,
    stem_once: bool,
    name: str,
) -> SpikingNet:
    """``stages``: (channels, blocks) per stage; every stage ends with MPk2s2."""
    c = stages[0][0]
    stem = nn.Sequential(*conv_norm(parts, in_channels, c, stem_kernel))
    body: list[nn.Module] = [parts.neuron()]
    size = image_size
    for width, n in stages:
        if width != c:
            body += [*conv_norm(parts, c, width, transition_kernel), parts.neuron()]
            c = width
        body += [parts.block(c, c) for _ in range(n)]
        body.append(layer.MaxPool2d(2, 2, step_mode="m"))
        size //= 2
    if size < 1:
        raise ValueError(
            f"{name}: {len(stages)} max-pools halve a {image_size}px input below 1px "
            f"(needs data.image_size >= {2 ** len(stages)})"
        )
    head = parts.readout(readout, c * size * size, num_classes)
    return SpikingNet(parts.T, stem, nn.Sequential(*body), head, stem_once=stem_once)
