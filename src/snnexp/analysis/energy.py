"""Computation and energy of a spiking model against the ANN of the same architecture (TDBN
supplement D: Fig. 6, average number of spikes per neuron in each layer; Table 6, additions and
multiplications of the SNN and of the ANN for one inference).

Per weighted layer (conv / linear, shortcut convs included), per sample:

- ``ann_macs``: the multiply-accumulates of the ANN of the same architecture (one pass, no T):
  output elements x fan-in, from the layer's output shape (forward hooks).
- ``snn_adds`` (synaptic operations): one accumulate per spike and per weight it meets, summed
  over the T steps: spikingjelly's ``op_counter.SynOpCounter`` (exact at borders and strides).
- ``snn_mults``: the MACs of layers whose input is not binary (TDBN: "the first encoding layer
  converts real images to spikes"; here also an fc after an average pool of spikes):
  spikingjelly's ``op_counter.MACCounter``, restricted to conv / matmul ops.

Where spikingjelly's counters do not count what TDBN counts: ``MACCounter`` returns 0 for a layer
with binary input, so it cannot give the ANN's MACs (hence the hooks), and it also counts the
multiplications inside BN, which TDBN ignores (tdBN folds into the convs at inference, Eq. 9-10;
only conv / matmul ops are kept). Spike counts per neuron are not an op count: forward hooks on
the neurons (any spikingjelly memory module with a ``v_threshold``).

With ``model.stem_once=true`` the stateless encoding conv runs once per image (and is counted
once); ``model.stem_once=false`` counts it at every step, as a chip that re-reads the image would.

Energy: ``snn_adds * e_ac + snn_mults * e_mac`` against ``ann_macs * e_mac`` (costs in pJ from the
analysis config: Horowitz 2014, 45 nm, 32-bit float; TDBN itself gives no energy per op).
"""

from __future__ import annotations

from collections.abc import Iterable
from math import prod
from typing import Any

import torch
from spikingjelly.activation_based import base
from spikingjelly.activation_based.op_counter import DispatchCounterMode, MACCounter, SynOpCounter
from torch import nn

aten = torch.ops.aten
WEIGHT_OPS = {
    aten.convolution.default,
    aten.mm.default,
    aten.addmm.default,
    aten.bmm.default,
    aten.baddbmm.default,
}


def is_neuron(m: nn.Module) -> bool:
    return isinstance(m, base.MemoryModule) and hasattr(m, "v_threshold")


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def ann_macs_per_step(m: nn.Module, out: torch.Tensor) -> int:
    """MACs of one sample at one step: output elements x fan-in (bias additions not counted)."""
    if isinstance(m, nn.Linear):
        return int(out.shape[-1]) * m.in_features
    per_out = m.in_channels // m.groups * prod(m.kernel_size)
    return int(prod(out.shape[-3:])) * per_out


class EnergyCounter:
    """Context manager: run the model on some batches inside it, then :meth:`results`."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.prefix = type(model).__name__ + "."
        self.layers = weighted_layers(model)
        self.neurons = [(n, m) for n, m in model.named_modules() if is_neuron(m)]
        self.ann: dict[str, int] = {}
        self.spikes = {n: 0.0 for n, _ in self.neurons}
        self.size = {n: 0 for n, _ in self.neurons}  # neurons per sample
        self.steps = {n: 0 for n, _ in self.neurons}
        self.samples = 0  # the caller adds each batch's size (the model may take [B,...] or [T,B,...])
        self.synops, self.macs = SynOpCounter(), MACCounter()
        self._handles: list[Any] = []
        self._mode: DispatchCounterMode | None = None

    def __enter__(self) -> EnergyCounter:
        for name, m in self.layers:
            self._handles.append(m.register_forward_hook(self._layer_hook(name)))
        for name, m in self.neurons:
            self._handles.append(m.register_forward_hook(self._neuron_hook(name)))
        self._mode = DispatchCounterMode([self.synops, self.macs])
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)
        for h in self._handles:
            h.remove()

    def _layer_hook(self, name: str):
        def hook(m, args, out):
            self.ann[name] = ann_macs_per_step(m, out)

        return hook

    def _neuron_hook(self, name: str):
        def hook(m, args, out):
            out = out.detach()
            self.spikes[name] += float(out.count_nonzero())
            self.size[name] = int(prod(out.shape[2:]))  # [T, B, ...]
            self.steps[name] = int(out.shape[0])

        return hook

    def _scoped(self, counter, name: str) -> int:
        counts = counter.get_counts().get(self.prefix + name, {})
        return sum(v for f, v in counts.items() if f in WEIGHT_OPS)

    def results(self) -> dict[str, Any]:
        n = max(self.samples, 1)
        layers = []
        for name, _ in self.layers:
            adds, mults = self._scoped(self.synops, name) / n, self._scoped(self.macs, name) / n
            layers.append(
                {"name": name, "ann_macs": self.ann.get(name, 0), "snn_adds": adds, "snn_mults": mults}
            )
        neurons = []
        for name, _ in self.neurons:
            per = self.spikes[name] / max(self.size[name] * n, 1)
            steps = max(self.steps[name], 1)
            neurons.append({"name": name, "spikes_per_neuron": per, "firing_rate": per / steps, "T": steps})
        return {"samples": self.samples, "layers": layers, "neurons": neurons}


def summarize(counts: dict[str, Any], *, e_mac_pj: float, e_ac_pj: float) -> dict[str, Any]:
    """Totals per sample (Table 6) and the energy estimate."""
    tot = {k: sum(layer[k] for layer in counts["layers"]) for k in ("ann_macs", "snn_adds", "snn_mults")}
    e_snn = (tot["snn_adds"] * e_ac_pj + tot["snn_mults"] * e_mac_pj) * 1e-12
    e_ann = tot["ann_macs"] * e_mac_pj * 1e-12
    return {
        "snn": {"additions": tot["snn_adds"], "multiplications": tot["snn_mults"], "energy_j": e_snn},
        "ann": {"additions": tot["ann_macs"], "multiplications": tot["ann_macs"], "energy_j": e_ann},
        "energy_ratio_ann_over_snn": e_ann / e_snn if e_snn else None,
        "costs_pj": {"mac": e_mac_pj, "ac": e_ac_pj},
    }


def count(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device="cpu"
) -> dict[str, Any]:
    """Run ``model`` (in its current train/eval mode) on ``batches`` inside an :class:`EnergyCounter`."""
    from spikingjelly.activation_based import functional

    model.to(device)
    with torch.no_grad(), EnergyCounter(model) as counter:
        for x, y in batches:
            functional.reset_net(model)
            model(x.to(device))
            counter.samples += int(y.shape[0])
        functional.reset_net(model)
    return counter.results()


def ann_macs(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """The ANN-equivalent MACs per layer for one sample, from shapes only: the model runs on the
    ``meta`` device (no arithmetic), so this is instant even for ImageNet ResNets."""
    from snnexp.analysis.hooks import hooks_attached

    macs: dict[str, int] = {}
    handles = []
    for name, m in weighted_layers(model):
        handles.append(
            m.register_forward_hook(lambda m, a, out, n=name: macs.__setitem__(n, ann_macs_per_step(m, out)))
        )
    with hooks_attached(model, handles), torch.no_grad():
        model.to("meta")
        model(x.to("meta"))
    return macs
