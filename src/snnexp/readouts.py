"""Readouts (chosen by the model config): map the last features [T, B, F] to logits [B, K]."""

from __future__ import annotations

import torch
from torch import nn

from snnexp.registry import READOUTS


class MeanOverTime(nn.Module):
    """Classifier at every step, then the mean over T (SEW, TDBN). Since fc is linear, this equals
    fc applied to the mean firing rate."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(2)).mean(0)


@READOUTS.register("mean", paper="SEW", help="fc at every step, logits averaged over T")
def mean(parts, in_features: int, num_classes: int):
    return MeanOverTime(in_features, num_classes)
