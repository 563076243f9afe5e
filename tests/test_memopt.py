"""trainer.memopt: spikingjelly's checkpointing with bit-compressed spikes over the
blocks gives the plain model's outputs and gradients bit for bit, stores less for backward, and
never packs a non-binary block input (a SEW-ADD block's input counts spikes: 0, 1, 2, ...)."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from spikingjelly.activation_based import functional

import snnexp
from conftest import FAST
from snnexp.engine import memopt
from snnexp.errors import ConfigError


@functools.cache
def cfg(*overrides: str):
    return snnexp.compose(list(overrides))


def step(net, x):
    """Output, every parameter gradient, the BN running stats, and the bytes saved for backward."""
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    net.train()
    net.zero_grad()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = net(x)
    y.sum().backward()
    functional.reset_net(net)
    return y.detach(), [p.grad for p in net.parameters()], list(net.buffers()), sum(saved)


@pytest.mark.parametrize("mode", ["checkpoint", "compress"])
@pytest.mark.parametrize(
    "overrides",
    [
        ("neuron=if",),
        ("neuron=plif", "block=spiking"),
        ("neuron=tdbn_lif", "surrogate=triangle", "norm=tdbn"),
    ],
    ids=["if-sew_add", "plif-spiking", "tdbn"],
)
def test_memopt_gives_the_plain_models_outputs_and_gradients(overrides, mode):
    torch.manual_seed(0)
    plain = snnexp.build_model(cfg(*FAST, *overrides))
    wrapped = memopt.apply(copy.deepcopy(plain), mode)
    assert list(wrapped.state_dict()) == list(plain.state_dict())  # checkpoints stay loadable
    x = torch.rand(4, 1, 8, 8)
    a, b = step(plain, x), step(wrapped, x)
    assert torch.equal(a[0], b[0]) and a[0].abs().sum() > 0
    assert all(torch.equal(u, v) for u, v in zip(a[1], b[1], strict=True))
    assert all(torch.equal(u, v) for u, v in zip(a[2], b[2], strict=True))  # BN stats updated once
    assert b[3] < a[3]  # less kept for backward


@pytest.mark.parametrize(("block", "packed_blocks"), [("spiking", "all"), ("sew_add", "first")])
def test_compress_packs_exactly_the_block_inputs_that_are_spikes(block, packed_blocks, monkeypatch):
    kinds = []
    original = memopt.CheckedBitCompressor.compress

    def spy(self, x):
        packed = original(self, x)
        kinds.append((packed[0], bool(((x == 0) | (x == 1)).all())))
        if packed[0] == "bits":  # 8 spikes per byte
            assert packed[1][0].numel() == -(-x.numel() // 8) and packed[1][0].dtype == torch.uint8
        return packed

    monkeypatch.setattr(memopt.CheckedBitCompressor, "compress", spy)
    torch.manual_seed(0)
    net = memopt.apply(snnexp.build_model(cfg(*FAST, f"block={block}")), "compress")
    step(net, torch.rand(4, 1, 8, 8))
    assert kinds and all((kind == "bits") == binary for kind, binary in kinds)
    if packed_blocks == "all":  # a spiking block's output is SN(...): every input is spikes
        assert {k for k, _ in kinds} == {"bits"}
    else:  # SEW-ADD: the first block sees the stem's spikes, the next ones count spikes
        assert kinds[0][0] == "bits" and "raw" in {k for k, _ in kinds}


def test_the_compressor_packs_spikes_and_keeps_counts():
    c = memopt.CheckedBitCompressor()
    spikes = (torch.rand(3, 5, 7) > 0.5).float()
    packed = c.compress(spikes)
    assert packed[0] == "bits" and torch.equal(c.decompress(packed), spikes)
    counts = spikes.clone()
    counts[0, 0, 0] = 2.0  # S + SN(F(S)) of a SEW-ADD block: packing would turn it into 0
    packed = c.compress(counts)
    assert packed[0] == "raw" and torch.equal(c.decompress(packed), counts)


def test_bad_mode_and_models_without_blocks_are_config_errors():
    with pytest.raises(ConfigError, match="expected one of none, checkpoint, compress"):
        memopt.apply(torch.nn.Linear(2, 2), "bits")
    with pytest.raises(ConfigError, match="no snnexp blocks"):
        memopt.apply(torch.nn.Sequential(torch.nn.Linear(2, 2)), "checkpoint")


def test_a_training_run_with_memopt_matches_the_plain_run(tmp_path):
    plain = snnexp.train(cfg(*FAST, "trainer.epochs=1"), run_dir=tmp_path / "a")
    packed = snnexp.train(cfg(*FAST, "trainer.epochs=1", "trainer.memopt=compress"), run_dir=tmp_path / "b")
    keys = ["last_train_loss", "last_test_loss", "last_acc1", "last_acc5"]
    assert [plain[k] for k in keys] == [packed[k] for k in keys]
