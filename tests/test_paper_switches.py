"""Where the KEYS/DSR/TDBN authors' code and the papers differ: each choice is a config key, and
both of its values are checked against a hand computation or the count/number they must give."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from spikingjelly.activation_based import functional

import snnexp
from snnexp.build import build_method
from snnexp.config import compose
from snnexp.engine.schedule import lr_lambda
from snnexp.errors import ConfigError
from snnexp.parts import Parts


@functools.cache
def cfg(*overrides: str):
    return compose(list(overrides))


def neuron(*overrides: str):
    return Parts(cfg(*overrides)).neuron()


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- KEYS: firing rule
@pytest.mark.parametrize("learn_leak", ["false", "true"])
def test_keys_lif_fires_at_the_tie_only_with_eq_4(learn_leak):
    # lambda = 1/2 (learned: starts at 1/2); inputs 1.0 then 0.75. Eq. 4 (u >= U_th): u = 1.0 fires,
    # remainder 0, then u = 0.75: [1, 0]. The authors' u > U_th: u = 1.0 does not fire, then
    # u = 0.5 + 0.75 = 1.25 fires: [0, 1]
    x = torch.tensor([[1.0], [0.75]])
    for fire, expected in (("ge", [1.0, 0.0]), ("gt", [0.0, 1.0])):
        n = neuron(
            "neuron=keys_lif", "neuron.leak=0.5", f"neuron.learn_leak={learn_leak}", f"neuron.fire={fire}"
        )
        got = n(x).flatten().tolist()
        assert got == expected, f"fire={fire}: spikes {got}, expected {expected}"


def test_keys_lif_strict_rule_equals_eq_4_away_from_ties_forward_and_backward():
    torch.manual_seed(0)
    x = torch.rand(20, 300) * 0.6
    out = {}
    for fire in ("ge", "gt"):
        n = neuron("neuron=keys_lif", "surrogate=triangle", f"neuron.fire={fire}")
        xi = x.clone().requires_grad_()
        s = n(xi)
        (s * torch.linspace(0, 1, 300)).sum().backward()
        out[fire] = (s.detach(), xi.grad, n.v.detach())
        functional.reset_net(n)
    (s0, g0, v0), (s1, g1, v1) = out["ge"], out["gt"]
    assert torch.equal(s0, s1) and s0.mean() > 0.05, f"spike rates {s0.mean():.4f} vs {s1.mean():.4f}"
    err = ((g0 - g1).abs().max().item(), (v0 - v1).abs().max().item())
    assert max(err) < 1e-6, f"input-gradient and final-membrane differences {err}"


def test_keys_lif_fire_rule_is_checked():
    with pytest.raises(ConfigError, match="neuron.fire='geq'"):
        neuron("neuron=keys_lif", "neuron.fire=geq")


# ---------------------------------------------------------------- DSR: LIF backward
def _dsr_grads(backward: str, g: torch.Tensor, x: torch.Tensor):
    """dL/dI and dL/dV_th of one DSR LIF layer (V_th 1, tau 2, dt 0.5) for dL/dout = g."""
    n = neuron(
        "neuron=dsr_lif",
        "neuron.v_threshold=1.0",
        "neuron.tau=2.0",
        "neuron.delta_t=0.5",
        "neuron.v_threshold_grad_scale=1.0",
        f"neuron.dsr_backward={backward}",
    )
    x = x.clone().requires_grad_()
    (n(x) * g).sum().backward()
    return x.grad, n.v_threshold.grad.item()


def test_dsr_lif_backward_exact_and_authors_against_a_hand_computation():
    # T = 3, lambda = exp(-dt/tau) = exp(-1/4), w_n = lambda^(3-n) / sum; k = 1/tau, b = V_th/dt = 2.
    # Neuron 0: I = 0.3 at every step, k I_hat = 0.15 in [0, b] (passes); neuron 1: I = 10,
    # k I_hat = 5 > b (the threshold's gradient, Eq. 19: db/dV_th = 1/dt = 2)
    T, lam, k, out_scale = 3, math.exp(-0.25), 0.5, 2.0
    w = torch.tensor([lam**2, lam, 1.0])
    w = w / w.sum()
    x = torch.tensor([[0.3, 10.0]] * T)
    g = torch.tensor([[1.0, 1.0], [-2.0, -2.0], [4.0, 4.0]])  # dL/dout[n], the same for both neurons
    exact_go, authors_go = g[:, 0].sum(), T * (w * g[:, 0]).sum()
    want = {
        # Prop. 1: dL/dI[n] = (sum_m g_m) k w_n; dL/dV_th = sum_m g_m * 1/dt
        "exact": (exact_go * k * w, exact_go * out_scale),
        # qymeng94/DSR lif_grad: dL/dI[n] = (N sum_m w_m g_m) k / N at every n; dL/dV_th the same dL/do
        "authors": (authors_go * k * torch.full((T,), 1.0 / T), authors_go * out_scale),
    }
    for backward, (g_in, g_th) in want.items():
        got_in, got_th = _dsr_grads(backward, g, x)
        assert torch.allclose(got_in[:, 0], g_in, atol=1e-6), f"{backward}: dL/dI {got_in[:, 0]} vs {g_in}"
        assert got_in[:, 1].abs().max() == 0, f"{backward}: a saturated neuron passes {got_in[:, 1]}"
        assert got_th == pytest.approx(float(g_th), abs=1e-5), f"{backward}: dL/dV_th {got_th} vs {g_th}"
    # the two differ here (not a vacuous check)
    assert not torch.allclose(want["exact"][0], want["authors"][0])


def test_dsr_if_backward_is_the_same_map_either_way():
    # IF: w_n = 1/N, so N sum_m w_m g_m = sum_m g_m and both spread 1/N (the key lives on dsr_lif only)
    c = cfg("neuron=dsr_if")
    assert "dsr_backward" not in c.neuron
    assert cfg("neuron=dsr_lif").neuron.dsr_backward == "exact"


def test_dsr_lif_experiments_use_the_authors_backward():
    for name in ("cifar10_lif", "cifar100_lif", "dvs_cifar10_lif", "latency_lif", "latency_t5_lif"):
        assert cfg(f"experiment=dsr/{name}").neuron.dsr_backward == "authors", name


def test_the_authors_lif_backward_is_refused_with_the_flat_formulation():
    c = compose(["experiment=dsr/cifar10_lif", "method.formulation=flat", "model=sew_mini", "data=digits"])
    with pytest.raises(ConfigError, match="dsr_backward=authors"):
        build_method(c).prepare(snnexp.build_model(c))


# ---------------------------------------------------------------- KEYS: lr milestones
def test_keys_lr_milestones_follow_the_authors_epoch_index():
    # the authors' utils.adjust_learning_rate runs after epoch e with e == 70 * 0.7 = 49: epoch 50 is
    # the first at lr/10, then 57 and 64; "at" makes 49, 56, 63 the first
    s = {"name": "multistep", "milestones": [0.7, 0.8, 0.9], "gamma": 0.1, "per_step": False}
    for rule, first in (("at", (49, 56, 63)), ("after", (50, 57, 64))):
        f = lr_lambda(compose_sched(s, rule), 1.0, 70, 1)
        drops = tuple(e for e in range(1, 70) if f(e) < f(e - 1))
        assert drops == first, f"milestone_epoch={rule}: lr drops at epochs {drops}, expected {first}"
    assert cfg("experiment=keys/table7").sched.milestone_epoch == "after"


def compose_sched(s: dict, rule: str):
    from omegaconf import OmegaConf

    return OmegaConf.create({**s, "milestone_epoch": rule})


def test_milestone_epoch_is_refused_for_a_schedule_without_milestones():
    from omegaconf import OmegaConf

    s = OmegaConf.create({"name": "cosine", "t_max": 10, "eta_min": 0.0, "milestone_epoch": "after"})
    with pytest.raises(ConfigError, match="milestone_epoch=after only applies to sched=multistep"):
        lr_lambda(s, 0.1, 10, 1)


# ---------------------------------------------------------------- KEYS: data
def test_keys_normalises_with_the_authors_std_on_cifar10_and_cifar100(tmp_path):
    from snnexp.data import build_dataset
    from test_data_images import write_cifar10

    last = write_cifar10(tmp_path)
    c = compose(["experiment=keys/table7", f"data.root={tmp_path}", "data.verify_md5=false"])
    x, _ = build_dataset(c, "test")[2]
    # VicenteAlex/Spiking_ResNet train.py: Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
    mean, std = torch.tensor([0.4914, 0.4822, 0.4465]), torch.tensor([0.2023, 0.1994, 0.2010])
    raw = torch.tensor(last["data"][2]).view(3, 32, 32).float() / 255
    want = (raw - mean[:, None, None]) / std[:, None, None]
    assert torch.allclose(x, want, atol=1e-5), f"largest difference {(x - want).abs().max():.3g}"
    assert cfg("experiment=keys/table2_cifar100").data.normalize_stats == "keys_cifar10"


# ---------------------------------------------------------------- KEYS: BNTT beta
@pytest.mark.parametrize("bias,count", [("false", 634_000), ("true", 706_800)])
def test_bntt_beta_switch_gives_the_paper_and_the_authors_parameter_counts(bias, count):
    # KEYS Table 7 counts S-ResNet38 (16 filters, CIFAR-10, T=50) at 634,000: gamma only. The
    # authors' model.py leaves beta trainable (bias = None set on ModuleLists): + 50 x 1,456 betas
    over = [
        "model=s_resnet38",
        "block=keys_s2s",
        "neuron=keys_lif",
        "surrogate=triangle",
        "norm=bntt",
        "T=50",
    ]
    m = snnexp.build_model(compose([*over, "data=cifar10", "model.base_width=16", f"norm.bias={bias}"]))
    assert n_params(m) == count, f"norm.bias={bias}: {n_params(m)} parameters, expected {count}"


# ---------------------------------------------------------------- KEYS: Table 11 resolution
@pytest.mark.parametrize("name", ["table11", "table11_finetune"])
def test_table_11_at_the_papers_32_px_or_the_authors_64_px_with_a_stride_2_stem(name):
    start = ["init.from=pretrained.pt"] if name.endswith("finetune") else []  # fine-tuning needs one
    paper = cfg(f"experiment=keys/{name}", *start)
    authors = cfg(f"experiment=keys/{name}", "data.image_size=64", *start)
    assert (paper.data.image_size, paper.model.stem_kernel, paper.model.stem_stride) == (32, 3, 1)
    # VicenteAlex/Spiking_ResNet model.py SResnetNM: Resize 64x64, conv1 2->F k3 s2 p1
    assert (authors.data.image_size, authors.model.stem_kernel, authors.model.stem_stride) == (64, 3, 2)
    assert authors.model.stem_pool == 0


# ---------------------------------------------------------------- TDBN: ResNet-17/19 head
@pytest.mark.parametrize("pool,fc_in", [(2, 8192), (None, 512)])
def test_tdbn_resnet19_head_reads_average_pool_2_either_way(pool, fc_in):
    # CIFAR-10, 32 px: the last stage is 512 x 8 x 8. "average pool/2" (TDBN supplement Table 4) as a
    # 2x2 pool: 512 x 4 x 4 = 8192 features into the 256-d fc; as a global pool: 512
    over = ["model=tdbn_resnet19", "block=tdbn", "norm=tdbn", "neuron=tdbn_lif", "data=cifar10", "T=2"]
    m = snnexp.build_model(compose([*over, f"model.pool={'null' if pool is None else pool}"]))
    fc1 = dict(m.named_modules())["body.fc1"]
    assert (fc1.in_features, fc1.out_features) == (fc_in, 256), f"pool={pool}: fc {fc1}"


def test_tdbn_pool_larger_than_the_feature_map_is_refused():
    over = ["model=tdbn_resnet19", "block=tdbn", "norm=tdbn", "neuron=tdbn_lif", "data=cifar10"]
    with pytest.raises(ConfigError, match="model.pool=16"):
        snnexp.build_model(compose([*over, "model.pool=16"]))


# ---------------------------------------------------------------- DSR: dropout and conv bias
def test_dsr_dropout_draws_a_mask_per_step_or_one_for_all_steps():
    torch.manual_seed(0)
    x = torch.ones(4, 2, 64, 4, 4)  # [T, B, C, H, W]
    for mask, shared in (("per_step", False), ("shared", True)):
        c = compose(
            [
                "model=preact_resnet20",
                "neuron=dsr_if",
                "data=synthetic",
                "model.dropout=0.5",
                "T=4",
                f"model.dropout_mask={mask}",
            ]
        )
        m = snnexp.build_model(c).train()
        drop = m.body.layer1[0].dropout
        y = drop(x)
        same = all(torch.equal(y[0] != 0, y[t] != 0) for t in range(1, 4))
        assert same == shared, f"dropout_mask={mask}: masks equal over time: {same}"
        assert 0.35 < (y == 0).float().mean() < 0.65  # p = 0.5 either way


def test_dsr_flat_formulation_needs_a_shared_dropout_mask():
    over = [
        "method=dsr",
        "neuron=dsr_if",
        "model=preact_resnet20",
        "data=synthetic",
        "model.dropout=0.1",
        "method.formulation=flat",
    ]
    c = compose(over)
    with pytest.raises(ConfigError, match="model.dropout_mask=shared"):
        build_method(c).prepare(snnexp.build_model(c))
    c = compose([*over, "model.dropout_mask=shared"])
    build_method(c).prepare(snnexp.build_model(c))  # accepted


def test_dsr_preact_conv_bias_keeps_pytorchs_default_init_and_vgg_zeros_it():
    # qymeng94/DSR cifar/modules/preresnet.py re-initialises conv weights only (bias: U(+-1/sqrt(fan_in)));
    # cifar/modules/vgg.py sets conv biases to 0
    torch.manual_seed(0)
    m = snnexp.build_model(compose(["model=preact_resnet20", "neuron=dsr_if", "data=synthetic"]))
    conv = m.body.layer1[0].conv1
    bound = 1.0 / math.sqrt(conv.weight[0].numel())
    b = conv.bias.detach()
    assert b.abs().max() <= bound and b.std() > bound / 4, f"bias std {b.std():.4f}, bound {bound:.4f}"
    v = snnexp.build_model(compose(["model=vgg11", "neuron=dsr_if", "data=synthetic", "data.image_size=32"]))
    assert all(
        float(mod.bias.detach().abs().max()) == 0 for mod in v.modules() if isinstance(mod, torch.nn.Conv2d)
    )


# ---------------------------------------------------------------- DSR: hybrid calibration
def test_hybrid_calibration_on_validation_images_in_eval_mode(tmp_path):
    """qymeng94/DSR imagenet/main.py --calculate_Vth: model.eval(), the first 5 validation batches
    (720 images), the 99.9th percentile of each layer's post-ReLU activations over all of them.
    Here 20 images from batches of 8 (8 + 8 + the first 4 of the third), percentile 99."""
    from snnexp.engine.init_from import init_from
    from snnexp.methods.dsr import DSR, dsr_nodes

    model = ["model=preact_resnet20", "data=synthetic", "data.image_size=8", "data.in_channels=3", "norm=bn"]
    torch.manual_seed(0)
    ann = snnexp.build_model(compose([*model, "neuron=relu", "T=1"]))
    ann.train()
    ann(torch.randn(16, 3, 8, 8) * 2 + 1)  # running statistics far from the batch statistics below
    ann.eval()
    torch.save({"model": ann.state_dict()}, tmp_path / "ann.pt")
    snn = snnexp.build_model(compose([*model, "neuron=dsr_if", "T=4"]))
    method = DSR(
        formulation="per_step",
        flat_bn="recorded",
        record_chunk=0,
        calibrate_thresholds=True,
        threshold_percentile=99.0,
        calibration="validation",
        calibration_images=20,
    )
    init_from(snn, tmp_path / "ann.pt", reinit="strict", skip=[], fresh=method.init_fresh, echo=False)
    method.prepare(snn)
    batches = [torch.randn(8, 3, 8, 8) for _ in range(4)]

    relus = [m for m in ann.modules() if type(m).__name__ == "ReLUUnit"]
    acts: dict = {}
    hooks = [
        r.register_forward_hook(lambda m, i, o: acts.setdefault(m, []).append(o.flatten())) for r in relus
    ]
    with torch.no_grad():
        ann(torch.cat(batches)[:20])  # eval mode: running statistics, so batching does not matter
    for h in hooks:
        h.remove()
    expect = [torch.cat(acts[r]).sort().values[int(0.99 * torch.cat(acts[r]).numel())] for r in relus]

    snn.train()
    method.before_training(snn, iter(batches))
    nodes = dsr_nodes(snn)
    assert snn.training, "the model goes back to training mode"
    got = torch.stack([n.v_threshold.detach() for n in nodes])
    want = torch.stack([e.clamp_min(n.lower_bound) for n, e in zip(nodes, expect, strict=True)])
    assert torch.allclose(got, want, rtol=1e-5), f"thresholds {got.tolist()} vs {want.tolist()}"
    # train_batch (the other choice) leaves them to the first step; a bad choice is refused
    with pytest.raises(ConfigError, match="method.calibration='val'"):
        DSR(
            formulation="per_step",
            flat_bn="recorded",
            record_chunk=0,
            calibrate_thresholds=True,
            threshold_percentile=99.0,
            calibration="val",
        )
    assert cfg("experiment=dsr/imagenet_if", "init.from=ann.pt").method.calibration == "validation"
