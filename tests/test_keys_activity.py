"""KEYS Fig. 3: `snnexp analyze activity`: % of neurons active per layer and step, BNTT gamma per
layer and step, one column per checkpoint."""

from __future__ import annotations

import json

import pytest
import torch

import snnexp
from conftest import run_cli
from snnexp.analysis.activity import activation_map, bntt_gammas
from snnexp.norms.bntt import BNTT

TINY = [
    "model=s_resnet20",
    "data=synthetic",
    "data.image_size=8",
    "data.num_classes=4",
    "T=3",
    "model.base_width=4",
]
TINY_DATA = ["data.train_size=16", "data.test_size=8", "trainer.batch_size=4", "logger=none"]


def tiny_model(block: str = "keys_s2s"):
    cfg = snnexp.compose(["experiment=keys/table2_cifar100", f"block={block}", *TINY, *TINY_DATA])
    torch.manual_seed(0)
    return cfg, snnexp.build_model(cfg).eval()


def test_gamma_is_each_steps_bn_weight_averaged_over_channels():
    _, model = tiny_model()
    bntt = [m for m in model.modules() if isinstance(m, BNTT)]
    with torch.no_grad():
        for t, bn in enumerate(bntt[0].bn_list):
            bn.weight.copy_(torch.arange(bn.num_features, dtype=torch.float32) + t)
    gammas = bntt_gammas(model)
    c = bntt[0].num_features
    assert len(gammas) == len(bntt) and gammas[0]["gamma"] == pytest.approx(
        [(c - 1) / 2 + t for t in range(3)]
    )


def test_a_layer_whose_norm_gives_zero_fires_at_no_step_and_a_rate_is_a_percentage():
    """gamma = 0 on the stem's BNTT (no bias: KEYS's BNTT is weight only) feeds the stem's neurons 0:
    0 % active at every step; every other layer's value is a percentage of its neurons."""
    cfg, model = tiny_model()
    stem_bntt = next(m for m in model.modules() if isinstance(m, BNTT))
    with torch.no_grad():
        for bn in stem_bntt.bn_list:
            bn.weight.zero_()
    x = torch.rand(3, 5, 3, 8, 8)  # [T, B, C, H, W]
    layers = activation_map(model, [(x, torch.zeros(5, dtype=torch.long))])
    assert layers[0]["percent_active"] == [0.0, 0.0, 0.0], layers[0]
    assert all(len(layer["percent_active"]) == 3 for layer in layers)
    assert all(0.0 <= p <= 100.0 for layer in layers for p in layer["percent_active"])
    assert len(layers) == 1 + 6 * 3  # S-ResNet20: the stem and 2 convs x 3 blocks x 3 stages


def test_analyze_activity_compares_checkpoints_column_by_column(tmp_path):
    """One column per checkpoint (here the same S2M run twice, and the fresh S2S model): labels,
    samples, BNTT steps, the PNG; ckpt= and compare_ckpts= together are refused."""
    cfg = snnexp.compose(
        ["experiment=keys/table2_cifar100", "block=keys_s2m", *TINY, *TINY_DATA, "trainer.epochs=1"]
    )
    snnexp.train(cfg, run_dir=str(tmp_path / "s2m"))
    ckpt = str(tmp_path / "s2m" / "checkpoints" / "last.pt")
    out = tmp_path / "fig3"
    p = run_cli(
        "analyze", "activity", f"compare_ckpts=[{ckpt},{ckpt}]", f"out={out}", cwd=tmp_path, check=True
    )
    result = json.loads((out / "activity.json").read_text())
    assert [c["label"] for c in result["columns"]] == ["s_resnet20 keys_s2m"] * 2
    assert result["columns"][0]["layers"] == result["columns"][1]["layers"]
    assert all(c["samples"] == 4 and len(c["bntt"][0]["gamma"]) == 3 for c in result["columns"]), result
    assert (out / "activity.png").stat().st_size > 5000 and "s_resnet20 keys_s2m:" in p.stdout
    bad = run_cli("analyze", "activity", f"ckpt={ckpt}", f"compare_ckpts=[{ckpt}]", cwd=tmp_path)
    assert (bad.returncode, bad.stderr) == (2, "snnexp: error: give ckpt= or compare_ckpts=[...], not both\n")
