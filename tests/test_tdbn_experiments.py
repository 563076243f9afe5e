"""The TDBN experiments (conf/experiment/tdbn/) against the supplement's training settings (C, Table
5) as stored in papers/tdbn.yaml, the tables' experiments, and the `make table-tdbn-*` targets."""

from __future__ import annotations

import math
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import torch

import snnexp
from snnexp.config import compose, conf_dir
from snnexp.papers import load_paper

REPO = Path(__file__).resolve().parent.parent
PAPER = load_paper("tdbn")
HP = PAPER["hparams"]
SETTINGS = HP["settings"]


@cache
def composed(experiment: str):
    return compose([f"experiment={experiment}"])


def test_every_tdbn_experiment_is_a_setting_of_the_paper_and_in_a_table():
    files = sorted(
        f"tdbn/{p.stem}"
        for p in (conf_dir() / "experiment" / "tdbn").glob("*.yaml")
        if not p.stem.startswith("_")
    )
    assert files == sorted(SETTINGS)
    in_tables = {e for t in PAPER["tables"].values() for e in t["experiments"]}
    assert in_tables == set(SETTINGS)
    for f in files:
        lines = (conf_dir() / "experiment" / f"{f}.yaml").read_text().splitlines()
        assert lines[0] == "# @package _global_" and lines[1].startswith("# TDBN Table ")


@pytest.mark.parametrize("experiment", sorted(SETTINGS))
def test_experiment_follows_supplement_c_and_table5(experiment):
    cfg, s = composed(experiment), SETTINGS[experiment]
    assert cfg.experiment_name == experiment and cfg.paper == "TDBN"
    assert (cfg.data.name, cfg.model.name, cfg.T, cfg.data.image_size) == (
        s["data"], s["model"], s["T"], s["image_size"],
    )  # fmt: skip
    opt = HP["optimizer"]
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.momentum) == (opt["name"], opt["lr"], opt["momentum"])
    assert (cfg.sched.name, cfg.sched.gamma) == (HP["sched"]["name"], HP["sched"]["gamma"])
    assert cfg.sched.step_size == HP["step_size"][s["model"]] and cfg.sched.per_step is False
    m = s["model"]
    assert cfg.trainer.batch_size == HP["batch_size_per_gpu"][m] * HP["n_gpu"][m]  # global batch
    assert cfg.trainer.sync_bn is (HP["n_gpu"][m] > 1)  # sync-BN on the multi-GPU runs
    assert cfg.trainer.amp is HP["amp"] and cfg.method.name == "bptt" and cfg.encoder.name == "direct"
    assert cfg.neuron.name == HP["neuron"]["name"] and cfg.neuron.tau_decay == HP["neuron"]["tau_decay"]
    assert cfg.surrogate.name == HP["surrogate"]["name"] and cfg.block.name == "tdbn"
    assert cfg.norm.name == "tdbn" and cfg.norm.alpha == HP["norm"]["alpha"]
    assert cfg.norm.residual_alpha == pytest.approx(1 / math.sqrt(2)) == HP["norm"]["residual_alpha"]
    assert cfg.model.readout == "mean"  # Eq. 11: decoding layer averaged over T
    if "frame_ms" in s:  # event data: T frames of a fixed duration each, all of them in training
        assert cfg.data.split_by == "time" and cfg.data.frame_duration_ms == s["frame_ms"]
        assert cfg.data.frames_number == cfg.T and cfg.data.temporal_delete is False
    if "train_ratio" in s:
        assert cfg.data.train_ratio == s["train_ratio"]  # 9000 / 1000


@pytest.mark.parametrize("experiment", sorted(SETTINGS))
def test_experiment_model_builds_for_its_data(experiment):
    cfg = composed(experiment)
    with torch.device("meta"):  # shapes only: the ImageNet nets at 224x224 cost nothing
        net = snnexp.build_model(cfg)
        c, s = int(cfg.data.in_channels), int(cfg.data.image_size)
        x = torch.zeros(cfg.T, 1, c, s, s) if cfg.data.get("sequence") else torch.zeros(1, c, s, s)
        assert net(x).shape == (1, cfg.data.num_classes)


# ---------------------------------------------------------------------------------------- make
def dry_run(target: str, *args: str) -> list[list[str]]:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    files = ["-f", str(REPO / "make" / "tables.mk"), "-f", str(REPO / "make" / "tdbn.mk")]
    out = subprocess.run(
        [make, "-s", "--no-print-directory", *files, target, "DRY=1", "ESTIMATE=0", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return [shlex.split(line) for line in out.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("table", ["1", "2", "3"])
def test_make_accuracy_tables_launch_their_experiments_then_report(table, tmp_path):
    cmds = dry_run(f"table-tdbn-{table}", f"SWEEP_DIR={tmp_path}", "DATA=/d", "ARGS=logger=csv")
    *trains, report = cmds
    launched = set()
    for t in trains:
        assert t[1:3] == ["train", "-m"] and "data.root=/d" in t and "logger=csv" in t
        assert any(o.startswith(f"hydra.sweep.dir={tmp_path}") for o in t)
        launched |= set(next(o for o in t if o.startswith("experiment=")).split("=", 1)[1].split(","))
    assert launched == set(PAPER["tables"][table]["experiments"])
    assert report[1:] == ["report", str(tmp_path), "--table", table]


def test_make_table6_analyzes_the_two_table6_models():
    cmds = dry_run("table-tdbn-6", "CKPT_R19=r19.pt")
    assert [c[1:3] for c in cmds] == [["analyze", "energy"]] * 2
    assert "experiment=tdbn/cifar10_t6" in cmds[0] and "ckpt=r19.pt" in cmds[0]
    assert "experiment=tdbn/imagenet_resnet34_large" in cmds[1] and not any(
        o.startswith("ckpt=") for o in cmds[1]
    )
    for c, row in zip(cmds, PAPER["computation"]["rows"].values(), strict=True):
        cfg = composed(next(o for o in c if o.startswith("experiment=")).split("=", 1)[1])
        assert (cfg.model.name, cfg.T) == (row["model"], row["T"])


def test_report_places_tdbn_runs_in_tables_1_to_3(tmp_path):
    from snnexp.report import make_tables
    from test_report import fake_run

    for i, exp in enumerate(sorted(SETTINGS)):
        sweep = "imagenet" if "imagenet" in exp else "other"  # two sweeps under one dir (make table-tdbn-1)
        fake_run(
            tmp_path / sweep / str(i), experiment=exp, overrides=[], config={"paper": "TDBN"}, acc1=[10.0 + i]
        )
    tables = {t["id"]: t for t in make_tables([tmp_path], paper="tdbn")}
    assert set(tables) == {"1", "2", "3"}
    cells = {c["row"]: c for c in tables["1"]["cells"]}
    i6 = sorted(SETTINGS).index("tdbn/cifar10_t6")
    assert cells["c_t6"]["ours_max"] == 10.0 + i6 and cells["c_t6"]["paper"] == 93.16
    assert cells["i_r34l"]["paper"] == 67.05 and cells["i_r34l"]["ours_max"] is not None
    assert cells["c_wu"]["status"] == "paper only"
    assert {c["row"]: c["paper"] for c in tables["2"]["cells"]}["ours"] == 96.87
    assert {c["row"]: c["paper"] for c in tables["3"]["cells"]}["ours"] == 67.8
