"""BPTT: the loss of the whole T-step forward is back-propagated through time, with the
surrogate gradient of the ``surrogate`` group at every spike (SEW Sec. 3, KEYS, TDBN)."""

from __future__ import annotations

from snnexp.methods.base import Method
from snnexp.registry import METHODS


@METHODS.register("bptt", paper="SEW")
class BPTT(Method):
    name = "bptt"

    def __init__(self) -> None:
        super().__init__()
