"""Every option of every config group is a registry entry, and every registry entry has its option."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from snnexp import registry as R
from snnexp.config import compose
from snnexp.config.compose import conf_dir, group_options
from snnexp.errors import ConfigError


def declared(group: str) -> set[str]:
    names = set()
    for opt in group_options(group):
        data = yaml.safe_load((conf_dir() / group / f"{opt}.yaml").read_text()) or {}
        names.add(data.get("name", opt))
    return names


@pytest.mark.parametrize("group", sorted(R.GROUPS))
def test_registry_names_equal_the_config_tree_options(group):
    R.load_builtin()
    assert set(R.GROUPS[group].names()) == declared(group)


def test_every_option_is_described_once_by_its_yaml_and_every_readout_by_its_docstring():
    """One home per description: the YAML's first comment line (``snnexp list`` prints it); readouts
    are values of ``model.readout``, not options, and say what they are in their docstring."""
    from snnexp.commands.list import describe

    R.load_builtin()
    for group in R.GROUPS:
        for opt in group_options(group):
            text = describe(conf_dir() / group / f"{opt}.yaml")
            assert text, f"{group}/{opt}.yaml has no first comment line"
    for entry in R.READOUTS:
        assert (entry.fn.__doc__ or "").strip(), f"readout {entry.name!r} has no docstring"
    fields = {f.name for f in dataclasses.fields(R.Entry)}
    assert "help" not in fields, f"a registry entry must not describe its option a second time: {fields}"


@pytest.mark.parametrize(
    "override,match",
    [
        ("method=dsr_typo", "unknown method 'dsr_typo'"),
        ("optim.name=sgdd", "optim.name='sgdd' is not allowed; did you mean 'sgd'"),
        ("logger.name=tensorboard", "logger.name='tensorboard' is not allowed"),
        ("sched.name=cosin", "did you mean 'cosine'"),
    ],
)
def test_unknown_names_fail_at_composition(override, match):
    with pytest.raises(ConfigError, match=match):
        compose([override])


@pytest.mark.parametrize(
    "override,match",
    [
        ("model.width=abc", "model 'sew_mini': width='abc' is not allowed; it must be int"),
        ("neuron.v_reset=abc", "neuron 'if': v_reset='abc' is not allowed; it must be float or null"),
        ("surrogate.alpha=true", "surrogate 'atan': alpha=True is not allowed; it must be float"),
        ("+method.foo=1", "method 'bptt' has no parameter 'foo'; it takes none"),
    ],
)
def test_a_builder_signature_is_the_schema_of_its_option(override, match):
    import snnexp
    from snnexp.build import build_method

    cfg = compose(["debug=fast", override])
    with pytest.raises(ConfigError, match=match):
        build_method(cfg) if "method" in override else snnexp.build_model(cfg)
