"""A hostile user's battery (issue 11): bad values for config keys and command arguments, missing
and corrupt inputs. Every case must end with exit status 2, exactly one stderr line starting with
``snnexp: error:``, no traceback, and no run directory left behind.

    python scripts/hostile_battery.py [--jobs 2] [--only SUBSTRING]

Prints one row per case and a summary; exits 1 if any case fails. Runs in a scratch directory.
"""

from __future__ import annotations

import argparse
import fractions
import os
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
    (["report", "/nonexistent/dir"], "/nonexistent/dir"),
    (["report"], "required"),
    (["runs", "--bogus"], "--bogus"),
    (["list", "nogroup"], "nogroup"),
    (["list", "--config-dir", "/nope"], "/nope"),
    (["claims", "nope"], "no claim"),
    (["claims", "--jobs", "0"], "--jobs"),
    (["claims", "sew/and_silent", "--out", "@FILE@"], "a file is in the way"),
    (["tune", "search=nope"], "search"),
    (["train", "--cfg", "job", "model=unknownmodel"], "unknownmodel"),
    (["--cfg", "job"], "unknown command"),
    (["train", "surrogate=rect", "surrogate.a=0"], "a must be > 0"),
    (["train", "surrogate=triangle", "surrogate.width=-1"], "width must be > 0"),
    (["train", "surrogate.alpha=-2"], "alpha must be > 0"),
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
    return {
        "@GARBAGE@": str(garbage),
        "@PICKLED@": str(pickled),
        "@TRUNCATED@": str(truncated),
        "@FILE@": str(a_file),
        "@RUN@": str(run / "checkpoints" / "last.pt"),
    }


def snnexp(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_FULL_ERROR")}
    env.update(WANDB_MODE="disabled", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "snnexp.cli", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def check(args: list[str], fragment: str, root: Path, subs: dict[str, str]) -> tuple[bool, str]:
    args = [next((a.replace(k, v) for k, v in subs.items() if k in a), a) for a in args]
    work = Path(tempfile.mkdtemp(dir=root))  # each case in an empty directory: nothing may appear there
    p = snnexp(args, work)
    lines = p.stderr.strip().splitlines()
    problems = []
    if p.returncode != 2:
        problems.append(f"exit {p.returncode}")
    if "Traceback" in p.stderr:
        problems.append("traceback")
    if len(lines) != 1 or not lines[0].startswith("snnexp: error:"):
        problems.append(f"{len(lines)} stderr lines")
    if fragment and fragment.lower() not in p.stderr.lower():
        problems.append(f"no {fragment!r} in the error")
    left = [str(x.relative_to(work)) for x in work.rglob("*")]
    if left:
        problems.append(f"left {left[:3]}")
    first = lines[-1] if lines else ""
    return not problems, ("; ".join(problems) + " | " if problems else "") + first[:150]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", default="", help="run the cases whose command line contains this")
    args = ap.parse_args()
    cases = [(a, f) for a, f in CASES if args.only in " ".join(a)]
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="snnexp-battery-") as tmp:
        root = Path(tmp)
        subs = scratch_files(root)
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda c: check(c[0], c[1], root, subs), cases))
    failed = 0
    for (a, _), (ok, text) in zip(cases, results, strict=True):
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'}  snnexp {' '.join(a)[:70]:70}  {text}")
    print(f"{len(cases) - failed}/{len(cases)} cases as required ({time.time() - t0:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
