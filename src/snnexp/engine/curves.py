"""``curves.png`` of a run: loss and accuracy per epoch, train and test."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig


def plot_curves(history: list[dict[str, float]], cfg: DictConfig, out: Path) -> None:
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(ep, [r["train_loss"] for r in history], label="train")
    a.plot(ep, [r["test_loss"] for r in history], label="test")
    a.set(xlabel="epoch", ylabel="loss", title="loss")
    b.plot(ep, [r["train_acc1"] for r in history], label="train")
    b.plot(ep, [r["test_acc1"] for r in history], label="test top-1")
    b.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{cfg.model.name} on {cfg.data.name} (T={cfg.T})")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
