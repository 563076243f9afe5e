"""Every option of every config group is a registry entry, and every registry entry has its option."""

from __future__ import annotations

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


def test_every_registered_model_lists_its_paper_or_help():
    R.load_builtin()
    for reg in R.GROUPS.values():
        for entry in reg:
            assert entry.help, (reg.kind, entry.name)


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
