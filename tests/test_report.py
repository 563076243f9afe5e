"""`snnexp report` on fake run directories written in the engine's format."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from snnexp.commands import report as report_cmd
from snnexp.errors import UserError
from snnexp.papers import get_table, load_paper, normalize_table_id
from snnexp.report import find_runs, make_tables, render_csv, render_markdown
from snnexp.runfiles import SUMMARY_COLUMNS


def fake_run(
    d: Path,
    *,
    experiment: str,
    overrides: list[str],
    config: dict,
    acc1: list[float],
    acc5: list[float] | None = None,
    epochs: int | None = None,
    status: str = "finished",
    params: int = 1000,
    write_metrics: bool = True,
) -> Path:
    """A run directory as the engine writes it: config.yaml, .hydra/overrides.yaml, summary.csv,
    metrics.json, checkpoints/last.pt."""
    d.mkdir(parents=True, exist_ok=True)
    (d / ".hydra").mkdir(exist_ok=True)
    epochs = epochs if epochs is not None else len(acc1)
    cfg = {"experiment_name": experiment, "paper": "SEW", "T": 4, "trainer": {"epochs": epochs}, **config}
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    (d / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg))
    (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"experiment={experiment}", *overrides]))
    acc5 = acc5 or [min(100.0, a + 20) for a in acc1]
    best = 0.0
    with open(d / "summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(SUMMARY_COLUMNS)
        for e, (a1, a5) in enumerate(zip(acc1, acc5, strict=True)):
            best = max(best, a1)
            w.writerow([e + 1, 0.1, 1.0, 50.0, 1.0, a1, a5, best, 1.0])
    if write_metrics:
        i = max(range(len(acc1)), key=lambda k: acc1[k])
        (d / "metrics.json").write_text(
            json.dumps(
                {
                    "last_acc1": acc1[-1],
                    "last_acc5": acc5[-1],
                    "best_acc1": acc1[i],
                    "best_epoch": i + 1,
                    "epochs_done": len(acc1),
                    "params": params,
                    "experiment_name": experiment,
                    "status": status,
                }
            )
        )
    (d / "checkpoints").mkdir(exist_ok=True)
    (d / "checkpoints" / "last.pt").write_bytes(b"")
    return d


def imagenet_sweep(root: Path) -> Path:
    sweep = root / "outputs" / "sweeps" / "2024-01-01" / "00-00-00-abc"
    sweep.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    jobs = [
        ("sew_resnet18", "sew_add", [50.0, 63.0, 62.5], "finished"),
        ("sew_resnet18", "spiking", [40.0, 61.0, 60.0], "finished"),
        ("sew_resnet34", "sew_add", [55.0, 60.0], "running"),  # 2 of 3 epochs
    ]
    for i, (model, block, acc, status) in enumerate(jobs):
        fake_run(
            sweep / str(i),
            experiment="sew/imagenet",
            overrides=[f"model={model}", f"block={block}"],
            config={"model": {"name": model}, "block": {"name": block}},
            acc1=acc,
            epochs=3,
            status=status,
            params=11_690_000 if model.endswith("18") else 21_800_000,
        )
    return sweep


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


# ------------------------------------------------------------------------------------ paper data
def test_paper_numbers_are_stored_as_printed():
    t2 = get_table("sew", "2")
    assert t2["values"]["resnet152"]["spiking"] == {"acc1": 10.03, "acc5": 23.57}
    assert t2["values"]["resnet34"]["sew_add"]["acc1"] == 67.04
    assert get_table("sew", "4")["values"]["sew_and"]["acc"]["acc1"] == 70.49
    assert [get_table("sew", "6")["values"][r]["acc"]["acc1"] for r in ("w7b_t4", "w7b_t8", "w7b_t16")] == [
        64.8,
        70.2,
        74.4,
    ]
    s3 = get_table("sew", "s3")  # printed as fractions in the supplement, stored in percent
    assert (
        s3["values"]["atan"]["sew_add"]["acc1"] == 82.63
        and s3["values"]["constant"]["spiking"]["acc1"] == 10.0
    )
    assert get_table("sew", "5")["params"]["7bnet"] == "0.13M"
    assert get_table("sew", "6")["params"]["w7b_t16"] == "1.19M"
    assert normalize_table_id("table2") == "2"
    paper = load_paper("sew")
    assert {t["reported"] for t in paper["tables"].values()} == {"max"}
    assert paper["hparams"]["S2"] == {
        "sew_add": 0.001,
        "sew_and": 0.03,
        "sew_iand": 0.063,
        "spiking": 0.1,
        "plain": 0.005,
    }
    # every row/column id used in values exists, every table names its experiments
    for t in paper["tables"].values():
        rows, cols = {r["id"] for r in t["rows"]}, {c["id"] for c in t["columns"]}
        assert set(t["values"]) <= rows and t["experiments"]
        for r in t["values"].values():
            assert set(r) <= cols


# ---------------------------------------------------------------------------------------- report
def test_table2_from_a_sweep(tmp_path):
    sweep = imagenet_sweep(tmp_path)
    tables = make_tables([sweep])
    assert [t["id"] for t in tables] == ["2", "3"]  # sew/imagenet runs fill Tables 2 and 3
    t2 = tables[0]
    md = render_markdown(t2)
    assert "max over epochs" in md and "ours last" in md and "ours max" in md
    line18 = next(ln for ln in md.splitlines() if ln.startswith("| ResNet-18 |"))
    cells = [c.strip() for c in line18.strip("|").split("|")]
    # SEW ADD acc1: paper, max, last; acc5: paper, max, last; spiking acc1 ...
    assert cells[1:4] == ["63.18", "63.00", "62.50"]
    assert cells[4:7] == ["84.53", "83.00", "82.50"]
    assert cells[7:10] == ["62.32", "61.00", "60.00"]
    assert "finished 3/3 ep" in line18
    line34 = next(ln for ln in md.splitlines() if ln.startswith("| ResNet-34 |"))
    assert "running 2/3 ep" in line34 and "60.00" in line34 and "missing" in line34  # no spiking-34 run
    line152 = next(ln for ln in md.splitlines() if ln.startswith("| ResNet-152 |"))
    assert "69.26" in line152 and line152.count("missing") == 2

    rows = read_csv(sweep / "table_2.csv") if (sweep / "table_2.csv").exists() else None
    assert rows is None  # make_tables does not write; the command does
    assert report_cmd.main([str(sweep)]) == 0
    rows = read_csv(sweep / "table_2.csv")
    r = next(r for r in rows if r["row"] == "resnet18" and r["column"] == "sew_add" and r["metric"] == "acc1")
    assert (float(r["paper"]), float(r["ours_max"]), float(r["ours_last"])) == (63.18, 63.0, 62.5)
    assert r["paper_reported"] == "max" and r["ours_max_epoch"] == "2" and r["status"].startswith("finished")
    assert r["run_dir"].endswith("/0")
    r = next(
        r for r in rows if r["row"] == "resnet152" and r["column"] == "spiking" and r["metric"] == "acc5"
    )
    assert (r["paper"], r["ours_max"], r["status"]) == ("23.57", "", "missing")
    assert len(rows) == 5 * 2 * 2
    md = (sweep / "table_2.md").read_text()
    assert md.startswith("## SEW Table 2") and "| ResNet-101 |" in md
    t3 = (sweep / "table_3.md").read_text()
    line = next(ln for ln in t3.splitlines() if ln.startswith("| SEW ResNet-34 |"))
    assert "67.04" in line and "60.00" in line and "21.80M" in line and "21.8M" in line
    line = next(ln for ln in t3.splitlines() if "td-BN [64]" in ln and "large" in ln)
    assert "67.05" in line and "paper only" in line


def test_table4_single_column_and_json(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    accs = {"sew_add": [90.0, 97.5, 97.0], "sew_iand": [80.0, 94.0, 95.0], "spiking": [70.0, 91.0, 90.0]}
    for i, (b, acc) in enumerate(accs.items()):
        fake_run(
            sweep / str(i),
            experiment="sew/dvs_gesture_table4",
            overrides=[f"block={b}", "trainer.epochs=3"],
            config={"block": {"name": b}, "model": {"name": "sew_7bnet"}},
            acc1=acc,
            params=130_000,
        )
    assert report_cmd.main([str(sweep), "--table", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [t["id"] for t in data] == ["4"]
    cells = {c["row"]: c for c in data[0]["cells"]}
    assert cells["sew_add"]["paper"] == 97.92 and cells["sew_add"]["ours_max"] == 97.5
    assert cells["sew_add"]["ours_last"] == 97.0
    assert cells["sew_and"]["status"] == "missing" and cells["plain"]["ours_max"] is None
    # the run deviates from the paper's setting: say so under the table
    assert any("trainer.epochs=3" in n for n in data[0]["notes"])
    md = (sweep / "table_4.md").read_text()
    assert "| Network | Element-Wise Function g | Acc@1 paper | ours max | ours last | run |" in md
    assert "| SEW ResNet | ADD | 97.92 | 97.50 | 97.00 | finished 3/3 ep |" in md
    assert not (sweep / "table_5.md").exists()  # --table 4 only


def test_auto_fills_table5_params_and_out_dir(tmp_path, capsys):
    sweep = tmp_path / "s"
    fake_run(
        sweep / "0",
        experiment="sew/dvs_gesture_table4",
        overrides=["block=sew_add"],
        config={"block": {"name": "sew_add"}},
        acc1=[96.0, 97.0],
        params=131_000,
    )
    out = tmp_path / "tables"
    assert report_cmd.main([str(sweep), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "SEW Table 4" in text and "SEW Table 5" in text
    t5 = (out / "table_5.md").read_text()
    line = next(ln for ln in t5.splitlines() if "(7B-Net)" in ln)
    assert "97.92" in line and "0.13M" in line and "0.13M |" in line and "97.00" in line
    assert (out / "table_5.csv").exists() and not (sweep / "table_5.md").exists()


def test_table6_and_s3_match_by_experiment_and_surrogate(tmp_path):
    sweep = tmp_path / "s"
    for i, t in enumerate((4, 8, 16)):
        fake_run(
            sweep / f"t{i}",
            experiment=f"sew/cifar10dvs_t{t}",
            overrides=[],
            config={"T": t, "block": {"name": "sew_add"}},
            acc1=[50.0 + t],
            params=1_190_000,
        )
    k = 0
    for s in ("atan", "rect"):
        for b in ("sew_add", "spiking"):
            fake_run(
                sweep / f"s{k}",
                experiment="sew/cifar10_surrogates",
                overrides=[f"surrogate={s}", f"block={b}"],
                config={"surrogate": {"name": s}, "block": {"name": b}},
                acc1=[80.0 - k],
            )
            k += 1
    tables = {t["id"]: t for t in make_tables([sweep])}
    assert set(tables) == {"6", "S3"}
    c6 = {c["row"]: c for c in tables["6"]["cells"]}
    assert c6["w7b_t8"]["ours_max"] == 58.0 and c6["w7b_t8"]["paper"] == 70.2
    assert c6["plif"]["status"] == "paper only"
    cs = {(c["row"], c["column"]): c for c in tables["S3"]["cells"]}
    assert cs[("rect", "spiking")]["ours_max"] == 77.0 and cs[("rect", "spiking")]["paper"] == 66.01
    assert cs[("constant", "sew_add")]["status"] == "missing"
    lines = render_csv(tables["S3"]).splitlines()
    assert lines[0].startswith("table,row,row_label,column,column_label,metric,paper,paper_reported,ours_max")
    assert len(lines) == 1 + 3 * 2


def test_run_without_metrics_json_is_running(tmp_path):
    fake_run(
        tmp_path / "r",
        experiment="sew/imagenet",
        overrides=["model=sew_resnet50", "block=sew_add"],
        config={"model": {"name": "sew_resnet50"}, "block": {"name": "sew_add"}},
        acc1=[10.0, 20.0],
        epochs=320,
        write_metrics=False,
    )
    runs = find_runs([tmp_path / "r"])
    assert len(runs) == 1 and runs[0].status == "running" and runs[0].epochs_done == 2
    t2 = make_tables([tmp_path / "r"], table="2")[0]
    c = next(
        c
        for c in t2["cells"]
        if c["row"] == "resnet50" and c["column"] == "sew_add" and c["metric"] == "acc1"
    )
    assert c["status"] == "running 2/320 ep" and c["ours_max"] == 20.0


def test_bad_input_is_one_line(tmp_path):
    with pytest.raises(UserError, match="no such directory"):
        report_cmd.main([str(tmp_path / "nope")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no runs in"):
        report_cmd.main([str(tmp_path / "empty")])
    fake_run(tmp_path / "other" / "0", experiment="demo", overrides=[], config={}, acc1=[1.0])
    assert report_cmd.main([str(tmp_path / "other")]) == 0  # not a paper's: the generic sweep table
    assert (tmp_path / "other" / "sweep.md").is_file()
    with pytest.raises(UserError, match="no table"):
        report_cmd.main([str(tmp_path / "other"), "--table", "9"])
    for e in [UserError]:
        assert issubclass(e, Exception)


def test_report_reads_a_real_training_run(tmp_path):
    """One tiny run of the real engine (Table S3's experiment, shrunk to a tiny model on synthetic 8px
    images), then the report reads the engine's files."""
    from snnexp.config import compose
    from snnexp.engine.trainer import train

    overrides = [
        "surrogate=rect",
        "block=spiking",
        "data=synthetic",
        "data.image_size=8",
        "data.train_size=16",
        "data.test_size=8",
        "model=sew_mini",
        "model.width=8",
        "trainer.batch_size=8",
        "trainer.epochs=1",
        "T=1",
        "trainer.progress=false",
        "logger=none",
    ]
    run = tmp_path / "sweep" / "0"
    train(compose(["experiment=sew/cifar10_surrogates", *overrides]), run_dir=run)
    (run / ".hydra").mkdir(exist_ok=True)  # what Hydra writes beside the engine's files
    (run / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump(["experiment=sew/cifar10_surrogates", *overrides])
    )
    assert report_cmd.main([str(tmp_path / "sweep")]) == 0
    rows = read_csv(tmp_path / "sweep" / "table_S3.csv")
    cell = next(r for r in rows if r["row"] == "rect" and r["column"] == "spiking")
    assert cell["status"] == "finished 1/1 ep" and cell["paper"] == "66.01"
    assert (
        0.0 <= float(cell["ours_max"]) <= 100.0 and cell["ours_last"] != "" and int(cell["params_ours"]) > 0
    )
    assert next(r for r in rows if r["row"] == "atan" and r["column"] == "sew_add")["status"] == "missing"
    md = (tmp_path / "sweep" / "table_S3.md").read_text()
    assert "T=1" in md and "model=sew_mini" in md and "data=synthetic" in md  # deviations from the paper


def test_any_sweep_reports_varied_keys_with_mean_and_std_over_seeds(tmp_path, capsys):
    sweep = tmp_path / "s"
    accs = {("sew_add", 0): [50.0, 60.0], ("sew_add", 1): [55.0, 70.0], ("plain", 0): [40.0, 45.0]}
    for (block, seed), acc in accs.items():
        ov = ["trainer.epochs=2", f"block={block}", f"seed={seed}", "logger=none"]
        fake_run(sweep / f"block={block},seed={seed}", experiment="demo", overrides=ov, config={}, acc1=acc)
    assert report_cmd.main([str(sweep)]) == 0
    md = capsys.readouterr().out
    assert "| block | seeds | n | best acc@1 (%) | last acc@1 (%) | status |" in md
    assert "| sew_add | 0 1 | 2 | 65.00 ± 7.07 | 65.00 ± 7.07 | finished x2 |" in md
    # one run: its value alone, no "± 0.00" that would claim a spread measured as nothing
    assert "| plain | 0 | 1 | 45.00 | 45.00 | finished |" in md and "mean ± std over seeds" in md
    rows = list(csv.DictReader(open(sweep / "sweep.csv")))
    assert [r["block"] for r in rows] == ["plain", "sew_add"] and rows[1]["runs"] == "2"


def test_runs_lists_past_runs(tmp_path):
    from conftest import run_cli

    fake_run(
        tmp_path / "outputs/runs/a", experiment="demo", overrides=["seed=3"], config={}, acc1=[10.0, 30.0]
    )
    p = run_cli("runs", cwd=tmp_path)
    assert p.returncode == 0 and "finished" in p.stdout and "best  30.00" in p.stdout and "seed=3" in p.stdout
    p = run_cli("runs", "--json", str(tmp_path / "outputs"), cwd=tmp_path)
    assert json.loads(p.stdout)[0]["best_acc1"] == 30.0
