"""The cluster path on one CPU machine: a sweep through submitit (the code path of launcher=slurm),
a scheduler's stop signal with checkpoint and requeue, and DDP from srun's environment."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

import snnexp
from conftest import FAST, SNNEXP, run_cli
from snnexp.engine.checkpoint import load_checkpoint
from snnexp.engine.distributed import first_host

# 32 steps per epoch: a signal sent after the first checkpoint lands well inside the run
LONG = [*FAST, "data.train_size=512", "threads=1"]


def _env(**extra: str) -> dict[str, str]:
    drop = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "HYDRA_FULL_ERROR")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("SLURM_")}
    return env | {"WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", **extra}


def _signal_after_first_checkpoint(p: subprocess.Popen, run_dir: Path, sig: int) -> None:
    """Send ``sig`` to the process that trains in ``run_dir`` (its lock names it) once the first
    checkpoint exists, i.e. while the loop runs (the handler is installed)."""
    deadline = time.time() + 240
    while not (run_dir / "checkpoints" / "last.pt").exists():
        assert p.poll() is None and time.time() < deadline, "the run ended before its first checkpoint"
        time.sleep(0.01)
    os.kill(json.loads((run_dir / ".lock").read_text())["pid"], sig)


def _same_run(a: Path, b: Path) -> None:
    wa, wb = (load_checkpoint(d / "checkpoints/last.pt")["model"] for d in (a, b))
    for k, v in wa.items():
        assert torch.equal(v, wb[k]), k
    rows = [[r[:-1] for r in csv.reader(open(d / "summary.csv"))] for d in (a, b)]  # all but the time
    assert rows[0] == rows[1], rows


@pytest.mark.parametrize(
    "nodes, host",
    [("gpu[07-09,12],cpu1", "gpu07"), ("node1", "node1"), ("a[1-2]-ib", "a1-ib"), ("n[001]", "n001")],
)
def test_first_host_of_a_slurm_node_list(nodes, host):
    assert first_host(nodes) == host


def test_submitit_sweep_is_preempted_requeued_and_read_by_report(tmp_path):
    """Two jobs through submitit's local executor; job 1 gets submitit's preemption signal
    (SIGUSR2, what the executor sends before a time limit) after its first checkpoint. It stops at
    the next step with a checkpoint, submitit requeues it with resume=auto, and it ends with the
    same weights as job 2, which was never stopped (ckpt_every_steps changes no number)."""
    sweep = tmp_path / "sweep"
    p = subprocess.Popen(
        [*SNNEXP, "train", "-m", "launcher=submitit_local", *LONG]
        + ["trainer.ckpt_every_steps=1,1000", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stopped, straight = sweep / "trainer.ckpt_every_steps=1", sweep / "trainer.ckpt_every_steps=1000"
    try:
        _signal_after_first_checkpoint(p, stopped, signal.SIGUSR2)
        out = p.communicate(timeout=300)[0]
    finally:
        p.kill()
    assert p.returncode == 0, out[-3000:]
    log = "".join(f.read_text() for f in sweep.glob(".submitit/*/*_0_log.err"))
    assert "checkpoint at the end of this step" in log and "resumed from" in log, log[-3000:]
    _same_run(stopped, straight)
    for d in (stopped, straight):
        assert json.loads((d / "metrics.json").read_text())["status"] == "finished"
    report = run_cli("report", str(sweep), cwd=tmp_path, check=True).stdout
    assert "| 2 |" in report and "finished" in report, report  # both jobs, one row (no axis differs)
    runs = run_cli("runs", str(sweep), cwd=tmp_path, check=True).stdout
    assert runs.count("finished") == 2 and "ckpt_every_steps=1 " in runs, runs


def test_bare_slurm_job_warned_by_usr1_checkpoints_requeues_and_resumes(tmp_path):
    """A job of one's own sbatch script (--signal=USR1@<s>, no submitit): the warning signal
    stops it at a step boundary with a checkpoint and status "stopped", it asks SLURM to requeue
    it (scontrol, faked here) and ends by the signal; the requeued command (resume=auto) ends
    bitwise-equal to a run that was never stopped."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "scontrol.calls"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (bin_dir / "scontrol").chmod(0o755)
    env = _env(SLURM_JOB_ID="4242", PATH=f"{bin_dir}:{os.environ['PATH']}")
    run = tmp_path / "job"
    args = [*SNNEXP, "train", *LONG, "trainer.ckpt_every_steps=1", f"hydra.run.dir={run}"]
    pipe = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    p = subprocess.Popen(args, cwd=tmp_path, env=env, **pipe)
    try:
        _signal_after_first_checkpoint(p, run, signal.SIGUSR1)
        out = p.communicate(timeout=300)[0]
    finally:
        p.kill()
    assert p.returncode == -signal.SIGUSR1, out[-3000:]
    assert "stopped by SIGUSR1 at epoch 1" in out, out[-3000:]
    assert json.loads((run / "metrics.json").read_text())["status"] == "stopped"
    assert calls.read_text().split() == ["requeue", "4242"]
    assert not (run / ".lock").exists()  # released before the signal ended the process
    r = subprocess.run([*args, "resume=auto"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    snnexp.train(snnexp.compose([*LONG, "trainer.ckpt_every_steps=1"]), run_dir=str(tmp_path / "straight"))
    _same_run(run, tmp_path / "straight")


def test_job_killed_before_its_first_checkpoint_starts_again_under_requeue(tmp_path):
    """A job killed (SIGKILL after KillWait, or a node failure) after it wrote its config but
    before any checkpoint: the requeued job (resume=auto) trains from scratch."""
    first = tmp_path / "killed"
    first.mkdir()
    (first / "config.yaml").write_text(OmegaConf.to_yaml(snnexp.compose(FAST), resolve=True))
    (first / ".lock").write_text(json.dumps({"pid": 2**22 + 1, "host": socket.gethostname()}))
    again = snnexp.train(snnexp.compose([*FAST, "resume=auto"]), run_dir=str(first))
    snnexp.train(snnexp.compose(FAST), run_dir=str(tmp_path / "straight"))
    assert again["status"] == "finished"
    _same_run(first, tmp_path / "straight")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_from_srun_environment_with_accumulation_matches_one_process(tmp_path):
    """Two tasks as srun starts them (SLURM_PROCID/LOCALID/NTASKS/NODELIST/JOB_ID; no MASTER_*,
    no torchrun) find each other on gloo, each accumulates its 8 samples as 2 micro-batches
    (gradients synced once per step) and train as one process with the whole batch of 16.
    Tolerance: the gradient is summed in another order (micro-batches, then ranks), ~1e-7
    relative per element; 4 Adam steps keep the weights within ~1e-8 (bound: 1e-6)."""
    common = [*FAST, "trainer.epochs=1", "norm=none", "threads=1"]
    single = tmp_path / "single"
    snnexp.train(snnexp.compose(common), run_dir=str(single))
    port = _free_port()
    job = str(port - 10_000) if 10_000 < port < 60_000 else None  # the port snnexp derives from the job id
    ddp = tmp_path / "ddp"
    srun = {"SLURM_NTASKS": "2", "SLURM_NODELIST": "localhost", "SLURM_JOB_NODELIST": "localhost"}
    srun |= {"SLURM_JOB_ID": job} if job else {"MASTER_PORT": str(port)}
    tasks = [
        subprocess.Popen(
            [*SNNEXP, "train", *common, "trainer.accumulate=2", f"hydra.run.dir={ddp}"],
            cwd=tmp_path,
            env=_env(**srun, SLURM_PROCID=str(r), SLURM_LOCALID=str(r)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in range(2)
    ]
    outs = [t.communicate(timeout=300)[0] for t in tasks]
    assert [t.returncode for t in tasks] == [0, 0], outs[0][-2000:] + outs[1][-2000:]
    m = json.loads((ddp / "metrics.json").read_text())
    assert m["world_size"] == 2 and m["status"] == "finished"
    ws, wd = load_checkpoint(single / "checkpoints/last.pt"), load_checkpoint(ddp / "checkpoints/last.pt")
    assert ws["step"] == wd["step"] == 4
    for k, v in ws["model"].items():
        diff = (v.float() - wd["model"][k].float()).abs().max().item()
        assert diff < 1e-6, f"{k}: max |single - ddp| = {diff:.3g}"
    assert m["last_acc1"] == json.loads((single / "metrics.json").read_text())["last_acc1"]
