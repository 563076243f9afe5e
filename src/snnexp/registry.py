"""Decorator registries (timm style): one per concept, filled when the concept's package imports.

    MODELS = Registry("model")

    @MODELS.register("sew_resnet18", paper="SEW", help="SEW ResNet-18 (ImageNet)")
    def sew_resnet18(**kw): ...

``Registry.get`` on an unknown name raises a :class:`~snnexp.errors.ConfigError` that lists the
close matches. The registries themselves import nothing heavy; the modules that register into them
import torch, so ``snnexp list`` reads names from the config tree instead (see ``commands/list``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from snnexp.errors import ConfigError, choices_hint


@dataclass(frozen=True)
class Entry:
    name: str
    fn: Callable[..., Any]
    help: str
    paper: str


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str | None = None, *, help: str = "", paper: str = ""):
        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            key = name or fn.__name__
            if key in self._entries:
                raise KeyError(f"{self.kind} {key!r} is registered twice")
            text = help or ((fn.__doc__ or "").strip().splitlines() or [""])[0]
            self._entries[key] = Entry(key, fn, text, paper)
            return fn

        return deco

    def get(self, name: str) -> Callable[..., Any]:
        try:
            return self._entries[name].fn
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}; {choices_hint(name, self._entries)}") from None

    def entry(self, name: str) -> Entry:
        self.get(name)
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[k] for k in self.names())

    def __len__(self) -> int:
        return len(self._entries)


MODELS = Registry("model")
BLOCKS = Registry("block")
NEURONS = Registry("neuron")
SURROGATES = Registry("surrogate")
NORMS = Registry("norm")
ENCODERS = Registry("encoder")
READOUTS = Registry("readout")
DATASETS = Registry("dataset")
STEPS = Registry("trainer step")
LOGGERS = Registry("logger")
