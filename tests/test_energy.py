"""Computation and energy counts (TDBN supplement D: Fig. 6, Table 6)."""

from __future__ import annotations

import json

import pytest
import torch
from spikingjelly.activation_based import layer
from spikingjelly.activation_based.base import MemoryModule
from torch import nn

import snnexp
from conftest import FAST, run_cli
from snnexp.analysis.energy import ann_macs, count, summarize
from snnexp.analysis.energy_report import energy_costs
from snnexp.errors import ConfigError
from snnexp.neurons.tdbn import TDBNLIFNode
from snnexp.papers import load_paper
from snnexp.surrogates import rect

TDBN = ["block=tdbn", "norm=tdbn", "neuron=tdbn_lif", "surrogate=rect", "T=1"]


def total_ann_macs(model: str, data: str, size: int) -> float:
    cfg = snnexp.compose([f"model={model}", *TDBN, f"data={data}", f"data.image_size={size}"])
    with torch.device("meta"):
        net = snnexp.build_model(cfg)
    return sum(ann_macs(net, torch.zeros(1, int(cfg.data.in_channels), size, size)).values())


TABLE6 = load_paper("tdbn")["computation"]["rows"]


@pytest.mark.parametrize("row", list(TABLE6))
def test_ann_equivalent_macs_match_table6(row):
    r = TABLE6[row]  # ResNet-19 on 32x32: 2.2e9; ResNet-34 (large) on 224x224: 1.4e10
    assert total_ann_macs(r["model"], r["data"], r["image_size"]) == pytest.approx(
        r["ann"]["multiplications"], rel=0.05
    )


class Tiny(nn.Module):
    """real image -> conv3x3 (pad 1) -> LIF -> conv3x3 (pad 1, 2 channels) -> flatten -> fc(3)."""

    def __init__(self):
        super().__init__()
        self.conv_in = layer.Conv2d(1, 1, 3, padding=1, bias=False, step_mode="m")
        self.sn = TDBNLIFNode(rect(a=1.0), tau_decay=0.25, v_threshold=1.0, detach_reset=False, strict=True)
        self.conv = layer.Conv2d(1, 2, 3, padding=1, bias=False, step_mode="m")
        self.fc = layer.Linear(2 * 4 * 4, 3, step_mode="m")
        with torch.no_grad():
            self.conv_in.weight.zero_()
            self.conv_in.weight[0, 0, 1, 1] = 0.999  # ~identity (a binary weight would read as spikes)

    def forward(self, x):
        s = self.sn(self.conv_in(x))
        return self.fc(layer.Flatten(step_mode="m")(self.conv(s))).mean(0)


def test_synaptic_operations_spikes_per_neuron_and_multiplications():
    T, img = 3, torch.zeros(1, 1, 4, 4)
    img[0, 0, 0, 0] = 1.5  # a corner neuron driven above V_th = 1 at every step: T spikes
    img[0, 0, 1, 1] = 0.6  # an inner one: 0.6, 0.75, 0.7875 never crosses -> no spike
    x = img.unsqueeze(0).repeat(T, 1, 1, 1, 1)  # [T, B=1, 1, 4, 4]
    r = count(Tiny(), [(x, torch.zeros(1))])
    layers = {d["name"]: d for d in r["layers"]}
    # the corner spike reaches 2x2 outputs of the 3x3 conv (padding 1) in each of 2 channels
    assert layers["conv"]["snn_adds"] == T * 4 * 2 and layers["conv"]["snn_mults"] == 0
    assert layers["conv_in"]["snn_mults"] == T * 16 * 9 and layers["conv_in"]["snn_adds"] == 0  # real input
    assert layers["conv"]["ann_macs"] == 2 * 16 * 9 and layers["fc"]["ann_macs"] == 32 * 3
    assert layers["fc"]["snn_mults"] == T * 32 * 3  # conv outputs are not spikes
    (sn,) = r["neurons"]
    assert sn["spikes_per_neuron"] == pytest.approx(T / 16) and sn["firing_rate"] == pytest.approx(1 / 16)
    tot = summarize(r, e_mac_pj=4.6, e_ac_pj=0.9)
    adds, mults = T * 8, T * (16 * 9 + 32 * 3)
    assert tot["snn"]["additions"] == adds and tot["snn"]["multiplications"] == mults
    assert tot["snn"]["energy_j"] == pytest.approx((adds * 0.9 + mults * 4.6) * 1e-12)
    assert tot["ann"]["energy_j"] == pytest.approx((2 * 16 * 9 + 16 * 9 + 96) * 4.6e-12)


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_analyze_energy_cli_writes_json_markdown_png(tmp_path):
    p = run_cli("analyze", "energy", *FAST, "energy.e_ac_pj=1.0", f"out={tmp_path}")
    assert p.returncode == 0, p.stderr
    r = json.loads((tmp_path / "energy.json").read_text())
    assert (tmp_path / "energy.png").stat().st_size > 0
    assert "| SNN |" in (tmp_path / "energy.md").read_text() and "| SNN |" in p.stdout
    assert r["total"]["costs_pj"] == {"mac": 4.6, "ac": 1.0} and r["bn_mode"] == "train"  # fresh model
    assert r["total"]["ann"]["multiplications"] == sum(layer["ann_macs"] for layer in r["layers"])
    assert r["neurons"] and all(0 <= n["firing_rate"] <= 1 for n in r["neurons"])
    with pytest.raises(ConfigError, match="energy.e_mac_pj"):
        energy_costs({"e_mac_pj": "x", "e_ac_pj": 0.9})


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_trainer_log_energy_records_rates_and_synops_at_each_evaluation(tmp_path):
    cfg = snnexp.compose([*FAST, "trainer.log_energy=true"])
    snnexp.train(cfg, run_dir=tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "energy.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]  # one per evaluation
    net = snnexp.build_model(cfg)
    n_neurons = sum(isinstance(m, MemoryModule) and hasattr(m, "v_threshold") for m in net.modules())
    for r in rows:
        rates = {k: v for k, v in r.items() if k.startswith("energy/rate/")}
        assert len(rates) == n_neurons and all(0 <= v <= 1 for v in rates.values())
        assert r["energy/synops"] >= 0 and r["energy/ann_macs"] > 0
    # the checkpoint of that run: counts with its running statistics (eval mode)
    p = run_cli("analyze", "energy", f"ckpt={tmp_path / 'checkpoints' / 'last.pt'}", f"out={tmp_path / 'e'}")
    assert p.returncode == 0, p.stderr
    r = json.loads((tmp_path / "e" / "energy.json").read_text())
    assert r["bn_mode"] == "eval" and r["source"].endswith("last.pt") and r["samples"] > 0
    assert len(r["neurons"]) == n_neurons
