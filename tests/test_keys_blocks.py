"""KEYS residual connections (Vicente-Sola et al. Sec. 3.2.1) against their equations, step by step,
on a 2-layer toy: one channel on a 1x1 map, so each 3x3 conv is its centre weight (a scalar)."""

from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import functional
from spikingjelly.activation_based.neuron import BaseNode

import snnexp
from snnexp.config import compose
from snnexp.parts import Parts

LEAK = 0.5  # lambda (exact in binary floating point, so the hand-computed membranes are exact)
A, B = 0.8, 0.9  # centre weights of conv l-1 and conv l
S = [1.0, 1.0, 0.0, 1.0, 1.0, 1.0]  # o_{l-2,t}: the block's input spike train
# layer l-1 (no residual, Eq. 8): u = 0.5 u + 0.8 s, spike at u >= 1, u -= 1
O1 = [0, 1, 0, 0, 1, 0]


def toy_parts(block: str, norm: str = "none") -> Parts:
    keys = ["neuron=keys_lif", f"neuron.leak={LEAK}", "surrogate=triangle"]
    parts = Parts(compose([f"block={block}", *keys, f"norm={norm}", "T=6"]))
    parts.passes_current = True  # as S-ResNet's body: V2V blocks get (spikes, current)
    return parts


def toy_block(block: str, **kw):
    blk = toy_parts(block).block(1, 1, **kw)
    with torch.no_grad():
        for conv, w in ((blk.conv1, A), (blk.conv2, B)):
            conv.weight.zero_()
            conv.weight[0, 0, 1, 1] = w
    for sn in (blk.sn1, blk.sn2):
        sn.store_v_seq = True  # membranes after the reset, per step
    return blk


def seq(values) -> torch.Tensor:
    return torch.tensor(values).view(-1, 1, 1, 1, 1)  # [T, B=1, C=1, 1, 1]


def flat(x: torch.Tensor) -> list[float]:
    return [round(v, 6) for v in x.flatten().tolist()]


def test_layer_l_minus_1_is_the_keys_lif():
    blk = toy_block("keys_s2s")
    blk(seq(S))
    assert flat(blk.sn1.v_seq) == [0.8, 0.2, 0.1, 0.85, 0.225, 0.9125]  # u_{l-1,t} after reset


def test_s2s_adds_the_earlier_spikes_to_the_output_spikes():
    """Eq. 10: o'_l = g(0.9 o_{l-1} + 0.5 u_{l,t-1}), o_l = o'_l + o_{l-2} (non-binary)."""
    blk = toy_block("keys_s2s")
    out = blk(seq(S))
    # u_l: 0, 0.9, 0.45, 0.225, 0.1125+0.9=1.0125 -> spike, 0.0125, then 0.00625
    assert flat(blk.sn2.v_seq) == [0.0, 0.9, 0.45, 0.225, 0.0125, 0.00625]
    assert flat(out) == [1, 1, 0, 1, 2, 1]  # o'_l = [0,0,0,0,1,0] plus S: a "double spike" at t=4


def test_s2m_adds_the_earlier_spikes_into_the_membrane_with_w_prime_u_th():
    """Eq. 7: o_l = g(0.9 o_{l-1} + 0.5 u_{l,t-1} + W' o_{l-2}), W' = U_th = 1."""
    blk = toy_block("keys_s2m")
    assert blk.s2m_weight == 1.0 and not any(p.numel() == 1 for p in blk.parameters())  # W' fixed
    out = blk(seq(S))
    # u_l before reset: 1 (fires at u >= U_th), 1.9, 0.45, 1.225, 0.1125+0.9+1, 0.50625+1
    assert flat(blk.sn2.v_seq) == [0.0, 0.9, 0.45, 0.225, 1.0125, 0.50625]
    assert flat(out) == [1, 1, 0, 1, 1, 1]  # binary: the residual went through g


def test_v2v_carries_the_input_current_of_layer_l_minus_n():
    """Eq. 15-16: I_l = 0.9 o_{l-1} + r_l with r_l the input current of layer l-2, and I_l
    is returned as r for the next block."""
    blk = toy_block("keys_v2v")
    r = [1.0, 0.3, 0.0, 1.2, 0.5, 0.8]
    out, current = blk((seq(S), seq(r)))
    assert flat(current) == [round(B * o + x, 6) for o, x in zip(O1, r, strict=True)]
    # u_l: 1.0 -> spike 0; 1.2 -> 0.2; 0.1; 0.05+1.2 -> 0.25; 0.125+1.4 -> 0.525; 0.2625+0.8 -> 0.0625
    assert flat(blk.sn2.v_seq) == [0.0, 0.2, 0.1, 0.25, 0.525, 0.0625]
    assert flat(out) == [1, 1, 0, 1, 1, 1]


def test_v2v_without_a_current_says_which_models_pass_it():
    from snnexp.errors import ConfigError

    with pytest.raises(ConfigError, match="keys_v2v needs the input current"):
        toy_block("keys_v2v")(seq(S))
    cfg = compose(["block=keys_v2v", "model=sew_mini", "data=synthetic", "data.image_size=8"])
    with pytest.raises(ConfigError, match="this model passes spikes only"):
        snnexp.build_model(cfg)


@pytest.mark.parametrize("block", ["keys_s2s", "keys_s2m", "keys_v2v"])
def test_a_silent_branch_is_the_identity_the_paper_describes(block):
    """zero_init: W_{l-1} o_{l-1} = 0, so S2S gives o_l = o_{l-2}, S2M with W' = U_th too, and V2V
    gives u_l = u_{l-2} (same leak and input current), hence o_l = o_{l-2}."""
    blk = toy_parts(block, "bntt").block(3, 3, zero_init=True)
    g = torch.Generator().manual_seed(0)
    s = (torch.rand(6, 2, 3, 4, 4, generator=g) > 0.5).float()
    if block == "keys_v2v":
        current = torch.rand(6, 2, 3, 4, 4, generator=g) * 2
        prev = toy_parts(block).neuron()  # layer l-2, fed the same current
        out, _ = blk((prev(current), current))
        functional.reset_net(prev)
        assert torch.equal(out, prev(current))
    else:
        assert torch.equal(blk(s), s)


def test_s2s_at_a_resolution_change_maps_the_shortcut_by_a_1x1_conv_without_a_neuron():
    p = Parts(compose(["block=keys_s2s", "neuron=keys_lif", "surrogate=triangle", "norm=bntt", "T=4"]))
    blk = p.block(2, 4, stride=2)
    conv, norm = blk.downsample
    assert conv.kernel_size == (1, 1) and conv.stride == (2, 2) and conv.bias is None
    assert not any(isinstance(m, BaseNode) for m in blk.downsample.modules())
    assert type(norm).__name__ == "BNTT"
    with torch.no_grad():
        blk.conv2.weight.zero_()  # o'_l = g(0) = 0: the output is the mapped shortcut alone
    s = (torch.rand(4, 3, 2, 8, 8) > 0.5).float()
    out = blk(s)
    assert out.shape == (4, 3, 4, 4, 4)
    assert torch.allclose(out, blk.downsample(s))
    assert not torch.all((out == 0) | (out == 1))  # W'' o_{l-n}: non-binary values (Eq. 13)
