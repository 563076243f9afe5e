"""Composition: every value a user can set is checked; nothing is silently ignored."""

from __future__ import annotations

import pytest

from snnexp.config import compose
from snnexp.config.threads import parallel_jobs, resolve_threads
from snnexp.errors import ConfigError

BAD = [
    # eval's own keys are typed by its root schema: split=val used to evaluate the training set
    ("eval", ["ckpt=x.pt", "split=val"], "split='val' is not allowed; allowed: test, train"),
    ("eval", ["ckpt=x.pt", "split=bogus"], "split='bogus' is not allowed"),
    ("fold", ["ckpt=x.pt", "split=val"], "split='val' is not allowed"),
    ("analyze", ["what=firng"], "what='firng' is not allowed; did you mean 'firing'?"),
    ("analyze", ["bn_mode=x"], "bn_mode='x' is not allowed"),
    # + adds a key only where a schema allows it: a typo was accepted and ignored
    ("train", ["+trainer.epoch=3"], "unknown config key 'trainer.epoch'"),
    ("train", ["++trainer.epoch=3"], "did you mean 'epochs'?"),
    ("train", ["+sead=3"], "unknown config key 'sead'"),
    ("eval", ["ckpt=x.pt", "+splt=train"], "unknown config key 'splt'"),
    ("train", ["~seed"], "~seed: a key of the schema cannot be deleted"),
    ("train", ["trainer.clip_grad=-1"], "trainer.clip_grad=-1.0 is out of range: it must be > 0.0"),
    ("train", ["trainer.clip_grad=0"], "trainer.clip_grad=0.0 is out of range"),
    ("train", ["trainer.max_steps_per_epoch=-1"], "trainer.max_steps_per_epoch=-1 is out of range"),
    ("train", ["trainer.max_steps_per_epoch=0"], "it must be >= 1"),
    ("train", ["trainer.stop_after_epochs=-1"], "trainer.stop_after_epochs=-1 is out of range"),
    ("train", ["trainer.eval_batch_size=0"], "trainer.eval_batch_size=0 is out of range"),
    (
        "train",
        ["trainer.epochs=5", "sched.warmup_epochs=6"],
        "sched.warmup_epochs=6.0 is longer than the run",
    ),
    ("train", ["sched.t_max=0"], "sched.t_max=0 is out of range"),
    ("train", ["optim.betas=[2,3]"], "optim.betas[0]=2.0 is out of range: it must be >= 0.0 and < 1.0"),
    ("train", ["optim.betas=[0.9,1.5]"], "optim.betas[1]=1.5 is out of range"),
    ("train", ["optim.betas=[0.9]"], "optim.betas=[0.9] must have 2 values"),
    ("train", ["sched=multistep", "sched.milestones=[abc]"], "bad value for sched.milestones[0]"),
    ("train", ["sched=multistep", "sched.milestones=[-1]"], "sched.milestones[0]=-1.0 is out of range"),
    ("train", ["T=100000000000"], "T=100000000000 is out of range: it must be >= 1 and <= 10000"),
    ("train", ["data.test_fraction=2"], "data.test_fraction=2.0 is out of range: it must be > 0.0 and < 1.0"),
    ("train", ["data.test_fraction=0"], "data.test_fraction=0.0 is out of range"),
    ("train", ["data=synthetic", "data.train_size=0"], "data.train_size=0 is out of range"),
    ("train", ["threads=0"], "threads=0 must be auto or a whole number >= 1"),
    ("train", ["threads=many"], "threads='many' must be auto"),
]


@pytest.mark.parametrize("name,overrides,expected", BAD, ids=[" ".join(b[1]) for b in BAD])
def test_bad_value_is_refused_at_composition(name, overrides, expected):
    with pytest.raises(ConfigError) as e:
        compose(overrides, name)
    assert expected in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    "name,overrides",
    [
        ("train", ["+neuron.tau=2.0"]),  # open schema: the builder checks the key (test_errors)
        ("train", ["+paper_hparams.lr=0.1"]),
        ("train", ["trainer.epochs=5", "sched.warmup_epochs=5"]),
        ("train", ["threads=3"]),
        ("eval", ["ckpt=x.pt", "split=train"]),
        ("fold", ["ckpt=x.pt"]),
        ("train", ["experiment=sew/cifar10dvs_t8"]),
    ],
)
def test_good_values_still_compose(name, overrides):
    compose(overrides, name)


def test_eval_keeps_an_experiments_values():
    c = compose(["ckpt=x.pt", "experiment=sew/cifar10dvs_t8", "split=train"], "eval")
    assert c.T == 8 and c.split == "train" and c.experiment_name == "sew/cifar10dvs_t8"


def test_thread_policy(monkeypatch):
    monkeypatch.setattr("snnexp.config.threads.available_cpus", lambda: 2)
    assert resolve_threads("auto") == 1  # a 2-core machine: one thread (no spin-waiting under load)
    assert resolve_threads("auto", jobs=2) == 1
    monkeypatch.setattr("snnexp.config.threads.available_cpus", lambda: 16)
    assert resolve_threads("auto") == 4  # capped
    assert resolve_threads("auto", jobs=4) == 2  # per job of a joblib sweep
    assert resolve_threads(3) == 3 and resolve_threads("3") == 3
    assert parallel_jobs(-1) == 16 and parallel_jobs(-2) == 15 and parallel_jobs(2) == 2


def test_sew_dvs_gesture_follows_the_authors_run():
    """SEW Table 4 as the authors' released code and log ran it (Spike-Element-Wise-ResNet
    dvsgesture/train.py and its origin_logs)."""
    c = compose(["experiment=sew/dvs_gesture_table4"])
    assert c.block.zero_init is True  # the 97.92 % SEW ADD run: zero_init_residual=True
    assert compose(["experiment=sew/dvs_gesture_table4", "block=spiking"]).block.zero_init is False  # unknown
    assert c.data.temporal_delete_per == "batch" and c.trainer.drop_last is False
    assert (
        compose(["experiment=sew/dvs_gesture_table4", "data.temporal_delete_per=sample"]).data.T_train == 12
    )


def test_drop_last_false_keeps_the_partial_batch():
    from snnexp.data import build_data

    for drop, steps in ((True, 2), (False, 3)):
        cfg = compose(["debug=fast", "trainer.batch_size=24", f"trainer.drop_last={drop}"])
        assert len(build_data(cfg)[0].batch_sampler) == steps  # 64 samples: 24 + 24 (+ 16)
