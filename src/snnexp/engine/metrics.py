"""Top-k accuracy and sums that are reduced across DDP ranks."""

from __future__ import annotations

import torch

from snnexp.engine.distributed import Dist, all_reduce_sum


def topk_correct(logits: torch.Tensor, y: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> list[int]:
    k_max = min(max(ks), logits.shape[1])
    pred = logits.topk(k_max, dim=1).indices
    hit = pred.eq(y[:, None])
    return [int(hit[:, : min(k, k_max)].any(dim=1).sum()) for k in ks]


class Sums:
    """Running sums of loss*n, correct@1, correct@5 and n; ``.reduce()`` sums over ranks."""

    def __init__(self, device: torch.device):
        self.t = torch.zeros(4, dtype=torch.float64, device=device)

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        n = y.shape[0]
        c1, c5 = topk_correct(logits, y)
        self.t += torch.tensor([float(loss) * n, c1, c5, n], dtype=torch.float64, device=self.t.device)

    def reduce(self, d: Dist) -> dict[str, float]:
        t = all_reduce_sum(self.t.clone(), d)
        n = max(t[3].item(), 1.0)
        return {
            "loss": t[0].item() / n,
            "acc1": 100 * t[1].item() / n,
            "acc5": 100 * t[2].item() / n,
            "n": int(t[3].item()),
        }
