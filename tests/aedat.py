"""Tiny DVS recordings in the real file formats, for the DVS data tests.

* DVS128 Gesture: AEDAT 3.1 (``#!AER-DAT3.1`` header ended by ``#!END-HEADER\\r\\n``, then
  packets: a 28-byte little-endian header ``eventType, eventSource (int16), eventSize,
  eventTSOffset, eventTSOverflow, eventCapacity, eventNumber, eventValid (int32)`` followed by
  ``eventCapacity`` events; a polarity event (type 1, 8 bytes) is ``uint32 data`` (bit 0 valid,
  bit 1 polarity, bits 2-16 y, bits 17-31 x) and ``int32 timestamp`` in microseconds), one file
  per trial with ``<trial>_labels.csv`` (``class,startTime_usec,endTime_usec``, classes 1..11) and
  ``trials_to_train.txt`` / ``trials_to_test.txt`` listing ``<trial>.aedat``: the contents of
  IBM's ``DvsGesture.tar.gz``.
* CIFAR10-DVS: jAER AEDAT 2.0 (``#`` header lines, then big-endian ``uint32 address, uint32
  timestamp`` pairs; DVS128 address: bit 0 polarity, bits 1-7 x, bits 8-14 y), one file per sample
  as ``<class>/cifar10_<class>_<i>.aedat``: the contents of the figshare class zips.

Every writer returns the events it wrote as they should come out of spikingjelly: an ``[N, 4]``
int array of ``(t, x, y, p)`` in time order, ``x``/``y`` in frame coordinates (``frames[p, y, x]``).
"""

from __future__ import annotations

import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np

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
)
GESTURE_TRIALS = {"train": ("user01_fluorescent", "user02_led"), "test": ("user24_natural",)}


# ---------------------------------------------------------------- AEDAT 3.1 (DVS128 Gesture)
def _packet(etype: int, events: list[tuple[int, int]]) -> bytes:
    """An AEDAT 3.1 packet of 8-byte events given as (uint32 data, int32 timestamp)."""
    head = struct.pack("<hhiiiiii", etype, 1, 8, 4, 0, len(events), len(events), len(events))
    return head + b"".join(struct.pack("<Ii", d, t) for d, t in events)


def write_aedat31(path: Path, events: np.ndarray, packet_events: int = 5) -> None:
    """``events`` ``[N, 4]`` of (t, x, y, p) as polarity packets of ``packet_events`` events each,
    after a special-event packet (type 0, which readers skip) like real recordings start with."""
    header = (
        b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n"
        b"#Start-Time: 2017-01-01 12:00:00 (TZ+0000)\r\n#!END-HEADER\r\n"
    )
    body = [_packet(0, [(1 << 1 | 1, 0)])]  # a timestamp-reset special event
    pol = [((int(x) << 17) | (int(y) << 2) | (int(p) << 1) | 1, int(t)) for t, x, y, p in events]
    for i in range(0, len(pol), packet_events):
        body.append(_packet(1, pol[i : i + packet_events]))
    path.write_bytes(header + b"".join(body))


def gesture_events(trial: int, label: int, t0: int, n: int) -> np.ndarray:
    """``n`` events of one gesture, all at different pixels (so every frame differs)."""
    i = np.arange(n)
    return np.stack([t0 + 10 * i + 1, (label * 11 + i) % 128, (trial * 17 + 3 * i) % 128, i % 2], 1)


def write_gesture_folder(folder: Path, n_events: int = 8) -> dict[str, dict[str, dict[int, np.ndarray]]]:
    """A DvsGesture/ folder: every trial holds all 11 gestures (``n_events`` events each) plus
    events outside the labelled windows. Returns ``{split: {trial: {label0: events}}}``."""
    folder.mkdir(parents=True, exist_ok=True)
    truth: dict[str, dict[str, dict[int, np.ndarray]]] = {}
    j = 0
    for split, trials in GESTURE_TRIALS.items():
        truth[split] = {}
        (folder / f"trials_to_{split}.txt").write_text("".join(f"{t}.aedat\r\n" for t in trials))
        for trial in trials:
            j += 1
            rows, parts, gestures = [], [], {}
            t = 1_000
            for label in range(11):
                parts.append(gesture_events(j, label, t - 500, 3))  # before the window: dropped
                ev = gesture_events(j, label, t, n_events)
                gestures[label] = ev
                parts.append(ev)
                rows.append((label + 1, t, t + 10 * n_events + 5))
                t += 1_000
            write_aedat31(folder / f"{trial}.aedat", np.concatenate(parts))
            (folder / f"{trial}_labels.csv").write_text(
                "class,startTime_usec,endTime_usec\r\n" + "".join(f"{c},{a},{b}\r\n" for c, a, b in rows)
            )
            truth[split][trial] = gestures
    return truth


def write_gesture_archive(archive: Path, n_events: int = 8) -> dict:
    """``DvsGesture.tar.gz`` holding a ``DvsGesture/`` folder (IBM's download)."""
    staging = archive.parent / "_staging"
    truth = write_gesture_folder(staging / "DvsGesture", n_events)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging / "DvsGesture", arcname="DvsGesture")
    _rmtree(staging)
    return truth


# ---------------------------------------------------------------- AEDAT 2.0 (CIFAR10-DVS)
def write_aedat2(path: Path, events: np.ndarray) -> None:
    """``events`` ``[N, 4]`` of (t, x, y, p) in frame coordinates. spikingjelly's CIFAR10-DVS
    reader maps a raw address to ``x = 127 - y_raw, y = 127 - x_raw, p = 1 - polarity_bit``; the
    raw address is built backwards from that."""
    header = (
        b"#!AER-DAT2.0\r\n# This is a raw AE data file - do not edit\r\n"
        b"# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event\r\n"
        b"# Timestamps tick is 1 us\r\n# created Thu Jan 01 12:00:00 CST 2017\r\n"
    )
    t, x, y, p = (events[:, k].astype(np.uint32) for k in range(4))
    addr = ((127 - x) << 8) | ((127 - y) << 1) | (1 - p)
    data = np.stack([addr, t], 1).astype(">u4")
    path.write_bytes(header + data.tobytes())


def cifar_events(c: int, i: int, n: int) -> np.ndarray:
    k = np.arange(n)
    return np.stack([100 + 7 * k, (13 * c + 5 * i + k) % 128, (3 * c + i + 11 * k) % 128, (k + i) % 2], 1)


def write_cifar_folders(
    extract: Path, per_class: int = 20, n_events: int = 8
) -> dict[str, dict[int, np.ndarray]]:
    """``extract/<class>/cifar10_<class>_<i>.aedat``. Returns ``{class: {i: events}}``."""
    truth: dict[str, dict[int, np.ndarray]] = {}
    for c, name in enumerate(CIFAR10_DVS_CLASSES):
        (extract / name).mkdir(parents=True, exist_ok=True)
        truth[name] = {}
        for i in range(per_class):
            ev = cifar_events(c, i, n_events)
            write_aedat2(extract / name / f"cifar10_{name}_{i}.aedat", ev)
            truth[name][i] = ev
    return truth


def write_cifar_zips(download: Path, per_class: int = 20, n_events: int = 8) -> dict:
    """``download/<class>.zip``, each holding ``<class>/cifar10_<class>_<i>.aedat``."""
    staging = download.parent / "_staging"
    truth = write_cifar_folders(staging, per_class, n_events)
    download.mkdir(parents=True, exist_ok=True)
    for name in CIFAR10_DVS_CLASSES:
        with zipfile.ZipFile(download / f"{name}.zip", "w") as z:
            for f in sorted((staging / name).iterdir()):
                z.write(f, f"{name}/{f.name}")
    _rmtree(staging)
    return truth


# ---------------------------------------------------------------- expected frames
def frames_by_number(events: np.ndarray, T: int, size: int = 128) -> np.ndarray:
    """What splitting by event number must give: T frames of ``N // T`` consecutive events (the
    last one also takes the remainder), ``frames[t, p, y, x]`` counting events."""
    n = len(events)
    frames = np.zeros((T, 2, size, size), np.float32)
    for k, (_, x, y, p) in enumerate(events):
        frames[min(k // (n // T), T - 1) if n >= T else T - 1, p, y, x] += 1
    return frames


def _rmtree(p: Path) -> None:
    import shutil

    shutil.rmtree(p)
