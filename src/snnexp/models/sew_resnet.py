"""ImageNet ResNet-18/34/50/101/152 of SEW (Fang et al. 2021) Sec. 4.1 / Table 2: the layout of
He et al. 2016 Table 1 with every ReLU replaced by a spiking neuron and every residual block by the
configured block type (``block=sew_add|sew_and|sew_iand|spiking|plain``).

    stem     conv7x7/2 (64) - BN - SN - maxpool 3x3/2
    conv2_x  [block(64)]  x n1      (bottleneck: 1x1 64, 3x3 64, 1x1 256)
    conv3_x  [block(128)] x n2, the first with stride 2
    conv4_x  [block(256)] x n3, the first with stride 2
    conv5_x  [block(512)] x n4, the first with stride 2
    head     global avgpool - fc(num_classes), averaged over T (``readout: mean``)

The stateless stem (conv + BN) may run once on the static image and be repeated T times
(``stem_once``, as the authors' code does). Parameters (IF neurons; equal to torchvision's
resnetN): 11.69M, 21.80M (SEW Sec. 4.1: "21.8M"), 25.56M, 44.55M, 60.19M.
"""

from __future__ import annotations

from collections import OrderedDict

from spikingjelly.activation_based import layer
from torch import nn

from snnexp.models.base import SpikingNet
from snnexp.registry import MODELS

# He et al. 2016, Table 1: block form and number of blocks in conv2_x .. conv5_x
RESNET_LAYOUT: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
STAGE_WIDTHS = (64, 128, 256, 512)  # 3x3 conv channels of conv2_x .. conv5_x
EXPANSION = {"basic": 1, "bottleneck": 4}  # output channels = width * expansion


def init_convs(model: nn.Module, init: str) -> None:
    """``kaiming``: He-normal (fan_out, ReLU gain) conv weights, as torchvision's ResNet and the SEW
    authors' code; norms keep their own init (zero-init of the blocks stays). ``default``: leave
    PyTorch's init."""
    if init == "default":
        return
    if init != "kaiming":
        raise ValueError(f"model.init={init!r}; choose kaiming or default")
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def sew_resnet(
    parts,
    depth: int,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    stem_once: bool,
    readout: str,
    init: str,
) -> SpikingNet:
    if image_size < 32:
        raise ValueError(
            f"sew_resnet{depth} downsamples by 32; data.image_size={image_size} < 32: add data=imagenet "
            "(224x224), data=cifar10, or data=synthetic data.image_size=224 to stand in for ImageNet"
        )
    form, counts = RESNET_LAYOUT[depth]
    stem_width = STAGE_WIDTHS[0]
    stem = nn.Sequential(
        OrderedDict(
            conv1=layer.Conv2d(in_channels, stem_width, 7, stride=2, padding=3, bias=False, step_mode="m"),
            bn1=parts.norm(stem_width),
        )
    )
    body: OrderedDict[str, nn.Module] = OrderedDict(
        sn1=parts.neuron(),
        maxpool=layer.MaxPool2d(3, stride=2, padding=1, step_mode="m"),
    )
    cin = stem_width
    for i, (width, n) in enumerate(zip(STAGE_WIDTHS, counts, strict=True)):
        cout = width * EXPANSION[form]
        blocks = []
        for j in range(n):
            stride = 2 if (i > 0 and j == 0) else 1
            blocks.append(parts.block(cin, cout, stride=stride, form=form))
            cin = cout
        body[f"layer{i + 1}"] = nn.Sequential(*blocks)
    body["avgpool"] = layer.AdaptiveAvgPool2d((1, 1), step_mode="m")
    net = SpikingNet(
        parts.T, stem, nn.Sequential(body), parts.readout(readout, cin, num_classes), stem_once=stem_once
    )
    init_convs(net, init)
    return net


for _depth in RESNET_LAYOUT:
    MODELS.variant(f"sew_resnet{_depth}", sew_resnet, depth=_depth, paper="SEW")
