"""torch.compile over snnexp's neurons: one graph, the same spikes and gradients as eager,
a compile failure falls back to eager with one warning, a second model compiles in the same
process, and a compiled training run resumes.

The default run traces with the aot_eager backend (dynamo + AOT autograd, the part that breaks on
graph breaks and custom autograd Functions, in ~1 s); the Inductor-on-CPU runs (C++ codegen,
10-30 s cold on a busy 2-core machine) are marked slow."""

from __future__ import annotations

import functools

import pytest
import torch
from spikingjelly.activation_based import functional

import snnexp
from conftest import FAST, neuron_examples
from snnexp.config import compose
from snnexp.engine import fastpath
from snnexp.parts import Parts

EXAMPLES = neuron_examples(variants=False)  # every neuron, as its module says a test should build it
# every spiking neuron that declares one graph (NeuronTraits.fullgraph), with a surrogate
# spikingjelly fuses (IF/LIF/PLIF: its registered op), one it does not (its Python loop) and
# snnexp's own autograd Function (TDBN's SimpleBaseNode runs its own loop with each)
CASES = [
    (neuron, surrogate)
    for neuron in neuron_examples(lambda t: t.spiking and t.fullgraph, variants=False)
    for surrogate in ("atan", "rect", "triangle")
]


@functools.cache
def cfg(*overrides: str):
    return compose(list(overrides))


def tiny_net(neuron: str, surrogate: str) -> torch.nn.Module:
    torch.manual_seed(0)
    parts = Parts(cfg(*EXAMPLES[neuron], f"surrogate={surrogate}"))
    lins = [torch.nn.Linear(6, 6) for _ in range(2)]
    with torch.no_grad():
        for lin in lins:  # enough drive that the neurons fire and reset within T
            lin.weight.abs_().mul_(2.0)
    return torch.nn.Sequential(lins[0], parts.neuron(), lins[1], parts.neuron())


def run(net, fn, x):
    """Spikes and every gradient (input, weights, PLIF w) of one forward/backward."""
    net.zero_grad()
    x = x.clone().requires_grad_()
    y = fn(x)
    (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    functional.reset_net(net)
    return [y.detach(), x.grad] + [p.grad.clone() for p in net.parameters()]


def assert_same(a, b, atol=0.0):
    for u, v in zip(a, b, strict=True):
        assert torch.allclose(u, v, atol=atol, rtol=0) if atol else torch.equal(u, v)


@pytest.mark.parametrize(("neuron", "surrogate"), CASES)
def test_one_graph_with_the_eager_spikes_and_gradients(neuron, surrogate):
    net = tiny_net(neuron, surrogate)
    x = torch.rand(5, 3, 6)
    eager = run(net, net, x)
    torch._dynamo.reset()  # without it the second net compiled in a process can hit a dynamo assertion
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)  # fullgraph: a break fails
    assert_same(run(net, compiled, x), eager)
    assert eager[0].sum() > 0  # the nets spike


@pytest.mark.slow
@pytest.mark.parametrize(("neuron", "surrogate"), [("if", "atan"), ("plif", "atan")])
def test_inductor_on_cpu_equals_eager(neuron, surrogate):
    net = tiny_net(neuron, surrogate)
    x = torch.rand(5, 3, 6)
    eager = run(net, net, x)
    torch._dynamo.reset()
    assert_same(run(net, torch.compile(net), x), eager, atol=1e-6)


@pytest.mark.parametrize("scope", ["model", "neurons"])
def test_a_compile_failure_runs_eager_with_one_warning(scope, monkeypatch, capsys):
    def broken(*a, **k):
        raise RuntimeError("no C compiler\nsecond line")

    monkeypatch.setattr(torch, "compile", lambda fn, **k: broken)
    net = tiny_net("if", "atan")
    x = torch.rand(5, 3, 6)
    eager = run(net, net, x)
    wrapped = fastpath.CompiledOrEager(net, scope=scope)
    assert_same(run(net, wrapped, x), eager)
    assert_same(run(net, wrapped, x), eager)
    err = capsys.readouterr().err.splitlines()
    assert err == ["snnexp: warning: torch.compile failed (RuntimeError: no C compiler); running eager"]
    assert list(wrapped.state_dict()) == ["net." + k for k in net.state_dict()]  # no second copy
    assert all(m._compiled_call_impl is None for m in net)  # neurons: Module.compile undone


def test_neuron_scope_compiles_the_neurons_in_place_with_the_eager_results():
    net = tiny_net("keys_lif", "triangle")
    x = torch.rand(5, 3, 6)
    eager = run(net, net, x)
    keys = list(net.state_dict())
    wrapped = fastpath.CompiledOrEager(net, backend="aot_eager", scope="neurons")
    assert_same(run(net, wrapped, x), eager)
    assert [m._compiled_call_impl is not None for m in net] == [False, True, False, True]
    assert wrapped.failed is None and list(net.state_dict()) == keys  # no "_orig_mod." in checkpoints


def test_a_second_model_compiles_in_the_same_process():
    for neuron, surrogate in [("if", "constant"), ("keys_lif", "triangle")]:
        net = tiny_net(neuron, surrogate)
        x = torch.rand(5, 3, 6)
        wrapped = fastpath.CompiledOrEager(net, backend="aot_eager")
        assert_same(run(net, wrapped, x), run(net, net, x))
        assert wrapped.failed is None


@pytest.mark.slow
def test_compiled_training_runs_evaluates_and_resumes(tmp_path):
    run_cfg = cfg(*FAST, "trainer.compile=true", "trainer.stop_after_epochs=1")
    first = snnexp.train(run_cfg, run_dir=tmp_path)
    assert first["epochs_done"] == 1 and first["status"] == "stopped"  # stop_after_epochs: resumable
    resumed = snnexp.train(cfg(*FAST, "trainer.compile=true", "resume=auto"), run_dir=tmp_path)
    assert resumed["epochs_done"] == 2 and resumed["status"] == "finished"
    # a second, different model compiled in the same process (dynamo reset between them)
    plif = cfg(*FAST, "trainer.compile=true", "neuron=plif", "trainer.epochs=1")
    other = snnexp.train(plif, run_dir=tmp_path / "b")
    assert other["status"] == "finished"
    neurons = cfg(*FAST, "trainer.compile=true", "trainer.compile_scope=neurons", "trainer.epochs=1")
    assert snnexp.train(neurons, run_dir=tmp_path / "c")["status"] == "finished"
