"""DDP from the environment that ``torchrun`` (or SLURM via submitit) sets; a no-op otherwise."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from snnexp.errors import ConfigError


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(*names: str, default: int) -> int:
    for n in names:
        if os.environ.get(n):
            return int(os.environ[n])
    return default


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list: ``gpu[07-09,12],cpu1`` -> ``gpu07``."""
    m = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?([^,]*)", nodelist.strip())
    if not m:
        raise ConfigError(f"SLURM_JOB_NODELIST={nodelist!r}: not a SLURM node list")
    prefix, ranges, suffix = m.groups()
    first = ranges.split(",")[0].split("-")[0] if ranges else ""
    return f"{prefix}{first}{suffix}"


def _slurm_rendezvous() -> None:
    """srun sets the ranks but no rendezvous address: rank 0 runs on the first node of the job,
    and the port is derived from the job id (every task computes the same one; two jobs on one
    node get different ones). torchrun's or the user's MASTER_ADDR/MASTER_PORT win."""
    nodes = os.environ.get("SLURM_JOB_NODELIST") or os.environ.get("SLURM_NODELIST")
    if nodes and "MASTER_ADDR" not in os.environ:
        os.environ["MASTER_ADDR"] = first_host(nodes)
    job = os.environ.get("SLURM_JOB_ID", "")
    if job.isdigit() and "MASTER_PORT" not in os.environ:
        os.environ["MASTER_PORT"] = str(10_000 + int(job) % 50_000)


def init_distributed(device_kind: str) -> Dist:
    """Join the process group when launched by torchrun (RANK/WORLD_SIZE) or by srun with one
    task per GPU (SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID, the address from the node list)."""
    world = _env_int("WORLD_SIZE", "SLURM_NTASKS", default=1)
    if world <= 1:
        return Dist()
    rank = _env_int("RANK", "SLURM_PROCID", default=0)
    local = _env_int("LOCAL_RANK", "SLURM_LOCALID", default=0)
    if "WORLD_SIZE" not in os.environ:
        _slurm_rendezvous()
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29500")
    if not dist.is_initialized():
        backend = "nccl" if device_kind == "cuda" else "gloo"
        if device_kind == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend, rank=rank, world_size=world)
    return Dist(rank, world, local)


def all_reduce_sum(t: torch.Tensor, d: Dist) -> torch.Tensor:
    if d.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_str(s: str | None, d: Dist) -> str:
    """Rank 0's string on every rank (the run dir, so all ranks share one)."""
    if not d.enabled:
        return s or ""
    box = [s]
    dist.broadcast_object_list(box, src=0)
    return box[0] or ""


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()


def cleanup(d: Dist, meet: bool = True) -> None:
    """Destroy the process group. ``meet``: first wait for every rank (gloo aborts a rank that tears
    its group down while a peer still talks to it); False on an error path, where a peer may never come."""
    if d.enabled and dist.is_initialized():
        if meet:
            dist.barrier()
        dist.destroy_process_group()


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
