"""DVS128 Gesture and CIFAR10-DVS through the real pipeline (spikingjelly's converters and
dataset classes) on tiny recordings written in the real formats by ``tests/aedat.py``."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from aedat import (
    CIFAR10_DVS_CLASSES,
    GESTURE_TRIALS,
    frames_by_number,
    write_cifar_folders,
    write_cifar_zips,
    write_gesture_archive,
    write_gesture_folder,
)
from snnexp.config import compose
from snnexp.data import build_dataset
from snnexp.errors import ConfigError, DataError

N_GESTURE = 8  # events per gesture
N_CIFAR = 8  # events per CIFAR10-DVS sample
PER_CLASS = 20  # CIFAR10-DVS samples per class


def cfg_for(name: str, root: Path, T: int, *overrides: str):
    return compose([f"data={name}", f"data.root={root}", f"T={T}", "data.preprocess_threads=2", *overrides])


def build(name: str, root: Path, T: int, *overrides: str):
    cfg = cfg_for(name, root, T, *overrides)
    return build_dataset(cfg, "train"), build_dataset(cfg, "test")


def mtimes(folder: Path) -> dict[str, int]:
    return {
        os.path.join(r, f): os.stat(os.path.join(r, f)).st_mtime_ns
        for r, _, files in os.walk(folder)
        for f in files
    }


def forbid(monkeypatch, *targets):
    """Make spikingjelly's converters fail if called (a cache hit must not call them)."""
    import spikingjelly.datasets as sjd
    from spikingjelly.datasets import utils as sju

    def boom(*a, **k):
        raise AssertionError("converter called although the cache exists")

    for t in targets:
        if t == "frames":
            monkeypatch.setattr(sju, "integrate_events_file_to_frames_file_by_fixed_frames_number", boom)
        else:
            monkeypatch.setattr(getattr(sjd, t), "create_raw_from_extracted", classmethod(boom))


# ================================================================ DVS128 Gesture
@pytest.fixture(scope="module")
def gesture(tmp_path_factory):
    root = tmp_path_factory.mktemp("dvs_gesture")
    truth = write_gesture_folder(root / "extract" / "DvsGesture", N_GESTURE)
    return root, truth


def gesture_truth(truth, split: str, path: str) -> np.ndarray:
    """The events written for the sample saved at ``path`` (``<label>/<trial>_<k>.npz``)."""
    p = Path(path)
    trial = p.stem.rsplit("_", 1)[0]
    return truth[split][trial][int(p.parent.name)]


def test_gesture_frames_agree_with_events(gesture):
    root, truth = gesture
    datasets = build("dvs_gesture", root, 4, "data.temporal_delete=false")
    for split, ds in zip(("train", "test"), datasets, strict=True):
        assert len(ds) == 11 * len(GESTURE_TRIALS[split])
        assert sorted(ds.targets) == sorted(list(range(11)) * len(GESTURE_TRIALS[split]))
        for i in range(len(ds)):
            x, y = ds[i]
            path, label = ds.samples[i]
            assert isinstance(y, int) and y == label == int(Path(path).parent.name)  # gesture id - 1
            assert x.dtype == torch.float32 and x.shape == (4, 2, 128, 128)
            # split by number: N/T events per frame, each at the pixel/polarity it was written at;
            # the events outside the labelled windows are not in any sample
            assert x.sum(dim=(1, 2, 3)).tolist() == [N_GESTURE / 4] * 4
            np.testing.assert_array_equal(x.numpy(), frames_by_number(gesture_truth(truth, split, path), 4))


def test_gesture_labels_are_gesture_ids_not_folder_sort_order(gesture):
    # spikingjelly's DatasetFolder sorts the class folders 0..10 as strings (0, 1, 10, 2, ...)
    root, _ = gesture
    train, _ = build("dvs_gesture", root, 4, "data.temporal_delete=false")
    assert train.folder.class_to_idx["10"] == 2  # what spikingjelly alone would call it
    i = next(k for k, (p, _) in enumerate(train.samples) if Path(p).parent.name == "10")
    assert train[i][1] == 10


def test_gesture_random_temporal_delete_in_training_only(gesture):
    root, _ = gesture
    full, _ = build("dvs_gesture", root, 8, "data.temporal_delete=false")
    train, test = build("dvs_gesture", root, 8, "data.T_train=6")  # temporal_delete: true by default
    assert test[0][0].shape == (8, 2, 128, 128)
    np.random.seed(0)
    kept = set()
    for _ in range(20):
        x, _ = train[3]
        ref = full[3][0]
        assert x.shape == (6, 2, 128, 128)
        # every kept frame is one of the T frames (all differ here), in their original order
        idx = [next(j for j in range(8) if torch.equal(f, ref[j])) for f in x]
        assert idx == sorted(set(idx))
        kept.add(tuple(idx))
    assert len(kept) > 1  # random, not a fixed choice


def test_gesture_cache_is_reused(gesture, monkeypatch):
    root, _ = gesture
    first = build("dvs_gesture", root, 4, "data.temporal_delete=false")
    frames_dir = root / "frames_number_4_split_by_number"
    before = mtimes(root / "events_np") | mtimes(frames_dir)
    assert len(mtimes(frames_dir)) == 33 and not list(root.glob("*.building"))
    forbid(monkeypatch, "DVS128Gesture", "frames")
    again = build("dvs_gesture", root, 4, "data.temporal_delete=false")
    assert mtimes(root / "events_np") | mtimes(frames_dir) == before
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a[5][0], b[5][0]) and a[5][1] == b[5][1]
    # another T reuses the converted events (only the frames are new)
    monkeypatch.undo()
    forbid(monkeypatch, "DVS128Gesture")
    train, _ = build("dvs_gesture", root, 2, "data.temporal_delete=false")
    assert train[0][0].shape == (2, 2, 128, 128) and (root / "frames_number_2_split_by_number").is_dir()
    assert mtimes(root / "events_np") == {k: v for k, v in before.items() if "events_np" in k}


def test_gesture_without_frame_cache_gives_the_same_frames(gesture):
    root, truth = gesture
    cached, _ = build("dvs_gesture", root, 4, "data.temporal_delete=false")
    live, _ = build("dvs_gesture", root, 3, "data.temporal_delete=false", "data.cache=false")
    assert not (root / "frames_number_3_split_by_number").exists()
    x = live[0][0]  # 8 events in 3 frames: 2, 2 and the remaining 4 in the last
    assert x.shape == (3, 2, 128, 128) and x.sum(dim=(1, 2, 3)).tolist() == [2, 2, 4]
    events = gesture_truth(truth, "train", live.samples[0][0])
    np.testing.assert_array_equal(x.numpy(), frames_by_number(events, 3))
    live4, _ = build("dvs_gesture", root, 4, "data.temporal_delete=false", "data.cache=false")
    for i in (0, 7, 21):
        assert torch.equal(cached[i][0], live4[i][0]) and cached[i][1] == live4[i][1]


def test_gesture_resize(gesture):
    root, _ = gesture
    full, _ = build("dvs_gesture", root, 4, "data.temporal_delete=false")
    small, _ = build(
        "dvs_gesture", root, 4, "data.temporal_delete=false", "data.image_size=32", "data.resize_mode=area"
    )
    x, ref = small[4][0], full[4][0]
    assert x.shape == (4, 2, 32, 32)
    torch.testing.assert_close(x * 16, torch.nn.functional.avg_pool2d(ref, 4) * 16)
    torch.testing.assert_close(x.sum(dim=(1, 2, 3)) * 16, ref.sum(dim=(1, 2, 3)))
    dsr, _ = build("dvs_gesture", root, 4, "data.temporal_delete=false", "data.image_size=48")
    assert dsr[0][0].shape == (4, 2, 48, 48)  # bilinear, antialiased


def test_gesture_from_the_downloaded_archive(tmp_path):
    root = tmp_path / "g"
    truth = write_gesture_archive(root / "download" / "DvsGesture.tar.gz", N_GESTURE)
    train, test = build("dvs_gesture", root, 4, "data.temporal_delete=false")
    assert (len(train), len(test)) == (22, 11)
    assert (root / "extract" / "DvsGesture" / "trials_to_train.txt").is_file()
    path = test.samples[0][0]
    np.testing.assert_array_equal(test[0][0].numpy(), frames_by_number(gesture_truth(truth, "test", path), 4))


def test_gesture_broken_archive(tmp_path):
    root = tmp_path / "g"
    (root / "download").mkdir(parents=True)
    (root / "download" / "DvsGesture.tar.gz").write_bytes(b"\x1f\x8b\x08 not really gzip")
    with pytest.raises(DataError, match=r"DvsGesture\.tar\.gz cannot be extracted .*download it again"):
        build("dvs_gesture", root, 4, "data.temporal_delete=false")
    assert not (root / "events_np").exists() and not (root / "extract" / "DvsGesture").exists()
    assert not list(root.glob("*.building"))


def test_gesture_archive_with_a_broken_recording(tmp_path):
    import tarfile

    root = tmp_path / "g"
    write_gesture_folder(tmp_path / "src" / "DvsGesture", N_GESTURE)
    bad = tmp_path / "src" / "DvsGesture" / "user02_led.aedat"
    bad.write_bytes(bad.read_bytes()[:-3])
    (root / "download").mkdir(parents=True)
    with tarfile.open(root / "download" / "DvsGesture.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "src" / "DvsGesture", arcname="DvsGesture")
    with pytest.raises(
        DataError,
        match=r"extract/DvsGesture/user02_led\.aedat is not a readable AEDAT 3\.1 "
        r"file \(truncated.*\); .*DvsGesture\.tar\.gz is broken: "
        r"download it again",
    ):
        build("dvs_gesture", root, 4, "data.temporal_delete=false")
    assert not (root / "extract" / "DvsGesture").exists() and not (root / "events_np").exists()


def test_gesture_through_the_data_loaders(gesture):
    import pickle

    from snnexp.data import build_data

    root, _ = gesture
    cfg = cfg_for("dvs_gesture", root, 4, "data.T_train=3", "trainer.batch_size=5")
    train, test = build_data(cfg)
    x, y = next(iter(train))
    assert x.shape == (5, 3, 2, 128, 128) and y.shape == (5,) and y.dtype == torch.int64
    x, y = next(iter(test))
    assert x.shape == (5, 4, 2, 128, 128)
    ds = pickle.loads(pickle.dumps(train.dataset))  # DataLoader workers get a copy
    assert ds[0][0].shape == (3, 2, 128, 128)


def test_gesture_missing_files(tmp_path):
    root = tmp_path / "g"
    with pytest.raises(DataError, match=r"does not exist"):
        build("dvs_gesture", root, 16)
    root.mkdir()
    with pytest.raises(DataError) as e:
        build("dvs_gesture", root, 16)
    msg = str(e.value)
    assert "\n" not in msg
    assert f"{root}/download/" in msg and "DvsGesture.tar.gz" in msg
    assert f"{root}/extract/DvsGesture/" in msg and "trials_to_train.txt" in msg
    assert not list(root.glob("*.building")) and not (root / "events_np").exists()
    # a recording listed in trials_to_*.txt without its labels
    write_gesture_folder(root / "extract" / "DvsGesture", N_GESTURE)
    (root / "extract" / "DvsGesture" / "user02_led_labels.csv").unlink()
    with pytest.raises(DataError, match=r"DvsGesture lacks user02_led_labels\.csv"):
        build("dvs_gesture", root, 16)


def test_gesture_extracted_in_the_wrong_place(tmp_path):
    root = tmp_path / "g"
    write_gesture_folder(root / "DvsGesture", N_GESTURE)
    with pytest.raises(DataError, match=rf"move it to {re.escape(str(root))}/extract/DvsGesture"):
        build("dvs_gesture", root, 16)


def test_gesture_corrupt_recording(tmp_path):
    root = tmp_path / "g"
    write_gesture_folder(root / "extract" / "DvsGesture", N_GESTURE)
    bad = root / "extract" / "DvsGesture" / "user24_natural.aedat"
    good = bad.read_bytes()
    bad.write_bytes(good[:-5])  # truncated in the last packet
    with pytest.raises(
        DataError,
        match=rf"^{re.escape(str(bad))} is not a readable AEDAT 3\.1 file "
        r"\(truncated",
    ):
        build("dvs_gesture", root, 4, "data.temporal_delete=false")
    bad.write_bytes(b"garbage\n" + good)
    with pytest.raises(DataError, match=rf"{re.escape(str(bad))} .*does not start with"):
        build("dvs_gesture", root, 4, "data.temporal_delete=false")
    assert not (root / "events_np").exists() and not list(root.glob("*.building"))
    bad.write_bytes(good)  # fixed: it just works, nothing to clean up
    train, test = build("dvs_gesture", root, 4, "data.temporal_delete=false")
    assert (len(train), len(test)) == (22, 11)


def test_gesture_stale_building_markers(tmp_path, monkeypatch):
    root = tmp_path / "g"
    write_gesture_folder(root / "extract" / "DvsGesture", N_GESTURE)
    (root / "events_np" / "train").mkdir(parents=True)  # a conversion killed half-way
    (root / "events_np.building").touch()
    forbid(monkeypatch, "DVS128Gesture", "frames")
    with pytest.raises(DataError) as e:
        build("dvs_gesture", root, 16)
    assert str(e.value) == (
        f"{root}/events_np.building is left over from an interrupted conversion: "
        f"delete {root}/events_np and {root}/events_np.building, then retry"
    )
    monkeypatch.undo()
    shutil.rmtree(root / "events_np")
    (root / "events_np.building").unlink()
    build("dvs_gesture", root, 4, "data.temporal_delete=false")
    shutil.rmtree(root / "frames_number_4_split_by_number")
    (root / "frames_number_4_split_by_number" / "train").mkdir(parents=True)
    (root / "frames_number_4_split_by_number.building").touch()
    with pytest.raises(
        DataError,
        match=rf"^{re.escape(str(root))}/frames_number_4_split_by_number\.building "
        r"is left over .*: delete .*frames_number_4_split_by_number and ",
    ):
        build("dvs_gesture", root, 4, "data.temporal_delete=false")
    # an incomplete frames folder whose marker was deleted by hand is caught too
    (root / "frames_number_4_split_by_number.building").unlink()
    with pytest.raises(DataError, match=r"frames cache .* is incomplete \(0 files for 33 samples"):
        build("dvs_gesture", root, 4, "data.temporal_delete=false")


def test_concurrent_builds_convert_once(tmp_path):
    # DDP ranks build the same fresh root at the same time: one converts, the other waits for it
    from concurrent.futures import ThreadPoolExecutor

    root = tmp_path / "c"
    write_cifar_folders(root / "extract", 10, N_CIFAR)
    cfg = cfg_for("cifar10_dvs", root, 4)
    with ThreadPoolExecutor(3) as pool:
        jobs = [pool.submit(build_dataset, cfg, split) for split in ("train", "test", "train")]
        sizes = [len(j.result()) for j in jobs]
    assert sizes == [90, 10, 90]
    assert not list(root.glob("*.building"))


def test_gesture_config_errors(gesture):
    root, _ = gesture
    with pytest.raises(ConfigError, match=r"data.T_train=12 must be between 1 and the 4 frames"):
        build("dvs_gesture", root, 4)  # SEW's T_train=12 needs T >= 12
    with pytest.raises(ConfigError, match=r"in_channels"):
        build("dvs_gesture", root, 16, "data.in_channels=1")
    with pytest.raises(ConfigError, match=r"resize_mode"):
        build("dvs_gesture", root, 16, "data.resize_mode=lanczos")


ALLOWED_RESIZE = "area, bicubic, bilinear, nearest, nearest-exact"


@pytest.mark.parametrize(
    ("data", "override", "message"),
    [
        (
            "dvs_gesture",
            "data.split_by=events",
            "data.split_by='events' is not allowed; allowed: number, time",
        ),
        (
            "cifar10_dvs",
            "data.resize_mode=x",
            f"data.resize_mode='x' is not allowed; allowed: {ALLOWED_RESIZE}",
        ),
        (
            "cifar10_dvs",
            "data.train_ratio=1.5",
            "data.train_ratio=1.5 is out of range: it must be > 0.0 and < 1.0",
        ),
        ("cifar10_dvs", "data.split_order=x", "data.split_order='x' is not allowed; allowed: name, number"),
        (
            "dvs_gesture",
            "data.preprocess_threads=0",
            "data.preprocess_threads=0 is out of range: it must be >= 1",
        ),
        ("dvs_gesture", "data.frames_number=0", "data.frames_number=0 is out of range: it must be >= 1"),
    ],
)
def test_single_settings_are_rejected_at_composition(tmp_path, data, override, message):
    # the typed schema (DVSDataConfig / CIFAR10DVSDataConfig) rejects them before any file is read
    with pytest.raises(ConfigError) as e:
        cfg_for(data, tmp_path / "absent", 16, override)
    assert str(e.value) == message


# ================================================================ CIFAR10-DVS
@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar10_dvs")
    truth = write_cifar_folders(root / "extract", PER_CLASS, N_CIFAR)
    return root, truth


def cifar_truth(truth, path: str) -> np.ndarray:
    p = Path(path)
    return truth[p.parent.name][int(p.stem.rsplit("_", 1)[1])]


def test_cifar_frames_agree_with_events(cifar):
    root, truth = cifar
    train, test = build("cifar10_dvs", root, 4)
    for ds in (train, test):
        for i in range(0, len(ds), 7):
            x, y = ds[i]
            path, label = ds.samples[i]
            assert y == label == CIFAR10_DVS_CLASSES.index(Path(path).parent.name)
            assert x.shape == (4, 2, 128, 128) and x.dtype == torch.float32  # no temporal delete
            assert x.sum(dim=(1, 2, 3)).tolist() == [N_CIFAR / 4] * 4
            np.testing.assert_array_equal(x.numpy(), frames_by_number(cifar_truth(truth, path), 4))


def sample_numbers(ds, cls: str) -> list[int]:
    return [int(Path(p).stem.rsplit("_", 1)[1]) for p, _ in ds.samples if Path(p).parent.name == cls]


def test_cifar_split_90_10_per_class_by_index(cifar):
    root, _ = cifar
    train, test = build("cifar10_dvs", root, 2)
    assert (len(train), len(test)) == (180, 20)
    assert np.bincount(train.targets).tolist() == [18] * 10 and np.bincount(test.targets).tolist() == [2] * 10
    assert not {p for p, _ in train.samples} & {p for p, _ in test.samples}
    # SEW's split (spikingjelly's split_to_train_test_set): the first 90% of each class in the data
    # set's order, i.e. sorted file names: ..._0, _1, _10, ..., _19, _2, ..., _9
    for cls in CIFAR10_DVS_CLASSES:
        assert sample_numbers(test, cls) == [8, 9]
        assert sample_numbers(train, cls) == [0, 1, *range(10, 20), *range(2, 8)]
    train, test = build("cifar10_dvs", root, 2, "data.split_order=number")
    assert sample_numbers(test, "cat") == [18, 19] and sorted(sample_numbers(train, "cat")) == list(range(18))
    train, test = build("cifar10_dvs", root, 2, "data.train_ratio=0.75")
    assert (len(train), len(test)) == (150, 50)


def test_cifar_same_split_as_spikingjelly(cifar):
    from spikingjelly.datasets import split_to_train_test_set

    root, _ = cifar
    train, test = build("cifar10_dvs", root, 2)
    sj_train, sj_test = split_to_train_test_set(0.9, train.folder, 10)
    assert list(sj_train.indices) == train.indices and list(sj_test.indices) == test.indices


def test_cifar_cache_is_reused_and_resize(cifar, monkeypatch):
    root, _ = cifar
    build("cifar10_dvs", root, 4)
    before = mtimes(root / "events_np") | mtimes(root / "frames_number_4_split_by_number")
    assert len(before) == 2 * 10 * PER_CLASS
    forbid(monkeypatch, "CIFAR10DVS", "frames")
    train, _ = build("cifar10_dvs", root, 4, "data.image_size=32")  # KEYS' 32 px
    assert mtimes(root / "events_np") | mtimes(root / "frames_number_4_split_by_number") == before
    assert train[0][0].shape == (4, 2, 32, 32)


def test_cifar_from_the_class_zips(tmp_path):
    root = tmp_path / "c"
    truth = write_cifar_zips(root / "download", 10, N_CIFAR)
    train, test = build("cifar10_dvs", root, 4)
    assert (len(train), len(test)) == (90, 10)
    path = test.samples[3][0]
    np.testing.assert_array_equal(test[3][0].numpy(), frames_by_number(cifar_truth(truth, path), 4))


def test_cifar_missing_files(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    with pytest.raises(DataError) as e:
        build("cifar10_dvs", root, 4)
    msg = str(e.value)
    assert f"{root}/download/" in msg and all(f"{c}.zip" in msg for c in CIFAR10_DVS_CLASSES)
    assert f"{root}/extract/<class>/cifar10_<class>_<i>.aedat" in msg
    write_cifar_folders(root / "extract", 2, N_CIFAR)
    shutil.rmtree(root / "extract" / "cat")
    shutil.rmtree(root / "extract" / "dog")
    with pytest.raises(
        DataError,
        match=r"lacks the class\(es\) cat, dog: put .*/extract/<class>/"
        r"cifar10_<class>_<i>\.aedat or .*/download/<class>\.zip "
        r"for each \(cat\.zip, dog\.zip",
    ):
        build("cifar10_dvs", root, 4)
    assert not (root / "events_np").exists() and not list(root.glob("*.building"))


def test_cifar_corrupt_recording_and_stray_files(tmp_path):
    root = tmp_path / "c"
    write_cifar_folders(root / "extract", 2, N_CIFAR)
    bad = root / "extract" / "frog" / "cifar10_frog_1.aedat"
    bad.write_bytes(bad.read_bytes()[:-4])  # half an event
    with pytest.raises(DataError, match=rf"^{re.escape(str(bad))} is not a readable AEDAT file .*truncated"):
        build("cifar10_dvs", root, 4)
    bad.write_bytes(b"")
    with pytest.raises(DataError, match=rf"^{re.escape(str(bad))} is not a readable AEDAT file"):
        build("cifar10_dvs", root, 4)
    bad.unlink()
    (root / "extract" / "__MACOSX").mkdir()
    with pytest.raises(DataError, match=r"must hold only the 10 class folders .*move away __MACOSX"):
        build("cifar10_dvs", root, 4)
    assert not (root / "events_np").exists() and not list(root.glob("*.building"))


def test_cifar_stale_building_marker(tmp_path):
    root = tmp_path / "c"
    write_cifar_folders(root / "extract", 2, N_CIFAR)
    (root / "events_np.building").touch()  # e.g. left by spikingjelly's own failed download
    r = re.escape(str(root))
    with pytest.raises(
        DataError,
        match=rf"^{r}/events_np\.building is left over from an interrupted "
        rf"conversion: delete {r}/events_np\.building, then retry$",
    ):
        build("cifar10_dvs", root, 4)
