"""Hybrid training of DSR on ImageNet (Sec. 5.1, after Rathi et al.): an ANN of the same
architecture (``neuron=relu``, T=1) is trained first; the DSR run starts from its weights
(``init.from=<ANN checkpoint>``, loaded by the engine as any fine-tuning) with every layer's
threshold set to a high percentile of that layer's ANN activations (``method.calibrate_thresholds``).

The authors' code (qymeng94/DSR imagenet/main.py ``--calculate_Vth``, preresnet_cal_Vth.py) takes,
per neuron layer, the 99.9th percentile of the post-ReLU activations (one scalar per layer) on the
first 5 validation batches of 144 = 720 images, with the model in eval mode (BN with the ANN's
running statistics). ``method.calibration``: ``validation`` does the same before the first step
(``method.calibration_images`` test-split images, eval mode; experiment=dsr/imagenet_if);
``train_batch`` takes the percentile on the first training batch in training mode (batch
statistics; no test image is used). The SNN itself gives the ANN's activations: its DSR neurons
act as ReLUs (``dsr_phase = "ann"``) at T=1.

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


# values kept per layer for the percentile of a multi-batch calibration (the authors' DataStatus
# also subsamples: at most 1e7 values kept, 1e6 of them sorted)
KEEP_PER_LAYER = 1_000_000


@torch.no_grad()
def calibrate(model: nn.Module, nodes: list[DSRNode], x_seq: torch.Tensor, q: float) -> None:
    """Run ``x_seq`` ([1, B, ...]) through the model as an ANN; V_th of each DSR layer := the
    ``q``-th percentile of its ReLU output (at least the layer's lower bound)."""
    found: dict[DSRNode, torch.Tensor] = {}
    hooks = [
        n.register_forward_pre_hook(lambda m, a: found.__setitem__(m, percentile(a[0], q))) for n in nodes
    ]
    _run_as_ann(model, nodes, [x_seq], hooks)
    _set_thresholds(nodes, found)


@torch.no_grad()
def calibrate_on_batches(
    model: nn.Module, nodes: list[DSRNode], batches: list[torch.Tensor], q: float
) -> None:
    """:func:`calibrate` over several inputs ([1, B, ...] each) in eval mode, as the authors' code
    on its validation images: the percentile of each layer's pooled activations (a uniform sample
    of at most KEEP_PER_LAYER of them)."""
    per_batch = max(1, KEEP_PER_LAYER // max(1, len(batches)))
    pools: dict[DSRNode, list[torch.Tensor]] = {n: [] for n in nodes}

    def keep(m, a):
        v = torch.relu(a[0].detach()).flatten().float()
        if v.numel() > per_batch:
            v = v[torch.randint(v.numel(), (per_batch,), device=v.device)]
        pools[m].append(v.cpu())

    hooks = [n.register_forward_pre_hook(keep) for n in nodes]
    was_training = model.training
    model.eval()
    try:
        _run_as_ann(model, nodes, batches, hooks)
    finally:
        model.train(was_training)
    _set_thresholds(nodes, {n: percentile(torch.cat(pools[n]), q) for n in nodes})


def _run_as_ann(model: nn.Module, nodes: list[DSRNode], batches, hooks) -> None:
    for n in nodes:
        n.dsr_phase = "ann"
    try:
        for x_seq in batches:
            model(x_seq)
    finally:
        for n in nodes:
            n.dsr_phase = None
        for h in hooks:
            h.remove()


def _set_thresholds(nodes: list[DSRNode], found: dict[DSRNode, torch.Tensor]) -> None:
    for n in nodes:
        th = found[n].to(n.v_threshold.device).clamp_min(n.lower_bound).to(n.v_threshold.dtype)
        if dist.is_available() and dist.is_initialized():  # one threshold for all ranks
            dist.all_reduce(th)
            th /= dist.get_world_size()
        n.v_threshold.copy_(th.reshape(n.v_threshold.shape))
