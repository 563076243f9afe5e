"""A paper's network composed without that paper's experiment says, in one line at start-up, what
differs from the paper's recipe and which experiment has it (config/paper_recipe.py)."""

from __future__ import annotations

import functools
import re

import pytest

import snnexp
from snnexp.config import compose
from snnexp.config.paper_recipe import recipe_notice


@functools.cache
def notice(*overrides: str, paper: str) -> str | None:
    return recipe_notice(compose(list(overrides)), paper)


def test_keys_network_with_the_defaults_names_the_keys_parts_and_an_experiment():
    # the README line this replaced: model=s_resnet38 block=keys_s2s data=cifar100 trained IF/ATan/BN
    line = notice("model=s_resnet38", "block=keys_s2s", "data=cifar100", paper="KEYS")
    assert line is not None and "\n" not in line
    for part in ("neuron if (KEYS: keys_lif)", "surrogate atan (KEYS: triangle)", "norm bn (KEYS: bntt)"):
        assert part in line, line
    assert "T 4 (KEYS: 50)" in line and "batch 32 (KEYS: 21)" in line and "epochs 6 (KEYS: 70)" in line
    assert re.search(r"; experiment=keys/table\w*_cifar100 has it$", line), line  # one on the run's data
    assert "block" not in line.split(";")[0].split(":", 1)[1]  # block=keys_s2s is KEYS's: not named


def test_tdbn_network_alone_is_not_silently_a_sew_add_if_network():
    line = notice("model=tdbn_resnet19", "data=cifar10", paper="TDBN")
    for part in ("neuron if (TDBN: tdbn_lif)", "norm bn (TDBN: tdbn)", "block sew_add (TDBN: tdbn)"):
        assert part in line, line
    assert "experiment=tdbn/cifar10_t" in line, line


def test_dsr_picks_the_experiment_closest_to_the_run():
    line = notice("model=preact_resnet18", "method=dsr", "neuron=dsr_lif", "data=cifar10", paper="DSR")
    assert line.endswith("experiment=dsr/cifar10_lif has it"), line
    assert "neuron" not in line and "T 4 (DSR: 20)" in line


def test_a_model_no_experiment_uses_is_compared_with_the_papers_base_recipe():
    line = notice("model=s_resnet20", paper="KEYS")  # KEYS Table 3 sweeps the depth on the command line
    assert "neuron if (KEYS: keys_lif)" in line and "experiment=keys/<table>" in line, line


@pytest.mark.parametrize(
    "overrides,paper",
    [
        (("experiment=keys/table7",), "KEYS"),  # the paper's own experiment: nothing to say
        (("experiment=keys/table2_cifar100", "block=keys_v2v"), "KEYS"),  # a sweep of its options
        (("experiment=tdbn/cifar10_t6",), "TDBN"),
        (("experiment=dsr/cifar10_if",), "DSR"),
        (("model=sew_mini",), ""),  # the demo's network belongs to no paper
    ],
)
def test_no_line_for_the_papers_experiments_or_a_model_of_no_paper(overrides, paper):
    assert notice(*overrides, paper=paper) is None


def test_the_line_is_printed_once_at_start_up(tmp_path, capsys):
    over = [
        "model=s_resnet20",
        "data=synthetic",
        "data.image_size=8",
        "data.train_size=8",
        "data.test_size=4",
    ]
    cfg = compose(
        [*over, "model.base_width=2", "T=1", "trainer.epochs=1", "trainer.batch_size=4"]
        + ["logger=none", "trainer.progress=false"]
    )
    snnexp.train(cfg, run_dir=str(tmp_path / "run"))
    out = capsys.readouterr().out
    assert out.count("is KEYS's network") == 1, out
