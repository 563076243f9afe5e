"""Estimates before long work: the number of runs of a sweep, and their time from a measured probe."""

from __future__ import annotations

import pytest

import snnexp
from conftest import FAST
from snnexp.commands.estimate import runs
from snnexp.estimate import Overhead, Probe, cost_key, probe, run_seconds, sample_shape, split_sizes
from snnexp.tune import middle_values


def test_a_sweep_is_every_combination_of_its_values():
    combos = runs(["debug=fast", "block=sew_add,plain", "seed=0,1,2"])
    assert len(combos) == 6 and combos[0] == ["debug=fast", "block=sew_add", "seed=0"]
    # runs that differ only in the seed cost the same: one probe for each block
    assert len({cost_key(c) for c in combos}) == 2


def test_run_time_is_steps_times_step_plus_evaluations_plus_fixed_costs():
    cfg = snnexp.compose([*FAST, "trainer.epochs=3", "trainer.eval_every=2"])
    n_train, n_test = split_sizes(cfg)
    assert (n_train, n_test) == (64, 32)  # debug=fast's synthetic sizes
    p = Probe(step_s=0.5, eval_sample_s=0.01, probe_batch=8, device="cpu", threads=1)
    steps = n_train // 16  # batch 16, drop_last
    evals = 2  # epoch 2 and the last epoch (3)
    expected = 1.0 + 3 * (steps * 0.5 + 0.25) + evals * n_test * 0.01
    assert run_seconds(cfg, p, Overhead(1.0, 0.25)) == pytest.approx(expected)


def test_data_set_sizes_and_shapes_without_reading_data():
    cfg = snnexp.compose(["data=imagenet"])
    assert split_sizes(cfg) == (1_281_167, 50_000)
    assert sample_shape(cfg) == (3, 224, 224)
    dvs = snnexp.compose(["data=dvs_gesture", "T=16"])
    assert split_sizes(dvs) == (1_176, 288)
    assert sample_shape(dvs) == (12, 2, 128, 128)  # SEW trains on 12 of the 16 frames
    digits = snnexp.compose([])
    assert sum(split_sizes(digits)) == 1_797


def test_probe_times_real_steps_of_the_run_model():
    p = probe(snnexp.compose(FAST), steps=1)
    assert p.step_s > 0 and p.eval_sample_s > 0 and p.probe_batch == 16, p


def test_tune_estimate_stands_on_the_middle_of_the_space():
    space = {
        "T": {"type": "int", "low": 10, "high": 60},
        "optim.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
        "block": {"type": "categorical", "choices": ["keys_s2s", "keys_v2v"]},
    }
    mid = middle_values(space)
    assert mid["T"] == 35 and mid["optim.lr"] == pytest.approx(1e-2) and mid["block"] == "keys_s2s"


def test_dry_run_prints_the_command_as_echo_would(capsys, monkeypatch):
    from snnexp import dryrun

    called = []
    monkeypatch.setattr(
        "snnexp.commands.estimate.plan", lambda args, multirun: called.append((args, multirun))
    )
    dryrun.main([".venv/bin/snnexp", "train", "-m", "debug=fast", "seed=0,1"])
    dryrun.main([".venv/bin/snnexp", "report", "outputs/x"])
    out = capsys.readouterr().out.splitlines()
    assert out == [".venv/bin/snnexp train -m debug=fast seed=0,1", ".venv/bin/snnexp report outputs/x"]
    assert called == [(["debug=fast", "seed=0,1"], True)]  # estimated once, for the train command only
