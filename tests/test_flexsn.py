"""FlexSN cores: every snnexp neuron with a surrogate spikingjelly cannot fuse runs, with
``trainer.flexsn=true`` on CUDA, its core (neurons/flex.py) as a FlexSN Triton scan.

Checked here without a GPU, against the loop each core replaces (the neuron's own path):
  - FlexSN's CPU scan of the core: spikes, dL/dx, the final v and parameter gradients, bitwise,
    threshold ties included;
  - the Triton kernels FlexSN generates from the same core, run by Triton's interpreter on CPU
    (tests/flex_triton.py): spikes, dL/dx and v bitwise; PLIF's dL/dw to rounding (the kernel
    sums it per element, then over elements, in another order);
  - the switch (engine/fastpath.py), the fallback when a kernel does not build, and whole models.
On a GPU machine the ``cuda`` tests compare the real Triton scan with the loop.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch
from spikingjelly.activation_based import functional
from spikingjelly.activation_based.neuron.flexsn import FlexSN

from conftest import FAST, neuron_examples
from snnexp.config import compose
from snnexp.engine import fastpath
from snnexp.neurons import flex
from snnexp.parts import Parts

# every neuron with a FlexSN core, at its YAML values and in its reset / leak variants, as its
# module declares them (NeuronTraits.flexsn, .examples); the DSR neurons' scans are tested at the
# end of this file (their output is V_th-weighted spikes, their threshold a parameter)
CASES = neuron_examples(lambda t: t.flexsn and not t.dsr)
NOT_FUSED = ["rect", "triangle", "constant"]  # at their YAML values (KEYS's triangle: 0.3, width 1)


@functools.cache
def cfg(*overrides: str):
    return compose(list(overrides))


def node(case: str, surrogate: str):
    return Parts(cfg(*CASES[case], f"surrogate={surrogate}")).neuron()


def inputs(device="cpu") -> torch.Tensor:
    """[T=8, 4, 33]: quarters (the membrane lands exactly on the threshold now and then) and
    Gaussians; x = 1 at t = 0 is a tie at V_th = 1 for every neuron (v starts at 0)."""
    g = torch.Generator().manual_seed(0)
    x = torch.cat(
        [torch.randint(-3, 7, (8, 2, 33), generator=g) / 4.0, torch.randn(8, 2, 33, generator=g) * 1.2], 1
    )
    x[0, :, :5] = 1.0
    return x.to(device)


@contextlib.contextmanager
def scans_counted(scan: bool):
    """Count FlexSN's scans (any implementation) and, with ``scan``, require one beyond the check:
    a layer that fell back to its loop would compare the loop with itself."""
    calls = []
    real = FlexSN.multi_step_functional_forward

    def counted(self, *a, **k):
        calls.append(1)
        return real(self, *a, **k)

    with mock.patch.object(FlexSN, "multi_step_functional_forward", counted):
        yield
    assert len(calls) >= 2 if scan else not calls  # the first-call check, then the scan itself


def run(n, x: torch.Tensor, *, scan: bool):
    """(spikes, dL/dx, v after T, [dL/dp]) for L = sum(spikes * fixed weights)."""
    functional.reset_net(n)
    n.flex_scan = scan
    for p in n.parameters():
        p.grad = None
    x = x.clone().requires_grad_()
    with scans_counted(scan):
        s = n(x)
    assert n.flex_scan == scan  # no fallback
    (s * torch.linspace(-1, 1, s.numel(), device=s.device).reshape(s.shape)).sum().backward()
    return s.detach(), x.grad, n.v.detach(), [p.grad.clone() for p in n.parameters()]


def assert_same(got, ref, *, param_rtol: float = 0.0):
    (s, gx, v, gp), (rs, rgx, rv, rgp) = got, ref
    assert torch.equal(s, rs) and torch.equal(v, rv)
    assert torch.equal(gx, rgx), (gx - rgx).abs().max()
    for a, b in zip(gp, rgp, strict=True):
        torch.testing.assert_close(a, b, rtol=param_rtol, atol=0.0)


# ------------------------------------------------------------------------------ FlexSN's scan
@pytest.mark.parametrize("surrogate", NOT_FUSED)
@pytest.mark.parametrize("case", CASES)
def test_flexsn_scan_of_the_core_equals_the_loop_bitwise(case, surrogate):
    n = node(case, surrogate)
    ref = run(n, inputs(), scan=False)
    assert ref[0].sum() > 0 and ref[1].abs().sum() > 0  # spikes and gradient to compare
    assert_same(run(n, inputs(), scan=True), ref)


@pytest.mark.parametrize("surrogate", ["atan", "sigmoid"])
@pytest.mark.parametrize("case", CASES)
def test_flexsn_scan_with_a_fused_surrogate_equals_the_loop_to_rounding(case, surrogate):
    # spikingjelly's registered op for ATan/Sigmoid has a hand-written backward: the same
    # derivative, other rounding (one ulp); the engine never moves these layers to FlexSN anyway
    n = node(case, surrogate)
    (s, gx, v, gp), (rs, rgx, rv, rgp) = run(n, inputs(), scan=True), run(n, inputs(), scan=False)
    assert torch.equal(s, rs) and torch.equal(v, rv)
    for a, b in zip([gx, *gp], [rgx, *rgp], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case, fires", [("if", True), ("tdbn_lif", False), ("tdbn_lif-ge-detached", True)])
def test_threshold_ties_fire_as_each_paper_says(case, fires):
    # SEW: heaviside(H - V_th) with heaviside(0) = 1; TDBN Eq. 3: only u > V_th fires
    n = node(case, "rect")
    n.flex_scan = True
    s = n(torch.ones(1, 3))  # v = 0: the membrane is exactly V_th = 1
    assert s.tolist() == [[float(fires)] * 3]


def test_bf16_input_gives_bf16_spikes_and_an_fp32_membrane():
    n = node("keys_lif", "triangle")
    x = inputs().to(torch.bfloat16)
    ref = run(n, x, scan=False)
    got = run(n, x, scan=True)
    assert got[0].dtype == torch.bfloat16 and n.v.dtype == torch.float32
    assert_same(got, ref)


def test_the_scan_is_built_once_and_anew_when_a_constant_changes():
    n = node("tdbn_lif", "rect")
    n.flex_scan = True
    scans = lambda: list(n.__dict__["_flex_cache"].values())  # noqa: E731
    n(inputs())
    (first,) = scans()
    functional.reset_net(n)
    n(inputs())
    assert scans() == [first]
    n.v_threshold = 0.5
    functional.reset_net(n)
    s = n(inputs())
    assert len(scans()) == 2 and scans()[0] is first
    n.flex_scan = False
    functional.reset_net(n)
    assert torch.equal(s, n(inputs()))
    assert not any("flex" in k for k in n.state_dict())


def test_a_scan_that_fails_falls_back_to_the_loop_with_one_warning(monkeypatch, capsys):
    def broken(self, *a, **k):
        raise RuntimeError("triton: no kernel\nsecond line")

    a, b = node("lif", "rect"), node("lif", "rect")
    ref = run(b, inputs(), scan=False)
    monkeypatch.setattr(FlexSN, "multi_step_functional_forward", broken)
    monkeypatch.setattr(flex, "_WARNED", set())
    a.flex_scan = True
    x = inputs().requires_grad_()
    s = a(x)
    assert a.flex_scan is False  # for good
    (s * torch.linspace(-1, 1, s.numel()).reshape(s.shape)).sum().backward()
    assert_same((s.detach(), x.grad, a.v, []), ref)  # ran the loop, from an untouched state
    c = node("lif", "rect")
    c.flex_scan = True
    c(inputs())
    err = capsys.readouterr().err
    assert err.count("snnexp: warning: FlexSN scan of LIFNode failed (RuntimeError: triton: no kernel)") == 1
    assert "second line" not in err


def test_a_core_captures_no_tensor_or_module():
    # FlexSN's rule (it rejects such cores); a learnable value (PLIF's w) is a static input,
    # passed on each call, and nothing else is
    for case in CASES:
        n = node(case, "triangle")
        core, statics = n.flex_core()
        flex._frozen(core)  # hashable description: floats, functions, no tensors
        FlexSN(core, num_states=1, static_inputs=tuple(torch.zeros(()) for _ in statics))
        assert [id(t) for t in statics] == [id(p) for p in n.parameters()]


# ------------------------------------------------------------------------------ the Triton kernels
needs_triton = pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton not installed")


@pytest.fixture(scope="module")
def interpreted(tmp_path_factory):
    """Every (case, surrogate) through the Triton kernels in one interpreter process."""
    d = tmp_path_factory.mktemp("triton")
    x = inputs().flatten(1)
    weights = torch.linspace(-1, 1, x.numel()).reshape(x.shape)
    cases = {f"{case}/{sg}": [*CASES[case], f"surrogate={sg}"] for case in CASES for sg in NOT_FUSED}
    cases |= {f"{n}/{sg}": [*DSR_CASES[n], f"surrogate={sg}"] for n in DSR_CASES for sg in NOT_FUSED}
    torch.save({"x": x, "weights": weights, "cases": cases}, d / "in.pt")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    script = Path(__file__).with_name("flex_triton.py")
    p = subprocess.run(
        [sys.executable, script, d / "in.pt", d / "out.pt"], env=env, capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return x, torch.load(d / "out.pt", weights_only=True)


@needs_triton
@pytest.mark.parametrize("surrogate", NOT_FUSED)
@pytest.mark.parametrize("case", CASES)
def test_triton_kernels_of_the_core_equal_the_loop_in_the_interpreter(case, surrogate, interpreted):
    x, results = interpreted
    s, gx, gstatic, v, s_nograd = results[f"{case}/{surrogate}"]
    ref = run(node(case, surrogate), x, scan=False)
    assert torch.equal(s, ref[0]) and torch.equal(s_nograd, ref[0]) and torch.equal(v, ref[2])
    assert torch.equal(gx, ref[1]), (gx - ref[1]).abs().max()
    for a, b in zip(gstatic, ref[3], strict=True):  # PLIF's w: the kernel sums in another order
        torch.testing.assert_close(a.reshape(b.shape), b, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ the switch
def test_flexsn_takes_the_layers_spikingjelly_cannot_fuse_on_cuda_only():
    model = torch.nn.Sequential(node("if", "atan"), node("keys_lif", "triangle"), node("tdbn_lif", "rect"))
    model.append(Parts(cfg("neuron=dsr_if")).neuron())
    paths = lambda **k: [r.path for r in fastpath.layer_paths(model, dtype=torch.float32, **k)]  # noqa: E731
    F, S, C, L = fastpath.FUSED, fastpath.FLEXSN, fastpath.COMPILED, fastpath.LOOP
    assert paths(device="cuda", compiled=False, flexsn=True) == [F, S, S, S]
    assert paths(device="cuda", compiled=True, flexsn=True) == [F, C, C, C]  # compile wins
    assert paths(device="cpu", compiled=False, flexsn=True) == [L, L, L, L]  # FlexSN on CPU: a loop
    rows = fastpath.layer_paths(model, device="cuda", dtype=torch.float32, compiled=False)
    assert all("trainer.flexsn=true" in r.fix for r in rows[1:])
    flexed = fastpath.layer_paths(model, device="cuda", dtype=torch.float32, compiled=False, flexsn=True)
    assert fastpath.use_flexsn(model, flexed) == 3
    assert [m.flex_scan for m in model] == [False, True, True, True]
    fastpath.require_fast(flexed, device="cuda")  # a FlexSN scan is a fast path
    with pytest.raises(Exception, match="LIFNode runs the Python loop.*trainer.flexsn=true"):
        fastpath.require_fast(rows, device="cuda")


def test_eval_takes_the_flexsn_scan_on_cuda_when_the_run_config_asks():
    model = torch.nn.Sequential(node("if", "atan"), node("tdbn_lif", "rect"))
    on, off = cfg("trainer.flexsn=true"), cfg()
    assert fastpath.flexsn_for_eval(on, model, torch.device("cuda")) == 1 and model[1].flex_scan
    assert fastpath.flexsn_for_eval(on, model, torch.device("cpu")) == 0 and not model[1].flex_scan
    assert fastpath.flexsn_for_eval(off, model, torch.device("cuda")) == 0


@pytest.mark.parametrize(
    "neuron, surrogate, memopt",
    [
        ("tdbn_lif", "rect", "none"),
        ("keys_lif", "triangle", "none"),
        ("lif", "constant", "none"),
        ("tdbn_lif", "triangle", "compress"),
    ],
)
def test_a_whole_model_trains_the_same_on_the_scan(neuron, surrogate, memopt):
    # memopt: checkpointing recomputes each block in backward, and stops a recomputation with an
    # exception raised inside the neuron: the scan must let it through (and still match)
    from snnexp.build import build_model
    from snnexp.engine import memopt as engine_memopt

    c = cfg(*FAST, f"neuron={neuron}", f"surrogate={surrogate}", "T=4")
    torch.manual_seed(0)
    model = build_model(c)
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])

    def grads(m):
        m.zero_grad()
        torch.nn.functional.cross_entropy(m(x), y).backward()
        functional.reset_net(m)
        return [p.grad.clone() for p in m.parameters()]

    ref = grads(model)
    engine_memopt.apply(model, memopt)
    rows = fastpath.layer_paths(model, device="cuda", dtype=torch.float32, compiled=False, flexsn=True)
    assert fastpath.use_flexsn(model, rows) > 0
    got = grads(model)
    assert all(m.flex_scan for m in model.modules() if isinstance(m, flex.FlexScan))  # no fallback
    assert all(torch.equal(a, b) for a, b in zip(got, ref, strict=True))


def test_train_with_flexsn_on_cpu_keeps_the_loop_and_says_so(tmp_path, capsys):
    import snnexp

    snnexp.train(cfg(*FAST, "trainer.flexsn=true", "neuron=tdbn_lif", "trainer.epochs=1"), run_dir=tmp_path)
    assert "neuron path on cpu: TDBNLIFNode x5 [" in capsys.readouterr().out


def test_summary_shows_the_flexsn_scan_on_cuda(capsys):
    from snnexp.commands import summary

    summary.task(cfg(*FAST, "surrogate=rect", "trainer.flexsn=true"), set())
    assert "IFNode x5 [Rect(alpha=1.0, spiking=True)]: FlexSN scan (surrogate Rect" in capsys.readouterr().out


# ------------------------------------------------------------------------------ DSR neurons
# every neuron with the DSR backward (NeuronTraits.dsr), at the threshold its module gives for
# test-sized inputs (V_th = 6 would leave few spikes)
DSR_CASES = neuron_examples(lambda t: t.dsr)


def dsr_node(neuron: str, *extra: str):
    n = Parts(cfg(*DSR_CASES[neuron], *extra)).neuron()
    n.train()
    return n


def dsr_run(n, x: torch.Tensor, *, scan: bool):
    """(out, v, dL/dx, dL/dV_th) of one simulation, L = sum(out * fixed weights)."""
    functional.reset_net(n)
    n.flex_scan, n.v_threshold.grad = scan, None
    x = x.clone().requires_grad_()
    with scans_counted(scan):
        out = n(x)
    assert n.flex_scan == scan  # no fallback
    (out * torch.linspace(-1, 1, out.numel(), device=out.device).reshape(out.shape)).sum().backward()
    return out.detach(), n.v.detach(), x.grad, n.v_threshold.grad


@pytest.mark.parametrize("neuron", DSR_CASES)
@pytest.mark.parametrize("grad", ["dsr", "surrogate"])
def test_dsr_simulation_on_the_scan_equals_the_loop_bitwise(neuron, grad):
    # grad=dsr: the scan replaces _DSRFunction's forward loop (its backward is Eq. 16-17, 19);
    # grad=surrogate: BPTT through the scan, V_th a static input with its gradient
    n = dsr_node(neuron, f"neuron.grad={grad}", "surrogate=triangle")
    ref = dsr_run(n, inputs(), scan=False)
    got = dsr_run(n, inputs(), scan=True)
    assert ref[0].count_nonzero() > 20 and ref[2].abs().sum() > 0
    for a, b in zip(got, ref, strict=True):
        assert torch.equal(a, b), (a - b).abs().max()


@pytest.mark.parametrize("neuron", DSR_CASES)
def test_dsr_record_pass_on_the_scan_equals_the_loop_and_the_one_pass_forward(neuron):
    def record(scan: bool, chunks):
        n = dsr_node(neuron)
        n.flex_scan, n.dsr_phase = scan, "record"
        with torch.no_grad():
            out = torch.cat([n(c) for c in chunks])  # the sums carry over chunks (record_chunk)
        return [out, n.v, *n.dsr_record, *n.dsr_sums[:2]]

    x = inputs()
    ref = record(False, [x])
    for got in (record(True, [x]), record(True, [x[:3], x[3:]]), record(False, [x[:3], x[3:]])):
        assert all(torch.equal(a, b) for a, b in zip(got, ref, strict=True))
    assert torch.equal(ref[0], dsr_run(dsr_node(neuron), x, scan=False)[0])  # = _DSRFunction's


def test_dsr_scan_is_for_fp32_only():
    n = dsr_node("dsr_if")
    model = torch.nn.Sequential(n)
    for dtype, path in ((torch.float32, fastpath.FLEXSN), (torch.bfloat16, fastpath.LOOP)):
        (row,) = fastpath.layer_paths(model, device="cuda", dtype=dtype, compiled=False, flexsn=True)
        assert row.path == path
    n.flex_scan = True
    x = inputs().to(torch.bfloat16)
    n(x)
    assert "_flex_cache" not in n.__dict__  # the loop ran


@needs_triton
@pytest.mark.parametrize("surrogate", NOT_FUSED)
@pytest.mark.parametrize("neuron", DSR_CASES)
def test_dsr_triton_kernels_equal_the_loops_in_the_interpreter(neuron, surrogate, interpreted):
    x, results = interpreted
    record, (out, gx, gstatic, v, out_nograd) = results[f"{neuron}/{surrogate}"]
    n = dsr_node(neuron, f"surrogate={surrogate}")
    n.dsr_phase = "record"
    with torch.no_grad():
        ref_out = n(x)
    # the no-grad kernel returns the final static (V_th, carried as a state) too
    assert all(torch.equal(a, b) for a, b in zip(record[:4], [ref_out, n.v, *n.dsr_sums[:2]], strict=True))
    b = dsr_node(neuron, f"surrogate={surrogate}", "neuron.grad=surrogate")
    ref = dsr_run(b, x, scan=False)
    assert torch.equal(out, ref[0]) and torch.equal(out_nograd, ref[0]) and torch.equal(v, ref[1])
    assert torch.equal(gx, ref[2])
    torch.testing.assert_close(gstatic[0].reshape(()), ref[3], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("formulation", ["per_step", "flat"])
@pytest.mark.parametrize("neuron", DSR_CASES)
def test_a_dsr_model_trains_the_same_on_the_scan(neuron, formulation):
    import snnexp
    from snnexp.methods.dsr import DSR

    c = snnexp.compose(["data=digits", f"neuron={neuron}", "model.width=8", "T=6", "method=dsr"])
    torch.manual_seed(0)
    model = snnexp.build_model(c)
    method = DSR(
        formulation=formulation,
        flat_bn="recorded",
        record_chunk=0,
        calibrate_thresholds=False,
        threshold_percentile=99.9,
    )
    method.prepare(model)
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])

    def grads():
        model.zero_grad()
        out = method.flat_forward(model, model, x) if formulation == "flat" else model(x)
        torch.nn.functional.cross_entropy(out, y).backward()
        functional.reset_net(model)
        return [p.grad.clone() for p in model.parameters() if p.grad is not None]

    state = {k: v.clone() for k, v in model.state_dict().items()}
    ref = grads()
    model.load_state_dict(state)
    rows = fastpath.layer_paths(model, device="cuda", dtype=torch.float32, compiled=False, flexsn=True)
    assert fastpath.use_flexsn(model, rows) > 0
    got = grads()
    assert all(m.flex_scan for m in model.modules() if isinstance(m, flex.FlexScan))  # no fallback
    assert len(ref) > 5 and all(torch.equal(a, b) for a, b in zip(got, ref, strict=True))


# ------------------------------------------------------------------------------ on a GPU
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("surrogate", NOT_FUSED)
@pytest.mark.parametrize("case", CASES)
def test_cuda_triton_scan_equals_the_loop(case, surrogate):
    n = node(case, surrogate).cuda()
    ref = run(n, inputs("cuda"), scan=False)
    got = run(n, inputs("cuda"), scan=True)
    for scan in n.__dict__["_flex_cache"].values():
        assert all(scan._triton_capability.values()), "FlexSN fell back from its Triton kernel"
    assert torch.equal(got[0], ref[0])  # spikes; gradients to rounding (the GPU may fuse mul-adds)
    for a, b in zip([got[1], got[2], *got[3]], [ref[1], ref[2], *ref[3]], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("grad", ["dsr", "surrogate"])
@pytest.mark.parametrize("neuron", DSR_CASES)
def test_cuda_dsr_triton_scan_equals_the_loop(neuron, grad):
    n = dsr_node(neuron, f"neuron.grad={grad}", "surrogate=triangle").cuda()
    ref = dsr_run(n, inputs("cuda"), scan=False)
    got = dsr_run(n, inputs("cuda"), scan=True)
    for scan in n.__dict__["_flex_cache"].values():
        assert all(scan._triton_capability.values()), "FlexSN fell back from its Triton kernel"
    assert torch.equal(got[0], ref[0])
    for a, b in zip(got[1:], ref[1:], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
