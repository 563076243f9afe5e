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


def plot_energy(result: dict[str, Any], path: Path) -> None:
    from snnexp.analysis.plots import _integer_ticks, _plt

    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    spikes = [r["spikes_per_neuron"] for r in result["neurons"]]
    a.bar(range(1, len(spikes) + 1), spikes, color="tab:blue")
    a.set_xlabel("Layer")
    a.set_ylabel("Average number of spikes per neuron")
    a.set_title(f"{result['model']}, T={result['T']} (TDBN Fig. 6)")
    _integer_ticks(a)
    xs = range(1, len(result["layers"]) + 1)
    for key, style, label in (
        ("ann_macs", ".-", "ANN MACs"),
        ("snn_adds", ".-", "SNN additions"),
        ("snn_mults", "o", "SNN multiplications"),
    ):  # zeros are left out of the log plot
        b.semilogy(xs, [r[key] or float("nan") for r in result["layers"]], style, label=label)
    b.set_xlabel("Weighted layer")
    b.set_ylabel("Operations per sample")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_energy(result: dict[str, Any], out_dir: Path) -> list[Path]:
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    js, md, png = out_dir / "energy.json", out_dir / "energy.md", out_dir / "energy.png"
    js.write_text(json.dumps(result, indent=2) + "\n")
    md.write_text(markdown(result))
    plot_energy(result, png)
    return [js, md, png]
