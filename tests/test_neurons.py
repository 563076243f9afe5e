"""Spiking neurons against the papers' equations (SEW Eq. 1-5, KEYS Eq. 3-5, TDBN Eq. 2-3,
DSR Eq. 3-8, 12, 18-21), gradients, state reset, PLIF sharing, and every YAML option."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from spikingjelly.activation_based import functional
from spikingjelly.activation_based.neuron import DSRIFNode

from snnexp.config import compose
from snnexp.config.compose import group_options
from snnexp.neurons.lif import leak_of
from snnexp.parts import Parts
from snnexp.registry import NEURONS as NEURON_REGISTRY

NEURONS = group_options("neuron")
# units that spike (a threshold, a membrane, a surrogate); relu (the ANN counterpart) has none
SPIKING = [n for n in NEURONS if n != "relu"]


@functools.cache
def cfg(*overrides: str):
    """Composition takes ~0.2 s; the tests only read the configs, so share them."""
    return compose(list(overrides))


def build(*overrides: str, **kw):
    return Parts(cfg(*overrides)).neuron(**kw)


def steps(spikes: torch.Tensor) -> list[int]:
    """1-based time steps at which the (single) neuron fired."""
    return (spikes.flatten().nonzero().flatten() + 1).tolist()


def constant(value: float, T: int, dtype=torch.float32) -> torch.Tensor:
    return torch.full((T, 1), value, dtype=dtype)


def test_the_papers_neurons_are_options():
    # the registry equals the config tree for every group (test_registries.py); these must be there
    assert set(NEURONS) >= {"if", "lif", "plif", "keys_lif", "tdbn_lif", "dsr_if", "dsr_lif"}


# ------------------------------------------------------------------------------------- IF (SEW)
def test_if_soft_reset_input_0_3_fires_at_4_7_10():
    # H = V + X, fire at H >= 1, V <- H - 1: 1.2 at t=4, 0.2+0.9=1.1 at t=7, 0.1+0.9=1.0 at t=10
    n = build("neuron=if", "neuron.v_reset=null")
    assert steps(n(constant(0.3, 12))) == [4, 7, 10]


def test_if_hard_reset_input_0_3_fires_every_4th_step():
    n = build("neuron=if")  # V_reset = 0 (SEW)
    assert steps(n(constant(0.3, 12))) == [4, 8, 12]


def test_if_threshold_is_not_strict_and_soft_vs_hard_reset_on_exact_values():
    # 3/8 is exact in binary: cumulative input 3n/8 reaches 3.0 exactly at n=8, which fires (>=)
    assert steps(build("neuron=if", "neuron.v_reset=null")(constant(0.375, 8))) == [3, 6, 8]
    # hard reset: 0.375 * 3 = 1.125 fires and is reset to 0, so every 3rd step
    assert steps(build("neuron=if")(constant(0.375, 9))) == [3, 6, 9]
    assert steps(build("neuron=if")(constant(0.5, 4))) == [2, 4]  # 0.5 + 0.5 = 1.0 >= V_th


# ------------------------------------------------------------------------------------- LIF (SEW Eq. 5)
def test_lif_decay_input_follows_sew_eq5():
    # H = V + (X - V) / tau (V_reset = 0), tau = 2: X = 1.5 -> 0.75, 1.125 (fire), 0.75, 1.125 ...
    n = build("neuron=lif")
    assert steps(n(constant(1.5, 6))) == [2, 4, 6]
    functional.reset_net(n)
    # decay_input false: H = V - V/tau + X = V/2 + 0.6 -> 0.6, 0.9, 1.05 (fire)
    n = build("neuron=lif", "neuron.decay_input=false")
    assert steps(n(constant(0.6, 6))) == [3, 6]


# ------------------------------------------------------------------------------------- KEYS LIF
def keys_reference(x: torch.Tensor, lam: float, u_th: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """KEYS Eq. 3-5: u_t = lambda u_{t-1} + I_t, o_t = 1[u_t >= U_th], u_t <- u_t - U_th o_t."""
    u = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        u = lam * u + x[t]
        o = (u >= u_th).to(x)
        u = u - u_th * o
        out.append(o)
    return torch.stack(out), u


def test_keys_lif_matches_eq_3_to_5_with_leak_0_874():
    torch.manual_seed(0)
    x = torch.rand(30, 500, dtype=torch.float64) * 0.6
    n = build("neuron=keys_lif")
    spikes = n(x)
    ref, u = keys_reference(x, 0.874)
    assert torch.equal(spikes, ref)
    assert torch.allclose(n.v, u, atol=1e-12)
    assert leak_of(n) == pytest.approx(0.874, abs=1e-12)
    assert spikes.mean() > 0.05  # the check is not vacuous


def test_keys_lif_soft_reset_and_non_strict_threshold():
    # lambda = 1/2 (exact): u = 0.5 u + 0.5 -> 0.5, 0.75, 0.875, ... never reaches 1;
    # input 1.0 fires at once (u = 1.0 >= U_th) and keeps the remainder 0 (soft reset)
    n = build("neuron=keys_lif", "neuron.leak=0.5")
    assert steps(n(constant(1.0, 3))) == [1, 2, 3]
    functional.reset_net(n)
    # input 0.75: 0.75, 1.125 (fire -> 0.125), 0.8125, 1.15625 (fire -> 0.15625): the remainder stays
    out = n(constant(0.75, 4))
    assert steps(out) == [2, 4]
    assert n.v.item() == pytest.approx(0.15625)


def test_keys_lif_learned_leak_starts_at_0_874_and_is_trained():
    n = build("neuron=keys_lif", "neuron.learn_leak=true")
    assert leak_of(n) == pytest.approx(0.874, abs=1e-6)
    x = (torch.rand(8, 64) * 1.5).requires_grad_()
    n(x).sum().backward()
    assert n.w.grad is not None and n.w.grad.abs() > 0


# ------------------------------------------------------------------------------------- TDBN LIF
def test_tdbn_lif_strict_threshold_and_multiplicative_reset():
    # V_th = 1.25, x = 1, tau_decay = 1/4: u = 1, 1.25 (== V_th: no spike, Eq. 3 is strict),
    # 1.3125 (spike), then (1 - o) wipes the potential: u = 0*1/4 + 1 = 1, 1.25, 1.3125 ...
    n = build("neuron=tdbn_lif", "neuron.v_threshold=1.25")
    assert steps(n(constant(1.0, 9))) == [3, 6, 9]
    # the same with u >= V_th: 1, 1.25 (spike) -> 1, 1.25 (spike) ...
    n = build("neuron=tdbn_lif", "neuron.v_threshold=1.25", "neuron.strict=false")
    assert steps(n(constant(1.0, 8))) == [2, 4, 6, 8]


def test_tdbn_lif_matches_eq2_and_backprops_through_the_reset():
    torch.manual_seed(1)
    x = torch.rand(12, 300, dtype=torch.float64) * 1.2
    n = build("neuron=tdbn_lif")
    out = n(x)
    u, o_prev, ref = torch.zeros_like(x[0]), torch.zeros_like(x[0]), []
    for t in range(x.shape[0]):
        u = 0.25 * u * (1 - o_prev) + x[t]  # Eq. 2
        o_prev = (u > 1.0).to(x)  # Eq. 3
        ref.append(o_prev)
    assert torch.equal(out, torch.stack(ref))
    assert not n.detach_reset  # the (1 - o) term stays in the graph (Eq. 14-15)


# ------------------------------------------------------------------------------------- DSR
def test_dsr_if_firing_rate_eq18_floor_without_alpha_and_eq21_round_with_alpha_half():
    N, v_th = 5, 2.0
    fracs = [-0.3, 0.05, 0.13, 0.27, 0.45, 0.62, 0.77, 0.93, 1.2]  # I*/theta, away from ties
    x = torch.tensor(fracs, dtype=torch.float64).mul(v_th).expand(N, -1).contiguous()
    for alpha, rule in ((1.0, math.floor), (0.5, lambda z: math.floor(z + 0.5))):
        n = build("neuron=dsr_if", f"neuron.v_threshold={v_th}", f"neuron.alpha={alpha}")
        a = n.representation(n(x))  # (1/N) sum V_th s[n]
        want = [v_th / N * min(max(rule(N * f), 0), N) for f in fracs]
        assert a.tolist() == pytest.approx(want), alpha


def test_dsr_if_forward_is_eq_6_with_subtraction_reset():
    n = build("neuron=dsr_if", "neuron.v_threshold=1.0")
    out = n(constant(0.3, 10))
    # U = V + 0.3, fire at U >= 0.5 -> 0.3, 0.6 (fire, V=-0.4), -0.1, 0.2, 0.5 (fire), ...
    assert steps(out) == [2, 5, 9]  # 0.3*9 = 2.7 -> round = 3 spikes
    assert set(out.unique().tolist()) <= {0.0, 1.0}  # output = V_th * s


def test_dsr_lif_weighted_rate_satisfies_eq12_exactly():
    torch.manual_seed(2)
    x = torch.rand(20, 200, dtype=torch.float64) * 12.0  # non-constant currents
    n = build("neuron=dsr_lif")
    out = n(x)
    lam, dt, v_th = math.exp(-0.05 / 1.0), 0.05, 0.3
    w = torch.tensor([lam ** (20 - k) for k in range(1, 21)], dtype=torch.float64).view(-1, 1)
    i_hat = (w * x).sum(0) / w.sum()
    a_hat = n.representation(out)  # V_th sum lambda^{N-n} s / (dt sum lambda^{N-n})
    rhs = (1 - lam) * i_hat / dt - n.v / (dt * w.sum())  # Eq. 12
    assert torch.allclose(a_hat, rhs, atol=1e-9)
    spikes = out * dt / n.v_threshold.detach().double()  # out = V_th s / dt
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert 0 < a_hat.mean() < v_th / dt


def test_dsr_lif_rate_approaches_the_clamp_of_eq14():
    N = 400
    currents = [-2.0, 1.0, 3.0, 5.0, 9.0]  # V_th/dt = 6 clamps the last
    x = torch.tensor(currents, dtype=torch.float64).expand(N, -1).contiguous()
    n = build("neuron=dsr_lif")
    a = n.representation(n(x))
    want = torch.tensor(currents, dtype=torch.float64).div(1.0).clamp(0, 0.3 / 0.05)
    # Eq. 12 -> 14: the neglected terms are V[N] / (dt sum lambda^{N-n}) <= V_th/(dt * 20.5) and
    # (1/tau - (1 - lambda)/dt) I ~ 0.025 I
    assert (a - want).abs().max() < 0.3 / (0.05 * 20.0) + 0.025 * 9


def test_dsr_if_matches_spikingjelly_dsrifnode_forward_and_backward():
    torch.manual_seed(3)
    x = torch.rand(8, 300) * 16 - 2  # rates below 0, inside (0, V_th) and above V_th = 6
    c = torch.randn(300)
    ours = build("neuron=dsr_if")
    ref = DSRIFNode(T=8, v_threshold=6.0, alpha=0.5, v_threshold_lower_bound=0.01)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1, y2 = ours(x1), ref(x2)
    assert torch.equal(y1, y2)
    (ours.representation(y1) * c).sum().backward()
    (y2.mean(0) * c).sum().backward()
    assert torch.allclose(x1.grad, x2.grad)
    assert torch.allclose(ours.v_threshold.grad, ref.v_threshold.grad)
    assert ours.v_threshold.grad.abs() > 0


def test_dsr_backward_is_the_clamp_derivative_not_bptt():
    torch.manual_seed(4)
    T, v_th = 6, 6.0
    x = (torch.rand(T, 100) * 16 - 2).requires_grad_()
    n = build("neuron=dsr_if")
    n.representation(n(x)).sum().backward()
    i_bar = x.detach().mean(0)
    inside = ((i_bar >= 0) & (i_bar <= v_th)).float()
    assert torch.allclose(x.grad, inside.expand(T, -1) / T)  # Eq. 17: d clamp(I, 0, V_th)/dI / T
    assert n.v_threshold.grad.item() == pytest.approx(float((i_bar > v_th).sum()))  # Eq. 19


def test_dsr_lif_backward_uses_slope_1_over_tau_and_lambda_weights():
    T = 10
    x = (torch.rand(T, 50) * 10).requires_grad_()
    n = build("neuron=dsr_lif", "neuron.tau=2.0")
    n.representation(n(x)).sum().backward()
    lam = math.exp(-0.05 / 2.0)
    w = torch.tensor([lam ** (T - k) for k in range(1, T + 1)])
    w = (w / w.sum()).view(-1, 1)
    z = ((w * x.detach()).sum(0)) / 2.0
    inside = ((z >= 0) & (z <= 0.3 / 0.05)).float()
    assert torch.allclose(x.grad, w * inside / 2.0, atol=1e-6)


def test_dsr_threshold_is_projected_onto_its_lower_bound():
    n = build("neuron=dsr_if")
    with torch.no_grad():
        n.v_threshold.fill_(-1.0)
    n.train()
    n(torch.rand(4, 3))
    assert n.v_threshold.item() == pytest.approx(0.01)


def test_dsr_surrogate_mode_trains_by_bptt():
    n = build("neuron=dsr_if", "neuron.grad=surrogate")
    x = (torch.rand(6, 200) * 8).requires_grad_()
    n(x).sum().backward()
    assert x.grad.abs().sum() > 0 and n.v_threshold.grad.abs() > 0


# ------------------------------------------------------------------------------------- all neurons
@pytest.mark.parametrize("name", NEURONS)
def test_gradients_reach_inputs_and_learnable_parameters(name):
    torch.manual_seed(5)
    overrides = [f"neuron={name}"] + (["neuron.learn_leak=true"] if name == "keys_lif" else [])
    n = build(*overrides)
    # inputs below 0, inside and above the saturation of DSR's clamp (V_th; V_th tau/dt for LIF)
    scale = 10.0 if name == "dsr_lif" else float(Parts(cfg(*overrides)).v_threshold)
    x = (torch.rand(6, 4, 30) * 2.5 * scale - 0.3 * scale).requires_grad_()
    out = n(x)
    loss = n.representation(out).sum() if hasattr(n, "representation") else out.sum()
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for pname, p in n.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname
    if name in ("plif", "keys_lif", "dsr_if", "dsr_lif"):
        assert len(list(n.parameters())) == 1


@pytest.mark.parametrize("name", SPIKING)
def test_state_is_reset_between_batches(name):
    torch.manual_seed(6)
    n = build(f"neuron={name}")
    scale = float(Parts(cfg(f"neuron={name}")).v_threshold)
    a = torch.rand(5, 2, 40) * 1.5 * scale
    b = torch.rand(5, 2, 40) * 1.5 * scale
    with torch.no_grad():
        first = n(b)
        functional.reset_net(n)
        n(a)  # leaves its membrane potential behind
        carried = n(b)
        functional.reset_net(n)
        fresh = n(b)
    assert torch.equal(first, fresh)
    assert not torch.equal(carried, fresh)  # without the reset the state leaks into the next batch


def test_plif_per_layer_vs_shared_parameter_counts():
    def layers(*ov):
        parts = Parts(cfg("neuron=plif", *ov))
        return torch.nn.ModuleList(parts.neuron() for _ in range(4))

    per_layer, shared = layers(), layers("neuron.shared=true")
    assert sum(p.numel() for p in per_layer.parameters()) == 4
    assert sum(p.numel() for p in shared.parameters()) == 1
    assert all(m.w is shared[0].w for m in shared)
    assert 1.0 / torch.sigmoid(shared[0].w).item() == pytest.approx(2.0)  # tau init 2 (SEW)
    # one leak, trained by every layer: its gradient is the sum of the layers' contributions
    x = torch.rand(4, 3, 10) * 2
    shared[3](shared[2](shared[1](shared[0](x)))).sum().backward()
    assert shared[0].w.grad.abs() > 0


def test_shared_leak_is_one_parameter_per_model(compose):
    from snnexp.build import build_model

    def n_leaks(*ov):
        m = build_model(compose(["model.width=8", *ov]))
        return sum(p.numel() for n, p in m.named_parameters() if n.endswith(".w"))

    assert n_leaks("neuron=plif") >= 3
    assert n_leaks("neuron=plif", "neuron.shared=true") == 1
    assert n_leaks("neuron=keys_lif", "neuron.learn_leak=true", "neuron.shared=true") == 1
    assert n_leaks("neuron=keys_lif") == 0  # KEYS default: fixed lambda


@pytest.mark.parametrize("surrogate", group_options("surrogate"))
def test_every_neuron_builds_with_every_surrogate(surrogate):
    """Every neuron takes its surrogate from the ``surrogate`` group (composed once per
    surrogate; each neuron's own YAML keys from its composed option)."""
    parts = Parts(cfg(f"surrogate={surrogate}"))
    for name in SPIKING:
        kw = {k: v for k, v in dict(cfg(f"neuron={name}").neuron).items() if k != "name"}
        sg = parts.surrogate()
        n = NEURON_REGISTRY.get(name)(surrogate=sg, **kw)
        x = (torch.rand(3, 2, 5) * 2).requires_grad_()
        y = n(x)
        assert y.shape == (3, 2, 5)
        assert n.surrogate_function is sg, name
        if surrogate != "constant" and name.startswith("dsr"):
            continue  # the DSR backward does not use the surrogate
        y.sum().backward()
        assert x.grad is not None, (name, surrogate)
