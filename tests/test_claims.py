"""snnexp claims: the rules decide as stated, every claim file is complete, one claim end to end."""

from __future__ import annotations

import json
import math

import pytest

from conftest import run_cli
from snnexp.claims.run import load_claim
from snnexp.claims.spec import parse_claim
from snnexp.claims.verdict import FAILS, HOLDS, INCONCLUSIVE, decide
from snnexp.commands.claims import available, select
from snnexp.errors import ConfigError, UserError


@pytest.mark.parametrize(
    "rule,values,verdict",
    [
        ({"type": "greater", "a": "x", "b": ["y"], "margin": 20}, {"x": [90, 95], "y": [10, 12]}, HOLDS),
        ({"type": "greater", "a": "x", "b": ["y"], "margin": 20}, {"x": [50], "y": [40]}, INCONCLUSIVE),
        ({"type": "greater", "a": "x", "b": ["y", "z"], "margin": 5}, {"x": [9], "y": [1], "z": [91]}, FAILS),
        ({"type": "less_ratio", "a": "x", "b": ["y"], "factor": 0.5}, {"x": [0.1], "y": [0.3]}, HOLDS),
        ({"type": "less_ratio", "a": "x", "b": ["y"], "factor": 0.5}, {"x": [0.2], "y": [0.3]}, INCONCLUSIVE),
        ({"type": "less_ratio", "a": "x", "b": ["y"], "factor": 0.5}, {"x": [0.4], "y": [0.3]}, FAILS),
        ({"type": "within", "a": "x", "b": ["y"], "tol": 1.0}, {"x": [90.5], "y": [90]}, HOLDS),
        ({"type": "within", "a": "x", "b": ["y"], "tol": 1.0}, {"x": [93], "y": [90]}, FAILS),
        ({"type": "greater", "a": "x", "b": ["y"], "margin": 1}, {"x": [math.nan], "y": [0]}, INCONCLUSIVE),
    ],
)
def test_rules_decide_as_their_text_says(rule, values, verdict):
    assert decide(rule, values) == verdict


def test_every_claim_file_is_complete_and_each_paper_has_claims():
    ids = available()
    assert {i.split("/")[1] for i in ids} >= {"sew"}
    for i in ids:
        c = load_claim(i)
        assert c.statement and c.source and len(c.seeds) >= 3 and len(c.arms) >= 2, i
        assert c.rule["a"] in c.rule_text(), i


def test_a_claim_without_a_rule_or_with_unknown_arms_is_refused():
    base = {
        "paper": "X",
        "statement": "s",
        "source": "Fig. 1",
        "kind": "train",
        "metric": "best_acc1",
        "arms": {"a": ["block=plain"], "b": []},
        "seeds": [0],
    }
    with pytest.raises(ConfigError, match="claim.rule must be set"):
        parse_claim("claims/x", base)
    with pytest.raises(ConfigError, match="must name arms"):
        parse_claim("claims/x", {**base, "rule": {"type": "greater", "a": "a", "b": ["c"], "margin": 1}})
    with pytest.raises(ConfigError, match="rule.type='bigger' is not allowed"):
        parse_claim("claims/x", {**base, "rule": {"type": "bigger", "a": "a", "b": ["b"]}})
    with pytest.raises(UserError, match="no claim 'nope'"):
        select(["nope"])


def test_one_claim_end_to_end_quick(tmp_path):
    out = tmp_path / "claims"
    p = run_cli("claims", "sew/and_silent", "--quick", "--json", "--out", str(out), cwd=tmp_path, check=True)
    (result,) = json.loads(p.stdout)
    assert result["verdict"] in (HOLDS, FAILS, INCONCLUSIVE)
    assert set(result["values"]) == {"sew_and", "sew_iand"}
    # the rule is printed beside the numbers, with the source of the claim
    md = (out / "claims.md").read_text()
    assert "Fig. 5" in md and "holds if mean last_rate_O of sew_and" in md
    assert (out / "claims.csv").read_text().count("\n") == 3  # header + one row per arm
    assert (out / "claims_sew_and_silent.png").stat().st_size > 1000
