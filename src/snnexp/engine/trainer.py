"""The training loop: one epoch of steps, an evaluation, a checkpoint, the run files; repeat.

Resume is exact: a checkpoint holds model, optimizer, scheduler, scaler, RNG states, the epoch,
the step, the position and partial sums inside the epoch and the history of epoch rows
(engine/resume.py); the data order of every epoch and the loaders' worker seeds depend only on
(seed, epoch), never on the global generator, so training 2 epochs straight or 1 + resume + 1
gives the same bits on CPU with the same ``threads``. The run directory is guarded by
engine/rundir.py (refused starts, a lock naming the process that trains in it).

``Run`` owns its run's state: the one start decision (engine/resume.py), the checkpoint dict
(:meth:`Run.checkpoint_dict`) and its restore, the best epoch (:meth:`Run.best_row`), and the
lifecycle that ``metrics.json`` records: ``started`` (no epoch yet), ``running``, ``finished``,
``stopped`` (``stopped_by``: a signal, ``stop_after_epochs``, ``on_epoch``) and ``failed``
(``error``); a process killed outright leaves its lock behind, which ``snnexp runs`` reads as
``crashed``. :meth:`Run.request_stop` is the one way to stop a run early from outside.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from snnexp.engine import fastpath, preempt
from snnexp.engine.curves import authors_at, plot_curves
from snnexp.engine.device import pick_device, seed_everything, to_time_major
from snnexp.engine.distributed import (
    all_reduce_sum,
    barrier,
    broadcast_str,
    cleanup,
    convert_sync_bn,
    init_distributed,
)
from snnexp.engine.lifecycle import RunState
from snnexp.engine.metrics import Sums
from snnexp.engine.optim import build_optimizer
from snnexp.engine.progress import train_progress
from snnexp.engine.rundir import RunLock, new_run_dir
from snnexp.engine.schedule import build_scheduler
from snnexp.engine.steps import StepContext, evaluate
from snnexp.engine.threads import resolve_threads
from snnexp.errors import ConfigError, RunInterrupted, TrainingDiverged
from snnexp.runfiles import read_metrics


# ----------------------------------------------------------------------------- the run
class Run(RunState):
    """State of one training run on one rank; ``fit()`` does the work."""

    def __init__(self, cfg: DictConfig, run_dir: str | Path | None = None, jobs: int = 1, on_epoch=None):
        self.cfg = cfg
        # on_epoch(epoch, row) after every epoch's summary row; a true result ends the run there
        # (status "stopped"): how `snnexp tune` prunes a trial on its per-epoch accuracy
        self.on_epoch = on_epoch
        self.t0, self.wall_before = time.time(), 0.0
        self.threads = resolve_threads(cfg.get("threads", "auto"), jobs)  # config/threads.py: why
        torch.set_num_threads(self.threads)
        self.dist = init_distributed(
            "cuda" if cfg.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
        )
        self.device = pick_device(cfg.device, self.dist)
        self.effective = self._effective_values()
        seed_everything(int(cfg.seed), bool(cfg.deterministic))
        self.run_dir = Path(broadcast_str(str(run_dir or new_run_dir()), self.dist))
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.lock = RunLock(self.run_dir)
        self.stop_reason: str | None = None  # request_stop(): why the run ends at the next step
        start = self._start()
        self.resume_from, self.finished = start.resume_from, start.finished
        if self.finished:  # nothing to build, nothing to write: fit() reports the finished run
            return
        try:
            self._build(start.checkpoint)
        except BaseException:
            self.lock.release()
            raise

    def _effective_values(self) -> dict[str, Any]:
        """Keys that cannot take effect on this device (trainer.amp on a CPU): said once here,
        and config.yaml / metrics.json record the value the run used."""
        from snnexp.config.gate import effective_on

        changed = effective_on(self.cfg, self.device.type)
        for key, (value, why) in changed.items():
            if self.dist.is_main:
                asked, used = (json.dumps(v) for v in (OmegaConf.select(self.cfg, key), value))  # true/false
                line = f"snnexp: {key}={asked} has no effect: {why} (recorded as {key}={used})"
                print(line, file=sys.stderr)
        return {key: value for key, (value, _) in changed.items()}

    def _build(self, checkpoint: dict | None) -> None:
        cfg = self.cfg
        from snnexp.build import build_method, build_model
        from snnexp.data import build_data

        self.method = build_method(cfg)  # before model and data: a bad method fails fast
        self.model = build_model(cfg).to(self.device)
        self.init_report = self._init_from() if not self.resume_from else None
        self.method.prepare(self.model)
        if self.dist.is_main:
            self._say_if_not_the_papers_recipe()
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
        self._accumulate()  # enough samples per rank for trainer.accumulate micro-batches
        self.ctx = StepContext.from_config(
            cfg,
            self.device,
            model=self.model,
            optimizer=self.opt,
            training=True,
            where=lambda: f"epoch {self.epoch + 1}, step {self.step}",
        )
        self.scaler = self.ctx.scaler
        self.epoch, self.step, self.step_in_epoch = 0, 0, 0
        self.signals = preempt.StopSignals(
            self.request_stop, self.dist.is_main
        )  # a scheduler's warning (fit() listens)
        self.epoch_sums = Sums(self.device)  # this epoch's train loss/accuracy so far
        self.history: list[dict[str, float]] = []
        if self.resume_from:
            self._load(self.resume_from, checkpoint)
        test_inputs = (to_time_major(x.to(self.device, non_blocking=True)) for x, _ in self.test_loader)
        self.method.before_training(self.model, test_inputs)  # lazy: read only if the method asks
        from snnexp.loggers import build_logger

        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            used = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
            for key, value in self.effective.items():  # what this run did, not what was asked
                OmegaConf.update(used, key, value)
            (self.run_dir / "config.yaml").write_text(OmegaConf.to_yaml(used))
            if self.init_report:  # what init.from loaded, skipped and re-initialised
                (self.run_dir / "init_from.json").write_text(json.dumps(self.init_report, indent=1))
        self.logger = build_logger(cfg, self.run_dir, self.dist.is_main, self.step)
        self._write_files(status="running" if self.history else "started")

    def _accumulate(self) -> int:
        """trainer.accumulate micro-batches per optimizer step; each rank's batch must hold one
        sample per micro-batch at least."""
        n = int(self.cfg.trainer.get("accumulate", 1))
        per_rank = self.train_loader.batch_sampler.batch_size
        if n > per_rank:
            raise ConfigError(
                f"trainer.accumulate={n} is more micro-batches than the {per_rank} samples of a step "
                f"on each of the {self.dist.world_size} process(es); use trainer.accumulate<={per_rank} "
                "or a larger trainer.batch_size"
            )
        return n

    def _say_if_not_the_papers_recipe(self) -> None:
        """A paper's network run without that paper's experiment: one line naming what differs."""
        from snnexp.config.paper_recipe import recipe_notice
        from snnexp.registry import MODELS

        note = recipe_notice(self.cfg, MODELS.entry(str(self.cfg.model.name)).paper)
        if note:
            print(note, flush=True)

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
        ok = False
        try:
            # to the end: a signal while writing waits for the files; a scheduler's warning
            # (SIGUSR1/2, engine/preempt.py) stops the run the same way, then requeues it
            with self._stop_on_signals(), self.signals:
                while self.epoch < until and not self.stop_reason:
                    row = self._one_epoch(epochs)
                    if row is not None and self.on_epoch is not None and self.on_epoch(self.epoch, row):
                        self.stop_reason = "on_epoch"
                if self.epoch >= epochs:
                    status, self.stop_reason = "finished", None  # a stop asked after the last step
                else:
                    status, self.stop_reason = "stopped", self.stop_reason or "stop_after_epochs"
                stopped_by = self.stop_reason
                metrics = self._write_files(status=status)
                if self.dist.is_main:
                    self._log_figures_and_checkpoint()
                self.logger.finish(metrics)
            ok = True
        except KeyboardInterrupt:  # a signal that came before the handlers, or a second one
            self._record_end("stopped", "SIGINT")
            raise
        except BaseException as e:
            self._record_end("failed", error=str(e).splitlines()[0] if str(e) else type(e).__name__)
            raise
        finally:
            self.lock.release()
            cleanup(self.dist, meet=ok)
        if stopped_by in preempt.WARNING_NAMES:
            if self.dist.is_main:
                print(
                    f"snnexp: {self.run_dir}: stopped by {stopped_by} at epoch {self.epoch + 1}, step "
                    f"{self.step_in_epoch} (checkpoint saved); resume=auto continues it",
                    file=sys.stderr,
                    flush=True,
                )
            self.signals.hand_over()  # requeue, or end as the signal would have (engine/preempt.py)
        if stopped_by in ("SIGINT", "SIGTERM"):
            raise RunInterrupted(
                f"{self.run_dir}: stopped by {stopped_by} at epoch {self.epoch + 1}, step "
                f"{self.step_in_epoch} (checkpoint saved); resume=auto continues it",
                int(getattr(signal, stopped_by)),
            )
        return metrics

    def _log_figures_and_checkpoint(self) -> None:
        curves = plot_curves(self.history, self.cfg, self.run_dir / "curves.png")
        if curves:
            self.logger.log_images({"curves": curves[0]})  # the PNG (style.save writes it first)
        if self.cfg.logger.get("log_checkpoints"):
            best = self.ckpt_dir / "best.pt"
            self.logger.log_checkpoint(best if best.is_file() else self.ckpt_dir / "last.pt")

    def _one_epoch(self, epochs: int) -> dict[str, float] | None:
        """One epoch, its evaluation, checkpoint and files; None when a stop came inside it (its
        checkpoint is written, the epoch is not done)."""
        t_epoch = time.time()
        train = self.train_one_epoch()
        if self.step_in_epoch < self.steps_per_epoch:
            return None
        self.step_in_epoch = 0
        self.epoch_sums = Sums(self.device)
        self.epoch += 1
        self._check_finite()
        row = self._epoch_row(train, time.time() - t_epoch)
        self.history.append(row)
        best = self.best_row()
        row["best_acc1"] = best["test_acc1"] if best else float("nan")
        # checkpoint first: metrics.json is never ahead of last.pt (a crash in between resumes from it)
        try:
            self._save()
        except BaseException:  # the row joins the history with its checkpoint, or not at all
            self.history.pop()
            raise
        if self.cfg.trainer.keep_best and best is row:
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
        if test is not None and self.cfg.trainer.get("log_energy") and self.dist.is_main:
            self._log_energy()
        acc1 = test["acc1"] if test else float("nan")
        return {
            "epoch": self.epoch,
            "lr": self.opt.param_groups[0]["lr"],
            "train_loss": train["loss"],
            "train_acc1": train["acc1"],
            "test_loss": test["loss"] if test else float("nan"),
            "test_acc1": acc1,
            "test_acc5": test["acc5"] if test else float("nan"),
            "best_acc1": float("nan"),  # set by _one_epoch, with this row in the history
            "epoch_time_s": round(seconds, 3),
        }

    def _log_energy(self) -> None:
        """``trainer.log_energy``: firing rates and synaptic operations of this evaluation."""
        from snnexp.engine.energy_log import append_energy, energy_metrics

        metrics = energy_metrics(self.model, self.test_loader, self.device)
        self.logger.log(metrics, step=self.step)
        append_energy(self.run_dir, {"epoch": self.epoch, "step": self.step, **metrics})

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
            inside = self.step_in_epoch < self.steps_per_epoch
            if inside and self._stop_requested():  # request_stop(): this step is the last
                self._save()
                break
            if ckpt_every and self.step % ckpt_every == 0 and inside:
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


def train(cfg: DictConfig, run_dir: str | Path | None = None, jobs: int = 1, on_epoch=None) -> dict[str, Any]:
    """Train as the config says; returns the final metrics (also in ``<run_dir>/metrics.json``).
    ``jobs``: how many runs share this machine at once (a joblib sweep), for ``threads=auto``;
    ``on_epoch(epoch, row)`` is called after every epoch; a true result stops the run there.
    The config passes the config gate here, whatever path it came by (a sweep's job, a tune trial,
    a notebook's edited cfg)."""
    from snnexp.config.gate import check_config

    return Run(check_config(cfg, train=True), run_dir, jobs, on_epoch).fit()


__all__ = ["train", "Run"]
