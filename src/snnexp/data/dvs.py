"""DVS data sets (DVS128 Gesture, CIFAR10-DVS) through spikingjelly: see issue 4.

An item is ``(frames, label)`` with ``frames`` a float tensor ``[T, 2, H, W]`` of event counts
(channel 0: OFF events, 1: ON events) and ``label`` an int. Everything is prepared once per data
root and cached on disk there:

1. recordings -> ``root/events_np/`` (one ``.npz`` of events t, x, y, p per sample), written by
   spikingjelly's own converter (``create_raw_from_extracted``) from the extracted recordings in
   ``root/extract/``; when those are absent, the archives in ``root/download/`` are extracted there
   first. snnexp runs this step itself instead of spikingjelly's ``prepare_raw_dataset``, which
   md5-checks every file of the official download (deleting any that differ), tries to download
   what is missing and leaves a stale ``events_np.building`` marker behind when that fails.
   The recordings are checked first, so a missing or corrupt file is named in a one-line error.
2. events -> ``root/frames_number_<T>_split_by_<split_by>/`` by spikingjelly's dataset class
   (``data_type="frame"``): T frames per sample, each with the same number of events
   (``split_by=number``; the last frame also takes the remainder). ``cache: false`` skips this
   folder and integrates the events of each item when it is loaded instead.
3. per item: random temporal delete (training only, spikingjelly's ``RandomTemporalDelete``: keep
   ``T_train`` of the T frames, in order) and a resize to ``image_size`` when that is not 128.

A ``.building`` marker next to ``events_np/`` or a frames folder means a conversion was killed;
it is reported (with the paths to delete) before spikingjelly is called. Builds of the same root
are serialised with a lock file (``root/.snnexp.lock``), so DDP ranks starting together convert
once and the others wait for it.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import struct
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import Dataset

from snnexp.errors import ConfigError, DataError
from snnexp.registry import DATASETS

SENSOR_SIZE = 128  # both data sets were recorded with a 128x128 DVS
RESIZE_MODES = ("nearest", "nearest-exact", "bilinear", "bicubic", "area")
GESTURE_CLASSES = 11
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
AEDAT31_END = b"#!END-HEADER\r\n"
POLARITY_EVENT = 1  # AEDAT 3.1 event type of DVS polarity events


# ---------------------------------------------------------------- settings
class _Settings:
    """The validated ``cfg.data`` values both data sets share."""

    def __init__(self, cfg: DictConfig, split: str, num_classes: int):
        d = cfg.data
        self.name = str(d.name)
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        self.train = split == "train"
        if d.get("root") in (None, ""):
            raise ConfigError(f"data.root must be set for {self.name} (the folder that holds its files)")
        self.root = Path(str(d.root)).expanduser()
        self.T = int(d.get("frames_number") or cfg.T)
        if self.T < 1:
            raise ConfigError(f"data.frames_number={self.T} must be >= 1")
        self.split_by = str(d.get("split_by", "number"))
        if self.split_by not in ("number", "time"):
            raise ConfigError(f"data.split_by={self.split_by!r} is not allowed; allowed: number, time")
        if int(d.num_classes) != num_classes:
            raise ConfigError(f"{self.name} has {num_classes} classes, but data.num_classes={d.num_classes}")
        if int(d.in_channels) != 2:
            raise ConfigError(
                f"{self.name} frames have 2 channels (OFF/ON polarity), but data.in_channels={d.in_channels}"
            )
        self.size = int(d.image_size)
        self.resize_mode = str(d.get("resize_mode", "bilinear"))
        if self.resize_mode not in RESIZE_MODES:
            raise ConfigError(
                f"data.resize_mode={self.resize_mode!r} is not allowed; allowed: {', '.join(RESIZE_MODES)}"
            )
        self.T_train = None
        if d.get("temporal_delete", False):
            t_train = d.get("T_train")
            if t_train is None or not 1 <= int(t_train) <= self.T:
                raise ConfigError(
                    f"data.T_train={t_train} must be between 1 and the {self.T} frames per sample "
                    f"(data.frames_number, = T unless set) for random temporal delete: set T "
                    f"(SEW: T=16 data.T_train=12) or data.temporal_delete=false"
                )
            self.T_train = int(t_train)
        self.cache = bool(d.get("cache", True))
        self.threads = max(1, int(d.get("preprocess_threads", 4)))

    @property
    def frames_dir(self) -> Path:
        """spikingjelly's FrameFixedNumberBuilder.processed_root."""
        return self.root / f"frames_number_{self.T}_split_by_{self.split_by}"

    @property
    def raw_dir(self) -> Path:
        """spikingjelly's NeuromorphicDatasetFolder.raw_root."""
        return self.root / "events_np"


# ---------------------------------------------------------------- the dataset snnexp returns
class FrameTransform:
    """Per-item transform of a frame sequence ``[T, C, H, W]``: random temporal delete (keep
    ``T_train`` frames in order; None: keep all), then resize to ``size`` x ``size`` when it is
    not the sensor's 128 (``torch.nn.functional.interpolate``, antialiased when downsampling with
    bilinear/bicubic, like torchvision's Resize on tensors)."""

    def __init__(self, T_train: int | None = None, size: int = SENSOR_SIZE, mode: str = "bilinear"):
        self.T_train, self.size, self.mode = T_train, size, mode
        if T_train is not None:
            from spikingjelly.datasets import RandomTemporalDelete

            self.delete = RandomTemporalDelete(T_remain=T_train, batch_first=False)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.T_train is not None and self.T_train < x.shape[0]:
            x = self.delete(x)
        if x.shape[-2:] != (self.size, self.size):
            kw = {"antialias": True} if self.mode in ("bilinear", "bicubic") else {}
            align = {"align_corners": False} if self.mode in ("bilinear", "bicubic") else {}
            x = torch.nn.functional.interpolate(x, size=(self.size, self.size), mode=self.mode, **kw, **align)
        return x


class DVSFrames(Dataset):
    """``(frames [T, 2, H, W] float32, label int)`` over a spikingjelly dataset folder.

    ``indices`` selects samples of ``folder`` (a split), ``labels[i]`` is the label of the
    folder's class index ``i``. ``integrate`` (``cache: false``) turns an event dict into frames.
    ``samples`` lists ``(path, label)`` of the selected items, like DatasetFolder's.
    """

    def __init__(
        self,
        folder,
        indices: list[int],
        labels: list[int],
        transform: FrameTransform,
        integrate: Callable[[dict], np.ndarray] | None = None,
    ):
        self.folder, self.indices, self.labels = folder, list(indices), list(labels)
        self.transform, self.integrate = transform, integrate

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def samples(self) -> list[tuple[str, int]]:
        return [(self.folder.samples[i][0], self.labels[self.folder.samples[i][1]]) for i in self.indices]

    @property
    def targets(self) -> list[int]:
        return [self.labels[self.folder.targets[i]] for i in self.indices]

    def __getitem__(self, i: int):
        x, y = self.folder[self.indices[i]]
        if self.integrate is not None:
            x = self.integrate(x)
        x = torch.from_numpy(np.asarray(x, dtype=np.float32))
        return self.transform(x), self.labels[y]


# ---------------------------------------------------------------- locking, markers, threads
@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """An exclusive lock on ``root/.snnexp.lock`` (no lock where that cannot be had)."""
    try:
        import fcntl

        fh = open(root / ".snnexp.lock", "a")  # noqa: SIM115
    except (ImportError, OSError):  # Windows, or a read-only data root (then nothing is written)
        fh = None
    if fh is None:
        yield
        return
    try:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
    finally:
        fh.close()  # releases the lock


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """spikingjelly's preprocessing thread count (a module global it reads at each call)."""
    from spikingjelly import configure

    old = configure.max_threads_number_for_datasets_preprocess
    configure.max_threads_number_for_datasets_preprocess = n
    try:
        yield
    finally:
        configure.max_threads_number_for_datasets_preprocess = old


def _marker(folder: Path) -> Path:
    """spikingjelly's "conversion in progress" marker of ``folder``."""
    return folder.with_name(folder.name + ".building")


def _check_stale(folder: Path, regenerated: list[Path] = ()) -> None:
    marker = _marker(folder)
    if marker.exists():
        paths = [str(p) for p in (folder, *regenerated) if p.exists()] + [str(marker)]
        listed = ", ".join(paths[:-1]) + " and " + paths[-1] if len(paths) > 1 else paths[0]
        raise DataError(f"{marker} is left over from an interrupted conversion: delete {listed}, then retry")


def _one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())


def _count_npz(folder: Path) -> int:
    return sum(name.endswith((".npz", ".npy")) for _, _, files in os.walk(folder) for name in files)


def _convert_raw(
    s: _Settings,
    source: Path,
    convert: Callable[[Path], None],
    before: Callable[[], None] | None = None,
    undo: list[Path] = (),
) -> None:
    """Write ``root/events_np`` with ``convert(events_np)`` under spikingjelly's marker protocol
    (marker first, removed when done). ``before`` runs first under the marker (extraction); on any
    failure the partial ``events_np``, the folders in ``undo`` and the marker are removed again."""
    raw, marker = s.raw_dir, _marker(s.raw_dir)
    marker.touch(exist_ok=False)
    try:
        if before is not None:
            before()
        raw.mkdir()
        print(
            f"snnexp: converting the recordings in {source} to events in {raw} (once; this can take a while)",
            file=sys.stderr,
        )
        with _threads(s.threads):
            convert(raw)
    except BaseException as e:
        shutil.rmtree(raw, ignore_errors=True)
        for p in undo:
            shutil.rmtree(p, ignore_errors=True)
        marker.unlink(missing_ok=True)
        if isinstance(e, DataError) or not isinstance(e, Exception):
            raise
        raise DataError(
            f"{s.name}: converting the recordings in {source} to {raw} failed ({_one_line(e)})"
        ) from e
    marker.unlink()


def _build_folder(s: _Settings, make: Callable[[], object]):
    """Construct a spikingjelly dataset (which builds the frames cache when it is missing);
    a failed build of a frames folder that did not exist before is removed again."""
    frames = s.frames_dir if s.cache else None
    existed = frames is not None and frames.exists()
    if existed and _count_npz(frames) != _count_npz(s.raw_dir):
        raise DataError(
            f"the frames cache {frames} is incomplete ({_count_npz(frames)} files for "
            f"{_count_npz(s.raw_dir)} samples in {s.raw_dir}): delete {frames}, then retry"
        )
    if frames is not None and not existed:
        print(
            f"snnexp: integrating the events in {s.raw_dir} into {s.T} frames per sample in {frames} "
            f"(once per T)",
            file=sys.stderr,
        )
    try:
        with _threads(s.threads):
            return make()
    except BaseException as e:
        if frames is not None and not existed and _marker(frames).exists():
            shutil.rmtree(frames, ignore_errors=True)
            _marker(frames).unlink(missing_ok=True)
        if not isinstance(e, Exception):
            raise
        if isinstance(e, FileNotFoundError) and "Found no valid file" in str(e):
            built = " and ".join(str(p) for p in (s.raw_dir, frames) if p is not None)
            raise DataError(
                f"{s.name}: {_one_line(e)} (under {frames or s.raw_dir}): the recordings "
                f"lack samples of some classes; complete them, delete {built}, then retry"
            ) from e
        raise DataError(f"{s.name}: building frames from {s.raw_dir} failed ({_one_line(e)})") from e


def _folder_kwargs(s: _Settings) -> dict:
    if s.cache:
        return dict(data_type="frame", frames_number=s.T, split_by=s.split_by)
    return dict(data_type="event")


def _integrator(s: _Settings) -> Callable[[dict], np.ndarray] | None:
    if s.cache:
        return None
    return _Integrate(s.split_by, s.T)


class _Integrate:
    """Events -> T frames on the fly (``cache: false``), spikingjelly's integration."""

    def __init__(self, split_by: str, T: int):
        self.split_by, self.T = split_by, T

    def __call__(self, events: dict) -> np.ndarray:
        from spikingjelly.datasets import integrate_events_by_fixed_frames_number

        return integrate_events_by_fixed_frames_number(
            events, self.split_by, self.T, SENSOR_SIZE, SENSOR_SIZE
        ).astype(np.float32)


def _extract(archive: Path, fn: Callable[[], None]) -> None:
    """Run spikingjelly's/torchvision's extraction ``fn``; a broken archive gets one line."""
    try:
        fn()
    except Exception as e:
        raise DataError(
            f"{archive} cannot be extracted ({_one_line(e)}): it is corrupt or incomplete; download it again"
        ) from e


# ---------------------------------------------------------------- AEDAT checks
def _bad(path: Path, fmt: str, why: str, fix: str) -> DataError:
    return DataError(f"{path} is not a readable {fmt} file ({why}); {fix}")


def check_aedat31(path: Path, fix: str = "replace it with the original") -> int:
    """Check the structure spikingjelly's ``load_aedat_v3`` relies on (header ended by
    ``#!END-HEADER\\r\\n``, then whole 28-byte-headed packets) without parsing events;
    returns the number of polarity events."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        line = f.readline()
        if not line.startswith(b"#!AER-DAT3"):
            raise _bad(path, "AEDAT 3.1", "it does not start with '#!AER-DAT3.1'", fix)
        while line != AEDAT31_END:
            line = f.readline()
            if not line.startswith(b"#"):
                raise _bad(path, "AEDAT 3.1", "its header does not end with '#!END-HEADER'", fix)
        pos, n = f.tell(), 0
        while pos < size:
            f.seek(pos)
            head = f.read(28)
            if len(head) < 28:
                raise _bad(path, "AEDAT 3.1", f"truncated packet header at byte {pos}", fix)
            etype, _, esize, _, _, capacity, _, _ = struct.unpack("<hhiiiiii", head)
            if esize <= 0 or capacity < 0 or (etype == POLARITY_EVENT and esize < 8):
                raise _bad(path, "AEDAT 3.1", f"bad packet header at byte {pos}", fix)
            end = pos + 28 + esize * capacity
            if end > size:
                raise _bad(
                    path,
                    "AEDAT 3.1",
                    f"truncated: the packet at byte {pos} ends at byte {end}, the file at {size}",
                    fix,
                )
            n += capacity if etype == POLARITY_EVENT else 0
            pos = end
    if n == 0:
        raise _bad(path, "AEDAT 3.1", "it holds no polarity events", fix)
    return n


def check_aedat2(path: Path, fix: str = "replace it with the original") -> int:
    """Check a CIFAR10-DVS (jAER AEDAT 2.0) file the way spikingjelly's reader sees it: '#'
    header lines, then big-endian (address, timestamp) uint32 pairs; returns the event count."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        line = f.readline()
        if not line.startswith(b"#"):  # jAER writes '#!AER-DAT2.0' and '#' comment lines
            raise _bad(path, "AEDAT", "it has no '#!AER-DAT' header", fix)
        header = 0
        while True:  # as spikingjelly.datasets.cifar10_dvs._skip_header
            try:
                text = line.decode().strip()
            except UnicodeDecodeError:
                break
            if not text or text[0] != "#":
                break
            header += len(line)
            line = f.readline()
    data = size - header
    if data <= 0:
        raise _bad(path, "AEDAT", "it holds no events", fix)
    if data % 8:
        raise _bad(
            path, "AEDAT", f"{data} bytes of events is not a whole number of 8-byte events (truncated?)", fix
        )
    return data // 8


# ---------------------------------------------------------------- DVS128 Gesture
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
        raise DataError(f"{path} is not a readable labels CSV ({_one_line(e)}); {fix}") from e
    if rows.ndim != 2 or rows.shape[1] != 3:
        raise DataError(f"{path} is not a labels CSV of class,startTime_usec,endTime_usec rows; {fix}")
    if rows.shape[0] < 2:  # spikingjelly's np.loadtxt (no ndmin) cannot index a single row
        raise DataError(f"{path} lists {rows.shape[0]} gesture(s); spikingjelly needs at least 2; {fix}")
    if not ((rows[:, 0] >= 1) & (rows[:, 0] <= GESTURE_CLASSES)).all():
        raise DataError(f"{path} has class ids outside 1..{GESTURE_CLASSES}; {fix}")
    if (rows[:, 1:] < 0).any():
        raise DataError(f"{path} has negative times; {fix}")


def _prepare_gesture(s: _Settings) -> None:
    from spikingjelly.datasets import DVS128Gesture

    root, download, extract = s.root, s.root / "download", s.root / "extract"
    src, archive = extract / "DvsGesture", download / "DvsGesture.tar.gz"
    regen = [src] if archive.is_file() else []
    _check_stale(s.raw_dir, regen)
    if s.cache:
        _check_stale(s.frames_dir)
    if s.raw_dir.is_dir():
        return
    if src.is_dir():
        trials = _gesture_trials(src)
        before, undo = None, []
    elif archive.is_file():
        trials = None

        def before():
            extract.mkdir(exist_ok=True)
            _extract(archive, lambda: DVS128Gesture.extract_downloaded_files(download, extract))
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
    if trials is not None:
        _check_gesture_files(trials)
    _convert_raw(s, src, lambda raw: DVS128Gesture.create_raw_from_extracted(extract, raw), before, undo)


def _check_gesture_files(trials: list[tuple[Path, Path]], fix: str = GESTURE_FIX) -> None:
    for aedat, labels in trials:
        check_aedat31(aedat, fix)
        check_gesture_labels(labels, fix)


@DATASETS.register("dvs_gesture", help="DVS128 Gesture, AEDAT 3.1 -> T frames [T,2,128,128] (user-provided)")
def dvs_gesture(cfg: DictConfig, split: str) -> Dataset:
    from spikingjelly.datasets import DVS128Gesture

    s = _Settings(cfg, split, GESTURE_CLASSES)
    if not s.root.is_dir():
        raise DataError(
            f"dvs_gesture not found: {s.root} does not exist; put "
            f"{GESTURE_LAYOUT.format(root=s.root)} (or set data.root=/path/to/dvs_gesture)"
        )
    with _locked(s.root):
        _prepare_gesture(s)
        folder = _build_folder(s, lambda: DVS128Gesture(str(s.root), train=s.train, **_folder_kwargs(s)))
    # spikingjelly's class folders are named 0..10 (gesture id - 1) and DatasetFolder sorts them as
    # strings (0, 1, 10, 2, ...): map its class index back to the gesture's own label.
    names = sorted(folder.class_to_idx, key=folder.class_to_idx.get)
    if sorted(names) != sorted(str(i) for i in range(GESTURE_CLASSES)):
        raise DataError(
            f"dvs_gesture: {folder.root} holds class folders {names}, expected 0..10; "
            f"delete {s.raw_dir} and retry"
        )
    labels = [int(n) for n in names]
    tf = FrameTransform(s.T_train if s.train else None, s.size, s.resize_mode)
    return DVSFrames(folder, range(len(folder)), labels, tf, _integrator(s))


# ---------------------------------------------------------------- CIFAR10-DVS
CIFAR_LAYOUT = (
    "the 10 class archives from figshare ({zips}) in {root}/download/, or their extracted "
    "class folders as {root}/extract/<class>/cifar10_<class>_<i>.aedat"
)


def _cifar_layout(root: Path) -> str:
    return CIFAR_LAYOUT.format(root=root, zips=", ".join(f"{c}.zip" for c in CIFAR10_DVS_CLASSES))


def _prepare_cifar(s: _Settings) -> None:
    from spikingjelly.datasets import CIFAR10DVS

    root, download, extract = s.root, s.root / "download", s.root / "extract"
    zips = {c: download / f"{c}.zip" for c in CIFAR10_DVS_CLASSES}
    regen = [extract / c for c in CIFAR10_DVS_CLASSES if zips[c].is_file() and (extract / c).exists()]
    _check_stale(s.raw_dir, regen)
    if s.cache:
        _check_stale(s.frames_dir)
    if s.raw_dir.is_dir():
        return
    to_extract = [c for c in CIFAR10_DVS_CLASSES if not (extract / c).is_dir()]
    missing = [c for c in to_extract if not zips[c].is_file()]
    if len(missing) == len(CIFAR10_DVS_CLASSES):
        raise DataError(
            f"cifar10_dvs not found under {root}: put {_cifar_layout(root)}; it cannot be "
            f"downloaded automatically (or set data.root=/path/to/cifar10_dvs)"
        )
    if missing:
        raise DataError(
            f"cifar10_dvs under {root} lacks the class(es) {', '.join(missing)}: put "
            f"{extract}/<class>/cifar10_<class>_<i>.aedat or {download}/<class>.zip for "
            f"each ({', '.join(f'{c}.zip' for c in missing)} from figshare)"
        )
    if extract.is_dir():
        stray = sorted(p.name for p in extract.iterdir() if p.name not in CIFAR10_DVS_CLASSES)
        if stray:
            raise DataError(
                f"cifar10_dvs: {extract} must hold only the 10 class folders (spikingjelly "
                f"converts every entry); move away {', '.join(stray)}"
            )

    def files() -> list[Path]:
        out = []
        for c in CIFAR10_DVS_CLASSES:
            found = sorted((extract / c).iterdir())
            if not found:
                raise DataError(f"cifar10_dvs: {extract / c} is empty; put the class's .aedat files there")
            out += found
        return out

    def check(paths: list[Path], from_zip: bool = False) -> None:
        for p in paths:
            fix = (
                f"{zips[p.parent.name]} is broken: download it again"
                if from_zip
                else f"replace it with the original from {p.parent.name}.zip"
            )
            if not p.is_file():
                raise DataError(
                    f"cifar10_dvs: {p} is not a file; {extract}/<class>/ must hold only the .aedat recordings"
                )
            check_aedat2(p, fix)

    def before() -> None:
        from torchvision.datasets.utils import extract_archive

        extract.mkdir(exist_ok=True)
        for c in to_extract:
            _extract(zips[c], lambda c=c: extract_archive(str(zips[c]), str(extract)))
            if not (extract / c).is_dir():
                raise DataError(f"{zips[c]} holds no {c}/ folder; download it again")
        done = files()
        check([p for p in done if p.parent.name not in to_extract])
        check([p for p in done if p.parent.name in to_extract], from_zip=True)

    if not to_extract:
        check(files())
    _convert_raw(
        s,
        extract,
        lambda raw: CIFAR10DVS.create_raw_from_extracted(extract, raw),
        before if to_extract else None,
        [extract / c for c in to_extract],
    )


def _sample_number(path: str) -> int:
    m = re.search(r"(\d+)$", Path(path).stem)
    if m is None:
        raise DataError(
            f"cifar10_dvs: {path} has no sample number at the end of its name "
            f"(cifar10_<class>_<i>); use data.split_order=name"
        )
    return int(m.group(1))


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


@DATASETS.register(
    "cifar10_dvs", help="CIFAR10-DVS, AEDAT -> T frames [T,2,128,128], 90/10 split (user-provided)"
)
def cifar10_dvs(cfg: DictConfig, split: str) -> Dataset:
    from spikingjelly.datasets import CIFAR10DVS

    s = _Settings(cfg, split, len(CIFAR10_DVS_CLASSES))
    d = cfg.data
    ratio = float(d.get("train_ratio", 0.9))
    if not 0.0 < ratio < 1.0:
        raise ConfigError(f"data.train_ratio={ratio} must be between 0 and 1 (exclusive)")
    order = str(d.get("split_order", "name"))
    if order not in ("name", "number"):
        raise ConfigError(f"data.split_order={order!r} is not allowed; allowed: name, number")
    if not s.root.is_dir():
        raise DataError(
            f"cifar10_dvs not found: {s.root} does not exist; put "
            f"{_cifar_layout(s.root)} (or set data.root=/path/to/cifar10_dvs)"
        )
    with _locked(s.root):
        _prepare_cifar(s)
        folder = _build_folder(s, lambda: CIFAR10DVS(str(s.root), **_folder_kwargs(s)))
    if list(folder.classes) != list(CIFAR10_DVS_CLASSES):
        raise DataError(
            f"cifar10_dvs: {folder.root} holds class folders {folder.classes}, expected "
            f"{', '.join(CIFAR10_DVS_CLASSES)}; delete {s.raw_dir} and retry"
        )
    key = (lambda i: _sample_number(folder.samples[i][0])) if order == "number" else None
    indices = split_by_class(folder.targets, ratio, s.train, key)
    tf = FrameTransform(s.T_train if s.train else None, s.size, s.resize_mode)
    return DVSFrames(folder, indices, list(range(len(CIFAR10_DVS_CLASSES))), tf, _integrator(s))
