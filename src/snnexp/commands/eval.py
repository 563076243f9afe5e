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


def default_out(ckpt: str, name: str) -> Path:
    """``<run dir>/eval/<name>.json`` (name: ``<split>_T<T>[_folded]``), numbered ``_2``, ``_3`` ...
    after the first: an eval never overwrites an earlier one (another checkpoint, data.root or
    batch size, same split and T)."""
    d = Path(ckpt).resolve().parent.parent / "eval"
    for n in range(1, 10_000):
        p = d / (f"{name}.json" if n == 1 else f"{name}_{n}.json")
        if not p.exists():
            return p
    return d / f"{name}_{n + 1}.json"


def write_new(out: Path, result: dict) -> Path:
    """Write ``out`` only if it does not exist yet (an explicit out= never replaces a file)."""
    from snnexp.errors import UserError

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "x") as f:
            f.write(json.dumps(result, indent=2) + "\n")
    except FileExistsError:
        if out.is_file():
            raise UserError(f"out={out} already exists (an earlier eval?); pick another out=") from None
        raise UserError(f"out={out}: a part of this path is a file, not a directory") from None
    except OSError as e:
        raise UserError(f"out={out}: cannot write it ({e.strerror or e})") from None
    return out


def task(cfg, flags: set[str]) -> None:
    from snnexp.engine.device import pick_device
    from snnexp.inference import evaluate_split, load_for_inference

    device = pick_device(cfg.device)
    model, run_cfg, ckpt = load_for_inference(cfg.ckpt, cfg, None, OWN_KEYS, device)
    norms_left = None
    if cfg.get("fold") and not ckpt.get("folded"):
        model, norms_left = fold_for_eval(model, run_cfg, device)
    m = evaluate_split(model, run_cfg, cfg.split, device)
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
    name = f"{cfg.split}_T{int(run_cfg.T)}{'_folded' if cfg.get('fold') else ''}"
    out = write_new(Path(cfg.out) if cfg.out else default_out(cfg.ckpt, name), result)
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
