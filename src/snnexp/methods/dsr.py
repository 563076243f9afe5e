"""DSR: differentiation on spike representation (Meng et al., CVPR 2022, Sec. 3.4, Eq. 16-17, 19).

The forward simulates T steps; the backward differentiates the representation map
o^i = clamp(k W^i o^{i-1}, 0, b_i) of every DSR layer instead of unrolling time. Two formulations
(``method.formulation``):

``flat``: what the backward keeps does not grow with T.
  1. *record*: the network runs its T-step forward under ``torch.no_grad``; every DSR neuron keeps
     its (weighted) average input I_hat and its spike representation r, both [B, ...]; every
     train-mode BN its T*B batch statistics; every max pool its time-averaged output.
  2. *replay*: the network runs once more on the representation of its input, [1, B, ...]:
     stateless layers run once on [B, ...], every DSR neuron returns its recorded r and
     back-propagates Eq. 16-17 (and Eq. 19 for V_th) at its recorded I_hat.
  Only phase 2 keeps a graph (saved tensors O(1) in T). The gradient reaching every DSR neuron is
  the per-step formulation's sum_n dL/dout[n] for layers that are affine in their input with one
  mask over time (conv, fc, average pooling, BN, a time-shared dropout mask). Train-mode BN
  (``method.flat_bn``): ``recorded`` normalises the average input with the recorded T*B statistics
  and back-propagates the per-step BN gradient summed over time (methods/_dsr_bn.py; exact when
  BN feeds a DSR neuron); ``average`` is BN of the averaged input with its own batch statistics
  (smaller variance: gradients 10-40x the per-step ones on the digits model). What stays
  approximate: the weight gradient of a layer whose input changes over time (sum_n g[n] x[n]^T
  becomes g_bar x_bar^T where BN's per-step terms do not factor) and max pooling, whose value is
  the recorded average but whose gradient is routed by the argmax of the averaged input.
  The record pass itself (``method.record_chunk: 0``) runs layer by layer on [T, B, ...] (a BN
  with T*B batch statistics can only normalise once all T steps of its input exist), so the peak
  memory of a step still grows with T, more slowly than BPTT's. ``record_chunk: N`` streams it N
  steps at a time and fixes the BN statistics one BN per pass (methods/_dsr_stream.py): peak flat
  in T, for about (train-mode BNs)/2 + 1 no-grad forwards; see scripts/bench_dsr.py.

``per_step`` (the default, see conf/method/dsr.yaml): the authors' code (qymeng94/DSR): one graph
  over the T-step forward ([T*B, ...]), each DSR neuron saving its whole input (``_DSRFunction``
  in snnexp.neurons.dsr). Exact for every layer, memory linear in T.

Measured on digits (tests/test_dsr_learns.py settings, T=6): with BN and average pooling, the flat
gradients of every conv/BN parameter have cosine >= 0.997 with the per-step ones (IF and LIF),
the readout fc (input varying over time, BN after it) 0.9; with max pooling 0.5-0.8 before the
last pool. Accuracies of the formulations: conf/method/dsr.yaml.

The readout is the spike representation of the last layer (readout ``rate``), the loss is the
configured one (cross-entropy in the paper). For ``flat``, dropout layers must share their mask
over time (``model.dropout_mask=shared``: spikingjelly's multi-step ``layer.Dropout``) so that both
passes see one mask: the random state is rewound between the passes. ``per_step`` also takes the
authors' mask per time step (``dropout_mask=per_step``, the DSR models' default).
"""

from __future__ import annotations

import contextlib

import torch
from spikingjelly.activation_based import base, functional
from torch import nn

from snnexp.engine.steps import StepContext
from snnexp.errors import ConfigError
from snnexp.methods import _dsr_bn as dsr_bn
from snnexp.methods import _dsr_hybrid as hybrid
from snnexp.methods import _dsr_stream as dsr_stream
from snnexp.methods.base import Method
from snnexp.models.base import uses_per_step_state
from snnexp.neurons.dsr import DSRNode, weighted_mean
from snnexp.registry import METHODS, NEURONS, load_builtin

FORMULATIONS = ("flat", "per_step")
FLAT_BN = ("recorded", "average")  # train-mode BN in the flat replay (module docstring)
CALIBRATIONS = ("validation", "train_batch")  # hybrid training's thresholds from (methods/_dsr_hybrid.py)


def dsr_nodes(model: nn.Module) -> list[DSRNode]:
    return [m for m in model.modules() if isinstance(m, DSRNode)]


def other_spiking_neurons(model: nn.Module) -> list[str]:
    """Class names of the spiking layers (stateful, with a threshold) that are not DSR neurons."""
    return sorted(
        {
            type(m).__name__
            for m in model.modules()
            if isinstance(m, base.MemoryModule) and hasattr(m, "v_threshold") and not isinstance(m, DSRNode)
        }
    )


@contextlib.contextmanager
def _phase(nodes: list[DSRNode], phase: str):
    for n in nodes:
        n.dsr_phase = phase
    try:
        yield
    finally:
        for n in nodes:
            n.dsr_phase = None


@contextlib.contextmanager
def _encoder_off(model: nn.Module):
    """Both passes take the already encoded input (a Poisson encoder draws once per batch)."""
    enc = getattr(model, "encoder", None)
    if enc is None:
        yield
        return
    model.encoder = nn.Identity()
    try:
        yield
    finally:
        model.encoder = enc


def _rng_state(device: torch.device):
    return torch.get_rng_state(), (torch.cuda.get_rng_state(device) if device.type == "cuda" else None)


def _set_rng_state(state, device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


@METHODS.register("dsr", paper="DSR")
class DSR(Method):
    name = "dsr"

    def __init__(
        self,
        *,
        formulation: str,
        flat_bn: str,
        record_chunk: int,
        calibrate_thresholds: bool,
        threshold_percentile: float,
        calibration: str = "train_batch",
        calibration_images: int = 720,
    ) -> None:
        super().__init__()
        if calibration not in CALIBRATIONS:
            raise ConfigError(f"method.calibration={calibration!r}; choose one of {', '.join(CALIBRATIONS)}")
        if (
            isinstance(calibration_images, bool)
            or not isinstance(calibration_images, int)
            or calibration_images < 1
        ):
            raise ConfigError(
                f"method.calibration_images={calibration_images!r}; use a number of images >= 1"
            )
        self.calibration, self.calibration_images = calibration, calibration_images
        if isinstance(record_chunk, bool) or not isinstance(record_chunk, int) or record_chunk < 0:
            raise ConfigError(
                f"method.record_chunk={record_chunk!r}; use 0 (the whole simulation at once) or a "
                "number of time steps >= 1 (the record pass streamed, memory flat in T)"
            )
        self.record_chunk = record_chunk
        if flat_bn not in FLAT_BN:
            raise ConfigError(f"method.flat_bn={flat_bn!r}; choose one of {', '.join(FLAT_BN)}")
        self.flat_bn = flat_bn
        if formulation not in FORMULATIONS:
            raise ConfigError(f"method.formulation={formulation!r}; choose one of {', '.join(FORMULATIONS)}")
        if not 0.0 < threshold_percentile <= 100.0:
            raise ConfigError(f"method.threshold_percentile must be in (0, 100], got {threshold_percentile}")
        self.formulation = formulation
        if record_chunk and formulation != "flat":
            raise ConfigError(
                f"method.record_chunk={record_chunk} streams the flat formulation's record pass; "
                f"method.formulation={formulation} has none (set method.formulation=flat or record_chunk=0)"
            )
        self.calibrate_thresholds = bool(calibrate_thresholds)
        self.threshold_percentile = float(threshold_percentile)
        # hybrid training starts from an ANN's checkpoint (init.from), which has no thresholds
        self.init_fresh = ("v_threshold",) if self.calibrate_thresholds else ()

    def prepare(self, model: nn.Module) -> None:
        """Every spiking neuron must be a DSR neuron; switch them to the DSR backward."""
        others = other_spiking_neurons(model)
        nodes = dsr_nodes(model)
        if others or not nodes:
            found = ", ".join(others) or "no spiking neuron"
            load_builtin()
            need = " or ".join(f"neuron={n}" for n in NEURONS.names(lambda t: t.dsr))  # NeuronTraits.dsr
            raise ConfigError(f"method=dsr needs {need} (the model has {found})")
        if len({n.decay for n in nodes}) > 1:
            raise ConfigError("method=dsr: all DSR neurons of a model must share tau and delta_t")
        if self.formulation == "flat" and uses_per_step_state(model):
            raise ConfigError(
                "method.formulation=flat needs norms shared by all time steps (not bntt); "
                "use method.formulation=per_step"
            )
        if self.formulation == "flat" and any(getattr(m, "per_step_mask", False) for m in model.modules()):
            raise ConfigError(
                "method.formulation=flat replays time averages, so dropout needs one mask for all "
                "steps: set model.dropout_mask=shared (or use method.formulation=per_step)"
            )
        if self.formulation == "flat" and any(n.is_lif and n.dsr_backward == "authors" for n in nodes):
            raise ConfigError(
                "neuron.dsr_backward=authors weights the per-step gradients, which the flat replay "
                "does not have; use neuron.dsr_backward=exact or method.formulation=per_step"
            )
        for n in nodes:
            n.grad = "dsr"
        if self.calibrate_thresholds:  # NaN until the first batch (a resume restores real ones)
            hybrid.mark_uncalibrated(nodes)

    def before_training(self, model: nn.Module, test_inputs) -> None:
        """Hybrid training with ``calibration: validation``: thresholds from the ANN's activation
        percentiles on the first ``calibration_images`` test-split images, in eval mode (the
        authors' imagenet/main.py --calculate_Vth)."""
        nodes = dsr_nodes(model)
        if not (
            self.calibrate_thresholds and self.calibration == "validation" and hybrid.needs_calibration(nodes)
        ):
            return
        batches, left = [], self.calibration_images
        with torch.no_grad():
            for x in test_inputs:
                static = x.dim() == getattr(model, "static_dims", x.dim())
                x = x[:left] if static else x[:, :left]  # [B, ...] or time-major [T, B, ...]
                xs = model.encoder(x) if hasattr(model, "encoder") else x
                batches.append(self._input_representation(model, xs, nodes))
                left -= x.shape[0 if static else 1]
                if left <= 0:
                    break
        if not batches:
            raise ConfigError("method.calibration=validation: the test split is empty")
        with _encoder_off(model):
            hybrid.calibrate_on_batches(model, nodes, batches, self.threshold_percentile)
        functional.reset_net(model)

    def calibrate_if_needed(self, model: nn.Module, x: torch.Tensor) -> None:
        """Hybrid training, ``calibration: train_batch``: thresholds from the ANN's activation
        percentiles on the first training batch (``validation``: :meth:`before_training`)."""
        nodes = dsr_nodes(model)
        if not (self.calibrate_thresholds and hybrid.needs_calibration(nodes)):
            return
        if self.calibration == "validation":
            raise RuntimeError(
                "DSR: thresholds still uncalibrated at the first step (before_training not called)"
            )
        with torch.no_grad():
            xs = model.encoder(x) if hasattr(model, "encoder") else x
            x_hat = self._input_representation(model, xs, nodes)
            with _encoder_off(model), dsr_bn.frozen_running_statistics(model):
                hybrid.calibrate(model, nodes, x_hat, self.threshold_percentile)
        functional.reset_net(model)

    @staticmethod
    def _input_representation(model: nn.Module, xs: torch.Tensor, nodes: list[DSRNode]) -> torch.Tensor:
        """The input as a one-step sequence [1, B, ...]: a static batch as is, a sequence averaged
        with the neurons' time weights."""
        static = xs.dim() == getattr(model, "static_dims", xs.dim())
        return (xs if static else weighted_mean(xs, nodes[0].decay)).unsqueeze(0)

    def train_step(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: StepContext):
        # on the whole batch, before any micro-batch: the thresholds do not depend on accumulate
        self.calibrate_if_needed(getattr(net, "module", net), x)
        return super().train_step(net, x, y, ctx)

    def micro_step(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: StepContext, weight: float):
        if self.formulation == "per_step":
            return super().micro_step(net, x, y, ctx, weight)
        model = getattr(net, "module", net)  # DDP
        try:
            with ctx.autocast():
                logits = self.flat_forward(net, model, x)
                loss = ctx.loss_fn(logits.float(), y)
            ctx.backward(loss if weight == 1.0 else loss * weight)
        finally:
            functional.reset_net(model)
            for n in dsr_nodes(model):
                n.dsr_record = None
        return loss.detach(), logits.detach()

    def flat_forward(self, net: nn.Module, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Phase 1 (record, no graph) then phase 2 (replay on the representations); returns the
        SNN's output representation, differentiable by Eq. 16-17."""
        nodes = dsr_nodes(model)
        with torch.no_grad():
            xs = model.encoder(x) if hasattr(model, "encoder") else x
        with _encoder_off(model):
            rng, stats, pooled = _rng_state(x.device), {}, {}
            self._record(model, xs, nodes, stats, pooled, rewind=lambda: _set_rng_state(rng, x.device))
            _set_rng_state(rng, x.device)
            if self.flat_bn != "recorded":
                stats = {}
            with (
                _phase(nodes, "replay"),
                dsr_bn.frozen_running_statistics(model),
                dsr_bn.replay_with_statistics(stats),
                dsr_bn.replay_with_outputs(pooled),
            ):
                return net(self._input_representation(model, xs, nodes))

    def _record(self, model, xs, nodes, stats: dict, pooled: dict, rewind) -> None:
        """Phase 1, no graph: the DSR neurons keep (I_hat, r), ``stats`` gets each train-mode
        BN's T*B statistics, ``pooled`` each max pool's average output. record_chunk=0: one
        multi-step pass, layer by layer; N: streamed N steps at a time (methods/_dsr_stream.py)."""
        decay = nodes[0].decay
        with _phase(nodes, "record"):
            if self.record_chunk:
                dsr_stream.record(
                    model, xs, self.record_chunk, stats=stats, pooled=pooled, decay=decay, rewind=rewind
                )
                return
            with (
                torch.no_grad(),
                dsr_bn.record_statistics(dsr_bn.train_mode_norms(model), stats),
                dsr_bn.record_outputs(dsr_bn.max_pools(model), pooled, decay),
            ):
                model(xs)

    def __repr__(self) -> str:
        return (
            f"DSR(formulation={self.formulation!r}, record_chunk={self.record_chunk}, "
            f"calibrate_thresholds={self.calibrate_thresholds}, calibration={self.calibration!r})"
        )
