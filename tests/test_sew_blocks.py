"""SEW blocks (Fang et al. 2021, Fig. 1/2, Table 1): shapes, shortcuts, identity mapping with zero
init (Sec. 3.3) and the gradients of Eq. (8) / (11)."""

from __future__ import annotations

import math

import pytest
import torch
from spikingjelly.activation_based import functional

from snnexp.config import compose, conf_dir
from snnexp.parts import Parts

BLOCKS = ["sew_add", "sew_and", "sew_iand", "spiking", "plain"]
SEW = ["sew_add", "sew_and", "sew_iand"]
FORMS = ["basic", "bottleneck"]
HAS_PLIF = (conf_dir() / "neuron" / "plif.yaml").is_file()


def make_parts(block: str, *extra: str, T: int = 2) -> Parts:
    cfg = compose([f"block={block}", "data=synthetic", f"T={T}", "logger=none", *extra])
    return Parts(cfg)


def spikes(T=2, B=2, C=16, H=6, W=6, p=0.5, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, C, H, W, generator=g) < p).float()


def channels_for(form: str) -> int:
    return 16 if form == "basic" else 32  # bottleneck: 32 out, 8 inside


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("block", BLOCKS)
def test_shapes_and_shortcut_layout(block, form):
    parts = make_parts(block)
    c = channels_for(form)
    same = parts.block(c, c, form=form)
    down = parts.block(c, 2 * c, stride=2, form=form)
    s = spikes(C=c)
    assert same(s).shape == s.shape
    out = down(s)
    assert out.shape == (2, 2, 2 * c, 3, 3)
    out.sum().backward()
    assert same.downsample is None  # identity shortcut when shape is kept
    if block == "plain":
        assert down.downsample is None  # no shortcut at all
    else:
        kinds = [type(m).__name__ for m in down.downsample]
        # SEW Fig. 2: SEW shortcut Conv-BN-SN, Spiking ResNet shortcut Conv-BN
        n_expected = 3 if block in SEW else 2
        assert len(kinds) == n_expected, kinds
        assert "Conv2d" in kinds[0] and "BatchNorm" in kinds[1]
        if block in SEW:
            assert kinds[2] in {type(parts.neuron()).__name__}
    n_convs = sum(1 for m in same.modules() if type(m).__name__ == "Conv2d")
    assert n_convs == (2 if form == "basic" else 3)


def test_bottleneck_layout():
    b = make_parts("sew_add").block(64, 256, form="bottleneck")  # He et al.: 1x1 64, 3x3 64, 1x1 256
    shapes = [tuple(m.weight.shape) for m in (b.conv1, b.conv2, b.conv3)]
    assert shapes == [(64, 64, 1, 1), (64, 64, 3, 3), (256, 64, 1, 1)]
    assert tuple(b.downsample[0].weight.shape) == (256, 64, 1, 1)  # channel change: 1x1 shortcut
    d = make_parts("sew_add").block(256, 512, stride=2, form="bottleneck")
    assert d.conv2.stride == (2, 2) and d.conv1.stride == (1, 1)  # stride on the 3x3 (v1.5)
    with pytest.raises(ValueError, match="multiple of"):
        make_parts("sew_add").block(16, 30, form="bottleneck")


@pytest.mark.parametrize("block", SEW)
def test_output_range(block):
    """ADD outputs sums of spikes (0..2), AND/IAND output spikes (SEW Sec. 3.3)."""
    torch.manual_seed(0)
    b = make_parts(block).block(16, 16)
    out = b(spikes(p=0.7))
    values = set(out.unique().tolist())
    assert values <= ({0.0, 1.0, 2.0} if block == "sew_add" else {0.0, 1.0})


NEURON_VARIANTS = [
    pytest.param(["neuron=if"], id="if"),
    pytest.param(
        ["neuron=plif"],
        id="plif",
        marks=pytest.mark.skipif(
            not HAS_PLIF, reason="neuron=plif is not registered yet (added by the neurons work)"
        ),
    ),
]


@pytest.mark.parametrize("neuron", NEURON_VARIANTS)
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("block", ["sew_add", "sew_iand"])
@pytest.mark.parametrize("train", [True, False])
def test_zero_init_add_iand_is_identity_for_any_neuron(block, form, neuron, train):
    """ADD/IAND: last BN weight = bias = 0 -> A = SN(0) = 0 -> O = g(0, S) = S, for every neuron."""
    parts = make_parts(block, "block.zero_init=true", *neuron, T=3)
    c = channels_for(form)
    b = parts.block(c, c, form=form).train(train)
    for seed in range(2):  # two batches: the reset keeps it exact
        s = spikes(T=3, C=c, seed=seed)
        assert torch.equal(b(s), s)
        functional.reset_net(b)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("train", [True, False])
def test_zero_init_and_with_bias_vth_is_identity(form, train):
    """AND: last BN weight 0, bias V_th -> IF fires at every step -> A = 1 -> O = 1 AND S = S."""
    for vth in (1.0, 0.5):
        parts = make_parts("sew_and", "block.zero_init=true", "neuron=if", f"neuron.v_threshold={vth}", T=3)
        c = channels_for(form)
        b = parts.block(c, c, form=form).train(train)
        assert torch.all(b.last_norm.bias == vth) and torch.all(b.last_norm.weight == 0)
        s = spikes(T=3, C=c)
        assert torch.equal(b(s), s)


def test_zero_init_spiking_resnet_with_if_is_identity():
    """Spiking ResNet: O = SN(0 + S) = S holds for IF with 0 < V_th <= 1 (SEW Sec. 3.2)."""
    b = make_parts("spiking", "block.zero_init=true", "neuron=if", T=3).block(16, 16)
    s = spikes(T=3)
    assert torch.equal(b(s), s)


@pytest.mark.parametrize("block", SEW)
def test_without_zero_init_not_identity(block):
    torch.manual_seed(0)
    b = make_parts(block).block(16, 16)
    s = spikes()
    assert not torch.equal(b(s), s)


@pytest.mark.parametrize("block", SEW)
def test_zero_init_gradient_is_one(block):
    """SEW Eq. (11): with identity mapping dO/dS = 1 for ADD, AND and IAND."""
    parts = make_parts(block, "block.zero_init=true", "neuron=if", T=3)
    b = parts.block(16, 16)
    s = spikes(T=3).requires_grad_(True)
    b(s).sum().backward()
    assert torch.equal(s.grad, torch.ones_like(s))


def test_spiking_resnet_gradient_is_surrogate():
    """SEW Eq. (8): through a zero-init Spiking ResNet block dO/dS = sigma'(S - V_th); with ArcTan
    alpha=2 and V_th=1 that is sigma'(0) = 1 for S=1 and sigma'(-1) = 1/(1+pi^2) = 0.092 for S=0
    (Sec. 4.1)."""
    b = make_parts("spiking", "block.zero_init=true", "neuron=if", T=1).block(16, 16)
    s = spikes(T=1).requires_grad_(True)
    b(s).sum().backward()
    expect = torch.where(s.detach() > 0, torch.tensor(1.0), torch.tensor(1 / (1 + math.pi**2)))
    torch.testing.assert_close(s.grad, expect)
    assert abs(1 / (1 + math.pi**2) - 0.092) < 5e-4


def test_zero_init_is_a_block_yaml_key():
    cfg = compose(["block=sew_iand", "block.zero_init=true", "data=synthetic", "logger=none"])
    assert cfg.block.zero_init is True
    b = Parts(cfg).block(8, 8)
    assert torch.all(b.last_norm.weight == 0)
    b2 = make_parts("sew_iand").block(8, 8)
    assert torch.all(b2.last_norm.weight == 1)


def test_last_neuron_is_the_branch_sn():
    parts = make_parts("sew_add")
    for form in FORMS:
        b = parts.block(32, 32, form=form)
        n = 2 if form == "basic" else 3
        assert b.last_neuron is getattr(b, f"sn{n}")


def _norm_param(name: str):
    return pytest.param(
        name,
        marks=pytest.mark.skipif(
            not (conf_dir() / "norm" / f"{name}.yaml").is_file(), reason=f"norm={name} is not registered yet"
        ),
    )


@pytest.mark.parametrize("norm", [_norm_param("tdbn"), _norm_param("bntt")])
@pytest.mark.parametrize("block", SEW)
def test_zero_init_with_other_norms(block, norm):
    """zero_init reaches every affine weight of the last norm (BNTT: one BN per step). BNTT has no
    bias, so AND cannot be made to fire: a clear error instead of a silent non-identity."""
    overrides = [f"norm={norm}", "block.zero_init=true", "neuron=if"]
    if block == "sew_and" and norm == "bntt":
        with pytest.raises(ValueError, match="needs a norm with a bias"):
            make_parts(block, *overrides, T=3).block(16, 16)
        return
    b = make_parts(block, *overrides, T=3).block(16, 16)
    s = spikes(T=3)
    assert torch.equal(b(s), s)
