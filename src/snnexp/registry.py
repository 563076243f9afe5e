"""Decorator registries (timm style): one per concept, filled when the concept's modules import.

    MODELS = Registry("model")

    @MODELS.register("sew_resnet18", paper="SEW")
    def sew_resnet18(parts, **kw): ...

An entry may carry ``traits``: what its module declares about it beyond the builder (a neuron's
fast paths, its test-sized configurations; :class:`snnexp.neurons.traits.NeuronTraits`), so that
code and tests that ask "which neurons have X" read it where the neuron is defined instead of
keeping a list of names. ``Registry.names(where)`` filters by them.

``Registry.get`` on an unknown name raises a :class:`~snnexp.errors.ConfigError` that lists the
close matches. The registries themselves import nothing heavy; the modules that register into them
import torch, so ``snnexp list`` reads names from the config tree instead (see ``commands/list``),
and a test checks that every registry's names equal its config group's options. An option is
described once, by the first comment line of its YAML (what ``snnexp list`` prints); an entry holds
the builder and the paper it comes from.

Every module of the packages in :data:`BUILTIN` is imported by :func:`load_builtin` (and data sets
by :func:`discover` of ``snnexp.data``): a new file that registers something is found without a
second import list.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from snnexp.errors import ConfigError, choices_hint
from snnexp.neurons.traits import NeuronTraits


@dataclass(frozen=True)
class Entry:
    name: str
    fn: Callable[..., Any]
    paper: str
    traits: Any = None  # the registry's declared facts about the entry (Registry(traits=...))


class Registry:
    def __init__(self, kind: str, *, traits: Any = None):
        """``traits``: the traits of an entry registered without any (e.g. ``NeuronTraits()``);
        an entry's own must be of the same type."""
        self.kind = kind
        self._default_traits = traits
        self._entries: dict[str, Entry] = {}

    def register(self, name: str | None = None, *, paper: str = "", traits: Any = None):
        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            key = name or fn.__name__
            if key in self._entries:
                raise KeyError(f"{self.kind} {key!r} is registered twice")
            self._entries[key] = Entry(key, fn, paper, self._checked_traits(key, traits))
            return fn

        return deco

    def _checked_traits(self, key: str, traits: Any) -> Any:
        """Every entry's traits of one type, so that a filter (``names(where)``) can read any
        entry's; a registry made without a default takes none."""
        if traits is None:
            return self._default_traits
        if self._default_traits is None or type(traits) is not type(self._default_traits):
            want = type(self._default_traits).__name__ if self._default_traits is not None else "none"
            raise TypeError(f"{self.kind} {key!r}: traits must be {want}, got {type(traits).__name__}")
        return traits

    def variant(
        self,
        name: str,
        builder: Callable[..., Any],
        /,
        *,
        paper: str = "",
        traits: Any = None,
        **bound: Any,
    ):
        """Register ``name`` as ``builder`` with the keyword arguments ``bound`` fixed (timm's
        named variants over one configurable builder): ``MODELS.variant("sew_resnet18",
        sew_resnet, depth=18, ...)``. The config schema is the builder's signature without them,
        so a YAML file cannot set ``depth`` of a model named for its depth."""
        sig = inspect.signature(builder)
        unknown = sorted(set(bound) - set(sig.parameters))
        if unknown:
            raise TypeError(f"{self.kind} {name!r}: {builder.__name__} takes no {unknown[0]!r}")
        target = builder.__init__ if inspect.isclass(builder) else builder
        hints = typing.get_type_hints(target)

        def build(*args: Any, **kw: Any) -> Any:
            return builder(*args, **bound, **kw)

        build.__signature__ = sig.replace(
            parameters=[p for p in sig.parameters.values() if p.name not in bound]
        )
        build.__annotations__ = {k: v for k, v in hints.items() if k not in bound}
        build.__name__ = build.__qualname__ = name
        build.__module__, build.__doc__ = builder.__module__, builder.__doc__
        return self.register(name, paper=paper, traits=traits)(build)

    def get(self, name: str) -> Callable[..., Any]:
        try:
            return self._entries[name].fn
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}; {choices_hint(name, self._entries)}") from None

    def entry(self, name: str) -> Entry:
        self.get(name)
        return self._entries[name]

    def traits(self, name: str) -> Any:
        return self.entry(name).traits

    def names(self, where: Callable[[Any], bool] | None = None) -> list[str]:
        """The names, sorted; with ``where``, those whose traits it accepts
        (``NEURONS.names(lambda t: t.flexsn)``)."""
        return sorted(k for k, e in self._entries.items() if where is None or where(e.traits))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[k] for k in self.names())

    def __len__(self) -> int:
        return len(self._entries)


@cache
def discover(package: str) -> None:
    """Import every module of ``package`` and of its sub-packages (names starting with ``_``
    excepted), so that the entries they register are there."""
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            importlib.import_module(info.name)


# where the built-in entries live; a package is searched whole
BUILTIN = (
    "snnexp.blocks",
    "snnexp.models",
    "snnexp.neurons",
    "snnexp.norms",
    "snnexp.surrogates",
    "snnexp.encoders",
    "snnexp.readouts",
    "snnexp.data",
    "snnexp.methods",
    "snnexp.engine.optim",
    "snnexp.engine.schedule",
    "snnexp.loggers",
)


def load_builtin() -> None:
    """Fill every registry (this imports torch: call it where a registry is about to be used)."""
    for name in BUILTIN:
        module = importlib.import_module(name)
        if hasattr(module, "__path__"):
            discover(name)


MODELS = Registry("model")
BLOCKS = Registry("block")
NEURONS = Registry("neuron", traits=NeuronTraits())
SURROGATES = Registry("surrogate")
NORMS = Registry("norm")
ENCODERS = Registry("encoder")
READOUTS = Registry("readout")
DATASETS = Registry("data")
METHODS = Registry("method")
OPTIMIZERS = Registry("optim")
SCHEDULES = Registry("sched")
LOGGERS = Registry("logger")

# config group -> its registry (a registry's kind is its group's name; readouts are chosen by a
# model key, not a group)
GROUPS = {
    r.kind: r
    for r in (
        DATASETS,
        MODELS,
        BLOCKS,
        NEURONS,
        SURROGATES,
        NORMS,
        ENCODERS,
        METHODS,
        OPTIMIZERS,
        SCHEDULES,
        LOGGERS,
    )
}
