"""Encoders (direct, Poisson of KEYS Table 4, event frames) and readouts (SEW mean, KEYS integrate
and voting, DSR spike rate); every YAML option of the four building-block groups builds."""

from __future__ import annotations

import functools

import pytest
import torch
from spikingjelly.activation_based import functional, layer
from spikingjelly.activation_based.encoding import PoissonEncoder

from snnexp.build import build_model
from snnexp.config import compose
from snnexp.config.compose import group_options
from snnexp.parts import Parts
from snnexp.registry import READOUTS


@functools.cache
def cfg(*overrides: str):
    return compose(list(overrides))


def parts(*overrides: str) -> Parts:
    return Parts(cfg(*overrides))


# ------------------------------------------------------------------------------------- encoders
def test_all_encoder_options_are_registered():
    assert set(group_options("encoder")) == {"direct", "poisson", "frames"}


def test_direct_returns_the_static_image():
    x = torch.rand(2, 3, 4, 4)
    assert parts("encoder=direct").encoder()(x) is x


def test_poisson_rates_signs_and_shape():
    enc = parts("encoder=poisson", "T=4000").encoder()
    x = torch.tensor([[[[0.0, 0.6, -0.6, 1.4, -3.0]]]])  # [B=1, C=1, H=1, W=5]
    torch.manual_seed(0)
    s = enc(x)
    assert s.shape == (4000, 1, 1, 1, 5)
    assert set(s.unique().tolist()) <= {-1.0, 0.0, 1.0}
    rate = s.mean(0).flatten()
    # KEYS (authors' generator): p = |x| / 2, sign(x); p clipped at 1
    assert rate.tolist() == pytest.approx([0.0, 0.3, -0.3, 0.7, -1.0], abs=0.03)


def test_poisson_unsigned_scale_1_is_spikingjellys_poisson_encoder():
    enc = parts("encoder=poisson", "encoder.signed=false", "encoder.rate_scale=1.0", "T=3").encoder()
    x = torch.rand(2, 3, 4, 4)
    torch.manual_seed(1)
    ours = enc(x)
    torch.manual_seed(1)
    ref = torch.stack([PoissonEncoder()(x) for _ in range(3)])
    assert torch.equal(ours, ref)


def test_poisson_sequence_goes_through_the_model_without_repetition():
    model = build_model(cfg("encoder=poisson", "model.width=8"))
    torch.manual_seed(2)
    x = torch.rand(3, 1, 8, 8)
    y = model(x)
    assert y.shape == (3, 10)
    functional.reset_net(model)


def test_frames_pass_sequences_through_as_floats():
    enc = parts("encoder=frames", "data=synthetic", "data.sequence=true").encoder()  # frames need frame data
    x = torch.randint(0, 3, (5, 2, 2, 8, 8))
    y = enc(x)
    assert y.dtype == torch.get_default_dtype() and torch.equal(y, x.float())
    f = torch.rand(5, 2, 2, 8, 8)
    assert enc(f) is f


# ------------------------------------------------------------------------------------- readouts
def features(T=5, B=3, F=6, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, F, 1, 1, generator=g) > 0.5).float()  # spikes after global pooling


def test_readout_registry():
    assert set(READOUTS.names()) >= {"mean", "integrate", "voting", "rate"}


def test_mean_readout_is_fc_of_the_firing_rate():
    r = parts().readout("mean", 6, 4)
    x = features()
    assert torch.allclose(r(x), r.fc(x.flatten(2).mean(0)), atol=1e-6)


def test_integrate_readout_is_accumulated_voltage_over_T():
    r = parts().readout("integrate", 6, 4)
    assert r.fc.bias is None  # KEYS: no bias in the last layer
    x = features()
    u = torch.zeros(3, 4)
    for t in range(5):  # no leak, no spike: u_t = u_{t-1} + W x_t
        u = u + x[t].flatten(1) @ r.fc.weight.T
    assert torch.allclose(r(x), u / 5, atol=1e-6)
    assert torch.allclose(r(x[:2]), (x[0] + x[1]).flatten(1) @ r.fc.weight.T / 2, atol=1e-6)


def test_voting_readout_is_fc_to_10k_then_average_pool_of_10():
    r = parts().readout("voting", 6, 4)
    assert r.fc.out_features == 40 and r.fc.bias is None
    x = features()
    votes = x.flatten(2).mean(0) @ r.fc.weight.T  # [B, 40], integrated over T
    assert torch.allclose(r(x), votes.view(3, 4, 10).mean(-1), atol=1e-6)
    # the boosting layer's weights are what KEYS's parameter counts need: Table 7 (CIFAR-10)
    # 639,760 = convs 560,560 + BNTT (T=50, weight only) 72,800 + fc 64 x 100 = 6,400;
    # Table 6 (CIFAR-100): 697,360 = 633,360 + 64 x 1,000
    assert sum(p.numel() for p in parts().readout("voting", 64, 10).parameters()) == 6_400
    assert sum(p.numel() for p in parts().readout("voting", 64, 100).parameters()) == 64_000
    bntt = parts("norm=bntt", "T=50").norm(16)
    assert sum(p.numel() for p in bntt.parameters()) == 50 * 16


def test_rate_readout_with_dsr_if_is_the_scaled_firing_rate():
    p = parts("neuron=dsr_if")
    r = p.readout("rate", 6, 4)
    assert isinstance(r.fc, layer.Linear) and r.norm is not None
    x = features(T=20)
    r.train()
    y = r(x)
    functional.reset_net(r)
    out = r.neuron(r.norm(r.fc(x.flatten(2))))  # V_th s[n]
    functional.reset_net(r)
    v_th = float(r.neuron.v_threshold.detach())
    assert torch.allclose(y, out.mean(0))  # r(s) = (1/N) sum V_th s[n]
    assert (y >= 0).all() and (y <= v_th).all()  # o in [0, V_th] (Eq. 17)
    functional.reset_net(r)
    y.sum().backward()  # the DSR backward reaches the classifier
    assert r.fc.weight.grad.abs().sum() > 0


def test_rate_readout_with_dsr_lif_uses_the_weighted_rate():
    r = parts("neuron=dsr_lif").readout("rate", 6, 4)
    x = features(T=20)
    y = r(x)
    functional.reset_net(r)
    out = r.neuron(r.norm(r.fc(x.flatten(2))))
    functional.reset_net(r)
    assert torch.allclose(y, r.neuron.representation(out))
    assert (y >= 0).all() and (y <= float(r.neuron.v_threshold.detach()) / 0.05 + 1e-4).all()


def test_rate_readout_with_a_binary_neuron_scales_the_rate_by_v_th():
    r = parts("neuron.v_threshold=0.5").readout("rate", 6, 4, norm=False)  # IF neuron
    x = features(T=8)
    y = r(x)
    functional.reset_net(r)
    s = r.neuron(r.fc(x.flatten(2)))
    functional.reset_net(r)
    assert torch.allclose(y, s.mean(0) * 0.5)


@pytest.mark.parametrize("readout", ["mean", "integrate", "voting", "rate"])
def test_every_readout_trains_inside_a_model(readout):
    model = build_model(cfg("model.width=8", f"model.readout={readout}"))
    x = torch.rand(4, 1, 8, 8) * 3
    y = model(x)
    assert y.shape == (4, 10)
    torch.nn.functional.cross_entropy(y, torch.arange(4)).backward()
    functional.reset_net(model)
    assert model.readout.fc.weight.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------- all options
@pytest.mark.parametrize(
    "group,option", [(g, o) for g in ("neuron", "surrogate", "norm", "encoder") for o in group_options(g)]
)
def test_every_option_composes_and_builds_via_parts(group, option):
    from snnexp.commands.list import describe
    from snnexp.config.compose import conf_dir

    text = describe(conf_dir() / group / f"{option}.yaml")
    assert text and "(" in text, "first line: '# description (paper)'"
    frames = ["data=synthetic", "data.sequence=true"] if option == "frames" else []  # frames need frame data
    p = parts(f"{group}={option}", *frames)
    built = {"neuron": p.neuron, "surrogate": p.surrogate, "encoder": p.encoder, "norm": lambda: p.norm(8)}[
        group
    ]()
    assert isinstance(built, torch.nn.Module)
