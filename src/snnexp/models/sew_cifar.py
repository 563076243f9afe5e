"""The lightweight CIFAR-10 net of SEW (Fang et al. 2021) supplement A.5 / Table S3 (surrogate
functions ArcTan / Rectangular / Constant 1, SEW ADD vs Spiking ResNet):

    c32k3s1-BN-IF-{{SEW Block(c32k3s1)}*2-MPk2s2}*5-FC10

SEW Block(c32k3s1) is the basic block of ``block=...`` (two c32k3s1 convs); Table S3's Spiking
ResNet replaces it with ``block=spiking``. 32px input pooled 5 times: the fc sees 32 x 1 x 1.
"""

from __future__ import annotations

from snnexp.models.stacks import block_stack
from snnexp.registry import MODELS


@MODELS.register(
    "sew_cifar_light",
    paper="SEW",
    help="Table S3 net (CIFAR-10): c32k3s1-BN-SN-{{Block(c32)}*2-MPk2s2}*5-FC10",
)
def sew_cifar_light(
    parts,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    stem_kernel: int = 3,
    readout: str = "mean",
    stem_once: bool = True,
):
    stages = [(32, 2)] * 5  # {{SEW Block(c32k3s1)}*2-MPk2s2}*5
    return block_stack(
        parts,
        in_channels=in_channels,
        num_classes=num_classes,
        image_size=image_size,
        stages=stages,
        stem_kernel=stem_kernel,
        transition_kernel=stem_kernel,
        readout=readout,
        stem_once=stem_once,
        name="sew_cifar_light",
    )
