"""The real static-image loaders on tiny files written in the real formats."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

import snnexp
from snnexp.data import build_dataset
from snnexp.data.sampler import EpochSampler
from snnexp.errors import DataError


def write_cifar10(root, n=6):
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        # the official batches are Python-2 pickles whose str keys load as str under latin1
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "labels": list(range(n))}
        (d / name).write_bytes(pickle.dumps(batch))
    (d / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))
    return batch


def test_cifar10_pickles(tmp_path):
    last = write_cifar10(tmp_path)
    cfg = snnexp.compose(["data=cifar10", f"data.root={tmp_path}", "data.verify_md5=false"])
    train, test = build_dataset(cfg, "train"), build_dataset(cfg, "test")
    assert len(train) == 30 and len(test) == 6
    x, y = test[2]
    assert x.shape == (3, 32, 32) and y == 2
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    raw = torch.tensor(last["data"][2]).view(3, 32, 32).float() / 255  # CHW, as CIFAR stores it
    expect = (raw - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    assert torch.allclose(x, expect, atol=1e-5)
    # the md5 check of the official files is on by default and fails on these
    with pytest.raises(DataError, match="incomplete or corrupt"):
        build_dataset(snnexp.compose(["data=cifar10", f"data.root={tmp_path}"]), "train")


def test_imagenet_imagefolder_png_tree(tmp_path):
    for split in ("train", "val"):
        for c in ("n01", "n02"):
            (tmp_path / split / c).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(np.full((40, 30, 3), 60 * i, np.uint8)).save(
                    tmp_path / split / c / f"{i}.png"
                )
    cfg = snnexp.compose(
        [
            "data=imagenet",
            f"data.root={tmp_path}",
            "data.num_classes=2",
            "data.image_size=16",
            "data.resize=20",
        ]
    )
    tr, te = build_dataset(cfg, "train"), build_dataset(cfg, "test")
    assert len(tr) == 4 and tr[0][0].shape == (3, 16, 16) and te[3][1] == 1
    with pytest.raises(DataError, match="has 2 class folders but data.num_classes=1000"):
        build_dataset(snnexp.compose(["data=imagenet", f"data.root={tmp_path}"]), "train")


def test_digits_is_real_and_split_is_stratified():
    cfg = snnexp.compose([])
    tr, te = build_dataset(cfg, "train"), build_dataset(cfg, "test")
    assert len(tr) + len(te) == 1797 and len(te) == 450
    x, _ = tr[0]
    assert x.shape == (1, 8, 8) and 0 <= x.min() and x.max() <= 1
    counts = torch.bincount(te.tensors[1], minlength=10)
    assert counts.min() >= 43 and counts.max() <= 46  # 25% of each class (174..183 each)


def test_epoch_sampler_resume_and_ranks():
    s = EpochSampler(10, 3, shuffle=True, seed=1, drop_last=True)
    s.set_epoch(2)
    full = list(s)
    s.set_epoch(2, start_batch=1)
    assert list(s) == full[1:]
    s.set_epoch(3)
    assert list(s) != full  # each epoch its own order
    ranks = [EpochSampler(10, 2, shuffle=True, seed=1, rank=r, world_size=2, drop_last=True) for r in (0, 1)]
    a, b = (sum(list(r), []) for r in ranks)
    assert not set(a) & set(b) and len(a) == len(b) == 4
    ev = [sum(list(EpochSampler(7, 2, shuffle=False, rank=r, world_size=2)), []) for r in (0, 1)]
    assert sorted(ev[0] + ev[1]) == list(range(7))  # evaluation sees every sample exactly once
