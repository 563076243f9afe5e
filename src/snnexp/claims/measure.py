"""What one arm of a claim measures, for one seed: run in a worker process by :mod:`snnexp.claims.run`.

Each function takes the arm's composed config and returns one number (NaN when there is none)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from snnexp.runfiles import read_metrics


def ensure_trained(cfg: DictConfig, run_dir: Path) -> dict:
    """metrics.json of the finished run in ``run_dir``: trained now, resumed from its last
    checkpoint if a previous ``snnexp claims`` was interrupted (started again if it was cut before
    its first checkpoint), or read if already finished."""
    import snnexp

    done = read_metrics(run_dir)
    if done.get("status") == "finished":
        return done
    cfg = cfg.copy()
    cfg.resume = "auto"  # a new directory starts; a cut one continues (engine/rundir.py)
    return snnexp.train(cfg, run_dir=str(run_dir))


def eval_value(train_cfg: DictConfig, run_dir: Path, eval_overrides: list[str], metric: str) -> float:
    """``metric`` of the run's last checkpoint evaluated on the test split with ``eval_overrides``:
    ``T=6`` infers with the first 6 steps (and BNTT layers, KEYS Table 16); ``fold=true`` folds the
    norms into the convs first (TDBN Eq. 9-10)."""
    import torch

    from snnexp.analysis.timesteps import FirstSteps
    from snnexp.data import build_data
    from snnexp.fold import fold_tdbn
    from snnexp.inference import evaluate_split, load_for_inference

    fold = any(o.replace(" ", "") in ("fold=true", "fold=True") for o in eval_overrides)
    over = [o for o in eval_overrides if not o.startswith("fold=")]
    values = OmegaConf.merge(train_cfg, OmegaConf.from_dotlist(over))
    model, run_cfg, _ = load_for_inference(run_dir / "checkpoints" / "last.pt", values, over, set(), "cpu")
    if fold:
        _, test_loader = build_data(run_cfg)
        x, _ = next(iter(test_loader))
        with warnings.catch_warnings():  # norms on identity shortcuts stay, as in `snnexp eval fold=true`
            warnings.simplefilter("ignore")
            model = fold_tdbn(model, example_input=x[:2]).eval()
    if run_cfg.data.get("sequence"):
        model = FirstSteps(model, int(run_cfg.T))
    with torch.no_grad():
        m = evaluate_split(model, run_cfg, "test", "cpu")
    return float(m[metric])


def _log_spread(values: list[float]) -> float:
    """|log10(first / last)| of per-block values: 0 = flat across depth; inf when one end is 0."""
    if len(values) < 2:
        return float("nan")
    first, last = values[0], values[-1]
    if first <= 0 or last <= 0:
        return math.inf
    return abs(math.log10(first / last))


def block_metric(blocks: list[dict], metric: str) -> float:
    if metric == "last_rate_O":  # firing rate of the deepest block's output O^L
        return float(blocks[-1]["rate_O"])
    if metric == "rate_log_spread":  # firing rate of O^1 vs O^L (TDBN Fig. 4: kept, not vanishing)
        return _log_spread([float(b["rate_O"]) for b in blocks])
    if metric == "grad_log_spread":  # ||dL/dS^1|| vs ||dL/dS^L|| (SEW Fig. 7, TDBN Fig. 2)
        return _log_spread([float(b["grad_norm"] or 0.0) for b in blocks])
    raise KeyError(metric)


def analysis_value(cfg: DictConfig, kind: str, metric: str) -> float:
    from snnexp.analysis import analyze

    result = analyze(cfg, what=kind, zero_init_compare=False, n_batches=1, split="test")
    return block_metric(result["variants"][0]["blocks"], metric)


def memory_value(cfg: DictConfig, compare_T: tuple[int, int], batch: int) -> float:
    """Bytes autograd saves in one training step at T=compare_T[1], over those at compare_T[0]."""
    from snnexp.analysis.memory import saved_bytes, training_step

    sizes = []
    for T in compare_T:
        c = cfg.copy()
        c.T = T
        sizes.append(saved_bytes(training_step(c, batch)))
    return sizes[1] / sizes[0] if sizes[0] else float("nan")
