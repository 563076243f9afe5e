"""``relu``: the ANN counterpart of any model (KEYS Table 15: ANN ResNet38 beside S-ResNet38).

A stateless ReLU in the neuron slot: every ``parts.neuron()`` of a model becomes max(0, x), so with
T=1 (and ``norm=bn``) the spiking model is the same network as an ordinary ANN, layer for layer and
parameter for parameter. It has no threshold (``v_threshold: null``) and no state to reset; the
surrogate the config names is not used.
"""

from __future__ import annotations

import torch
from torch import nn

from snnexp.neurons.traits import NeuronTraits
from snnexp.registry import NEURONS


class ReLUUnit(nn.Module):
    """max(0, x) on [T, B, ...] (element-wise, so the time axis needs no special care)."""

    step_mode = "m"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)


@NEURONS.register(
    "relu",
    paper="KEYS",
    traits=NeuronTraits(spiking=False, fullgraph=True),
)
def relu(*, v_threshold: float | None):
    # no spike, so no surrogate: Parts does not build the configured one (KEYS's triangle takes
    # its width from V_th, which a ReLU has not)
    if v_threshold is not None:
        raise ValueError(f"neuron relu has no threshold; set neuron.v_threshold=null (got {v_threshold})")
    return ReLUUnit()
