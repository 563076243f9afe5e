"""TDBN ResNets (supplement Table 4) with the Fig. 5b block: sizes, layer counts, and the
pre-activation distribution N(0, (alpha V_th)^2) of every tdBN of a whole ResNet-19 at init."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import snnexp
from snnexp.norms.tdbn import ThresholdDependentBN

TDBN = ["block=tdbn", "norm=tdbn", "neuron=tdbn_lif", "surrogate=rect", "encoder=direct"]
DATA = {
    "tdbn_resnet17": ["data=dvs_gesture", "data.image_size=32"],
    "tdbn_resnet19": ["data=cifar10"],
    "tdbn_resnet34": ["data=imagenet"],
    "tdbn_resnet34_large": ["data=imagenet"],
    "tdbn_resnet50": ["data=imagenet"],
}


def build(model: str, *extra: str) -> nn.Module:
    return snnexp.build_model(snnexp.compose([f"model={model}", *TDBN, *DATA[model], "T=2", *extra]))


# Table 4 written out again, independently of the model's layout table:
# (in channels, classes, stem k, stem width, [(width, blocks, stride)], bottleneck, fc input, hidden fc)
TABLE4 = {
    "tdbn_resnet17": (2, 11, 3, 64, [(64, 3, 2), (128, 4, 2)], False, 128 * 4 * 4, 256),
    "tdbn_resnet19": (3, 10, 3, 128, [(128, 3, 1), (256, 3, 2), (512, 2, 2)], False, 512 * 4 * 4, 256),
    "tdbn_resnet34": (3, 1000, 7, 64, [(64, 3, 2), (128, 4, 2), (256, 6, 2), (512, 3, 2)], False, 512, None),
    "tdbn_resnet34_large": (
        3,
        1000,
        7,
        128,
        [(128, 3, 2), (256, 4, 2), (512, 6, 2), (1024, 3, 2)],
        False,
        1024,
        None,
    ),  # fmt: skip
    "tdbn_resnet50": (
        3,
        1000,
        7,
        64,
        [(256, 3, 2), (512, 4, 2), (1024, 6, 2), (2048, 3, 2)],
        True,
        2048,
        None,
    ),  # fmt: skip
}


def table4_parameters(model: str) -> tuple[int, int]:
    """(parameters, weighted layers on the main path) implied by Table 4 and Fig. 5b: conv weights
    (no bias), 2 per channel per tdBN (lambda, beta), a tdBN(1/sqrt2) on every shortcut and a 1x1
    conv on the downsampling ones, fc weights + biases."""
    cin, K, k, w, stages, bottleneck, feat, hidden = TABLE4[model]
    params, layers = k * k * cin * w + 2 * w, 1
    c_prev = w
    for width, n, stride in stages:
        for j in range(n):
            ci = c_prev if j == 0 else width
            if bottleneck:
                m = width // 4
                params += ci * m + 9 * m * m + m * width + 2 * (m + m + width)
                layers += 3
            else:
                params += 9 * ci * width + 9 * width * width + 2 * 2 * width
                layers += 2
            down = j == 0 and (stride != 1 or ci != width)
            params += (ci * width if down else 0) + 2 * width
        c_prev = width
    if hidden:
        params += feat * hidden + hidden
        feat, layers = hidden, layers + 1
    return params + feat * K + K, layers + 1


def main_path_layers(net: nn.Module) -> int:
    return sum(
        isinstance(m, (nn.Conv2d, nn.Linear)) and ".downsample." not in f".{name}."
        for name, m in net.named_modules()
    )


# the counts of these builds (TDBN gives none; measured once, kept against regressions)
EXPECTED = {
    "tdbn_resnet17": (1_872_267, 17),
    "tdbn_resnet19": (14_666_890, 19),
    "tdbn_resnet34": (21_807_528, 34),
    "tdbn_resnet34_large": (86_138_728, 34),
    "tdbn_resnet50": (25_579_560, 50),
}


@pytest.mark.parametrize("model", list(EXPECTED))
def test_parameters_and_layers_match_table4(model):
    net = build(model)
    n = sum(p.numel() for p in net.parameters())
    assert (n, main_path_layers(net)) == table4_parameters(model) == EXPECTED[model]


def test_fig5b_block_alphas_and_shortcuts():
    net = build("tdbn_resnet19")
    blocks = [b for layer in (net.body.layer1, net.body.layer2, net.body.layer3) for b in layer]
    assert len(blocks) == 8 and net.stem.bn1.alpha == 1.0
    for b in blocks:
        assert b.bn1.alpha == 1.0 and b.bn2.alpha == pytest.approx(1 / math.sqrt(2))
        sc = list(b.downsample)
        assert isinstance(sc[-1], ThresholdDependentBN) and sc[-1].alpha == pytest.approx(1 / math.sqrt(2))
        assert len(sc) == (
            2 if b.stride != 1 or b.in_channels != b.channels else 1
        )  # conv only to downsample
    # the shortcut norm only on downsampling blocks: block=spiking's shortcut
    net = build("tdbn_resnet19", "block.shortcut_norm=downsample")
    assert net.body.layer1[0].downsample is None and len(net.body.layer2[0].downsample) == 2


def test_resnet19_preactivations_follow_alpha_vth_normal_block_by_block():
    """TDBN Sec. "Basic block": at initialisation every tdBN output is N(0, (alpha V_th)^2) per
    channel (training-mode statistics over T, N, H, W), and each block's last LIF receives the sum
    of two N(0, V_th^2 / 2) inputs."""
    v_th = 0.5
    net = build("tdbn_resnet19", f"neuron.v_threshold={v_th}").train()
    outs: dict[str, torch.Tensor] = {}
    sums: dict[str, torch.Tensor] = {}
    for name, m in net.named_modules():
        if isinstance(m, ThresholdDependentBN):
            m.register_forward_hook(lambda mod, i, o, n=name: outs.__setitem__(n, o.detach()))
        if name.endswith(".sn2") and name.startswith("body.layer"):
            m.register_forward_hook(lambda mod, i, o, n=name: sums.__setitem__(n, i[0].detach()))
    torch.manual_seed(0)
    with torch.no_grad():
        net(torch.randn(6, 3, 32, 32))
    assert len(outs) == 1 + 8 * 2 + 8 and len(sums) == 8  # stem, 2 per block, 8 shortcuts
    for name, y in outs.items():
        alpha = dict(net.named_modules())[name].alpha
        mean = y.mean((0, 1, 3, 4))
        std = y.var((0, 1, 3, 4), unbiased=False).sqrt()
        assert mean.abs().max() < 1e-4, name
        assert std == pytest.approx(torch.full_like(std, alpha * v_th), abs=1e-3), name
    for name, x in sums.items():  # variance adds when the branch and the shortcut are uncorrelated
        var = x.var((0, 1, 3, 4), unbiased=False).mean()
        assert var == pytest.approx(v_th**2, rel=0.05), name
