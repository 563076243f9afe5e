"""The on-disk preparation both DVS data sets share: settings, the root's lock, spikingjelly's
``.building`` markers and thread count, and building ``events_np/`` and the frames folder."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig

from snnexp.errors import ConfigError, DataError


class Settings:
    """``cfg.data`` of a DVS data set for one split. Single values are checked at composition
    (``DVSDataConfig``); what depends on several keys or on the data set is checked here."""

    def __init__(self, cfg: DictConfig, split: str, num_classes: int):
        d = cfg.data
        self.name = str(d.name)
        if split not in ("train", "train_eval", "test"):
            raise ValueError(f"split must be 'train', 'train_eval' or 'test', not {split!r}")
        self.train = split in ("train", "train_eval")  # which samples
        self.augment = split == "train"  # temporal delete, crop: training only, never when evaluated
        if d.get("root") in (None, ""):
            raise ConfigError(f"data.root must be set for {self.name} (the folder that holds its files)")
        self.root = Path(str(d.root)).expanduser()
        self.T = int(d.frames_number or cfg.T)
        if int(d.num_classes) != num_classes:
            raise ConfigError(f"{self.name} has {num_classes} classes, but data.num_classes={d.num_classes}")
        if int(d.in_channels) != 2:
            raise ConfigError(
                f"{self.name} frames have 2 channels (OFF/ON polarity), but data.in_channels={d.in_channels}"
            )
        self.size, self.resize_mode, self.split_by = int(d.image_size), str(d.resize_mode), str(d.split_by)
        self.T_train = self._t_train(d) if d.temporal_delete else None
        self.delete_per = str(d.get("temporal_delete_per", "sample"))
        self.crop_padding = int(d.crop_padding)
        self.cache, self.threads = bool(d.cache), int(d.preprocess_threads)
        self.duration_us = self._duration_us(d)

    def _duration_us(self, d: DictConfig) -> int | None:
        """``frame_duration_ms`` in the recordings' time unit (microseconds, both data sets): each
        of the T frames then integrates that long a window, from the first event on (TDBN: 30 ms
        slices of DVS Gesture, 5 ms of CIFAR10-DVS)."""
        ms = d.get("frame_duration_ms")
        if ms is None:
            return None
        if self.split_by != "time":
            raise ConfigError(
                f"data.frame_duration_ms={ms} needs data.split_by=time (frames of a fixed duration); "
                f"split_by={self.split_by} splits by event count"
            )
        us = round(float(ms) * 1000)
        if us < 1:
            raise ConfigError(f"data.frame_duration_ms={ms} is shorter than the recordings' 1 us resolution")
        return us

    def _t_train(self, d: DictConfig) -> int:
        if d.T_train is None or not 1 <= int(d.T_train) <= self.T:
            raise ConfigError(
                f"data.T_train={d.T_train} must be between 1 and the {self.T} frames per sample "
                f"(data.frames_number, = T unless set) for random temporal delete: set T "
                f"(SEW: T=16 data.T_train=12) or data.temporal_delete=false"
            )
        return int(d.T_train)

    @property
    def frames_dir(self) -> Path:
        """spikingjelly's FrameFixedNumberBuilder.processed_root, or FrameFixedDurationBuilder's
        (the whole recording in frames of ``duration_us``; T of them are taken per item)."""
        if self.duration_us is not None:
            return self.root / f"duration_{self.duration_us}"
        return self.root / f"frames_number_{self.T}_split_by_{self.split_by}"

    @property
    def raw_dir(self) -> Path:
        """spikingjelly's NeuromorphicDatasetFolder.raw_root."""
        return self.root / "events_np"

    def folder_kwargs(self) -> dict:
        """What spikingjelly's data set classes take to read (and first build) this cache."""
        if self.cache and self.duration_us is not None:
            return dict(data_type="frame", duration=self.duration_us)
        if self.cache:
            return dict(data_type="frame", frames_number=self.T, split_by=self.split_by)
        return dict(data_type="event")


# ---------------------------------------------------------------- locking, markers, threads
@contextmanager
def locked(root: Path) -> Iterator[None]:
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


def check_stale(folder: Path, regenerated: list[Path] = ()) -> None:
    marker = _marker(folder)
    if marker.exists():
        paths = [str(p) for p in (folder, *regenerated) if p.exists()] + [str(marker)]
        listed = ", ".join(paths[:-1]) + " and " + paths[-1] if len(paths) > 1 else paths[0]
        raise DataError(f"{marker} is left over from an interrupted conversion: delete {listed}, then retry")


def one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())


def _count_npz(folder: Path) -> int:
    return sum(name.endswith((".npz", ".npy")) for _, _, files in os.walk(folder) for name in files)


def extract(archive: Path, fn: Callable[[], None]) -> None:
    """Run spikingjelly's/torchvision's extraction ``fn``; a broken archive gets one line."""
    try:
        fn()
    except Exception as e:
        raise DataError(
            f"{archive} cannot be extracted ({one_line(e)}): it is corrupt or incomplete; download it again"
        ) from e


# ---------------------------------------------------------------- the two cached folders
def convert_raw(
    s: Settings,
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
            f"{s.name}: converting the recordings in {source} to {raw} failed ({one_line(e)})"
        ) from e
    marker.unlink()


def build_folder(s: Settings, make: Callable[[], object]):
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
        what = f"{s.T} frames per sample" if s.duration_us is None else f"frames of {s.duration_us} us"
        print(
            f"snnexp: integrating the events in {s.raw_dir} into {what} in {frames} (once)", file=sys.stderr
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
                f"{s.name}: {one_line(e)} (under {frames or s.raw_dir}): the recordings "
                f"lack samples of some classes; complete them, delete {built}, then retry"
            ) from e
        raise DataError(f"{s.name}: building frames from {s.raw_dir} failed ({one_line(e)})") from e
