"""snnexp eval ckpt=<path> [split=test] [overrides]: evaluate a checkpoint, print and write metrics.

The model and data config come from the checkpoint itself; overrides on the command line are
applied on top of it (``T=2`` evaluates with fewer time steps, KEYS Tables 16-17; ``data=...``
swaps a whole group). ``fold=true`` folds every tdBN/BN fed by a conv/linear layer into it first
(TDBN Eq. 9-10, as ``snnexp fold`` does, checked on a random batch) and evaluates the folded
network: its accuracy equals the unfolded one's. A checkpoint written by ``snnexp fold`` is
evaluated folded anyway.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CONFIG_NAME = "eval"
FLAGS = {"--json"}
OWN_KEYS = {"ckpt", "split", "out", "fold"}


def task(cfg, flags: set[str]) -> None:
    import torch

    from snnexp.data import build_data
    from snnexp.engine.device import pick_device
    from snnexp.engine.distributed import Dist
    from snnexp.engine.steps import StepContext, make_loss
    from snnexp.engine.trainer import evaluate
    from snnexp.inference import load_for_inference

    device = pick_device(cfg.device)
    model, run_cfg, ckpt = load_for_inference(cfg.ckpt, cfg, None, OWN_KEYS, device)
    norms_left = None
    if cfg.get("fold") and not ckpt.get("folded"):
        model, norms_left = fold_for_eval(model, run_cfg, device)
    train_loader, test_loader = build_data(run_cfg)
    loader = test_loader if cfg.split == "test" else train_loader
    ctx = StepContext(
        loss_fn=make_loss(run_cfg.trainer.loss, int(run_cfg.data.num_classes), 0.0),
        scaler=None,
        autocast=lambda: torch.autocast(device.type, enabled=False),
        num_classes=int(run_cfg.data.num_classes),
    )
    m = evaluate(model, loader, device, ctx, Dist())
    result = {
        "ckpt": str(cfg.ckpt),
        "split": cfg.split,
        "T": int(run_cfg.T),
        "epoch": ckpt.get("epoch"),
        "loss": m["loss"],
        "acc1": m["acc1"],
        "acc5": m["acc5"],
        "n": m["n"],
        "folded": bool(cfg.get("fold") or ckpt.get("folded")),
    }
    if norms_left is not None:
        result["norms_left"] = norms_left  # e.g. tdBN on an identity shortcut: no conv to fold into
    out = (
        Path(cfg.out)
        if cfg.out
        else Path(cfg.ckpt).resolve().parent.parent
        / f"eval_{cfg.split}_T{int(run_cfg.T)}{'_folded' if cfg.get('fold') else ''}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if "--json" in flags:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{cfg.split}: acc1 {m['acc1']:.2f}%  acc5 {m['acc5']:.2f}%  loss {m['loss']:.4f}  "
            f"({m['n']} samples, T={run_cfg.T}{', folded' if result['folded'] else ''}) -> {out}",
            file=sys.stdout,
        )


def fold_for_eval(model, run_cfg, device):
    """(the model with its norms folded into the convs, the number of norms that stay)."""
    import warnings

    import torch

    from snnexp.commands.summary import example_input
    from snnexp.fold import fold_tdbn

    x = torch.rand_like(example_input(run_cfg).repeat_interleave(2, dim=-4)).to(device)  # batch of 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # norms left over are counted in the result instead
        folded = fold_tdbn(model, example_input=x)
    left = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    return folded.eval(), left
