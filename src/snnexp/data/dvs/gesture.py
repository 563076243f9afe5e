"""DVS128 Gesture (IBM, 11 classes, AEDAT 3.1): the recordings are checked, converted by
spikingjelly's ``DVS128Gesture`` and served with its official train/test trials."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from torch.utils.data import Dataset

from snnexp.data.dvs.aedat import check_aedat31
from snnexp.data.dvs.cache import Settings, build_folder, check_stale, convert_raw, extract, locked, one_line
from snnexp.data.dvs.frames import split_dataset
from snnexp.errors import DataError
from snnexp.registry import DATASETS

GESTURE_CLASSES = 11
GESTURE_LAYOUT = (
    "DvsGesture.tar.gz (IBM's download) in {root}/download/, or its extracted DvsGesture/ "
    "folder (trials_to_train.txt, trials_to_test.txt, userNN_<light>.aedat, "
    "userNN_<light>_labels.csv) as {root}/extract/DvsGesture/"
)
GESTURE_FIX = "replace it with the original from DvsGesture.tar.gz"


def _gesture_trials(src: Path, fix: str = "re-extract DvsGesture.tar.gz there") -> list[tuple[Path, Path]]:
    lists = [src / "trials_to_train.txt", src / "trials_to_test.txt"]
    absent = [p.name for p in lists if not p.is_file()]
    if absent:
        raise DataError(f"dvs_gesture: {src} lacks {', '.join(absent)}; {fix}")
    trials = []
    for lst in lists:
        for line in lst.read_text().splitlines():
            if line.strip():
                name = line.strip()
                stem = os.path.splitext(name)[0]
                trials.append((src / name, src / f"{stem}_labels.csv"))
    if not trials:
        raise DataError(
            f"dvs_gesture: trials_to_train.txt and trials_to_test.txt in {src} list no recordings; {fix}"
        )
    missing = [p.name for pair in trials for p in pair if not p.is_file()]
    if missing:
        more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        raise DataError(
            f"dvs_gesture: {src} lacks {', '.join(missing[:4])}{more} (listed in trials_to_*.txt); {fix}"
        )
    return trials


def check_gesture_labels(path: Path, fix: str = GESTURE_FIX) -> None:
    try:
        rows = np.loadtxt(path, dtype=np.int64, delimiter=",", skiprows=1, ndmin=2)
    except (ValueError, OSError) as e:
        raise DataError(f"{path} is not a readable labels CSV ({one_line(e)}); {fix}") from e
    if rows.ndim != 2 or rows.shape[1] != 3:
        raise DataError(f"{path} is not a labels CSV of class,startTime_usec,endTime_usec rows; {fix}")
    if rows.shape[0] < 2:  # spikingjelly's np.loadtxt (no ndmin) cannot index a single row
        raise DataError(f"{path} lists {rows.shape[0]} gesture(s); spikingjelly needs at least 2; {fix}")
    if not ((rows[:, 0] >= 1) & (rows[:, 0] <= GESTURE_CLASSES)).all():
        raise DataError(f"{path} has class ids outside 1..{GESTURE_CLASSES}; {fix}")
    if (rows[:, 1:] < 0).any():
        raise DataError(f"{path} has negative times; {fix}")


def _check_gesture_files(trials: list[tuple[Path, Path]], fix: str = GESTURE_FIX) -> None:
    for aedat, labels in trials:
        check_aedat31(aedat, fix)
        check_gesture_labels(labels, fix)


def _prepare_gesture(s: Settings) -> None:
    from spikingjelly.datasets import DVS128Gesture

    root, download, extracted = s.root, s.root / "download", s.root / "extract"
    src, archive = extracted / "DvsGesture", download / "DvsGesture.tar.gz"
    check_stale(s.raw_dir, [src] if archive.is_file() else [])
    if s.cache:
        check_stale(s.frames_dir)
    if s.raw_dir.is_dir():
        return
    if src.is_dir():
        _check_gesture_files(_gesture_trials(src))
        before, undo = None, []
    elif archive.is_file():

        def before():
            extracted.mkdir(exist_ok=True)
            extract(archive, lambda: DVS128Gesture.extract_downloaded_files(download, extracted))
            if not src.is_dir():
                raise DataError(f"{archive} holds no DvsGesture/ folder; download it again")
            fix = f"{archive} is broken: download it again"
            _check_gesture_files(_gesture_trials(src, fix), fix)

        undo = [src]
    else:
        hint = ""
        if (root / "DvsGesture").is_dir():
            hint = f" (found {root / 'DvsGesture'}: move it to {src})"
        raise DataError(
            f"dvs_gesture not found under {root}: put "
            f"{GESTURE_LAYOUT.format(root=root)}{hint}; it cannot be downloaded "
            f"automatically (or set data.root=/path/to/dvs_gesture)"
        )
    convert_raw(s, src, lambda raw: DVS128Gesture.create_raw_from_extracted(extracted, raw), before, undo)


@DATASETS.register("dvs_gesture")
def dvs_gesture(cfg: DictConfig, split: str) -> Dataset:
    from spikingjelly.datasets import DVS128Gesture

    s = Settings(cfg, split, GESTURE_CLASSES)
    if not s.root.is_dir():
        raise DataError(
            f"dvs_gesture not found: {s.root} does not exist; put "
            f"{GESTURE_LAYOUT.format(root=s.root)} (or set data.root=/path/to/dvs_gesture)"
        )
    with locked(s.root):
        _prepare_gesture(s)
        folder = build_folder(s, lambda: DVS128Gesture(str(s.root), train=s.train, **s.folder_kwargs()))
    # spikingjelly's class folders are named 0..10 (gesture id - 1) and DatasetFolder sorts them as
    # strings (0, 1, 10, 2, ...): map its class index back to the gesture's own label.
    names = sorted(folder.class_to_idx, key=folder.class_to_idx.get)
    if sorted(names) != sorted(str(i) for i in range(GESTURE_CLASSES)):
        raise DataError(
            f"dvs_gesture: {folder.root} holds class folders {names}, expected 0..10; "
            f"delete {s.raw_dir} and retry"
        )
    return split_dataset(s, folder, range(len(folder)), [int(n) for n in names])
