"""DVS frames by time window (TDBN supplement C: DVS Gesture in 30 ms slices, CIFAR10-DVS
accumulated over 5 ms): ``data.split_by=time data.frame_duration_ms=...`` gives the first T frames
of that duration, equal to spikingjelly's own fixed-duration integration of the recording, cached
under spikingjelly's ``duration_<us>`` folder, and the same without the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from spikingjelly.datasets import integrate_events_by_fixed_duration

from aedat import write_cifar_folders, write_gesture_folder
from snnexp.errors import ConfigError
from test_dvs_data import build, cifar_truth, gesture_truth

N = 8  # events per sample; the tiny recordings space them 10 us (gesture) and 7 us (CIFAR10-DVS) apart
TIME = ["data.split_by=time", "data.temporal_delete=false"]


def sample(path: str) -> str:
    """spikingjelly names a fixed-duration frame file ``<sample>_<number of frames>.npz``."""
    p = Path(path)
    return str(p.with_name(p.stem.rsplit("_", 1)[0] + ".npz"))


def as_dict(events: np.ndarray) -> dict:
    t, x, y, p = events.T
    return {"t": t, "x": x, "y": y, "p": p}


def by_window(events: np.ndarray, duration: int, T: int) -> np.ndarray:
    """The first T windows of ``duration`` us from the first event, counted by hand."""
    frames = np.zeros((T, 2, 128, 128), np.float32)
    for t, x, y, p in events:
        k = (t - events[0, 0]) // duration
        if k < T:
            frames[k, p, y, x] += 1
    return frames


@pytest.fixture(scope="module")
def gesture(tmp_path_factory):
    root = tmp_path_factory.mktemp("dvs_gesture")
    return root, write_gesture_folder(root / "extract" / "DvsGesture", N)


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar10_dvs")
    return root, write_cifar_folders(root / "extract", 10, N)


@pytest.mark.parametrize("T", [3, 6])  # 3: a prefix of the 4 windows; 6: 2 empty frames appended
def test_gesture_time_windows_equal_spikingjelly_integration(gesture, T):
    root, truth = gesture
    train, test = build("dvs_gesture", root, T, *TIME, "data.frame_duration_ms=0.02")  # 20 us
    assert (root / "duration_20").is_dir()  # spikingjelly's FrameFixedDurationBuilder cache
    for split, ds in (("train", train), ("test", test)):
        for i in range(0, len(ds), 5):
            x, _ = ds[i]
            events = gesture_truth(truth, split, sample(ds.samples[i][0]))
            full = integrate_events_by_fixed_duration(as_dict(events), 20, 128, 128)
            assert full.shape[0] == 4  # events at 0..70 us: 4 windows of 20 us
            ref = np.zeros((T, 2, 128, 128), np.float32)
            ref[: min(T, 4)] = full[:T]
            assert x.shape == (T, 2, 128, 128) and x.dtype == torch.float32
            np.testing.assert_array_equal(x.numpy(), ref)
            np.testing.assert_array_equal(x.numpy(), by_window(events, 20, T))
    assert x.sum(dim=(1, 2, 3)).tolist()[:3] == [2, 2, 2]


def test_gesture_time_windows_without_cache_and_a_second_duration(gesture):
    root, _ = gesture
    cached, _ = build("dvs_gesture", root, 3, *TIME, "data.frame_duration_ms=0.02")
    live, _ = build("dvs_gesture", root, 3, *TIME, "data.frame_duration_ms=0.02", "data.cache=false")
    for i in (0, 7, 21):
        assert torch.equal(cached[i][0], live[i][0])
    other, _ = build("dvs_gesture", root, 3, *TIME, "data.frame_duration_ms=0.03")  # its own cache
    assert (root / "duration_30").is_dir() and other[0][0].sum(dim=(1, 2, 3)).tolist() == [3, 3, 2]


def test_cifar10_dvs_time_windows_equal_spikingjelly_integration(cifar):
    root, truth = cifar
    train, test = build("cifar10_dvs", root, 2, *TIME, "data.frame_duration_ms=0.015", "data.image_size=42")
    assert (root / "duration_15").is_dir() and len(train) == 90 and len(test) == 10  # 9/1 per class
    for ds in (train, test):
        for i in range(0, len(ds), 9):
            x, _ = ds[i]
            events = cifar_truth(truth, sample(ds.samples[i][0]))
            full = integrate_events_by_fixed_duration(as_dict(events), 15, 128, 128)[:2]
            resized = torch.nn.functional.interpolate(
                torch.from_numpy(full.astype(np.float32)), size=(42, 42), mode="bilinear", antialias=True
            )
            assert x.shape == (2, 2, 42, 42)
            assert torch.allclose(x, resized, atol=1e-6)
            assert full.sum(axis=(1, 2, 3)).tolist() == [3, 2]  # events at 0, 7, 14 | 21, 28 us


@pytest.mark.parametrize("order", ["name", "number"])
def test_cifar10_dvs_time_windows_split_the_same_recordings_as_frames_by_count(cifar, order):
    root, _ = cifar
    for split in (0, 1):
        by_time = build(
            "cifar10_dvs", root, 2, *TIME, "data.frame_duration_ms=0.015", f"data.split_order={order}"
        )
        by_count = build("cifar10_dvs", root, 2, "data.temporal_delete=false", f"data.split_order={order}")
        names = [Path(sample(p)).name for p, _ in by_time[split].samples]
        assert names == [Path(p).name for p, _ in by_count[split].samples]


def test_frame_duration_needs_split_by_time(gesture):
    root, _ = gesture
    with pytest.raises(ConfigError, match="frame_duration_ms=30.0 needs data.split_by=time"):
        build("dvs_gesture", root, 3, "data.frame_duration_ms=30", "data.temporal_delete=false")
