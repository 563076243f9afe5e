"""Gradient accumulation (trainer.accumulate=N): N micro-batches per optimizer step equal the
whole batch in one pass, to float rounding, when no layer keeps batch statistics."""

from __future__ import annotations

import csv

import pytest
import torch
from torch import nn

import snnexp
from conftest import FAST
from snnexp.engine.checkpoint import load_checkpoint
from snnexp.engine.steps import StepContext

# norm=none: no batch statistics, so a micro-batch's forward is the same function as the batch's
NO_STATS = [*FAST, "norm=none", "logger=csv", "logger.log_every=1"]


def _train(tmp_path, name, *extra):
    cfg = snnexp.compose([*NO_STATS, *extra])
    return snnexp.train(cfg, run_dir=str(tmp_path / name)), tmp_path / name


def _ckpt(d):
    return load_checkpoint(d / "checkpoints/last.pt")


def _step_rows(d):
    return list(csv.DictReader(open(d / "metrics_steps.csv")))


def test_accumulate_equals_the_whole_batch_without_batch_statistics(tmp_path):
    """batch 16 as 4 micro-batches of 4: the gradient is the same sum, added in another order.
    Float32 addition is not associative: each gradient element differs by a few ulps (~1e-7
    relative), and 8 Adam steps (lr 1e-3, each step at most ~lr per weight) carry that into the
    weights at ~1e-8; 1e-6 absolute leaves a margin of ~30x and is still ~1e-4 of one Adam step."""
    whole, dw = _train(tmp_path, "whole")
    micro, dm = _train(tmp_path, "micro", "trainer.accumulate=4")
    cw, cm = _ckpt(dw), _ckpt(dm)
    # the schedule and the step count are the optimizer's: 4 steps per epoch either way
    assert cw["step"] == cm["step"] == 8, (cw["step"], cm["step"])
    assert cm["optimizer"]["state"][0]["step"] == cw["optimizer"]["state"][0]["step"] == 8
    for k, v in cw["model"].items():
        diff = (v.float() - cm["model"][k].float()).abs().max().item()
        assert diff < 1e-6, f"{k}: max |whole - micro| = {diff:.3g}"
    # logged per optimizer step, with the loss of the whole batch and the same lr
    rw, rm = _step_rows(dw), _step_rows(dm)
    assert [r["step"] for r in rw] == [r["step"] for r in rm] and len(rw) == 8
    for a, b in zip(rw, rm, strict=True):
        assert float(a["train/lr"]) == float(b["train/lr"])
        assert float(a["train/loss"]) == pytest.approx(float(b["train/loss"]), rel=1e-5), (a, b)
    assert whole["last_acc1"] == micro["last_acc1"]


def test_uneven_micro_batches_weight_each_by_its_size():
    """16 samples as 3 micro-batches (6, 5, 5): the weighted micro means are the batch mean."""
    ctx = StepContext(loss_fn=None, scaler=None, autocast=None, num_classes=10, accumulate=3)
    x, y = torch.randn(16, 3), torch.arange(16)
    parts = list(ctx.micro_batches(nn.Identity(), x, y))
    assert [len(p[1]) for p in parts] == [6, 5, 5]
    assert sum(w * xi.mean(0) for xi, _, w in parts) == pytest.approx(x.mean(0), abs=1e-6)
    seq = torch.randn(2, 16, 1, 4, 4)  # [T, B, C, H, W]: split along the batch, dim 1
    assert [p[0].shape[1] for p in ctx.micro_batches(nn.Identity(), seq, y)] == [6, 5, 5]


def test_ddp_syncs_only_the_last_micro_batch(tmp_path, monkeypatch):
    """Under DDP the non-final micro-batches run inside no_sync(): one all-reduce per step."""
    import torch.distributed as dist

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        ddp = nn.parallel.DistributedDataParallel(nn.Linear(3, 2))
        inside = []
        real = ddp.no_sync

        def spy():
            inside.append(True)
            return real()

        monkeypatch.setattr(ddp, "no_sync", spy)
        ctx = StepContext(loss_fn=None, scaler=None, autocast=None, num_classes=2, accumulate=4)
        for xi, _, _ in ctx.micro_batches(ddp, torch.randn(8, 3), torch.zeros(8, dtype=torch.long)):
            ddp(xi).sum().backward()
        assert len(inside) == 3, inside
    finally:
        dist.destroy_process_group()


def test_resume_with_accumulation_is_bitwise(tmp_path):
    """Checkpoints fall between optimizer steps, never inside one: a resume is exact."""
    _train(tmp_path, "straight", "trainer.accumulate=2")
    _train(tmp_path, "split", "trainer.accumulate=2", "trainer.stop_after_epochs=1")
    _train(tmp_path, "split", "trainer.accumulate=2", "resume=auto")
    a, b = _ckpt(tmp_path / "straight"), _ckpt(tmp_path / "split")
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k


def test_more_micro_batches_than_samples_is_one_line(tmp_path):
    from snnexp.errors import ConfigError

    with pytest.raises(ConfigError, match=r"trainer.accumulate=32 .* 16 samples"):
        _train(tmp_path, "bad", "trainer.accumulate=32")
