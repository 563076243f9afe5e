"""snnexp claims: the rules decide as stated, every claim file is complete, one claim end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import run_cli
from snnexp.claims.measure import block_metric
from snnexp.claims.run import load_claim, plan, run_claims
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
    papers = [i.split("/")[1] for i in ids]
    assert {p: papers.count(p) >= 3 for p in ("sew", "keys", "tdbn", "dsr")} == dict.fromkeys(
        ("sew", "keys", "tdbn", "dsr"), True
    )
    for i in ids:
        c = load_claim(i)
        assert c.paper_says and c.test and c.source and len(c.seeds) >= 3 and len(c.arms) >= 2, i
        assert c.rule["a"] in c.rule_text(), i


def test_a_claim_without_a_rule_or_with_unknown_arms_is_refused():
    base = {
        "paper": "X",
        "paper_says": "p",
        "source": "Fig. 1",
        "test": "t",
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


def test_a_claim_that_mixes_the_paper_and_our_test_in_one_statement_is_refused():
    node = {"paper": "X", "statement": "s", "source": "Fig. 1", "kind": "train", "metric": "best_acc1"}
    with pytest.raises(ConfigError, match="claim.statement: write the paper's words as paper_says"):
        parse_claim("claims/x", node)


def test_list_shows_each_claims_paper_statement_apart_from_our_test_and_rule(capsys):
    """`snnexp claims --list`: for every claim, what the paper says (with its source) and, labelled
    as ours, the miniature test and the rule with its threshold."""
    from snnexp.commands.claims import main

    assert main(["--list"]) == 0
    blocks = capsys.readouterr().out.strip().split("\nclaims/")
    assert len(blocks) == len(available())
    for block, claim_id in zip(blocks, available(), strict=True):
        c = load_claim(claim_id)
        lines = block.splitlines()
        assert lines[0].removeprefix("claims/") == claim_id.removeprefix("claims/"), lines
        assert lines[1] == f"  {c.paper} says ({c.source}): {c.paper_says}", lines[1]
        assert lines[2] == f"  ours, the test in miniature: {c.test}", lines[2]
        threshold = {"greater": "margin", "less_ratio": "factor", "within": "tol"}[c.rule["type"]]
        assert lines[3].startswith("  ours, the rule: holds if"), lines[3]
        assert str(c.rule[threshold]) in lines[3], (lines[3], c.rule)
        assert c.paper_says != c.test, claim_id


def test_an_out_that_is_a_file_is_refused_before_any_run(tmp_path):
    (tmp_path / "f").write_text("x")
    p = run_cli("claims", "sew/and_silent", "--quick", "--out", str(tmp_path / "f"), cwd=tmp_path)
    assert (
        p.returncode == 2
        and p.stderr == f"snnexp: error: --out {tmp_path / 'f'}: a file is in the way; give a directory\n"
    )


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


def test_claims_that_share_an_arm_share_its_training_run(tmp_path):
    """KEYS's base recipe (S2S, BNTT, direct) is an arm of three claims and the training of a fourth:
    one run per seed, not four (labels such as experiment_name and claim do not enter the run's key)."""
    ids = ["claims/keys/residual_type", "claims/keys/bntt_vs_bn", "claims/keys/fewer_inference_steps"]
    jobs = plan([load_claim(i) for i in ids], tmp_path, quick=False)
    base = {(j.claim.id, j.arm): j.run_dir for j in jobs if j.seed == 0}
    shared = {base[ids[0], "s2s"], base[ids[1], "bntt"], base[ids[2], "T8"], base[ids[2], "T6"]}
    assert len(shared) == 1
    assert base[ids[0], "s2m"] not in shared and base[ids[1], "bn"] not in shared
    assert len({j.run_dir for j in jobs}) == 3 * 4  # s2s, v2v, s2m, bn x 3 seeds


def test_a_metric_the_kind_cannot_measure_and_a_bad_compare_T_are_refused():
    base = {
        "paper": "X",
        "paper_says": "p",
        "source": "Fig. 1",
        "test": "t",
        "kind": "firing",
        "metric": "best_acc1",
        "arms": {"a": [], "b": []},
        "seeds": [0],
        "rule": {"type": "greater", "a": "a", "b": ["b"], "margin": 1},
    }
    with pytest.raises(
        ConfigError, match="metric='best_acc1' is not allowed for kind firing; allowed: last_rate_O"
    ):
        parse_claim("claims/x", base)
    memory = {**base, "kind": "memory", "metric": "saved_bytes_ratio"}
    for bad in (None, [20, 5], [5], ["a", 5]):
        with pytest.raises(ConfigError, match="compare_T"):
            parse_claim("claims/x", {**memory, "compare_T": bad})


def test_log_spread_is_infinite_when_the_deepest_block_is_silent_and_zero_when_flat():
    blocks = [{"rate_O": 0.2, "grad_norm": 1e-3}, {"rate_O": 0.0, "grad_norm": 1e-3}]
    assert block_metric(blocks, "rate_log_spread") == math.inf
    assert block_metric(blocks, "grad_log_spread") == 0.0
    assert block_metric(blocks, "last_rate_O") == 0.0


def test_eval_and_memory_claims_end_to_end_quick(tmp_path):
    """tdbn/folding: one training, evaluated unfolded and folded (TDBN Eq. 9-10: the same accuracy);
    dsr/memory_flat: autograd's saved bytes at T=20 over T=5, flat for DSR, ~x4 for BPTT."""
    claims = [
        load_claim(f"claims/{c}") for c in ("tdbn/folding", "dsr/memory_flat", "keys/fewer_inference_steps")
    ]
    fold, memory, steps = run_claims(claims, tmp_path, quick=True, n_jobs=1)
    # KEYS Table 16: one training (T=8), evaluated with its first 8, 6 and 4 steps and BNTT layers
    (keys_run,) = {r for rs in steps["runs"].values() for r in rs}
    last = json.loads((Path(keys_run) / "metrics.json").read_text())["last_acc1"]
    assert steps["values"]["T8"][0] == pytest.approx(last)  # at the training T: the trainer's own number
    assert steps["values"]["T8"][0] != steps["values"]["T4"][0]
    (run,) = set(fold["runs"]["folded"]) | set(fold["runs"]["unfolded"])
    assert (tmp_path / "runs").glob("*") and run.startswith(str(tmp_path / "runs"))
    assert fold["values"]["folded"] == pytest.approx(fold["values"]["unfolded"], abs=0.25)
    assert fold["verdict"] == HOLDS
    assert memory["values"]["dsr_flat"][0] < 1.2 and memory["values"]["bptt"][0] > 3.0
    assert memory["verdict"] == HOLDS


def test_infinite_values_average_to_infinity_and_decide():
    from snnexp.claims.verdict import mean_std

    m, s = mean_std([math.inf, 0.3, math.inf])
    assert m == math.inf and math.isnan(s)
    rule = {"type": "greater", "a": "none", "b": ["tdbn"], "margin": 0.5}
    assert decide(rule, {"none": [math.inf, 2.0], "tdbn": [0.1, 0.2]}) == HOLDS
