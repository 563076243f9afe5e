"""tdBN under DDP (TDBN supplement C: sync-BN on 8 GPUs): with the gloo backend on CPU, 2 processes
give the same statistics, outputs and losses as 1 process with the same global batch."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from conftest import FAST
from snnexp.norms.tdbn import ThresholdDependentBN
from test_ddp import _free_port

T, B, C = 3, 8, 4


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    conv = torch.nn.Conv2d(2, C, 3, padding=1)
    bn = ThresholdDependentBN(C, alpha=0.5, v_threshold=1.0, dims=2, eps=1e-5, momentum=0.1)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    x = torch.randn(T, B, 2, 5, 5) * 3 + 1
    target = torch.randn(T, B, C, 5, 5)
    return conv, bn, x, target


def _step(conv, bn, x, target):
    """forward, loss (mean over the local batch), backward; a second forward for the running stats."""
    x = x.clone().requires_grad_(True)
    y = bn(conv(x.flatten(0, 1)).unflatten(0, (x.shape[0], x.shape[1])))
    loss = ((y - target) ** 2).mean()
    loss.backward()
    bn(conv(x.detach().flatten(0, 1)).unflatten(0, (x.shape[0], x.shape[1])))
    return y.detach(), loss.detach(), x.grad


def _worker(rank: int, world: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    conv, bn, x, target = _setup()
    bn.sync = True
    part = slice(rank * B // world, (rank + 1) * B // world)
    y, loss, gx = _step(conv, bn, x[:, part], target[:, part])
    for p in (conv.weight, conv.bias, bn.weight, bn.bias):  # what DDP does to the gradients
        dist.all_reduce(p.grad)
        p.grad /= world
    torch.save(
        {
            "y": y,
            "loss": loss,
            "gx": gx,
            "grads": [p.grad for p in (conv.weight, bn.weight, bn.bias)],
            "stats": (bn.running_mean, bn.running_var),
        },
        f"{out}/rank{rank}.pt",
    )
    # gloo aborts a process (SIGABRT, "terminate called without an active exception") that tears its
    # group down while the peer still talks to it; meet first (CI failure of 2026-11-27, ~1 run in 4)
    dist.barrier()
    dist.destroy_process_group()


def test_tdbn_statistics_outputs_and_gradients_sync_over_gloo_ranks(tmp_path):
    world = 2
    mp.spawn(_worker, args=(world, f"file://{tmp_path}/init", str(tmp_path)), nprocs=world, join=True)
    conv, bn, x, target = _setup()
    y, loss, gx = _step(conv, bn, x, target)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(world)]
    assert torch.allclose(torch.cat([r["y"] for r in ranks], dim=1), y, atol=1e-5)  # outputs
    assert sum(float(r["loss"]) for r in ranks) / world == pytest.approx(float(loss), rel=1e-5)
    for r in ranks:  # running statistics: those of the global batch, on every rank
        assert torch.allclose(r["stats"][0], bn.running_mean, atol=1e-6)
        assert torch.allclose(r["stats"][1], bn.running_var, rtol=1e-5)
        for g, p in zip(r["grads"], (conv.weight, bn.weight, bn.bias), strict=True):
            assert torch.allclose(g, p.grad, rtol=1e-4, atol=1e-6)
    # the input gradient flows through the shared statistics: rank r holds world x d(global loss)/dx
    assert torch.allclose(torch.cat([r["gx"] for r in ranks], dim=1), world * gx, rtol=1e-4, atol=1e-6)


ARGS = [*FAST, "trainer.epochs=1", "norm=tdbn", "trainer.sync_bn=true", "logger=csv", "logger.log_every=1"]


def _train(run_dir, tmp_path, ddp: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env |= {"WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    launch = (
        ["-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}"] if ddp else []
    )
    p = subprocess.run(
        [sys.executable, *launch, "-m", "snnexp.cli", "train", *ARGS, f"hydra.run.dir={run_dir}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_trainer_sync_bn_with_tdbn_on_two_cpu_processes_matches_one(tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    _train(single, tmp_path, ddp=False)
    _train(ddp, tmp_path, ddp=True)

    def losses(d):
        return [float(r["train/loss"]) for r in csv.DictReader(open(d / "metrics_steps.csv"))]

    a, b = losses(single), losses(ddp)
    assert len(a) == len(b) == 4 and b[:3] == pytest.approx(a[:3], rel=1e-4, abs=1e-6)
    m = json.loads((ddp / "metrics.json").read_text())
    assert m["world_size"] == 2
    assert m["last_acc1"] == pytest.approx(json.loads((single / "metrics.json").read_text())["last_acc1"])
    sa = torch.load(single / "checkpoints" / "last.pt", weights_only=False)["model"]
    sb = torch.load(ddp / "checkpoints" / "last.pt", weights_only=False)["model"]
    stats = [k for k in sa if k.endswith(("running_mean", "running_var"))]
    assert stats and all(torch.allclose(sa[k], sb[k], rtol=1e-3, atol=1e-5) for k in stats)
