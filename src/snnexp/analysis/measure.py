"""Per-block firing rates and gradient norms of a model (SEW Figs. 4-8, S2).

- Firing rates (Fig. 4, 5, S2): the mean over neurons, time steps and samples of A^l = SN(F(S^l))
  (the residual branch's spikes, or the last SN of a Spiking ResNet block) and of the block output
  O^l (for g=ADD not binary: then it is the mean value, as the paper says), and of the input S^l.
- Gradient norms (Figs. 6-8): ||dL/dS^l|| of the cross-entropy loss of a batch with respect to the
  input S^l of each block, at initialization (with and without zero init; V_th and the surrogate's
  alpha are the usual overrides ``neuron.v_threshold=0.5``, ``surrogate.alpha=3``) or of a
  checkpoint.

:func:`analyze` builds the variants (block types x zero init, all from the same seed, so that they
start from the same weights wherever the shapes agree), runs them on the same batches and returns
a JSON-able dict.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn

from snnexp.analysis.hooks import BlockRecorder
from snnexp.build import build_model
from snnexp.engine.device import pick_device, to_time_major
from snnexp.errors import ConfigError

BLOCK_LABEL = {
    "sew_add": "SEW ADD",
    "sew_and": "SEW AND",
    "sew_iand": "SEW IAND",
    "spiking": "Spiking ResNet",
    "plain": "Plain",
}
WHAT = ("firing", "gradients")


def _reset(model: nn.Module) -> None:
    from spikingjelly.activation_based import functional

    functional.reset_net(model)


def collect_batches(
    cfg: DictConfig, split: str = "test", n: int = 1
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``n`` batches of ``split`` (the same for every variant)."""
    from snnexp.data import build_data

    if split not in ("train", "test"):
        raise ConfigError(f"split={split!r}; choose train or test")
    train, test = build_data(cfg)
    loader = train if split == "train" else test
    out = []
    for x, y in loader:
        out.append((to_time_major(x), y))
        if len(out) >= n:
            break
    if not out:
        raise ConfigError(f"the {split} split of data={cfg.data.name} yields no batch")
    return out


def measure(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    grads: bool,
    train_mode: bool = True,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Run ``model`` on ``batches``; per block: rates of S^l, A^l, O^l and (``grads``) the mean over
    batches of ||dL/dS^l||. ``train_mode``: batch-statistics norms (a network at initialization)."""
    model.to(device)
    model.train(train_mode)
    losses, correct, seen = [], 0, 0
    with BlockRecorder(model, grads=grads) as rec:
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            _reset(model)
            with torch.set_grad_enabled(grads):
                logits = model(x)
                loss = nn.functional.cross_entropy(logits.float(), y)
                if grads:
                    model.zero_grad(set_to_none=True)
                    loss.backward()
            losses.append(float(loss.detach()))
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += int(y.numel())
            _reset(model)
    if grads:
        model.zero_grad(set_to_none=True)
    return {
        "blocks": rec.results(),
        "loss": sum(losses) / len(losses),
        "acc1": 100.0 * correct / max(seen, 1),
    }


def variant_config(cfg: DictConfig, block: str | None = None, zero_init: bool | None = None) -> DictConfig:
    """``cfg`` with another block type and/or zero init (a resolved copy)."""
    c = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    with open_dict(c):
        if block is not None:
            c.block.name = block
        if zero_init is not None:
            c.block.zero_init = bool(zero_init)
    return c


def variant_label(block: str, zero_init: bool | None) -> str:
    label = BLOCK_LABEL.get(block, block)
    if zero_init is None:
        return label
    return f"{label} (zero init)" if zero_init else label


def _fresh_variants(
    cfg: DictConfig,
    data: list[tuple[torch.Tensor, torch.Tensor]],
    blocks: Sequence[str] | None,
    zero_init_compare: bool,
    **measure_kw: Any,
) -> list[dict[str, Any]]:
    """Fresh models of ``cfg``, one per block type and zero-init setting, each measured on ``data``;
    every one is built from the same seed, so they share the weights wherever the shapes agree."""
    names = list(blocks) if blocks else [str(cfg.block.name)]
    inits = [False, True] if zero_init_compare else [bool(cfg.block.get("zero_init", False))]
    variants = []
    for b in names:
        for z in inits:
            if b == "plain" and z and len(inits) > 1:
                continue
            torch.manual_seed(int(cfg.get("seed", 0)))
            m = build_model(variant_config(cfg, b, z))
            res = measure(m, data, **measure_kw)
            variants.append(
                {
                    "label": variant_label(b, z if len(inits) > 1 or z else None),
                    "block": b,
                    "zero_init": z,
                    **res,
                }
            )
            del m
    return variants


def analyze(
    cfg: DictConfig,
    *,
    what: str = "firing",
    blocks: Sequence[str] | None = None,
    zero_init_compare: bool = True,
    n_batches: int = 1,
    split: str = "test",
    model: nn.Module | None = None,
    bn_mode: str = "auto",
    source: str = "init",
) -> dict[str, Any]:
    """Firing rates (``what='firing'``) or gradient norms and firing rates (``'gradients'``) per block.

    ``model`` given (a trained checkpoint): that model alone. Else fresh models of ``cfg`` for each
    block type in ``blocks`` (default: ``cfg.block.name``), with and without zero init when
    ``zero_init_compare`` (the plain block has no zero-init variant: it would silence every block).
    """
    if what not in WHAT:
        raise ConfigError(f"what={what!r}; choose firing, gradients or energy")
    if bn_mode not in ("auto", "train", "eval"):
        raise ConfigError(f"bn_mode={bn_mode!r}; choose auto, train or eval")
    if int(n_batches) < 1:
        raise ConfigError(f"batches={n_batches} must be >= 1")
    grads = what == "gradients"
    device = pick_device(str(cfg.get("device", "auto")))
    data = collect_batches(cfg, split, int(n_batches))
    train_mode = bn_mode == "train" or (bn_mode == "auto" and model is None)
    variants = []
    if model is not None:
        res = measure(model, data, grads=grads, train_mode=train_mode, device=device)
        variants.append(
            {
                "label": variant_label(str(cfg.block.name), None) + " (trained)",
                "block": str(cfg.block.name),
                "zero_init": bool(cfg.block.get("zero_init", False)),
                **res,
            }
        )
    else:
        variants = _fresh_variants(
            cfg, data, blocks, zero_init_compare, grads=grads, train_mode=train_mode, device=device
        )
    return {
        "what": what,
        "source": source,
        "model": str(cfg.model.name),
        "data": str(cfg.data.name),
        "split": split,
        "batches": len(data),
        "batch_size": int(data[0][1].numel()),
        "T": int(cfg.T),
        "neuron": {k: v for k, v in OmegaConf.to_container(cfg.neuron, resolve=True).items()},
        "surrogate": {k: v for k, v in OmegaConf.to_container(cfg.surrogate, resolve=True).items()},
        "bn_mode": "train" if train_mode else "eval",
        "variants": copy.deepcopy(variants),
    }


__all__ = ["BLOCK_LABEL", "analyze", "collect_batches", "measure", "variant_config", "variant_label"]
