"""method=dsr's streamed record pass (``method.record_chunk=N``, methods/_dsr_stream.py): the same
record, gradients and BN running statistics as the one-pass record (record_chunk=0), with train-mode
BN, max pooling, dropout and sequence inputs, and a record pass whose peak memory does not grow
with T (<= 1.15 from T=5 to T=20)."""

from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import functional, layer
from torch import nn

import snnexp
from snnexp.build import build_method
from snnexp.errors import ConfigError
from snnexp.methods.dsr import DSR
from snnexp.models.base import SpikingNet
from snnexp.parts import Parts


def method(chunk: int) -> DSR:
    return DSR(
        formulation="flat",
        flat_bn="recorded",
        record_chunk=chunk,
        calibrate_thresholds=False,
        threshold_percentile=99.9,
    )


def sew_mini(neuron: str, T: int = 6) -> nn.Module:
    """The digits model of tests/test_dsr_learns.py: BN (train mode), max pooling, SEW ADD, rate readout."""
    cfg = snnexp.compose(
        ["data=digits", f"neuron={neuron}", "model.readout=rate", "model.width=8", f"T={T}", "method=dsr"]
    )
    return snnexp.build_model(cfg)


def step(model: nn.Module, x, y, chunk: int):
    """One flat DSR step: the gradients, the BN running statistics after it, the logits."""
    model.zero_grad()
    torch.manual_seed(7)  # dropout masks: the same draws for every chunk size
    out = method(chunk).flat_forward(model, model, x)
    nn.functional.cross_entropy(out, y).backward()
    functional.reset_net(model)
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    running = {k: b.clone() for k, b in model.named_buffers() if "running" in k or "num_batches" in k}
    return grads, running, out.detach()


def compare(model, x, y, chunks=(1, 4)) -> None:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    ref = step(model, x, y, 0)
    assert len(ref[0]) > 10 and len(ref[1]) > 3
    for chunk in chunks:
        model.load_state_dict(state)  # the same running statistics before each step
        got = step(model, x, y, chunk)
        torch.testing.assert_close(got[2], ref[2], atol=1e-5, rtol=1e-4)
        for a, b in ((got[0], ref[0]), (got[1], ref[1])):
            assert a.keys() == b.keys()
            for k in b:
                # the default message names the largest difference; keep it, say where
                torch.testing.assert_close(
                    a[k], b[k], atol=1e-5, rtol=1e-4, msg=lambda m, k=k, c=chunk: f"chunk {c}: {k}: {m}"
                )


@pytest.mark.parametrize("neuron", ["dsr_if", "dsr_lif"])
def test_streamed_record_equals_the_one_pass_record(neuron):
    torch.manual_seed(0)
    model = sew_mini(neuron)
    method(1).prepare(model)
    model.train()
    x, y = torch.rand(8, 1, 8, 8) * 2, torch.randint(0, 10, (8,))
    compare(model, x, y)


def test_streamed_record_with_a_sequence_input_and_dropout():
    """Frames [T, B, ...] are sliced in time; spikingjelly's Dropout keeps one mask per simulation,
    and every pass starts from the same random state, so all passes and the replay share it."""
    torch.manual_seed(1)
    p = Parts(snnexp.compose(["neuron=dsr_if", "norm=bn", "T=5", "neuron.v_threshold=0.5"]))
    stem = nn.Sequential(layer.Conv2d(2, 6, 3, padding=1, step_mode="m"), p.norm(6))
    body = nn.Sequential(
        p.neuron(),
        layer.Dropout(0.3, step_mode="m"),
        layer.Conv2d(6, 6, 3, padding=1, step_mode="m"),
        p.norm(6),
        p.neuron(),
        layer.MaxPool2d(2, 2, step_mode="m"),
    )
    model = SpikingNet(p.T, stem, body, p.readout("rate", 6 * 16, 3))
    method(1).prepare(model)
    model.train()
    x, y = (torch.rand(5, 6, 2, 8, 8) > 0.6).float(), torch.tensor([0, 1, 2, 1, 0, 2])
    compare(model, x, y, chunks=(1, 2, 5))


def two_layer_net(T: int) -> SpikingNet:
    """conv-BN-N-conv-BN-N-avgpool-rate on 32x32: activations, not weights, fill the memory."""
    p = Parts(snnexp.compose(["neuron=dsr_if", "norm=bn", f"T={T}", "neuron.v_threshold=0.5"]))
    stem = nn.Sequential(layer.Conv2d(1, 8, 3, padding=1, step_mode="m"), p.norm(8))
    body = nn.Sequential(
        p.neuron(),
        layer.Conv2d(8, 8, 3, padding=1, step_mode="m"),
        p.norm(8),
        p.neuron(),
        layer.AvgPool2d(8, 8, step_mode="m"),
    )
    return SpikingNet(p.T, stem, body, p.readout("rate", 8 * 16, 3))


def step_peak_bytes(T: int, chunk: int) -> int:
    """Peak bytes torch allocates on CPU during one flat step (profiler allocation events)."""
    from snnexp.analysis.memory import cpu_allocated_peak

    torch.manual_seed(0)
    model = two_layer_net(T)
    method(chunk).prepare(model)
    model.train()
    x, y = torch.rand(16, 1, 32, 32) * 2, torch.randint(0, 3, (16,))

    def one_step():
        out = method(chunk).flat_forward(model, model, x)
        nn.functional.cross_entropy(out, y).backward()
        functional.reset_net(model)

    return cpu_allocated_peak(one_step)


def test_streamed_record_peak_memory_does_not_grow_with_T():
    # 5 steps per chunk: T=5 is one chunk, T=20 four; the one-pass record holds [T, B, ...]
    streamed = step_peak_bytes(20, 5) / step_peak_bytes(5, 5)
    one_pass = step_peak_bytes(20, 0) / step_peak_bytes(5, 0)
    assert streamed <= 1.15, streamed
    assert one_pass > 2.0, one_pass


@pytest.mark.parametrize("bad", ["-1", "1.5", "true", "many"])
def test_a_bad_record_chunk_is_one_clear_error(bad):
    cfg = snnexp.compose(["method=dsr", "neuron=dsr_if", f"method.record_chunk={bad}"])
    with pytest.raises(
        ConfigError, match=rf"(?i)record_chunk=.*{bad.split('.')[0]}.*(must be int|time steps >= 1)"
    ):
        build_method(cfg)


def _tdbn_net() -> SpikingNet:
    torch.manual_seed(0)  # the same weights in every process
    p = Parts(snnexp.compose(["neuron=dsr_if", "norm=tdbn", "T=4", "neuron.v_threshold=0.5"]))
    stem = nn.Sequential(layer.Conv2d(1, 4, 3, padding=1, step_mode="m"), p.norm(4))
    body = nn.Sequential(p.neuron(), layer.Conv2d(4, 4, 3, padding=1, step_mode="m"), p.norm(4), p.neuron())
    return SpikingNet(p.T, stem, body, p.readout("rate", 4 * 64, 3))


def _recorded_statistics(model: SpikingNet, x: torch.Tensor, chunk: int) -> list:
    from snnexp.methods.dsr import dsr_nodes

    m, stats = method(chunk), {}
    m.prepare(model)
    model.train()
    m._record(model, x, dsr_nodes(model), stats, {}, rewind=lambda: None)
    functional.reset_net(model)
    return [stats[n] for n in model.modules() if n in stats and hasattr(n, "sync")]  # the tdBNs


def _rank_statistics(rank: int, world: int, init: str, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    model = _tdbn_net()
    for m in model.modules():
        if hasattr(m, "sync"):
            m.sync = True  # what trainer.sync_bn does to tdBN
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2
    part = x[rank * 4 : (rank + 1) * 4]
    torch.save({c: _recorded_statistics(model, part, c) for c in (0, 2)}, f"{out}/rank{rank}.pt")
    dist.barrier()  # gloo aborts a rank that leaves while its peer still talks (test_ddp_tdbn.py)
    dist.destroy_process_group()


def test_synced_bn_records_the_statistics_of_every_rank(tmp_path):
    """trainer.sync_bn under DDP: the record (one pass or streamed) keeps the statistics BN
    normalised with, those of the global batch, as one process with the whole batch does."""
    import torch.multiprocessing as mp

    mp.spawn(_rank_statistics, args=(2, f"file://{tmp_path}/init", str(tmp_path)), nprocs=2, join=True)
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2
    whole = _recorded_statistics(_tdbn_net(), x, 0)
    assert len(whole) == 3  # two in the body, one in the rate readout
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        for chunk in (0, 2):
            for (mean, var), (ref_mean, ref_var) in zip(got[chunk], whole, strict=True):
                torch.testing.assert_close(mean, ref_mean, atol=1e-6, rtol=1e-5)
                torch.testing.assert_close(var, ref_var, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("decay", [1.0, 0.95])
def test_max_pool_record_is_bitwise_the_same_for_every_chunking(decay):
    """The replay's max pool routes its gradient by the argmax of the recorded average, and sums
    of spike rates tie exactly: an average that moved by an ulp with the chunking (or with the
    CPU's vector width) sent the gradient elsewhere. The record sums step by step in one order."""
    from snnexp.methods import _dsr_bn as dsr_bn

    torch.manual_seed(0)
    pool = layer.MaxPool2d(2, 2, step_mode="m")
    xs = (torch.rand(7, 3, 2, 6, 6) > 0.5).float() * 0.3 / 0.05  # weighted spikes V_th s / dt
    records = []
    for n in (7, 1, 3):
        store: dict = {}
        with dsr_bn.record_outputs([pool], store, decay):
            for x in xs.split(n):
                pool(x)
        records.append(store[pool])
    for n, got in zip((1, 3), records[1:], strict=True):
        diff = (got - records[0]).abs().max().item()
        assert torch.equal(got, records[0]), f"chunks of {n}: largest difference {diff:.3e}"
    want = dsr_bn_weighted_average(pool(xs), decay)
    torch.testing.assert_close(records[0], want, rtol=1e-6, atol=1e-6)


def dsr_bn_weighted_average(out: torch.Tensor, decay: float) -> torch.Tensor:
    """sum_n lambda^{N-n} out[n] / sum_n lambda^{N-n} (DSR Sec. 3.4's weighted firing rate)."""
    T = out.shape[0]
    w = torch.tensor([decay ** (T - 1 - t) for t in range(T)], dtype=torch.float64)
    return (torch.tensordot(w / w.sum(), out.double(), dims=1)).float()
