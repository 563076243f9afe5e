"""DSR experiments carry the paper's and the authors' hyper-parameters
(DSR Sec. 5; qymeng94/DSR's README commands and main.py defaults), every
setting of Tables 2/3 and Fig. 3 has a file, and the make targets launch them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import snnexp
from snnexp.papers import load_paper

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf/experiment/dsr").glob("[!_]*.yaml"))


def compose(name: str, *over: str):
    extra = ["init.from=ann.pt"] if name == "imagenet_if" else []
    return snnexp.compose([f"experiment=dsr/{name}", *extra, *over])


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_with_the_recipe(name):
    c = compose(name)
    assert c.paper == "DSR" and c.experiment_name.startswith("dsr/")
    assert c.trainer.drop_last is False  # the authors' DataLoaders keep the last partial batch
    if name.startswith("imagenet"):
        return
    assert (c.optim.name, c.optim.momentum, c.optim.weight_decay) == ("sgd", 0.9, 5e-4)
    assert (c.trainer.batch_size, c.sched.name, c.sched.warmup_steps, c.sched.per_step) == (
        128,
        "cosine",
        400,
        False,
    )
    if name.endswith("_ann"):  # Table 2's ANN rows: the SNN's recipe, ReLU, one step, backpropagation
        assert (c.neuron.name, c.T, c.method.name, c.model.readout) == ("relu", 1, "bptt", "integrate")
    else:
        assert c.method.name == "dsr" and c.model.readout == "rate"
    if name.startswith("dvs"):
        assert (c.model.name, c.data.image_size, c.optim.lr, c.trainer.epochs, c.T) == (
            "vgg11",
            48,
            0.05,
            300,
            20,
        )
        assert c.data.split_order == "number" and c.data.train_ratio == 0.9
    else:
        assert c.trainer.epochs == c.sched.t_max == 200
        assert (c.data.crop_padding, c.data.name in ("cifar10", "cifar100")) == (4, True)


def test_table2_settings():
    for data in ("cifar10", "cifar100"):
        for n, th, alpha, bound in (("if", 6.0, 0.5, 0.01), ("lif", 0.3, 0.3, 5e-4)):
            c = compose(f"{data}_{n}")
            assert (c.T, c.optim.lr, c.model.name, c.data.name) == (20, 0.1, "preact_resnet18", data)
            assert (c.neuron.v_threshold, c.neuron.alpha, c.neuron.v_threshold_lower_bound) == (
                th,
                alpha,
                bound,
            )
    a, s = compose("imagenet_ann"), compose("imagenet_if")
    assert (a.neuron.name, a.T, a.optim.lr, a.optim.weight_decay, a.trainer.batch_size) == (
        "relu",
        1,
        0.1,
        1e-4,
        256,
    )
    assert (s.T, s.optim.name, s.optim.lr, s.optim.weight_decay, s.sched.warmup_steps) == (
        50,
        "adam",
        1e-3,
        0.0,
        5000,
    )
    # qymeng94/DSR imagenet/main.py defaults the README commands leave: --warmup 5000 for the ANN
    # too, --batch-size 144 for the SNN (the ANN's command sets 256)
    assert (a.sched.warmup_steps, s.trainer.batch_size) == (5000, 144)
    assert (s.model.stem, s.method.threshold_percentile, s.neuron.v_threshold_grad_scale) == (
        "imagenet",
        99.9,
        0.001,
    )
    assert a.model == s.model  # the same architecture


def test_table3_and_fig3_settings():
    f = {
        n: compose(n).neuron
        for n in ("cifar10_if", "ablation_no_f", "ablation_no_t_vth6", "ablation_no_t_vth2", "ablation_no_ft")
    }
    assert [(v.v_threshold, v.alpha, v.train_v_threshold) for v in f.values()] == [
        (6.0, 0.5, True),
        (6.0, 1.0, True),
        (6.0, 0.5, False),
        (2.0, 0.5, False),
        (6.0, 1.0, False),
    ]
    t5 = compose("latency_t5_lif")
    assert (t5.T, t5.optim.lr, t5.neuron.v_threshold, t5.neuron.alpha, t5.neuron.delta_t) == (
        5,
        0.05,
        0.6,
        0.5,
        0.1,
    )
    assert t5.neuron.v_threshold_lower_bound == 1e-3 and compose("latency_t5_if").optim.lr == 0.05
    assert compose("depth", "model=preact_resnet110").model.name == "preact_resnet110"


def test_tables_name_existing_experiments():
    for t in load_paper("dsr")["tables"].values():
        for e in t["experiments"]:
            assert e.removeprefix("dsr/") in EXPERIMENTS, e


# target -> its training runs: Table 2 and 3 and Fig. 3a report mean ± std of 3 runs (seed=0,1,2,
# each experiment's own axis); Table 2's ImageNet hybrid is two single runs; Fig. 3b one run a point
DSR_TARGET_RUNS = {
    "table-dsr-main": 26,
    "table-dsr-ablation": 15,
    "table-dsr-latency": 24,
    "table-dsr-depth": 10,
}


@pytest.mark.parametrize("target", sorted(DSR_TARGET_RUNS))
def test_make_targets_dry(target):
    import shlex

    from snnexp.config.sweep import jobs

    p = subprocess.run(
        ["make", "-s", target, "DRY=1", "ESTIMATE=0", "SWEEP_DIR=/tmp/x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert lines[-1].startswith(".venv/bin/snnexp report /tmp/x --table")
    trains = [shlex.split(line)[2:] for line in lines[:-1]]
    assert all("snnexp train" in line for line in lines[:-1])
    runs = [j for t in trains for j in (jobs(t[1:]) if t[0] == "-m" else [t])]
    assert len(runs) == DSR_TARGET_RUNS[target]
    if target != "table-dsr-depth":  # every swept setting 3 times
        swept = [j for t in trains if t[0] == "-m" for j in jobs(t[1:])]
        assert sorted({o for j in swept for o in j if o.startswith("seed=")}) == [
            "seed=0",
            "seed=1",
            "seed=2",
        ]
        assert len(swept) % 3 == 0


def test_dvs_random_crop_shares_one_offset_over_frames():
    """DSR's DVS-CIFAR10 augmentation: RandomCrop(48, padding=4) on the whole [T, C, H, W] clip."""
    import torch

    from snnexp.data.dvs.frames import FrameTransform

    torch.manual_seed(0)
    x = torch.arange(48 * 48, dtype=torch.float32).view(1, 1, 48, 48).repeat(5, 2, 1, 1)
    seen = set()
    for _ in range(20):
        y = FrameTransform(None, 48, "bilinear", crop_padding=4)(x)
        assert y.shape == x.shape and all(torch.equal(y[0], y[t]) for t in range(5))
        nz = y[0, 0].nonzero()
        seen.add((int(nz[:, 0].min()), int(nz[:, 1].min())))
    assert len(seen) > 1  # the offset is random
    assert compose("dvs_cifar10_lif").data.crop_padding == 4


def test_cifar_experiments_normalise_with_the_authors_mean_and_std():
    """qymeng94/DSR cifar/main_single_gpu.py: CIFAR-10 std (0.2023, 0.1994, 0.2010), not the data set's."""
    from snnexp.data.images import CIFAR_MEAN_STD

    for name in EXPERIMENTS:
        c = compose(name)
        want = {"cifar10": "dsr_cifar10", "cifar100": "dsr_cifar100"}.get(c.data.name)
        assert c.data.get("normalize_stats") == want, name
    assert CIFAR_MEAN_STD["dsr_cifar10"][1] == (0.2023, 0.1994, 0.2010)
