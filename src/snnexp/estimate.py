"""How long runs will take on this machine, measured before they start.

A probe builds the run's model, method and optimizer, and times a few optimizer steps and one
evaluation forward on a random batch of the run's input shape (no data is read). The run's time is
then (steps per epoch x step time + evaluated samples x eval time per sample) x epochs. Big inputs
are probed with a smaller batch and scaled linearly by the number of samples: on a CPU a small
batch uses the cores less well, so that estimate leans long. Data loading, checkpoints and process
start-up are not in the probe (measured on digits: a few percent of a run).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass

import torch
from omegaconf import DictConfig

# (train, test) samples of each data set, from the data sets' own papers/releases
SPLIT_SIZES = {
    "cifar10": (50_000, 10_000),
    "cifar100": (50_000, 10_000),
    "imagenet": (1_281_167, 50_000),  # ILSVRC-2012
    "dvs_gesture": (1_176, 288),  # DVS128 Gesture, the official split
    "cifar10_dvs": (10_000, 10_000),  # all 10k recordings; split by data.train_ratio below
}
DIGITS = 1_797  # scikit-learn's digits


def split_sizes(cfg: DictConfig) -> tuple[int, int]:
    d = cfg.data
    if d.name == "synthetic":
        return int(d.train_size), int(d.test_size)
    if d.name == "digits":
        test = math.ceil(DIGITS * float(d.test_fraction))
        return DIGITS - test, test
    train, test = SPLIT_SIZES[d.name]
    if d.name == "cifar10_dvs":
        train = int(train * float(d.train_ratio))
        test = 10_000 - train
    return train, test


def sample_shape(cfg: DictConfig) -> tuple[int, ...]:
    d = cfg.data
    chw = (int(d.in_channels), int(d.image_size), int(d.image_size))
    if not d.get("sequence"):
        return chw
    frames = d.get("T_train") or d.get("frames_number") or cfg.T
    return (int(frames), *chw)


@dataclass
class Probe:
    step_s: float  # one optimizer step with the run's whole batch (scaled from probe_batch)
    eval_sample_s: float  # evaluation forward, per sample
    probe_batch: int
    device: str
    threads: int


def probe(cfg: DictConfig, steps: int = 2, jobs: int = 1) -> Probe:
    """Time ``steps`` optimizer steps (after one untimed warm-up step) and one eval forward."""
    from snnexp.build import build_method, build_model
    from snnexp.engine.device import to_time_major
    from snnexp.engine.optim import build_optimizer
    from snnexp.engine.steps import StepContext
    from snnexp.engine.threads import resolve_threads

    device = torch.device("cuda" if cfg.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
    threads, before = resolve_threads(cfg.get("threads", "auto"), jobs), torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        method, model = build_method(cfg), build_model(cfg).to(device)
        method.prepare(model)
        batch = int(cfg.trainer.batch_size)
        big = int(cfg.data.image_size) > 64 or bool(cfg.data.get("sequence"))
        small = int(cfg.data.image_size) <= 32 and not cfg.data.get("sequence")
        b = min(batch, 32 if device.type == "cuda" or small else (2 if big else 8))
        x = to_time_major(torch.rand(b, *sample_shape(cfg), device=device))
        y = torch.randint(0, int(cfg.data.num_classes), (b,), device=device)
        ctx = StepContext.from_config(
            cfg, device, model=model, optimizer=build_optimizer(cfg, model), training=True
        )
        ctx.accumulate = min(ctx.accumulate, b)  # the probe's batch may be smaller than a step's
        model.train()
        method.train_step(model, x, y, ctx)  # warm-up: allocations, lazy inits, DSR calibration
        t = _timed(lambda: [method.train_step(model, x, y, ctx) for _ in range(steps)], device) / steps
        model.eval()
        with torch.no_grad():
            e = _timed(lambda: model(x), device)
        return Probe(t * batch / b, e / b, b, device.type, threads)
    finally:
        torch.set_num_threads(before)


def _timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


@dataclass
class Overhead:
    per_run: float = 0.0  # building model and data, the run files, the curves plot
    per_epoch: float = 0.0  # the checkpoint, summary rows and metrics written after every epoch


def overhead(cfg: DictConfig) -> Overhead:
    """What a run costs besides its steps and evaluations, measured: two real runs of ``cfg``
    with one step per epoch (1 and 2 epochs) in a scratch directory. Zero when the data set
    cannot be read here (a table's data on another machine: its steps dominate anyway)."""
    import tempfile

    from omegaconf import OmegaConf, open_dict

    from snnexp.engine.trainer import train

    walls = []
    with tempfile.TemporaryDirectory(prefix="snnexp-estimate-") as tmp:
        print("snnexp estimate: measuring a run's fixed costs (3 one-step runs) ...", file=sys.stderr)
        for epochs in (1, 1, 2):  # the first pays this process's one-time imports: not counted
            c = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
            with open_dict(c):
                c.trainer.update(epochs=epochs, max_steps_per_epoch=1, progress=False, eval_every=1)
                c.logger.name = "none"
                c.resume = None
                c.init["from"] = None
            t0 = time.perf_counter()
            try:
                with contextlib.redirect_stdout(None), contextlib.redirect_stderr(None):
                    train(c, run_dir=f"{tmp}/run{len(walls)}")
            except Exception:
                return Overhead()
            walls.append(time.perf_counter() - t0)
    per_epoch = max(walls[2] - walls[1], 0.0)
    return Overhead(max(walls[1] - per_epoch, 0.0), per_epoch)


def run_seconds(cfg: DictConfig, p: Probe, extra: Overhead | None = None) -> float:
    """The whole run: every epoch's steps and every evaluation (trainer.eval_every, the last
    epoch), plus the measured ``extra`` per run and per epoch."""
    n_train, n_test = split_sizes(cfg)
    t = cfg.trainer
    per_epoch = n_train // int(t.batch_size) if t.drop_last else math.ceil(n_train / int(t.batch_size))
    if t.max_steps_per_epoch:
        per_epoch = min(per_epoch, int(t.max_steps_per_epoch))
    epochs = int(t.epochs)
    evals = epochs // int(t.eval_every) + (epochs % int(t.eval_every) != 0)
    extra = extra or Overhead()
    return (
        extra.per_run + epochs * (per_epoch * p.step_s + extra.per_epoch) + evals * n_test * p.eval_sample_s
    )


# keys that change no step's cost: runs differing only in them share one probe
NO_COST_KEYS = (
    "seed",
    "logger",
    "hydra",
    "paths",
    "data.root",
    "resume",
    "trainer.progress",
    "experiment_name",
)


def cost_key(overrides: list[str]) -> tuple[str, ...]:
    def free(o: str) -> bool:
        key = o.lstrip("+~").split("=", 1)[0]
        return any(key == k or key.startswith(k + ".") for k in NO_COST_KEYS)

    return tuple(o for o in overrides if not free(o))


def human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 600:
        return f"{seconds / 60:.1f} min"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


__all__ = [
    "Overhead",
    "Probe",
    "overhead",
    "cost_key",
    "human",
    "probe",
    "run_seconds",
    "sample_shape",
    "split_sizes",
]
