"""snnexp eval ckpt=<path> [split=test] [overrides]: evaluate a checkpoint, print and write metrics.

The model and data config come from the checkpoint itself; overrides on the command line are
applied on top of it (``T=2`` evaluates with fewer time steps, KEYS Tables 16-17; ``data=...``
swaps a whole group).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CONFIG_NAME = "eval"
FLAGS = {"--json"}
OWN_KEYS = {"ckpt", "split", "out"}


def default_out(ckpt: str, split: str, T: int) -> Path:
    """``<run dir>/eval/<split>_T<T>.json``, numbered ``_2``, ``_3`` ... after the first: an eval
    never overwrites an earlier one (another checkpoint, data.root or batch size, same split/T)."""
    d = Path(ckpt).resolve().parent.parent / "eval"
    for n in range(1, 10_000):
        p = d / (f"{split}_T{T}.json" if n == 1 else f"{split}_T{T}_{n}.json")
        if not p.exists():
            return p
    return d / f"{split}_T{T}_{n + 1}.json"


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
    }
    out = write_new(Path(cfg.out) if cfg.out else default_out(cfg.ckpt, cfg.split, int(run_cfg.T)), result)
    if "--json" in flags:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{cfg.split}: acc1 {m['acc1']:.2f}%  acc5 {m['acc5']:.2f}%  loss {m['loss']:.4f}  "
            f"({m['n']} samples, T={run_cfg.T}) -> {out}",
            file=sys.stdout,
        )
