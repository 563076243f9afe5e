"""engine/lifecycle.py and engine/resume.py: a run's states, its start decision, stopping, and
what a crash, a full disk or another process may and may not do to a run directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest
import torch

import snnexp
from conftest import FAST
from snnexp.engine import checkpoint as ck
from snnexp.engine.trainer import Run
from snnexp.errors import CheckpointError, RunInterrupted
from snnexp.report.runs import RunRecord


def _train(tmp_path, name, *extra):
    return snnexp.train(snnexp.compose([*FAST, *extra]), run_dir=str(tmp_path / name)), tmp_path / name


def _weights(d):
    return ck.load_checkpoint(d / "checkpoints/last.pt")["model"]


def _same(a, b):
    diff = [k for k, v in a.items() if not torch.equal(v, b[k])]
    assert not diff, f"tensors that differ: {diff}"


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _killed_in_first_epoch(d, *extra):
    """What kill -9 in the first epoch leaves: config.yaml, metrics.json (started), the lock of
    a dead process and a half-written checkpoint of that process."""
    run = Run(snnexp.compose([*FAST, *extra]), str(d))
    run.lock.release()
    dead = _dead_pid()
    (d / ".lock").write_text(json.dumps({"pid": dead, "host": socket.gethostname()}))
    (d / "checkpoints").mkdir(exist_ok=True)
    (d / f"checkpoints/.last.pt.{dead}.tmp").write_bytes(b"partial")


def test_run_killed_before_its_first_checkpoint_is_crashed_and_restarts_from_scratch(tmp_path, capsys):
    _, straight = _train(tmp_path, "straight")
    cut = tmp_path / "cut"
    _killed_in_first_epoch(cut)
    assert RunRecord.load(cut).status == "crashed"
    with pytest.raises(CheckpointError, match="already holds a run; resume=auto continues it"):
        _train(tmp_path, "cut")  # without resume=auto: refused, as for any run
    m, _ = _train(tmp_path, "cut", "resume=auto")
    assert "stopped before its first checkpoint; starting it again from scratch" in capsys.readouterr().err
    assert m["status"] == "finished" and RunRecord.load(cut).status == "finished"
    assert not list((cut / "checkpoints").glob(".*.tmp")) and not (cut / ".lock").exists()
    _same(_weights(straight), _weights(cut))


def test_a_start_never_touches_a_live_process_files(tmp_path):
    """A resume=auto attempt against a live run is refused before it deletes anything."""
    d = tmp_path / "run"
    _train(tmp_path, "run", "trainer.stop_after_epochs=1")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (d / ".lock").write_text(json.dumps({"pid": live.pid, "host": socket.gethostname()}))
        tmp = d / f"checkpoints/.last.pt.{live.pid}.tmp"
        tmp.write_bytes(b"being written")
        with pytest.raises(CheckpointError, match=f"in use by pid {live.pid}"):
            _train(tmp_path, "run", "resume=auto")
        assert tmp.read_bytes() == b"being written"
        assert RunRecord.load(d).status == "stopped"
    finally:
        live.kill()
        live.wait()


def test_disk_full_at_the_first_checkpoint_says_there_is_none_and_leaves_no_tmp(tmp_path, monkeypatch):
    def full(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CheckpointError) as e:
        _train(tmp_path, "run")
    assert str(e.value).endswith("No space left on device (there is no earlier one)"), e.value
    assert "intact" not in str(e.value)
    assert sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir()) == []
    m = json.loads((tmp_path / "run/metrics.json").read_text())
    assert (m["status"], m["epochs_done"]) == ("failed", 0) and "No space left" in m["error"]
    assert not [p.name for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


def test_resume_with_more_epochs_is_refused_unless_it_equals_a_fresh_run_of_that_length(tmp_path):
    _train(tmp_path, "cos", "trainer.epochs=2")
    before = (tmp_path / "cos/config.yaml").read_text()
    with pytest.raises(CheckpointError, match=r"trainer.epochs=3 differs from 2 .*cosine schedule over 3"):
        _train(tmp_path, "cos", "trainer.epochs=3", "resume=auto")
    with pytest.raises(CheckpointError, match=r"has done 2 epochs, more than trainer.epochs=1"):
        _train(tmp_path, "cos", "trainer.epochs=1", "resume=auto")
    assert (tmp_path / "cos/config.yaml").read_text() == before
    # constant lr: the first epoch of a 1-epoch run is the first epoch of a 3-epoch run
    _, straight = _train(tmp_path, "straight", "sched=constant", "trainer.epochs=3")
    _train(tmp_path, "ext", "sched=constant", "trainer.epochs=1")
    m, ext = _train(tmp_path, "ext", "sched=constant", "trainer.epochs=3", "resume=auto")
    assert (m["status"], m["epochs_done"]) == ("finished", 3)
    _same(_weights(straight), _weights(ext))


def test_a_signal_stops_at_the_next_step_and_resume_ends_bitwise_equal(tmp_path, monkeypatch):
    """SIGTERM in the middle of epoch 1: the step under way ends, last.pt is written there, the
    run says stopped (by SIGTERM); resume=auto then ends as the uninterrupted run does."""
    _, straight = _train(tmp_path, "straight")
    real = Run.train_one_epoch
    sent = {}

    def term_at_step_2(self):
        step = self.method.train_step

        def step_and_signal(*a, **k):
            out = step(*a, **k)
            if self.step == 1 and not sent:  # during the 2nd step of epoch 1 (of 4)
                sent["at"] = self.step
                os.kill(os.getpid(), signal.SIGTERM)
            return out

        self.method.train_step = step_and_signal
        return real(self)

    monkeypatch.setattr(Run, "train_one_epoch", term_at_step_2)
    with pytest.raises(RunInterrupted, match="stopped by SIGTERM at epoch 1, step 2") as e:
        _train(tmp_path, "cut")
    assert e.value.exit_code == 128 + signal.SIGTERM
    monkeypatch.undo()
    cut = tmp_path / "cut"
    m = json.loads((cut / "metrics.json").read_text())
    assert (m["status"], m["stopped_by"], m["epochs_done"]) == ("stopped", "SIGTERM", 0)
    c = ck.load_checkpoint(cut / "checkpoints/last.pt")
    assert (c["epoch"], c["step_in_epoch"]) == (0, 2)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handlers before fit() are back
    m, _ = _train(tmp_path, "cut", "resume=auto")
    assert m["status"] == "finished"
    _same(_weights(straight), _weights(cut))


def test_metrics_json_is_strict_json_and_says_started_then_stopped(tmp_path):
    d = tmp_path / "run"
    run = Run(snnexp.compose([*FAST, "trainer.eval_every=2", "trainer.epochs=3"]), str(d))
    assert json.loads((d / "metrics.json").read_text())["status"] == "started"
    run.cfg.trainer.stop_after_epochs = 1
    run.fit()
    text = (d / "metrics.json").read_text()
    m = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in metrics.json"))
    assert (m["status"], m["stopped_by"], m["last_acc1"]) == ("stopped", "stop_after_epochs", None)
