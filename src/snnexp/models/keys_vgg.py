"""Spiking VGG-11, the non-residual baseline of KEYS (Vicente-Sola et al. Fig. 3a, Sec. 4).

The KEYS paper gives no layout and its authors' code (VicenteAlex/Spiking_ResNet) has no VGG; the
S-ResNet code is written on top of the BNTT code of Kim & Panda (KEYS ref. [19], the source of its
BNTT, Poisson generator and triangle surrogate), so the VGG-11 here is theirs
(Intelligent-Computing-Lab-Yale/BNTT-Batch-Normalization-Through-Time, ``SNN_VGG11_BNTT``):

    c64-AP2-c128-AP2-c256-c256-AP2-c512-c512-AP2-c512-c512-GAP - fc{hidden}-norm-SN - readout

every conv 3x3 s1, bias-free, followed by the configured norm (BNTT) and neuron; AP2 an average
pool of the spikes; the hidden fc (4,096) has its own norm and neuron; the readout integrates the
last fc's output without leak or spike (``integrate``). Xavier-uniform init with gain 2.
"""

from __future__ import annotations

from spikingjelly.activation_based import layer
from torch import nn

from snnexp.models.base import SpikingNet
from snnexp.models.s_resnet import init_weights
from snnexp.registry import MODELS

# channels of each 3x3 conv; "A": average pool 2x2 of the spikes; the convs end in a global avgpool
VGG_LAYOUT: dict[str, list[int | str]] = {
    "keys_vgg11": [64, "A", 128, "A", 256, 256, "A", 512, 512, "A", 512, 512],
}


def conv_bn(parts, cin: int, cout: int) -> list[nn.Module]:
    return [layer.Conv2d(cin, cout, 3, padding=1, bias=False, step_mode="m"), parts.norm(cout)]


def spiking_vgg(
    parts,
    plan: list[int | str],
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    fc_hidden: int,
    readout: str,
    init: str,
    init_gain: float,
) -> SpikingNet:
    pools = plan.count("A")
    if image_size < 2**pools:
        raise ValueError(f"VGG: {pools} average pools need data.image_size >= {2**pools} (got {image_size})")
    convs = [c for c in plan if c != "A"]
    stem = nn.Sequential(*conv_bn(parts, in_channels, convs[0]))
    body: list[nn.Module] = [parts.neuron()]
    cin = convs[0]
    for item in plan[1:]:
        if item == "A":
            body.append(layer.AvgPool2d(2, 2, step_mode="m"))
        else:
            body += [*conv_bn(parts, cin, item), parts.neuron()]
            cin = item
    body += [
        layer.AdaptiveAvgPool2d((1, 1), step_mode="m"),
        layer.Flatten(step_mode="m"),
        layer.Linear(cin, fc_hidden, bias=False, step_mode="m"),
        parts.norm(fc_hidden, dims=1),
        parts.neuron(),
    ]
    net = SpikingNet(parts.T, stem, nn.Sequential(*body), parts.readout(readout, fc_hidden, num_classes))
    init_weights(net, init, init_gain)
    return net


for _name, _plan in VGG_LAYOUT.items():
    MODELS.variant(_name, spiking_vgg, plan=_plan, paper="KEYS")
