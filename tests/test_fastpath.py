"""Neuron paths: which layers spikingjelly runs through its registered (on CUDA: fused)
op and which through the Python reference loop, the start-up report, the require_fast_path
switch, and the fp32 membrane state under bf16/fp16.

spikingjelly's IF/LIF/PLIF multi-step functions choose between the registered op and the
reference loop by the same conditions on CPU as on CUDA (surrogate, dtypes, PLIF w); only what the
registered op runs differs (a fused kernel on CUDA). So patching the reference loop on CPU tells
exactly whether a layer would get the fused kernel on a GPU."""

from __future__ import annotations

import functools

import pytest
import torch
from spikingjelly._ops.if_ import reference as if_ref
from spikingjelly._ops.lif import reference as lif_ref
from spikingjelly._ops.plif import reference as plif_ref
from spikingjelly.activation_based import functional
from spikingjelly.activation_based import neuron as sj_neuron

from conftest import FAST, neuron_examples
from snnexp.config import compose
from snnexp.engine import fastpath
from snnexp.errors import ConfigError
from snnexp.neurons._state import Fp32State
from snnexp.neurons.dsr import DSRNode
from snnexp.neurons.flex import FlexScan
from snnexp.parts import Parts
from snnexp.registry import NEURONS

# every neuron in each of its test-sized examples (declared with it: neurons/traits.py)
EXAMPLES = neuron_examples()
FUSED_NEURONS = list(neuron_examples(lambda t: t.fused))
SURROGATES = ["atan", "sigmoid", "rect", "triangle", "constant"]
DTYPES = [torch.float32, torch.bfloat16, torch.float16]
# on a GPU machine the same tests check the CUDA dispatch (the fused kernel runs instead of the loop)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
# the surrogates spikingjelly's fused kernels accept, among snnexp's options at their YAML values
FUSED_SURROGATES = {"atan", "sigmoid"}


@functools.cache
def cfg(*overrides: str):
    return compose(list(overrides))


def node(case: str, surrogate: str):
    return Parts(cfg(*EXAMPLES[case], f"surrogate={surrogate}")).neuron()


# ------------------------------------------------------------------------------------- traits
@pytest.mark.parametrize("case", EXAMPLES)
def test_every_neuron_is_what_its_traits_declare(case):
    # the traits are the one list of which neuron has which path; the layer itself decides at
    # run time (fastpath.layer_paths), so the two must agree, in every example configuration
    t = NEURONS.traits(EXAMPLES[case][0].removeprefix("neuron="))
    n = node(case, "atan")  # a surrogate spikingjelly fuses: only the node's class decides
    assert fastpath.is_neuron(n) == t.spiking
    assert (fastpath.fused_kind(n) is not None) == t.fused
    assert (isinstance(n, FlexScan) and n.flex_supports(torch.float32)) == t.flexsn
    assert isinstance(n, DSRNode) == t.dsr
    assert isinstance(n, Fp32State) == t.fp32_state


def ran_reference_loop(n, x: torch.Tensor, monkeypatch) -> bool:
    """Run n on x and say whether spikingjelly took its Python reference loop."""
    calls = []
    for mod in (if_ref, lif_ref, plif_ref):
        original = mod.multi_step

        def spy(*a, _original=original, **k):
            calls.append(1)
            return _original(*a, **k)

        monkeypatch.setattr(mod, "multi_step", spy)
    n(x)
    functional.reset_net(n)
    monkeypatch.undo()
    return bool(calls)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("neuron", FUSED_NEURONS)
def test_the_reported_path_is_the_one_spikingjelly_takes(neuron, surrogate, dtype, device, monkeypatch):
    n = node(neuron, surrogate).to(device)
    x = torch.rand(3, 2, 4).to(device, dtype)
    reason, _ = fastpath.why_not_fused(n, dtype)
    assert ran_reference_loop(n, x, monkeypatch) == bool(reason)
    # with fp32 membrane state, only the surrogate decides: atan and sigmoid are fused in every dtype
    assert (not reason) == (surrogate in FUSED_SURROGATES)


def test_spikingjelly_nodes_with_input_dtype_state_fall_back_under_bf16(monkeypatch):
    # the finding, kept as a regression guard: plain spikingjelly IFNode + ATan makes v bf16
    n = sj_neuron.IFNode(surrogate_function=Parts(cfg("surrogate=atan")).surrogate(), step_mode="m")
    reason, fix = fastpath.why_not_fused(n, torch.bfloat16)
    assert "membrane state is torch.bfloat16" in reason and "_state.py" in fix
    assert ran_reference_loop(n, torch.rand(3, 2, 4, dtype=torch.bfloat16), monkeypatch)
    assert fastpath.why_not_fused(n, torch.float32) == ("", "")


@pytest.mark.parametrize("learn_leak", [False, True])
def test_keys_lif_firing_above_the_threshold_is_not_reported_as_fused(learn_leak):
    # fire=gt replaces spikingjelly's multi-step forward with its own loop (neurons/lif.py): the
    # start-up line must not claim the fused kernel it never runs
    net = torch.nn.Sequential(
        Parts(cfg("neuron=keys_lif", "neuron.fire=gt", f"neuron.learn_leak={learn_leak}")).neuron()
    )
    assert fastpath.fused_kind(net[0]) is None, type(net[0]).__mro__
    (row,) = fastpath.layer_paths(net, device="cuda", dtype=torch.float32, compiled=False)
    assert row.path == fastpath.LOOP, row


@pytest.mark.parametrize("neuron", neuron_examples(lambda t: t.spiking and not t.fused, variants=False))
def test_neurons_without_a_spikingjelly_kernel_loop_unless_compiled(neuron):
    net = torch.nn.Sequential(Parts(cfg(*EXAMPLES[neuron])).neuron())
    (row,) = fastpath.layer_paths(net, device="cuda", dtype=torch.float32, compiled=False)
    assert row.path == fastpath.LOOP and "no fused kernel" in row.reason and "compile=true" in row.fix
    (row,) = fastpath.layer_paths(net, device="cuda", dtype=torch.float32, compiled=True)
    assert row.path == fastpath.COMPILED


def test_layer_paths_group_a_model_by_type_and_surrogate():
    model = torch.nn.Sequential(node("if", "atan"), node("if", "atan"), node("plif", "rect"))
    rows = fastpath.layer_paths(model, device="cuda", dtype=torch.bfloat16, compiled=False)
    assert [(r.layer_type, r.count, r.path) for r in rows] == [
        ("IFNode", 2, fastpath.FUSED),
        ("ParametricLIFNode", 1, fastpath.LOOP),
    ]
    assert "Rect is not one of spikingjelly's fused surrogates" in rows[1].line()
    cpu = fastpath.layer_paths(model, device="cpu", dtype=torch.float32, compiled=True)
    assert {r.path for r in cpu} == {fastpath.COMPILED}  # no fused kernels on CPU


def test_require_fast_path_names_the_layer_the_reason_and_the_fix():
    model = torch.nn.Sequential(node("lif", "triangle"))
    rows = fastpath.layer_paths(model, device="cuda", dtype=torch.float32, compiled=False)
    with pytest.raises(ConfigError, match=r"LIFNode runs the Python loop on cuda \(surrogate Triangle.*atan"):
        fastpath.require_fast(rows, device="cuda")
    fastpath.require_fast(
        fastpath.layer_paths(model, device="cuda", dtype=torch.float32, compiled=True), device="cuda"
    )


# ------------------------------------------------------------------------------------- fp32 state
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("neuron", neuron_examples(lambda t: t.fp32_state))
@pytest.mark.parametrize("surrogate", ["atan", "rect"])
def test_membrane_state_is_fp32_and_spikes_keep_the_input_dtype(neuron, surrogate, dtype):
    n = node(neuron, surrogate)
    x = (torch.rand(6, 3, 5) * 0.7).to(dtype)
    out = n(x)
    assert out.dtype == dtype and n.v.dtype == torch.float32
    ref = node(neuron, surrogate)  # the same layer on the fp32 copy of the input: the same spikes
    assert torch.equal(out.float(), ref(x.float()))
    assert torch.equal(n.v, ref.v)


@pytest.mark.parametrize("device", DEVICES)
def test_fp32_state_matches_under_bf16_autocast_and_stays_fused(device, monkeypatch):
    torch.manual_seed(0)
    conv = torch.nn.Linear(5, 5).to(device)
    n, ref = node("lif", "atan").to(device), node("lif", "atan").to(device)
    x = torch.rand(4, 3, 5, device=device)
    with torch.autocast(device, dtype=torch.bfloat16):
        h = conv(x)  # bf16 under autocast
    assert not ran_reference_loop(n, h, monkeypatch)  # the registered (on CUDA: fused) op
    out = n(h)
    assert h.dtype == torch.bfloat16 and n.v.dtype == torch.float32
    assert torch.equal(out.float(), ref(h.float()))


def test_fp32_state_keeps_increments_a_bf16_state_loses():
    # 1 + 2^-9 is not representable in bf16 (8 bits of mantissa): a bf16 v stops charging
    n = node("if", "atan")
    n.v_threshold = 2.0
    x = torch.tensor([[1.0], [2.0**-9]] + [[2.0**-9]] * 3, dtype=torch.bfloat16)
    n(x)
    assert n.v.item() == 1.0 + 4 * 2.0**-9


# ------------------------------------------------------------------------------------- start-up
def test_train_logs_the_neuron_paths(tmp_path, capsys):
    import snnexp

    snnexp.train(cfg(*FAST, "trainer.epochs=1"), run_dir=tmp_path)
    err = capsys.readouterr().out
    assert "snnexp: neuron path on cpu: IFNode x5 [ATan(alpha=2.0, spiking=True)]: Python loop" in err


def test_require_fast_path_stops_the_run_before_training(tmp_path):
    # a ConfigError: the CLI prints it as one "snnexp: error: ..." line, exit 2 (test_errors.py)
    import snnexp

    with pytest.raises(ConfigError) as e:
        snnexp.train(cfg(*FAST, "trainer.require_fast_path=true", "surrogate=rect"), run_dir=tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("trainer.require_fast_path: IFNode runs the Python loop on cpu")
    assert msg.endswith("make it fast with trainer.compile=true")
    assert not (tmp_path / "metrics.json").exists()


def test_summary_shows_the_paths_on_cuda_and_cpu(capsys):
    from snnexp.commands import summary

    summary.task(cfg(*FAST, "surrogate=rect", "trainer.amp=true"), set())
    out = capsys.readouterr().out
    assert "neuron paths on cuda, AMP bf16:" in out
    assert "IFNode x5 [Rect(alpha=1.0, spiking=True)]: Python loop (surrogate Rect" in out
    assert "neuron paths on cpu:\n  IFNode x5" in out


def test_on_cuda_the_report_names_spikingjellys_bound_kernel(monkeypatch, capsys):
    # spikingjelly's neuron_implementation asks the GPU; stand in for it to check the wiring
    from spikingjelly.activation_based import functional as sj_functional

    asked = []

    def implementation(kind, device, *, execution):
        asked.append((kind, device.type, execution))
        return {"implementation": "triton", "unavailable": {"cuda": "not built"}}

    monkeypatch.setattr(sj_functional, "neuron_implementation", implementation)
    model = torch.nn.Sequential(node("plif", "atan"), node("if", "rect"))
    fastpath.report(cfg(*FAST), model, torch.device("cuda"), compiled=False)
    err = capsys.readouterr().out
    assert "ParametricLIFNode x1 [ATan(alpha=2.0, spiking=True)]: fused kernel [spikingjelly: triton]" in err
    assert "IFNode x1 [Rect(alpha=1.0, spiking=True)]: Python loop" in err
    assert asked == [("plif", "cuda", "eager")]  # IFNode with Rect is not fused: not asked
