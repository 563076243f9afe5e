"""Running a claim: every arm for every seed through the ordinary engine (training) or analysis
(firing rates / gradient norms at initialisation), then its rule."""

from __future__ import annotations

import hashlib
import math
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from snnexp.claims.spec import Claim, parse_claim
from snnexp.claims.verdict import decide, mean_std
from snnexp.config import compose
from snnexp.runfiles import read_metrics

QUIET = ["logger=none", "trainer.progress=false"]


def load_claim(claim_id: str) -> Claim:
    cfg = compose([f"experiment={claim_id}"])
    return parse_claim(claim_id, OmegaConf.to_container(cfg.claim, resolve=True))


def arm_config(claim: Claim, arm_overrides: list[str], seed: int, quick: bool):
    extra = claim.quick if quick else []
    return compose([f"experiment={claim.id}", *arm_overrides, f"seed={seed}", *QUIET, *extra])


def _run_dir(out: Path, claim: Claim, label: str, seed: int, cfg) -> Path:
    """One directory per (arm, seed, resolved config): a changed claim file never reuses old runs."""
    text = OmegaConf.to_yaml(cfg, resolve=True)
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return out / claim.id.replace("/", "_") / label / f"seed{seed}-{digest}"


def train_value(cfg, run_dir: Path, metric: str) -> float:
    """The metric of a finished run in ``run_dir`` (trained now unless it already finished)."""
    import snnexp

    done = read_metrics(run_dir)
    if done.get("status") != "finished":
        cfg.resume = "auto" if (run_dir / "checkpoints" / "last.pt").is_file() else None
        done = snnexp.train(cfg, run_dir=str(run_dir))
    value = done.get(metric)
    return float("nan") if value is None else float(value)


def _block_metric(blocks: list[dict], metric: str) -> float:
    if metric == "last_rate_O":  # firing rate of the deepest block's output O^L
        return float(blocks[-1]["rate_O"])
    if metric == "grad_log_spread":  # |log10(||dL/dS^1|| / ||dL/dS^L||)|: 0 = flat across depth
        g = [b["grad_norm"] for b in blocks if b["grad_norm"]]
        return abs(math.log10(g[0] / g[-1])) if len(g) > 1 and g[-1] > 0 else float("nan")
    raise KeyError(metric)


def analysis_value(cfg, kind: str, metric: str) -> float:
    from snnexp.analysis import analyze

    result = analyze(cfg, what=kind, zero_init_compare=False, n_batches=1, split="test")
    return _block_metric(result["variants"][0]["blocks"], metric)


def run_claim(claim: Claim, out: Path, quick: bool = False) -> dict[str, Any]:
    """Measure every arm x seed; returns the claim's result (JSON-able)."""
    seeds = claim.seeds[:1] if quick else claim.seeds
    values: dict[str, list[float]] = {}
    for arm in claim.arms:
        for seed in seeds:
            cfg = arm_config(claim, arm.overrides, seed, quick)
            print(f"snnexp claims: {claim.id} [{arm.label}] seed {seed}", file=sys.stderr, flush=True)
            if claim.kind == "train":
                value = train_value(cfg, _run_dir(out, claim, arm.label, seed, cfg), claim.metric)
            else:
                value = analysis_value(cfg, claim.kind, claim.metric)
            values.setdefault(arm.label, []).append(value)
    stats = {label: mean_std(v) for label, v in values.items()}
    return {
        "id": claim.id,
        "paper": claim.paper,
        "statement": claim.statement,
        "source": claim.source,
        "metric": claim.metric,
        "rule": claim.rule_text(),
        "seeds": seeds,
        "quick": quick,
        "values": values,
        "mean": {k: m for k, (m, _) in stats.items()},
        "std": {k: s for k, (_, s) in stats.items()},
        "verdict": decide(claim.rule, values),
    }
