"""`Parts`: what a model builder gets besides its own hyper-parameters.

A model file asks ``parts.neuron()``, ``parts.norm(channels)``, ``parts.block(...)`` and
``parts.readout(...)`` instead of naming a class, so that ``neuron=plif norm=tdbn block=sew_iand``
on the command line changes every layer of every model that uses the generic slots. Each call
builds a fresh module from the composed config groups; the constants come from ``conf/``.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch import nn

from snnexp import registry as R
from snnexp.errors import ConfigError, choices_hint


def _kwargs(node: DictConfig | dict | None, drop: tuple[str, ...] = ("name",)) -> dict[str, Any]:
    if node is None:
        return {}
    d = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
    return {k: v for k, v in d.items() if k not in drop and not k.startswith("_")}


def check_kwargs(fn, kw: dict[str, Any], what: str, skip: int = 0) -> None:
    """The builder's signature is the schema of an open group's option: a key it does not take is
    a typo (say which keys it does take), a value of the wrong type is refused by name."""
    params = list(inspect.signature(fn).parameters.values())[skip:]
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        names = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        unknown = sorted(set(kw) - set(names))
        if unknown:
            hint = choices_hint(unknown[0], names) if names else "it takes none"
            raise ConfigError(f"{what} has no parameter {unknown[0]!r}; {hint}")
    # a key the builder needs and the option's YAML does not set (a user's --config-dir file)
    missing = [
        p.name for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty and p.name not in kw
    ]
    if missing:
        raise ConfigError(
            f"{what} needs {', '.join(missing)}: set it in its YAML or as {what.split()[0]}.{missing[0]}=..."
        )
    try:
        hints = typing.get_type_hints(fn.__init__ if inspect.isclass(fn) else fn)
    except Exception:  # an annotation that cannot be evaluated: nothing to check against
        return
    for key, value in kw.items():
        if key in hints and not _fits(value, hints[key]):
            raise ConfigError(f"{what}: {key}={value!r} is not allowed; it must be {_type_name(hints[key])}")


def _fits(value: Any, hint: Any) -> bool:
    """Whether a config value fits a builder's annotation (plain types, Optional/unions, lists)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint in (list, tuple) or origin in (list, tuple):
        return isinstance(value, list | tuple)
    return True  # modules, callables, dicts: not checked here


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(h) for h in typing.get_args(hint))
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))


class Parts:
    def __init__(self, cfg: DictConfig):
        _import_builtin_parts()
        self.cfg = cfg
        self.T: int = int(cfg.T)
        self.neuron_cfg = cfg.neuron
        self.surrogate_cfg = cfg.surrogate
        self.norm_cfg = cfg.norm
        self.block_cfg = cfg.get("block")
        self.encoder_cfg = cfg.encoder
        # parameters that several layers of one model share (e.g. ``neuron.shared=true``: one
        # PLIF leak for the whole model, KEYS Table 10); filled by the builders that ask for it
        self.shared: dict[str, Any] = {}
        # set by a model whose body passes (spikes, input current) pairs between its blocks (KEYS
        # S-ResNet), which a V2V block needs; other models pass spikes only
        self.passes_current = False

    @property
    def v_threshold(self) -> float:
        # a unit without a threshold (null) leaves threshold-scaled norms (tdBN) at alpha
        th = self.neuron_cfg.get("v_threshold")
        return 1.0 if th is None else float(th)

    @staticmethod
    def _call(registry: R.Registry, name: str, *args: Any, **kw: Any) -> nn.Module:
        """Build ``name`` from ``registry``; a config key its builder does not take (a typo in a
        YAML file or override) becomes a one-line ConfigError instead of a TypeError."""
        fn = registry.get(name)
        check_kwargs(fn, kw, f"{registry.kind} {name!r}", skip=len(args))
        return fn(*args, **kw)

    def surrogate(self) -> nn.Module:
        return self._call(R.SURROGATES, self.surrogate_cfg.name, **_kwargs(self.surrogate_cfg))

    def neuron(self, **overrides: Any) -> nn.Module:
        """A fresh multi-step spiking neuron layer ([T, B, ...] in and out)."""
        kw = _kwargs(self.neuron_cfg) | overrides
        fn = R.NEURONS.get(self.neuron_cfg.name)
        params = inspect.signature(fn).parameters
        if "shared_store" in params:
            kw.setdefault("shared_store", self.shared)
        if "surrogate" in params:  # a unit that does not spike (relu) takes none
            kw["surrogate"] = self.surrogate()
        return self._call(R.NEURONS, self.neuron_cfg.name, **kw)

    def norm(self, channels: int, *, residual: bool = False, dims: int = 2) -> nn.Module:
        """A multi-step normalisation over ``channels``. ``residual=True`` marks a norm whose
        output meets another branch in an addition (last norm of a residual branch, shortcut
        norm): tdBN then uses its ``residual_alpha`` (1/sqrt(2), TDBN Fig. 5b); others ignore it."""
        kw = _kwargs(self.norm_cfg)
        return self._call(
            R.NORMS,
            self.norm_cfg.name,
            channels,
            residual=residual,
            v_threshold=self.v_threshold,
            T=self.T,
            dims=dims,
            **kw,
        )

    def block(self, in_channels: int, channels: int, *, stride: int = 1, **kw: Any) -> nn.Module:
        """A residual block of the configured type (``block=sew_add|...``)."""
        bcfg = _kwargs(self.block_cfg)
        return self._call(
            R.BLOCKS, self.block_cfg.name, self, in_channels, channels, stride=stride, **(bcfg | kw)
        )

    def encoder(self) -> nn.Module:
        return self._call(R.ENCODERS, self.encoder_cfg.name, T=self.T, **_kwargs(self.encoder_cfg))

    def readout(self, name: str, in_features: int, num_classes: int, **kw: Any) -> nn.Module:
        return self._call(R.READOUTS, name, self, in_features, num_classes, **kw)


def _import_builtin_parts() -> None:
    """Fill the registries (the modules register themselves when imported)."""
    R.load_builtin()
