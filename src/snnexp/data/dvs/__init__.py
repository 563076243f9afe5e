"""DVS data sets (DVS128 Gesture, CIFAR10-DVS) through spikingjelly (its loaders and frame integration).

An item is ``(frames, label)``: ``frames`` a float tensor ``[T, 2, H, W]`` of event counts
(channel 0: OFF, 1: ON events), ``label`` an int. Each data root is prepared once and cached there:

1. recordings (``root/extract/``, else extracted from ``root/download/``) are checked
   (:mod:`.aedat`; a missing or corrupt file gets a one-line error) and converted to
   ``root/events_np/`` by spikingjelly's ``create_raw_from_extracted`` (:mod:`.cache`; not its
   ``prepare_raw_dataset``, which md5-checks, deletes and tries to download files);
2. events -> ``root/frames_number_<T>_split_by_<split_by>/`` by spikingjelly's data set class;
   ``cache: false`` integrates each item when it is loaded instead (:mod:`.frames`);
3. per item: random temporal delete (training only, keep ``T_train`` of T frames in order) and
   a resize to ``image_size`` when that is not 128 (:class:`.frames.FrameTransform`).

A ``.building`` marker left by a killed conversion is reported before spikingjelly is called;
builds of one root are serialised by ``root/.snnexp.lock`` (DDP ranks convert once).
Single-field settings are checked at composition by ``DVSDataConfig`` in ``snnexp.config.schema``.
"""

from __future__ import annotations

from snnexp.config.schema import RESIZE_MODES
from snnexp.data.dvs.aedat import check_aedat2, check_aedat31
from snnexp.data.dvs.cifar10_dvs import CIFAR10_DVS_CLASSES, cifar10_dvs, split_by_class
from snnexp.data.dvs.frames import SENSOR_SIZE, DVSFrames, FrameTransform
from snnexp.data.dvs.gesture import GESTURE_CLASSES, check_gesture_labels, dvs_gesture

__all__ = [
    "CIFAR10_DVS_CLASSES",
    "GESTURE_CLASSES",
    "RESIZE_MODES",
    "SENSOR_SIZE",
    "DVSFrames",
    "FrameTransform",
    "check_aedat2",
    "check_aedat31",
    "check_gesture_labels",
    "cifar10_dvs",
    "dvs_gesture",
    "split_by_class",
]
