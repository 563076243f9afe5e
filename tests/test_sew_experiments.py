"""The SEW experiments (conf/experiment/sew/) against the paper's Tables S1/S2 and A.1-A.5, and the
`make table-sew-*` targets that launch them."""

from __future__ import annotations

import itertools
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

from snnexp.config import compose, conf_dir
from snnexp.config.sweep import jobs as sweep_jobs
from snnexp.papers import load_paper

REPO = Path(__file__).resolve().parent.parent
HP = load_paper("sew")["hparams"]
S1, S2 = HP["S1"], HP["S2"]
BLOCKS = ["sew_add", "sew_iand", "sew_and", "spiking", "plain"]

# experiment -> the sweep its table needs (its YAML's hydra.sweeper.params, which `make table-sew-*`
# launches with -m)
SWEEPS = {
    "sew/imagenet": {
        "model": ["sew_resnet18", "sew_resnet34", "sew_resnet50", "sew_resnet101", "sew_resnet152"],
        "block": ["sew_add", "spiking"],
    },
    "sew/dvs_gesture_table4": {"block": BLOCKS},
    "sew/cifar10dvs_t4": {},
    "sew/cifar10dvs_t8": {},
    "sew/cifar10dvs_t16": {},
    "sew/cifar10_surrogates": {"surrogate": ["atan", "rect", "constant"], "block": ["sew_add", "spiking"]},
}
MAKE_TARGETS = {
    "table-sew-imagenet": ["sew/imagenet"],
    "table-sew-dvs-gesture": ["sew/dvs_gesture_table4"],
    "table-sew-cifar10dvs": ["sew/cifar10dvs_t4", "sew/cifar10dvs_t8", "sew/cifar10dvs_t16"],
    "table-sew-surrogates": ["sew/cifar10_surrogates"],
}


def jobs(experiment: str) -> list[tuple[str, ...]]:
    sweep = SWEEPS[experiment]
    keys = list(sweep)
    return [
        tuple(f"{k}={v}" for k, v in zip(keys, combo, strict=True))
        for combo in itertools.product(*(sweep[k] for k in keys))
    ]


@cache
def composed(experiment: str, overrides: tuple[str, ...] = ()):
    return compose([f"experiment={experiment}", *overrides])


def check_common(cfg, experiment: str) -> None:
    """SEW A.1: SGD momentum 0.9, no weight decay, AMP, V_th=1, V_reset=0, reset detached."""
    assert cfg.experiment_name == experiment and cfg.paper == "SEW"
    assert cfg.optim.name == HP["optimizer"]["name"] and cfg.optim.momentum == HP["optimizer"]["momentum"]
    assert cfg.optim.weight_decay == HP["optimizer"]["weight_decay"] and cfg.optim.nesterov is False
    assert cfg.trainer.amp is HP["amp"] and cfg.method.name == "bptt"
    for k, v in HP["neuron"].items():
        assert cfg.neuron[k] == v, k
    assert cfg.norm.name == "bn" and cfg.encoder.name == "direct"
    assert cfg.sched.warmup_epochs == 0


def check_s1(cfg, row: str) -> None:
    s = S1[row]
    assert cfg.trainer.epochs == s["epochs"] and cfg.sched.name == s["sched"]
    assert cfg.trainer.batch_size == s["batch_size_per_gpu"] * s["n_gpu"]  # global batch
    assert cfg.T in s["T"]
    if s["sched"] == "cosine":
        assert cfg.sched.t_max == s["t_max"]
    else:
        assert (cfg.sched.step_size, cfg.sched.gamma) == (s["step_size"], s["gamma"])
    assert cfg.sched.per_step is False  # the authors step their schedulers once per epoch


def test_every_sew_experiment_is_tested_and_described():
    files = sorted(
        str(p.relative_to(conf_dir() / "experiment").with_suffix(""))
        for p in (conf_dir() / "experiment" / "sew").glob("*.yaml")
        if not p.name.startswith("_")  # bases (the shared SEW recipe), not experiments
    )
    assert files == sorted(SWEEPS)
    for f in files:
        lines = (conf_dir() / "experiment" / f"{f}.yaml").read_text().splitlines()
        assert lines[0] == "# @package _global_"
        assert lines[1].startswith("# SEW ") and len(lines[1]) > 20  # the one-line description


def test_experiments_say_only_what_differs_from_their_base():
    # the T=4/8/16 settings of Table 6 differ only in T: a few lines each over experiment/sew/_cifar10dvs
    for t in (4, 8, 16):
        text = (conf_dir() / "experiment" / "sew" / f"cifar10dvs_t{t}.yaml").read_text()
        body = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        assert "  - /experiment/sew/_cifar10dvs" in body and len(body) <= 6, body


@pytest.mark.parametrize("job", jobs("sew/imagenet"), ids="-".join)
def test_imagenet(job):
    cfg = composed("sew/imagenet", job)
    check_common(cfg, "sew/imagenet")
    check_s1(cfg, "imagenet")
    model, block = (o.split("=")[1] for o in job)
    assert cfg.model.name == model and cfg.block.name == block
    assert cfg.T == 4 and cfg.trainer.batch_size == 256 and cfg.optim.lr == 0.1
    assert (cfg.data.name, cfg.data.image_size, cfg.data.num_classes) == ("imagenet", 224, 1000)
    assert cfg.neuron.name == "if" and cfg.surrogate.name == "atan" and cfg.surrogate.alpha == 2.0
    # Sec. 4.1: the Spiking ResNets are trained with zero init
    assert cfg.block.zero_init is (block == "spiking")


def test_imagenet_zero_init_and_lr_can_still_be_overridden():
    cfg = compose(["experiment=sew/imagenet", "block=spiking", "block.zero_init=false", "optim.lr=0.05"])
    assert cfg.block.zero_init is False and cfg.optim.lr == 0.05
    assert compose(["experiment=sew/imagenet", "block=sew_iand"]).block.zero_init is False


@pytest.mark.parametrize("block", BLOCKS)
def test_dvs_gesture_table4(block):
    cfg = composed("sew/dvs_gesture_table4", (f"block={block}",))
    check_common(cfg, "sew/dvs_gesture_table4")
    check_s1(cfg, "dvs_gesture")
    assert cfg.block.name == block and cfg.optim.lr == S2[block]  # Table S2
    assert {"sew_add": 0.001, "sew_and": 0.03, "sew_iand": 0.063, "spiking": 0.1, "plain": 0.005}[
        block
    ] == cfg.optim.lr
    assert cfg.T == 16 and cfg.trainer.epochs == 192 and cfg.trainer.batch_size == 16
    assert (cfg.sched.name, cfg.sched.step_size, cfg.sched.gamma) == ("step", 64, 0.1)
    assert cfg.model.name == "sew_7bnet" and cfg.data.name == "dvs_gesture"
    # A.2: random temporal delete keeps T_train=12 of T=16 frames in training
    assert cfg.data.temporal_delete is True and cfg.data.T_train == S1["dvs_gesture"]["T_train"] == 12
    assert cfg.data.frames_number == 16 and cfg.data.split_by == "number"
    assert cfg.neuron.name == "plif" and cfg.neuron.init_tau == 2.0
    assert cfg.surrogate.name == "atan" and cfg.surrogate.alpha == 2.0
    # the authors' 97.92 % SEW ADD run used zero init (origin_logs); the other runs are not known
    assert cfg.block.zero_init is (block == "sew_add")
    # the released code: one temporal delete per batch, the last partial batch kept
    assert cfg.data.temporal_delete_per == "batch" and cfg.trainer.drop_last is False


def test_dvs_gesture_lr_override_wins():
    assert compose(["experiment=sew/dvs_gesture_table4", "block=plain", "optim.lr=0.2"]).optim.lr == 0.2


@pytest.mark.parametrize("T", [4, 8, 16])
def test_cifar10dvs(T):
    exp = f"sew/cifar10dvs_t{T}"
    cfg = composed(exp)
    check_common(cfg, exp)
    check_s1(cfg, "cifar10_dvs")
    assert cfg.T == T and cfg.data.frames_number == T
    assert cfg.trainer.epochs == 64 and cfg.sched.t_max == 64 and cfg.optim.lr == 0.01
    assert cfg.trainer.batch_size == 16 and cfg.sched.name == "cosine"
    assert cfg.model.name == "sew_wide7bnet" and cfg.block.name == "sew_add"
    assert cfg.data.name == "cifar10_dvs" and cfg.data.temporal_delete is False  # A.1: no RTD here
    assert cfg.neuron.name == "plif" and cfg.neuron.init_tau == 2.0


@pytest.mark.parametrize("job", jobs("sew/cifar10_surrogates"), ids="-".join)
def test_cifar10_surrogates(job):
    cfg = composed("sew/cifar10_surrogates", job)
    check_common(cfg, "sew/cifar10_surrogates")
    surrogate, block = (o.split("=")[1] for o in job)
    assert cfg.surrogate.name == surrogate and cfg.block.name == block
    assert cfg.model.name == "sew_cifar_light" and cfg.data.name == "cifar10" and cfg.neuron.name == "if"
    # A.5: ArcTan 1/(1+(pi x)^2) is alpha=2; Rectangular 1[|x|<1/2] is a=1; Constant 1 has no parameter
    if surrogate == "atan":
        assert cfg.surrogate.alpha == 2.0
    if surrogate == "rect":
        assert cfg.surrogate.a == 1.0
    assert cfg.sched.name == "cosine" and cfg.sched.t_max == cfg.trainer.epochs


@pytest.mark.parametrize(
    "experiment,params", [("sew/dvs_gesture_table4", 0.13e6), ("sew/cifar10dvs_t8", 1.19e6)]
)
def test_event_nets_have_the_papers_parameter_count(experiment, params):
    from snnexp.build import build_model

    for block in ("sew_add", "spiking"):
        n = sum(
            p.numel()
            for p in build_model(compose([f"experiment={experiment}", f"block={block}"])).parameters()
        )
        assert abs(n - params) / params < 0.01, (experiment, block, n)


# ---------------------------------------------------------------------------------------- make
def dry_run(target: str, *args: str) -> list[list[str]]:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    out = subprocess.run(
        [
            make,
            "-s",
            "--no-print-directory",
            "-f",
            str(REPO / "make" / "tables.mk"),
            target,
            "DRY=1",
            "ESTIMATE=0",
            *args,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return [shlex.split(line) for line in out.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("target", list(MAKE_TARGETS))
def test_make_targets_launch_the_tables_runs_then_report(target, tmp_path):
    sweep_dir = tmp_path / "sweep"
    cmds = dry_run(target, f"SWEEP_DIR={sweep_dir}", "DATA=/data/x", "ARGS=trainer.num_workers=4")
    assert len(cmds) == 2
    train, report = cmds
    assert train[0].endswith("/snnexp") and train[1:3] == ["train", "-m"]
    assert f"hydra.sweep.dir={sweep_dir}" in train and "data.root=/data/x" in train
    assert "trainer.num_workers=4" in train
    assert report[0].endswith("/snnexp") and report[1] == "report" and report[2] == str(sweep_dir)
    sweep = [o for o in train[3:] if not o.startswith(("hydra.", "data.root=", "trainer.num_workers="))]
    launched = [tuple(j) for j in sweep_jobs(sweep)]  # with each experiment's own axes
    expected = sorted((f"experiment={e}", *j) for e in MAKE_TARGETS[target] for j in jobs(e))
    # the same jobs, whatever the order of the keys on the command line
    assert sorted(tuple(sorted(j)) for j in launched) == sorted(tuple(sorted(j)) for j in expected)
    for job in launched:  # every launched job composes (the data root override included)
        exp = next(o for o in job if o.startswith("experiment=")).split("=", 1)[1]
        rest = tuple(sorted(o for o in job if not o.startswith("experiment=")))
        composed(exp, tuple(o for o in jobs_order(exp, rest)))


def jobs_order(experiment: str, overrides: tuple[str, ...]) -> tuple[str, ...]:
    """The overrides in the order of SWEEPS (so the composed() cache is shared with the tests above)."""
    keys = list(SWEEPS[experiment])
    return tuple(sorted(overrides, key=lambda o: keys.index(o.split("=")[0])))


def test_make_default_sweep_dir_is_fresh_and_the_same_for_train_and_report():
    train, report = dry_run("table-sew-surrogates")
    d = next(o for o in train if o.startswith("hydra.sweep.dir=")).split("=", 1)[1]
    assert d.startswith("outputs/tables/sew-surrogates/") and report[2] == d
    assert "--table" in report and report[report.index("--table") + 1] == "S3"
