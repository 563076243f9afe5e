"""Reading a claim's ``claim:`` node into a :class:`Claim` (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from snnexp.errors import ConfigError

# train: a training run per arm and seed, its metrics.json; eval: the claim's own config trained once
# per seed, each arm an evaluation of that checkpoint (T=6, fold=true); firing|gradients: an analysis
# at initialisation; memory: bytes autograd saves in one training step, at compare_T[1] / compare_T[0]
KINDS = ("train", "eval", "firing", "gradients", "memory")
METRICS = {
    "train": ("best_acc1", "last_acc1", "best_acc5", "last_acc5"),
    "eval": ("acc1", "acc5", "loss"),
    "firing": ("last_rate_O", "rate_log_spread"),
    "gradients": ("grad_log_spread", "last_rate_O", "rate_log_spread"),
    "memory": ("saved_bytes_ratio",),
}
RULES = ("greater", "less_ratio", "within")


@dataclass
class Arm:
    label: str
    overrides: list[str]


@dataclass
class Claim:
    """A paper's statement (``paper_says``, with its ``source``: table, figure, section) kept apart
    from what this project tests in miniature (``test``) and the rule it decides by (``rule``):
    the test, its arms and its threshold are ours, not the paper's."""

    id: str  # the experiment option, e.g. claims/sew/depth_degradation
    paper: str
    paper_says: str  # the paper's own statement, quoted ("...") or paraphrased
    source: str  # where the paper says it: section, table, figure
    test: str  # ours: what the miniature measures, and where it departs from the paper's experiment
    kind: str  # train: metrics.json of a training run; firing|gradients: an analysis at init
    metric: str
    arms: list[Arm]
    seeds: list[int]
    rule: dict[str, Any]
    quick: list[str] = field(default_factory=list)  # overrides for a reduced run (tests)
    compare_T: tuple[int, int] | None = None  # kind memory: the two T compared

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
    if "statement" in node:
        raise ConfigError(f"{where}.statement: write the paper's words as paper_says and our test as test")
    for key in ("paper", "paper_says", "source", "test", "kind", "metric", "arms", "seeds", "rule"):
        if node.get(key) in (None, "", [], {}):
            raise ConfigError(f"{where}.{key} must be set")
    if node["kind"] not in KINDS:
        raise ConfigError(f"{where}.kind={node['kind']!r} is not allowed; allowed: {', '.join(KINDS)}")
    allowed = METRICS[node["kind"]]
    if node["metric"] not in allowed:
        what = f"{where}.metric={node['metric']!r} is not allowed for kind {node['kind']}"
        raise ConfigError(f"{what}; allowed: {', '.join(allowed)}")
    compare_T = _compare_T(node, where)
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
        paper_says=str(node["paper_says"]),
        source=str(node["source"]),
        test=str(node["test"]),
        kind=str(node["kind"]),
        metric=str(node["metric"]),
        arms=arms,
        seeds=[int(s) for s in node["seeds"]],
        rule=rule,
        quick=[str(o) for o in node.get("quick") or []],
        compare_T=compare_T,
    )


def _compare_T(node: dict[str, Any], where: str) -> tuple[int, int] | None:
    if node["kind"] != "memory":
        return None
    pair = node.get("compare_T")
    if not (isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(t, int) for t in pair)):
        raise ConfigError(f"{where}.compare_T={pair!r} must be two numbers of steps, e.g. [5, 20]")
    if not 1 <= pair[0] < pair[1]:
        raise ConfigError(f"{where}.compare_T={list(pair)} must be increasing and >= 1")
    return int(pair[0]), int(pair[1])
