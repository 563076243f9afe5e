"""Which path each neuron layer type of a model takes, and the switch that makes a
fallback an error.

spikingjelly 2.0 runs a multi-step IF/LIF/PLIF layer through its registered fused kernel (CUDA
native or Triton; ``functional/neuron.py``, ``*_multi_step``) only when
  - the surrogate is one of its own recognised classes, exactly, with a float ``alpha`` and
    ``spiking=True`` (``_ops/surrogate.py: _surrogate_spec``),
  - the input dtype is fp32/fp16/bf16 and the membrane state ``v`` is fp32,
  - PLIF's ``w`` is 0-dim,
  - and the class overrides neither ``single_step_functional_forward`` nor
    ``multi_step_functional_forward`` (``IFNode.multi_step_forward``'s own check).
Otherwise it runs the Python reference loop over T. The conditions are evaluated here with
spikingjelly's own ``_surrogate_spec`` and ``_DTYPES`` and the node's own ``materialize_states``,
so what is reported is what spikingjelly will do. On CPU there is no fused kernel: the registered
op is a Python loop too, and ``torch.compile`` (Inductor) is the fast path.

Where spikingjelly cannot fuse, ``trainer.flexsn=true`` runs the neuron's FlexSN core as a Triton
scan on CUDA (neurons/flex.py); with ``trainer.compile=true`` the compiled loop is used instead.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from spikingjelly._ops.surrogate import _DTYPES, _SURROGATE_IDS, _surrogate_spec
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based.base import MemoryModule
from torch import nn

from snnexp.errors import ConfigError
from snnexp.neurons._state import Fp32State
from snnexp.neurons.flex import FlexScan
from snnexp.registry import NEURONS, load_builtin

FUSED, FLEXSN, COMPILED, LOOP = "fused kernel", "FlexSN scan", "compiled loop", "Python loop"
FAST_SURROGATES = tuple(_SURROGATE_IDS)  # class names spikingjelly's fused kernels know
# spikingjelly's multi-step functional of each node class that has a fused kernel
_FUSED_KINDS = (
    (sj_neuron.ParametricLIFNode, "plif"),
    (sj_neuron.LIFNode, "lif"),
    (sj_neuron.IFNode, "if"),
)
_DTYPE_NAMES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class LayerPath:
    layer_type: str  # the neuron class name
    surrogate: str  # its surrogate's repr ("" when it has none)
    count: int  # layers of this (type, surrogate) in the model
    path: str  # FUSED | COMPILED | LOOP
    reason: str  # why it is not fused ("" when it is)
    fix: str  # what would make it fused ("" when it is)

    def line(self) -> str:
        head = f"{self.layer_type} x{self.count}" + (f" [{self.surrogate}]" if self.surrogate else "")
        tail = f" ({self.reason}; fast with: {self.fix})" if self.reason else ""
        return f"{head}: {self.path}{tail}"


def is_neuron(m: torch.nn.Module) -> bool:
    """A spiking neuron layer: a stateful module with a threshold (spikingjelly nodes, DSR, TDBN)."""
    return isinstance(m, MemoryModule) and hasattr(m, "v_threshold")


def fused_kind(node: torch.nn.Module) -> str | None:
    """'if' / 'lif' / 'plif' when spikingjelly's multi-step op for that node can be fused."""
    for cls, kind in _FUSED_KINDS:
        if isinstance(node, cls):
            same = (
                type(node).single_step_functional_forward is cls.single_step_functional_forward
                and type(node).multi_step_functional_forward is cls.multi_step_functional_forward
                and not _own_multi_step(type(node), cls)
            )
            return kind if same else None
    return None


# mixins whose multi_step_forward ends in the spikingjelly node's (a dtype cast, a FlexSN scan that
# falls back to it when off); any other override (keys_lif's fire=gt loop) replaces the kernel
_PASS_THROUGH = (Fp32State, FlexScan)


def _own_multi_step(node_type: type, sj_cls: type) -> bool:
    for k in node_type.__mro__:
        if k is sj_cls:
            return False
        if "multi_step_forward" in k.__dict__ and k not in _PASS_THROUGH:
            return True
    return False


def _state_dtype(node, dtype: torch.dtype) -> torch.dtype:
    """The dtype of ``v`` that the node's own materialize_states creates for a ``dtype`` input."""
    x = torch.zeros((1, 1), dtype=dtype)
    return node.materialize_states((x,), (0.0,), "m")[0].dtype


def _fused_neurons() -> str:
    """The neuron options built on a node spikingjelly fuses, as their modules declare them
    (NeuronTraits.fused): ``neuron=if|keys_lif|lif|plif``."""
    load_builtin()  # a layer built by hand (not through Parts) may leave the registry unfilled
    return "neuron=" + "|".join(NEURONS.names(lambda t: t.fused))


def why_not_fused(node: torch.nn.Module, dtype: torch.dtype) -> tuple[str, str]:
    """('', '') when the node takes spikingjelly's fused kernel on CUDA for ``dtype`` inputs,
    else (reason, what would make it fused)."""
    kind = fused_kind(node)
    name = type(node).__name__
    if kind is None:
        return (
            f"spikingjelly 2.0 has no fused kernel for {name}",
            _fused_neurons(),
        )
    sg = node.surrogate_function
    if _surrogate_spec(sg) is None:
        return (
            f"surrogate {type(sg).__name__} is not one of spikingjelly's fused surrogates",
            "surrogate=atan|sigmoid (spikingjelly's " + "/".join(FAST_SURROGATES) + ", float alpha)",
        )
    if dtype not in _DTYPES:
        return f"input dtype {dtype} is not fp32/fp16/bf16", "fp32, fp16 or bf16 inputs"
    if _state_dtype(node, dtype) != torch.float32:
        return (
            f"membrane state is {_state_dtype(node, dtype)}, not fp32",
            "the snnexp neuron classes (neurons/_state.py keeps v in fp32)",
        )
    if kind == "plif" and (node.w.ndim != 0 or node.w.dtype not in _DTYPES):
        return f"PLIF w has shape {tuple(node.w.shape)}", "a 0-dim w (one tau per layer)"
    return "", ""


def layer_paths(
    model: nn.Module, *, device: str, dtype: torch.dtype, compiled: bool, flexsn: bool = False
) -> list[LayerPath]:
    """One LayerPath per (neuron type, surrogate) of ``model`` on ``device`` ('cuda' or 'cpu')
    for ``dtype`` inputs (the AMP dtype under trainer.amp), with or without torch.compile and
    trainer.flexsn."""
    groups: dict[tuple, list] = {}  # (class, surrogate) -> [first layer, count]
    for m in model.modules():
        if is_neuron(m):
            sg = getattr(m, "surrogate_function", None)
            entry = groups.setdefault((type(m), "" if sg is None else repr(sg)), [m, 0])
            entry[1] += 1
    return [
        _path(cls.__name__, sg, node, count, device=device, dtype=dtype, compiled=compiled, flexsn=flexsn)
        for (cls, sg), (node, count) in groups.items()
    ]


def _path(name, sg, node, count, *, device, dtype, compiled, flexsn) -> LayerPath:
    reason, fix = why_not_fused(node, dtype)
    if device == "cpu":  # the registered CPU op is a Python loop too, and so is FlexSN's CPU scan
        reason, fix = "no fused kernels on CPU", "trainer.compile=true"
    has_core = isinstance(node, FlexScan) and node.flex_supports(dtype)
    if not reason:
        path = FUSED
    elif compiled:
        path = COMPILED
    elif device == "cuda" and flexsn and has_core:
        path = FLEXSN
    else:
        path = LOOP
    if path == LOOP and device == "cuda":
        fix += " (or trainer.compile=true: a compiled loop" + (
            "; or trainer.flexsn=true: a FlexSN Triton scan)" if has_core else ")"
        )
    return LayerPath(name, sg, count, path, reason, fix)


def use_flexsn(model: nn.Module, rows: list[LayerPath]) -> int:
    """Switch every neuron layer whose reported path is FLEXSN to its FlexSN scan; the count."""
    chosen = {(r.layer_type, r.surrogate) for r in rows if r.path == FLEXSN}
    n = 0
    for m in model.modules():
        if isinstance(m, FlexScan) and is_neuron(m):
            sg = getattr(m, "surrogate_function", None)
            m.flex_scan = (type(m).__name__, "" if sg is None else repr(sg)) in chosen
            n += m.flex_scan
    return n


def flexsn_for_eval(cfg, model: nn.Module, device: torch.device) -> int:
    """Evaluation (no AMP, no compile): trainer.flexsn's FlexSN scans on CUDA; the layer count."""
    kind = "cuda" if device.type == "cuda" else "cpu"
    flexsn = bool(cfg.trainer.get("flexsn", False))
    return use_flexsn(
        model, layer_paths(model, device=kind, dtype=torch.float32, compiled=False, flexsn=flexsn)
    )


def amp_dtype(cfg, device: str) -> torch.dtype:
    """The dtype neurons see: the AMP dtype where trainer.amp applies (CUDA), else fp32."""
    if cfg.trainer.amp and device == "cuda":
        return _DTYPE_NAMES[cfg.trainer.amp_dtype]
    return torch.float32


def require_fast(rows: list[LayerPath], *, device: str) -> None:
    """trainer.require_fast_path=true: a layer left on the Python loop is an error."""
    for r in rows:
        if r.path == LOOP:
            raise ConfigError(
                f"trainer.require_fast_path: {r.layer_type} runs the Python loop on {device} "
                f"({r.reason}); make it fast with {r.fix}"
            )


def kernel_names(model: nn.Module, device: torch.device, compiled: bool, fused: set[str]) -> dict[str, str]:
    """On CUDA: the implementation spikingjelly bound for each fused node type (cuda | triton),
    from ``functional.neuron_implementation``; it asks the device, so never on CPU."""
    from spikingjelly.activation_based import functional

    out = {}
    for m in model.modules():
        kind = fused_kind(m) if is_neuron(m) else None
        if kind and type(m).__name__ in fused and type(m).__name__ not in out:
            try:
                info = functional.neuron_implementation(
                    kind, device, execution="compile" if compiled else "eager"
                )
                out[type(m).__name__] = str(info["implementation"])
            except (RuntimeError, ValueError) as e:  # no CUDA implementation: say so, do not fail
                out[type(m).__name__] = f"unavailable ({e})"
    return out


def report(cfg, model: torch.nn.Module, device: torch.device, *, compiled: bool, show: bool = True):
    """Log the path of each neuron layer type at start-up; raise if one falls back and
    trainer.require_fast_path is set."""
    kind = "cuda" if device.type == "cuda" else "cpu"
    flexsn = bool(cfg.trainer.get("flexsn", False))
    rows = layer_paths(model, device=kind, dtype=amp_dtype(cfg, kind), compiled=compiled, flexsn=flexsn)
    if show:
        fused = {r.layer_type for r in rows if r.path == FUSED}
        kernels = kernel_names(model, device, compiled, fused) if kind == "cuda" else {}
        for r in rows:
            which = (
                f" [spikingjelly: {kernels[r.layer_type]}]"
                if r.path == FUSED and r.layer_type in kernels
                else ""
            )
            print(f"snnexp: neuron path on {kind}: {r.line()}{which}")  # stdout: stderr is for errors
    if cfg.trainer.get("require_fast_path", False):
        require_fast(rows, device=kind)
    return rows


# ----------------------------------------------------------------------------- torch.compile
class CompiledOrEager(nn.Module):
    """``torch.compile(net)`` that falls back to eager ``net`` for good, with one warning, when
    compiling fails (no C compiler, an op Inductor cannot lower, a dynamo assertion): compiling
    is an optimisation and must never end a run. Parameters and state_dict are ``net``'s.

    ``scope="neurons"`` (trainer.compile_scope) compiles only the neuron layers, each in place
    (``Module.compile``), and leaves convolutions and norms to eager: on CPU a compiled ResNet-18
    step takes 1.07-1.12x the eager one (2 cores), so compiling the loops over T alone is the
    faster CPU path at small T (scripts/bench_fastpath.py)."""

    def __init__(self, net: nn.Module, *, backend: str = "inductor", scope: str = "model"):
        super().__init__()
        self.net = net
        self.failed: str | None = None
        # a second model in one process can hit a dynamo assertion on the first one's caches
        torch._dynamo.reset()
        import torch._inductor.config as inductor_config

        # what torch.use_deterministic_algorithms would have set (the trainer sets the eager flag)
        inductor_config.deterministic = torch.are_deterministic_algorithms_enabled()
        self._neurons = [m for m in net.modules() if is_neuron(m)] if scope == "neurons" else []
        for m in self._neurons:
            m.compile(backend=backend)
        compiled = net if scope == "neurons" else torch.compile(net, backend=backend)
        object.__setattr__(self, "compiled", compiled)  # not a second submodule

    def forward(self, *args, **kwargs):
        if self.failed is None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 -- any compile failure: run eager instead
                self.failed = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                msg = f"snnexp: warning: torch.compile failed ({self.failed}); running eager"
                print(msg, file=sys.stderr)
                from spikingjelly.activation_based import functional

                for m in self._neurons:
                    m._compiled_call_impl = None  # Module.compile undone
                functional.reset_net(self.net)  # a partly run compiled forward left neuron state
        return self.net(*args, **kwargs)


def prepare(cfg, net: nn.Module, model: nn.Module, device: torch.device, *, show: bool = True) -> nn.Module:
    """The engine's one call: report the neuron paths (and enforce trainer.require_fast_path),
    switch the layers reported as FlexSN scans to it, checkpoint the blocks (trainer.memopt, in
    place), then wrap ``net`` in torch.compile when trainer.compile is set."""
    from snnexp.engine import memopt

    compiled = bool(cfg.trainer.compile)
    rows = report(cfg, model, device, compiled=compiled, show=show)
    use_flexsn(model, rows)
    memopt.apply(model, str(cfg.trainer.get("memopt", "none")))
    scope = str(cfg.trainer.get("compile_scope", "model"))
    return CompiledOrEager(net, scope=scope) if compiled else net
