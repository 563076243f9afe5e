"""Inference with fewer steps than training (KEYS Sec. 5.2, Tables 16-17)."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from spikingjelly.activation_based import functional

import snnexp
from conftest import run_cli
from snnexp.analysis.timesteps import FirstSteps
from snnexp.config import compose
from snnexp.norms.bntt import BNTT

TINY = ["model=s_resnet20", "block=keys_s2s", "neuron=keys_lif", "surrogate=triangle", "norm=bntt"]
TINY += ["data=synthetic", "data.image_size=8", "model.base_width=4", "data.num_classes=4"]


def test_bntt_built_for_fewer_steps_loads_the_first_ones():
    full = BNTT(3, 5, dims=2, eps=1e-4, momentum=0.1, bias=False)
    for t, bn in enumerate(full.bn_list):
        bn.weight.data.fill_(t)
        bn.running_mean.fill_(10 + t)
    short = BNTT(3, 2, dims=2, eps=1e-4, momentum=0.1, bias=False)
    short.load_state_dict(full.state_dict())  # strict: the extra steps are dropped, not an error
    assert [float(bn.weight[0].detach()) for bn in short.bn_list] == [0.0, 1.0]
    assert [float(bn.running_mean[0]) for bn in short.bn_list] == [10.0, 11.0]


def test_a_model_at_t_prime_is_the_trained_model_stopped_after_t_prime_steps():
    """Evaluating a T=6 network with T'=3: the first 3 steps of its own computation (same
    membranes, the first 3 BNTT layers), the readout's voltage after step 3 divided by 3."""
    torch.manual_seed(0)
    m6 = snnexp.build_model(compose([*TINY, "T=6"])).eval()
    m3 = snnexp.build_model(compose([*TINY, "T=3"])).eval()
    m3.load_state_dict(m6.state_dict())
    x = torch.rand(2, 3, 8, 8)
    seen = []
    m6.body.register_forward_hook(lambda mod, inp, out: seen.append(out))
    with torch.no_grad():
        m6(x)
        features6 = seen[-1]  # [6, B, C, 1, 1]
        functional.reset_net(m6)
        expected = m6.readout(features6[:3])  # u_3 / 3
        assert torch.allclose(m3(x), expected, atol=1e-6)


def test_sequences_keep_their_frames_and_the_model_sees_the_first_t_prime():
    net = FirstSteps(torch.nn.Identity(), 2)
    x = torch.arange(5.0).view(5, 1, 1, 1, 1)
    assert net(x).flatten().tolist() == [0.0, 1.0]
    assert net(torch.ones(1, 1, 2, 2)).shape == (1, 1, 2, 2)  # a static batch passes


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_eval_at_several_t_in_one_command(tmp_path):
    run = tmp_path / "run"
    small = ["T=6", "data.train_size=16", "data.test_size=16", "trainer.batch_size=16", "trainer.epochs=1"]
    snnexp.train(compose([*TINY, *small, "trainer.progress=false", "logger=none"]), run_dir=run)
    p = run_cli("eval", f"ckpt={run}/checkpoints/last.pt", "T=6,4,2", cwd=tmp_path, check=True)
    assert "| Inference t-steps | Training t-steps |" in p.stdout
    rows = list(csv.DictReader(open(run / "eval/test_accuracy_vs_T.csv")))
    assert [int(r["T"]) for r in rows] == [6, 4, 2]
    assert (run / "eval/test_accuracy_vs_T.png").stat().st_size > 1000
    last = json.loads((run / "metrics.json").read_text())["last_acc1"]
    assert abs(float(rows[0]["acc1"]) - last) < 1e-6  # T' = T: the training run's own test accuracy
    p = run_cli("eval", f"ckpt={run}/checkpoints/last.pt", "T=8", cwd=tmp_path)
    assert p.returncode == 2 and "evaluate at T <= the training T" in p.stderr
