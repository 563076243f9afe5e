"""Bad input: one clear line naming the bad value and what is allowed, exit 2, no traceback."""

from __future__ import annotations

import pytest

from conftest import FAST, run_cli

CASES = [
    (["train", "model=sew_mni"], "unknown model 'sew_mni'; did you mean 'sew_mini'?"),
    (["train", "T=0"], "T=0 is out of range: it must be >= 1"),
    (["train", "T=abc"], "bad value for T"),
    (["train", "trainer.epoch=3"], "unknown config key 'trainer.epoch'; did you mean 'epochs'?"),
    (["train", "optim.name=sgdd"], "optim.name='sgdd' is not allowed; did you mean 'sgd'?"),
    (["train", "neuron.v_threshold=-1"], "neuron.v_threshold=-1.0 is out of range"),
    (["train", "-m", "block=sew_add,nope"], "unknown block 'nope'"),
    (["train", "data=cifar10", "data.root=/nonexistent/cifar"], "cifar10 not found under /nonexistent/cifar"),
    (["train", "data=imagenet", "data.root=/nonexistent/in"], "cannot be downloaded automatically"),
    (["train", "model.widht=3"], "unknown config key 'model.widht'"),
    (["train", "neuron.tua=2"], "unknown config key 'neuron.tua'"),
    (["train", "+neuron.tua=2", "trainer.epochs=1"], "neuron 'if' has no parameter 'tua'"),
    (["train", "model=sew_7bnet"], "sew_7bnet: 7 max-pools halve a 8px input"),
    (["train", *FAST, "optim=sgd", "optim.lr=inf"], "optim.lr=inf is out of range"),
    (["trian"], "unknown command 'trian'; did you mean 'train'?"),
    (["eval", "ckpt=/nonexistent.pt"], "checkpoint /nonexistent.pt does not exist"),
    (["train", "resume=/nonexistent.pt", *FAST], "resume=/nonexistent.pt: no such checkpoint file"),
    (["list", "neurnos"], "unknown group 'neurnos'; did you mean 'neuron'?"),
]


@pytest.mark.parametrize("args,expected", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_is_one_line(tmp_path, args, expected):
    p = run_cli(*args, cwd=tmp_path)
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("snnexp: error: "), p.stderr
    assert expected in lines[0]
    assert "Traceback" not in p.stderr + p.stdout


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_unreadable_checkpoint_and_reused_run_dir(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage")
    p = run_cli("eval", f"ckpt={bad}", cwd=tmp_path)
    assert p.returncode == 2 and "cannot read checkpoint" in p.stderr and "Traceback" not in p.stderr
    run = tmp_path / "run"
    run_cli("train", *FAST, "trainer.epochs=1", f"hydra.run.dir={run}", cwd=tmp_path, check=True)
    before = (run / "checkpoints/last.pt").read_bytes()
    p = run_cli("train", *FAST, "trainer.epochs=1", f"hydra.run.dir={run}", cwd=tmp_path)
    assert p.returncode == 2 and "already holds a run; resume=auto continues it" in p.stderr
    assert (run / "checkpoints/last.pt").read_bytes() == before


def test_full_error_shows_traceback(tmp_path):
    p = run_cli("train", "model=sew_mni", cwd=tmp_path, env={"HYDRA_FULL_ERROR": "1"})
    assert p.returncode != 0 and "Traceback" in p.stderr
