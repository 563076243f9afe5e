"""VGG-11 of DSR Table 2 for DVS-CIFAR10 (Simonyan & Zisserman 2014; the DSR authors' code,
qymeng94/DSR cifar/modules/vgg.py), with spiking neurons and the configured norm::

    [64, M] [128, M] [256, 256, M] [512, 512, M] [512, 512, M]
    each number: conv3x3 (bias) - BN - N - Dropout;   M: AvgPool 2x2/2
    AdaptiveAvgPool 7x7 - fc(512*7*7 -> K) - BN1d - N - spike representation (readout ``rate``)

The adaptive pool copies the 1x1 map of a 48x48 input to 7x7, so the fc has 25088 inputs as in
the authors' code. Dropout draws a mask per time step as theirs (``dropout_mask``, models/base.py).
"""

from __future__ import annotations

from spikingjelly.activation_based import layer
from torch import nn

from snnexp.models.base import SpikingNet, dropout_layer
from snnexp.registry import MODELS

VGG_LAYOUT: dict[int, tuple[tuple[int, ...], ...]] = {
    11: ((64,), (128,), (256, 256), (512, 512), (512, 512)),  # each stage ends with M
}


def vgg(
    parts,
    depth: int,
    *,
    in_channels: int,
    num_classes: int,
    dropout: float,
    dropout_mask: str,
    pool_size: int,
    readout: str,
):
    convs: list[nn.Module] = []
    cin = in_channels
    for stage in VGG_LAYOUT[depth]:
        for cout in stage:
            convs += [
                layer.Conv2d(cin, cout, 3, padding=1, bias=True, step_mode="m"),
                parts.norm(cout),
                parts.neuron(),
                dropout_layer(dropout, dropout_mask),
            ]
            cin = cout
        convs.append(layer.AvgPool2d(2, 2, step_mode="m"))
    convs.append(layer.AdaptiveAvgPool2d((pool_size, pool_size), step_mode="m"))
    stem, body = nn.Sequential(*convs[:2]), nn.Sequential(*convs[2:])
    net = SpikingNet(parts.T, stem, body, parts.readout(readout, cin * pool_size**2, num_classes))
    for m in net.modules():  # the authors' init
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
    return net


@MODELS.register("vgg11", paper="DSR")
def vgg11(
    parts,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    dropout: float,
    dropout_mask: str,
    pool_size: int,
    readout: str,
):
    if image_size < 32:
        raise ValueError(f"vgg11 halves the image 5 times; data.image_size={image_size} < 32")
    return vgg(
        parts,
        11,
        in_channels=in_channels,
        num_classes=num_classes,
        dropout=dropout,
        dropout_mask=dropout_mask,
        pool_size=pool_size,
        readout=readout,
    )
