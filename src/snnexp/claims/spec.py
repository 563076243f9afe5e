"""Reading a claim's ``claim:`` node into a :class:`Claim` (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from snnexp.errors import ConfigError

KINDS = ("train", "firing", "gradients")
RULES = ("greater", "less_ratio", "within")


@dataclass
class Arm:
    label: str
    overrides: list[str]


@dataclass
class Claim:
    id: str  # the experiment option, e.g. claims/sew/depth_degradation
    paper: str
    statement: str
    source: str
    kind: str  # train: metrics.json of a training run; firing|gradients: an analysis at init
    metric: str
    arms: list[Arm]
    seeds: list[int]
    rule: dict[str, Any]
    quick: list[str] = field(default_factory=list)  # overrides for a reduced run (tests)

    def rule_text(self) -> str:
        r = self.rule
        others = ", ".join(r["b"])
        if r["type"] == "greater":
            return (
                f"holds if mean {self.metric} of {r['a']} exceeds that of each of {others} by >= "
                f"{r['margin']}; does not hold if it does not exceed one of them; else inconclusive"
            )
        if r["type"] == "less_ratio":
            return (
                f"holds if mean {self.metric} of {r['a']} is <= {r['factor']} x that of each of "
                f"{others}; does not hold if it is >= one of them; else inconclusive"
            )
        return (
            f"holds if mean {self.metric} of {r['a']} is within {r['tol']} of each of {others}; "
            f"does not hold if it differs by more than {2 * float(r['tol'])} from one; else inconclusive"
        )


def parse_claim(claim_id: str, node: dict[str, Any]) -> Claim:
    """A :class:`Claim` from the composed ``claim`` node of experiment ``claim_id``."""
    where = f"experiment={claim_id}: claim"
    for key in ("paper", "statement", "source", "kind", "metric", "arms", "seeds", "rule"):
        if node.get(key) in (None, "", [], {}):
            raise ConfigError(f"{where}.{key} must be set")
    if node["kind"] not in KINDS:
        raise ConfigError(f"{where}.kind={node['kind']!r} is not allowed; allowed: {', '.join(KINDS)}")
    arms = [Arm(str(label), [str(o) for o in (ov or [])]) for label, ov in dict(node["arms"]).items()]
    rule = dict(node["rule"])
    if rule.get("type") not in RULES:
        allowed = ", ".join(RULES)
        raise ConfigError(f"{where}.rule.type={rule.get('type')!r} is not allowed; allowed: {allowed}")
    labels = {a.label for a in arms}
    rule["b"] = [str(b) for b in rule.get("b") or []]
    if rule.get("a") not in labels or not rule["b"] or not set(rule["b"]) <= labels:
        raise ConfigError(f"{where}.rule: a and b must name arms ({', '.join(sorted(labels))})")
    need = {"greater": "margin", "less_ratio": "factor", "within": "tol"}[rule["type"]]
    if not isinstance(rule.get(need), int | float):
        raise ConfigError(f"{where}.rule.{need} must be a number for rule {rule['type']}")
    return Claim(
        id=claim_id,
        paper=str(node["paper"]),
        statement=str(node["statement"]),
        source=str(node["source"]),
        kind=str(node["kind"]),
        metric=str(node["metric"]),
        arms=arms,
        seeds=[int(s) for s in node["seeds"]],
        rule=rule,
        quick=[str(o) for o in node.get("quick") or []],
    )
