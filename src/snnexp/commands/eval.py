"""snnexp eval ckpt=<path> [split=test] [T=...] [overrides]: evaluate a checkpoint, print and write metrics.

The model and data config come from the checkpoint itself; overrides on the command line are
applied on top of it (``data=...`` swaps a whole group).

``T=20`` evaluates with 20 inference steps; ``T=50,40,30,20,10`` evaluates at each of them in one
command and writes the accuracy-vs-T table (Markdown, CSV, JSON) and a PNG plot (KEYS Tables 16-17:
fewer steps than training use the first T' steps and the first T' BNTT layers).

``fold=true`` folds every tdBN/BN fed by a conv/linear layer into it first (TDBN Eq. 9-10, as
``snnexp fold`` does, checked on a random batch) and evaluates the folded network: its accuracy
equals the unfolded one's. A checkpoint written by ``snnexp fold`` is evaluated folded anyway.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

CONFIG_NAME = "eval"
FLAGS = {"--json"}
OWN_KEYS = {"ckpt", "split", "out", "eval_T", "fold", "format"}


def rewrite_args(args: list[str]) -> list[str]:
    """``T=50,40,30`` is a list of inference steps here, not a Hydra sweep: it becomes ``eval_T``."""
    out = []
    for a in args:
        m = re.fullmatch(r"T=(\d+(?:,\d+)+)", a)
        out.append(f"eval_T=[{m.group(1)}]" if m else a)
    return out


def _steps(cfg, overrides: list[str]) -> list[int]:
    if cfg.get("eval_T"):
        return [int(t) for t in cfg.eval_T]
    if any(re.match(r"\+*T=", o) for o in overrides):
        return [int(cfg.T)]
    return []  # the checkpoint's own T


def _evaluate_at(cfg, overrides: list[str], T: int | None, device, loaders: dict):
    """(metrics, run config, checkpoint, extra result fields) of the checkpoint evaluated with ``T``
    inference steps (the checkpoint's own T if None)."""

    from snnexp.analysis.timesteps import FirstSteps
    from snnexp.data import build_eval_loader
    from snnexp.engine import fastpath
    from snnexp.engine.distributed import Dist
    from snnexp.engine.steps import StepContext, evaluate
    from snnexp.inference import load_for_inference

    if T is not None:
        cfg.T, overrides = T, [*overrides, f"T={T}"]
    from snnexp.errors import CheckpointError, ConfigError

    try:
        model, run_cfg, ckpt = load_for_inference(cfg.ckpt, cfg, overrides, OWN_KEYS, device)
    except CheckpointError as e:
        if T is not None and "bn_list." in str(e.__context__ or ""):
            raise ConfigError(
                f"T={T}: the checkpoint's per-step norms (BNTT) were trained with fewer steps; "
                "evaluate at T <= the training T"
            ) from None
        raise
    extra = {"folded": bool(cfg.get("fold") or ckpt.get("folded"))}
    if cfg.get("fold") and not ckpt.get("folded"):
        model, extra["norms_left"] = fold_for_eval(model, run_cfg, device)  # e.g. an identity shortcut's
    fastpath.flexsn_for_eval(run_cfg, model, device)  # trainer.flexsn=true: FlexSN scans on CUDA
    if "loader" not in loaders:  # data do not depend on T (frames stay those of the checkpoint)
        loaders["loader"] = build_eval_loader(run_cfg, cfg.split)  # no augmentation, no shuffling
    if run_cfg.data.get("sequence"):
        model = FirstSteps(model, int(run_cfg.T))
    ctx = StepContext.from_config(run_cfg, device, amp=False)
    try:
        m = evaluate(model, loaders["loader"], device, ctx, Dist())
    except ValueError as e:  # e.g. more steps than the input has frames
        raise ConfigError(f"T={run_cfg.T}: {e}") from None
    return m, run_cfg, ckpt, extra


def task(cfg, flags: set[str]) -> None:
    from omegaconf import OmegaConf, open_dict

    from snnexp.config.compose import task_overrides
    from snnexp.engine.device import pick_device

    device = pick_device(cfg.device)
    overrides = [o for o in task_overrides() if not re.match(r"\+*(T|eval_T)=", o)]
    steps = _steps(cfg, task_overrides())
    loaders: dict = {}
    rows = []
    with open_dict(cfg):
        for T in steps or [None]:
            m, run_cfg, ckpt, extra = _evaluate_at(cfg, overrides, T, device, loaders)
            rows.append({"T": int(run_cfg.T), **{k: m[k] for k in ("acc1", "acc5", "loss", "n")}})
            result = {
                "ckpt": str(cfg.ckpt),
                "split": cfg.split,
                "epoch": ckpt.get("epoch"),
                **rows[-1],
                **extra,
            }
            if ckpt.get("foreign"):  # other code's weights: a run directory `snnexp report` reads
                result.update(format=ckpt["foreign"], source=ckpt.get("source") or {})
                _write_foreign(cfg, result, run_cfg, flags)
            elif len(steps) <= 1:
                _write_one(cfg, result, flags)
            else:
                print(
                    f"T={run_cfg.T}: {cfg.split} acc1 {m['acc1']:.2f}%  acc5 {m['acc5']:.2f}%",
                    file=sys.stderr,
                )
    if len(steps) > 1:
        trained_T = int(OmegaConf.create(ckpt["config"]).T)
        _write_table(cfg, rows, trained_T, run_cfg, flags)


def eval_dir(ckpt: str) -> Path:
    """``<run dir>/eval`` for a checkpoint in a run's ``checkpoints/``; for any other file a new
    directory ``outputs/eval/<time>-<name>``, never the folder that holds it (whoever's it is)."""
    from snnexp.runfiles import is_run_dir

    p = Path(ckpt).resolve()
    if p.parent.name == "checkpoints" and is_run_dir(p.parent.parent):
        return p.parent.parent / "eval"
    return Path("outputs/eval") / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}-{p.stem}"


def new_stem(ckpt: str, name: str, suffix: str = ".json") -> Path:
    """``<eval dir>/<name>`` (:func:`eval_dir`), numbered ``_2``, ``_3`` ... after the first: an
    eval never overwrites an earlier one (another checkpoint, data.root or batch size, same split and T)."""
    d = eval_dir(ckpt)
    n = 1
    while (d / (name if n == 1 else f"{name}_{n}")).with_suffix(suffix).exists():
        n += 1
    return d / (name if n == 1 else f"{name}_{n}")


def write_new(out: Path, result: dict) -> Path:
    """Write ``out`` only if it does not exist yet (an explicit out= never replaces a file)."""
    from snnexp.errors import UserError
    from snnexp.runfiles import dumps

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "x") as f:
            f.write(dumps(result))  # strict JSON: null, never NaN
    except FileExistsError:
        if out.is_file():
            raise UserError(f"out={out} already exists (an earlier eval?); pick another out=") from None
        raise UserError(f"out={out}: a part of this path is a file, not a directory") from None
    except OSError as e:
        raise UserError(f"out={out}: cannot write it ({e.strerror or e})") from None
    return out


def _write_one(cfg, result: dict, flags: set[str]) -> None:
    folded = "_folded" if cfg.get("fold") else ""
    name = f"{cfg.split}_T{result['T']}{folded}"
    out = write_new(Path(cfg.out) if cfg.out else new_stem(cfg.ckpt, name).with_suffix(".json"), result)
    if "--json" in flags:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{cfg.split}: acc1 {result['acc1']:.2f}%  acc5 {result['acc5']:.2f}%  "
            f"loss {result['loss']:.4f}  ({result['n']} samples, T={result['T']}"
            f"{', folded' if result['folded'] else ''}) -> {out}",
            file=sys.stdout,
        )


def _write_foreign(cfg, result: dict, run_cfg, flags: set[str]) -> None:
    """The evaluation of another code's weights (the SEW authors' released checkpoints) as a run
    directory: its config (the network composed on the command line) and metrics.json with the
    accuracy as best and last, so that ``snnexp report <dir>`` puts it beside the paper's number.
    ``out=`` names that directory (it must not exist); default outputs/authors/<ckpt name>[_<n>]."""
    from omegaconf import OmegaConf

    from snnexp import runfiles
    from snnexp.errors import UserError

    if cfg.out:
        run_dir = Path(cfg.out)
        if run_dir.exists():
            raise UserError(f"out={run_dir} already exists; pick another out= (a new directory)")
    else:
        base, n = Path("outputs/authors") / Path(str(cfg.ckpt)).stem, 1
        while (run_dir := base.with_name(base.name if n == 1 else f"{base.name}_{n}")).exists():
            n += 1
    run_dir.mkdir(parents=True)
    (run_dir / runfiles.CONFIG).write_text(OmegaConf.to_yaml(run_cfg))
    metrics = {
        "status": "finished",
        "experiment_name": run_cfg.get("experiment_name"),
        **{f"{w}_{m}": result[m] for w in ("best", "last") for m in ("acc1", "acc5", "loss")},
        # the epochs the weights were trained for (train.py saves the last epoch's index)
        "epochs_done": (result["source"].get("epoch", -1) + 1) or None,
        "evaluated_from": result["ckpt"],
        "format": result["format"],
        "source": result["source"],
        "T": result["T"],
        "n": result["n"],
    }
    runfiles.write_metrics(run_dir, metrics)
    (run_dir / f"{cfg.split}_T{result['T']}.json").write_text(json.dumps(result, indent=2) + "\n")
    if "--json" in flags:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{cfg.split}: acc1 {result['acc1']:.2f}%  acc5 {result['acc5']:.2f}%  "
            f"loss {result['loss']:.4f}  ({result['n']} samples, T={result['T']}, "
            f"{result['format']} weights) -> {run_dir}"
        )


def _write_table(cfg, rows: list[dict], trained_T: int, run_cfg, flags: set[str]) -> None:
    from snnexp.analysis.timesteps import markdown, write_accuracy_vs_T

    stem = Path(cfg.out) if cfg.out else new_stem(cfg.ckpt, f"{cfg.split}_accuracy_vs_T")
    if cfg.out and stem.with_suffix(".json").exists():
        from snnexp.errors import UserError

        raise UserError(f"out={stem}: {stem.with_suffix('.json')} already exists; pick another out=")
    stem.parent.mkdir(parents=True, exist_ok=True)
    from snnexp.figures.curves import run_title
    from snnexp.figures.style import formats_of

    label = run_cfg.get("experiment_name")
    what = run_title(run_cfg.model.name, run_cfg.data.name, f"{trained_T} (trained)", label)
    title = f"{what}, {cfg.split} split"
    paths = write_accuracy_vs_T(rows, stem, trained_T=trained_T, title=title, formats=formats_of(cfg))
    if "--json" in flags:
        print(json.dumps({"trained_T": trained_T, "rows": rows}, indent=2))
    else:
        print(markdown(rows, trained_T=trained_T, title=title))
        print(f"-> {', '.join(str(p) for p in paths.values())}")


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
