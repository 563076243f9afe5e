"""``snnexp analyze energy``: the counts of :mod:`snnexp.analysis.energy` for a fresh model or a
checkpoint on some batches of the configured data, as JSON, a Markdown table (TDBN Table 6 and a
per-layer table) and a PNG (spikes per neuron per layer, TDBN Fig. 6; operations per layer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch import nn

from snnexp.analysis.energy import count, summarize


def energy_costs(e: DictConfig | dict) -> dict[str, float]:
    from snnexp.errors import ConfigError

    try:
        costs = {"e_mac_pj": float(e["e_mac_pj"]), "e_ac_pj": float(e["e_ac_pj"])}
    except (KeyError, TypeError, ValueError):
        raise ConfigError("energy.e_mac_pj and energy.e_ac_pj must be numbers (pJ per operation)") from None
    if min(costs.values()) < 0:
        raise ConfigError(f"energy costs must be >= 0, got {costs}")
    return costs


def analyze_energy(
    cfg: DictConfig,
    *,
    model: nn.Module,
    batches: list,
    train_mode: bool,
    device,
    source: str,
    costs: DictConfig | dict,
) -> dict[str, Any]:
    """``cfg``: the model's config; ``costs``: the ``energy`` node of the analysis config."""
    model.train(train_mode)
    counts = count(model, batches, device=device)
    return {
        "what": "energy",
        "source": source,
        "model": str(cfg.model.name),
        "data": str(cfg.data.name),
        "T": int(cfg.T),
        "batches": len(batches),
        "bn_mode": "train" if train_mode else "eval",
        "energy_source": str(costs.get("source", "")),
        **counts,
        "total": summarize(counts, **energy_costs(costs)),
        "neuron": OmegaConf.to_container(cfg.neuron, resolve=True),
    }


def _e(x: float) -> str:
    return f"{x:.2e}"


def markdown(result: dict[str, Any]) -> str:
    t = result["total"]
    lines = [
        f"# Computation of {result['model']} (T={result['T']}, {result['samples']} samples, "
        f"{result['source']}, norms in {result['bn_mode']} mode)",
        "",
        "Per sample, one inference (TDBN supplement Table 6):",
        "",
        "| Model | Additions | Multiplications | Energy (J) |",
        "|---|---:|---:|---:|",
    ]
    for kind in ("snn", "ann"):
        r = t[kind]
        lines.append(
            f"| {kind.upper()} | {_e(r['additions'])} | {_e(r['multiplications'])} | {_e(r['energy_j'])} |"
        )
    ratio = t["energy_ratio_ann_over_snn"]
    lines += [
        "",
        f"Energy per op: MAC {t['costs_pj']['mac']} pJ, AC {t['costs_pj']['ac']} pJ "
        f"({result.get('energy_source') or 'analyze.yaml energy.*'}); ANN / SNN = "
        f"{'n/a' if ratio is None else f'{ratio:.2f}'}",
        "",
        "| Layer | ANN MACs | SNN additions | SNN multiplications |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['name']} | {_e(r['ann_macs'])} | {_e(r['snn_adds'])} | {_e(r['snn_mults'])} |"
        for r in result["layers"]
    ]
    lines += ["", "| # | Spiking layer | Spikes per neuron | Firing rate |", "|---:|---|---:|---:|"]
    lines += [
        f"| {i} | {r['name']} | {r['spikes_per_neuron']:.3f} | {r['firing_rate']:.3f} |"
        for i, r in enumerate(result["neurons"], 1)
    ]
    return "\n".join(lines) + "\n"


def _named_ticks(ax, names: list[str]) -> None:
    ax.set_xticks(range(1, len(names) + 1))
    ax.set_xticklabels([f"{i} {n}" for i, n in enumerate(names, 1)], rotation=55, ha="right", fontsize=7.5)


def energy_figure(result: dict[str, Any]):
    from snnexp.figures.style import styled

    return styled(_draw_energy)(result)


def _draw_energy(result: dict[str, Any]):
    """Left: spikes per neuron per spiking layer (TDBN Fig. 6); right: operations per weighted
    layer, with the per-sample totals and the energy ratio in its title (TDBN Table 6)."""
    from snnexp.figures.style import colour, log_ticks, marker, pyplot

    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 5))
    neurons = result["neurons"]
    a.bar(range(1, len(neurons) + 1), [r["spikes_per_neuron"] for r in neurons], color=colour(0))
    _named_ticks(a, [r["name"] for r in neurons])
    a.set_xlabel("spiking layer (index, module)")
    a.set_ylabel(f"spikes per neuron over T={result['T']} steps")
    a.set_title("Spikes per neuron (TDBN Fig. 6)")
    layers = result["layers"]
    values = []
    for i, (key, label) in enumerate(
        (
            ("ann_macs", "ANN multiply-accumulates"),
            ("snn_adds", "SNN additions"),
            ("snn_mults", "SNN multiplications"),
        )
    ):  # zeros are left out of the log plot
        ys = [r[key] or float("nan") for r in layers]
        values += [y for y in ys if y == y]
        b.plot(
            range(1, len(layers) + 1),
            ys,
            marker=marker(i),
            color=colour(i),
            label=label,
            linestyle="-" if i == 0 else "none",
        )
    if values:
        b.set_yscale("log")
        log_ticks(b.yaxis, values)
    _named_ticks(b, [r["name"] for r in layers])
    b.set_xlabel("weighted layer (index, module)")
    b.set_ylabel("operations per sample (log scale)")
    t = result["total"]
    ratio = t.get("energy_ratio_ann_over_snn")
    b.set_title(
        f"Operations per sample: ANN {t['ann']['multiplications']:.2e} MAC; SNN "
        f"{t['snn']['additions']:.2e} add + {t['snn']['multiplications']:.2e} mult\n"
        f"energy ANN {t['ann']['energy_j']:.2e} J, SNN {t['snn']['energy_j']:.2e} J"
        + ("" if ratio is None else f" (ANN / SNN = {ratio:.2f})"),
        fontsize=9.5,
    )
    b.legend(loc="best")
    src = "trained" if result.get("source") not in (None, "init") else "at initialisation"
    fig.suptitle(
        f"Computation of {result['model']} on {result.get('data', '?')}, T={result['T']} ({src}, "
        f"{result.get('samples', '?')} samples, norms in {result.get('bn_mode', '?')} mode)"
    )
    fig.tight_layout()
    return fig


def plot_energy(result: dict[str, Any], path: Path, formats: tuple[str, ...] = ("png",)) -> list[Path]:
    from snnexp.figures.style import save

    return save(energy_figure(result), path, formats)


def write_energy(result: dict[str, Any], out_dir: Path, formats: tuple[str, ...] = ("png",)) -> list[Path]:
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    js, md, png = out_dir / "energy.json", out_dir / "energy.md", out_dir / "energy.png"
    js.write_text(json.dumps(result, indent=2) + "\n")
    md.write_text(markdown(result))
    return [js, md, *plot_energy(result, png, formats)]
