"""The config gate: the one check every config passes where it is used.

A config reaches a command by several paths: composed from the command line (``compose``), one job
of a sweep (Hydra composes each job itself), a ``tune`` trial (the base config with the trial's
values), a notebook (``snnexp.train(cfg)`` with a hand-edited cfg) or a checkpoint's stored config
(eval, fold, analyze, resume). Each of them passes :func:`check_config` where it is used (the
engine's ``train``, ``inference.load_for_inference``, ``snnexp.build_model``, ...), so what one path
refuses no other path runs.

The checks, in order: the config is a mapping (a checkpoint's stored YAML may be anything); every
interpolation resolves; every value has its field's type and declared range (schema.py
``rng``); names are registered; keys agree with each other (warm-up shorter than the run; the
model's classes, channels and image size are the data set's; frame encoding needs frame data);
and, for a config about to be trained (``train=True``), no key is set that the run would ignore.

Nothing here imports torch or the engine (import-linter: "config imports nothing from engine").
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from snnexp.config import schema
from snnexp.config.threads import resolve_threads
from snnexp.config.validate import check_ranges, check_value
from snnexp.errors import ConfigError

# What a data set fixes whatever the config says: its loader yields this many classes, channels
# and pixels (conf/data/<name>.yaml sets the same values as defaults). A key left out here is a
# setting of that data set (ImageNet's crop size and class subsets, the DVS frames' resize).
DATA_FACTS: dict[str, dict[str, int]] = {
    "digits": {"num_classes": 10, "in_channels": 1, "image_size": 8},  # scikit-learn's 8x8 digits
    "cifar10": {"num_classes": 10, "in_channels": 3, "image_size": 32},
    "cifar100": {"num_classes": 100, "in_channels": 3, "image_size": 32},
    "imagenet": {"in_channels": 3},
    "dvs_gesture": {"num_classes": 11, "in_channels": 2},  # OFF/ON polarity
    "cifar10_dvs": {"num_classes": 10, "in_channels": 2},
}
SHAPE_KEYS = ("num_classes", "in_channels", "image_size")

# the schema of each group's node in a config read back from a checkpoint (untyped YAML): its
# fields' types and ranges are checked; keys it does not declare are left alone (older schemas)
STORED_SCHEMAS = {
    "trainer": schema.TrainerConfig,
    "sched": schema.SchedConfig,
    "logger": schema.LoggerConfig,
    "neuron": schema.NeuronConfig,
    "model": schema.ModelConfig,
    "data": schema.DataConfig,
}
OPTIM_SCHEMAS = {
    "sgd": schema.SGDOptimConfig,
    "adam": schema.AdamOptimConfig,
    "adamw": schema.AdamOptimConfig,
}


def check_config(cfg: Any, where: str = "", train: bool = False) -> DictConfig:
    """Refuse a config that is not what a run can use (ConfigError, one line); return it as a
    DictConfig. ``where`` names its origin in messages (``"<ckpt>: its stored config"``);
    ``train``: the config is about to be trained, so a key without effect is refused too."""
    cfg = as_config(cfg, where)
    prefix = f"{where}: " if where else ""
    try:
        resolve_all(cfg)
        if OmegaConf.get_type(cfg) is dict or OmegaConf.get_type(cfg) is None:
            check_stored_types(cfg)  # no schema attached: a stored or hand-made config
        check_ranges(cfg)
        check_relations(cfg)
        from snnexp.config.compose import check_names

        check_names(cfg)
        if train:
            check_no_effect(cfg)
    except ConfigError as e:
        raise ConfigError(f"{prefix}{e}") from None
    return cfg


def as_config(cfg: Any, where: str = "") -> DictConfig:
    """A DictConfig from a DictConfig, a mapping or a YAML text (a checkpoint stores YAML)."""
    import yaml

    what = where or "the config"
    if isinstance(cfg, DictConfig):
        return cfg
    if isinstance(cfg, (str, bytes)):
        try:
            cfg = yaml.safe_load(cfg)  # safe: a !!python tag is an error, never code
        except yaml.YAMLError as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ConfigError(f"{what} is not valid YAML ({first})") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{what} is a {type(cfg).__name__}, not a mapping of config keys")
    try:
        return OmegaConf.create(cfg)
    except Exception as e:
        raise ConfigError(f"{what} cannot be read as a config ({_first_line(e)})") from None


def resolve_all(cfg: DictConfig) -> None:
    """Every interpolation resolves and no mandatory value is missing (Hydra's node excluded: its
    job-time values are unset outside a job)."""
    from snnexp.config.compose import translate_error

    try:
        for key in cfg:
            if key == "hydra":
                continue
            node = cfg._get_node(key)
            if isinstance(node, (DictConfig, ListConfig)):
                OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
            else:
                cfg[key]  # noqa: B018 (resolves it)
    except Exception as e:
        raise translate_error(e, []) from None


# ------------------------------------------------------------------------------ types
def check_stored_types(cfg: DictConfig) -> None:
    """The types and ranges of a config with no schema attached (a checkpoint's YAML, a dict):
    ``T: -3`` or ``T: abc`` is refused as the command line's ``T=-3`` is."""
    check_fields(cfg, schema.TrainConfig, "")
    for group, kind in STORED_SCHEMAS.items():
        node = cfg.get(group)
        if node is not None and not isinstance(node, DictConfig):
            raise ConfigError(f"{group} is {node!r}, not a group of keys")
        if node is not None:
            check_fields(node, kind, f"{group}.")
    optim = cfg.get("optim")
    if isinstance(optim, DictConfig):
        check_fields(optim, OPTIM_SCHEMAS.get(str(optim.get("name")), schema.OptimConfig), "optim.")


def check_fields(node: DictConfig, kind: type, prefix: str) -> None:
    hints = typing.get_type_hints(kind)
    for f in dataclasses.fields(kind):
        if f.name not in node or OmegaConf.is_missing(node, f.name):
            continue
        value = node[f.name]
        full = f"{prefix}{f.name}"
        _check_type(full, value, hints.get(f.name, Any))
        if f.metadata and value is not None:
            values = list(value) if isinstance(value, ListConfig) else [value]
            if (
                "length" in f.metadata
                and isinstance(value, ListConfig)
                and len(values) != f.metadata["length"]
            ):
                raise ConfigError(f"{full}={values!r} must have {f.metadata['length']} values")
            for v in values:
                check_value(full, v, f.metadata)


_SCALARS = {int: "a whole number", float: "a number", bool: "true or false", str: "a string"}


def _check_type(full: str, value: Any, hint: Any) -> None:
    optional = typing.get_origin(hint) is typing.Union
    args = typing.get_args(hint) if optional else ()
    if value is None:
        if hint is Any or type(None) in args:
            return
        raise ConfigError(f"{full}=null is not allowed: it must be {_SCALARS.get(hint, 'set')}")
    base = next((a for a in args if a is not type(None)), hint) if optional else hint
    if base in _SCALARS:
        ok = isinstance(value, base) and not (base is not bool and isinstance(value, bool))
        if base is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            raise ConfigError(f"{full}={value!r} is not {_SCALARS[base]}")
    elif typing.get_origin(base) is list or base is list:
        if not isinstance(value, ListConfig):
            raise ConfigError(f"{full}={value!r} is not a list")
    elif typing.get_origin(base) is dict or base is dict:
        if not isinstance(value, DictConfig):
            raise ConfigError(f"{full}={value!r} is not a group of keys")


# ------------------------------------------------------------------------------ relations
def check_relations(cfg: DictConfig) -> None:
    """Checks between keys, and values a per-field range cannot express."""
    if "threads" in cfg:
        resolve_threads(cfg.threads)
    logger = cfg.get("logger")
    if isinstance(logger, DictConfig) and logger.get("log_checkpoints") and logger.get("name") != "wandb":
        raise ConfigError(
            f"logger.log_checkpoints=true needs logger=wandb (logger={logger.get('name')} keeps no artifacts)"
        )
    trainer, sched = cfg.get("trainer"), cfg.get("sched")
    if isinstance(trainer, DictConfig) and isinstance(sched, DictConfig):
        warm, epochs = sched.get("warmup_epochs") or 0, trainer.get("epochs")
        if epochs is not None and warm > epochs:
            raise ConfigError(
                f"sched.warmup_epochs={warm} is longer than the run (trainer.epochs={epochs}): "
                "the lr would never reach optim.lr"
            )
    check_data_and_model(cfg)
    check_encoder(cfg)


def check_data_and_model(cfg: DictConfig) -> None:
    """The model is built for the data it is fed: classes, channels and image size are the data
    set's (a mismatch was a shape error at the first step)."""
    data, model = cfg.get("data"), cfg.get("model")
    if not isinstance(data, DictConfig):
        return
    name = str(data.get("name"))
    for key, fact in DATA_FACTS.get(name, {}).items():
        if key in data and data[key] != fact:
            raise ConfigError(f"data.{key}={data[key]!r} is not allowed: data={name} has {key}={fact}")
    if not isinstance(model, DictConfig):
        return
    for key in SHAPE_KEYS:
        if key in model and key in data and model[key] != data[key]:
            raise ConfigError(
                f"model.{key}={model[key]!r} differs from data.{key}={data[key]!r}: the model takes "
                f"its {key} from the data set (set data.{key} where the data set allows it)"
            )


def check_encoder(cfg: DictConfig) -> None:
    """``encoder=frames`` passes frame sequences through: on static images [B, C, H, W] it would
    read the batch as time. ``encoder=poisson`` draws spikes from one static image, not frames.
    (``direct`` passes its input on unchanged, so it also takes frame sequences: SEW's DVS runs.)"""
    data, encoder = cfg.get("data"), cfg.get("encoder")
    if not (isinstance(data, DictConfig) and isinstance(encoder, DictConfig)):
        return
    name, sequence = encoder.get("name"), bool(data.get("sequence", False))
    if name == "frames" and not sequence:
        raise ConfigError(
            f"encoder=frames needs frame sequences, but data={data.get('name')} gives static images; "
            "use encoder=direct or encoder=poisson"
        )
    if name == "poisson" and sequence:
        raise ConfigError(
            f"encoder=poisson encodes static images, but data={data.get('name')} gives frame sequences "
            "[T, C, H, W]; use encoder=frames"
        )


# ------------------------------------------------------------------------------ no effect
def check_no_effect(cfg: DictConfig) -> None:
    """A key set to a value the run would ignore is refused (refusing costs one line; a key that
    silently does nothing makes a run look like it tested something it did not)."""
    trainer = cfg.get("trainer")
    if (
        isinstance(trainer, DictConfig)
        and not trainer.get("compile")
        and trainer.get("compile_scope", "model") != "model"
    ):
        raise ConfigError(
            f"trainer.compile_scope={trainer.compile_scope} has no effect without trainer.compile=true"
        )
    init = cfg.get("init")
    if isinstance(init, DictConfig) and init.get("from") in (None, ""):
        if init.get("skip"):
            raise ConfigError(
                f"init.skip={list(init.skip)} has no effect without init.from: "
                "set init.from=<the checkpoint to start from>"
            )
        if init.get("reinit", "auto") != "auto":
            raise ConfigError(
                f"init.reinit={init.reinit} has no effect without init.from: "
                "set init.from=<the checkpoint to start from>"
            )


def effective_on(cfg: DictConfig, device_type: str) -> dict[str, tuple[Any, str]]:
    """Keys whose value cannot take effect on ``device_type`` (a run on a CPU machine with a GPU
    config still works): ``{key: (the value the run uses, why)}``, for the run to say once and
    record. Refusing them would break a config shared between a laptop and a cluster."""
    trainer = cfg.get("trainer")
    out: dict[str, tuple[Any, str]] = {}
    if device_type != "cuda" and isinstance(trainer, DictConfig):
        if trainer.get("amp"):
            out["trainer.amp"] = (False, f"mixed precision is CUDA-only; this {device_type} run is fp32")
        if trainer.get("flexsn"):
            out["trainer.flexsn"] = (
                False,
                f"FlexSN's Triton scans are CUDA-only; {device_type} uses the loop",
            )
    return out


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


__all__ = ["DATA_FACTS", "as_config", "check_config", "check_relations", "effective_on"]
