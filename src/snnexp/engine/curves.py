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
    overlay_authors(a, b, cfg, last_epoch=ep[-1])
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{cfg.model.name} on {cfg.data.name} (T={cfg.T})")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def overlay_authors(loss_ax, acc_ax, cfg: DictConfig, last_epoch: int) -> None:
    """The authors' test loss and accuracy of the same experiment (report/author_curves.py), dashed,
    up to a little past the run's last epoch, so the run reads against their run epoch by epoch."""
    from omegaconf import OmegaConf

    from snnexp.report.author_curves import authors_curve

    found = authors_curve(OmegaConf.to_container(cfg, resolve=False))
    if found is None:
        return
    rows = [r for r in found[0] if r["epoch"] <= max(last_epoch * 1.25, last_epoch + 2)]
    ep = [r["epoch"] for r in rows]
    style = dict(color="0.35", linestyle="--", linewidth=1.2)
    loss_ax.plot(ep, [r.get("test_loss") for r in rows], label="authors' test", **style)
    acc_ax.plot(ep, [r.get("test_acc1") for r in rows], label="authors' test top-1", **style)


def authors_at(cfg: DictConfig, epoch: int) -> dict[str, float]:
    """The authors' test accuracy and loss at ``epoch`` as W&B reference series (empty if none)."""
    from omegaconf import OmegaConf

    from snnexp.report.author_curves import authors_curve

    found = authors_curve(OmegaConf.to_container(cfg, resolve=False))
    row = next((r for r in found[0] if r["epoch"] == epoch), None) if found else None
    keys = ("test_acc1", "test_acc5", "test_loss", "train_loss")
    return {f"authors/{k}": row[k] for k in keys if row and k in row}
