"""Range and choice checks declared with :func:`snnexp.config.schema.rng`."""

from __future__ import annotations

import dataclasses

from omegaconf import DictConfig, ListConfig, OmegaConf

from snnexp.errors import ConfigError, choices_hint

_OPS = {
    "ge": (lambda v, b: v >= b, ">="),
    "gt": (lambda v, b: v > b, ">"),
    "le": (lambda v, b: v <= b, "<="),
    "lt": (lambda v, b: v < b, "<"),
}


def check_ranges(cfg: DictConfig, prefix: str = "") -> None:
    """Raise ConfigError for the first value outside its declared range or choices."""
    kind = OmegaConf.get_type(cfg)
    meta = {}
    if dataclasses.is_dataclass(kind):
        meta = {f.name: f.metadata for f in dataclasses.fields(kind) if f.metadata}
    for key in cfg.keys():
        full = f"{prefix}{key}"
        if full == "hydra":
            continue
        if OmegaConf.is_missing(cfg, key):
            continue
        node = cfg._get_node(key)
        if isinstance(node, DictConfig):
            check_ranges(node, full + ".")
            continue
        if key not in meta:
            continue
        value = cfg[key]
        if value is None:
            continue
        m = meta[key]
        if isinstance(node, ListConfig):
            if "length" in m and len(value) != m["length"]:
                raise ConfigError(f"{full}={list(value)!r} must have {m['length']} values")
            for i, v in enumerate(value):
                _check_value(f"{full}[{i}]", v, m)
        else:
            _check_value(full, value, m)


def _check_value(full: str, value, m: dict) -> None:
    if "choices" in m and value not in m["choices"]:
        raise ConfigError(f"{full}={value!r} is not allowed; {choices_hint(value, m['choices'])}")
    bounds = [(ok, b, f"{sym} {b}") for op, (ok, sym) in _OPS.items() if (b := m.get(op)) is not None]
    if not all(ok(value, b) for ok, b, _ in bounds):
        # every bound of the field, so "> 0.0 and < 1.0" reads as one rule, not the half that failed
        rule = " and ".join(text for _, _, text in bounds)
        raise ConfigError(f"{full}={value!r} is out of range: it must be {rule}")


def check_relations(cfg: DictConfig) -> None:
    """Checks between keys, and values a per-field range cannot express."""
    from snnexp.engine.threads import resolve_threads  # torch-free

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
