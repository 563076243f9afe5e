"""The config gate (snnexp.config.gate): every config, whatever path it came by, is refused with one
line where it is used if a run could not use it as it says."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf, open_dict

import snnexp
from snnexp.config import compose
from snnexp.config.gate import check_config, effective_on
from snnexp.errors import ConfigError

FAST = ["debug=fast", "logger=none"]


def refused(fn, *args, **kw) -> str:
    with pytest.raises(ConfigError) as e:
        fn(*args, **kw)
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


@pytest.fixture(scope="module")
def stored() -> str:
    """The YAML a checkpoint stores: the resolved config of a composed run."""
    return OmegaConf.to_yaml(compose(FAST), resolve=True)


def test_a_stored_config_passes_the_gate_as_it_was_written(stored):
    cfg = check_config(stored, "ckpt: its stored config")
    assert cfg.T == 2 and cfg.trainer.epochs == 2


@pytest.mark.parametrize(
    "text,expect",
    [
        ("just a string", "is a str, not a mapping"),
        ("- a\n- b\n", "is a list, not a mapping"),
        ("!!python/object/apply:os.system ['echo pwned']\n", "is not valid YAML"),
        ("a: [unclosed\n", "is not valid YAML"),
    ],
)
def test_a_stored_config_that_is_no_config_is_one_line(text, expect):
    msg = refused(check_config, text, "x.pt: its stored config")
    assert msg.startswith("x.pt: its stored config ") and expect in msg, msg


@pytest.mark.parametrize(
    "old,new,expect",
    [
        ("T: 2\nseed", "T: -3\nseed", "T=-3 is out of range: it must be >= 1 and <= 10000"),
        ("T: 2\nseed", "T: abc\nseed", "T='abc' is not a whole number"),
        ("  epochs: 2\n", "  epochs: 0\n", "trainer.epochs=0 is out of range"),
        ("  epochs: 2\n", "  epochs: two\n", "trainer.epochs='two' is not a whole number"),
        ("  v_threshold: 1.0\n", "  v_threshold: -1.0\n", "neuron.v_threshold=-1.0 is out of range"),
        ("  lr: 0.003\n", "  lr: fast\n", "optim.lr='fast' is not a number"),
    ],
)
def test_a_stored_config_has_the_schemas_types_and_ranges(stored, old, new, expect):
    assert old in stored, old
    msg = refused(check_config, stored.replace(old, new, 1), "ckpt")
    assert expect in msg, msg


@pytest.mark.parametrize(
    "overrides,expect",
    [
        (["data.num_classes=5"], "data.num_classes=5 is not allowed: data=digits has num_classes=10"),
        (["model.num_classes=5"], "model.num_classes=5 differs from data.num_classes=10"),
        (["data.in_channels=3"], "data.in_channels=3 is not allowed: data=digits has in_channels=1"),
        (["data.image_size=64"], "data.image_size=64 is not allowed: data=digits has image_size=8"),
        (["trainer.epochs=1", "sched.warmup_epochs=2"], "sched.warmup_epochs=2.0 is longer than the run"),
        (["optim=adam", "optim.momentum=0.5"], "unknown config key 'optim.momentum' for optim=adam"),
        (["optim=adam", "optim.nesterov=true"], "unknown config key 'optim.nesterov' for optim=adam"),
        (["optim=sgd", "optim.betas=[0.9,0.99]"], "unknown config key 'optim.betas' for optim=sgd"),
        (["encoder=frames"], "encoder=frames needs frame sequences, but data=digits gives static images"),
        (["trainer.compile_scope=neurons"], "has no effect without trainer.compile=true"),
        (["init.skip=[stem.conv1]"], "init.skip=['stem.conv1'] has no effect without init.from"),
        (["init.reinit=strict"], "init.reinit=strict has no effect without init.from"),
    ],
)
def test_composition_refuses_what_a_run_would_get_wrong_or_ignore(overrides, expect):
    assert expect in refused(compose, overrides)


def test_keys_without_effect_are_for_training_only(stored):
    """eval of an old checkpoint is not refused for a training-only key its config holds."""
    text = stored.replace("  compile_scope: model\n", "  compile_scope: neurons\n")
    assert check_config(text, "ckpt").trainer.compile_scope == "neurons"
    assert "compile_scope" in refused(check_config, text, "ckpt", train=True)


def test_the_engine_gates_a_hand_edited_config_before_making_its_run_dir(tmp_path):
    cfg = compose(FAST)
    with open_dict(cfg):
        cfg.sched.warmup_epochs = 5  # the pair a sweep job or a notebook could reach
    assert "warmup_epochs=5" in refused(snnexp.train, cfg, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_the_python_api_gates_build_model():
    cfg = compose(FAST)
    cfg.T = 3
    OmegaConf.set_struct(cfg, False)
    cfg.model.in_channels = 5
    assert "model.in_channels=5 differs from data.in_channels=1" in refused(snnexp.build_model, cfg)


def test_a_key_that_cannot_act_on_this_device_is_named_with_its_effective_value():
    cfg = compose([*FAST, "trainer.amp=true", "trainer.flexsn=true"])
    assert {k: v for k, (v, _) in effective_on(cfg, "cpu").items()} == {
        "trainer.amp": False,
        "trainer.flexsn": False,
    }
    assert effective_on(cfg, "cuda") == {}


def test_tune_checks_the_ends_of_each_range_as_trial_configs(tmp_path):
    from snnexp.tune import check_search

    cfg = compose([*FAST, "+search.space.T={type:int,low:-5,high:-1}"], "tune")
    assert "a trial with T=-5 is refused: T=-5 is out of range" in refused(check_search, cfg, None)
    cfg = compose([*FAST, "+search.space.T={type:categorical,choices:[2,0]}"], "tune")
    assert "T=0" in refused(check_search, cfg, None)
    (tmp_path / "study.db").write_text("not sqlite")
    assert "is not an SQLite database" in refused(check_search, compose(FAST, "tune"), tmp_path)
    for bad, key in [("search.objective=bogus", "objective"), ("search.n_jobs=0", "n_jobs")]:
        assert f"search.{key}" in refused(compose, [*FAST, bad], "tune")


def test_the_users_config_dir_is_searched_first(tmp_path):
    (tmp_path / "neuron").mkdir()
    (tmp_path / "neuron" / "if.yaml").write_text("defaults: [schema, _self_]\nname: if\nv_threshold: 0.5\n")
    assert compose(FAST, user_dir=str(tmp_path)).neuron.v_threshold == 0.5
    assert compose(FAST).neuron.v_threshold == 1.0


def test_hydra_full_error_changes_only_how_an_error_prints(monkeypatch, capsys):
    from snnexp.cli import main

    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    assert main(["train", *FAST, "trainer.epochs=-1"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1] == (
        "snnexp: error: trainer.epochs=-1 is out of range: it must be >= 1"
    ), err
