"""snnexp tune: TPE + Hyperband over config keys, trials through the engine, a resumable SQLite study
(KEYS Sec. 3.5, Table 9's BOHB search), on the digits data set."""

from __future__ import annotations

import json

import optuna
import pytest
from omegaconf import OmegaConf

from conftest import run_cli
from snnexp.config import compose
from snnexp.errors import ConfigError
from snnexp.tune import check_space, flat_space, run_search, suggest, trial_config

# digits (8x8, 1,797 real images; 5 % held out): the demo's SEW net, tiny, 3 batches per epoch, 3 epochs;
# the search is over the learning rate (a wide range: some trials learn nothing and get pruned)
BASE = ["data=digits", "data.test_fraction=0.05", "model=sew_mini", "model.width=8", "T=2"]
BASE += ["trainer.epochs=3"]
BASE += ["trainer.batch_size=32", "trainer.max_steps_per_epoch=3", "trainer.progress=false", "logger=none"]
SPACE = "+search.space.optim.lr={type: float, low: 1.0e-4, high: 1.0, log: true}"
SEARCH = ["search.sampler.n_startup_trials=2", "search.top_k=3", SPACE]


def tune_cfg(n_trials: int):
    return compose([*BASE, *SEARCH, f"search.n_trials={n_trials}"], "tune")


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_a_search_prunes_resumes_after_an_interruption_and_names_the_best(tmp_path):
    root = tmp_path / "search"
    first = run_search(tune_cfg(5), root)
    assert first["counts"]["COMPLETE"] + first["counts"]["PRUNED"] == 5
    assert first["counts"]["PRUNED"] >= 1  # Hyperband stopped a trial on its per-epoch accuracy
    status = {d.name: json.loads((d / "metrics.json").read_text()) for d in (root / "trials").iterdir()}
    pruned = [m for m in status.values() if m["status"] == "stopped"]
    assert len(pruned) == first["counts"]["PRUNED"] and all(m["epochs_done"] < 3 for m in pruned)

    # a search killed in the middle of a trial: the trial is still RUNNING in the study
    study = optuna.load_study(study_name="default", storage=f"sqlite:///{root / 'study.db'}")
    killed = study.ask()
    values = suggest(killed, flat_space(OmegaConf.to_container(tune_cfg(6).search.space)))
    resumed = run_search(tune_cfg(6), root)
    assert resumed["requeued"] == [killed.number]
    trials = optuna.load_study(study_name="default", storage=f"sqlite:///{root / 'study.db'}").trials
    assert trials[killed.number].state.name == "FAIL"
    assert any(
        t.params == values and t.state.name in ("COMPLETE", "PRUNED") for t in trials[killed.number + 1 :]
    )
    assert resumed["counts"]["COMPLETE"] + resumed["counts"]["PRUNED"] == 6  # 5 kept + the re-queued one

    best = resumed["best"]
    assert best["value"] == max(t.value for t in trials if t.state.name == "COMPLETE")
    lrs = sorted((t["params"]["optim.lr"] for t in resumed["top"]), reverse=False)
    assert resumed["stats"]["optim.lr"]["mean"] == pytest.approx(sum(lrs) / len(lrs))
    # the command prints the summary and names the best configuration (nothing left to run: no training)
    p = run_cli(
        "tune", *BASE, *SEARCH, "search.n_trials=6", f"hydra.run.dir={root}", cwd=tmp_path, check=True
    )
    assert f"best configuration: optim.lr={best['params']['optim.lr']:.6g}" in p.stdout
    assert f"trials/{best['number']}" in p.stdout
    assert (root / "search_summary.md").read_text().count("|") > 10


def test_the_space_is_checked_before_any_trial(tmp_path):
    cfg = compose([*BASE, "+search.space.neuron.leek={type: float, low: 0.1, high: 0.9}"], "tune")
    with pytest.raises(ConfigError, match="no key 'neuron.leek'"):
        check_space(cfg, flat_space(OmegaConf.to_container(cfg.search.space)))
    cfg = compose([*BASE, "+search.space.T={type: normal, low: 1, high: 2}"], "tune")
    with pytest.raises(ConfigError, match="type='normal'"):
        run_search(cfg, tmp_path)


def test_a_trial_config_follows_the_searched_values():
    cfg = trial_config(compose(["experiment=keys/table11"]), {"T": 20, "neuron.leak": 0.9})
    assert cfg.T == 20 and cfg.data.frames_number == 20 and cfg.neuron.leak == 0.9  # ${T} follows
    nested = {
        "optim": {"lr": {"type": "float", "low": 0.1, "high": 1.0}},
        "T": {"type": "int", "low": 1, "high": 2},
    }
    assert list(flat_space(nested)) == ["optim.lr", "T"]  # what +search.space.optim.lr=... makes
