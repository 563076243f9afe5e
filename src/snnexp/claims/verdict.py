"""The rule of a claim applied to the measured values (torch-free)."""

from __future__ import annotations

import math
import statistics

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"


def mean_std(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return float("nan"), float("nan")
    if any(math.isinf(v) for v in vals):  # e.g. a silent deepest block: log spread inf
        return statistics.fmean(vals), float("nan")  # +-inf (nan if both signs)
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def decide(rule: dict, values: dict[str, list[float]]) -> str:
    """holds / does not hold / inconclusive, from the arms' means as the rule says."""
    a = mean_std(values[rule["a"]])[0]
    bs = [mean_std(values[b])[0] for b in rule["b"]]
    if math.isnan(a) or any(math.isnan(b) for b in bs):
        return INCONCLUSIVE
    kind = rule["type"]
    if kind == "greater":
        if all(a - b >= float(rule["margin"]) for b in bs):
            return HOLDS
        return FAILS if any(a <= b for b in bs) else INCONCLUSIVE
    if kind == "less_ratio":
        if all(a <= float(rule["factor"]) * b for b in bs):
            return HOLDS
        return FAILS if any(a >= b for b in bs) else INCONCLUSIVE
    tol = float(rule["tol"])
    if all(abs(a - b) <= tol for b in bs):
        return HOLDS
    return FAILS if any(abs(a - b) > 2 * tol for b in bs) else INCONCLUSIVE
