"""DDP on CPU (gloo, 2 processes via torchrun) equals one process with the same global batch."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import FAST

# norm=none: SyncBatchNorm runs on GPUs only, and per-rank BN statistics would (rightly) differ
ARGS = [*FAST, "trainer.epochs=1", "norm=none", "logger=csv", "logger.log_every=1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _losses(run_dir):
    return [float(r["train/loss"]) for r in csv.DictReader(open(run_dir / "metrics_steps.csv"))]


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_two_process_ddp_matches_single_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env |= {"WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    p = subprocess.run(
        [sys.executable, "-m", "snnexp.cli", "train", *ARGS, f"hydra.run.dir={single}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            f"--master_port={_free_port()}",
            "-m",
            "snnexp.cli",
            "train",
            *ARGS,
            f"hydra.run.dir={ddp}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    a, b = _losses(single), _losses(ddp)
    assert len(a) == len(b) == 4
    assert b[:3] == pytest.approx(a[:3], rel=1e-4, abs=1e-6)
    m = json.loads((ddp / "metrics.json").read_text())
    assert m["world_size"] == 2 and m["status"] == "finished"
    # evaluation is reduced over ranks: every test sample counted once
    assert m["last_acc1"] == pytest.approx(json.loads((single / "metrics.json").read_text())["last_acc1"])
    assert not (tmp_path / "outputs").exists()  # rank 1 made no run dir of its own
