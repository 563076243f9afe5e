"""The SEW authors' training curves: read from TensorBoard files in their format, shipped as
tables (src/snnexp/papers/curves/), and laid under a run's own curve."""

from __future__ import annotations

import math

import pytest
from torch.utils.tensorboard import SummaryWriter

from snnexp.papers import get_table
from snnexp.report.author_curves import authors_curve, entry_for, index
from snnexp.tfevents import read_run


def write_epochs(logdir, tags_values: dict[str, dict[int, float]], purge_step=None) -> None:
    w = SummaryWriter(str(logdir), purge_step=purge_step)
    for tag, by_epoch in tags_values.items():
        for epoch, v in by_epoch.items():
            w.add_scalar(tag, v, epoch)
    w.close()


def test_reads_the_authors_tags_and_a_resumed_run(tmp_path):
    """Their train.py: train_* under <run>_logs/train, test_* under <run>_logs/te, step = epoch; a
    resume writes a new file from the resume epoch on, whose values win."""
    import time

    run = tmp_path / "sew_resnet18_b32_lr0.1_T4_coslr320_cnf_ADD_logs"
    write_epochs(run / "train", {"train_loss": {0: 5.4, 1: 4.2, 2: 9.9}, "train_acc1": {0: 6.4, 1: 17.9}})
    write_epochs(
        run / "te", {"test_loss": {0: 4.6, 1: 3.7}, "test_acc1": {0: 12.6, 1: 23.2}, "test_acc5": {0: 30.7}}
    )
    time.sleep(1.1)  # event files are named by the second they were started in
    write_epochs(run / "train", {"train_loss": {2: 3.5}}, purge_step=2)
    rows = read_run(run)
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert rows[0]["test_acc1"] == pytest.approx(12.6) and rows[1]["train_loss"] == pytest.approx(4.2)
    assert rows[0]["test_acc5"] == pytest.approx(30.7)
    assert rows[2]["train_loss"] == pytest.approx(3.5), rows[2]  # the resumed run's value


def test_cifar10dvs_fractions_become_percent(tmp_path):
    write_epochs(
        tmp_path / "logs", {"train_acc": {0: 0.25}, "test_acc": {0: 0.5, 1: 0.744}, "test_loss": {0: 1.0}}
    )
    rows = read_run(tmp_path)
    assert rows[1]["test_acc1"] == pytest.approx(74.4)


# (table, epoch as their log counts it (0-based), column, value read from their tfevents)
READ_FROM_LOGS = [
    ("imagenet_sew_add_resnet34.csv", 0, "test_acc1", 12.592),
    ("imagenet_sew_add_resnet34.csv", 1, "train_loss", 4.24418),
    ("imagenet_sew_add_resnet34.csv", 318, "test_acc1", 67.042),
    ("imagenet_spiking_resnet152.csv", 195, "test_acc1", 10.028),
    ("dvs_gesture_sew_add.csv", 89, "test_acc1", 97.9167),
    ("cifar10dvs_t16_sew_add.csv", 41, "test_acc1", 74.4),
]


@pytest.mark.parametrize("file,epoch,column,value", READ_FROM_LOGS)
def test_shipped_tables_hold_the_logged_values(file, epoch, column, value):
    entry = next(e for e in index() if e["file"] == file)
    rows, _ = authors_curve(
        {
            "experiment_name": entry["experiment"],
            "model": {"name": entry["model"]},
            "block": {"name": entry["block"]},
        }
    )
    row = next(r for r in rows if r["epoch"] == epoch + 1)  # shifted to snnexp's 1-based epochs
    assert row[column] == pytest.approx(value, abs=1e-3), (file, epoch, row)


def test_max_of_each_shipped_imagenet_curve_is_the_papers_table_2():
    """SEW reports the max test accuracy over epochs (origin_logs): each curve's max, rounded to
    two decimals, is Table 2's number."""
    table = get_table("SEW", "2")
    for e in index():
        if e["experiment"] != "sew/imagenet":
            continue
        rows, _ = authors_curve(
            {"experiment_name": e["experiment"], "model": {"name": e["model"]}, "block": {"name": e["block"]}}
        )
        paper = table["values"][e["model"].replace("sew_", "")][e["block"]]
        for metric in ("acc1",):
            best = max(r[f"test_{metric}"] for r in rows)
            assert round(best, 2) == pytest.approx(paper[metric], abs=0.006), (e["file"], best, paper)
        assert len(rows) == 320 and not any(math.isnan(r["test_acc1"]) for r in rows)


def test_a_run_of_another_experiment_has_no_authors_curve():
    assert (
        entry_for(
            {
                "experiment_name": "sew/imagenet",
                "model": {"name": "sew_resnet18"},
                "block": {"name": "sew_iand"},
            }
        )
        is None
    )
    assert entry_for({"model": {"name": "sew_mini"}}) is None


def test_report_puts_a_run_beside_the_authors_curve(tmp_path):
    from snnexp import runfiles
    from snnexp.report.author_curves import render_track, track_rows
    from snnexp.report.runs import find_runs

    run = tmp_path / "r1"
    run.mkdir()
    cfg = "experiment_name: sew/imagenet\nmodel: {name: sew_resnet34}\nblock: {name: sew_add}\n"
    (run / runfiles.CONFIG).write_text(cfg)
    runfiles.write_summary(
        run, [{"epoch": 1, "test_acc1": 11.0, "test_loss": 4.7}, {"epoch": 2, "test_acc1": 20.0}]
    )
    rows = track_rows(find_runs([tmp_path]))
    assert len(rows) == 1 and rows[0]["epoch"] == 2
    assert rows[0]["authors_test_acc1"] == pytest.approx(23.184)  # their epoch index 1 (log value)
    assert "| 2 | 20.00 | 23.18 |" in render_track(rows)
