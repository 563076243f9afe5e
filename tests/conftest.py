"""Shared test helpers: compose configs like the CLI, run the real `snnexp` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")

SNNEXP = [sys.executable, "-m", "snnexp.cli"]

# a run small enough for a unit test (conf/debug/fast.yaml): synthetic 8x8 images, tiny model, 2 epochs
FAST = ["debug=fast"]


def neuron_examples(where=lambda traits: True, *, variants: bool = True) -> dict[str, list[str]]:
    """The registered neurons whose traits ``where`` accepts, each in its test-sized examples
    (``variants=False``: the neuron itself only), as {test id: config overrides}:
    ``{"lif": ["neuron=lif"], "lif-nodecay-soft": ["neuron=lif", "neuron.decay_input=false", ...]}``.
    Each neuron's module declares both (neurons/traits.py), so a test of "every neuron with a
    FlexSN core" needs no list of names, and a new neuron no line in the tests."""
    from snnexp.neurons.traits import example_id, example_overrides
    from snnexp.registry import NEURONS, load_builtin

    load_builtin()  # collection time: the registry fills when the neuron modules import
    return {
        example_id(name, label): example_overrides(name, overrides)
        for name in NEURONS.names(where)
        for label, overrides in NEURONS.traits(name).examples.items()
        if variants or not label
    }


def run_cli(
    *args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300, check: bool = False
) -> subprocess.CompletedProcess:
    e = {**os.environ, "WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1", **(env or {})}
    e.pop("HYDRA_FULL_ERROR", None) if not (env and "HYDRA_FULL_ERROR" in env) else None
    p = subprocess.run([*SNNEXP, *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"snnexp {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture(autouse=True)
def _one_thread():
    """Unit tests use tiny tensors: intra-op threads only add contention (a tiny conv took 40 ms
    with 2 threads on a busy 2-core machine, 0.06 ms with 1). Subprocess runs keep the default."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def compose():
    from snnexp.config import compose as _compose

    return _compose
