"""Static image data sets: digits (the offline demo), synthetic, CIFAR-10/100, ImageNet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import Dataset, TensorDataset

from snnexp.errors import ConfigError, DataError, choices_hint
from snnexp.registry import DATASETS

CIFAR_MEAN_STD = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    # the DSR authors' code (qymeng94/DSR cifar/main_single_gpu.py): the std widely copied in CIFAR
    # code (per-image std, averaged), smaller than the data set's, so inputs are ~1.2x larger
    "dsr_cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "dsr_cifar100": ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),
}
# the KEYS authors' code (VicenteAlex/Spiking_ResNet train.py, transforms.Normalize) uses the same
# widely copied std, for CIFAR-10 and CIFAR-100 alike; it sets the Poisson encoder's spike
# probability |x|/2 (KEYS Table 4)
CIFAR_MEAN_STD["keys_cifar10"] = CIFAR_MEAN_STD["dsr_cifar10"]
IMAGENET_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@DATASETS.register("digits")
def digits(cfg: DictConfig, split: str) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = cfg.data
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)  # pixel values are 0..16
    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=float(d.test_fraction), random_state=int(d.split_seed), stratify=y
    )
    xs, ys = (xtr, ytr) if split in ("train", "train_eval") else (xte, yte)
    return TensorDataset(torch.from_numpy(xs), torch.from_numpy(ys).long())


class SyntheticImages(Dataset):
    """Random images whose class is a fixed random pattern plus noise, so a model can learn it."""

    def __init__(self, n: int, num_classes: int, shape: tuple[int, ...], seed: int):
        g = torch.Generator().manual_seed(seed)
        protos = torch.rand((num_classes, *shape), generator=g)
        self.y = torch.randint(0, num_classes, (n,), generator=g)
        self.x = (0.5 * protos[self.y] + 0.5 * torch.rand((n, *shape), generator=g)).float()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


@DATASETS.register("synthetic")
def synthetic(cfg: DictConfig, split: str) -> Dataset:
    d = cfg.data
    shape = (int(d.in_channels), int(d.image_size), int(d.image_size))
    if d.get("sequence", False):
        shape = (int(cfg.T), *shape)
    n = int(d.train_size if split in ("train", "train_eval") else d.test_size)
    # same class prototypes for both splits (seed 0 draws them), different samples
    ds = SyntheticImages(n + (int(d.train_size) if split == "test" else 0), int(d.num_classes), shape, 0)
    if split == "test":
        ds.x, ds.y = ds.x[int(d.train_size) :], ds.y[int(d.train_size) :]
    return ds


def _missing(name: str, root: Path, layout: str) -> DataError:
    return DataError(
        f"{name} not found under {root}: put {layout} there (it cannot be downloaded "
        f"automatically) or set data.root=/path/to/{name}"
    )


class CifarBatches(Dataset):
    """CIFAR-10/100 from the python batches, read by the restricted unpickler (data/safe_pickle.py):
    images [N, 32, 32, 3] uint8 as torchvision's CIFAR10 holds them, the same PIL transform path."""

    def __init__(self, files: list[Path], label_key: str, transform):
        from snnexp.data.safe_pickle import load_batch

        xs, ys = [], []
        for f in files:
            entry = load_batch(f)
            data = entry.get("data") if isinstance(entry, dict) else None
            labels = entry.get(label_key) if isinstance(entry, dict) else None
            if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072 or labels is None:
                raise DataError(f"{f} is not a CIFAR batch (no 'data' [N, 3072] array and '{label_key}')")
            if len(labels) != len(data):
                raise DataError(f"{f}: {len(data)} images but {len(labels)} labels")
            xs.append(data.astype(np.uint8, copy=False))
            ys.extend(int(v) for v in labels)
        self.data = np.concatenate(xs).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        self.targets, self.transform = ys, transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.data[i])), self.targets[i]


def _md5(path: Path) -> str:
    import hashlib

    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cifar(cfg: DictConfig, split: str, cls, folder: str) -> Dataset:
    """``cls``: torchvision's class, only for its list of file names and md5 sums."""
    import torchvision.transforms as T

    d = cfg.data
    root = Path(d.root).expanduser()
    if not (root / folder).is_dir():
        raise _missing(d.name, root, f"torchvision's python batches ({folder}/)")
    # normalize_stats: whose mean/std (the KEYS authors normalise CIFAR-100 with CIFAR-10's)
    stats = str(d.get("normalize_stats") or d.name)
    if stats not in CIFAR_MEAN_STD:
        raise ConfigError(f"data.normalize_stats={stats!r}: {choices_hint(stats, list(CIFAR_MEAN_STD))}")
    mean, std = CIFAR_MEAN_STD[stats]
    tf = [T.ToTensor()] + ([T.Normalize(mean, std)] if d.normalize else [])
    if split == "train" and d.augment:  # not "train_eval": the training samples, evaluated
        tf = [T.RandomCrop(32, padding=int(d.crop_padding)), T.RandomHorizontalFlip()] + tf
    files = cls.train_list if split in ("train", "train_eval") else cls.test_list
    for name, md5 in files:
        p = root / folder / name
        # the md5 of the official batches; a subset or re-packed copy (and the tests' tiny
        # batches) needs data.verify_md5=false, and is then only read by the safe unpickler
        if not p.is_file() or (d.get("verify_md5", True) and _md5(p) != md5):
            raise DataError(
                f"{d.name} under {root} is incomplete or corrupt ({p.name} missing or not the official "
                "file); re-extract it, or set data.verify_md5=false for a non-official copy"
            )
    label_key = "labels" if d.name == "cifar10" else "fine_labels"
    return CifarBatches([root / folder / n for n, _ in files], label_key, T.Compose(tf))


@DATASETS.register("cifar10")
def cifar10(cfg: DictConfig, split: str) -> Dataset:
    from torchvision.datasets import CIFAR10

    return _cifar(cfg, split, CIFAR10, "cifar-10-batches-py")


@DATASETS.register("cifar100")
def cifar100(cfg: DictConfig, split: str) -> Dataset:
    from torchvision.datasets import CIFAR100

    return _cifar(cfg, split, CIFAR100, "cifar-100-python")


def load_rgb(path: str):
    """torchvision's PIL loader, with a one-line error naming a truncated or corrupt image file."""
    from PIL import Image

    try:
        with open(path, "rb") as f:
            img = Image.open(f)
            return img.convert("RGB")
    except OSError as e:  # PIL's UnidentifiedImageError and "image file is truncated" are OSErrors
        raise DataError(f"cannot read image {path}: {str(e).splitlines()[0][:120]}") from None


@DATASETS.register("imagenet")
def imagenet(cfg: DictConfig, split: str) -> Dataset:
    import torchvision.transforms as T
    from torchvision.datasets import ImageFolder

    d = cfg.data
    root = Path(d.root).expanduser()
    sub = root / ("train" if split in ("train", "train_eval") else "val")
    if not sub.is_dir():
        raise _missing("imagenet", root, "train/<wnid>/*.JPEG and val/<wnid>/*.JPEG (ImageFolder layout)")
    size = int(d.image_size)
    norm = T.Normalize(*IMAGENET_MEAN_STD)
    if split == "train":
        tf = T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(), norm])
    else:
        tf = T.Compose([T.Resize(int(d.resize)), T.CenterCrop(size), T.ToTensor(), norm])
    try:
        ds = ImageFolder(str(sub), transform=tf, loader=load_rgb)
    except (FileNotFoundError, RuntimeError) as e:
        raise DataError(f"imagenet {split} folder {sub} holds no images: {e}") from None
    if len(ds.classes) != int(d.num_classes):
        raise DataError(
            f"imagenet {sub} has {len(ds.classes)} class folders but data.num_classes="
            f"{d.num_classes}; fix the folder or the override"
        )
    return ds
