"""Every option of every config group composes, and what it describes can be built."""

from __future__ import annotations

import pytest
import torch

import snnexp
from snnexp.commands.list import GROUPS as LIST_GROUPS
from snnexp.config.compose import conf_dir, group_options
from snnexp.data import build_dataset
from snnexp.errors import DataError

SMALL = ["data=synthetic", "data.image_size=16", "T=2"]
NEEDS_FILES = {"cifar10", "cifar100", "imagenet", "dvs_gesture", "cifar10_dvs"}
GROUPS = [g for g in LIST_GROUPS if g != "experiment"]


def options(group):
    return [o for o in group_options(group) if o != "schema"]


def test_every_group_has_options():
    for g in GROUPS:
        assert options(g), g
    assert (conf_dir() / "train.yaml").is_file()


@pytest.mark.parametrize("group", ["block", "neuron", "surrogate", "norm", "encoder"])
def test_spiking_parts_build_into_the_demo_model(group):
    for opt in options(group):
        # keys_v2v carries currents between blocks: only KEYS's S-ResNet passes them
        model_name = "s_resnet20" if opt == "keys_v2v" else "sew_mini"
        # frames pass a sequence through: they take sequence data (the gate refuses static images)
        frames = group == "encoder" and opt == "frames"
        extra = ["data.sequence=true"] if frames else []
        cfg = snnexp.compose([*SMALL, f"{group}={opt}", f"model={model_name}", "data.image_size=8", *extra])
        model = snnexp.build_model(cfg)
        x = torch.rand(2, 2, 3, 8, 8) if frames else torch.rand(2, 3, 8, 8)
        out = model(x)
        assert out.shape == (2, 10) and torch.isfinite(out).all(), (group, opt)


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_every_model_composes_and_builds():
    for opt in options("model"):
        cfg = snnexp.compose([f"model={opt}", "data=synthetic", "data.image_size=128"])
        model = snnexp.build_model(cfg)
        assert sum(p.numel() for p in model.parameters()) > 0, opt


def test_every_data_option_composes_and_reports_missing_files(tmp_path):
    for opt in options("data"):
        cfg = snnexp.compose(
            ["T=16", f"data={opt}"] + ([f"data.root={tmp_path / opt}"] if opt in NEEDS_FILES else [])
        )
        if opt in NEEDS_FILES:
            with pytest.raises(DataError, match=str(tmp_path / opt)):
                build_dataset(cfg, "train")
        else:
            assert len(build_dataset(cfg, "test")) > 0


@pytest.mark.parametrize("group", ["trainer", "optim", "sched", "logger", "launcher"])
def test_engine_groups_compose(group):
    for opt in options(group):
        from snnexp.config import compose

        cfg = compose([f"{group}={opt}"], return_hydra_config=True)
        if group == "launcher":  # submitit's launchers are snnexp's requeueing subclasses
            ours = {"slurm": "requeueslurmlauncher", "submitit_local": "requeuelocallauncher"}
            expected = ours.get(opt, opt)
            assert expected in cfg.hydra.launcher._target_.lower(), (opt, cfg.hydra.launcher._target_)


def test_every_experiment_composes_and_builds():
    for opt in options("experiment"):
        # fine-tuning experiments (init.skip/reinit) need init.from; the file is read when a run starts
        cfg = snnexp.compose([f"experiment={opt}", "init.from=pretrained.pt"])
        assert cfg.get("experiment_name"), opt
        snnexp.build_model(cfg)


@pytest.mark.parametrize("command", ["eval", "fold", "summary", "analyze", "export"])
def test_command_configs_keep_experiment_values_and_make_no_run_dir(command):
    from snnexp.config import compose

    extra = ["ckpt=x"] if command in ("eval", "fold") else []
    extra += ["ckpt=x", "out=m.nir"] if command == "export" else []
    train = compose(["experiment=sew/cifar10dvs_t8"])
    cfg = compose(["experiment=sew/cifar10dvs_t8", *extra], command, return_hydra_config=True)
    assert (
        (cfg.T, cfg.optim.lr, cfg.model.name)
        == (train.T, train.optim.lr, train.model.name)
        == (8, 0.01, "sew_wide7bnet")
    )
    if command != "analyze":
        assert cfg.hydra.run.dir == "." and cfg.hydra.output_subdir is None


def test_no_schema_default_is_contradicted_by_every_option_that_uses_it():
    """Each fact has one home: a schema default that every option file of its group overrides (a
    10-epoch schema under a 20-epoch trainer YAML) is a second, stale value. Plain values only."""
    import dataclasses

    import yaml

    from snnexp.config.compose import conf_dir
    from snnexp.config.schema import SCHEMAS

    stale = []
    for (group, name), cls in SCHEMAS.items():
        users = []
        for f in sorted((conf_dir() / group).glob("*.yaml")):
            d = yaml.safe_load(f.read_text()) or {}
            if name in [x for x in d.get("defaults", []) if isinstance(x, str)]:
                users.append(d)
        for fld in dataclasses.fields(cls):
            default = fld.default
            if not users or not isinstance(default, (bool, int, float, str)) or default == "???":
                continue
            values = [u[fld.name] for u in users if fld.name in u]
            if len(values) == len(users) and all(v != default for v in values):
                stale.append(
                    f"{group}/{name}.{fld.name}: schema {default!r}, every YAML {sorted(map(str, values))}"
                )
    assert not stale, "\n".join(stale)
