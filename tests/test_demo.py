"""The README's `make run`: the default `snnexp train` on digits, W&B offline, >= 95 % test accuracy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.demo
@pytest.mark.slow
def test_default_demo_reaches_95_percent_with_wandb_offline(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}  # the user's defaults
    env["WANDB_SILENT"] = "true"
    p = subprocess.run(
        [sys.executable, "-m", "snnexp.cli", "train"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    (run,) = (tmp_path / "outputs/runs").glob("*/*")
    m = json.loads((run / "metrics.json").read_text())
    assert m["status"] == "finished" and m["epochs_done"] == 6
    assert m["best_acc1"] >= 95.0 and m["last_acc1"] >= 95.0, m
    # off a terminal, progress is plain lines with the throughput (a bar's redraws would pile up)
    assert "epoch 6/6  step 42/42  loss " in p.stderr and "img/s" in p.stderr and "\r" not in p.stderr
    assert (run / "snnexp.log").read_text().count("img/s") == 6  # the console lines are kept
    assert m["threads"] >= 1
    assert list((run / "wandb").glob("offline-run-*")), "wandb offline run missing"
    assert (run / "wandb_run_id.txt").is_file() and (run / "curves.png").is_file()
