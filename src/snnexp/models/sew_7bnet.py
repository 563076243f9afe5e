"""The SEW nets for the event data sets (Fang et al. 2021, Sec. 4.2-4.3, Tables 4-6).

7B-Net (DVS Gesture, Table 5, 0.13M parameters):
    c32k3s1-BN-PLIF-{SEW Block(c32)-MPk2s2}*7-FC11
Wide-7B-Net (CIFAR10-DVS, Table 6, 1.19M parameters):
    c64k3s1-BN-PLIF-{SEW Block(c64)-MPk2s2}*4-c128k3s1-BN-PLIF-{SEW Block(c128)-MPk2s2}*3-FC10

A SEW Block(c) is the basic block of ``block=...`` with two c3x3 convs (the authors' SEWBlock:
conv-BN-PLIF-conv-BN-PLIF, then g); ``block=spiking|plain`` gives Table 4's Spiking ResNet and
Plain Net. No dropout; the fc sees the 128px input pooled 7 times (1x1), averaged over T.
The neuron is the ``neuron`` group (PLIF in the paper's experiments).

Kernel of the stem and transition convs: the paper writes k3, the authors' released code
(dvsgesture/ and cifar10dvs/smodels.py, ``up_kernel_size: 1``) uses 1x1, and Table 6's 1.19M is
the 1x1 count (k3 gives 1.26M), so the default is 1. 7B-Net has 0.13M either way.
"""

from __future__ import annotations

from snnexp.models.stacks import block_stack
from snnexp.registry import MODELS


@MODELS.register("sew_7bnet", paper="SEW", help="7B-Net (DVS Gesture): c32-{Block(c32)-MPk2s2}*7-FC11, 0.13M")
def sew_7bnet(
    parts,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    stem_kernel: int = 1,
    readout: str = "mean",
    stem_once: bool = True,
):
    stages = [(32, 1)] * 7  # {SEW Block(c32)-MPk2s2}*7
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
        name="sew_7bnet",
    )


@MODELS.register(
    "sew_wide7bnet",
    paper="SEW",
    help="Wide-7B-Net (CIFAR10-DVS): c64-{Block(c64)-MP}*4-c128-{Block(c128)-MP}*3-FC10, 1.19M",
)
def sew_wide7bnet(
    parts,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    stem_kernel: int = 1,
    transition_kernel: int = 1,
    readout: str = "mean",
    stem_once: bool = True,
):
    stages = [(64, 1)] * 4 + [(128, 1)] * 3  # {SEW Block(c64)-MPk2s2}*4 - {SEW Block(c128)-MPk2s2}*3
    return block_stack(
        parts,
        in_channels=in_channels,
        num_classes=num_classes,
        image_size=image_size,
        stages=stages,
        stem_kernel=stem_kernel,
        transition_kernel=transition_kernel,
        readout=readout,
        stem_once=stem_once,
        name="sew_wide7bnet",
    )
