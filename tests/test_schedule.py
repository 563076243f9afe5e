"""Learning-rate schedules, in epochs as the papers state them."""

from __future__ import annotations

import math

import pytest
from omegaconf import OmegaConf

from snnexp.engine.schedule import lr_lambda


def f(sched: dict, epochs: int, spe: int = 10, lr: float = 0.1):
    return lr_lambda(OmegaConf.create(sched), lr, epochs, spe)


def test_cosine_over_t_max_epochs_per_step():
    fn = f({"name": "cosine", "t_max": 64, "eta_min": 0.0, "per_step": True}, epochs=64)
    assert fn(0) == 1.0 and fn(32 * 10) == pytest.approx(0.5) and fn(64 * 10) == pytest.approx(0.0, abs=1e-12)
    assert fn(5) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5 / 64)))  # smooth inside an epoch


def test_step_decay_sew_dvs_gesture():
    """SEW Table S1: step, T_max/step 64, gamma 0.1 (per epoch)."""
    fn = f({"name": "step", "step_size": 64, "gamma": 0.1, "per_step": False}, epochs=192)
    assert (
        fn(63 * 10 + 9) == 1.0 and fn(64 * 10) == pytest.approx(0.1) and fn(128 * 10) == pytest.approx(0.01)
    )


def test_multistep_fractions_keys():
    """KEYS: lr / 10 at 70, 80 and 90 % of 70 epochs (epochs 49, 56, 63)."""
    fn = f({"name": "multistep", "milestones": [0.7, 0.8, 0.9], "gamma": 0.1, "per_step": False}, epochs=70)
    assert [round(fn(e * 10), 6) for e in (48, 49, 56, 63)] == [1.0, 0.1, 0.01, 0.001]


def test_linear_warmup_then_cosine():
    fn = f(
        {"name": "cosine", "t_max": None, "eta_min": 0.0, "warmup_epochs": 2, "warmup_start_factor": 0.1},
        epochs=10,
    )
    assert fn(0) == pytest.approx(0.1) and fn(10) == pytest.approx(
        0.55 * (0.5 * (1 + math.cos(math.pi * 0.1)))
    )
    assert fn(20) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.2)))
