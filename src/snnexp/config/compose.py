"""Finding ``conf/``, composing a config like the CLI does, and turning Hydra's composition errors
into one line that names the bad key or value and what is allowed."""

from __future__ import annotations

import os
import re
import secrets
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from snnexp.errors import ConfigError, choices_hint

_PKG = Path(__file__).resolve().parent.parent  # src/snnexp (editable) or site-packages/snnexp


@cache
def conf_dir() -> Path:
    """The config tree: ``snnexp/conf`` inside a built wheel, else ``<repo>/conf`` of an editable
    install. ``SNNEXP_CONF_DIR`` overrides both (for a private fork of the tree)."""
    env = os.environ.get("SNNEXP_CONF_DIR")
    candidates = [Path(env)] if env else [_PKG / "conf", _PKG.parent.parent / "conf"]
    for c in candidates:
        if (c / "train.yaml").is_file():
            return c
    raise ConfigError(f"config tree not found (looked in {', '.join(map(str, candidates))})")


_RUN_UID = f"{os.getpid():x}{secrets.token_hex(2)}"


def register_resolvers() -> None:
    """``${uid:}``: one short id per process, so two runs started in the same second never share
    a directory (the timestamp alone would collide)."""
    if not OmegaConf.has_resolver("uid"):
        OmegaConf.register_new_resolver("uid", lambda: _RUN_UID)
    if not OmegaConf.has_resolver("job_label"):
        OmegaConf.register_new_resolver("job_label", job_label)
    from snnexp.config.schema import register_schemas

    register_schemas()


SWEPT_KEYS_ENV = "SNNEXP_SWEPT_KEYS"  # set by the CLI: the sweep's axes (command line and experiment)


def job_label(num, overrides) -> str:
    """A sweep job's directory name: what it varies (``block=sew_iand,seed=1``), from the keys the
    command line sweeps over; the job number when nothing is swept (or the name would not fit)."""
    keys = [k for k in os.environ.get(SWEPT_KEYS_ENV, "").split(",") if k]
    parts = []
    for o in list(overrides or []):
        key, _, value = str(o).partition("=")
        if key.lstrip("+~") in keys:
            parts.append(f"{key.lstrip('+~')}={value}")
    label = ",".join(parts).replace("/", "_")
    return label if label and len(label) <= 200 else str(num)


def group_options(group: str) -> list[str]:
    """The YAML options of a config group (schemas excluded)."""
    d = conf_dir() / group
    return sorted(
        str(p.relative_to(d).with_suffix("")) for p in d.rglob("*.yaml") if not p.name.startswith("_")
    )


def compose(
    overrides: list[str] | tuple[str, ...] = (),
    config_name: str = "train",
    return_hydra_config: bool = False,
    user_dir: str | None = None,
) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` with command-line style ``overrides`` and validate it.
    ``user_dir``: the user's own config tree (``--config-dir``), searched first (see search_order).

    Usable from notebooks and tests; raises :class:`ConfigError` with a one-line message.
    """
    from hydra import compose as hydra_compose
    from hydra.core.global_hydra import GlobalHydra

    register_resolvers()
    overrides = list(overrides)
    was = GlobalHydra.instance().is_initialized()
    if was:  # inside a running Hydra app (or a test): a fresh, private context
        saved = GlobalHydra.instance().hydra
        GlobalHydra.instance().clear()
    try:
        with _initialized(user_dir):
            try:
                cfg = hydra_compose(config_name, overrides=overrides, return_hydra_config=return_hydra_config)
            except Exception as e:
                raise translate_error(e, overrides) from e
    finally:
        if was:
            GlobalHydra.instance().clear()
            GlobalHydra.instance().initialize(saved)
    check_added_keys(cfg, overrides)
    from snnexp.config.gate import check_config

    # a config composed to train (or to tune: its trials train) may not hold a key without effect
    return check_config(cfg, train=config_name in ("train", "tune"))


@contextmanager
def _initialized(user_dir: str | None):
    """Hydra initialised on the config tree, with the user's own tree (``--config-dir``) searched
    first when given. Hydra's ``--config-dir`` is searched after the primary tree, so a user's
    ``neuron/if.yaml`` was listed by ``snnexp list`` but never used; here (and in cli.run_hydra)
    the user's tree is the primary one and the package's tree comes next: the user's option wins
    a name clash, and whatever the user's tree lacks (``train.yaml`` included) is the package's."""
    from hydra import initialize_config_dir, version
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    if not user_dir:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3", job_name="snnexp"):
            yield
        return
    backup = get_gh_backup()
    version.setbase("1.3")
    csp = create_config_search_path(search_path_dir=os.path.abspath(user_dir))
    csp.prepend("snnexp", f"file://{conf_dir()}", anchor=SearchPathQuery(provider="schema"))
    Hydra.create_main_hydra2(task_name="snnexp", config_search_path=csp)
    try:
        yield
    finally:
        restore_gh_from_backup(backup)


def check_added_keys(cfg: DictConfig, overrides: list[str]) -> None:
    """``+key=value`` / ``++key=value`` bypass the schema (OmegaConf adds the key even to a typed
    node), so ``+trainer.epoch=3`` was silently ignored. Refuse a key that a typed node does not
    declare; options whose schema is open (model, neuron, ...) take any key, and their builders
    check it against their signature."""
    import dataclasses

    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except Exception:  # already reported by composition
        return
    for o in parsed:
        key = o.get_key_element().lstrip("+~")
        adds, deletes = o.is_add() or o.is_force_add(), o.is_delete()
        if not (adds or deletes) or key.startswith("hydra") or "/" in key or "@" in key:
            continue
        if (conf_dir() / key).is_dir():  # +experiment=..., a config group
            continue
        parent, _, leaf = key.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        kind = OmegaConf.get_type(node) if isinstance(node, DictConfig) else None
        if deletes:
            typed = dataclasses.is_dataclass(kind) and leaf in {f.name for f in dataclasses.fields(kind)}
            if typed:
                raise ConfigError(f"~{key}: a key of the schema cannot be deleted; set a value ({key}=...)")
        elif dataclasses.is_dataclass(kind) and not issubclass(kind, dict):
            fields = {f.name for f in dataclasses.fields(kind)}
            if leaf not in fields:
                raise ConfigError(
                    f"unknown config key {key!r} (+ adds keys only where a schema allows it); "
                    f"{choices_hint(leaf, fields)}"
                )


@cache
def declared_names(group: str) -> frozenset[str]:
    """The ``name`` values the YAML options of ``group`` declare (the registry entries they use)."""
    names = set()
    for p in (conf_dir() / group).rglob("*.yaml"):
        try:
            text = p.read_text()
        except OSError:
            continue
        # the top-level `name:` line (a regex, not a YAML parse: this runs at every start-up)
        found = _NAME_LINE.search(text)
        if found:
            names.add(found.group(1))
    return frozenset(names)


_NAME_LINE = re.compile(r"^name:[ \t]*['\"]?([\w.-]+)['\"]?[ \t]*(?:#.*)?$", re.M)


def check_names(cfg: DictConfig) -> None:
    """``<group>.name`` must be one of the group's registered entries (``model.name=foo`` would
    otherwise fail only after the data is loaded)."""
    for group in CONFIG_GROUPS:
        node = cfg.get(group)
        name = node.get("name") if isinstance(node, DictConfig) else None
        allowed = declared_names(group)
        if name is not None and allowed and name not in allowed:
            raise ConfigError(f"{group}.name={name!r} is not allowed; {choices_hint(name, allowed)}")


def _first_lines(msg: str) -> str:
    lines = [ln.strip() for ln in str(msg).splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("object_type", "Set the environment"))]
    return "; ".join(keep[:3])


def translate_error(e: Exception, overrides: list[str]) -> ConfigError:
    """One line for any Hydra/OmegaConf composition error."""
    if isinstance(e, ConfigError):
        return e
    chain, c = [], e
    while c is not None and len(chain) < 4:
        chain.append(str(c))
        c = c.__cause__ or c.__context__
    msg = "\n".join(chain)
    m = re.search(r"Could not find '([^']+)/([^']+)'", msg)
    if m:
        group, option = m.group(1), m.group(2)
        try:
            allowed = group_options(group)
        except OSError:
            allowed = []
        return ConfigError(f"unknown {group} {option!r}; {choices_hint(option, allowed)}")
    m = re.search(r"Could not override '([^']+)'", msg)
    if m and re.search(r"Key '[^']+' (is )?not in", msg):
        key = m.group(1)
        return ConfigError(
            f"unknown config key {key!r}{_in_option(key, overrides)}; {_close_keys(key, overrides)} "
            f"(add a new key with +{key}=...)"
        )
    m = re.search(r"Key '([^']+)' (?:is )?not in .*?full_key: (\S+)", msg, re.S)
    if m:
        return ConfigError(f"unknown config key {m.group(2)!r}; {_close_keys(m.group(2))}")
    m = re.search(r"(Value .*?)\n.*?full_key: (\S+)", msg, re.S)
    if m:
        return ConfigError(f"bad value for {m.group(2)}: {m.group(1).strip()}")
    m = re.search(r"Error parsing override '([^']*)'", msg)
    if m:
        return ConfigError(
            f"cannot parse override {m.group(1)!r}: expected key=value, group=option or "
            "+key=value (https://hydra.cc/docs/advanced/override_grammar/basic)"
        )
    m = re.search(r"Missing mandatory value: (\S+)", msg)
    if m:
        return ConfigError(f"{m.group(1)} must be set (e.g. {m.group(1)}=...)")
    return ConfigError(_first_lines(msg) or type(e).__name__)


def _group_choices(overrides: list[str]) -> list[str]:
    """The overrides that pick options (``optim=sgd``, ``experiment=...``): what the keys are of."""
    groups = {*CONFIG_GROUPS, "experiment", "debug"}
    return [o for o in overrides if "=" in o and o.partition("=")[0].lstrip("+~") in groups and "," not in o]


def _in_option(key: str, overrides: list[str]) -> str:
    """`` for optim=sgd``: the option whose schema lacks ``key`` (Adam's betas are not SGD's)."""
    group = key.partition(".")[0]
    picked = [o.partition("=")[2] for o in _group_choices(overrides) if o.partition("=")[0] == group]
    return f" for {group}={picked[-1]}" if picked and "." in key else ""


def _close_keys(key: str, overrides: list[str] = ()) -> str:
    """'did you mean ...' among the keys of the node that holds ``key`` in the config of the
    options the command line picked (the default config's otherwise)."""
    parent, _, leaf = key.rpartition(".")
    try:
        base = compose(_group_choices(list(overrides)), "train")
        node = OmegaConf.select(base, parent) if parent else base
        keys = [str(k) for k in node.keys()] if isinstance(node, DictConfig) else []
    except Exception:
        keys = []
    if not keys:
        return "no such key"
    return choices_hint(leaf, keys)


CONFIG_GROUPS = (
    "data",
    "model",
    "block",
    "neuron",
    "surrogate",
    "norm",
    "encoder",
    "trainer",
    "method",
    "optim",
    "sched",
    "logger",
)
# the groups that are not options of a run's parts: each is listed once, here (snnexp list, --help)
EXTRA_GROUPS = ("launcher", "experiment", "debug", "search")
ALL_GROUPS = (*CONFIG_GROUPS, *EXTRA_GROUPS)


def task_overrides() -> list[str]:
    """The command line's overrides of the running Hydra job (none outside one)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return list(HydraConfig.get().overrides.task)
    except Exception:  # called outside a Hydra job (tests, notebooks)
        return []


def apply_overrides(base: DictConfig, cfg: DictConfig, overrides: list[str], skip: set[str]) -> DictConfig:
    """A checkpoint's resolved config ``base`` with the command line's ``overrides`` on top, taking
    each value from ``cfg`` (the composed, validated config): ``T=2`` sets one key, ``data=...`` swaps
    the whole group. The command's own keys (``skip``), ``hydra.*`` and ``experiment`` are left out."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import open_dict

    for o in OverridesParser.create().parse_overrides(list(overrides)):
        key = o.get_key_element().lstrip("+~")
        if key in skip or key.startswith("hydra") or key == "experiment":
            continue
        with open_dict(base):
            if key in CONFIG_GROUPS:
                base[key] = cfg[key]
            else:
                OmegaConf.update(base, key, OmegaConf.select(cfg, key), force_add=True)
    return base
