"""init.from: fine-tune from another data set's checkpoint (KEYS Tables 11-13)."""

from __future__ import annotations

import json

import pytest
import torch

import snnexp
from snnexp.config import compose
from snnexp.engine.checkpoint import save_atomic
from snnexp.engine.init_from import init_from
from snnexp.errors import CheckpointError, ConfigError

TINY = ["model=s_resnet20", "block=keys_s2s", "neuron=keys_lif", "surrogate=triangle", "norm=bntt", "T=2"]
TINY += ["data=synthetic", "data.image_size=8", "model.base_width=4"]


def model(channels: int, classes: int):
    torch.manual_seed(channels * 100 + classes)
    return snnexp.build_model(compose([*TINY, f"data.in_channels={channels}", f"data.num_classes={classes}"]))


@pytest.fixture
def cifar100_ckpt(tmp_path):
    """A 'CIFAR-100' network: 3 input channels, 100 classes."""
    src = model(3, 100)
    path = tmp_path / "pre.pt"
    save_atomic({"model": src.state_dict()}, path)
    return src, path


def test_dvs_fine_tuning_reloads_all_but_the_first_and_last_layer(cifar100_ckpt, capsys):
    src, path = cifar100_ckpt
    dst = model(2, 10)  # DVS-CIFAR10: 2 polarities, 10 classes
    fresh = {k: v.clone() for k, v in dst.state_dict().items()}
    r = init_from(dst, path, reinit="auto", skip=[])
    theirs, ours = src.state_dict(), dst.state_dict()
    assert [n.split(" ")[0] for n in r["reshaped"]] == ["stem.conv1.weight", "readout.fc.weight"]
    for name in ours:
        expected = fresh[name] if name in ("stem.conv1.weight", "readout.fc.weight") else theirs[name]
        assert torch.equal(ours[name], expected), name
    assert "stem.bn1.bn_list.0.weight" in r["loaded"]  # the stem's BNTT has the same shape: loaded
    err = capsys.readouterr().err
    assert f"loaded {len(ours) - 2} tensors" in err
    assert "stem.conv1.weight (4x2x3x3; checkpoint 4x3x3x3)" in err and "re-initialised" in err


def test_skip_reinitialises_layers_of_the_same_shape(cifar100_ckpt):
    """CIFAR-100 -> CIFAR-10: the stem has the same shape, the authors re-initialise it anyway."""
    src, path = cifar100_ckpt
    dst = model(3, 10)
    fresh = dst.stem.conv1.weight.detach().clone()
    r = init_from(dst, path, reinit="auto", skip=["stem.conv1", "readout.fc"], echo=False)
    assert r["skipped"] == ["stem.conv1.weight", "readout.fc.weight"] and not r["reshaped"]
    assert torch.equal(dst.stem.conv1.weight, fresh)
    assert torch.equal(dst.body.layer3[0].conv2.weight, src.body.layer3[0].conv2.weight)


def test_strict_and_bad_skip_are_one_line_errors(cifar100_ckpt):
    _, path = cifar100_ckpt
    with pytest.raises(CheckpointError, match="stem.conv1.weight .* does not match"):
        init_from(model(2, 10), path, reinit="strict", skip=[], echo=False)
    with pytest.raises(ConfigError, match="no tensor under 'stem.conv9'"):
        init_from(model(3, 100), path, reinit="auto", skip=["stem.conv9"], echo=False)


def test_the_engine_applies_it_when_a_run_starts_not_on_resume(cifar100_ckpt, tmp_path, capsys):
    _, path = cifar100_ckpt
    over = [*TINY, "data.in_channels=2", "data.num_classes=10", "data.train_size=8", "data.test_size=8"]
    over += ["trainer.batch_size=8", "trainer.epochs=1", "trainer.progress=false", "logger=none"]
    over += ["sched=constant"]  # a resume may lengthen a run only where the lr is the same
    cfg = compose([*over, f"init.from={path}"])
    run = tmp_path / "ft"
    snnexp.train(cfg, run_dir=run)
    report = json.loads((run / "init_from.json").read_text())
    assert report["from"] == str(path) and len(report["reshaped"]) == 2
    assert "init.from=" in capsys.readouterr().err
    cfg = compose([*over, f"init.from={path}", "resume=auto", "trainer.epochs=2"])
    snnexp.train(cfg, run_dir=run)
    err = capsys.readouterr().err
    assert "resumed from" in err and "init.from=" not in err
