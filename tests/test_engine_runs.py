"""The engine's runs: exact resume, divergence, best epoch, locks, lost runs, sweep job dirs, W&B summary."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf

import snnexp
from conftest import FAST, run_cli
from snnexp.engine.checkpoint import load_checkpoint
from snnexp.engine.trainer import Run
from snnexp.errors import CheckpointError, TrainingDiverged


def _train(tmp_path, name, *extra):
    cfg = snnexp.compose([*FAST, *extra])
    return snnexp.train(cfg, run_dir=str(tmp_path / name)), tmp_path / name


def _rows(d):
    return [r[:-1] for r in csv.reader(open(d / "summary.csv"))]  # minus epoch_time_s


def _cut_after_3_steps(tmp_path, *extra):
    """The state a kill right after the step-3 checkpoint of epoch 1 (of 4 steps) leaves."""
    run = Run(snnexp.compose([*FAST, "trainer.ckpt_every_steps=3", *extra]), str(tmp_path / "cut"))
    run.steps_per_epoch = 3
    run.train_one_epoch()
    run._save()
    run.lock.release()
    c = load_checkpoint(tmp_path / "cut/checkpoints/last.pt")
    assert (c["epoch"], c["step_in_epoch"]) == (0, 3)


@pytest.mark.parametrize("encoder", ["direct", "poisson"])
def test_mid_epoch_resume_is_exact_in_weights_and_epoch_numbers(tmp_path, encoder):
    """The resumed epoch's train loss/accuracy cover the whole epoch (partial sums in the
    checkpoint); Poisson spikes continue the same stream (the loader no longer draws from the
    global generator when its iterator is made)."""
    _, ds = _train(tmp_path, "straight", f"encoder={encoder}")
    _cut_after_3_steps(tmp_path, f"encoder={encoder}")
    _, dr = _train(tmp_path, "cut", "resume=auto", "trainer.ckpt_every_steps=3", f"encoder={encoder}")
    a, b = (
        load_checkpoint(ds / "checkpoints/last.pt")["model"],
        load_checkpoint(dr / "checkpoints/last.pt")["model"],
    )
    assert all(torch.equal(v, b[k]) for k, v in a.items())
    assert _rows(ds) == _rows(dr)


def test_threads_are_set_and_recorded(tmp_path):
    m, d = _train(tmp_path, "run", "trainer.epochs=1", "threads=2")
    assert m["threads"] == 2 and json.loads((d / "metrics.json").read_text())["threads"] == 2
    assert torch.get_num_threads() == 2


def test_wall_time_adds_up_across_resumes_and_stopped_status(tmp_path):
    first, d = _train(tmp_path, "run", "trainer.stop_after_epochs=1")
    assert first["status"] == "stopped"
    second, _ = _train(tmp_path, "run", "resume=auto")
    assert second["status"] == "finished" and second["wall_time_s"] > first["wall_time_s"]


def test_non_finite_weights_or_bn_stats_are_a_divergence(tmp_path, monkeypatch):
    """The loss can stay finite while a BN running variance overflows (huge lr): such an epoch is
    a divergence, never saved or reported as finished."""
    real = Run.train_one_epoch

    def poisoned(self):
        out = real(self)
        bn = next(m for m in self.model.modules() if hasattr(m, "running_var"))
        bn.running_var.fill_(float("inf"))
        return out

    monkeypatch.setattr(Run, "train_one_epoch", poisoned)
    with pytest.raises(TrainingDiverged, match=r"running_var holds inf/NaN after epoch 1"):
        _train(tmp_path, "run")
    assert not (tmp_path / "run/checkpoints/last.pt").exists()
    m = json.loads((tmp_path / "run/metrics.json").read_text())
    assert (m["status"], m["epochs_done"]) == ("failed", 0), m
    assert "running_var holds inf/NaN" in m["error"]


def test_resume_with_a_new_lr_is_refused_not_ignored(tmp_path):
    _train(tmp_path, "run", "trainer.stop_after_epochs=1")
    before = (tmp_path / "run/config.yaml").read_text()
    with pytest.raises(
        CheckpointError, match=r"resume: optim.lr=0.5 differs from 0.003 in .*start a new run"
    ):
        _train(tmp_path, "run", "resume=auto", "optim.lr=0.5")
    assert (tmp_path / "run/config.yaml").read_text() == before
    m, _ = _train(tmp_path, "run", "resume=auto", "trainer.progress=false")  # runtime keys may change
    assert m["epochs_done"] == 2


def test_best_pt_and_metrics_agree_on_ties(tmp_path, monkeypatch):
    monkeypatch.setattr(
        Run, "evaluate", lambda self, loader=None: {"loss": 1.0, "acc1": 50.0, "acc5": 90.0, "n": 32}
    )
    m, d = _train(tmp_path, "run", "trainer.epochs=3")
    assert m["best_epoch"] == 1 and m["best_acc5"] == 90.0
    assert load_checkpoint(d / "checkpoints/best.pt")["epoch"] == 1


def test_disk_full_while_checkpointing_is_one_line_and_keeps_files_consistent(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = torch.save

    def full(obj, f, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            f.write(b"partial")
            raise OSError(28, "No space left on device")
        return real(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CheckpointError, match="cannot write checkpoint .*last.pt: No space left on device"):
        _train(tmp_path, "run")
    ck = tmp_path / "run/checkpoints"
    assert sorted(p.name for p in ck.iterdir()) == ["best.pt", "last.pt"]  # no temp file left
    assert json.loads((tmp_path / "run/metrics.json").read_text())["epochs_done"] == 1
    assert load_checkpoint(ck / "last.pt")["epoch"] == 1


# ----------------------------------------------------------------------------- the run directory
def _mtimes(d):
    return {p: p.stat().st_mtime_ns for p in d.rglob("*") if p.is_file()}


def test_finished_run_without_checkpoints_is_never_retrained(tmp_path):
    _, d = _train(tmp_path, "run", "trainer.epochs=1")
    for p in (d / "checkpoints").iterdir():
        p.unlink()
    before = _mtimes(d)
    with pytest.raises(CheckpointError, match="holds a run but no checkpoints/last.pt"):
        _train(tmp_path, "run", "trainer.epochs=1", "resume=auto")
    assert _mtimes(d) == before


def test_resume_auto_on_a_finished_run_rewrites_nothing(tmp_path):
    _, d = _train(tmp_path, "run", "trainer.epochs=1")
    before = _mtimes(d)
    m, _ = _train(tmp_path, "run", "trainer.epochs=1", "resume=auto")
    assert m["status"] == "finished" and _mtimes(d) == before


def test_lock_names_its_holder_and_a_dead_holder_does_not_block(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / ".lock").write_text(json.dumps({"pid": 1, "host": socket.gethostname()}))  # alive
    with pytest.raises(CheckpointError, match=r"in use by pid 1 on .*lock file"):
        _train(tmp_path, "run", "trainer.epochs=1")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (d / ".lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    m, _ = _train(tmp_path, "run", "trainer.epochs=1")
    assert m["status"] == "finished" and not (d / ".lock").exists()


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_cli_refused_start_touches_nothing_and_failed_start_leaves_no_stub(tmp_path):
    run = tmp_path / "run"
    args = [*FAST, "trainer.epochs=1", f"hydra.run.dir={run}"]
    assert run_cli("train", *args, cwd=tmp_path).returncode == 0
    before = _mtimes(run)
    p = run_cli("train", *args, cwd=tmp_path)  # no resume: refused before Hydra writes .hydra/
    assert p.returncode == 2 and "already holds a run" in p.stderr and _mtimes(run) == before
    p = run_cli("train", *args, "resume=auto", cwd=tmp_path)  # finished: nothing to do
    assert p.returncode == 0 and "already finished" in p.stderr and _mtimes(run) == before
    # a resume with a changed lr or a bad checkpoint is refused before Hydra rewrites .hydra/
    p = run_cli("train", *args, "resume=auto", "trainer.epochs=2", "optim.lr=0.5", cwd=tmp_path)
    assert p.returncode == 2 and "optim.lr=0.5 differs" in p.stderr and _mtimes(run) == before
    (run / "checkpoints/last.pt").write_bytes(b"garbage")
    before = _mtimes(run)
    p = run_cli("train", *args, "resume=auto", "trainer.epochs=2", cwd=tmp_path)
    assert p.returncode == 2 and "cannot read checkpoint" in p.stderr and _mtimes(run) == before
    # a data error inside the job: no run directory is left behind
    p = run_cli(
        "train",
        "data=cifar10",
        f"data.root={tmp_path}/none",
        "logger=none",
        f"hydra.run.dir={tmp_path}/x",
        cwd=tmp_path,
    )
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    assert not (tmp_path / "x").exists()
    assert os.listdir(tmp_path) == ["run"] or sorted(os.listdir(tmp_path)) == ["run"]


# ----------------------------------------------------------------------------- eval of a checkpoint
@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_eval_refuses_structural_overrides_and_never_overwrites(tmp_path):
    from snnexp.config import compose
    from snnexp.inference import load_for_inference

    _, d = _train(tmp_path, "run", "trainer.epochs=1")
    ckpt = str(d / "checkpoints/last.pt")
    for bad in (["block=plain"], ["neuron=lif"], ["norm=none"], ["model.width=16"], ["data=digits"]):
        cfg = compose([f"ckpt={ckpt}", *FAST, *bad], "eval")
        with pytest.raises(CheckpointError, match=rf"{bad[0]} contradicts .* only runtime keys"):
            load_for_inference(ckpt, cfg, bad, {"ckpt", "split", "out"})
    ok = [
        "T=1",
        "split=train",
        "trainer.batch_size=8",
        "trainer.eval_batch_size=4",
        "device=cpu",
        f"data.root={tmp_path}",
        "block=sew_add",
    ]  # block=sew_add is what it was trained with
    cfg = compose([f"ckpt={ckpt}", *FAST, *ok], "eval")
    _, run_cfg, _ = load_for_inference(ckpt, cfg, ok, {"ckpt", "split", "out"})
    assert run_cfg.T == 1 and run_cfg.trainer.eval_batch_size == 4

    p = run_cli("eval", f"ckpt={ckpt}", "split=val", cwd=tmp_path)
    assert (
        p.returncode == 2
        and p.stderr.strip() == "snnexp: error: split='val' is not allowed; allowed: test, train"
    )
    p = run_cli("eval", f"ckpt={ckpt}", "block=plain", cwd=tmp_path)
    assert p.returncode == 2 and "block=plain contradicts" in p.stderr and p.stderr.count("\n") == 1
    for _ in range(2):
        assert run_cli("eval", f"ckpt={ckpt}", cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in (d / "eval").iterdir()) == ["test_T2.json", "test_T2_2.json"]
    p = run_cli("eval", f"ckpt={ckpt}", f"out={d}/eval/test_T2.json", cwd=tmp_path)
    assert p.returncode == 2 and "already exists" in p.stderr
    p = run_cli("eval", f"ckpt={ckpt}", f"out={d}/metrics.json/x.json", cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_failing_joblib_job_does_not_kill_the_healthy_one(tmp_path):
    sweep = tmp_path / "sweep"
    p = run_cli(
        "train", "-m", *FAST, "trainer.epochs=1", "trainer.batch_size=1000,16", "launcher=joblib",
        f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == 2 and "snnexp: error: trainer.batch_size=1000 is larger" in p.stderr
    assert "Traceback" not in p.stderr
    assert json.loads((sweep / "trainer.batch_size=16/metrics.json").read_text())["status"] == "finished"
    assert not (sweep / "trainer.batch_size=1000").exists()  # the failed start left no stub


def test_wandb_online_without_network_falls_back_fast(monkeypatch):
    import time

    from snnexp.loggers import _reachable

    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    t = time.time()
    assert not _reachable() and time.time() - t < 5


def test_python_load_and_evaluate(tmp_path):
    m, d = _train(tmp_path, "run", "trainer.epochs=1")
    model, cfg = snnexp.load(str(d / "checkpoints/last.pt"))
    assert not model.training and cfg.model.name == "sew_mini"
    assert snnexp.evaluate(model, cfg)["acc1"] == m["last_acc1"]
    _, cfg1 = snnexp.load(str(d / "checkpoints/last.pt"), ["T=1"])
    assert cfg1.T == 1
    with pytest.raises(CheckpointError, match="block=plain contradicts"):
        snnexp.load(str(d / "checkpoints/last.pt"), ["block=plain"])


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_sweep_job_dirs_say_what_varies_and_logs_hold_console_lines(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["trainer.epochs=1", "seed=0,1", "trainer.progress=true", "logger.log_every=2", "launcher=joblib"]
    p = run_cli("train", "-m", *FAST, *args, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert sorted(d.name for d in sweep.iterdir() if d.is_dir()) == ["seed=0", "seed=1"]
    log = (sweep / "seed=1/snnexp.log").read_text().splitlines()
    # plain progress lines off a terminal
    assert any(ln.startswith("[seed=1] epoch 1/1  step 2/4  loss ") for ln in log)
    assert any(ln.startswith("[seed=1] done: best test acc1") for ln in log) and "\r" not in "".join(log)


def test_cli_divergence_is_one_line_exit_2_logged_and_keeps_the_last_good_checkpoint(tmp_path):
    """A resumed run whose weights turn NaN (here: a checkpoint poisoned by hand) stops at the first
    step with one line and exit 2; the run's log ends with that line; last.pt is not replaced."""
    run = tmp_path / "run"
    args = [*FAST, f"hydra.run.dir={run}", "logger=csv", "sched=constant"]  # constant: 1 -> 2 epochs is exact
    run_cli("train", *args, "trainer.epochs=1", cwd=tmp_path, check=True)
    ckpt = torch.load(run / "checkpoints/last.pt", weights_only=True)
    name = next(k for k, v in ckpt["model"].items() if v.is_floating_point() and k.endswith("weight"))
    ckpt["model"][name].fill_(float("nan"))
    torch.save(ckpt, run / "checkpoints/last.pt")
    poisoned = (run / "checkpoints/last.pt").read_bytes()
    p = run_cli("train", *args, "trainer.epochs=2", "resume=auto", cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    (line,) = [x for x in p.stderr.splitlines() if x.startswith("snnexp: error:")]
    assert "nan" in line.lower() and "epoch 2" in line, line
    assert (run / "snnexp.log").read_text().rstrip().splitlines()[-1] == line
    assert (run / "checkpoints/last.pt").read_bytes() == poisoned
    assert json.loads((run / "metrics.json").read_text())["epochs_done"] == 1


class _FakeWandbRun:
    def __init__(self, **kw):
        self.kw, self.summary, self.logged, self.finished = kw, {}, [], False

    def log(self, metrics, step=None):  # figures are logged without a step
        self.logged.append((step, dict(metrics)))

    def finish(self):
        self.finished = True


def test_wandb_gets_the_metrics_json_summary_the_config_and_one_run_id_across_resume(tmp_path, monkeypatch):
    """What W&B receives (a stand-in module records it): the summary equals metrics.json, steps only
    grow, the resolved config is attached, and a resumed run continues the same W&B run id."""
    import types

    runs = []

    def init(**kw):
        runs.append(_FakeWandbRun(**kw))
        return runs[-1]

    fake = types.SimpleNamespace(init=init, Settings=lambda **kw: kw, Image=lambda path: path)
    monkeypatch.setitem(sys.modules, "wandb", fake)
    args = ["logger=wandb", "logger.mode=offline", "trainer.epochs=2"]
    _train(tmp_path, "run", *args, "trainer.stop_after_epochs=1")
    m, run = _train(tmp_path, "run", *args, "resume=auto")
    first, second = runs
    assert first.kw["id"] == second.kw["id"] and second.kw["resume"] == "allow"
    assert first.finished and second.finished
    cfg = snnexp.compose([*FAST, *args])
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert {k: second.kw["config"][k] for k in ("model", "optim", "neuron", "T", "seed")} == {
        k: resolved[k] for k in ("model", "optim", "neuron", "T", "seed")
    }
    for key in (
        "best_acc1",
        "best_epoch",
        "params",
        "status",
        "epochs_done",
    ):  # not only the last epoch
        assert second.summary[key] == m[key], key
    assert m["status"] == "finished"
    steps = [s for s, _ in first.logged + second.logged if s is not None]  # figures: no step
    assert steps == sorted(steps)  # W&B drops rows logged at a step lower than one it has seen
    epochs = [row for _, row in first.logged + second.logged if "epoch/test_acc1" in row]
    assert [r["epoch/epoch"] for r in epochs] == [1, 2] and epochs[-1]["epoch/test_acc1"] == m["last_acc1"]
