"""KEYS Fig. 3: where in depth and time a trained network fires, and what BNTT learned.

First row of the figure: "Average activation maps of different networks in the CIFAR-100 test set
... the percentage of neurons active for each convolutional layer at each time". Second row: "the
average value (over channels) of the learnable BNTT weight gamma per each layer and time-step".
Columns: a non-residual VGG11 and S-ResNet38 (32 base filters) with S2M, S2S and V2V residuals.

Here a layer is a spiking neuron layer in the order it fires (each follows one conv and its norm),
and "active" is a neuron that emits a spike at that step; the readout's non-spiking integrator is
no neuron layer. gamma_t of a BNTT layer is the mean over channels of its step-t BN weight.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from snnexp.analysis.energy import is_neuron
from snnexp.analysis.hooks import hooks_attached


def bntt_gammas(model: nn.Module) -> list[dict[str, Any]]:
    """Each BNTT layer's gamma per time step, averaged over channels (KEYS Fig. 3, second row)."""
    from snnexp.norms.bntt import BNTT

    return [
        {"name": name, "gamma": [float(bn.weight.detach().mean()) for bn in m.bn_list]}
        for name, m in model.named_modules()
        if isinstance(m, BNTT) and m.bn_list[0].weight is not None
    ]


def activation_map(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device="cpu"
) -> list[dict[str, Any]]:
    """Per neuron layer (in firing order), the percentage of its neurons that spike at each step,
    averaged over the samples of ``batches`` (KEYS Fig. 3, first row). ``model`` keeps its mode."""
    from spikingjelly.activation_based import functional

    active: dict[str, torch.Tensor] = {}
    order: list[str] = []

    def hook(name: str):
        def record(_m, _inp, out):
            if name not in active:
                order.append(name)
                active[name] = torch.zeros(out.shape[0], dtype=torch.float64)
            # out: [T, B, ...]; the number of spiking neurons per step, summed over the batch
            active[name] += (out.detach() != 0).flatten(2).float().mean(2).sum(1).double().cpu()

        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if is_neuron(m)]
    samples = 0
    model.to(device)
    with hooks_attached(model, handles), torch.no_grad():
        for x, y in batches:
            functional.reset_net(model)
            model(x.to(device))
            samples += int(y.shape[0])
    return [{"name": n, "percent_active": (100.0 * active[n] / max(samples, 1)).tolist()} for n in order]


def analyze_activity(model: nn.Module, batches: list, *, label: str, source: str, device="cpu") -> dict:
    """One network's column of KEYS Fig. 3 (a JSON-able dict)."""
    model.eval()
    return {
        "label": label,
        "source": source,
        "samples": sum(int(y.shape[0]) for _, y in batches),
        "layers": activation_map(model, batches, device=device),
        "bntt": bntt_gammas(model),
    }


def plot_activity(columns: list[dict[str, Any]], path) -> None:
    """KEYS Fig. 3's layout: one column per network, activation map above (layer x time step,
    percent active), BNTT gamma below (layer x time step)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(2, len(columns), figsize=(3.6 * len(columns), 6.2), squeeze=False)
    for j, col in enumerate(columns):
        act = np.array([layer["percent_active"] for layer in col["layers"]]).T  # [T, layers]
        im = axes[0, j].imshow(act, aspect="auto", origin="lower", cmap="viridis")
        axes[0, j].set(title=col["label"], xlabel="layer", ylabel="time step")
        fig.colorbar(im, ax=axes[0, j], label="% neurons active")
        if col["bntt"]:
            gam = np.array([b["gamma"] for b in col["bntt"]]).T
            im = axes[1, j].imshow(gam, aspect="auto", origin="lower", cmap="magma")
            fig.colorbar(im, ax=axes[1, j], label="BNTT gamma (mean over channels)")
        else:
            axes[1, j].text(0.5, 0.5, "no BNTT layer", ha="center", va="center")
        axes[1, j].set(xlabel="BNTT layer", ylabel="time step")
    fig.suptitle("Activation maps and BNTT gamma (KEYS Fig. 3)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
