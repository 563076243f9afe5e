"""``trainer.log_energy``: at each evaluation, the firing rate of every spiking layer and the
synaptic operations (and the other counts of :mod:`snnexp.analysis.energy`) of the model on the
first test batch, in eval mode. The run (engine/trainer.py) logs them under ``energy/`` (W&B)
and appends them to ``<run_dir>/energy.jsonl`` (one line per evaluation), on the main rank only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn


def energy_metrics(model: nn.Module, loader, device: torch.device) -> dict[str, float]:
    from snnexp.analysis.energy import count
    from snnexp.engine.device import to_time_major

    x, y = next(iter(loader))
    was_training = model.training
    model.eval()
    try:
        r = count(model, [(to_time_major(x), y)], device=device)
    finally:
        model.train(was_training)
    out: dict[str, float] = {
        "energy/synops": sum(layer["snn_adds"] for layer in r["layers"]),
        "energy/snn_mults": sum(layer["snn_mults"] for layer in r["layers"]),
        "energy/ann_macs": sum(layer["ann_macs"] for layer in r["layers"]),
    }
    rates = [n["firing_rate"] for n in r["neurons"]]
    if rates:
        out["energy/mean_firing_rate"] = sum(rates) / len(rates)
    out.update({f"energy/rate/{n['name']}": n["firing_rate"] for n in r["neurons"]})
    return out


def append_energy(run_dir: str | Path, line: dict[str, Any]) -> None:
    """One line of ``<run_dir>/energy.jsonl`` (strict JSON)."""
    from snnexp.runfiles import strict_json

    with Path(run_dir, "energy.jsonl").open("a") as f:
        f.write(json.dumps(strict_json(line), allow_nan=False) + "\n")
