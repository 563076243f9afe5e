"""An experiment's sweep axes live in its YAML (hydra.sweeper.params): what `-m` runs, what the
CLI, `snnexp estimate` and `make ... DRY=1` count, and the paper tables those runs fill."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from snnexp.config import compose
from snnexp.config.sweep import config_axes, jobs, swept_keys
from snnexp.errors import ConfigError
from snnexp.papers import available, load_paper


def test_an_experiments_axes_are_its_sweep():
    """KEYS Table 3: S-ResNet20/38/44, in the order Hydra numbers the jobs."""
    assert jobs(["experiment=keys/table3"]) == [
        ["model=s_resnet20", "experiment=keys/table3"],
        ["model=s_resnet38", "experiment=keys/table3"],
        ["model=s_resnet44", "experiment=keys/table3"],
    ]
    assert swept_keys(["experiment=sew/imagenet"]) == ["model", "block"]
    assert len(jobs(["experiment=sew/imagenet"])) == 10  # SEW Tables 2/3: 5 depths x 2 blocks


def test_the_command_line_replaces_an_axis_and_adds_its_own():
    assert jobs(["experiment=keys/table3", "model=s_resnet56", "seed=0,1"]) == [
        ["model=s_resnet56", "experiment=keys/table3", "seed=0"],
        ["model=s_resnet56", "experiment=keys/table3", "seed=1"],
    ]
    assert len(jobs(["experiment=keys/table6", "model.readout=voting"])) == 2  # widths 16 and 32


def test_a_plain_run_of_an_experiment_with_axes_is_one_run_of_its_own_values():
    cfg = compose(["experiment=keys/table3"])
    assert (cfg.model.name, cfg.model.base_width) == ("s_resnet38", 16)  # no hydra key in a run's config
    assert "hydra" not in cfg


def test_a_sweep_over_experiments_with_axes_of_their_own_is_refused():
    """Hydra reads hydra.sweeper.params from the config composed before the sweep: the axes of
    experiment=a,b would be dropped, each run once."""
    with pytest.raises(ConfigError, match=r"experiment=dsr/cifar10_if sweeps axes of its own .*seed"):
        jobs(["experiment=dsr/cifar10_if,dsr/cifar10_lif"])
    # experiments without axes of their own may still be swept together (SEW Table 6: T=4, 8, 16)
    assert len(jobs(["experiment=sew/cifar10dvs_t4,sew/cifar10dvs_t8,sew/cifar10dvs_t16"])) == 3


def test_axes_are_plain_comma_separated_values():
    """A YAML list would be one list value to Hydra's sweeper, not a sweep: every axis a,b,..."""
    from snnexp.config.compose import group_options

    for exp in group_options("experiment"):
        for axis in config_axes([f"experiment={exp}", "init.from=x.pt"]):
            key, _, values = axis.partition("=")
            assert "," in values and "[" not in values, (exp, axis)


def test_dry_run_counts_the_experiments_own_axes(capsys, monkeypatch):
    from snnexp import dryrun
    from snnexp.commands import estimate

    counted = []
    monkeypatch.setattr(
        estimate, "plan", lambda args, multirun=True: counted.append(len(estimate.runs(args, multirun)))
    )
    dryrun.main([".venv/bin/snnexp", "train", "-m", "experiment=keys/table6", "hydra.sweep.dir=/tmp/x"])
    dryrun.main([".venv/bin/snnexp", "train", "experiment=keys/table6", "hydra.run.dir=/tmp/y"])
    assert counted == [4, 1]  # KEYS Table 6: 16/32 filters x boosting off/on; a plain run is one


def _fills(cfg, match: dict | None) -> bool:
    return all(
        str(OmegaConf.select(cfg, k)) in map(str, v if isinstance(v, list) else [v])
        for k, v in (match or {}).items()
    )


@pytest.mark.parametrize("paper", available())
def test_every_run_of_a_tables_sweep_fills_one_of_its_cells(paper):
    """The tables (papers/*.yaml) name their experiments and place runs by their config; the
    experiments' YAML says which runs there are. A run that no cell of the tables naming its
    experiment takes is an axis and a table that disagree. Runs differing only in the seed fill
    the same cell: one of them is composed."""
    tables = load_paper(paper)["tables"].values()
    for exp in sorted({e for t in tables for e in t["experiments"]}):
        base = [f"experiment={exp}", "init.from=x.pt"]
        if not config_axes(base):
            continue
        naming = [t for t in tables if exp in t["experiments"]]
        seen = set()
        for job in jobs(base):
            job = tuple(o for o in job if not o.startswith("seed="))
            if job not in seen:
                seen.add(job)
                cfg = compose(list(job))
                assert any(_in_cell(cfg, t, row) for t in naming for row in t["rows"]), (paper, job)


def _in_cell(cfg, table: dict, row: dict) -> bool:
    """The report's rule (report/tables.py): a run fills a row's cell in one of the row's columns
    when it matches the column's ``match`` with the row's on top."""
    if row.get("match") is None:  # the paper's row alone
        return False
    ours_in = row.get("columns") or [c["id"] for c in table["columns"]]
    return any(
        _fills(cfg, {**(c.get("match") or {}), **row["match"]})
        for c in table["columns"]
        if c["id"] in ours_in
    )
