"""``trainer.log_energy``: at each evaluation, the firing rate of every spiking layer and the
synaptic operations (and the other counts of :mod:`snnexp.analysis.energy`) of the model on the
first test batch, in eval mode. Logged under ``energy/`` (W&B) and appended to
``<run_dir>/energy.jsonl`` (one line per evaluation), on the main rank only."""

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


def log_energy(run: Any) -> None:
    """Called by the trainer after an evaluation (``run`` is its ``Run``)."""
    if not run.dist.is_main:
        return
    metrics = energy_metrics(run.model, run.test_loader, run.device)
    run.logger.log(metrics, step=run.step)
    with Path(run.run_dir, "energy.jsonl").open("a") as f:
        f.write(json.dumps({"epoch": run.epoch, "step": run.step, **metrics}) + "\n")
