"""DSR models against the authors' architectures (qymeng94/DSR cifar/modules/preresnet.py, vgg.py,
imagenet/preresnet_snn.py): parameter counts derived by hand from their layer lists, shapes, and
that method=dsr's flat gradient equals the per-step one on a whole PreAct-ResNet."""

from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import functional
from torch import nn

import snnexp
from snnexp.methods.dsr import DSR

# conf/method/dsr.yaml
HYBRID_OFF = {
    "flat_bn": "recorded",
    "record_chunk": 0,
    "calibrate_thresholds": False,
    "threshold_percentile": 99.9,
}


def bn(c):
    return 2 * c


def conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


def preact_params(widths, counts, in_ch, k, imagenet=False):
    """The authors' PreActResNet: every neuron has one trainable V_th."""
    n = conv(in_ch, widths[0], 7 if imagenet else 3, bias=False)
    n += (bn(widths[0]) + 1) if imagenet else 0
    cin = widths[0]
    for i, (w, c) in enumerate(zip(widths, counts, strict=True)):
        for j in range(c):
            stride = 2 if i and not j else 1
            n += bn(cin) + conv(cin, w, 3, not imagenet) + bn(w) + conv(w, w, 3, not imagenet) + 2
            if stride != 1 or cin != w:
                n += conv(cin, w, 1, not imagenet) + (bn(w) if imagenet else 0)
            cin = w
    return n + bn(cin) + 2 + cin * k + k + bn(k) + 1


def vgg11_params(in_ch, k):
    n, cin = 0, in_ch
    for c in (64, 128, 256, 256, 512, 512, 512, 512):
        n += conv(cin, c, 3) + bn(c) + 1
        cin = c
    return n + 512 * 49 * k + k + bn(k) + 1


def count(*overrides):
    cfg = snnexp.compose(["neuron=dsr_if", "T=2", *overrides])
    return sum(p.numel() for p in snnexp.build_model(cfg).parameters())


@pytest.mark.parametrize(
    ("model", "data", "expect"),
    [
        ("preact_resnet18", "cifar10", 11_176_945),
        ("preact_resnet18", "cifar100", 11_223_295),
        ("preact_resnet20", "cifar10", 273_091),
        ("preact_resnet110", "cifar10", 1_734_781),
    ],
)
def test_preact_parameter_counts(model, data, expect):
    depth = int(model.removeprefix("preact_resnet"))
    from snnexp.models.preact_resnet import PREACT_LAYOUT

    k = 100 if data == "cifar100" else 10
    assert preact_params(*PREACT_LAYOUT[depth], 3, k) == expect
    assert count(f"model={model}", f"data={data}") == expect


def test_preact_resnet18_imagenet_stem():
    # conv7x7/2-BN-N-AvgPool stem, bias-free convs, 1x1 conv + BN shortcuts (authors' ImageNet code)
    over = ["model.stem=imagenet", "model.conv_bias=false", "model.shortcut_norm=true"]
    n = count("model=preact_resnet18", "data=imagenet", *over)
    assert n == preact_params((64, 128, 256, 512), (2, 2, 2, 2), 3, 1000, imagenet=True) == 11_691_660


def test_vgg11_dvs_cifar10():
    assert count("model=vgg11", "data=cifar10_dvs", "data.image_size=48") == vgg11_params(2, 10) == 9_476_327
    cfg = snnexp.compose(["model=vgg11", "data=cifar10_dvs", "data.image_size=48", "neuron=dsr_lif", "T=2"])
    net = snnexp.build_model(cfg)
    assert net(torch.rand(2, 3, 2, 48, 48)).shape == (3, 10)  # frames [T, B, C, H, W]


def test_preact_flat_gradient_equals_per_step_without_batch_statistics():
    torch.manual_seed(0)
    cfg = snnexp.compose(["model=preact_resnet20", "data=digits", "neuron=dsr_if", "norm=none", "T=3"])
    net = snnexp.build_model(cfg)
    DSR(formulation="flat", **HYBRID_OFF).prepare(net)
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 3, 5, 9])
    got = []
    for flat in (False, True):
        net.zero_grad()
        out = DSR(formulation="flat", **HYBRID_OFF).flat_forward(net, net, x) if flat else net(x)
        nn.functional.cross_entropy(out, y).backward()
        functional.reset_net(net)
        got.append({k: p.grad.clone() for k, p in net.named_parameters() if p.grad is not None})
    assert got[0].keys() == got[1].keys() and len(got[0]) > 50
    for k in got[0]:
        torch.testing.assert_close(got[1][k], got[0][k], atol=1e-5, rtol=1e-4, msg=k)
