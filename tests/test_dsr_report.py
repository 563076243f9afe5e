"""`snnexp report` for DSR: the paper's mean ± std over 3 runs beside ours over seeds (Tables 2, 3)."""

from __future__ import annotations

import statistics

from snnexp.papers import get_table
from snnexp.report import make_tables, render_csv, render_markdown
from test_report import fake_run


def test_dsr_paper_numbers():
    t2, t3 = get_table("dsr", "2"), get_table("dsr", "3")
    assert t2["values"]["cifar10"] == {"if": {"acc1": 95.24}, "lif": {"acc1": 95.40}}
    assert t2["std"]["dvs_cifar10"]["lif"]["acc1"] == 0.24 and t2["values"]["imagenet"]["if"]["acc1"] == 67.74
    assert t3["values"]["no_t6"]["acc"]["acc1"] == 90.45 and t3["std"]["no_t6"]["acc"]["acc1"] == 1.84
    assert t2["runs"] == t3["runs"] == 3


def test_table2_mean_and_std_over_seeds(tmp_path):
    bests = [95.0, 95.5, 94.0]
    for seed, b in enumerate(bests):
        cfg = {"paper": "DSR", "seed": seed, "data": {"name": "cifar10"}, "neuron": {"name": "dsr_if"}}
        fake_run(
            tmp_path / f"{seed}",
            experiment="dsr/cifar10_if",
            overrides=[f"seed={seed}"],
            config=cfg,
            acc1=[b - 5, b, b - 1],
        )
    (t,) = make_tables([tmp_path], table="2", paper="dsr")
    md = render_markdown(t)
    mean, std = statistics.mean(bests), statistics.stdev(bests)
    assert f"{mean:.2f} ± {std:.2f} (n=3)" in md and "95.24 ± 0.17" in md
    row = next(r for r in render_csv(t).splitlines() if r.startswith("2,cifar10,") and ",if," in r)
    paper_std, ours_mean, ours_std, seeds = row.split(",")[-4:]
    assert (float(paper_std), int(seeds)) == (0.17, 3)
    assert abs(float(ours_mean) - mean) < 1e-9 and abs(float(ours_std) - std) < 1e-9


def test_table2_ann_rows_take_our_ann_runs_under_if_only(tmp_path):
    """DSR Table 2's ANN rows (CIFAR-10 95.41, CIFAR-100 78.12, ImageNet 70.79, one number each):
    the runs of dsr/<data>_ann go in the IF column; the LIF cell of an ANN row stays empty."""
    for data, exp, best in (("cifar10", "dsr/cifar10_ann", 95.0), ("imagenet", "dsr/imagenet_ann", 70.0)):
        cfg = {"paper": "DSR", "seed": 0, "data": {"name": data}, "neuron": {"name": "relu"}}
        fake_run(tmp_path / exp, experiment=exp, overrides=[], config=cfg, acc1=[best - 3, best, best - 1])
    (t,) = make_tables([tmp_path], table="2", paper="dsr")
    rows = {r["id"]: r for r in t["rows"]}
    for row, paper, ours in (("cifar10_ann", 95.41, 95.0), ("imagenet_ann", 70.79, 70.0)):
        cell = rows[row]["columns"]["if"]["metrics"]["acc1"]
        assert (cell["paper"], cell["ours_mean"], cell["ours_last"]) == (paper, ours, ours - 1), (row, cell)
        assert rows[row]["columns"]["lif"]["status"] == "—" and rows[row]["columns"]["lif"]["n_runs"] == 0
    assert rows["cifar100_ann"]["columns"]["if"]["status"] == "missing"
    assert rows["cifar10"]["columns"]["if"]["n_runs"] == 0  # an ANN is not a DSR run of the same data
    md = render_markdown(t)
    row = "| CIFAR-10 (ANN, self-implemented) | PreAct-ResNet-18 | — | 95.41 | 95.00 (n=1) | 94.00 |"
    assert row in md, md


def test_runs_that_differ_in_more_than_the_seed_are_not_averaged(tmp_path):
    """Three seeds of the paper's setting and one run at another lr in the same cell: the mean is
    over the three alone, and the note says a run was left out."""
    for seed, (b, lr) in enumerate([(95.0, 0.1), (95.5, 0.1), (94.0, 0.1), (50.0, 0.5)]):
        cfg = {
            "paper": "DSR",
            "seed": seed,
            "data": {"name": "cifar10"},
            "neuron": {"name": "dsr_if"},
            "optim": {"lr": lr},
        }
        fake_run(
            tmp_path / f"{seed}",
            experiment="dsr/cifar10_if",
            overrides=[f"seed={seed}"],
            config=cfg,
            acc1=[b - 5, b],
        )
    (t,) = make_tables([tmp_path], table="2", paper="dsr")
    md = render_markdown(t)
    mean, std = statistics.mean([95.0, 95.5, 94.0]), statistics.stdev([95.0, 95.5, 94.0])
    assert f"{mean:.2f} ± {std:.2f} (n=3)" in md, md
    assert "differ in more than the seed" in md
