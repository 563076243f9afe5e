"""Finding the residual blocks of a model and recording, per block, the spikes of its input S^l,
of its residual branch A^l = SN(F(S^l)) and of its output O^l, and the gradient dL/dS^l.

The blocks of ``snnexp.blocks`` (``ResidualBlock``) expose stable attributes that this relies on:

- ``last_neuron``: the block's last SN. Its output is A^l = SN(F(S^l)) for the SEW blocks
  (ADD/AND/IAND) and O^l = A^l for the plain block; for the Spiking ResNet block it is the SN after
  the addition, O^l = SN(F(S^l) + S^l), which SEW Fig. 5b also plots as A^l ("the output of the
  last SN in the l-th block");
- ``downsample``: None for an identity shortcut, else the downsample path (Conv-BN[-SN]);
- ``kind`` (sew|spiking|plain) and ``connect`` (add|and|iand|None), for labels.

Any module with a ``last_neuron`` is treated as a block (older names are accepted too:
``branch_sn``, or ``out_sn`` for the Spiking ResNet block, and ``shortcut``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn


@contextlib.contextmanager
def hooks_attached(model: nn.Module, handles: list) -> Iterator[None]:
    """Run forwards with ``handles`` (hooks already registered on ``model``'s modules) attached;
    after them, whatever happened, the hooks are removed and the neurons reset, so the model
    leaves exactly as it came (an observation must not change the next forward)."""
    from spikingjelly.activation_based import functional

    try:
        yield
    finally:
        for h in handles:
            h.remove()
        functional.reset_net(model)


def last_sn(block: nn.Module) -> nn.Module | None:
    """The SN whose output is A^l: ``last_neuron``, else ``branch_sn``, else ``out_sn``."""
    for attr in ("last_neuron", "branch_sn", "out_sn"):
        sn = getattr(block, attr, None)
        if sn is not None:
            return sn
    return None


def is_block(m: nn.Module) -> bool:
    return (
        isinstance(m, nn.Module)
        and last_sn(m) is not None
        and any(hasattr(m, a) for a in ("last_neuron", "branch", "downsample", "shortcut"))
    )


def shortcut_path(block: nn.Module) -> nn.Module | None:
    for attr in ("downsample", "shortcut"):
        sc = getattr(block, attr, None)
        if isinstance(sc, nn.Module):
            return sc
    return None


def find_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, block) of every residual block, outermost only, in registration order (which is the
    forward order of the sequential bodies of snnexp's models)."""
    out: list[tuple[str, nn.Module]] = []
    for name, m in model.named_modules():
        if is_block(m) and not any(name.startswith(n + ".") for n, _ in out):
            out.append((name, m))
    return out


def block_kind(block: nn.Module) -> str:
    """'sew/add', 'spiking', 'plain' ... from the block's ``kind``/``connect``, else its class name."""
    kind, connect = getattr(block, "kind", None), getattr(block, "connect", None)
    if kind is None:
        return type(block).__name__
    return f"{kind}/{connect}" if connect else str(kind)


@dataclass
class BlockStats:
    index: int
    name: str
    kind: str
    sums: dict[str, float] = field(default_factory=lambda: {"S": 0.0, "A": 0.0, "O": 0.0})
    counts: dict[str, int] = field(default_factory=lambda: {"S": 0, "A": 0, "O": 0})
    in_shape: list[int] | None = None  # [C, H, W] of S^l (without T and batch)
    out_shape: list[int] | None = None  # [C, H, W] of O^l
    has_shortcut_path: bool = False
    grad_norms: list[float] = field(default_factory=list)  # ||dL/dS^l|| per batch

    def add(self, what: str, t: torch.Tensor) -> None:
        t = t.detach()
        self.sums[what] += float(t.double().sum())
        self.counts[what] += t.numel()

    def rate(self, what: str) -> float | None:
        n = self.counts[what]
        return self.sums[what] / n if n else None

    @property
    def downsample(self) -> bool:
        """A block whose shortcut is not the identity (stride or channel change)."""
        shape_change = (
            self.in_shape is not None and self.out_shape is not None and self.in_shape != self.out_shape
        )
        return self.has_shortcut_path or shape_change

    def as_dict(self) -> dict:
        g = self.grad_norms
        return {
            "index": self.index,
            "name": self.name,
            "kind": self.kind,
            "downsample": self.downsample,
            "in_shape": self.in_shape,
            "out_shape": self.out_shape,
            "rate_S": self.rate("S"),
            "rate_A": self.rate("A"),
            "rate_O": self.rate("O"),
            "grad_norm": (sum(g) / len(g)) if g else None,
        }


class BlockRecorder:
    """Context manager: hooks every block of ``model``; ``grads=True`` also records ||dL/dS^l||
    (call ``loss.backward()`` inside the context). Tensors are ``[T, B, C, H, W]``."""

    def __init__(self, model: nn.Module, grads: bool = False):
        self.model, self.grads = model, grads
        self.blocks = find_blocks(model)
        if not self.blocks:
            from snnexp.errors import ConfigError

            raise ConfigError(
                f"{type(model).__name__} has no residual blocks to analyse (modules with a "
                "'last_neuron', as snnexp.blocks builds them)"
            )
        self.stats = [
            BlockStats(i, name, block_kind(b), has_shortcut_path=shortcut_path(b) is not None)
            for i, (name, b) in enumerate(self.blocks)
        ]
        self._handles: list = []

    def __enter__(self) -> BlockRecorder:
        for st, (_, block) in zip(self.stats, self.blocks, strict=True):
            self._handles.append(block.register_forward_pre_hook(self._pre(st)))
            self._handles.append(block.register_forward_hook(self._post(st)))
            self._handles.append(last_sn(block).register_forward_hook(self._sn(st)))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _pre(self, st: BlockStats):
        def hook(module, args):
            s = args[0]
            st.add("S", s)
            st.in_shape = list(s.shape[2:]) if s.dim() >= 3 else list(s.shape[1:])
            if self.grads and s.requires_grad:
                s.register_hook(lambda g: st.grad_norms.append(float(g.detach().double().norm())))

        return hook

    def _post(self, st: BlockStats):
        def hook(module, args, out):
            st.add("O", out)
            st.out_shape = list(out.shape[2:]) if out.dim() >= 3 else list(out.shape[1:])

        return hook

    def _sn(self, st: BlockStats):
        def hook(module, args, out):
            st.add("A", out)

        return hook

    def results(self) -> list[dict]:
        return [s.as_dict() for s in self.stats]
