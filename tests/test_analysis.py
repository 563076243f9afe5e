"""Per-block firing rates and gradient norms (SEW Figs. 4-8, S2) on small models and synthetic data."""

from __future__ import annotations

import json
import math

import pytest
import torch
from omegaconf import OmegaConf

from snnexp.analysis import BlockRecorder, analyze, find_blocks, measure
from snnexp.analysis.measure import collect_batches, variant_config
from snnexp.build import build_model
from snnexp.commands import analyze as analyze_cmd
from snnexp.config import compose

# a deep stack of identity blocks: sew_mini with one stage of N blocks on 8x8 synthetic images
SMALL = [
    "data=synthetic",
    "data.image_size=8",
    "data.train_size=16",
    "data.test_size=16",
    "trainer.batch_size=8",
    "model.stages=1",
    "model.width=8",
    "T=4",
    "neuron=if",
    "surrogate=atan",
]


def cfg_of(*extra: str, blocks: int = 8):
    return compose([*SMALL, f"model.blocks_per_stage={blocks}", *extra], config_name="analyze")


def by_label(result: dict) -> dict[str, list[dict]]:
    return {v["label"]: v["blocks"] for v in result["variants"]}


def grads(blocks: list[dict]) -> list[float]:
    return [b["grad_norm"] for b in blocks]


# ------------------------------------------------------------------------------------ firing rates
def test_firing_rates_match_a_manual_count():
    cfg = cfg_of("block=sew_iand", blocks=3)
    torch.manual_seed(0)
    model = build_model(variant_config(cfg))
    batches = collect_batches(cfg, "test", 2)
    blocks = find_blocks(model)
    assert len(blocks) == 3
    # manual count with hooks of our own on the block's last neuron and output
    counts = {i: {"A": [0.0, 0], "O": [0.0, 0]} for i in range(3)}
    handles = []
    for i, (_, b) in enumerate(blocks):

        def on_a(m, a, out, i=i):
            assert set(out.unique().tolist()) <= {0.0, 1.0}  # spikes
            counts[i]["A"][0] += float(out.sum())
            counts[i]["A"][1] += out.numel()

        def on_o(m, a, out, i=i):
            counts[i]["O"][0] += float(out.sum())
            counts[i]["O"][1] += out.numel()

        handles += [b.last_neuron.register_forward_hook(on_a), b.register_forward_hook(on_o)]
    res = measure(model, batches, grads=False)
    for h in handles:
        h.remove()
    for i, b in enumerate(res["blocks"]):
        assert b["rate_A"] == pytest.approx(counts[i]["A"][0] / counts[i]["A"][1], abs=1e-12)
        assert b["rate_O"] == pytest.approx(counts[i]["O"][0] / counts[i]["O"][1], abs=1e-12)
        for k in ("rate_S", "rate_A", "rate_O"):  # IAND outputs spikes: every rate is in [0, 1]
            assert 0.0 <= b[k] <= 1.0
        assert b["downsample"] is False and b["grad_norm"] is None
    # S^{l+1} = O^l for consecutive blocks
    for prev, nxt in zip(res["blocks"], res["blocks"][1:], strict=False):
        assert nxt["rate_S"] == pytest.approx(prev["rate_O"])


def test_zero_init_sew_add_is_identity_and_spiking_too():
    cfg = cfg_of(blocks=4)
    r = analyze(cfg, what="firing", blocks=["sew_add", "spiking", "sew_and"], zero_init_compare=True)
    v = by_label(r)
    assert set(v) == {
        "SEW ADD",
        "SEW ADD (zero init)",
        "Spiking ResNet",
        "Spiking ResNet (zero init)",
        "SEW AND",
        "SEW AND (zero init)",
    }
    s0 = v["SEW ADD (zero init)"][0]["rate_S"]
    assert 0.0 < s0 < 1.0
    for b in v["SEW ADD (zero init)"]:
        assert b["rate_A"] == 0.0  # SN(0) never fires
        assert b["rate_O"] == pytest.approx(b["rate_S"]) and b["rate_S"] == pytest.approx(s0)
    # zero init: Spiking ResNet (IF, V_th=1) and SEW AND pass S through too (SEW Fig. 5a, green curve)
    for name in ("Spiking ResNet (zero init)", "SEW AND (zero init)"):
        assert [b["rate_O"] for b in v[name]] == pytest.approx([s0] * 4)
    assert [b["rate_A"] for b in v["SEW AND (zero init)"]] == pytest.approx([1.0] * 4)
    # without zero init SEW ADD accumulates: O^l = A^l + S^l grows in an identity area (Fig. 5a)
    o = [b["rate_O"] for b in v["SEW ADD"]]
    assert all(b > a for a, b in zip(o, o[1:], strict=False))
    # AND can only remove spikes: O^l <= S^l (the silence problem)
    assert all(b["rate_O"] <= b["rate_S"] + 1e-12 for b in v["SEW AND"])


def test_downsample_blocks_are_marked():
    cfg = compose(
        [
            "data=synthetic",
            "data.image_size=32",
            "data.test_size=4",
            "trainer.batch_size=4",
            "model=sew_resnet18",
            "T=2",
            "block=sew_add",
            "neuron=if",
        ],
        config_name="analyze",
    )
    r = analyze(cfg, what="firing", zero_init_compare=False)
    blocks = r["variants"][0]["blocks"]
    assert len(blocks) == 8 and [b["downsample"] for b in blocks] == [
        False,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
    ]
    for b in blocks:
        assert 0.0 <= b["rate_A"] <= 1.0 and 0.0 <= b["rate_O"] <= 2.0  # ADD: A + S, both spikes


# --------------------------------------------------------------------------------- gradient norms
def test_gradients_finite_nonzero_and_constant_for_zero_init_sew():
    r = analyze(
        cfg_of(blocks=8), what="gradients", blocks=["sew_add", "sew_and", "sew_iand", "spiking", "plain"]
    )
    v = by_label(r)
    assert "Plain (zero init)" not in v  # zero init would silence a plain net
    for label, blocks in v.items():
        g = grads(blocks)
        assert len(g) == 8 and all(math.isfinite(x) for x in g), label
        if not label.startswith("SEW AND"):
            assert all(x > 0 for x in g), label
    # SEW blocks with zero init are identity mappings: the gradient reaches every block unchanged
    # (SEW Eq. 11), the same for every g (Sec. 4.1: "all gradient-index curves are similar")
    ref = grads(v["SEW ADD (zero init)"])
    assert ref == pytest.approx([ref[-1]] * 8, rel=1e-6)
    for name in ("SEW AND (zero init)", "SEW IAND (zero init)"):
        assert grads(v[name]) == pytest.approx(ref, rel=1e-6)


def test_spiking_resnet_gradients_vanish_or_explode_where_sew_does_not():
    """SEW Figs. 7 and 8 with zero init: V_th=0.5 makes sigma'(0-V_th) = sigma'(1-V_th) = 0.288 < 1
    and the Spiking ResNet's gradient vanishes towards the first block; alpha=3 makes sigma'(1-V_th) =
    1.5 > 1 and it explodes. The SEW ADD network's gradient stays constant in both."""
    for extra, check in (
        (["neuron.v_threshold=0.5"], lambda ratio: ratio < 0.05),
        (["surrogate.alpha=3"], lambda ratio: ratio > 5.0),
    ):
        cfg = cfg_of(*extra, "zero_init_compare=false", "block.zero_init=true", blocks=8)
        r = analyze(cfg, what="gradients", blocks=["sew_add", "spiking"], zero_init_compare=False)
        v = by_label(r)
        sew, spk = grads(v["SEW ADD (zero init)"]), grads(v["Spiking ResNet (zero init)"])
        assert sew[0] / sew[-1] == pytest.approx(1.0, rel=1e-6), extra
        assert check(spk[0] / spk[-1]), (extra, spk)
        assert all(x > 0 and math.isfinite(x) for x in spk)


# --------------------------------------------------------------------------------------- command
def test_command_writes_json_png_and_prints(tmp_path, capsys):
    from snnexp.cli import main

    out = tmp_path / "run"
    rc = main(
        [
            "analyze",
            "gradients",
            *SMALL,
            "model.blocks_per_stage=3",
            "compare_blocks=[sew_add,spiking]",
            f"hydra.run.dir={out}",
            "--json",
        ]
    )
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    data = json.loads((out / "gradients.json").read_text())
    assert printed == data and data["what"] == "gradients" and len(data["variants"]) == 4
    assert (out / "gradients.png").read_bytes()[:4] == b"\x89PNG"
    rc = main(
        [
            "analyze",
            "firing",
            *SMALL,
            "model.blocks_per_stage=2",
            "zero_init_compare=false",
            f"hydra.run.dir={out}",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "firing rate A^l / O^l" in text and "body.1" in text
    assert (out / "firing.png").exists() and len(
        json.loads((out / "firing.json").read_text())["variants"]
    ) == 1


def test_checkpoint_is_analysed_with_its_own_config(tmp_path):
    cfg = compose([*SMALL, "model.blocks_per_stage=2", "block=sew_iand"])
    torch.manual_seed(0)
    model = build_model(cfg)
    path = tmp_path / "last.pt"
    torch.save(
        {"model": model.state_dict(), "config": OmegaConf.to_yaml(cfg, resolve=True), "epoch": 3}, path
    )
    acfg = compose([*SMALL, "model.blocks_per_stage=5", f"ckpt={path}", "what=firing"], config_name="analyze")
    # the command line's model.blocks_per_stage=5 would not fit: only non-model overrides are passed on
    r = analyze_cmd.run(acfg, overrides=["data.test_size=16"])
    assert r["variants"][0]["label"] == "SEW IAND (trained)" and len(r["variants"][0]["blocks"]) == 2
    assert r["bn_mode"] == "eval" and r["epoch"] == 3
    with BlockRecorder(model) as rec:
        assert len(rec.blocks) == 2
    out = analyze_cmd.write_outputs(r, tmp_path / "a")
    assert all(p.exists() for p in out)


def test_bad_what_is_a_user_error():
    from snnexp.errors import UserError

    with pytest.raises(UserError, match="what="):
        analyze(cfg_of(blocks=1), what="spikes")
