"""A batch sampler that is resumable and distributed in one.

Each epoch's order is a permutation drawn from ``seed + epoch`` alone, so epoch e is the same
whether the run went straight through or was resumed, and ``set_epoch(e, start_batch=k)`` skips
the first k batches (resuming in the middle of an epoch). With ``world_size`` > 1 each rank takes
every world_size-th sample of the permutation (like DistributedSampler), padded so that all
ranks see the same number of batches.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[list[int]]):
    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
    ):
        if n == 0:
            raise ValueError("empty data set")
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def _indices(self) -> list[int]:
        if not self.shuffle:  # evaluation: every sample exactly once over all ranks, no padding
            return list(range(self.rank, self.n, self.world_size))
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        per_rank = math.ceil(self.n / self.world_size)
        if self.drop_last and self.world_size > 1:
            per_rank = self.n // self.world_size
        total = per_rank * self.world_size
        order = (order + order[: max(0, total - self.n)])[:total]  # pad by wrapping around
        return order[self.rank : total : self.world_size]

    def __len__(self) -> int:
        per_rank = len(self._indices())
        full = per_rank // self.batch_size
        return full if self.drop_last or per_rank % self.batch_size == 0 else full + 1

    def batches_per_epoch(self) -> int:
        return len(self)

    def __iter__(self) -> Iterator[list[int]]:
        idx = self._indices()
        for b in range(self.start_batch, len(self)):
            yield idx[b * self.batch_size : (b + 1) * self.batch_size]
