"""Data loaders: datasets from the registry, a resumable sampler, worker seeding; the loader an
evaluation of either split reads (``build_eval_loader``)."""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset

from snnexp.data.sampler import EpochSampler
from snnexp.registry import DATASETS, discover


def build_dataset(cfg: DictConfig, split: str) -> Dataset:
    discover("snnexp.data")  # every data set module registers itself when imported
    return DATASETS.get(cfg.data.name)(cfg, split)


def _seed_worker(worker_id: int) -> None:
    import random

    import numpy as np

    seed = torch.initial_seed() % 2**32  # set per worker by the DataLoader from its generator
    np.random.seed(seed)
    random.seed(seed)


def build_data(cfg: DictConfig, rank: int = 0, world_size: int = 1) -> tuple[DataLoader, DataLoader]:
    """(train_loader, test_loader). The train sampler is an :class:`EpochSampler`: call
    ``loader.sampler.set_epoch(epoch, start_batch)`` before each epoch (the engine does)."""
    t = cfg.trainer
    train_set, test_set = build_dataset(cfg, "train"), build_dataset(cfg, "test")
    bs, ebs = int(t.batch_size), int(t.eval_batch_size or t.batch_size)
    if bs % world_size:
        from snnexp.errors import ConfigError

        raise ConfigError(f"trainer.batch_size={bs} (global) is not divisible by the {world_size} processes")
    pin = torch.cuda.is_available()
    common = dict(
        num_workers=int(t.num_workers), pin_memory=pin, worker_init_fn=_seed_worker, persistent_workers=False
    )
    train_sampler = EpochSampler(
        len(train_set),
        bs // world_size,
        shuffle=True,
        seed=int(cfg.seed),
        rank=rank,
        world_size=world_size,
        drop_last=bool(t.get("drop_last", True)),
    )
    test_sampler = EpochSampler(
        len(test_set),
        ebs // world_size if ebs >= world_size else 1,
        shuffle=False,
        rank=rank,
        world_size=world_size,
        drop_last=False,
    )
    # a data set may transform whole batches (one temporal delete per batch, data/dvs/frames.py)
    common_train = {**common, "collate_fn": getattr(train_set, "batch_collate", None)}
    # own generators: a DataLoader iterator otherwise draws its worker base seed from the global
    # generator, shifting every later random draw (Poisson encoding) by one per epoch and per eval;
    # the engine reseeds the train one per epoch
    train = DataLoader(
        train_set, batch_sampler=train_sampler, generator=torch.Generator().manual_seed(0), **common_train
    )
    test = DataLoader(
        test_set, batch_sampler=test_sampler, generator=torch.Generator().manual_seed(0), **common
    )
    return train, test


def build_eval_loader(cfg: DictConfig, split: str) -> DataLoader:
    """The loader an evaluation of ``split`` reads: every sample once, in order, with the test
    transforms (for ``train``: the training samples without augmentation), so that the same
    checkpoint gives the same numbers every time."""
    ds = build_dataset(cfg, "train_eval" if split == "train" else "test")
    t = cfg.trainer
    sampler = EpochSampler(len(ds), int(t.eval_batch_size or t.batch_size), shuffle=False, drop_last=False)
    return DataLoader(
        ds,
        batch_sampler=sampler,
        num_workers=int(t.num_workers),
        pin_memory=torch.cuda.is_available(),
        worker_init_fn=_seed_worker,
        generator=torch.Generator().manual_seed(0),
    )
