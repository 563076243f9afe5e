"""The training loop: one epoch of steps, an evaluation, a summary row, a checkpoint; repeat.

Resume is exact: a checkpoint holds model, optimizer, scheduler, scaler, RNG states, the epoch,
the step, the position inside the epoch and the history of epoch rows; the data order of every
epoch depends only on (seed, epoch), so training 2 epochs straight or 1 + resume + 1 gives the
same bits on CPU.
"""

from __future__ import annotations

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
from snnexp.engine import fastpath
from snnexp.engine.device import pick_device, to_time_major
from snnexp.engine.distributed import Dist, all_reduce_sum, barrier, broadcast_str, cleanup, init_distributed
from snnexp.engine.metrics import Sums
from snnexp.engine.optim import build_optimizer
from snnexp.engine.schedule import build_scheduler
from snnexp.engine.steps import StepContext, make_loss
from snnexp.errors import CheckpointError, ConfigError
from snnexp.runfiles import write_metrics, write_summary


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


def convert_sync_bn(model: nn.Module) -> nn.Module:
    """SyncBN for the multi-step BNs (spikingjelly's layer.BatchNorm*d flatten [T,B] first);
    torch's convert_sync_batchnorm would drop that flattening, so swap them by hand."""
    from spikingjelly.activation_based import layer

    for name, child in model.named_children():
        if isinstance(child, (layer.BatchNorm1d, layer.BatchNorm2d, layer.BatchNorm3d)):
            sync = nn.SyncBatchNorm(
                child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats
            )
            sync.load_state_dict(child.state_dict())
            setattr(model, name, layer.SeqToANNContainer(sync))
        elif isinstance(child, nn.modules.batchnorm._BatchNorm) and hasattr(child, "sync"):
            child.sync = True  # tdBN syncs its own statistics over the ranks (any backend)
        elif isinstance(child, nn.modules.batchnorm._BatchNorm):
            raise ConfigError(
                f"trainer.sync_bn=true supports norm=bn|tdbn only (found {type(child).__name__})"
            )
        else:
            convert_sync_bn(child)
    return model


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

    def __init__(self, cfg: DictConfig, run_dir: str | Path | None = None):
        self.cfg = cfg
        self.t0 = time.time()
        self.dist = init_distributed(
            "cuda" if cfg.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
        )
        self.device = pick_device(cfg.device, self.dist)
        seed_everything(int(cfg.seed), bool(cfg.deterministic))
        self.run_dir = Path(broadcast_str(str(run_dir or new_run_dir()), self.dist))
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.resume_from = self._resume_path()

        from snnexp.build import build_method, build_model
        from snnexp.data import build_data

        self.method = build_method(cfg)  # before model and data: a bad method fails fast
        self.model = build_model(cfg).to(self.device)
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
        self.history: list[dict[str, float]] = []
        if self.resume_from:
            self._load(self.resume_from)
        from snnexp.loggers import build_logger

        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        self.logger = build_logger(cfg, self.run_dir, self.dist.is_main, self.step)

    # ------------------------------------------------------------------ resume
    def _resume_path(self) -> Path | None:
        r = self.cfg.resume
        last = self.ckpt_dir / "last.pt"
        if self.dist.is_main:
            ck.remove_stale_tmp(self.ckpt_dir)  # a write cut short by a crash
        if r in (None, "", "none"):
            if last.is_file() or (self.run_dir / "metrics.json").is_file():
                raise CheckpointError(
                    f"{self.run_dir} already holds a run; resume=auto continues it, or pick another "
                    "hydra.run.dir (nothing was overwritten)"
                )
            return None
        if r == "auto":
            return last if last.is_file() else None
        p = Path(r).expanduser()
        if not p.is_file():
            raise CheckpointError(
                f"resume={r}: no such checkpoint file (use resume=auto to continue the run in hydra.run.dir)"
            )
        return p

    def _load(self, path: Path) -> None:
        c = ck.load_checkpoint(path, map_location=self.device)
        ck.load_weights(self.model, c, path, hint="; resume with the overrides it was trained with")
        self.opt.load_state_dict(c["optimizer"])
        self.sched.load_state_dict(c["scheduler"])
        self.scaler.load_state_dict(c["scaler"])
        ck.set_rng_state(c["rng"])
        self.epoch, self.step, self.step_in_epoch = c["epoch"], c["step"], c["step_in_epoch"]
        self.history = list(c.get("history", []))
        if self.dist.is_main:
            where = f"epoch {self.epoch}" + (f", batch {self.step_in_epoch}" if self.step_in_epoch else "")
            print(f"snnexp: resumed from {path} at {where}", file=sys.stderr)

    def _save(self, name: str = "last.pt") -> None:
        if not self.dist.is_main:
            return
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": ck.rng_state(),
            "epoch": self.epoch,
            "step": self.step,
            "step_in_epoch": self.step_in_epoch,
            "history": self.history,
            "config": OmegaConf.to_yaml(self.cfg, resolve=True),
            "snnexp_version": 1,
        }
        ck.save_atomic(state, self.ckpt_dir / name)

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
        if self.epoch >= epochs and self.dist.is_main:
            print(f"snnexp: {self.run_dir} already finished {epochs} epochs", file=sys.stderr)
        stop = self.cfg.trainer.get("stop_after_epochs")
        until = epochs if not stop else min(epochs, self.epoch + int(stop))
        try:
            while self.epoch < until:
                t_epoch = time.time()
                train = self.train_one_epoch()
                self.step_in_epoch = 0
                self.epoch += 1
                row = self._epoch_row(train, time.time() - t_epoch)
                self.history.append(row)
                self._write_files(status="running")
                self._save()
                if self.cfg.trainer.keep_best and row["test_acc1"] >= row["best_acc1"]:
                    self._mark_best()
                self._print_row(row, epochs)
                self.logger.log({f"epoch/{k}": v for k, v in row.items()}, step=self.step)
                barrier(self.dist)
            metrics = self._write_files(status="finished" if self.epoch >= epochs else "running")
            if self.dist.is_main:
                self._plot_curves()
            self.logger.finish(metrics)
            return metrics
        finally:
            cleanup(self.dist)

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
        sums = Sums(self.device)
        t, every = self.cfg.trainer, int(self.cfg.logger.get("log_every", 50))
        ckpt_every = int(t.ckpt_every_steps)
        images_per_step = int(t.batch_size)  # global batch: the bar shows img/s of the whole job
        bar = self._bar(
            (self.steps_per_epoch - self.step_in_epoch) * images_per_step,
            f"epoch {self.epoch + 1}/{t.epochs}",
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
                bar.update(images_per_step)
                bar.set_postfix(
                    loss=f"{loss.item():.3f}", lr=f"{self.opt.param_groups[0]['lr']:.3g}", refresh=False
                )
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
        if not (self.cfg.trainer.progress and self.dist.is_main):
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
            "best_epoch": best_row.get("epoch"),
            "params": self.n_params,
            "experiment_name": self.cfg.get("experiment_name"),
            "world_size": self.dist.world_size,
            "wall_time_s": round(time.time() - self.t0, 2),
            "run_dir": str(self.run_dir),
        }
        if self.dist.is_main:
            write_summary(self.run_dir, self.history)
            write_metrics(self.run_dir, metrics)
        return metrics

    def _plot_curves(self) -> None:
        if not self.history:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ep = [r["epoch"] for r in self.history]
        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
        a.plot(ep, [r["train_loss"] for r in self.history], label="train")
        a.plot(ep, [r["test_loss"] for r in self.history], label="test")
        a.set(xlabel="epoch", ylabel="loss", title="loss")
        b.plot(ep, [r["train_acc1"] for r in self.history], label="train")
        b.plot(ep, [r["test_acc1"] for r in self.history], label="test top-1")
        b.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
        for ax in (a, b):
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(f"{self.cfg.model.name} on {self.cfg.data.name} (T={self.cfg.T})")
        fig.tight_layout()
        fig.savefig(self.run_dir / "curves.png", dpi=110)
        plt.close(fig)


def train(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    """Train as the config says; returns the final metrics (also in ``<run_dir>/metrics.json``)."""
    return Run(cfg, run_dir).fit()


__all__ = ["train", "Run"]
