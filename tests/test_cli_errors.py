"""The CLI: errors the user can fix are one line and exit 2, never a stack trace; help and completion."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import snnexp
from conftest import FAST, SNNEXP, run_cli
from snnexp.data.loaders import build_dataset
from snnexp.errors import DataError
from test_data_images import write_cifar10


@pytest.mark.parametrize(
    "args,expected",
    [
        (
            ["train", *FAST, "hydra.run.dir={tmp}/afile/run"],
            "hydra.run.dir={tmp}/afile/run: cannot write there",
        ),
        (
            ["train", *FAST, "hydra.run.dir=/proc/snnexp-run"],
            "hydra.run.dir=/proc/snnexp-run: cannot write there",
        ),
        (
            ["train", "-m", *FAST, "hydra.sweep.dir={tmp}/afile/s"],
            "hydra.sweep.dir={tmp}/afile/s: cannot write there",
        ),
        (["train", *FAST, "optim.lr=1e38"], "optim.lr=1e+38 is out of range"),
        (["train", "-m", *FAST, "launcher=slurm"], "launcher=slurm needs SLURM"),
        (["train", "~seed"], "~seed: a key of the schema cannot be deleted"),
        (["train", "--cfg", "job", "model=nope"], "unknown model 'nope'; allowed: keys_vgg11"),
        (["train", "--config-dir", "/nope"], "--config-dir /nope: no such directory"),
        (["train", "T=100000000000"], "T=100000000000 is out of range"),
        (["train", "data.test_fraction=2"], "data.test_fraction=2.0 is out of range"),
        (["train", "optim.betas=[2,3]"], "optim.betas[0]=2.0 is out of range"),
        (["train", "sched=multistep", "sched.milestones=[abc]"], "bad value for sched.milestones[0]"),
    ],
)
def test_one_line_exit_2(tmp_path, args, expected):
    (tmp_path / "afile").write_text("")
    p = run_cli(
        *[a.replace("{tmp}", str(tmp_path)) for a in args], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}
    )
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == "snnexp: error: " + p.stderr.strip().removeprefix("snnexp: error: ")
    assert expected.replace("{tmp}", str(tmp_path)) in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert "\tschema" not in p.stderr and ", schema" not in p.stderr  # internal options unlisted


def test_cifar_batches_never_run_code_and_truncation_is_one_line(tmp_path):
    write_cifar10(tmp_path)
    batch = tmp_path / "cifar-10-batches-py/data_batch_1"
    cfg = snnexp.compose(["data=cifar10", f"data.root={tmp_path}", "data.verify_md5=false"])
    assert len(build_dataset(cfg, "train")) == 30
    batch.write_bytes(batch.read_bytes()[:100])
    with pytest.raises(DataError, match="cannot read .*data_batch_1: .*truncated or not a CIFAR batch"):
        build_dataset(cfg, "train")

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    batch.write_bytes(pickle.dumps({"data": Evil(), "labels": [0]}))
    with pytest.raises(DataError, match=r"refusing to load io.open \(only arrays, lists and strings\)"):
        build_dataset(cfg, "train")
    assert not marker.exists()


def test_corrupt_image_in_imagefolder_is_one_line(tmp_path):
    for split in ("train", "val"):
        for c in ("n01", "n02"):
            (tmp_path / split / c).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(np.full((12, 12, 3), 60 * i, np.uint8)).save(
                    tmp_path / split / c / f"{i}.png"
                )
    (tmp_path / "train/n01/0.png").write_bytes(b"\x89PNG broken")
    args = [
        "data=imagenet",
        f"data.root={tmp_path}",
        "data.num_classes=2",
        "data.image_size=8",
        "data.resize=10",
    ]
    p = run_cli("train", *args, "model=sew_mini", "model.width=8", "T=1", "trainer.batch_size=2",
                "trainer.epochs=1", "logger=none", "trainer.progress=false", f"hydra.run.dir={tmp_path}/run",
                cwd=tmp_path)  # fmt: skip
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    assert "cannot read image" in p.stderr and "0.png" in p.stderr


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_json_output_is_only_json(tmp_path):
    p = run_cli("analyze", "gradients", *FAST, "--json", f"out={tmp_path}/a", cwd=tmp_path,
                env={"MPLCONFIGDIR": str(tmp_path / "mpl")})  # fmt: skip  # a fresh font cache
    assert p.returncode == 0, p.stderr
    json.loads(p.stdout)


@pytest.mark.parametrize(
    "command,expected",
    [
        ("eval", ["ckpt", "split", "out", "--json"]),
        ("fold", ["ckpt", "out", "--json"]),
        ("export", ["ckpt", "format", "out", "weights", "--json"]),
        ("analyze", ["what", "compare_blocks", "bn_mode", "--json"]),
        ("summary", ["--json", "model"]),
        ("train", ["threads", "resume", "experiment"]),
    ],
)
def test_command_help_shows_its_own_keys_and_no_internal_entries(command, expected):
    p = run_cli(command, "--help")
    assert p.returncode == 0 and p.stdout.startswith(f"snnexp {command} ")
    assert all(k in p.stdout for k in expected), p.stdout
    for internal in ("schema", "run_dir", "root:", "_base"):
        assert internal not in p.stdout, internal


def test_list_includes_the_users_config_dir(tmp_path):
    (tmp_path / "neuron").mkdir()
    yaml = "# my LIF (lab notes)\ndefaults: [schema, _self_]\nname: lif\n"
    (tmp_path / "neuron/my_lif.yaml").write_text(yaml)
    p = run_cli("list", "neurons", "--config-dir", str(tmp_path))
    assert p.returncode == 0 and "my_lif" in p.stdout and "plif" in p.stdout
    assert "my LIF (lab notes)" in p.stdout
    p = run_cli("list", "--config-dir", "/nope")
    assert p.returncode == 2 and p.stderr.strip() == "snnexp: error: --config-dir /nope: no such directory"


def test_shell_completion_for_commands_and_their_overrides(tmp_path):
    p = run_cli("-sc", "install=bash")
    assert p.returncode == 0 and "complete -o nospace -o default -F _snnexp_completion snnexp" in p.stdout
    assert run_cli("train", "-sc", "install=bash").stdout == p.stdout  # not a command called "train"
    script = tmp_path / "c.sh"
    script.write_text(
        p.stdout.replace('snnexp "${COMP_WORDS[1]}"', f'{" ".join(SNNEXP)} "${{COMP_WORDS[1]}}"')
    )
    words = {
        "COMP_WORDS=(snnexp ev)": "eval",
        "COMP_WORDS=(snnexp train model=sew_resnet1)": "model=sew_resnet18",
    }
    for setup, expected in words.items():
        line = " ".join(setup[12:-1].split())
        cmd = f'source {script}; {setup}; COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); COMP_LINE="{line}"; '
        cmd += '_snnexp_completion; echo "${COMPREPLY[@]}"'
        out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120).stdout
        assert expected in out.split(), (setup, out)


@pytest.mark.slow  # ~1 min; run by `make test-all` and `make battery`
def test_the_hostile_battery_passes():
    """scripts/hostile_battery.py: ~80 bad inputs, each one line, exit 2, no traceback, nothing left."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "hostile_battery.py"
    cmd = [sys.executable, str(script), "--jobs", "2"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
