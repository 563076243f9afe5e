"""A trained snnexp network as a NIR graph (Neuromorphic Intermediate Representation, nir 1.0), the
format neuromorphic hardware and other SNN libraries read.

The norms are folded into the convs first (TDBN Eq. 9-10, as ``snnexp fold``), then the network is
walked module by module:
- conv / fc -> ``Conv2d`` / ``Affine`` (``Linear`` without bias); flatten -> ``Flatten``;
- IF -> ``IF`` (r = 1/dt), LIF and PLIF (its learned leak, a constant once trained) -> ``LIF``
  (tau = tau_steps * dt; r = 1 when the input decays with the membrane, tau_steps when not;
  v_leak = v_reset), both with their hard reset; dt = 1e-4 s, NIR's usual step (graph metadata);
- a residual addition -> two edges into the consumer (NIR sums a node's inputs);
- global average pooling -> ``AvgPool2d`` over the whole map;
- max pooling, which NIR 1.0 has no node for, of a non-negative integer signal bounded by K (spikes:
  K = 1; after a SEW ADD block: the sum of its inputs' bounds): max = sum_k H(max_window(x) >= k)
  = sum_k Threshold_0.5(SumPool(Threshold_{k-0.5}(x))), exact for such inputs;
- the SEW readout (fc at every step, logits averaged over T): the graph's output is fc per step;
  a reader averages it over the T steps (graph metadata ``readout``).
The input is the static image presented at every step (direct encoding).

What NIR cannot express is refused with one line naming the first such layer and why: SEW AND/IAND
(a product of two spike trains), a soft reset, per-step norms (BNTT), the DSR neurons and readout,
the KEYS voting readout, a stochastic encoder, max pooling of real values.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from spikingjelly.activation_based import neuron as sj_neuron
from torch import nn

from snnexp.errors import UserError

DT = 1e-4  # seconds per step, as most NIR readers assume (spikingjelly's nir_exchange default)


class CannotExport(UserError):
    """A layer NIR has no node for."""


@dataclass
class Value:
    """A signal of the graph: the NIR nodes whose outputs sum to it, its per-sample shape, and the
    largest integer it can take (None: real-valued)."""

    sources: list[str]
    shape: tuple[int, ...]
    bound: int | None


def _arr(x) -> np.ndarray:
    return np.asarray(x.detach().double().cpu().numpy() if torch.is_tensor(x) else x, dtype=np.float32)


def _pair(x) -> np.ndarray:
    return np.array(x if isinstance(x, tuple | list) else (x, x), dtype=np.int64)


class GraphBuilder:
    def __init__(self, out_shapes: dict[str, tuple[int, ...]]):
        import nir

        self.nir = nir
        self.nodes: dict = {}
        self.edges: list[tuple[str, str]] = []
        self.out_shapes = out_shapes  # module name -> per-sample output shape of the forward

    def add(self, name: str, node, inputs: Value) -> None:
        self.nodes[name] = node
        self.edges += [(s, name) for s in inputs.sources]

    # ---- containers
    def module(self, name: str, m: nn.Module, v: Value) -> Value:
        from snnexp.blocks.sew import ResidualBlock
        from snnexp.readouts import Integrate, MeanOverTime

        if isinstance(m, nn.Sequential):
            for child_name, child in m.named_children():
                v = self.module(f"{name}.{child_name}", child, v)
            return v
        if isinstance(m, nn.Identity):
            return v
        if isinstance(m, ResidualBlock):
            return self.block(name, m, v)
        if isinstance(m, MeanOverTime | Integrate):
            if getattr(m, "vote", None) is not None:
                raise CannotExport(f"{name} (voting readout): NIR has no 1-d average pool of the fc's votes")
            return self.linear(f"{name}.fc", m.fc, self.flatten(f"{name}.flatten", v))
        if isinstance(m, nn.Conv2d):
            return self.conv(name, m, v)
        if isinstance(m, nn.Linear):
            return self.linear(name, m, v)
        if isinstance(m, nn.Flatten):
            return self.flatten(name, v)
        if isinstance(m, nn.AdaptiveAvgPool2d):
            return self.global_avgpool(name, v)
        if isinstance(m, nn.MaxPool2d):
            return self.maxpool(name, m, v)
        if isinstance(m, sj_neuron.BaseNode):
            return self.neuron(name, m, v)
        if isinstance(m, nn.modules.batchnorm._BatchNorm) or getattr(m, "per_step", False):
            raise CannotExport(
                f"{name} ({type(m).__name__}): a norm that cannot fold into a conv (BNTT: one per step)"
            )
        raise CannotExport(f"{name} ({type(m).__name__}): NIR has no node for this layer")

    def block(self, name: str, b, s: Value) -> Value:
        if b.kind == "sew" and b.connect != "add":
            raise CannotExport(
                f"{name} (SEW block, g={b.connect.upper()}): a product of two spike trains has no NIR node"
            )
        x = s
        for i in range(1, b.n_convs + 1):
            x = self.module(f"{name}.conv{i}", getattr(b, f"conv{i}"), x)
            x = self.module(f"{name}.bn{i}", getattr(b, f"bn{i}"), x)
            if i < b.n_convs or b.kind != "spiking":
                x = self.module(f"{name}.sn{i}", getattr(b, f"sn{i}"), x)
        if b.kind == "plain":
            return x
        identity = s if b.downsample is None else self.module(f"{name}.downsample", b.downsample, s)
        both = Value(x.sources + identity.sources, x.shape, _sum_bound(x.bound, identity.bound))
        if b.kind == "spiking":  # O = SN(F(S) + S): both edges into the last neuron
            return self.module(f"{name}.sn{b.n_convs}", b.last_neuron, both)
        return both  # SEW ADD: O = A + S, summed by whoever reads it

    # ---- layers
    def conv(self, name: str, m: nn.Conv2d, v: Value) -> Value:
        if m.padding_mode != "zeros" or isinstance(m.padding, str):
            raise CannotExport(f"{name} (Conv2d): padding {m.padding!r}/{m.padding_mode} has no NIR form")
        bias = m.bias if m.bias is not None else torch.zeros(m.out_channels)
        node = self.nir.Conv2d(
            input_shape=tuple(int(d) for d in v.shape[1:]),
            weight=_arr(m.weight),
            stride=_pair(m.stride),
            padding=_pair(m.padding),
            dilation=_pair(m.dilation),
            groups=int(m.groups),
            bias=_arr(bias),
        )
        self.add(name, node, v)
        return Value([name], self.out_shapes[name], None)

    def linear(self, name: str, m: nn.Linear, v: Value) -> Value:
        w = _arr(m.weight)
        node = (
            self.nir.Affine(weight=w, bias=_arr(m.bias)) if m.bias is not None else self.nir.Linear(weight=w)
        )
        self.add(name, node, v)
        return Value([name], (m.out_features,), None)

    def flatten(self, name: str, v: Value) -> Value:
        if len(v.shape) == 1:
            return v
        self.add(name, self.nir.Flatten(input_type={"input": np.array(v.shape)}, start_dim=0, end_dim=-1), v)
        return Value([name], (int(np.prod(v.shape)),), v.bound)

    def global_avgpool(self, name: str, v: Value) -> Value:
        c, h, w = v.shape
        if self.out_shapes[name][1:] != (1, 1):
            raise CannotExport(f"{name} (AdaptiveAvgPool2d): only a global pool (output 1x1) maps to NIR")
        node = self.nir.AvgPool2d(kernel_size=_pair((h, w)), stride=_pair((h, w)), padding=_pair(0))
        self.add(name, node, v)
        return Value([name], (c, 1, 1), None)

    def maxpool(self, name: str, m: nn.MaxPool2d, v: Value) -> Value:
        if v.bound is None:
            raise CannotExport(
                f"{name} (MaxPool2d): NIR has no max pool, and its input here is real-valued "
                "(exact only for spikes or sums of spikes)"
            )
        if m.dilation not in (1, (1, 1)) or m.ceil_mode:
            raise CannotExport(f"{name} (MaxPool2d): dilation or ceil_mode has no NIR form")
        out_shape = self.out_shapes[name]
        outputs = []
        for k in range(1, v.bound + 1):
            level = v
            if v.bound > 1:  # H(x >= k) for integer x
                self.add(f"{name}.ge{k}", self.nir.Threshold(np.full(v.shape, k - 0.5, np.float32)), v)
                level = Value([f"{name}.ge{k}"], v.shape, 1)
            pool = self.nir.SumPool2d(
                kernel_size=_pair(m.kernel_size),
                stride=_pair(m.stride or m.kernel_size),
                padding=_pair(m.padding),
            )
            self.add(f"{name}.sum{k}", pool, level)
            pooled = Value([f"{name}.sum{k}"], out_shape, None)
            self.add(f"{name}.any{k}", self.nir.Threshold(np.full(out_shape, 0.5, np.float32)), pooled)
            outputs.append(f"{name}.any{k}")
        return Value(outputs, out_shape, v.bound)

    def neuron(self, name: str, m, v: Value) -> Value:
        kind = type(m).__name__
        if m.v_reset is None:
            raise CannotExport(f"{name} ({kind}): soft reset (subtract V_th); NIR's IF/LIF reset to v_reset")
        full = lambda x: np.full(v.shape, float(x), np.float32)  # noqa: E731
        if isinstance(m, sj_neuron.IFNode):
            node = self.nir.IF(r=full(1.0 / DT), v_threshold=full(m.v_threshold), v_reset=full(m.v_reset))
        elif isinstance(m, sj_neuron.LIFNode | sj_neuron.ParametricLIFNode):
            tau = float(m.tau) if isinstance(m, sj_neuron.LIFNode) else 1.0 / float(m.w.detach().sigmoid())
            node = self.nir.LIF(
                tau=full(tau * DT),
                r=full(1.0 if m.decay_input else tau),
                v_leak=full(m.v_reset),
                v_threshold=full(m.v_threshold),
                v_reset=full(m.v_reset),
            )
        else:
            raise CannotExport(f"{name} ({kind}): no NIR neuron has its dynamics (NIR: IF, LIF, CubaLIF)")
        self.add(name, node, v)
        return Value([name], v.shape, 1)


def _sum_bound(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def _output_shapes(model: nn.Module, example: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Per-sample output shape of every module in one forward of ``example`` ([B, C, H, W])."""
    from snnexp.analysis.hooks import hooks_attached

    shapes: dict[str, tuple[int, ...]] = {}

    def record(name: str):
        def hook(mod, inputs, out) -> None:  # returns None: the output stays as it is
            shapes.setdefault(name, tuple(out.shape[2:]))

        return hook

    hooks = [m.register_forward_hook(record(n)) for n, m in model.named_modules() if n]
    with hooks_attached(model, hooks), torch.no_grad():
        model(example)
    return shapes


def to_nir(model: nn.Module, image_shape: tuple[int, int, int], sequence: bool = False):
    """(the NIR graph of ``model`` with its norms folded, the folded model it was read from)."""
    import nir

    from snnexp.encoders import Direct
    from snnexp.fold import fold_tdbn

    if not isinstance(getattr(model, "encoder", None), nn.Identity | Direct):
        raise CannotExport(f"encoder ({type(model.encoder).__name__}): only direct encoding maps to NIR")
    example = torch.rand(2, *image_shape)
    with warnings.catch_warnings():  # a norm left over is refused below, by name
        warnings.simplefilter("ignore")
        folded = fold_tdbn(model).eval()
    shapes = _output_shapes(folded, example)
    g = GraphBuilder(shapes)
    g.nodes["input"] = nir.Input(input_type={"input": np.array(image_shape)})
    v = Value(["input"], tuple(image_shape), None)
    for part in ("stem", "body", "readout"):
        v = g.module(part, getattr(folded, part), v)
    g.add("output", nir.Output(output_type={"output": np.array(v.shape)}), v)
    given = "one frame per step" if sequence else "the image at every step"
    meta = {"dt": DT, "readout": "mean of the output over the T steps", "input": given}
    return nir.NIRGraph(nodes=g.nodes, edges=g.edges, metadata=meta), folded


__all__ = ["CannotExport", "DT", "to_nir"]
