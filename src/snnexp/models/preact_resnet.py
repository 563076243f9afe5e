"""Pre-activation ResNets of DSR (Meng et al. 2022, Sec. 5; He et al. 2016, "Identity mappings"),
as the authors' code builds them (qymeng94/DSR cifar/modules/preresnet.py, imagenet/preresnet_snn.py)
with every ReLU a spiking neuron (``neuron=dsr_if|dsr_lif``; ``neuron=relu`` gives the ANN of the
hybrid ImageNet recipe) and every BN the configured norm.

Block (pre-activation, basic)::

    x   = N(BN(x))
    out = conv3x3(x, stride)
    out = conv3x3(Dropout(N(BN(out))))
    out = out + shortcut(x)      # shortcut takes x after the first neuron;
                                 # identity, or conv1x1(stride) when the shape changes

Stems: ``cifar``: conv3x3 in->w0 (no bias, no BN, no neuron); ``imagenet``: conv7x7/2 (no bias) -
BN - N - AvgPool 3/2 (the authors' ImageNet code, an average pool where He et al. max-pool).
Head: BN - N - global AvgPool - N - readout (``rate``: fc - BN1d - N - spike representation).
The CIFAR code's AvgPool(4) on the 4x4 map of a 32x32 input is this global pool.

CIFAR convs carry a bias and the 1x1 shortcut has no BN (``conv_bias: true, shortcut_norm: false``);
the ImageNet code's are bias-free with a BN after the 1x1 shortcut (``false, true``).

Layouts (:data:`PREACT_LAYOUT`): ResNet-18 of the paper (widths 64-512, [2,2,2,2]); the narrow
CIFAR ResNets of Fig. 3b with He et al.'s widths 16/32/64 and n = (depth-2)/6 blocks per stage
(the DSR supplement's own table is not in the released code).
"""

from __future__ import annotations

from collections import OrderedDict

from spikingjelly.activation_based import layer
from torch import nn

from snnexp.models.base import SpikingNet, dropout_layer
from snnexp.registry import MODELS

# depth: (stage widths, blocks per stage); stride 1 for the first stage, 2 for the others
PREACT_LAYOUT: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {
    18: ((64, 128, 256, 512), (2, 2, 2, 2)),
    20: ((16, 32, 64), (3, 3, 3)),
    32: ((16, 32, 64), (5, 5, 5)),
    44: ((16, 32, 64), (7, 7, 7)),
    56: ((16, 32, 64), (9, 9, 9)),
    110: ((16, 32, 64), (18, 18, 18)),
}
STEMS = ("cifar", "imagenet")


def conv(cin: int, cout: int, k: int, stride: int, bias: bool) -> nn.Module:
    return layer.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=bias, step_mode="m")


class PreActBlock(nn.Module):
    def __init__(
        self,
        parts,
        cin: int,
        cout: int,
        *,
        stride: int,
        conv_bias: bool,
        shortcut_norm: bool,
        dropout: float,
        dropout_mask: str,
    ):
        super().__init__()
        self.bn1, self.sn1 = parts.norm(cin), parts.neuron()
        self.conv1 = conv(cin, cout, 3, stride, conv_bias)
        self.bn2, self.sn2 = parts.norm(cout), parts.neuron()
        self.dropout = dropout_layer(dropout, dropout_mask)  # models/base.py
        self.conv2 = conv(cout, cout, 3, 1, conv_bias)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            sc = [conv(cin, cout, 1, stride, conv_bias)]
            self.shortcut = nn.Sequential(*sc, parts.norm(cout, residual=True)) if shortcut_norm else sc[0]

    def forward(self, x):
        x = self.sn1(self.bn1(x))
        out = self.conv2(self.dropout(self.sn2(self.bn2(self.conv1(x)))))
        return out + self.shortcut(x)


def preact_resnet(
    parts,
    depth: int,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    stem: str,
    conv_bias: bool,
    shortcut_norm: bool,
    dropout: float,
    dropout_mask: str,
    readout: str,
    stem_once: bool,
) -> SpikingNet:
    del image_size  # global pooling: any size the strides leave >= 1 px
    if stem not in STEMS:
        raise ValueError(f"model.stem={stem!r}; choose one of {', '.join(STEMS)}")
    widths, counts = PREACT_LAYOUT[depth]
    w0 = widths[0]
    body: OrderedDict[str, nn.Module] = OrderedDict()
    if stem == "cifar":
        stem_mod = conv(in_channels, w0, 3, 1, False)
    else:
        stem_mod = nn.Sequential(conv(in_channels, w0, 7, 2, False), parts.norm(w0))
        body["sn0"] = parts.neuron()
        body["pool0"] = layer.AvgPool2d(3, stride=2, padding=1, step_mode="m")
    cin = w0
    kw = dict(conv_bias=conv_bias, shortcut_norm=shortcut_norm, dropout=dropout, dropout_mask=dropout_mask)
    for i, (width, n) in enumerate(zip(widths, counts, strict=True)):
        blocks = [
            PreActBlock(parts, cin if j == 0 else width, width, stride=2 if i and not j else 1, **kw)
            for j in range(n)
        ]
        body[f"layer{i + 1}"] = nn.Sequential(*blocks)
        cin = width
    body["bn"], body["sn1"] = parts.norm(cin), parts.neuron()
    body["avgpool"], body["sn2"] = layer.AdaptiveAvgPool2d((1, 1), step_mode="m"), parts.neuron()
    net = SpikingNet(
        parts.T, stem_mod, nn.Sequential(body), parts.readout(readout, cin, num_classes), stem_once=stem_once
    )
    init_weights(net)
    return net


def init_weights(net: nn.Module) -> None:
    """The authors' init (qymeng94/DSR cifar/modules/preresnet.py): He-normal (fan_out) conv
    weights, conv biases left at PyTorch's default (uniform +-1/sqrt(fan_in)), zero fc bias."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)


for _depth in PREACT_LAYOUT:
    MODELS.variant(f"preact_resnet{_depth}", preact_resnet, depth=_depth, paper="DSR")
