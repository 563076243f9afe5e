"""The training loop: one epoch of steps, an evaluation, a checkpoint, the run files; repeat.

Resume is exact: a checkpoint holds model, optimizer, scheduler, scaler, RNG states, the epoch,
the step, the position and partial sums inside the epoch and the history of epoch rows
(engine/resume.py); the data order of every epoch and the loaders' worker seeds depend only on
(seed, epoch), never on the global generator, so training 2 epochs straight or 1 + resume + 1
gives the same bits on CPU with the same ``threads``. The run directory is guarded by
engine/rundir.py (refused starts, a lock naming the process that trains in it).
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from spikingjelly.activation_based import functional
from torch import nn

from snnexp.engine import checkpoint as ck
from snnexp.engine import fastpath, resume
from snnexp.engine.curves import authors_at, plot_curves
from snnexp.engine.device import pick_device, to_time_major
from snnexp.engine.distributed import (
    Dist,
    all_reduce_sum,
    barrier,
    broadcast_str,
    cleanup,
    convert_sync_bn,
    init_distributed,
)
from snnexp.engine.metrics import Sums
from snnexp.engine.optim import build_optimizer
from snnexp.engine.progress import train_progress
from snnexp.engine.rundir import RunLock, Start, check_start
from snnexp.engine.schedule import build_scheduler
from snnexp.engine.steps import StepContext, make_loss
from snnexp.engine.threads import resolve_threads
from snnexp.errors import ConfigError, TrainingDiverged
from snnexp.runfiles import read_metrics, write_metrics, write_summary


# ----------------------------------------------------------------------------- setup helpers
def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True


def new_run_dir() -> Path:
    from snnexp.config.compose import _RUN_UID

    return Path("outputs/runs") / f"{time.strftime('%Y-%m-%d/%H-%M-%S')}-{_RUN_UID}"


@torch.no_grad()
def evaluate(
    model: nn.Module, loader, device: torch.device, ctx: StepContext, d: Dist, bar=None
) -> dict[str, float]:
    """Loss, top-1 and top-5 over ``loader`` (summed over DDP ranks)."""
    model.eval()
    sums = Sums(device)
    for x, y in loader:
        x, y = to_time_major(x.to(device, non_blocking=True)), y.to(device, non_blocking=True)
        with ctx.autocast():
            logits = model(x).float()
        sums.add(ctx.loss_fn(logits, y), logits, y)
        functional.reset_net(model)
        if bar is not None:
            bar.update(y.shape[0] * d.world_size)
    if bar is not None:
        bar.close()
    return sums.reduce(d)


# ----------------------------------------------------------------------------- the run
class Run:
    """State of one training run on one rank; ``fit()`` does the work."""

    def __init__(self, cfg: DictConfig, run_dir: str | Path | None = None, jobs: int = 1, on_epoch=None):
        self.cfg = cfg
        # on_epoch(epoch, row) after every epoch's summary row; a true result ends the run there
        # (status "stopped"): how `snnexp tune` prunes a trial on its per-epoch accuracy
        self.on_epoch = on_epoch
        self.t0, self.wall_before = time.time(), 0.0
        self.threads = resolve_threads(cfg.get("threads", "auto"), jobs)  # engine/threads.py: why
        torch.set_num_threads(self.threads)
        self.dist = init_distributed(
            "cuda" if cfg.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
        )
        self.device = pick_device(cfg.device, self.dist)
        seed_everything(int(cfg.seed), bool(cfg.deterministic))
        self.run_dir = Path(broadcast_str(str(run_dir or new_run_dir()), self.dist))
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.lock = RunLock(self.run_dir)
        start = self._start()
        self.resume_from, self.finished = start.resume_from, start.finished
        if self.finished:  # nothing to build, nothing to write: fit() reports the finished run
            return
        try:
            self._build()
        except BaseException:
            self.lock.release()
            raise

    def _start(self) -> Start:
        """Rank 0 decides what this start does with the run dir (and takes its lock); the
        other ranks follow (the checkpoint path is broadcast)."""
        start = Start(None)
        if self.dist.is_main:
            ck.remove_stale_tmp(self.ckpt_dir)  # a write cut short by a crash
            start = check_start(self.run_dir, self.cfg.resume, int(self.cfg.trainer.epochs))
            if not start.finished:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                self.lock.acquire()
        path = broadcast_str(
            str(start.resume_from or "") + ("|finished" if start.finished else ""), self.dist
        )
        path, _, done = path.partition("|")
        return Start(Path(path) if path else None, finished=bool(done))

    def _build(self) -> None:
        cfg = self.cfg
        from snnexp.build import build_method, build_model
        from snnexp.data import build_data

        self.method = build_method(cfg)  # before model and data: a bad method fails fast
        self.model = build_model(cfg).to(self.device)
        self.init_report = self._init_from() if not self.resume_from else None
        self.method.prepare(self.model)
        self.n_params = sum(p.numel() for p in self.model.parameters())
        self.train_loader, self.test_loader = build_data(cfg, self.dist.rank, self.dist.world_size)
        self.steps_per_epoch = len(self.train_loader.batch_sampler)
        if cfg.trainer.max_steps_per_epoch:
            self.steps_per_epoch = min(self.steps_per_epoch, int(cfg.trainer.max_steps_per_epoch))
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"trainer.batch_size={cfg.trainer.batch_size} is larger than the training "
                f"set ({len(self.train_loader.dataset)} samples)"
            )
        if cfg.trainer.sync_bn and self.dist.enabled:
            self.model = convert_sync_bn(self.model)
        self.net = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.net = fastpath.prepare(cfg, self.net, self.model, self.device, show=self.dist.is_main)
        self.opt = build_optimizer(cfg, self.model)
        self.sched = build_scheduler(cfg, self.opt, self.steps_per_epoch)
        amp = bool(cfg.trainer.amp) and self.device.type == "cuda"
        dtype = torch.bfloat16 if cfg.trainer.amp_dtype == "bf16" else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp and dtype == torch.float16)
        self.ctx = StepContext(
            loss_fn=make_loss(
                cfg.trainer.loss, int(cfg.data.num_classes), float(cfg.trainer.label_smoothing)
            ),
            scaler=self.scaler,
            autocast=lambda: torch.autocast(self.device.type, dtype=dtype, enabled=amp),
            num_classes=int(cfg.data.num_classes),
            optimizer=self.opt,
            params=list(self.model.parameters()),
            clip_grad=cfg.trainer.clip_grad,
            where=lambda: f"epoch {self.epoch + 1}, step {self.step}",
        )
        self.epoch, self.step, self.step_in_epoch = 0, 0, 0
        self.epoch_sums = Sums(self.device)  # this epoch's train loss/accuracy so far
        self.history: list[dict[str, float]] = []
        if self.resume_from:
            self._load(self.resume_from)
        from snnexp.loggers import build_logger

        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
            if self.init_report:  # what init.from loaded, skipped and re-initialised
                (self.run_dir / "init_from.json").write_text(json.dumps(self.init_report, indent=1))
        self.logger = build_logger(cfg, self.run_dir, self.dist.is_main, self.step)

    # ------------------------------------------------------------------ resume
    def wall_time(self) -> float:
        """Seconds of training so far, all resumes included."""
        return round(self.wall_before + time.time() - self.t0, 2)

    def _init_from(self) -> dict[str, Any] | None:
        """``init.from``: the matching weights of another run (fine-tuning), once, at the start."""
        init = self.cfg.get("init") or {}
        src = init.get("from")
        if src in (None, ""):
            return None
        if not isinstance(src, str):
            raise ConfigError(f"init.from must be a checkpoint path or null, got {src!r}")
        from snnexp.engine.init_from import init_from

        return init_from(
            self.model,
            Path(src).expanduser(),
            reinit=str(init.get("reinit", "auto")),
            skip=list(init.get("skip") or []),
            fresh=self.method.init_fresh,
            echo=self.dist.is_main,
            fmt=str(init.get("format") or "auto"),
        )

    def _load(self, path: Path) -> None:
        resume.restore(self, ck.load_checkpoint(path, map_location=self.device), path)
        if self.dist.is_main:
            where = f"epoch {self.epoch}" + (f", batch {self.step_in_epoch}" if self.step_in_epoch else "")
            print(f"snnexp: resumed from {path} at {where}", file=sys.stderr)

    def _save(self, name: str = "last.pt") -> None:
        if self.dist.is_main:
            ck.save_atomic(resume.state_dict(self), self.ckpt_dir / name)

    def _mark_best(self) -> None:
        """best.pt = the checkpoint just written (a hard link: no second write)."""
        if not self.dist.is_main:
            return
        last, best = self.ckpt_dir / "last.pt", self.ckpt_dir / "best.pt"
        tmp = self.ckpt_dir / f".best.pt.{os.getpid()}{ck.TMP_SUFFIX}"
        try:
            os.link(last, tmp)
        except OSError:
            import shutil

            shutil.copyfile(last, tmp)
        os.replace(tmp, best)

    # ------------------------------------------------------------------ loop
    def fit(self) -> dict[str, Any]:
        epochs = int(self.cfg.trainer.epochs)
        if self.finished:  # left exactly as it was: no file is rewritten
            if self.dist.is_main:
                print(f"snnexp: {self.run_dir} already finished {epochs} epochs", file=sys.stderr)
            cleanup(self.dist)
            return read_metrics(self.run_dir)
        stop = self.cfg.trainer.get("stop_after_epochs")
        until = epochs if not stop else min(epochs, self.epoch + int(stop))
        stopped, ok = False, False
        try:
            while self.epoch < until:
                row = self._one_epoch(epochs)
                if self.on_epoch is not None and self.on_epoch(self.epoch, row):
                    stopped = True
                    break
            status = "finished" if self.epoch >= epochs and not stopped else "stopped"
            metrics = self._write_files(status=status)
            if self.dist.is_main:
                plot_curves(self.history, self.cfg, self.run_dir / "curves.png")
            self.logger.finish(metrics)
            ok = True
            return metrics
        finally:
            self.lock.release()
            cleanup(self.dist, meet=ok)

    def _one_epoch(self, epochs: int) -> dict[str, float]:
        t_epoch = time.time()
        train = self.train_one_epoch()
        self.step_in_epoch = 0
        self.epoch_sums = Sums(self.device)
        self.epoch += 1
        self._check_finite()
        row = self._epoch_row(train, time.time() - t_epoch)
        is_best = not math.isnan(row["test_acc1"]) and not any(  # the first epoch of the best wins ties
            r["test_acc1"] >= row["test_acc1"] for r in self.history if not math.isnan(r["test_acc1"])
        )
        self.history.append(row)
        # checkpoint first: metrics.json is never ahead of last.pt (a crash in between resumes from it)
        self._save()
        if self.cfg.trainer.keep_best and is_best:
            self._mark_best()
        self._write_files(status="running")
        self._print_row(row, epochs)
        reference = authors_at(self.cfg, int(row["epoch"]))  # the authors' curve, where one exists
        self.logger.log({**{f"epoch/{k}": v for k, v in row.items()}, **reference}, step=self.step)
        barrier(self.dist)
        return row

    def _check_finite(self) -> None:
        """A diverged run whose loss stayed finite (BN running variance overflowing to inf at a
        huge lr) must not be saved and reported as finished."""
        for name, t in (*self.model.named_parameters(), *self.model.named_buffers()):
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise TrainingDiverged(
                    f"{name} holds inf/NaN after epoch {self.epoch}; lower optim.lr or set "
                    "trainer.clip_grad (the last checkpoint is the one before this epoch)"
                )

    def _epoch_row(self, train: dict[str, float], seconds: float) -> dict[str, float]:
        test = (
            self.evaluate()
            if (
                self.epoch % int(self.cfg.trainer.eval_every) == 0
                or self.epoch == int(self.cfg.trainer.epochs)
            )
            else None
        )
        if test is not None and self.cfg.trainer.get("log_energy"):
            from snnexp.engine.energy_log import log_energy

            log_energy(self)  # firing rates and synaptic operations of this evaluation
        prev_best = max(
            (r["test_acc1"] for r in self.history if not math.isnan(r["test_acc1"])), default=float("nan")
        )
        acc1 = test["acc1"] if test else float("nan")
        best = acc1 if math.isnan(prev_best) else (prev_best if math.isnan(acc1) else max(prev_best, acc1))
        return {
            "epoch": self.epoch,
            "lr": self.opt.param_groups[0]["lr"],
            "train_loss": train["loss"],
            "train_acc1": train["acc1"],
            "test_loss": test["loss"] if test else float("nan"),
            "test_acc1": acc1,
            "test_acc5": test["acc5"] if test else float("nan"),
            "best_acc1": best,
            "epoch_time_s": round(seconds, 3),
        }

    def train_one_epoch(self) -> dict[str, float]:
        self.net.train()
        sampler = self.train_loader.batch_sampler
        sampler.set_epoch(self.epoch, self.step_in_epoch)
        # worker seeds from (seed, epoch): creating the iterator must not draw from the global
        # generator, or a mid-epoch resume would shift the random stream (Poisson encoding)
        self.train_loader.generator.manual_seed(int(self.cfg.seed) * 100_003 + self.epoch)
        sums = self.epoch_sums
        t, every = self.cfg.trainer, int(self.cfg.logger.get("log_every", 50))
        ckpt_every = int(t.ckpt_every_steps)
        bar = None
        if t.progress and self.dist.is_main:  # global batch: img/s of the whole job
            bar = train_progress(
                self.steps_per_epoch,
                f"epoch {self.epoch + 1}/{t.epochs}",
                every,
                int(t.batch_size),
                self.step_in_epoch,
            )
        for x, y in self.train_loader:
            if self.step_in_epoch >= self.steps_per_epoch:
                break
            x, y = to_time_major(x.to(self.device, non_blocking=True)), y.to(self.device, non_blocking=True)
            loss, logits = self.method.train_step(self.net, x, y, self.ctx)
            self.sched.step()
            sums.add(loss, logits, y)
            self.step += 1
            self.step_in_epoch += 1
            if bar is not None:
                bar.step(loss.item(), self.opt.param_groups[0]["lr"])
            if self.step % every == 0:  # the loss of the global batch (mean over ranks)
                g = all_reduce_sum(loss.detach().float().clone(), self.dist) / self.dist.world_size
                self.logger.log(
                    {"train/loss": g.item(), "train/lr": self.opt.param_groups[0]["lr"]}, step=self.step
                )
            if ckpt_every and self.step % ckpt_every == 0 and self.step_in_epoch < self.steps_per_epoch:
                self._save()
        if bar is not None:
            bar.close()
        return sums.reduce(self.dist)

    def evaluate(self, loader=None) -> dict[str, float]:
        loader = loader or self.test_loader
        bar = self._bar(len(loader.dataset), "test", leave=False)
        return evaluate(self.model, loader, self.device, self.ctx, self.dist, bar)

    # ------------------------------------------------------------------ output
    def _bar(self, total: int, desc: str, leave: bool = True):
        if not (self.cfg.trainer.progress and self.dist.is_main and sys.stderr.isatty()):
            return None
        from tqdm.auto import tqdm

        return tqdm(
            total=total,
            desc=desc,
            unit="img",
            unit_scale=True,
            leave=leave,
            dynamic_ncols=True,
            file=sys.stderr,
            mininterval=0.5,
        )

    def _print_row(self, r: dict[str, float], epochs: int) -> None:
        if self.dist.is_main:
            print(
                f"epoch {int(r['epoch'])}/{epochs}  "
                f"train loss {r['train_loss']:.4f} acc {r['train_acc1']:.2f}"
                f"  |  test loss {r['test_loss']:.4f} acc1 {r['test_acc1']:.2f} acc5 {r['test_acc5']:.2f}"
                f"  best {r['best_acc1']:.2f}  |  lr {r['lr']:.3g}  {r['epoch_time_s']:.1f}s",
                flush=True,
            )

    def _write_files(self, status: str) -> dict[str, Any]:
        last = self.history[-1] if self.history else {}
        best_row = max(
            (r for r in self.history if not math.isnan(r["test_acc1"])),
            key=lambda r: r["test_acc1"],
            default={},
        )
        metrics = {
            "status": status,
            "epochs_done": self.epoch,
            "epochs": int(self.cfg.trainer.epochs),
            "last_acc1": last.get("test_acc1"),
            "last_acc5": last.get("test_acc5"),
            "last_test_loss": last.get("test_loss"),
            "last_train_loss": last.get("train_loss"),
            "best_acc1": best_row.get("test_acc1"),
            "best_epoch": best_row.get("epoch"),  # the first epoch of the best (best.pt holds it)
            # the papers' acc@5 is its own maximum over epochs, not the acc@5 of the best acc@1 epoch
            "best_acc5": max(
                (r["test_acc5"] for r in self.history if not math.isnan(r["test_acc5"])), default=None
            ),
            "params": self.n_params,
            "experiment_name": self.cfg.get("experiment_name"),
            "world_size": self.dist.world_size,
            "threads": self.threads,  # intra-op CPU threads: results are bitwise only for the same count
            "wall_time_s": self.wall_time(),
            "run_dir": str(self.run_dir),
        }
        if self.dist.is_main:
            write_summary(self.run_dir, self.history)
            write_metrics(self.run_dir, metrics)
        return metrics


def train(cfg: DictConfig, run_dir: str | Path | None = None, jobs: int = 1, on_epoch=None) -> dict[str, Any]:
    """Train as the config says; returns the final metrics (also in ``<run_dir>/metrics.json``).
    ``jobs``: how many runs share this machine at once (a joblib sweep), for ``threads=auto``;
    ``on_epoch(epoch, row)`` is called after every epoch; a true result stops the run there."""
    return Run(cfg, run_dir, jobs, on_epoch).fit()


__all__ = ["train", "Run"]
