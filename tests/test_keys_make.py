"""`make table-keys-<n> DRY=1`: the commands of every KEYS table, each launched job composing."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from snnexp.config import compose, sweep

REPO = Path(__file__).resolve().parents[1]
TABLES = ["2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17"]
# training runs of each target (the targets' help lines; Table 9 is a search and one run)
TRAIN_RUNS = {"2": 6, "3": 3, "4": 2, "5": 2, "6": 4, "7": 4, "8": 2, "9": 2, "10": 2, "11": 6, "12": 6}
TRAIN_RUNS |= {"13": 4, "14": 4, "15": 4, "16": 4, "17": 3}


def dry_run(target: str, *args: str) -> list[list[str]]:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    mk = ["-f", str(REPO / "make" / "keys.mk")]
    out = subprocess.run(
        [make, "-s", "--no-print-directory", *mk, target, "DRY=1", "ESTIMATE=0", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return [shlex.split(line) for line in out.stdout.splitlines() if line.strip()]


def jobs(overrides: list[str], config: str = "train") -> list[list[str]]:
    """The jobs of a multirun: the experiment's own axes (hydra.sweeper.params) times the command
    line's sweeps, as Hydra's basic sweeper starts them."""
    return sweep.jobs(overrides, config)


@pytest.mark.parametrize("table", TABLES)
def test_table_target_launches_composable_runs_then_reports(table, tmp_path):
    cmds = dry_run(
        f"table-keys-{table}", f"SWEEP_DIR={tmp_path}", "DATA=/data/keys", "ARGS=trainer.num_workers=4"
    )
    assert cmds and all(c[0].endswith("/snnexp") for c in cmds)
    trains = [c for c in cmds if c[1] in ("train", "tune")]
    assert trains and all("paths.data_root=/data/keys" in c and "trainer.num_workers=4" in c for c in trains)
    assert cmds[-1][1:] == ["report", "--paper", "keys", str(tmp_path), "--table", table]
    launched = 0
    for c in trains:
        multirun = c[2] == "-m"
        overrides = [o for o in c[3 if multirun else 2 :] if not o.startswith(("hydra.", "paths."))]
        config = "tune" if c[1] == "tune" else "train"
        for job in jobs(overrides, config) if multirun else [overrides]:
            launched += 1
            cfg = compose(job, config)
            assert cfg.paper == "KEYS" and cfg.experiment_name.startswith("keys/")
    assert launched == TRAIN_RUNS[table]
    for c in (c for c in cmds if c[1] == "eval"):  # fewer inference steps of a run of this target
        assert c[2].startswith(f"ckpt={tmp_path}/") and c[3].startswith("T=")


def test_fine_tuning_targets_start_from_the_pretraining_runs(tmp_path):
    cmds = dry_run("table-keys-11", f"SWEEP_DIR={tmp_path}")
    pre = [c for c in cmds if "experiment=keys/table6" in c]
    assert [o for c in pre for o in c if o.startswith("hydra.run.dir")] == [
        f"hydra.run.dir={tmp_path}/pretrain/w16_integrate",
        f"hydra.run.dir={tmp_path}/pretrain/w32_voting",
    ]
    ft = [c for c in cmds if "experiment=keys/table11_finetune" in c]
    assert [o for c in ft for o in c if o.startswith("init.from")] == [
        f"init.from={tmp_path}/pretrain/w16_integrate/checkpoints/last.pt",
        f"init.from={tmp_path}/pretrain/w32_voting/checkpoints/last.pt",
    ]
    again = dry_run("table-keys-11", f"SWEEP_DIR={tmp_path}", "PRETRAIN_DIR=/old/pre")
    assert not any("experiment=keys/table6" in c for c in again)
    assert any("init.from=/old/pre/w16_integrate/checkpoints/last.pt" in c for c in again)


def test_figure_3_target_trains_four_networks_then_analyses_their_last_checkpoints(tmp_path):
    """KEYS Fig. 3: VGG11 and S-ResNet38 S2M / S2S / V2V on CIFAR-100 (Table 2's setting), then one
    `analyze activity` over the whole test set with one column per network, in the figure's order."""
    cmds = dry_run("figure-keys-3", f"SWEEP_DIR={tmp_path}")
    trains, (analyze,) = cmds[:-1], cmds[-1:]
    runs = [next(o.split("=", 1)[1] for o in c if o.startswith("hydra.run.dir=")) for c in trains]
    assert runs == [f"{tmp_path}/{n}" for n in ("vgg11", "s2m", "s2s", "v2v")]
    cfgs = [compose([o for o in c[2:] if not o.startswith("hydra.")]) for c in trains]
    assert [(c.model.name, c.block.name, c.data.name) for c in cfgs] == [
        ("keys_vgg11", "keys_s2s", "cifar100"),
        ("s_resnet38", "keys_s2m", "cifar100"),
        ("s_resnet38", "keys_s2s", "cifar100"),
        ("s_resnet38", "keys_v2v", "cifar100"),
    ]
    assert all(c.model.get("base_width", 32) == 32 and c.T == 50 for c in cfgs)
    ckpts = ",".join(f"{r}/checkpoints/last.pt" for r in runs)
    assert analyze[1:4] == ["analyze", "activity", f"compare_ckpts=[{ckpts}]"]
    assert "batches=477" in analyze  # 10,000 test images in batches of 21
