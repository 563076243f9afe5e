"""Hybrid training of DSR on ImageNet (Sec. 5.1, after Rathi et al.): an ANN of the same
architecture (``neuron=relu``, T=1) is trained first; the DSR run starts from its weights
(``init.from=<ANN checkpoint>``, loaded by the engine as any fine-tuning) with every layer's
threshold set to a high percentile of that layer's ANN activations (``method.calibrate_thresholds``).

The authors' code (qymeng94/DSR imagenet/preresnet_cal_Vth.py) takes, per neuron layer, the
99.9th percentile of the post-ReLU activations (one scalar per layer) on 720 validation images.
Here the percentile (``method.threshold_percentile``) is taken on the first training batch: no
test images are used, and the batch size (256 on ImageNet) is of the same order. The SNN itself
gives the ANN's activations: its DSR neurons act as ReLUs (``dsr_phase = "ann"``) at T=1.

Until calibrated, the thresholds are NaN, so a run resumed from a checkpoint (real thresholds) is
not calibrated a second time, and an uncalibrated model cannot pass unnoticed.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from snnexp.neurons.dsr import DSRNode


def mark_uncalibrated(nodes: list[DSRNode]) -> None:
    """Thresholds NaN: calibrated on the first batch, unless a resumed checkpoint brings real ones."""
    with torch.no_grad():
        for n in nodes:
            n.v_threshold.fill_(float("nan"))


def needs_calibration(nodes: list[DSRNode]) -> bool:
    return any(bool(torch.isnan(n.v_threshold).any()) for n in nodes)


def percentile(x: torch.Tensor, q: float) -> torch.Tensor:
    """Element ``int(q/100 * n)`` of the sorted post-ReLU values (the authors' index rule)."""
    v = torch.relu(x.detach()).flatten().float()
    k = min(int(q / 100.0 * v.numel()), v.numel() - 1)
    return torch.kthvalue(v.cpu(), k + 1).values.to(x.device)


@torch.no_grad()
def calibrate(model: nn.Module, nodes: list[DSRNode], x_seq: torch.Tensor, q: float) -> None:
    """Run ``x_seq`` ([1, B, ...]) through the model as an ANN; V_th of each DSR layer := the
    ``q``-th percentile of its ReLU output (at least the layer's lower bound)."""
    found: dict[DSRNode, torch.Tensor] = {}
    hooks = [
        n.register_forward_pre_hook(lambda m, a: found.__setitem__(m, percentile(a[0], q))) for n in nodes
    ]
    for n in nodes:
        n.dsr_phase = "ann"
    try:
        model(x_seq)
    finally:
        for n in nodes:
            n.dsr_phase = None
        for h in hooks:
            h.remove()
    for n in nodes:
        th = found[n].clamp_min(n.lower_bound).to(n.v_threshold.dtype)
        if dist.is_available() and dist.is_initialized():  # one threshold for all ranks
            dist.all_reduce(th)
            th /= dist.get_world_size()
        n.v_threshold.copy_(th.reshape(n.v_threshold.shape))
