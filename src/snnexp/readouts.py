"""Readouts (chosen by the model config): map the last features [T, B, F...] to logits [B, K].

====================  =====  ==============================================================
``mean``              SEW    fc at every step, logits averaged over T (also TDBN Eq. 11)
``integrate``         KEYS   fc into a non-spiking, non-leaking integrator; output u_T / T
``voting``            KEYS   fc to votes*K, average pool of ``votes``, then ``integrate``
``rate``              DSR    fc (+ norm) into a spiking layer; output its spike representation
====================  =====  ==============================================================
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based import layer
from torch import nn

from snnexp.registry import READOUTS


class MeanOverTime(nn.Module):
    """Classifier at every step, then the mean over T (SEW, TDBN). Since fc is linear, this equals
    fc applied to the mean firing rate."""

    def __init__(self, in_features: int, num_classes: int, bias: bool = True):
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(2)).mean(0)


@READOUTS.register("mean", paper="SEW")
def mean(parts, in_features: int, num_classes: int, bias: bool = True):
    """fc at every step, logits averaged over T (SEW)."""
    return MeanOverTime(in_features, num_classes, bias=bias)


class Integrate(nn.Module):
    """KEYS Sec. 3.3: "the last neuron layer is defined with no leak and cannot spike. Then the
    voltage accumulated in the layer after T time-steps divided by T is considered the output".

    u_t = u_{t-1} + fc(x_t), u_0 = 0, output u_T / T, T the length of the input sequence (so an
    early-stopped inference, KEYS Table 16, reads the membrane after fewer steps). Numerically
    this is the ``mean`` readout; ``vote`` (optional) pools the fc outputs before they reach
    the membrane. (spikingjelly's NonSpikingIFNode computes the same u_T but keeps it, with its
    graph, as an attribute after the forward; this module keeps no state.)
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = False, vote: nn.Module | None = None
    ):
        super().__init__()
        self.fc = layer.Linear(in_features, out_features, bias=bias, step_mode="m")
        self.vote = vote

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        current = self.fc(x.flatten(2))
        if self.vote is not None:
            current = self.vote(current)
        u = torch.zeros_like(current[0])
        for t in range(current.shape[0]):  # no leak, no spike, no reset
            u = u + current[t]
        return u / current.shape[0]


@READOUTS.register("integrate", paper="KEYS")
def integrate(parts, in_features: int, num_classes: int, bias: bool = False):
    """Non-spiking, non-leaky integrator after the fc: output = u_T / T (KEYS Sec. 3.2.3)."""
    # bias=False: the KEYS authors' fc has no bias (their parameter counts, Tables 6-7, need it)
    return Integrate(in_features, num_classes, bias=bias)


@READOUTS.register("voting", paper="KEYS")
def voting(parts, in_features: int, num_classes: int, votes: int = 10, bias: bool = False):
    """Boosting: fc to classes x votes, average pool of ``votes``, then integrate (KEYS Sec. 3.2.3)."""
    # spikingjelly's VotingLayer: avg_pool1d(kernel=votes, stride=votes) on the last dim
    return Integrate(
        in_features, votes * num_classes, bias=bias, vote=layer.VotingLayer(votes, step_mode="m")
    )


class SpikeRate(nn.Module):
    """DSR Sec. 3.2/3.4: the last layer is a spiking layer, and the network output is the spike
    representation of its spike train, o^L = r(s^L): for IF the mean over T of V_th s (in
    [0, V_th]); for LIF the lambda-weighted mean of V_th s / dt. The authors' models put
    Linear -> BatchNorm1d -> neuron before it (their preresnet.py and vgg.py), hence
    ``norm=True`` (the configured norm over the K logits).

    A DSR neuron returns weighted spikes and says how to average them (``representation``);
    any other neuron returns {0, 1} spikes, whose rate is scaled by its V_th.
    """

    def __init__(self, fc: nn.Module, norm: nn.Module, neuron: nn.Module):
        super().__init__()
        self.fc, self.norm, self.neuron = fc, norm, neuron

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.neuron(self.norm(self.fc(x.flatten(2))))
        if hasattr(self.neuron, "representation"):
            return self.neuron.representation(out)
        return out.mean(0) * float(getattr(self.neuron, "v_threshold", 1.0))


@READOUTS.register("rate", paper="DSR")
def rate(parts, in_features: int, num_classes: int, bias: bool = True, norm: bool = True):
    """fc -> norm -> spiking layer; the output is its spike representation r(s) (DSR)."""
    fc = layer.Linear(in_features, num_classes, bias=bias, step_mode="m")
    nrm = parts.norm(num_classes, dims=1) if norm else nn.Identity()
    return SpikeRate(fc, nrm, parts.neuron())
