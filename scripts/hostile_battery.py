"""A hostile user's battery: bad values for config keys and command arguments, missing
and corrupt inputs, bad configs stored in checkpoints, bad searches. Every case must end with exit
status 2, exactly one stderr line starting with ``snnexp: error:``, no traceback, and no run
directory left behind. FULL_ERROR_CASES: the same with HYDRA_FULL_ERROR=1 (a traceback, then the
same line and exit 2); SWEEP_CASES: one bad job of a sweep fails with one line and leaves no
directory while the others run; SAID_CASES: a key this machine cannot honour is said on stderr and
the run's files record the value it used (exit 0).

    python scripts/hostile_battery.py [--jobs 2] [--only SUBSTRING]

Prints one row per case and a summary; exits 1 if any case fails. Runs in a scratch directory.
"""

from __future__ import annotations

import argparse
import fractions
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FAST = ["debug=fast", "logger=none"]

# (command line after `snnexp`, a fragment the error line must contain)
CASES: list[tuple[list[str], str]] = [
    # unknown names, with "did you mean"
    (["trian"], "unknown command"),
    (["train", "model=sew_resnet5"], "sew_resnet50"),
    (["train", "neuron=lfi"], "lif"),
    (["train", "block=sew_addd"], "sew_add"),
    (["train", "method=dsrr"], "dsr"),
    (["train", "surrogate=atann"], "atan"),
    (["train", "norm=tdbnn"], "tdbn"),
    (["train", "data=cifar"], "cifar10"),
    (["train", "experiment=keys/table99"], "experiment"),
    (["train", "+trainer.epoch=3"], "trainer.epoch"),
    (["train", "trainer.epoch=3"], "trainer.epoch"),
    (["train", "~seed"], "seed"),
    # out-of-range and mistyped values
    (["train", "T=0"], "T=0"),
    (["train", "T=100000000000"], "T="),
    (["train", "T=abc"], "T"),
    (["train", "seed=-1"], "seed"),
    (["train", "threads=0"], "threads"),
    (["train", "threads=two"], "threads"),
    (["train", "device=tpu"], "device"),
    (["train", "trainer.epochs=0"], "trainer.epochs"),
    (["train", "trainer.batch_size=0"], "trainer.batch_size"),
    (["train", "trainer.clip_grad=-1"], "trainer.clip_grad"),
    (["train", "trainer.max_steps_per_epoch=-1"], "max_steps_per_epoch"),
    (["train", "trainer.stop_after_epochs=-1"], "stop_after_epochs"),
    (["train", "trainer.accumulate=0"], "trainer.accumulate"),
    (["estimate", "-m", "T=abc"], "T"),
    (["estimate", "model=nope"], "model"),
    (["train", "trainer.accumulate=two"], "accumulate"),
    (["train", "debug=fast", "trainer.accumulate=64"], "trainer.accumulate=64"),
    (["train", "trainer.amp_dtype=fp8"], "amp_dtype"),
    (["train", "trainer.memopt=zip"], "memopt"),
    (["train", "trainer.flexsn=maybe"], "trainer.flexsn"),
    (["train", "trainer.compile_scope=layers"], "compile_scope"),
    (["train", "trainer.label_smoothing=1.5"], "label_smoothing"),
    (["train", "optim.lr=-0.1"], "optim.lr"),
    (["train", "optim.betas=[2,3]"], "betas"),
    (["train", "optim=sgd", "optim.momentum=1.5"], "momentum"),
    (["train", "sched=multistep", "sched.milestones=[abc]"], "milestones"),
    (["train", "sched.gamma=2"], "sched.gamma"),
    (["train", "data.test_fraction=2"], "test_fraction"),
    (["train", "neuron=lif", "neuron.tau=0.5"], "tau"),
    (["train", "neuron.v_threshold=-1"], "v_threshold"),
    (["train", "method=dsr", "method.formulation=fast"], "formulation"),
    (["train", "method=dsr", "neuron=dsr_if", "method.calibrate_thresholds=maybe"], "calibrate_thresholds"),
    (["train", "method=dsr", "neuron=dsr_if", "method.threshold_percentile=0"], "threshold_percentile"),
    (
        ["train", "method=dsr", "neuron=dsr_if", "method.formulation=flat", "method.record_chunk=-1"],
        "record_chunk",
    ),
    (["train", "method=dsr", "neuron=dsr_if", "method.record_chunk=4"], "record_chunk=4 streams"),
    (["train", "method=dsr", *FAST], "neuron=dsr_if"),
    (["train", "init.reinit=loose"], "init.reinit"),
    # the switches between a paper and its authors' code
    (["train", "sched=multistep", "sched.milestone_epoch=later"], "milestone_epoch"),
    (["train", *FAST, "sched=cosine", "sched.milestone_epoch=after"], "milestone_epoch=after only"),
    (["train", *FAST, "neuron=keys_lif", "neuron.fire=geq"], "neuron.fire"),
    (["train", *FAST, "method=dsr", "neuron=dsr_lif", "neuron.dsr_backward=bptt"], "dsr_backward"),
    (
        ["train", *FAST, "method=dsr", "neuron=dsr_lif"]
        + ["neuron.dsr_backward=authors", "method.formulation=flat"],
        "dsr_backward=authors",
    ),
    (["train", *FAST, "method=dsr", "neuron=dsr_if", "method.calibration=test"], "method.calibration"),
    (["train", *FAST, "method=dsr", "neuron=dsr_if", "method.calibration_images=0"], "calibration_images"),
    (["train", *FAST, "model=preact_resnet20", "model.dropout_mask=never"], "dropout_mask"),
    (["train", "logger=none", "model=tdbn_resnet19", "data=synthetic", "model.pool=0"], "model.pool=0"),
    (["train", "data=cifar10", "data.normalize_stats=imagenet"], "normalize_stats"),
    (["train", "logger=wandb", "logger.mode=sometimes"], "logger.mode"),
    (["train", "launcher=slurm", "-m", "seed=0,1"], "SLURM"),
    # missing or corrupt inputs
    (["train", "data=cifar10", "data.root=/nonexistent/cifar"], "cifar10 not found"),
    (["train", "data=imagenet", "data.root=/nonexistent/in"], "/nonexistent/in"),
    (["train", "data=dvs_gesture", "T=16", "data.root=/nonexistent/g"], "/nonexistent/g"),
    (["train", "data=dvs_gesture", "data.root=/nonexistent/g"], "data.T_train=12"),
    (["train", "resume=/nonexistent.pt", *FAST], "no such checkpoint file"),
    (["train", "init.from=/nonexistent.pt", *FAST], "does not exist"),
    (["train", "init.from=@GARBAGE@", *FAST], "not a PyTorch checkpoint"),
    (["train", "init.from=@PICKLED@", *FAST], "pickled Python object"),
    (["train", "init.from=@TRUNCATED@", *FAST], "truncated or corrupted"),
    (["train", "hydra.run.dir=@FILE@/run", *FAST], ""),
    (["train", "trainer.batch_size=100000", *FAST], "larger than the training set"),
    (["eval"], "ckpt"),
    (["eval", "ckpt=/nonexistent.pt"], "does not exist"),
    (["eval", "ckpt=@GARBAGE@"], "not a PyTorch checkpoint"),
    (["eval", "ckpt=@PICKLED@"], "pickled Python object"),
    (["eval", "ckpt=@RUN@", "split=val"], "split"),
    (["eval", "ckpt=@RUN@", "block=plain"], "block"),
    (["eval", "ckpt=@RUN@", "T=0"], "T=0"),
    (["fold", "ckpt=@GARBAGE@"], "not a PyTorch checkpoint"),
    (["eval", "ckpt=@RUN@", "format=onnx"], "format='onnx'"),
    (["eval", "ckpt=@GARBAGE@", "format=sew_authors", "model=sew_resnet18"], "not a PyTorch checkpoint"),
    (["train", "init.from=@RUN@", "init.format=bogus", *FAST], "init.format"),
    (["export", "ckpt=@RUN@", "format=onnx", "out=x.nir"], "format='onnx'"),
    (["export", "ckpt=@RUN@"], "out"),
    (["export", "ckpt=@RUN@", "out=@FILE@"], "already exists"),
    (["export", "ckpt=@GARBAGE@", "out=new.nir"], "not a PyTorch checkpoint"),
    (["export", "ckpt=@RUN@", "out=/nonexistent/dir/m.nir"], "does not exist"),
    (["summary", "model=nope"], "model"),
    (["analyze", "nothing"], "what='nothing'"),
    (["analyze", "firing", "ckpt=@GARBAGE@"], "not a PyTorch checkpoint"),
    (["analyze", "activity", "compare_ckpts=[@GARBAGE@]"], "not a PyTorch checkpoint"),
    (["analyze", "activity", "ckpt=@RUN@", "compare_ckpts=[@RUN@]"], "not both"),
    (["analyze", "firing", "compare_ckpts=[@RUN@]"], "compare_ckpts is for `analyze activity`"),
    (["report", "/nonexistent/dir"], "/nonexistent/dir"),
    (["report"], "required"),
    (["runs", "--bogus"], "--bogus"),
    (["runs", "--where", "neuron"], "--where"),
    (["runs", "--since", "yesterday"], "YYYY-MM-DD"),
    (["runs", "@RUNDIR@", "--sort", "bogus"], "--sort bogus"),
    (["runs", "--compare", "/nonexistent/a", "/nonexistent/b"], "/nonexistent/a"),
    (["report", "@RUNDIR@", "--plots-format", "jpg"], "--plots-format"),
    (["claims", "sew/and_silent", "--plots-format", "gif"], "--plots-format"),
    (["train", "plots.format=png,jpg"], "plots.format"),
    (["train", "logger=none", "logger.log_checkpoints=true"], "log_checkpoints"),
    (["list", "nogroup"], "nogroup"),
    (["list", "--config-dir", "/nope"], "/nope"),
    (["list", "--markdown", "--config-dir", "@DIR@"], "--markdown prints the table of this project's conf/"),
    (["claims", "nope"], "no claim"),
    (["claims", "--jobs", "0"], "--jobs"),
    (["claims", "sew/and_silent", "--out", "@FILE@"], "a file is in the way"),
    (["tune", "search=nope"], "search"),
    (["train", "--cfg", "job", "model=unknownmodel"], "unknownmodel"),
    (["--cfg", "job"], "unknown command"),
    (["train", "surrogate=rect", "surrogate.a=0"], "a must be > 0"),
    (["train", "surrogate=triangle", "surrogate.width=-1"], "width must be > 0"),
    (["train", "surrogate.alpha=-2"], "alpha must be > 0"),
    # nothing overwritten, nothing touched: a run's own files, a live run, a corrupt checkpoint
    (["fold", "ckpt=@RUN@", "out=@RUN@"], "already exists; nothing was written"),
    (["fold", "ckpt=@RUN@", "out=@RUNDIR@/metrics.json"], "already exists; nothing was written"),
    (["fold", "ckpt=@RUN@", "out=@FILE@"], "already exists; nothing was written"),
    (["eval", "ckpt=@NAN@"], "holds inf/NaN"),
    (["fold", "ckpt=@NAN@"], "holds inf/NaN"),
    (["analyze", "firing", "ckpt=@NAN@"], "holds inf/NaN"),
    (["train", *FAST, "hydra.run.dir=@RUNDIR@"], "already holds a run"),
    (["train", *FAST, "hydra.run.dir=@RUNDIR@", "resume=auto", "trainer.epochs=3"], "epochs=3 differs"),
    (["train", *FAST, "hydra.run.dir=@RUNDIR@", "resume=auto", "optim.lr=0.5"], "optim.lr=0.5 differs"),
    (["train", *FAST, "hydra.run.dir=@LIVE@", "resume=auto"], "in use by pid"),
    (["train", *FAST, "hydra.run.dir=@NOCKPT@", "resume=auto", "trainer.epochs=1"], "1 epochs were done"),
    # one gate, wherever a config comes from: data/model agreement at composition
    (["train", "data.num_classes=5"], "data=digits has num_classes=10"),
    (["train", "model.num_classes=5"], "model.num_classes=5 differs"),
    (["train", "data.in_channels=3"], "data=digits has in_channels=1"),
    (["train", "data.image_size=64"], "data=digits has image_size=8"),
    (["train", "data=cifar10", "data.num_classes=100"], "data=cifar10 has num_classes=10"),
    (["train", "model.in_channels=3", "debug=fast"], "model.in_channels=3 differs"),
    (["train", "trainer.epochs=1", "sched.warmup_epochs=2"], "warmup_epochs"),
    (["summary", "data.num_classes=5"], "num_classes"),
    (["summary", "T=0"], "T=0"),
    # a checkpoint's stored config passes the same gate (eval, fold, analyze, resume)
    (["eval", "ckpt=@CFG_STRING@"], "not a mapping"),
    (["eval", "ckpt=@CFG_LIST@"], "not a mapping"),
    (["eval", "ckpt=@CFG_T@"], "T=-3"),
    (["eval", "ckpt=@CFG_PYTHON@"], "not valid YAML"),
    (["eval", "ckpt=@RUN@", "data.num_classes=5"], "num_classes"),
    (["fold", "ckpt=@CFG_STRING@"], "not a mapping"),
    (["fold", "ckpt=@CFG_T@"], "T=-3"),
    (["fold", "ckpt=@CFG_PYTHON@"], "not valid YAML"),
    (["fold"], "ckpt"),
    (["analyze", "firing", "ckpt=@CFG_LIST@"], "not a mapping"),
    (["analyze", "firing", "ckpt=@CFG_T@"], "T=-3"),
    (["analyze", "firing", "batches=0"], "batches"),
    (["train", "resume=@CFG_T@", *FAST], "T=-3"),
    (["train", "resume=@CFG_PYTHON@", *FAST], "not valid YAML"),
    # nothing accepted and ignored
    (["train", "optim=adam", "optim.momentum=0.5"], "optim.momentum' for optim=adam"),
    (["train", "optim=adam", "optim.nesterov=true"], "optim.nesterov"),
    (["train", "optim=sgd", "optim.betas=[0.9,0.99]"], "optim.betas' for optim=sgd"),
    (["train", "encoder=frames"], "encoder=frames needs frame sequences"),
    (["train", "data=dvs_gesture", "encoder=poisson"], "encoder=poisson"),
    (["train", "trainer.compile_scope=neurons"], "without trainer.compile=true"),
    (["train", "init.skip=[stem.conv1]"], "without init.from"),
    (["train", "init.reinit=strict"], "without init.from"),
    (["train", "experiment=keys/table11_finetune"], "without init.from"),
    (["train", "resume=auto", *FAST], "resume=auto continues the run in hydra.run.dir"),
    (["train", "-m", "resume=auto", "seed=0,1", *FAST], "hydra.sweep.dir"),
    # tune: the search and its trials pass the gate before anything runs
    (["tune", *FAST, "+search.space.T={type:int,low:-5,high:-1}"], "T=-5 is out of range"),
    (["tune", *FAST, "search.objective=bogus"], "search.objective"),
    (["tune", *FAST, "search.n_jobs=0"], "search.n_jobs"),
    (["tune", *FAST, "search.top_k=0"], "search.top_k"),
    (["tune", *FAST, "search.space=5"], "search.space"),
    (["tune", *FAST, "search.n_trials=0"], "search.n_trials"),
    (["tune", *FAST, "+search.space.optim.lr={type:float,low:abc,high:1}"], "must be a number"),
    (["tune", *FAST, "+search.space.T={type:normal,low:1,high:2}"], "type='normal'"),
    (["tune", *FAST, "+search.space.T={type:categorical,choices:[2,0]}"], "T=0"),
    (["tune", *FAST, "hydra.run.dir=@NOTSQL@"], "not an SQLite database"),
    # the other commands
    (["report", "@FILE@"], ""),
    (["runs", "/nonexistent/runs"], "/nonexistent/runs"),
    (["list", "--config-dir", "@FILE@"], "no such directory"),
    (["claims", "--out"], "--out"),
    (["summary", "--config-dir", "/nonexistent"], "/nonexistent"),
    (["train", *FAST, "--config-dir", "@MYCONF@", "neuron=half"], "needs v_reset, detach_reset"),
]

# the same bad values with HYDRA_FULL_ERROR=1: a traceback is printed too, nothing else changes
FULL_ERROR_CASES: list[tuple[list[str], str]] = [
    (["train", *FAST, "trainer.epochs=-1"], "trainer.epochs=-1"),
    (["train", *FAST, "neuron.v_threshold=-1"], "v_threshold"),
    (["eval", "ckpt=@CFG_T@"], "T=-3"),
]

# a sweep whose combinations pass one by one but one job's pair does not: that job fails with one
# line (after Hydra's line naming its overrides), the other jobs run, and it leaves no directory
SWEEP_CASES: list[tuple[list[str], str]] = [
    (
        [
            "train",
            "-m",
            *FAST,
            "trainer.max_steps_per_epoch=1",
            "trainer.epochs=2,1",
            "sched.warmup_epochs=0,2",
        ],
        "sched.warmup_epochs=2.0 is longer than the run (trainer.epochs=1)",
    ),
]

SWEEP_FAILED_JOB = "trainer.epochs=1,sched.warmup_epochs=2"

# a key that cannot take effect on this machine: said once, recorded as the value the run used
# (exit 0); (command line, the stderr fragment, a file of the run, the text it must hold)
SAID_CASES: list[tuple[list[str], str, str, str]] = [
    (
        ["train", *FAST, "trainer.epochs=1", "device=cpu", "trainer.amp=true"],
        "trainer.amp",
        "config.yaml",
        "amp: false",
    ),
    (
        ["train", *FAST, "trainer.epochs=1", "device=cpu", "trainer.flexsn=true"],
        "trainer.flexsn",
        "metrics.json",
        '"trainer.flexsn": false',
    ),
    (
        ["train", *FAST, "trainer.epochs=1", "resume=auto", "hydra.run.dir=@WORK@/new"],
        "does not exist yet",
        "config.yaml",
        "resume: auto",
    ),
    # the user's --config-dir option is the one trained (snnexp list shows it too)
    (
        ["train", *FAST, "trainer.epochs=1", "--config-dir", "@MYCONF@", "hydra.run.dir=@WORK@/mine"],
        "",
        "config.yaml",
        "v_threshold: 0.5",
    ),
]


def scratch_files(root: Path) -> dict[str, str]:
    """The corrupt inputs the cases refer to, and one finished run for eval's cases."""
    import torch

    garbage, pickled, truncated, a_file = (root / n for n in ("garbage.pt", "pickled.pt", "trunc.pt", "file"))
    garbage.write_bytes(b"this is not a checkpoint")
    # any class but argparse.Namespace, the one a train.py checkpoint may hold (engine/foreign.py)
    torch.save({"model": {}, "x": fractions.Fraction(1, 3)}, pickled)
    torch.save({"model": {"w": torch.zeros(1000)}}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:100])
    a_file.write_text("x")
    run = root / "finished"
    p = snnexp(["train", *FAST, "trainer.epochs=1", f"hydra.run.dir={run}"], root)
    if p.returncode != 0:
        sys.exit(f"could not train the run the eval cases need:\n{p.stderr}")
    nan = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    next(v for k, v in nan["model"].items() if k.endswith("weight")).fill_(float("nan"))
    torch.save(nan, root / "nan.pt")
    live, no_ckpt = root / "live", root / "no_ckpt"
    live.mkdir()
    (live / ".lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    shutil.copytree(run, no_ckpt)  # a finished run whose checkpoints were deleted: never retrained
    shutil.rmtree(no_ckpt / "checkpoints")
    last = run / "checkpoints" / "last.pt"
    ckpt = torch.load(last, weights_only=True)
    stored = {  # checkpoints whose stored config is not a config a run can use
        "@CFG_STRING@": "just a string",
        "@CFG_LIST@": "- a\n- b\n",
        "@CFG_T@": re.sub(r"(?m)^T: 2$", "T: -3", ckpt["config"]),
        "@CFG_PYTHON@": "!!python/object/apply:os.system ['echo pwned']\n",
    }
    subs = {}
    for marker, text in stored.items():
        path = root / f"{marker.strip('@').lower()}.pt"
        torch.save({**ckpt, "config": text}, path)
        subs[marker] = str(path)
    notsql = root / "notsql"
    notsql.mkdir()
    (notsql / "study.db").write_text("not a database")
    myconf = root / "myconf" / "neuron"
    myconf.mkdir(parents=True)
    (myconf / "if.yaml").write_text(
        "# my IF\ndefaults: [schema, _self_]\nname: if\nv_threshold: 0.5\nv_reset: 0.0\ndetach_reset: true\n"
    )
    (myconf / "half.yaml").write_text(
        "# an IF missing keys\ndefaults: [schema, _self_]\nname: if\nv_threshold: 0.5\n"
    )
    return {
        **subs,
        "@NOTSQL@": str(notsql),
        "@MYCONF@": str(root / "myconf"),
        "@GARBAGE@": str(garbage),
        "@PICKLED@": str(pickled),
        "@TRUNCATED@": str(truncated),
        "@FILE@": str(a_file),
        "@DIR@": str(root),
        "@RUN@": str(run / "checkpoints" / "last.pt"),
        "@RUNDIR@": str(run),
        "@NAN@": str(root / "nan.pt"),
        "@LIVE@": str(live),
        "@NOCKPT@": str(no_ckpt),
    }


def tree_hashes(root: Path) -> dict[str, str]:
    """sha1 of every file under ``root``: the user's files, which no case may change."""
    return {str(p): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def snnexp(args: list[str], cwd: Path, full_error: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_FULL_ERROR")}
    env.update(WANDB_MODE="disabled", OMP_NUM_THREADS="1")
    if full_error:
        env["HYDRA_FULL_ERROR"] = "1"
    cmd = [sys.executable, "-m", "snnexp.cli", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _substitute(args: list[str], subs: dict[str, str]) -> list[str]:
    out = []
    for a in args:
        for k, v in subs.items():
            a = a.replace(k, v)
        out.append(a)
    return out


def check(
    args: list[str], fragment: str, root: Path, subs: dict[str, str], kind: str = ""
) -> tuple[bool, str]:
    """``kind``: "" (one line), "full" (HYDRA_FULL_ERROR=1: a traceback, then the same line), "sweep"
    (Hydra's line naming the failed job, then ours; the good jobs' directories stay)."""
    work = Path(tempfile.mkdtemp(dir=root))  # each case in an empty directory: nothing may appear there
    p = snnexp(_substitute(args, {**subs, "@WORK@": str(work)}), work, full_error=kind == "full")
    # a sweep's progress lines ("snnexp: sweep run k/n ...") are not part of the error
    lines = [ln for ln in p.stderr.strip().splitlines() if not ln.startswith("snnexp: sweep run ")]
    problems = []
    if p.returncode != 2:
        problems.append(f"exit {p.returncode}")
    if "Traceback" in p.stderr and kind != "full":
        problems.append("traceback")
    ours = [ln for ln in lines if ln.startswith("snnexp: error:")]
    if kind == "full" or kind == "sweep":
        if len(ours) != 1 or not lines or lines[-1] != ours[0]:
            problems.append(f"{len(ours)} error lines, last {lines[-1][:60] if lines else ''!r}")
        if kind == "sweep" and (len(lines) != 2 or not lines[0].startswith("Error executing job")):
            problems.append(f"{len(lines)} stderr lines")
    elif len(lines) != 1 or not lines[0].startswith("snnexp: error:"):
        problems.append(f"{len(lines)} stderr lines")
    if fragment and fragment.lower() not in p.stderr.lower():
        problems.append(f"no {fragment!r} in the error")
    left = [str(x.relative_to(work)) for x in work.rglob("*")]
    if kind == "sweep":  # the good jobs' run dirs stay; the failed job's (named by its pair) must not
        left = [x for x in left if Path(x).name == SWEEP_FAILED_JOB]
    if left:
        problems.append(f"left {left[:3]}")
    first = lines[-1] if lines else ""
    return not problems, ("; ".join(problems) + " | " if problems else "") + first[:150]


def check_said(case: tuple, root: Path, subs: dict[str, str]) -> tuple[bool, str]:
    """A key without effect on this machine: exit 0, said on stderr, recorded in the run's file."""
    args, fragment, name, text = case
    work = Path(tempfile.mkdtemp(dir=root))
    args = _substitute(args, {**subs, "@WORK@": str(work)})
    run = next((a.partition("=")[2] for a in args if a.startswith("hydra.run.dir=")), None)
    if run is None:
        run = str(work / "run")
        args = [*args, f"hydra.run.dir={run}"]
    p = snnexp(args, work)
    problems = []
    if p.returncode != 0:
        problems.append(f"exit {p.returncode}")
    if "Traceback" in p.stderr:
        problems.append("traceback")
    if fragment and fragment.lower() not in p.stderr.lower():
        problems.append(f"no {fragment!r} said")
    f = Path(run) / name
    if not f.is_file() or text not in f.read_text():
        problems.append(f"{name} lacks {text!r}")
    said = [ln for ln in p.stderr.splitlines() if fragment and fragment in ln]
    return not problems, ("; ".join(problems) + " | " if problems else "") + (said[0][:150] if said else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", default="", help="run the cases whose command line contains this")
    args = ap.parse_args()

    def wanted(a):
        return args.only in " ".join(a)

    cases = [(a, f, "") for a, f in CASES if wanted(a)]
    cases += [(a, f, "full") for a, f in FULL_ERROR_CASES if wanted(a)]
    cases += [(a, f, "sweep") for a, f in SWEEP_CASES if wanted(a)]
    said = [c for c in SAID_CASES if wanted(c[0])]
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="snnexp-battery-") as tmp:
        root = Path(tmp)
        subs = scratch_files(root)
        before = tree_hashes(root)
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda c: check(c[0], c[1], root, subs, c[2]), cases))
            results += list(pool.map(lambda c: check_said(c, root, subs), said))
        changed = sorted(k for k, v in tree_hashes(root).items() if k in before and before[k] != v)
        changed += sorted(k for k in before if not Path(k).exists())
    failed = 0
    labels = [(k or "") + " " + " ".join(a) for a, _, k in cases] + ["said " + " ".join(c[0]) for c in said]
    for label, (ok, text) in zip(labels, results, strict=True):
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'}  {label.strip()[:76]:76}  {text}")
    n = len(results)
    print(f"{n - failed}/{n} cases as required ({time.time() - t0:.0f} s)")
    if changed:
        print(f"FAIL  files the cases changed or removed: {changed[:5]}")
    return 1 if failed or changed else 0


if __name__ == "__main__":
    sys.exit(main())
