"""method=dsr must learn: on the real scikit-learn digits, IF and LIF DSR neurons reach
>= 95 % test accuracy. Settings: the demo model sew_mini (width 16, BN, max pooling, SEW ADD
blocks) with the DSR readout ``rate`` (fc-BN1d-neuron, output = spike representation), T=6,
8 epochs of method=dsr's flat formulation with SGD lr 0.1 momentum 0.9 wd 5e-4 (DSR's optimiser),
cosine, batch 32, the neurons' paper defaults (IF: V_th 6, alpha 0.5; LIF: V_th 0.3, alpha 0.3,
tau 1, dt 0.05)."""

from __future__ import annotations

import pytest

import snnexp

SETTINGS = [
    "method=dsr",
    "method.formulation=flat",  # the memory-flat step (per_step: the authors' _DSRFunction path)
    "model.readout=rate",
    "model.width=16",
    "T=6",
    "trainer.epochs=8",
    "optim=sgd",
    "optim.lr=0.1",
    "optim.weight_decay=5e-4",
    "logger=none",
    "trainer.progress=false",
    "trainer.keep_best=false",
]


@pytest.mark.parametrize("neuron", ["dsr_if", "dsr_lif"])
def test_dsr_learns_digits(neuron, tmp_path):
    cfg = snnexp.compose(["data=digits", f"neuron={neuron}", *SETTINGS])
    m = snnexp.train(cfg, run_dir=str(tmp_path / "run"))
    assert m["best_acc1"] >= 95.0, m
