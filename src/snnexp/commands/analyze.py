"""snnexp analyze firing|gradients|energy [overrides] [--json]: per-block firing rates of A^l and O^l
(SEW Figs. 4, 5, S2) or gradient norms ||dL/dS^l|| (Figs. 6-8), of a checkpoint (``ckpt=...``) or
at initialization, with and without zero init, for one or several block types (``compare_blocks``);
``energy``: spikes per neuron per layer, synaptic operations, SNN vs ANN additions and
multiplications and an energy estimate (TDBN supplement D, Fig. 6, Table 6); ``activity``: the
percentage of neurons active per layer and time step and the BNTT gamma per layer and step, of one
checkpoint or several (``compare_ckpts=[...]``, one column each: KEYS Fig. 3).

Writes ``<what>.json`` and ``<what>.png`` (and ``energy.md``) into the Hydra run directory (or
``out=DIR``), prints a short table, and with ``--json`` prints the JSON instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CONFIG_NAME = "analyze"
POSITIONAL = "what"
FLAGS = {"--json"}
OWN_KEYS = {
    "what",
    "ckpt",
    "batches",
    "split",
    "compare_blocks",
    "zero_init_compare",
    "bn_mode",
    "out",
    "energy",
    "compare_ckpts",
}


def _output_dir(cfg) -> Path:
    if cfg.get("out"):
        return Path(cfg.out)
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except Exception:
        return Path.cwd()


def run(cfg, overrides: list[str] | None = None) -> dict:
    """The analysis the config asks for (a JSON-able dict)."""
    from snnexp.analysis import analyze
    from snnexp.errors import ConfigError

    what = str(cfg.what)
    blocks = cfg.get("compare_blocks")
    if isinstance(blocks, str):
        blocks = [b.strip() for b in blocks.split(",") if b.strip()]
    blocks = [str(b) for b in blocks] if blocks else None
    try:
        n_batches = int(cfg.batches)
    except (TypeError, ValueError):
        raise ConfigError(f"batches={cfg.batches!r} must be a whole number >= 1") from None
    common = dict(what=what, n_batches=n_batches, split=str(cfg.split), bn_mode=str(cfg.bn_mode))
    if what == "energy":
        return run_energy(cfg, overrides, n_batches)
    if what == "activity":
        return run_activity(cfg, overrides, n_batches)
    if cfg.get("compare_ckpts"):
        raise ConfigError("compare_ckpts is for `analyze activity`; use ckpt= for one checkpoint")
    if cfg.get("ckpt"):
        from snnexp.inference import load_for_inference

        if blocks:
            raise ConfigError("compare_blocks compares fresh models; it cannot be used with ckpt=")
        model, run_cfg, ckpt = load_for_inference(cfg.ckpt, cfg, overrides, OWN_KEYS)
        result = analyze(run_cfg, model=model, source=str(cfg.ckpt), **common)
        result["epoch"] = ckpt.get("epoch")
        return result
    return analyze(cfg, blocks=blocks, zero_init_compare=bool(cfg.zero_init_compare), **common)


def run_energy(cfg, overrides: list[str] | None, n_batches: int) -> dict:
    """``analyze energy``: a checkpoint's model (running statistics unless ``bn_mode=train``) or a
    fresh one (batch statistics unless ``bn_mode=eval``)."""
    import torch

    from snnexp.analysis.energy_report import analyze_energy
    from snnexp.analysis.measure import collect_batches
    from snnexp.build import build_model
    from snnexp.engine.device import pick_device
    from snnexp.errors import ConfigError

    if cfg.bn_mode not in ("auto", "train", "eval"):
        raise ConfigError(f"bn_mode={cfg.bn_mode!r}; choose auto, train or eval")
    if cfg.get("ckpt"):
        from snnexp.inference import load_for_inference

        model, run_cfg, ckpt = load_for_inference(cfg.ckpt, cfg, overrides, OWN_KEYS)
        source = str(cfg.ckpt)
    else:
        torch.manual_seed(int(cfg.get("seed", 0)))
        model, run_cfg, ckpt, source = build_model(cfg), cfg, None, "init"
    train_mode = cfg.bn_mode == "train" or (cfg.bn_mode == "auto" and ckpt is None)
    batches = collect_batches(run_cfg, str(cfg.split), n_batches)
    device = pick_device(str(run_cfg.get("device", "auto")))
    return analyze_energy(
        run_cfg,
        model=model,
        batches=batches,
        train_mode=train_mode,
        device=device,
        source=source,
        costs=cfg.get("energy") or {},
    )


def _ckpt_list(cfg) -> list[str]:
    from snnexp.errors import ConfigError

    many = cfg.get("compare_ckpts")
    if many is not None and cfg.get("ckpt"):
        raise ConfigError("give ckpt= or compare_ckpts=[...], not both")
    if isinstance(many, str):
        many = [c.strip() for c in many.split(",") if c.strip()]
    if many is not None and (not many or not all(isinstance(c, str) for c in many)):
        raise ConfigError(f"compare_ckpts={many!r} must be a list of checkpoint paths, e.g. [a.pt,b.pt]")
    return list(many) if many is not None else ([str(cfg.ckpt)] if cfg.get("ckpt") else [])


def run_activity(cfg, overrides: list[str] | None, n_batches: int) -> dict:
    """KEYS Fig. 3: per checkpoint (or the fresh model), % active per layer and step and BNTT gamma,
    on the first ``batches`` batches of ``split``, norms in eval mode (running statistics)."""
    import torch

    from snnexp.analysis.activity import analyze_activity
    from snnexp.analysis.measure import collect_batches
    from snnexp.build import build_model
    from snnexp.engine.device import pick_device

    columns = []
    for path in _ckpt_list(cfg) or [None]:
        if path is None:
            torch.manual_seed(int(cfg.get("seed", 0)))
            model, run_cfg, source = build_model(cfg), cfg, "init"
        else:
            from snnexp.inference import load_for_inference

            model, run_cfg, _ = load_for_inference(path, cfg, overrides, OWN_KEYS)
            source = path
        batches = collect_batches(run_cfg, str(cfg.split), n_batches)
        device = pick_device(str(run_cfg.get("device", "auto")))
        label = f"{run_cfg.model.name} {run_cfg.block.name}"
        columns.append(analyze_activity(model, batches, label=label, source=source, device=device))
    return {"what": "activity", "split": str(cfg.split), "batches": n_batches, "columns": columns}


def activity_table(result: dict) -> str:
    """Per network: the mean % active per step over layers, and its busiest layer."""
    lines = [f"% neurons active ({result['split']} split, {result['batches']} batch(es); KEYS Fig. 3)"]
    for col in result["columns"]:
        per_layer = [sum(layer["percent_active"]) / len(layer["percent_active"]) for layer in col["layers"]]
        busiest = max(range(len(per_layer)), key=per_layer.__getitem__)
        lines.append(
            f"  {col['label']}: {len(per_layer)} neuron layers, {len(col['bntt'])} BNTT layers; mean "
            f"{sum(per_layer) / len(per_layer):.2f} %, busiest layer {busiest + 1} "
            f"({col['layers'][busiest]['name']}, {per_layer[busiest]:.2f} %)"
        )
    return "\n".join(lines)


def table(result: dict) -> str:
    """A short text table: one row per block, one column per variant."""
    variants = result["variants"]
    if result["what"] == "gradients":
        cols = [
            (v["label"], lambda b: "—" if b["grad_norm"] is None else f"{b['grad_norm']:.3e}")
            for v in variants
        ]
        head = "||dL/dS^l||"
    else:
        cols = [(v["label"], lambda b: f"{_r(b['rate_A'])} / {_r(b['rate_O'])}") for v in variants]
        head = "firing rate A^l / O^l"
    blocks0 = variants[0]["blocks"]
    wn = max([len(b["name"]) for b in blocks0] + [5])
    widths = [max(len(lbl), 17) for lbl, _ in cols]
    lines = [
        f"{head} per block ({result['model']}, T={result['T']}, {result['batches']} batch(es) of "
        f"{result['batch_size']}, {result['split']} split; v = downsample block)"
    ]
    lines.append(
        f"{'l':>3} {'block':<{wn}}   "
        + "  ".join(f"{lbl:>{w}}" for (lbl, _), w in zip(cols, widths, strict=True))
    )
    for i, b in enumerate(blocks0):
        cells = []
        for (_, fmt), v, w in zip(cols, variants, widths, strict=True):
            cells.append(f"{fmt(v['blocks'][i]) if i < len(v['blocks']) else '':>{w}}")
        lines.append(
            f"{b['index']:>3} {b['name']:<{wn}} {'v' if b['downsample'] else ' '} " + "  ".join(cells)
        )
    lines.append("loss: " + ", ".join(f"{v['label']} {v['loss']:.4f}" for v in variants))
    return "\n".join(lines)


def _r(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def write_outputs(result: dict, out_dir: Path, formats: tuple[str, ...] = ("png",)) -> tuple[Path, ...]:
    from snnexp.analysis import plot_firing, plot_gradients

    if result["what"] == "energy":
        from snnexp.analysis.energy_report import write_energy

        return tuple(write_energy(result, out_dir, formats))

    out_dir.mkdir(parents=True, exist_ok=True)
    what = result["what"]
    js = out_dir / f"{what}.json"
    js.write_text(json.dumps(result, indent=2) + "\n")
    png = out_dir / f"{what}.png"
    if what == "activity":
        from snnexp.analysis.activity import plot_activity

        plot_activity(result["columns"], png)
    else:
        (plot_gradients if what == "gradients" else plot_firing)(result, png, formats)
    extra = tuple(png.with_suffix(f".{f}") for f in formats if f != "png")
    return (js, png, *extra)


def task(cfg, flags: set[str]) -> None:
    from snnexp.engine.rundir import remove_stub
    from snnexp.errors import UserError

    try:
        result = run(cfg)
    except UserError:
        if not cfg.get("out"):  # the Hydra run dir made for the outputs: nothing went in it
            remove_stub(_output_dir(cfg))
        raise
    from snnexp.figures.style import formats_of

    paths = write_outputs(result, _output_dir(cfg), formats_of(cfg))
    if "--json" in flags:
        print(json.dumps(result, indent=2))
        return
    if result["what"] == "energy":
        from snnexp.analysis.energy_report import markdown

        print(markdown(result))
    elif result["what"] == "activity":
        print(activity_table(result))
    else:
        print(table(result))
    print(f"wrote {', '.join(map(str, paths))}", file=sys.stdout)
