"""A sweep's jobs, read as Hydra's basic sweeper starts them.

An experiment's sweep axes live in its YAML, under ``hydra.sweeper.params`` (KEYS Table 3's
``model: s_resnet20,s_resnet38,s_resnet44``): ``snnexp train -m experiment=keys/table3`` runs one
job per combination, while a plain ``snnexp train experiment=keys/table3`` is one run of the file's
own values. Everything that counts or checks a sweep before it starts (the CLI's fail-fast check,
the job directories' names, ``snnexp estimate``, ``make ... DRY=1``) reads the jobs here, so they
agree with what Hydra runs.

Hydra 1.3's ``BasicSweeper.sweep`` takes the config's axes first, then the command line's
overrides; a key given in both keeps the config's place and the command line's value(s). The config
it reads them from is composed from the command line's fixed overrides only (its sweeps are left
out), so a sweep over experiments (``experiment=a,b``) would silently drop a's and b's own axes:
that is refused here, with the command that runs them.
"""

from __future__ import annotations

import itertools
from functools import cache

from omegaconf import DictConfig, OmegaConf

from snnexp.errors import ConfigError

# an axis: its key (with any +/~ prefix) and its jobs' overrides, ["model=s_resnet20", ...]
Axis = tuple[str, list[str]]


def _parse(overrides: list[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from snnexp.config.compose import translate_error

    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except Exception as e:
        raise translate_error(e, list(overrides)) from e


def params_of(cfg: DictConfig) -> list[str]:
    """A composed config's own axes (``hydra.sweeper.params``) as ``key=a,b`` overrides."""
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    return [f"{k}={v}" for k, v in params.items()]


@cache
def _config_params(fixed: tuple[str, ...], config_name: str, user_dir: str | None) -> tuple[str, ...]:
    from snnexp.config.compose import compose

    cfg = compose(list(fixed), config_name, return_hydra_config=True, user_dir=user_dir)
    return tuple(params_of(cfg))


def config_axes(overrides: list[str], config_name: str = "train", user_dir: str | None = None) -> list[str]:
    """The axes of the config a ``-m`` sweep of ``overrides`` composes (its fixed overrides only,
    as Hydra composes it), as ``key=a,b`` overrides."""
    parsed = _parse(overrides)
    fixed = tuple(o.input_line for o in parsed if not o.is_sweep_override())
    params = _config_params(fixed, config_name, user_dir)
    _refuse_dropped_axes(parsed, fixed, params, config_name, user_dir)
    return list(params)


def _refuse_dropped_axes(parsed, fixed, params, config_name: str, user_dir: str | None) -> None:
    """A sweep over experiments (``experiment=a,b``) one of which declares axes of its own: Hydra
    composes the sweep's config without it, so it would run a and b once each. (Only experiment
    files declare axes: the other groups' options are parts, not settings of a table.)"""
    for o in parsed:
        key = o.get_key_element().lstrip("+~")
        if not o.is_sweep_override() or key != "experiment":
            continue
        for value in o.sweep_string_iterator():
            own = _config_params((*fixed, f"{key}={value}"), config_name, user_dir)
            if own != params:
                raise ConfigError(
                    f"{key}={value} sweeps axes of its own (hydra.sweeper.params: "
                    f"{', '.join(p.partition('=')[0] for p in own)}), which a sweep over {key} would "
                    f"drop; start it on its own: -m {key}={value}"
                )


def axes(overrides: list[str], config_name: str = "train", user_dir: str | None = None) -> list[Axis]:
    """The sweep's axes in the sweeper's order, one per key; a fixed override is a one-value axis."""
    merged: dict[str, list[str]] = {}
    for o in _parse([*config_axes(overrides, config_name, user_dir), *overrides]):
        key = o.get_key_element()
        if o.is_sweep_override():
            merged[key] = [f"{key}={v}" for v in o.sweep_string_iterator()]
        else:
            merged[key] = [o.input_line]
    return list(merged.items())


def jobs(overrides: list[str], config_name: str = "train", user_dir: str | None = None) -> list[list[str]]:
    """Every job of ``-m <overrides>``: its overrides, in the order Hydra numbers the jobs."""
    return [list(c) for c in itertools.product(*(v for _, v in axes(overrides, config_name, user_dir)))]


def swept_keys(overrides: list[str], config_name: str = "train", user_dir: str | None = None) -> list[str]:
    """The keys the jobs differ in (the job directories are named by them)."""
    return [k.lstrip("+~") for k, v in axes(overrides, config_name, user_dir) if len(v) > 1]


def plain_jobs(overrides: list[str]) -> list[list[str]]:
    """The combinations of the command line's own sweeps alone (no config is composed): what
    ``snnexp estimate`` counts without ``-m``."""
    values = [
        [f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
        if o.is_sweep_override()
        else [o.input_line]
        for o in _parse(overrides)
    ]
    return [list(c) for c in itertools.product(*values)]
