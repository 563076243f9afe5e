"""The data set snnexp returns for a DVS split: frames ``[T, 2, H, W]`` per item, with random
temporal delete and resize applied per item, and on-the-fly integration when nothing is cached."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from snnexp.config.schema import RESIZE_MODES

if TYPE_CHECKING:
    from snnexp.data.dvs.cache import Settings

SENSOR_SIZE = 128  # both data sets were recorded with a 128x128 DVS
__all__ = [
    "RESIZE_MODES",
    "SENSOR_SIZE",
    "BatchTemporalDelete",
    "DVSFrames",
    "FirstFrames",
    "FrameTransform",
    "Integrate",
    "IntegrateByDuration",
    "split_dataset",
]


class FrameTransform:
    """Per-item transform of a frame sequence ``[T, C, H, W]``: random temporal delete (keep
    ``T_train`` frames in order; None: keep all), then resize to ``size`` x ``size`` when it is
    not the sensor's 128 (``torch.nn.functional.interpolate``, antialiased when downsampling with
    bilinear/bicubic, like torchvision's Resize on tensors), then, with ``crop_padding`` > 0, a
    random crop of ``size`` from the zero-padded frames at one offset for all frames (the DSR
    code's RandomCrop(48, padding=4) on the [T, C, H, W] tensor)."""

    def __init__(
        self,
        T_train: int | None = None,
        size: int = SENSOR_SIZE,
        mode: str = "bilinear",
        crop_padding: int = 0,
    ):
        self.T_train, self.size, self.mode, self.crop_padding = T_train, size, mode, crop_padding
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
        if self.crop_padding:
            p = self.crop_padding
            x = torch.nn.functional.pad(x, (p, p, p, p))
            i, j = (int(v) for v in torch.randint(0, 2 * p + 1, (2,)))
            x = x[..., i : i + self.size, j : j + self.size]
        return x


class DVSFrames(Dataset):
    """``(frames [T, 2, H, W] float32, label int)`` over a spikingjelly dataset folder.

    ``indices`` selects samples of ``folder`` (a split), ``labels[i]`` is the label of the
    folder's class index ``i``. ``integrate`` (``cache: false``) turns an event dict into frames.
    ``samples`` lists ``(path, label)`` of the selected items, like DatasetFolder's.
    """

    batch_collate = None  # split_dataset sets one for one temporal delete per batch

    def __init__(
        self,
        folder,
        indices: list[int],
        labels: list[int],
        transform: FrameTransform,
        integrate: Callable[[dict], np.ndarray] | None = None,
        window: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        self.folder, self.indices, self.labels = folder, list(indices), list(labels)
        self.transform, self.integrate, self.window = transform, integrate, window

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
        if self.window is not None:
            x = self.window(x)
        x = torch.from_numpy(np.asarray(x, dtype=np.float32))
        return self.transform(x), self.labels[y]


class Integrate:
    """Events -> T frames on the fly (``cache: false``), spikingjelly's integration."""

    def __init__(self, split_by: str, T: int):
        self.split_by, self.T = split_by, T

    def __call__(self, events: dict) -> np.ndarray:
        from spikingjelly.datasets import integrate_events_by_fixed_frames_number

        return integrate_events_by_fixed_frames_number(
            events, self.split_by, self.T, SENSOR_SIZE, SENSOR_SIZE
        ).astype(np.float32)


class BatchTemporalDelete:
    """Collate, then random temporal delete with ONE set of kept frames for the whole batch
    [B, T, ...], as the authors' released SEW code draws it (``temporal_delete_per: batch``)."""

    def __init__(self, T_train: int):
        from spikingjelly.datasets import RandomTemporalDelete

        self.T_train = T_train
        self.delete = RandomTemporalDelete(T_remain=T_train, batch_first=True)

    def __call__(self, items):
        from torch.utils.data import default_collate

        x, y = default_collate(items)
        return (self.delete(x) if self.T_train < x.shape[1] else x), y


class IntegrateByDuration:
    """Events -> frames of ``duration`` us each over the whole recording (``cache: false``),
    spikingjelly's ``integrate_events_by_fixed_duration``, as its frame builder caches them."""

    def __init__(self, duration: int):
        self.duration = duration

    def __call__(self, events: dict) -> np.ndarray:
        from spikingjelly.datasets import integrate_events_by_fixed_duration

        return integrate_events_by_fixed_duration(events, self.duration, SENSOR_SIZE, SENSOR_SIZE)


class FirstFrames:
    """The first T frames of a recording's fixed-duration frames (TDBN: "the first 1200ms of each
    action" at T=40 x 30 ms); a recording shorter than T windows is padded with empty frames."""

    def __init__(self, T: int):
        self.T = T

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames, dtype=np.float32)[: self.T]
        if frames.shape[0] < self.T:
            pad = np.zeros((self.T - frames.shape[0], *frames.shape[1:]), np.float32)
            frames = np.concatenate([frames, pad])
        return frames


def split_dataset(s: Settings, folder, indices, labels: list[int]) -> DVSFrames:
    """One split of ``folder``: temporal delete in training only (per sample in the item
    transform, or per batch in the loader's collate), resize, and integration per item when the
    frames are not cached; with ``frame_duration_ms`` the first T frames of that length."""
    per_batch = s.augment and s.T_train is not None and s.delete_per == "batch"
    crop = s.crop_padding if s.augment else 0
    tf = FrameTransform(s.T_train if s.augment and not per_batch else None, s.size, s.resize_mode, crop)
    if s.duration_us is not None:
        integrate = None if s.cache else IntegrateByDuration(s.duration_us)
        ds = DVSFrames(folder, indices, labels, tf, integrate, window=FirstFrames(s.T))
    else:
        ds = DVSFrames(folder, indices, labels, tf, None if s.cache else Integrate(s.split_by, s.T))
    if per_batch:
        ds.batch_collate = BatchTemporalDelete(s.T_train)
    return ds
