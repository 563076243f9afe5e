"""snnexp summary [overrides] [--json]: parameter count and a per-layer table of the model that
``snnexp train`` would build from the same overrides (one forward pass of a single sample)."""

from __future__ import annotations

import json

CONFIG_NAME = "summary"
FLAGS = {"--json"}


def example_input(cfg):
    """One sample of the shape the data set yields: static [1, C, H, W] or frames [T, 1, C, H, W]."""
    import torch

    d = cfg.data
    shape = (1, int(d.in_channels), int(d.image_size), int(d.image_size))
    if d.get("sequence", False):
        return torch.zeros((int(cfg.T), *shape))
    return torch.zeros(shape)


def layer_table(model, x) -> list[dict]:
    """name, type, output shape and own parameter count of every leaf module, in call order."""
    import torch
    from spikingjelly.activation_based import functional
    from spikingjelly.activation_based.base import MemoryModule

    rows, hooks = [], []
    for name, m in model.named_modules():
        # neurons hold their surrogate as a child module, so "leaf" alone would skip them
        if name and (
            not list(m.children()) or isinstance(m, MemoryModule) or type(m).__name__ == "SeqToANNContainer"
        ):

            def hook(mod, inp, out, name=name):
                if isinstance(out, torch.Tensor) and not any(r["name"] == name for r in rows):
                    rows.append(
                        {
                            "name": name,
                            "type": type(mod).__name__,
                            "output": list(out.shape),
                            "params": sum(p.numel() for p in mod.parameters()),
                        }
                    )

            hooks.append(m.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        model(x)
    functional.reset_net(model)
    for h in hooks:
        h.remove()
    return [r for r in rows if not any(o["name"].startswith(r["name"] + ".") for o in rows)]


def neuron_paths(cfg, model) -> dict[str, list[dict]]:
    """The path each neuron layer type takes on CUDA (under trainer.amp's dtype) and on CPU,
    with trainer.compile and trainer.flexsn as configured (engine/fastpath.py)."""
    from dataclasses import asdict

    from snnexp.engine import fastpath

    compiled, flexsn = bool(cfg.trainer.compile), bool(cfg.trainer.get("flexsn", False))
    return {
        dev: [
            asdict(r)
            for r in fastpath.layer_paths(
                model, device=dev, dtype=fastpath.amp_dtype(cfg, dev), compiled=compiled, flexsn=flexsn
            )
        ]
        for dev in ("cuda", "cpu")
    }


def task(cfg, flags: set[str]) -> None:
    from snnexp.build import build_model
    from snnexp.engine.fastpath import LayerPath

    model = build_model(cfg)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    rows = layer_table(model, example_input(cfg))
    info = {
        "model": cfg.model.name,
        "block": cfg.block.name,
        "neuron": cfg.neuron.name,
        "norm": cfg.norm.name,
        "T": int(cfg.T),
        "params": total,
        "trainable_params": trainable,
        "layers": rows,
        "neuron_paths": neuron_paths(cfg, model),
    }
    if "--json" in flags:
        print(json.dumps(info, indent=2))
        return
    w = max([len(r["name"]) for r in rows] + [5])
    print(f"{'layer':<{w}}  {'type':<28} {'output [T, B, ...]':<24} {'params':>12}")
    for r in rows:
        print(f"{r['name']:<{w}}  {r['type']:<28} {str(r['output']):<24} {r['params']:>12,}")
    print(
        f"\n{cfg.model.name} (block={cfg.block.name}, neuron={cfg.neuron.name}, norm={cfg.norm.name}, "
        f"T={cfg.T}): {total:,} parameters ({total / 1e6:.2f}M), {trainable:,} trainable"
    )
    amp = f", AMP {cfg.trainer.amp_dtype}" if cfg.trainer.amp else ""
    for dev, paths in info["neuron_paths"].items():
        print(f"neuron paths on {dev}{amp if dev == 'cuda' else ''}:")
        for p in paths:
            print(f"  {LayerPath(**p).line()}")
