"""The training engine: outputs, exact resume, crash safety, run-dir protection."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time

import pytest
import torch

import snnexp
from conftest import FAST, SNNEXP
from snnexp.engine.checkpoint import load_checkpoint, save_atomic
from snnexp.errors import CheckpointError


def _train(tmp_path, name, *extra):
    cfg = snnexp.compose([*FAST, *extra])
    return snnexp.train(cfg, run_dir=str(tmp_path / name)), tmp_path / name


def test_one_epoch_smoke_writes_run_files(tmp_path):
    m, d = _train(tmp_path, "run", "trainer.epochs=1")
    assert m["status"] == "finished" and m["epochs_done"] == 1
    for f in [
        "config.yaml",
        "summary.csv",
        "metrics.json",
        "checkpoints/last.pt",
        "checkpoints/best.pt",
        "curves.png",
    ]:
        assert (d / f).is_file(), f
    rows = list(csv.DictReader(open(d / "summary.csv")))
    assert [r["epoch"] for r in rows] == ["1"]
    assert set(rows[0]) >= {"lr", "train_loss", "test_acc1", "test_acc5", "best_acc1"}
    saved = json.loads((d / "metrics.json").read_text())
    assert saved["best_acc1"] == pytest.approx(float(rows[0]["test_acc1"]))
    assert saved["params"] == sum(p.numel() for p in snnexp.build_model(snnexp.compose(FAST)).parameters())


def test_checkpoint_has_everything_and_loads_weights_only(tmp_path):
    _, d = _train(tmp_path, "run", "trainer.epochs=1")
    c = torch.load(d / "checkpoints/last.pt", weights_only=True)  # raises on any pickled object
    assert {
        "model",
        "optimizer",
        "scheduler",
        "scaler",
        "rng",
        "epoch",
        "step",
        "step_in_epoch",
        "history",
        "config",
    } <= set(c)
    assert c["epoch"] == 1 and c["step"] == 4 and c["step_in_epoch"] == 0


def _weights(d):
    return load_checkpoint(d / "checkpoints/last.pt")["model"]


def test_resume_is_bitwise_identical_to_straight_run(tmp_path):
    straight, ds = _train(tmp_path, "straight")
    first, _ = _train(tmp_path, "split", "trainer.stop_after_epochs=1")
    assert first["status"] == "stopped" and first["epochs_done"] == 1
    # same run dir, continue: the checkpoint is at epoch 1 of 2
    resumed, dr = _train(tmp_path, "split", "resume=auto")
    assert resumed["epochs_done"] == 2
    for k, v in _weights(ds).items():
        assert torch.equal(v, _weights(dr)[k]), k
    rows = [[r[:-1] for r in csv.reader(open(d / "summary.csv"))] for d in (ds, dr)]  # minus time
    assert len(rows[0]) == 3 and rows[0] == rows[1]
    for k in ["last_acc1", "best_acc1", "best_epoch", "last_test_loss", "last_train_loss"]:
        assert straight[k] == resumed[k], k


def test_resume_mid_epoch_is_bitwise_identical(tmp_path):
    """A checkpoint every 3 steps; the run is cut after step 3 of epoch 1 (of 4 steps)."""
    _, ds = _train(tmp_path, "straight")
    ck = tmp_path / "cut/checkpoints/last.pt"
    # recreate the state "killed right after the step-3 checkpoint": run 3 steps only
    cfg = snnexp.compose([*FAST, "trainer.ckpt_every_steps=3", "trainer.epochs=2"])
    from snnexp.engine.trainer import Run

    run = Run(cfg, str(tmp_path / "cut"))
    run.steps_per_epoch = 3  # stop the epoch after the step-3 checkpoint, like a kill would
    run.train_one_epoch()
    run._save()
    c = load_checkpoint(ck)
    assert (c["epoch"], c["step_in_epoch"], c["step"]) == (0, 3, 3)
    resumed, dr = _train(tmp_path, "cut", "resume=auto", "trainer.ckpt_every_steps=3")
    for k, v in _weights(ds).items():
        assert torch.equal(v, _weights(dr)[k]), k


def test_existing_run_dir_is_never_overwritten(tmp_path):
    _, d = _train(tmp_path, "run", "trainer.epochs=1")
    before = (d / "checkpoints/last.pt").read_bytes()
    with pytest.raises(CheckpointError, match="already holds a run"):
        _train(tmp_path, "run", "trainer.epochs=1")
    assert (d / "checkpoints/last.pt").read_bytes() == before


def test_finished_run_resume_auto_does_nothing(tmp_path):
    _, d = _train(tmp_path, "run", "trainer.epochs=1")
    before = (d / "checkpoints/last.pt").stat().st_mtime_ns
    m, _ = _train(tmp_path, "run", "trainer.epochs=1", "resume=auto")
    assert m["epochs_done"] == 1 and (d / "checkpoints/last.pt").stat().st_mtime_ns == before


def test_atomic_save_leaves_old_checkpoint_on_failure(tmp_path):
    p = tmp_path / "c.pt"
    save_atomic({"model": {"w": torch.ones(2)}}, p)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save_atomic({"model": {"w": torch.zeros(2)}, "x": Boom()}, p)
    assert torch.equal(load_checkpoint(p)["model"]["w"], torch.ones(2))


class _Pickled:  # a class only its own code defines: loading it would run that code
    pass


def test_unreadable_checkpoint_is_one_line_error_saying_why(tmp_path):
    p = tmp_path / "bad.pt"
    p.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"cannot read checkpoint .*: not a PyTorch checkpoint \("):
        load_checkpoint(p)
    torch.save({"model": {"w": torch.zeros(1)}, "x": _Pickled()}, p)
    with pytest.raises(
        CheckpointError, match=r"pickled Python object \(test_engine._Pickled\).*weights_only=True"
    ) as e:
        load_checkpoint(p)
    assert "\n" not in str(e.value) and "weights_only=False" not in str(e.value)
    p.write_bytes(p.read_bytes()[:40])  # a copy cut short
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_checkpoint(p)


def test_checkpoint_without_config_is_one_line_error(tmp_path):
    """eval/fold/analyze rebuild the model from the checkpoint's own config: without one, say so."""
    from snnexp.inference import load_for_inference

    p = tmp_path / "bare.pt"
    save_atomic({"model": {"w": torch.zeros(2)}}, p)
    with pytest.raises(CheckpointError, match="holds no config"):
        load_for_inference(p, snnexp.compose(FAST), [], set())


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_kill_9_during_training_resumes_cleanly(tmp_path):
    """SIGKILL at an arbitrary moment (checkpoints are written every step), then resume=auto."""
    run_dir = tmp_path / "run"
    args = [
        *FAST,
        "trainer.epochs=4",
        "data.train_size=128",
        "trainer.ckpt_every_steps=1",
        f"hydra.run.dir={run_dir}",
    ]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    p = subprocess.Popen(
        [*SNNEXP, "train", *args], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while not (run_dir / "checkpoints/last.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # well inside training, checkpoint writes every step
    p.send_signal(signal.SIGKILL)
    p.wait()
    c = load_checkpoint(run_dir / "checkpoints/last.pt")  # never a torn file
    assert c["step"] >= 1
    r = subprocess.run(
        [*SNNEXP, "train", *args, "resume=auto"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["status"] == "finished" and m["epochs_done"] == 4
    assert [int(r["epoch"]) for r in csv.DictReader(open(run_dir / "summary.csv"))] == list(range(1, 5))
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))


def test_seed_makes_cpu_runs_bitwise_reproducible(tmp_path):
    _, a = _train(tmp_path, "a", "trainer.epochs=1")
    _, b = _train(tmp_path, "b", "trainer.epochs=1")
    _, c = _train(tmp_path, "c", "trainer.epochs=1", "seed=1")
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
