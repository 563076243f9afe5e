"""KEYS S-ResNet (Vicente-Sola et al. Sec. 3.2.2): layout, parameter counts of Tables 6-7, stems."""

from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import functional

import snnexp
from snnexp.config import compose

KEYS = ["neuron=keys_lif", "surrogate=triangle", "norm=bntt"]


def n_params(*overrides: str) -> int:
    m = snnexp.build_model(compose(["model=s_resnet38", "block=keys_s2s", *KEYS, "T=50", *overrides]))
    return sum(p.numel() for p in m.parameters())


# The configurations behind the counts (BNTT: one gamma per channel per step, T=50, no beta, as the
# paper counts; no conv/fc bias). F=16: convs 560,560 + BNTT 50 x 1,456 = 72,800; F=32: convs
# 2,241,376 + BNTT 145,600. The fc (64 or 128 inputs, no bias) makes the rest: C or 10 C outputs.
TABLES_6_7 = [
    # (table, row, data, base filters, readout, parameters)
    ("7", "S-ResNet38", "cifar10", 16, "integrate", 634_000),  # fc 64 x 10
    ("7", "S-ResNet38 + boosting", "cifar10", 16, "voting", 639_760),  # fc 64 x 100
    ("6", "S-ResNet38", "cifar100", 16, "integrate", 639_760),  # fc 64 x 100
    ("6", "S-ResNet38 + boosting", "cifar100", 16, "voting", 697_360),  # fc 64 x 1,000
    ("7", "S-ResNet38 wider", "cifar10", 32, "integrate", 2_388_256),  # fc 128 x 10
    ("7", "S-ResNet38 wider + boosting", "cifar10", 32, "voting", 2_399_776),  # fc 128 x 100
    ("6", "S-ResNet38 wider", "cifar100", 32, "integrate", 2_399_776),  # fc 128 x 100
    ("6", "S-ResNet38 wider + boosting", "cifar100", 32, "voting", 2_514_976),  # fc 128 x 1,000
]


@pytest.mark.parametrize("table,row,data,width,readout,expected", TABLES_6_7)
def test_parameter_counts_equal_keys_tables_6_and_7(table, row, data, width, readout, expected):
    assert n_params(f"data={data}", f"model.base_width={width}", f"model.readout={readout}") == expected


def test_the_residual_type_adds_no_parameter_and_bn_counts_no_time():
    # S2M's W' is fixed, V2V's residual has no weights: all three S-ResNet38s are equal
    base = ["data=cifar10", "model.base_width=16"]
    assert n_params(*base, "block=keys_s2m") == n_params(*base, "block=keys_v2v") == 634_000
    # BN averaged over time (Table 5): weight and bias per channel, not per step: 560,560 + 2 x 1,456 + 640
    assert n_params(*base, "norm=bn") == 560_560 + 2 * 1_456 + 640


def tiny(*overrides: str):
    small = ["T=2", "data=synthetic", "data.image_size=8", "model.base_width=4"]
    cfg = compose(["model=s_resnet20", *KEYS, *small, *overrides])
    return snnexp.build_model(cfg)


@pytest.mark.parametrize("block", ["keys_s2s", "keys_s2m", "keys_v2v", "sew_add", "spiking"])
@pytest.mark.parametrize("readout", ["integrate", "voting"])
def test_s_resnet_runs_every_residual_type(block, readout):
    m = tiny(f"block={block}", f"model.readout={readout}")
    y = m(torch.rand(3, 3, 8, 8))
    assert y.shape == (3, 10)
    y.sum().backward()
    assert m.stem.conv1.weight.grad.abs().sum() > 0


def test_layout_is_he_et_al_table_1():
    m = tiny("block=keys_s2s")
    stages = [m.body.layer1, m.body.layer2, m.body.layer3]
    assert [len(s) for s in stages] == [3, 3, 3]  # n = 3: 6n + 2 = 20 layers
    assert [s[-1].conv2.out_channels for s in stages] == [4, 8, 16]
    assert [s[0].stride for s in stages] == [1, 2, 2]
    assert [s[0].downsample is not None for s in stages] == [False, True, True]


def test_v2v_blocks_get_the_stem_current_first():
    m = tiny("block=keys_v2v")
    seen = {}
    m.body.layer1[0].register_forward_hook(lambda mod, inp, out: seen.setdefault("in", inp[0]))
    m.stem.register_forward_hook(lambda mod, inp, out: seen.setdefault("stem", out))
    m(torch.rand(2, 3, 8, 8))
    spikes, current = seen["in"]
    assert torch.equal(current, seen["stem"])  # Eq. 18: r starts with the PSP into the first layer
    functional.reset_net(m)


@pytest.mark.parametrize(
    "size,kernel,stride,pool", [(32, 3, 1, 0), (64, 3, 2, 0), (128, 5, 2, 2)]
)  # KEYS Table 13: the DVS-CIFAR10 stems; every stage sees 32/16/8 px
def test_table_13_stems_bring_every_input_size_to_32px(size, kernel, stride, pool):
    m = snnexp.build_model(
        compose(
            [
                "model=s_resnet20",
                "block=keys_s2s",
                *KEYS,
                "T=1",
                "data=synthetic",
                "data.in_channels=2",
                f"data.image_size={size}",
                "model.base_width=4",
                f"model.stem_kernel={kernel}",
                f"model.stem_stride={stride}",
                f"model.stem_pool={pool}",
            ]
        )
    )
    assert m.stem.conv1.kernel_size == (kernel, kernel)
    shapes = []
    m.body.layer1[-1].register_forward_hook(lambda mod, inp, out: shapes.append(out.shape[-1]))
    m.body.layer3[-1].register_forward_hook(lambda mod, inp, out: shapes.append(out.shape[-1]))
    m(torch.rand(1, 2, size, size))
    assert shapes == [32, 8]


def test_vgg11_is_bntt_s_layout():
    """8 bias-free 3x3 convs (64-128-256-256-512-512-512-512), fc 512 -> 4096 with its own
    norm and neuron, fc 4096 -> C: 11,355,840 weights, plus one BNTT gamma per step per channel."""
    m = snnexp.build_model(compose(["model=keys_vgg11", *KEYS, "T=4", "data=cifar10"]))
    convs = [mod.out_channels for mod in m.modules() if isinstance(mod, torch.nn.Conv2d)]
    assert convs == [64, 128, 256, 256, 512, 512, 512, 512]
    assert sum(p.numel() for p in m.parameters()) == 11_355_840 + 4 * (64 + 128 + 2 * 256 + 4 * 512 + 4096)
    assert m(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_relu_neuron_with_t1_is_the_ann():
    """KEYS Table 15: neuron=relu, T=1 is the ANN ResNet38 (560,560 conv + 2 x 1,456 BN + 640 fc
    weights), and its forward is the ordinary ANN's, computed here with torch.nn.functional."""
    import torch.nn.functional as F

    cfg = ["model=s_resnet38", "block=keys_s2s", "norm=bn", "neuron=relu", "T=1", "data=cifar10"]
    m = snnexp.build_model(compose(cfg)).eval()
    assert sum(p.numel() for p in m.parameters()) == 564_112
    x = torch.rand(2, 3, 32, 32)

    def cbn(conv, bn, h):
        h = F.conv2d(h, conv.weight, stride=conv.stride, padding=conv.padding)
        return F.batch_norm(h, bn.running_mean, bn.running_var, bn.weight, bn.bias, eps=bn.eps)

    h = F.relu(cbn(m.stem.conv1, m.stem.bn1, x))
    for i in (1, 2, 3):
        for blk in getattr(m.body, f"layer{i}"):
            skip = h if blk.downsample is None else cbn(blk.downsample[0], blk.downsample[1], h)
            h = F.relu(cbn(blk.conv2, blk.bn2, F.relu(cbn(blk.conv1, blk.bn1, h)))) + skip
    expected = h.mean((2, 3)) @ m.readout.fc.weight.T
    assert torch.allclose(m(x), expected, atol=1e-5)


def test_relu_has_no_threshold():
    from snnexp.errors import ConfigError

    cfg = ["model=s_resnet20", "block=keys_s2s", "neuron=relu", "neuron.v_threshold=1.0", "T=1"]
    with pytest.raises(ConfigError, match="relu has no threshold"):
        snnexp.build_model(compose(cfg))


@pytest.mark.parametrize(
    "learn,shared,n_leaks", [("false", "false", 0), ("true", "false", 37), ("true", "true", 1)]
)
def test_leak_fixed_learned_per_layer_or_shared(learn, shared, n_leaks):
    """KEYS Tables 8-10: lambda fixed (0.874), learned per layer (37 spiking layers of S-ResNet38:
    the stem and 2 x 18 block layers), or one value learned for the whole network."""
    from snnexp.neurons.lif import leak_of

    over = [f"neuron.learn_leak={learn}", f"neuron.shared={shared}", "data=cifar10", "T=50"]
    m = snnexp.build_model(compose(["model=s_resnet38", "block=keys_s2s", *KEYS, *over]))
    leaks = {id(p) for name, p in m.named_parameters(remove_duplicate=False) if name.endswith(".w")}
    assert len(leaks) == n_leaks
    assert n_params(*over) == 634_000 + n_leaks  # a learned leak is one parameter per layer (or one)
    neurons = [
        mod
        for mod in m.modules()
        if hasattr(mod, "v_threshold") and hasattr(mod, "tau" if learn == "false" else "w")
    ]
    assert len(neurons) == 37 and all(abs(leak_of(n) - 0.874) < 1e-6 for n in neurons)  # initialised at 0.874


def test_relu_is_stateless_and_takes_no_surrogate():
    from snnexp.parts import Parts

    unit = Parts(compose(["neuron=relu", "surrogate=triangle"])).neuron()
    x = torch.randn(3, 2, 5)
    assert torch.equal(unit(x), x.clamp_min(0)) and torch.equal(unit(x), unit(x))  # no state carried
    assert not list(unit.parameters()) and not hasattr(unit, "surrogate_function")
