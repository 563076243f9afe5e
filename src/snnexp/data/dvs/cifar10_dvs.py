"""CIFAR10-DVS (10 classes, jAER AEDAT 2.0): the recordings are checked, converted by
spikingjelly's ``CIFAR10DVS`` and split per class (no official split; SEW: the first 90%)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig
from torch.utils.data import Dataset

from snnexp.data.dvs.aedat import check_aedat2
from snnexp.data.dvs.cache import Settings, build_folder, check_stale, convert_raw, extract, locked
from snnexp.data.dvs.frames import split_dataset
from snnexp.errors import DataError
from snnexp.registry import DATASETS

CIFAR10_DVS_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)  # = spikingjelly's CIFAR10DVS_CLASS_NAMES
CIFAR_LAYOUT = (
    "the 10 class archives from figshare ({zips}) in {root}/download/, or their extracted "
    "class folders as {root}/extract/<class>/cifar10_<class>_<i>.aedat"
)


def _cifar_layout(root: Path) -> str:
    return CIFAR_LAYOUT.format(root=root, zips=", ".join(f"{c}.zip" for c in CIFAR10_DVS_CLASSES))


class _Recordings:
    """``root/extract/<class>/`` and the ``root/download/<class>.zip`` archives it comes from."""

    def __init__(self, root: Path):
        self.root, self.download, self.extract = root, root / "download", root / "extract"
        self.zips = {c: self.download / f"{c}.zip" for c in CIFAR10_DVS_CLASSES}
        self.to_extract = [c for c in CIFAR10_DVS_CLASSES if not (self.extract / c).is_dir()]

    def regenerated(self) -> list[Path]:
        """Class folders a retry extracts again (those with an archive)."""
        return [
            self.extract / c
            for c in CIFAR10_DVS_CLASSES
            if self.zips[c].is_file() and (self.extract / c).exists()
        ]

    def check_layout(self) -> None:
        """Every class is extracted or has its archive, and nothing else is in ``extract/``."""
        missing = [c for c in self.to_extract if not self.zips[c].is_file()]
        if len(missing) == len(CIFAR10_DVS_CLASSES):
            raise DataError(
                f"cifar10_dvs not found under {self.root}: put {_cifar_layout(self.root)}; it cannot be "
                f"downloaded automatically (or set data.root=/path/to/cifar10_dvs)"
            )
        if missing:
            raise DataError(
                f"cifar10_dvs under {self.root} lacks the class(es) {', '.join(missing)}: put "
                f"{self.extract}/<class>/cifar10_<class>_<i>.aedat or {self.download}/<class>.zip for "
                f"each ({', '.join(f'{c}.zip' for c in missing)} from figshare)"
            )
        if self.extract.is_dir():
            stray = sorted(p.name for p in self.extract.iterdir() if p.name not in CIFAR10_DVS_CLASSES)
            if stray:
                raise DataError(
                    f"cifar10_dvs: {self.extract} must hold only the 10 class folders (spikingjelly "
                    f"converts every entry); move away {', '.join(stray)}"
                )

    def files(self) -> list[Path]:
        out = []
        for c in CIFAR10_DVS_CLASSES:
            found = sorted((self.extract / c).iterdir())
            if not found:
                raise DataError(
                    f"cifar10_dvs: {self.extract / c} is empty; put the class's .aedat files there"
                )
            out += found
        return out

    def check(self, paths: list[Path], from_zip: bool = False) -> None:
        for p in paths:
            fix = (
                f"{self.zips[p.parent.name]} is broken: download it again"
                if from_zip
                else f"replace it with the original from {p.parent.name}.zip"
            )
            if not p.is_file():
                raise DataError(
                    f"cifar10_dvs: {p} is not a file; "
                    f"{self.extract}/<class>/ must hold only the .aedat recordings"
                )
            check_aedat2(p, fix)

    def extract_missing(self) -> None:
        """Extract the classes that are only archives, then check every recording (run under
        the ``events_np`` marker, so a failure removes what was extracted)."""
        from torchvision.datasets.utils import extract_archive

        self.extract.mkdir(exist_ok=True)
        for c in self.to_extract:
            extract(self.zips[c], lambda c=c: extract_archive(str(self.zips[c]), str(self.extract)))
            if not (self.extract / c).is_dir():
                raise DataError(f"{self.zips[c]} holds no {c}/ folder; download it again")
        done = self.files()
        self.check([p for p in done if p.parent.name not in self.to_extract])
        self.check([p for p in done if p.parent.name in self.to_extract], from_zip=True)


def _prepare_cifar(s: Settings) -> None:
    from spikingjelly.datasets import CIFAR10DVS

    rec = _Recordings(s.root)
    check_stale(s.raw_dir, rec.regenerated())
    if s.cache:
        check_stale(s.frames_dir)
    if s.raw_dir.is_dir():
        return
    rec.check_layout()
    if not rec.to_extract:
        rec.check(rec.files())
    convert_raw(
        s,
        rec.extract,
        lambda raw: CIFAR10DVS.create_raw_from_extracted(rec.extract, raw),
        rec.extract_missing if rec.to_extract else None,
        [rec.extract / c for c in rec.to_extract],
    )


def _sample_number(path: str) -> int:
    m = re.search(r"(\d+)$", Path(path).stem)
    if m is None:
        raise DataError(
            f"cifar10_dvs: {path} has no sample number at the end of its name "
            f"(cifar10_<class>_<i>); use data.split_order=name"
        )
    return int(m.group(1))


def _split_key(folder, order: str, by_duration: bool) -> Callable[[int], object] | None:
    """The order in which the first ``train_ratio`` of a class train. spikingjelly's fixed-duration
    frame files are named ``<sample>_<number of frames>.npz``: the suffix is dropped so that the split
    is the same recordings as with frames by count (``<sample>.npz``, in file-name order)."""

    def stem(i: int) -> str:
        name = Path(folder.samples[i][0]).stem
        return name.rsplit("_", 1)[0] if by_duration else name

    if order == "number":
        return lambda i: _sample_number(stem(i))
    return (lambda i: stem(i) + ".npz") if by_duration else None


def split_by_class(
    targets: list[int], ratio: float, train: bool, key: Callable[[int], object] | None = None
) -> list[int]:
    """Per class, the first ``ceil(n * ratio)`` indices (in dataset order, or sorted by ``key``)
    for training and the rest for testing: spikingjelly's ``split_to_train_test_set`` with
    ``random_split=False`` (what SEW used), computed from the targets instead of loading every
    sample, and without its float round-off (``ceil(70 * 0.9)`` is 64 there)."""
    by_class: dict[int, list[int]] = {}
    for i, t in enumerate(targets):
        by_class.setdefault(t, []).append(i)
    out = []
    for c in sorted(by_class):
        idx = sorted(by_class[c], key=key) if key is not None else by_class[c]
        n_train = math.ceil(round(len(idx) * ratio, 9))
        out += idx[:n_train] if train else idx[n_train:]
    return out


@DATASETS.register("cifar10_dvs")
def cifar10_dvs(cfg: DictConfig, split: str) -> Dataset:
    from spikingjelly.datasets import CIFAR10DVS

    s = Settings(cfg, split, len(CIFAR10_DVS_CLASSES))
    if not s.root.is_dir():
        raise DataError(
            f"cifar10_dvs not found: {s.root} does not exist; put "
            f"{_cifar_layout(s.root)} (or set data.root=/path/to/cifar10_dvs)"
        )
    with locked(s.root):
        _prepare_cifar(s)
        folder = build_folder(s, lambda: CIFAR10DVS(str(s.root), **s.folder_kwargs()))
    if list(folder.classes) != list(CIFAR10_DVS_CLASSES):
        raise DataError(
            f"cifar10_dvs: {folder.root} holds class folders {folder.classes}, expected "
            f"{', '.join(CIFAR10_DVS_CLASSES)}; delete {s.raw_dir} and retry"
        )
    key = _split_key(folder, str(cfg.data.split_order), s.duration_us is not None)
    indices = split_by_class(folder.targets, float(cfg.data.train_ratio), s.train, key)
    return split_dataset(s, folder, indices, list(range(len(CIFAR10_DVS_CLASSES))))
