"""conf/experiment/keys/*.yaml against KEYS's hyper-parameters (papers/keys.yaml, Sec. 3.5) and tables."""

from __future__ import annotations

import pytest

from snnexp.config import compose
from snnexp.config.compose import conf_dir
from snnexp.papers import load_paper

KEYS = load_paper("keys")
HP = KEYS["hparams"]
# the fine-tuning experiments (init.skip) need the pre-trained checkpoint; its file is read at the start
FROM = "init.from=pretrained.pt"
EXPERIMENTS = sorted(p.stem for p in (conf_dir() / "experiment" / "keys").glob("table*.yaml"))


def test_every_table_experiment_has_a_file_and_every_file_a_table():
    named = {e for t in KEYS["tables"].values() for e in t["experiments"]}
    assert named == {f"keys/{e}" for e in EXPERIMENTS}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_uses_the_keys_recipe(name):
    c = compose([f"experiment=keys/{name}", FROM])
    assert c.experiment_name == f"keys/{name}" and c.paper == "KEYS"
    o = HP["optimizer"]
    assert (c.optim.name, c.optim.lr, c.optim.momentum, c.optim.weight_decay) == (
        o["name"],
        o["lr"],
        o["momentum"],
        o["weight_decay"],
    )
    assert c.trainer.batch_size == HP["batch_size"]
    assert c.sched.name == HP["sched"]["name"] and c.sched.gamma == HP["sched"]["gamma"]
    dvs = c.data.name == "cifar10_dvs"
    caption_dvs = dvs and name not in (
        "table13",
        "table14_dvs",
    )  # Table 11's caption; 13 (and 14, its row) name none
    assert list(c.sched.milestones) == (HP["dvs_milestones"] if caption_dvs else HP["sched"]["milestones"])
    assert c.sched.milestone_epoch == "after"  # the authors' utils.adjust_learning_rate: 50/57/64 of 70
    assert c.model.name.startswith("s_resnet") and c.block.name == "keys_s2s"
    if name != "table15_ann":
        assert c.T in (HP["T"], 20) and c.norm.name == HP["norm"]
        assert (c.neuron.name, c.neuron.leak, c.neuron.v_threshold) == tuple(HP["neuron"].values())
        assert (c.surrogate.name, c.surrogate.alpha) == tuple(HP["surrogate"].values())
    if not dvs:
        assert c.data.augment and c.data.crop_padding == HP["crop_padding"]
        assert c.data.normalize_stats == "keys_cifar10"  # the authors' train.py, CIFAR-100 included
    else:  # the authors' train.py: no transform for CIFAR10DVS, spikingjelly's file-name order
        assert (c.data.crop_padding, c.data.split_order) == (0, "name")


@pytest.mark.parametrize(
    "name,width,epochs,readout",
    [("table6", 16, 200, None), ("table6", 32, 70, None), ("table12", 16, 200, "integrate")]
    + [("table12", 32, 70, "voting"), ("table12_finetune", 16, 100, "integrate")],
)
def test_epochs_and_readout_follow_the_captions(name, width, epochs, readout):
    c = compose([f"experiment=keys/{name}", f"model.base_width={width}", FROM])
    assert c.trainer.epochs == epochs
    if readout:
        assert c.model.readout == readout


@pytest.mark.parametrize("size,stem", [(32, (3, 1, 0)), (64, (3, 2, 0)), (128, (5, 2, 2))])
def test_table_13_stems(size, stem):
    c = compose(["experiment=keys/table13", f"data.image_size={size}", FROM])
    assert (c.model.stem_kernel, c.model.stem_stride, c.model.stem_pool) == stem
    assert c.init.skip == ["stem.conv1", "readout.fc"]


def test_the_ann_of_table_15_is_relu_with_one_step():
    c = compose(["experiment=keys/table15_ann"])
    assert (c.neuron.name, c.T, c.norm.name) == ("relu", 1, "bn")


def test_reported_accuracy_is_the_test_after_the_last_epoch_except_table_14():
    assert {tid: t["reported"] for tid, t in KEYS["tables"].items() if t["reported"] != "last"} == {
        "14": "max"
    }


def test_report_shows_the_test_after_the_last_epoch_and_table_14_the_maximum(tmp_path):
    """A KEYS Table 7 run (wider + boosting): Table 7 compares the paper with our last-epoch test
    accuracy, Table 14 with our maximum over the epochs (KEYS's "validation" accuracy)."""
    from snnexp.report import make_tables, render_markdown
    from test_report import fake_run

    cfg = {"paper": "KEYS", "model": {"name": "s_resnet38", "base_width": 32, "readout": "voting"}}
    fake_run(tmp_path / "w32v", experiment="keys/table7", overrides=[], config=cfg, acc1=[80.0, 94.5, 93.9])
    t7, t14 = (make_tables([tmp_path], table=t, paper="keys")[0] for t in ("7", "14"))
    md7, md14 = render_markdown(t7), render_markdown(t14)
    assert (
        "to compare with ours last" in md7
        and "| S-ResNet38 wider + boosting | 93.77 | 94.50 | 93.90 |" in md7
    )
    assert "to compare with ours max" in md14 and "| 94.14 | 94.50 | 93.90 |" in md14


@pytest.mark.parametrize(
    "name,over,experiment",
    [
        ("table14_cifar10", [], "keys/table14_cifar10"),
        ("table7", ["model.base_width=32", "model.readout=voting"], "keys/table7"),
        ("table14_cifar100", [], "keys/table14_cifar100"),
        ("table14_dvs", [], "keys/table14_dvs"),
        ("table13", ["data.image_size=64"], "keys/table13"),
    ],
)
def test_table_14_rows_take_their_own_experiment_or_the_same_setting_of_tables_6_7_13(
    name, over, experiment, tmp_path
):
    """KEYS Table 14's three 'Ours' rows: CIFAR-10/100 wider + boosting (70 epochs), DVS 64 px with
    32 filters; each filled by its keys/table14_* run or by a run of the same setting in 7, 6 or 13."""
    from snnexp.report import make_tables
    from test_report import fake_run

    c = compose([f"experiment=keys/{name}", *over, FROM])
    expect = {"table14_cifar10": (32, "voting", 70), "table14_cifar100": (32, "voting", 70)}
    if name in expect:
        assert (c.model.base_width, c.model.readout, c.trainer.epochs) == expect[name]
    if name == "table14_dvs":
        assert (c.data.name, c.data.image_size, c.model.base_width, c.model.stem_stride) == (
            "cifar10_dvs",
            64,
            32,
            2,
        )
    cfg = {
        "paper": "KEYS",
        "model": {"name": "s_resnet38", "base_width": c.model.base_width, "readout": c.model.readout},
        "data": {"name": c.data.name, "image_size": c.data.image_size},
    }
    fake_run(tmp_path / "run", experiment=experiment, overrides=over, config=cfg, acc1=[50.0, 70.5, 70.0])
    (t,) = make_tables([tmp_path], table="14", paper="keys")
    filled = [r["id"] for r in t["rows"] if r["columns"]["acc"]["n_runs"]]
    row = {"cifar10": "ours_c10", "cifar100": "ours_c100", "cifar10_dvs": "ours_dvs"}[c.data.name]
    assert filled == [row], filled
    assert (
        t["rows"][[r["id"] for r in t["rows"]].index(row)]["columns"]["acc"]["metrics"]["acc1"]["ours_max"]
        == 70.5
    )


def test_table_9_reports_the_searchs_leak_over_its_best_trials_beside_the_papers(tmp_path, capsys):
    """KEYS Table 9: the BOHB leak is the mean (std) over the 6 best configurations (0.889 ± 0.003);
    `snnexp report --table 9` reads the search's search_summary.json (snnexp.tune.summarize)."""
    import json

    from snnexp.commands.report import main

    top = [
        {"number": i, "value": 70.0 - i, "params": {"neuron.leak": v, "T": 50}}
        for i, v in enumerate([0.88, 0.9])
    ]
    summary = {
        "counts": {"COMPLETE": 10, "PRUNED": 5},
        "top_k": 6,
        "best": top[0],
        "top": top,
        "stats": {"neuron.leak": {"mean": 0.89, "std": 0.01, "n": 2}},
    }
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "search_summary.json").write_text(json.dumps(summary))
    assert main([str(tmp_path), "--table", "9"]) == 0  # the search_summary.json makes it KEYS's
    md = capsys.readouterr().out
    assert (
        "| Hyper-parameter search (mean of the 6 best, std 0.003) | 0.889 (± 0.003) | 0.890 (± 0.010), n=2 |"
        in md
    )
    assert "| Learned through PLIF (after 70 epochs) | 0.986 | — |" in md
    assert "neuron.leak=0.88, T=50 (acc1 70.00 %)" in md and "leak 0.874, T 50, lr 0.0268" in md
    assert (tmp_path / "table_9.md").read_text() == md.removesuffix("\n")
