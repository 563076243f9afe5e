"""The SEW authors' TensorBoard logs (fangwei123456/Spike-Element-Wise-ResNet, ``origin_logs/``) as
per-epoch rows. Their train.py writes one scalar per epoch with the epoch as the step: ``train_loss``,
``train_acc1``, ``train_acc5`` (ImageNet, DVS Gesture: under ``train/``) and ``test_loss``,
``test_acc1``, ``test_acc5`` (under ``te/``); the CIFAR10-DVS script writes ``train_loss``,
``train_acc``, ``test_loss``, ``test_acc`` (fractions) into one ``logs/`` directory. A run resumed
from a checkpoint starts a new event file whose writer purges the steps after the resume epoch, so
files are read in the order they were written and a later value replaces an earlier one.
"""

from __future__ import annotations

from pathlib import Path

COLUMNS = ("epoch", "train_loss", "train_acc1", "train_acc5", "test_loss", "test_acc1", "test_acc5")
RENAME = {"train_acc": "train_acc1", "test_acc": "test_acc1"}  # the CIFAR10-DVS script's tags


def _written_at(path: Path) -> tuple[int, str]:
    """events.out.tfevents.<unix time>.<host>...: the time the writer started."""
    parts = path.name.split(".")
    return (int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 0, path.name)


def read_run(run_dir: str | Path) -> list[dict[str, float]]:
    """One row per epoch (``COLUMNS``; accuracies in percent) from every event file under ``run_dir``."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    by_epoch: dict[int, dict[str, float]] = {}
    files = sorted(Path(run_dir).rglob("events.out.tfevents.*"), key=_written_at)
    for f in files:
        for event in EventFileLoader(str(f)).Load():
            for v in event.summary.value:
                tag = RENAME.get(v.tag, v.tag)
                if tag in COLUMNS:
                    value = v.simple_value if v.HasField("simple_value") else _tensor_value(v)
                    by_epoch.setdefault(int(event.step), {})[tag] = float(value)
    rows = [{"epoch": e, **by_epoch[e]} for e in sorted(by_epoch)]
    acc = [r[k] for r in rows for k in ("train_acc1", "test_acc1") if k in r]
    if acc and max(acc) <= 1.0:  # fractions (CIFAR10-DVS script): to percent like the others
        for r in rows:
            for k in ("train_acc1", "train_acc5", "test_acc1", "test_acc5"):
                if k in r:
                    r[k] *= 100.0
    return rows


def _tensor_value(v) -> float:
    from tensorboard.util import tensor_util

    return float(tensor_util.make_ndarray(v.tensor))


__all__ = ["COLUMNS", "read_run"]
