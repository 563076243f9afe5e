"""The small SEW nets (Fang et al. 2021, Sec. 4.2-4.3, supplement A.5), one layout table in the
papers' notation, each stage ``(channels, blocks)`` ending with MPk2s2:

    c{c0}k{k}s1-BN-SN-{ {SEW Block(c)}*n - MPk2s2 }*stages - FC{K}

A SEW Block(c) is the basic block of ``block=...`` with two c3x3 convs (the authors' SEWBlock:
conv-BN-SN-conv-BN-SN, then g); ``block=spiking|plain`` gives Table 4's Spiking ResNet and Plain
Net. No dropout; the fc sees the input pooled once per stage, averaged over T. The neuron is the
``neuron`` group (PLIF in the DVS experiments, IF in Table S3).

Kernel of the stem and transition convs: the paper writes k3; the authors' released code
(dvsgesture/ and cifar10dvs/smodels.py, ``up_kernel_size: 1``) uses 1x1 for the DVS nets, and
Table 6's 1.19M is the 1x1 count (k3 gives 1.26M): each model's YAML says which.
"""

from __future__ import annotations

from snnexp.models.stacks import block_stack
from snnexp.registry import MODELS

# name -> stages (channels, blocks), in the papers' notation
SMALL_NET_LAYOUT: dict[str, list[tuple[int, int]]] = {
    "sew_7bnet": [(32, 1)] * 7,  # Table 5, DVS Gesture: c32-{Block(c32)-MPk2s2}*7-FC11, 0.13M
    # Table 6, CIFAR10-DVS: c64-{Block(c64)-MP}*4-c128-{Block(c128)-MP}*3-FC10, 1.19M
    "sew_wide7bnet": [(64, 1)] * 4 + [(128, 1)] * 3,
    "sew_cifar_light": [(32, 2)] * 5,  # Table S3, CIFAR-10: c32k3s1-BN-SN-{{Block(c32)}*2-MPk2s2}*5-FC10
}


for _name, _stages in SMALL_NET_LAYOUT.items():
    MODELS.variant(_name, block_stack, stages=_stages, name=_name, paper="SEW")
