"""``snnexp eval fold=true``: the network with its tdBN folded into the convs (TDBN Eq. 9-10)
has the accuracy of the unfolded one."""

from __future__ import annotations

import json

import pytest

import snnexp
from conftest import FAST, run_cli
from snnexp.blocks.tdbn import TDBNBlock

TDBN = ["norm=tdbn", "neuron=tdbn_lif", "surrogate=rect", "block=tdbn"]


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_eval_fold_true_gives_the_unfolded_accuracy(tmp_path):
    cfg = snnexp.compose([*FAST, *TDBN])
    snnexp.train(cfg, run_dir=tmp_path / "run")
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    plain = run_cli("eval", f"ckpt={ckpt}", "--json", f"out={tmp_path}/a.json", check=True)
    folded = run_cli("eval", f"ckpt={ckpt}", "fold=true", "--json", f"out={tmp_path}/b.json", check=True)
    a, b = (json.loads(p.stdout[p.stdout.index("{") :]) for p in (plain, folded))
    assert a["folded"] is False and b["folded"] is True
    assert b["acc1"] == a["acc1"] and b["acc5"] == a["acc5"] and b["n"] == a["n"] == 32
    assert b["loss"] == pytest.approx(a["loss"], rel=1e-4, abs=1e-5)
    # the Fig. 5b block's tdBN on an identity shortcut has no conv to fold into: it stays (eval mode)
    blocks = [m for m in snnexp.build_model(cfg).modules() if isinstance(m, TDBNBlock)]
    identity = sum(len(b.downsample) == 1 for b in blocks)
    assert identity >= 1 and b["norms_left"] == identity
    assert json.loads((tmp_path / "b.json").read_text())["folded"] is True
