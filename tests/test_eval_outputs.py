"""``snnexp eval`` and ``snnexp fold``: where they write (never over a file they did not create)
and what they refuse (a diverged checkpoint); ``split=train`` is an evaluation, not a training epoch."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import torch

import snnexp
from conftest import FAST
from snnexp.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("trained") / "run"
    snnexp.train(snnexp.compose([*FAST, "trainer.epochs=1"]), run_dir=str(d))
    return d


def _hashes(d):
    return {p: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*")) if p.is_file()}


def _cli(capsys, *args):
    try:
        code = main(list(args))
    except SystemExit as e:  # an error inside Hydra's job exits (2) as the console command does
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_fold_never_replaces_a_file(run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = _hashes(run)
    for target in ("checkpoints/last.pt", "metrics.json"):
        code, _, err = _cli(capsys, "fold", f"ckpt={run}/checkpoints/last.pt", f"out={run}/{target}")
        assert code == 2 and err.count("\n") == 1 and "already exists; nothing was written" in err, err
    assert _hashes(run) == before
    for _ in range(2):  # the default name is numbered, never reused
        assert _cli(capsys, "fold", f"ckpt={run}/checkpoints/last.pt")[0] == 0
    made = sorted(p.name for p in (run / "checkpoints").iterdir() if p.name not in ("last.pt", "best.pt"))
    assert made == ["last_folded.pt", "last_folded_2.pt"]
    for p in made:
        (run / "checkpoints" / p).unlink()


def test_eval_of_a_loose_checkpoint_writes_into_a_new_directory(run, tmp_path, monkeypatch, capsys):
    loose = tmp_path / "downloads"
    loose.mkdir()
    shutil.copy(run / "checkpoints/last.pt", loose / "model.pt")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    code, out, err = _cli(capsys, "eval", f"ckpt={loose}/model.pt")
    assert code == 0, err
    assert sorted(p.name for p in loose.iterdir()) == ["model.pt"] and not (tmp_path / "eval").exists()
    (written,) = (tmp_path / "work/outputs/eval").glob("*-model/test_T2.json")
    assert str(written.relative_to(tmp_path / "work")) in out


def test_eval_split_train_reads_every_training_sample_in_order_without_augmentation(run, tmp_path, capsys):
    results = []
    for i in range(3):
        code, _, err = _cli(
            capsys,
            "eval",
            f"ckpt={run}/checkpoints/last.pt",
            "split=train",
            "--json",
            f"out={tmp_path}/{i}.json",
        )
        assert code == 0, err
        results.append(json.loads((tmp_path / f"{i}.json").read_text()))
    assert results[0]["n"] == 64  # data.train_size of debug=fast, no sample dropped
    assert [(r["acc1"], r["loss"]) for r in results] == [(results[0]["acc1"], results[0]["loss"])] * 3


def test_a_diverged_checkpoint_is_an_error_not_a_number(run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ckpt = torch.load(run / "checkpoints/last.pt", weights_only=True)
    name = next(k for k, v in ckpt["model"].items() if k.endswith("weight"))
    ckpt["model"][name].fill_(float("nan"))
    torch.save(ckpt, tmp_path / "nan.pt")
    for cmd in ("eval", "fold"):
        code, out, err = _cli(capsys, cmd, f"ckpt={tmp_path}/nan.pt")
        assert code == 2 and err.count("\n") == 1 and f"{name} holds inf/NaN" in err, (code, out, err)
    assert not (tmp_path / "outputs").exists()
