"""snnexp fold ckpt=<path> [out=<path>]: a BN-free checkpoint for inference (TDBN Eq. 9-10).

Every norm fed by a conv/linear layer is folded into that layer's weight and bias; the folded
network's outputs are checked against the original on a random batch of the data's shape before
anything is written. The result is a normal checkpoint marked ``folded``: ``snnexp eval`` rebuilds
the model from its config, folds the structure, and loads the folded weights.
"""

from __future__ import annotations

import json

CONFIG_NAME = "fold"
FLAGS = {"--json"}
OWN_KEYS = {"ckpt", "split", "out", "fold", "format"}  # fold.yaml extends eval.yaml: the same own keys


def _new_name(ckpt):
    """``<name>_folded.pt`` beside the checkpoint, numbered ``_2``, ``_3`` ... after the first."""
    n, stem = 1, ckpt.stem + "_folded"
    while (dest := ckpt.with_name(f"{stem}{'' if n == 1 else f'_{n}'}.pt")).exists():
        n += 1
    return dest


def task(cfg, flags: set[str]) -> None:
    from pathlib import Path

    import torch
    from spikingjelly.activation_based import functional

    from snnexp.commands.summary import example_input
    from snnexp.engine.checkpoint import save_new
    from snnexp.errors import CheckpointError
    from snnexp.fold import fold_tdbn
    from snnexp.inference import load_for_inference

    if cfg.out and (Path(cfg.out).exists() or Path(cfg.out).is_symlink()):  # before any work
        raise CheckpointError(f"out={cfg.out} already exists; nothing was written (give another out=)")
    model, run_cfg, ckpt = load_for_inference(cfg.ckpt, cfg, None, OWN_KEYS)
    if ckpt.get("folded"):
        raise CheckpointError(f"{cfg.ckpt} is already folded")
    x = torch.rand_like(example_input(run_cfg).repeat_interleave(4, dim=-4))  # batch of 4
    folded = fold_tdbn(model, example_input=x)
    with torch.no_grad():
        ref = model(x)
        functional.reset_net(model)
        out = folded(x)
        functional.reset_net(folded)
    diff = (ref - out).abs().max().item()
    norms_left = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    if diff > 1e-4 * max(1.0, ref.abs().max().item()):
        raise CheckpointError(f"folding changed the outputs by {diff:.3g}; nothing was written")
    dest = Path(cfg.out) if cfg.out else _new_name(Path(cfg.ckpt))
    save_new(  # never over an existing file: out=<the run's last.pt> is refused, nothing written
        {**ckpt, "model": folded.state_dict(), "folded": True, "optimizer": {}, "scheduler": {}}, dest
    )
    result = {
        "ckpt": str(cfg.ckpt),
        "out": str(dest),
        "max_abs_diff": diff,
        "norms_left": norms_left,
        "params_before": sum(p.numel() for p in model.parameters()),
        "params_after": sum(p.numel() for p in folded.parameters()),
    }
    if "--json" in flags:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"folded {cfg.ckpt} -> {dest}: max |diff| {diff:.2e}, {norms_left} norm layers left, "
            f"{result['params_before']:,} -> {result['params_after']:,} params"
        )
