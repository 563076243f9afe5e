"""Every figure, built from tiny synthetic data, checked through matplotlib's objects (titles,
axis labels, legend entries, tick values), not pixels; and the report/runs logic behind them."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from tests.test_report import fake_run

from snnexp.errors import ConfigError, UserError


def _history(n):
    return [
        {"epoch": e, "train_loss": 2.0 / e, "test_loss": 2.1 / e, "train_acc1": 50 + e, "test_acc1": a}
        for e, a in zip(range(1, n + 1), [40.0, 55.0, 52.0, 60.0, 58.0][:n], strict=True)
    ]


def _legend(ax_or_fig):
    leg = ax_or_fig.get_legend() if hasattr(ax_or_fig, "get_legend") else ax_or_fig.legends[0]
    return [t.get_text() for t in leg.get_texts()]


def test_curves_integer_epochs_best_marker_and_title():
    from snnexp.figures.curves import curves_figure, run_title

    fig = curves_figure(_history(5), run_title("sew_mini", "digits", 4, "block=sew_iand,seed=1"))
    loss, acc = fig.axes
    assert fig._suptitle.get_text() == "block=sew_iand,seed=1: sew_mini on digits, T=4"
    ticks = [t for t in acc.get_xticks() if 1 <= t <= 5]
    assert all(float(t).is_integer() for t in ticks), ticks
    assert "best test 60.00 % (epoch 4)" in _legend(acc)
    lo, hi = acc.get_ylim()  # every accuracy above 30 %: zoomed to a round 35, and said so
    assert (lo, hi) == (35.0, 100.0) and acc.get_ylabel() == "top-1 accuracy (%), axis from 35 %"
    assert loss.get_ylabel() == "loss (cross-entropy)" and acc.get_xlabel() == "epoch"


def test_one_epoch_run_is_visible():
    from snnexp.figures.curves import curves_figure

    fig = curves_figure(_history(1), "t")
    acc = fig.axes[1]
    assert list(acc.get_xticks()) == [1]
    assert all(line.get_marker() not in (None, "None", "") for line in acc.get_lines())


def test_accuracy_axis_is_not_magnified_and_says_when_zoomed():
    from snnexp.figures.style import accuracy_axis, pyplot

    _, ax = pyplot().subplots()
    accuracy_axis(ax, [98.2, 99.1])
    lo, hi = ax.get_ylim()
    assert hi == 100 and hi - lo >= 10, (lo, hi)  # a 0.9-point gap stays under a tenth of the axis
    assert f"axis from {lo:g} %" in ax.get_ylabel()


def test_accuracy_vs_T_has_error_bars_and_n():
    from snnexp.analysis.timesteps import figure, standard_error

    rows = [{"T": t, "acc1": a, "n": 360} for t, a in ((4, 98.9), (2, 98.3), (1, 90.0))]
    fig = figure(rows, trained_T=4, title="digits demo")
    ax = fig.axes[0]
    assert "n=360 test samples" in ax.get_title()
    assert math.isclose(standard_error(90.0, 360), 100 * math.sqrt(0.9 * 0.1 / 360))
    assert ax.get_xticks().tolist() == [1, 2, 3, 4] or set(ax.get_xticks()) >= {1.0, 2.0, 4.0}
    assert any("s.e." in t for t in _legend(ax)) and "trained with T=4" in _legend(ax)
    assert ax.get_ylim()[1] == 100


def _analysis_result():
    blocks = [
        {
            "index": i,
            "name": f"layer{i}",
            "downsample": i == 2,
            "rate_A": 0.2,
            "rate_O": 1.1 - 0.1 * i,
            "grad_norm": 0.1 / (i + 1),
        }
        for i in range(4)
    ]
    return {
        "model": "sew_mini",
        "data": "synthetic",
        "T": 2,
        "source": "init",
        "batches": 1,
        "batch_size": 8,
        "split": "test",
        "neuron": {"name": "if", "v_threshold": 1.0},
        "surrogate": {"name": "atan", "alpha": 2.0},
        "variants": [{"label": "SEW ADD", "block": "sew_add", "blocks": blocks}],
    }


def test_firing_legend_explains_every_mark():
    from snnexp.analysis.plots import firing_figure

    fig = firing_figure(_analysis_result())
    texts = _legend(fig)
    assert "SEW ADD" in texts and any("downsample block" in t for t in texts)
    assert any("not binary" in t for t in texts)  # ADD's O reaches 1.1
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][0] == "0 layer0"


def test_gradients_log_axis_has_several_labels():
    from snnexp.analysis.plots import gradients_figure

    fig = gradients_figure(_analysis_result())
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    lo, hi = ax.get_ylim()
    shown = [t for t in ax.get_yticks() if lo <= t <= hi]
    assert len(shown) >= 3, shown  # 1, 2, 5 x 10^k over one decade


def test_energy_panels_name_layers_and_totals():
    from snnexp.analysis.energy_report import energy_figure

    result = {
        "model": "m",
        "data": "d",
        "T": 4,
        "source": "init",
        "samples": 8,
        "bn_mode": "eval",
        "neurons": [{"name": "sn1", "spikes_per_neuron": 0.5}, {"name": "sn2", "spikes_per_neuron": 0.3}],
        "layers": [
            {"name": n, "ann_macs": 1e6, "snn_adds": 2e5, "snn_mults": 0.0} for n in ("conv1", "conv2", "fc")
        ],
        "total": {
            "ann": {"multiplications": 3e6, "additions": 3e6, "energy_j": 1e-5},
            "snn": {"additions": 6e5, "multiplications": 0.0, "energy_j": 1e-6},
            "energy_ratio_ann_over_snn": 10.0,
        },
    }
    fig = energy_figure(result)
    a, b = fig.axes
    assert [t.get_text() for t in a.get_xticklabels()] == ["1 sn1", "2 sn2"]
    assert [t.get_text() for t in b.get_xticklabels()] == ["1 conv1", "2 conv2", "3 fc"]
    assert "ANN / SNN = 10.00" in b.get_title() and "T=4" in fig._suptitle.get_text()


def _claim(values, verdict="holds"):
    return {
        "id": "claims/sew/x",
        "paper": "SEW",
        "paper_says": "SEW ADD trains where Plain degrades",
        "test": "16 blocks on digits",
        "source": "Sec. 3.1",
        "metric": "best_acc1",
        "quick": False,
        "verdict": verdict,
        "rule_spec": {"type": "greater", "a": "sew_add", "b": ["plain"], "margin": 20},
        "values": values,
        "mean": {k: sum(v) / len(v) for k, v in values.items()},
    }


def test_claims_figure_states_claim_threshold_and_verdict():
    from snnexp.claims.render import figure, threshold

    r = _claim({"plain": [40.0, 44.0], "sew_add": [90.0, 94.0]})
    fig = figure(r)
    ax = fig.axes[0]
    assert ax.get_title() == "SEW ADD trains where Plain degrades"
    assert ax.get_ylabel().startswith("best test accuracy (%")
    assert threshold(r["rule_spec"], r["mean"]) == (62.0, math.inf)
    assert any(
        abs(seg[0][1] - 62.0) < 1e-9 for c in ax.collections for seg in getattr(c, "get_segments", list)()
    )
    assert "holds" in [t.get_text() for t in fig.texts]
    assert (
        sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_sizes") and len(c.get_sizes()))
        == 4
    )


def test_one_seed_has_no_error_bar():
    from snnexp.claims.render import figure

    fig = figure(_claim({"plain": [40.0], "sew_add": [90.0]}))
    assert not [c for c in fig.axes[0].containers if type(c).__name__ == "ErrorbarContainer"]


def test_plots_format_writes_vector_files(tmp_path):
    from snnexp.figures.curves import write_curves
    from snnexp.figures.style import parse_formats

    written = write_curves(_history(2), "t", tmp_path / "curves.png", parse_formats("pdf,svg"))
    assert [p.name for p in written] == ["curves.png", "curves.pdf", "curves.svg"]
    assert all(p.stat().st_size > 0 for p in written)
    with pytest.raises(ConfigError, match="'jpg' is not a figure format"):
        parse_formats("png,jpg")


# ---------------------------------------------------------------------------- report and runs
def _sweep(tmp_path, jobs, missing=()):
    sweep = tmp_path / "sw"
    sweep.mkdir()
    task = ["block=sew_add,spiking", "seed=0,1"]
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": task}}}))
    for block, seed, lr, acc in jobs:
        fake_run(
            sweep / f"block={block},seed={seed}",
            experiment="demo",
            overrides=[f"block={block}", f"seed={seed}"],
            config={"block": {"name": block}, "seed": seed, "optim": {"lr": lr}},
            acc1=[acc / 2, acc],
        )
    return sweep


def test_report_pools_seeds_only_and_lists_missing(tmp_path):
    from snnexp.report.runs import find_runs
    from snnexp.report.sweep import render_markdown, sweep_table

    sweep = _sweep(
        tmp_path, [("sew_add", 0, 0.1, 90.0), ("sew_add", 1, 0.2, 80.0), ("spiking", 0, 0.1, 70.0)]
    )
    t = sweep_table(find_runs([sweep]), [sweep])
    assert t["axes"] == ["block", "optim.lr"], t["axes"]  # lr differs between the two sew_add seeds
    rows = {(r["block"], r["optim.lr"]): r for r in t["rows"] if r["status"] != "missing"}
    assert rows[("sew_add", "0.1")]["n"] == 1 and rows[("sew_add", "0.1")]["best_acc1_std"] is None
    assert t["missing"] == [{"block": "spiking", "seed": "1"}]
    md = render_markdown(t)
    assert "± 0.00" not in md and "| 90.00 |" in md and "block=spiking, seed=1" in md


def test_report_lists_missing_jobs_of_the_experiments_own_axes(tmp_path):
    """A sweep whose axis is in its experiment's YAML: multirun.yaml holds it as hydra.sweeper.params,
    not in the command line's overrides; the jobs asked for are both (config's axes first)."""
    from snnexp.report.runs import find_runs
    from snnexp.report.sweep import sweep_table

    sweep = _sweep(
        tmp_path, [("sew_add", 0, 0.1, 90.0), ("sew_add", 1, 0.1, 80.0), ("spiking", 0, 0.1, 70.0)]
    )
    conf = {
        "hydra": {"sweeper": {"params": {"block": "sew_add,spiking"}}, "overrides": {"task": ["seed=0,1"]}}
    }
    (sweep / "multirun.yaml").write_text(yaml.safe_dump(conf))
    assert sweep_table(find_runs([sweep]), [sweep])["missing"] == [{"block": "spiking", "seed": "1"}]


def test_report_draws_sweep_figures(tmp_path, monkeypatch):
    from snnexp.commands import report as report_cmd

    monkeypatch.setenv("WANDB_MODE", "disabled")
    sweep = _sweep(
        tmp_path, [("sew_add", 0, 0.1, 90.0), ("sew_add", 1, 0.1, 80.0), ("spiking", 0, 0.1, 70.0)]
    )
    assert report_cmd.main([str(sweep), "--plots-format", "png,svg"]) == 0
    for name in ("sweep_acc1.png", "sweep_acc1.svg", "sweep_curves.png", "sweep.md"):
        assert (sweep / name).is_file(), name


def test_sweep_figures_label_axes_and_settings(tmp_path):
    from snnexp.figures.report import sweep_curves_figure, sweep_metric_figure
    from snnexp.report.runs import find_runs
    from snnexp.report.sweep import sweep_table

    sweep = _sweep(
        tmp_path, [("sew_add", 0, 0.1, 90.0), ("sew_add", 1, 0.1, 80.0), ("spiking", 0, 0.1, 70.0)]
    )
    runs = find_runs([sweep])
    t = sweep_table(runs, [sweep])
    ax = sweep_metric_figure(t, "Sweep").axes[0]
    assert ax.get_xlabel() == "block" and [x.get_text() for x in ax.get_xticklabels()] == [
        "sew_add",
        "spiking",
    ]
    curves = {str(r.path): r.test_curve("acc1") for r in runs}
    ax = sweep_curves_figure(t, curves, "curves").axes[0]
    assert _legend(ax) == ["block=sew_add (n=2)", "block=spiking (n=1)"]
    assert len(ax.get_lines()) == 3 + 2  # a thin line per run, a thick one per setting


def test_runs_filters_sorts_and_compares(tmp_path, capsys):
    from snnexp.commands import runs as runs_cmd

    sweep = _sweep(
        tmp_path, [("sew_add", 0, 0.1, 90.0), ("spiking", 0, 0.1, 70.0), ("spiking", 1, 0.1, 75.0)]
    )
    assert runs_cmd.main([str(sweep), "--where", "block=spiking", "--sort", "best_acc1", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["best_acc1"] for r in rows] == [75.0, 70.0]
    assert (
        runs_cmd.main(["--compare", str(sweep / "block=sew_add,seed=0"), str(sweep / "block=spiking,seed=1")])
        == 0
    )
    out = capsys.readouterr().out
    assert "block.name" in out and "sew_add" in out and "best_acc1" in out
    with pytest.raises(UserError, match="not YYYY-MM-DD"):
        runs_cmd.main([str(sweep), "--since", "yesterday"])


def test_wandb_names_and_tags_are_pure():
    from snnexp.loggers.naming import run_name, run_tags

    cfg = {
        "experiment_name": "sew/dvs_gesture_table4",
        "paper": "SEW",
        "method": {"name": "bptt"},
        "model": {"name": "sew_7bnet"},
        "neuron": {"name": "plif"},
        "block": {"name": "sew_iand"},
    }
    assert run_name(cfg, ["experiment=sew/dvs_gesture_table4", "block=sew_iand", "logger.mode=online"]) == (
        "sew/dvs_gesture_table4 block=sew_iand"
    )
    assert (
        run_name(cfg, [], sweep_label="block=sew_iand,seed=1")
        == "sew/dvs_gesture_table4 block=sew_iand,seed=1"
    )
    assert run_name({"model": {"name": "sew_mini"}, "data": {"name": "digits"}}, []) == "sew_mini/digits"
    assert run_tags(cfg, ["mine"]) == [
        "paper:SEW",
        "experiment:sew/dvs_gesture_table4",
        "method:bptt",
        "model:sew_7bnet",
        "neuron:plif",
        "block:sew_iand",
        "mine",
    ]


def test_paper_table_figure_puts_ours_beside_the_paper(tmp_path):
    from tests.test_report import imagenet_sweep

    from snnexp.figures.report import paper_table_figure
    from snnexp.report import make_tables

    t = make_tables([imagenet_sweep(tmp_path)], table="2")[0]
    ax = paper_table_figure(t).axes[0]
    assert ax.get_title().startswith("SEW Table 2:")
    assert _legend(ax) == ["paper", "ours (max over epochs)"]
    assert ax.get_ylabel() == "test acc@1 (%)" and ax.get_ylim() == (0.0, 100.0)


def test_training_run_writes_vector_curves_and_logs_to_wandb(tmp_path, monkeypatch):
    """A tiny run with the wandb logger (disabled: no files, same calls) logs curves.png and best.pt
    without error, and plots.format adds curves.svg."""
    import snnexp
    from conftest import FAST

    monkeypatch.setenv("WANDB_MODE", "disabled")
    cfg = snnexp.compose(
        [*FAST, "trainer.epochs=1", "logger=wandb", "logger.log_checkpoints=true", "plots.format=[png,svg]"]
    )
    m = snnexp.train(cfg, run_dir=str(tmp_path / "run"))
    assert m["status"] == "finished"
    assert (tmp_path / "run" / "curves.png").is_file() and (tmp_path / "run" / "curves.svg").is_file()


def test_log_checkpoints_needs_wandb_and_plots_format_is_a_list():
    import snnexp
    from snnexp.cli import _plots_format_as_list

    with pytest.raises(ConfigError, match="log_checkpoints=true needs logger=wandb"):
        snnexp.compose(["logger=csv", "logger.log_checkpoints=true"])
    assert _plots_format_as_list("plots.format=png,pdf,svg") == "plots.format=[png,pdf,svg]"
    assert _plots_format_as_list("block=a,b") == "block=a,b"
