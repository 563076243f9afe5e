"""Folding normalisation into the preceding conv/linear layer for inference (TDBN Eq. 9-10).

With the running statistics mu, sigma^2 of a tdBN (weight lambda, bias beta, scale alpha V_th)
after a conv (W, B), per output channel k::

    W'_k = lambda_k alpha V_th W_k / sqrt(sigma_k^2 + eps)
    B'_k = lambda_k alpha V_th (B_k - mu_k) / sqrt(sigma_k^2 + eps) + beta_k

Plain BN is the same with alpha V_th = 1 and (gamma, beta) for (lambda, beta). The folded network
runs spikes through W', B' only ("full-spiking" inference, no BN left).

``fold_tdbn`` replaces a conv/linear layer whose output feeds a foldable norm by the folded layer,
and the norm by ``nn.Identity``. The pairs come from the structure (neighbours in an
``nn.Sequential``; ``conv<k>``/``bn<k>`` children as in this package's blocks) or, given an
example input, from the data flow of one forward pass. Norms that cannot be folded (BNTT: one BN
per step; a norm not fed by a conv, e.g. a pre-activation BN; a BN without running statistics)
stay and are reported (a warning, or an error with ``strict=True``).
"""

from __future__ import annotations

import copy
import re
import warnings

import torch
from spikingjelly.activation_based import base, functional
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

from snnexp.analysis.hooks import hooks_attached

__all__ = ["fold_tdbn", "fold_pair", "norm_affine", "pairs_by_structure", "pairs_by_dataflow"]


def _is_foldable_layer(m: nn.Module) -> bool:
    return (isinstance(m, _ConvNd) and not m.transposed) or isinstance(m, nn.Linear)


def _is_norm(m: nn.Module) -> bool:
    return isinstance(m, _BatchNorm) or getattr(m, "per_step", False)


def norm_affine(norm: _BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """The eval-mode map of ``norm`` as y = a * x + b per channel: (a, b)."""
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError(f"{type(norm).__name__} has no running statistics to fold")
    inv_std = torch.rsqrt(norm.running_var.double() + norm.eps)
    gamma = norm.weight.double() if norm.weight is not None else torch.ones_like(inv_std)
    scale = getattr(norm, "scale", None)  # tdBN: alpha V_th (snnexp.norms.tdbn)
    if scale is not None:
        gamma = gamma * scale.double()
    beta = norm.bias.double() if norm.bias is not None else torch.zeros_like(inv_std)
    a = gamma * inv_std
    return a, beta - a * norm.running_mean.double()


@torch.no_grad()
def fold_pair(layer: nn.Module, norm: _BatchNorm) -> nn.Module:
    """A copy of ``layer`` (conv or linear) with ``norm`` folded into its weight and bias."""
    a, b = norm_affine(norm)
    folded = copy.deepcopy(layer)
    w = layer.weight.double()
    out_ch = w.shape[0]
    if a.numel() != out_ch:
        raise ValueError(f"cannot fold a {a.numel()}-channel norm into a layer with {out_ch} outputs")
    w_new = w * a.view(-1, *([1] * (w.dim() - 1)))
    bias = layer.bias.double() if layer.bias is not None else torch.zeros_like(a)
    b_new = a * bias + b  # = a (B - mu) + beta
    folded.weight = nn.Parameter(w_new.to(layer.weight.dtype), requires_grad=layer.weight.requires_grad)
    folded.bias = nn.Parameter(b_new.to(layer.weight.dtype))
    return folded


def _copy_without_state(model: nn.Module) -> nn.Module:
    """deepcopy, with the neurons' states (tensors that may carry a graph) set to their reset
    values in the copy; the original keeps its state."""
    saved = []
    for m in model.modules():
        if isinstance(m, base.MemoryModule):
            saved.append((m, dict(m._memories)))
            for k in m._memories:
                m._memories[k] = copy.deepcopy(m._memories_rv[k])
    try:
        return copy.deepcopy(model)
    finally:
        for m, mem in saved:
            m._memories.update(mem)


_LAYER_NAME = re.compile(r"^(conv|fc|linear)(.*)$")
_NORM_NAME = re.compile(r"^(bn|norm|tdbn)(.*)$")

Pair = tuple[nn.Module, str, str]  # (parent, layer child name, norm child name)


def _foldable(layer: nn.Module, norm: nn.Module) -> bool:
    return (
        _is_foldable_layer(layer)
        and isinstance(norm, _BatchNorm)
        and norm.track_running_stats
        and norm.running_mean is not None
        and norm.num_features == layer.weight.shape[0]
    )


def pairs_by_structure(model: nn.Module) -> list[Pair]:
    """(layer, norm) pairs known from the structure alone: neighbours in an ``nn.Sequential``, and
    children named like torchvision's ResNets, ``conv<k>`` followed by ``bn<k>`` (same suffix)."""
    pairs: list[Pair] = []
    for parent in model.modules():
        names = list(parent._modules)
        if isinstance(parent, nn.Sequential):
            cands = list(zip(names, names[1:], strict=False))
        else:
            cands = []
            for n in names:
                m = _LAYER_NAME.match(n)
                if m:
                    cands += [
                        (n, o) for o in names if (k := _NORM_NAME.match(o)) and k.group(2) == m.group(2)
                    ]
        for a, b in cands:
            if _foldable(parent._modules[a], parent._modules[b]):
                pairs.append((parent, a, b))
    return pairs


def pairs_by_dataflow(model: nn.Module, example_input) -> list[Pair]:
    """(layer, norm) pairs where the norm's input is the very tensor the layer returned, found by
    running ``example_input`` through ``model`` (eval mode, no grad) with hooks."""
    where = {id(m): (parent, name) for parent in model.modules() for name, m in parent._modules.items()}
    produced: dict[int, nn.Module] = {}
    keep: list[torch.Tensor] = []  # hold the outputs so their ids stay unique during the pass
    found: list[tuple[nn.Module, nn.Module]] = []

    def on_layer(mod, inp, out):
        if isinstance(out, torch.Tensor):
            produced[id(out)] = mod
            keep.append(out)

    def on_norm(mod, inp):
        x = inp[0] if inp else None
        if isinstance(x, torch.Tensor) and id(x) in produced:
            found.append((produced[id(x)], mod))

    hooks = []
    for m in model.modules():
        if _is_foldable_layer(m):
            hooks.append(m.register_forward_hook(on_layer))
        elif isinstance(m, _BatchNorm):
            hooks.append(m.register_forward_pre_hook(on_norm))
    with hooks_attached(model, hooks), torch.no_grad():
        model(example_input)
    pairs: list[Pair] = []
    for layer, norm in found:
        (p1, a), (p2, b) = where.get(id(layer), (None, None)), where.get(id(norm), (None, None))
        if p1 is not None and p1 is p2 and _foldable(layer, norm):
            pairs.append((p1, a, b))
    return pairs


def fold_tdbn(model: nn.Module, *, example_input=None, strict: bool = False) -> nn.Module:
    """A BN-free copy of ``model`` whose outputs equal ``model.eval()``'s (TDBN Eq. 9-10).

    Every tdBN/BN fed directly by a conv or linear layer is folded into it and replaced by
    ``nn.Identity``. Without ``example_input`` the pairs come from the structure (neighbours in
    an ``nn.Sequential``; ``conv<k>``/``bn<k>`` children, the naming of this package's blocks);
    with it, from the data flow of one forward pass, and the folded copy is checked against the
    original on that input. The copy is returned in eval mode; ``model`` is unchanged.
    Norms left over (BNTT, a pre-activation BN, ...) give a warning, or an error with ``strict``.
    """
    folded = _copy_without_state(model)
    folded.eval()
    if example_input is None:
        pairs = pairs_by_structure(folded)
    else:
        pairs = pairs_by_dataflow(folded, example_input)
    seen: set[int] = set()
    for parent, a, b in pairs:
        layer, norm = parent._modules[a], parent._modules[b]
        if id(layer) in seen or id(norm) in seen:
            continue
        seen.update((id(layer), id(norm)))
        parent._modules[a] = fold_pair(layer, norm)
        parent._modules[b] = nn.Identity()
    left = [name for name, m in folded.named_modules() if _is_norm(m)]
    left = [n for n in left if not any(n.startswith(o + ".") for o in left)]  # outermost only
    if left:
        msg = (
            f"fold_tdbn: {len(left)} norm(s) not folded (not fed directly by a conv/linear "
            f"layer, per-step, or without running statistics): {', '.join(left[:5])}"
            + (" ..." if len(left) > 5 else "")
        )
        if strict:
            raise ValueError(msg)
        warnings.warn(msg, stacklevel=2)
    if example_input is not None:
        was = model.training
        model.eval()
        try:
            with torch.no_grad():
                ref, out = model(example_input), folded(example_input)
        finally:
            functional.reset_net(model)
            functional.reset_net(folded)
            model.train(was)
        if not torch.allclose(ref, out, rtol=1e-4, atol=1e-4):
            raise RuntimeError(
                f"fold_tdbn: folded model differs from the original by {(ref - out).abs().max().item():.3g}"
            )
    folded.folded_norms = len(seen) // 2
    return folded
