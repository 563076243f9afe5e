"""DSR neurons (Meng et al., CVPR 2022): IF and LIF with subtraction reset, firing at alpha V_th,
a trainable per-layer threshold with a lower bound.

Forward (DSR Eq. 3a-3c, 4-6, 20), with U the potential before reset::

    IF : U[n] = V[n-1] + I[n]
    LIF: U[n] = lambda V[n-1] + (1 - lambda) I[n],   lambda = exp(-dt / tau)
    s[n] = H(U[n] - alpha V_th),   V[n] = U[n] - V_th s[n]

The layer outputs its *weighted* spikes, ``V_th s`` (IF) or ``V_th s / dt`` (LIF), so that the
next layer's input current is V_th^{i-1} W s^{i-1} (Eq. 7) and the spike representation
(Sec. 3.4) is a plain (IF) or lambda-weighted (LIF) time average of the output::

    IF : r = (1/N) sum_n V_th s[n]                                   in [0, V_th]
    LIF: r = V_th sum_n lambda^{N-n} s[n] / (dt sum_n lambda^{N-n})  in [0, V_th / dt]

(:meth:`DSRNode.representation`, :attr:`DSRNode.bound`). Eq. 8 of the paper as printed puts dt
in the numerator of the LIF input current; Proposition 1 (a^0 and a^i carry 1/dt) and the
authors' code divide, and so does this module.

Backward, ``grad: dsr`` (the paper's method, Eq. 16-17 and 19): time is not unrolled. The layer
is treated as the sub-differentiable map o = clamp(k I_hat, 0, b) of its (weighted) average input
I_hat = sum_n w_n I[n] / sum_n w_n (w_n = lambda^{N-n}; 1 for IF), k = 1 (IF) or 1/tau (LIF,
Prop. 1), b = V_th (IF) or V_th/dt (LIF):

    dL/do     = sum_n dL/dout[n]                      (exact if out enters the loss through r)
    dL/dI[n]  = dL/do * k * 1[0 <= k I_hat <= b] * w_n / sum w
    dL/dV_th  = grad_scale * sum dL/do * db/dV_th * 1[k I_hat > b]   (Eq. 19)

For IF this is exactly spikingjelly's ``DSRIFNode`` / the authors' ``IFFunction``. For LIF it
differs from both in two places, each the exact chain rule of Prop. 1 where they approximate:
the input gradient is spread over steps with the weights w_n/sum w (they use 1/N) and dL/do is
sum_n dL/dout[n] (they use N times the lambda-weighted mean). The threshold gradient of LIF is
db/dV_th = 1/dt; the authors multiply by dt instead, which ``v_threshold_grad_scale = dt^2``
reproduces (conf/neuron/dsr_lif.yaml).

``dsr_backward`` (LIF) picks between the two: ``exact`` is the chain rule of Prop. 1 above;
``authors`` is qymeng94/DSR cifar/modules/neuron.py (``LIFFunction.backward``, ``lif_grad``):
dL/do = N sum_m w_m dL/dout[m] and dL/dI[n] = dL/do * k * mask / N, the same at every step n
(about 8 % larger summed gradient at T=20, dt=0.05); the threshold gradient uses that dL/do too.
For IF (w_n = 1/N) both are the same map. The DSR experiments that reproduce the paper's LIF rows
use ``authors`` (conf/experiment/dsr/*_lif.yaml); ``method.formulation=flat`` needs ``exact``
(its replay sees only sum_n dL/dout[n], not the per-step gradients the authors weight).

``grad: surrogate`` gives the same forward with BPTT through the configured surrogate gradient
(the ``surrogate`` group), so DSR neurons also train with ``method=bptt``.

We do not use spikingjelly's DSRIFNode/DSRLIFNode directly: they fix T at construction, keep no
membrane state between calls, support only the DSR backward, and clamp the threshold in the
forward (a threshold pushed below the bound by the L2 term then receives no gradient). Here, as
in the authors' code, the parameter itself is projected onto [lower_bound, inf) before each
training forward.

Memory-flat training (``method=dsr``, ``formulation: flat``; src/snnexp/methods/dsr.py) drives a
DSRNode through two phases (``dsr_phase``): ``record`` simulates the T steps (under no_grad) and
keeps only I_hat and r = representation(out), both [B, ...]; ``replay`` takes the representation
pass's input [1, B, ...], returns the recorded r and back-propagates the same Eq. 16-17/19 map
as above, with the mask of the recorded I_hat (:class:`_ReplayFunction`).

On CUDA with ``trainer.flexsn=true`` the fp32 simulations (grad=dsr's forward, the record pass
with its sums, grad=surrogate's BPTT) run as FlexSN scans of :func:`dsr_core` /
:func:`dsr_surrogate_core`, the same arithmetic in the same order (neurons/flex.py).

The L2 regularisation of the thresholds (DSR Sec. 4) is the optimizer's weight decay on the
``v_threshold`` parameters (the authors' code applies wd 5e-4 to all parameters).
"""

from __future__ import annotations

import functools
import math

import torch
from spikingjelly.activation_based import base
from torch import nn

from snnexp.errors import ConfigError
from snnexp.neurons.flex import FlexScan, heaviside_value, surrogate_spike
from snnexp.neurons.traits import NeuronTraits
from snnexp.registry import NEURONS

GRAD_MODES = ("dsr", "surrogate")
DSR_BACKWARDS = ("exact", "authors")  # LIF: Prop. 1's chain rule | the authors' lif_grad (module docstring)


class _DSRFunction(torch.autograd.Function):
    """Simulate T steps forward; differentiate through the spike representation backward."""

    @staticmethod
    def forward(ctx, x_seq, v_th, v0, decay, gain, out_scale, alpha, k, grad_scale, scan, authors=False):
        ran = scan(x_seq, v_th, v0) if scan is not None else None  # the FlexSN scan, when on
        if ran is not None:
            out, v = ran
        else:
            v, outs = v0, []
            for t in range(x_seq.shape[0]):
                o, v = dsr_step(x_seq[t], v, v_th, decay=decay, gain=gain, alpha=alpha, out_scale=out_scale)
                outs.append(o)
            out = torch.stack(outs)
        ctx.save_for_backward(x_seq, v_th)
        ctx.decay, ctx.out_scale, ctx.k, ctx.grad_scale = decay, out_scale, k, grad_scale
        ctx.authors = authors
        ctx.mark_non_differentiable(v)
        return out, v

    @staticmethod
    def backward(ctx, grad_out, grad_v):
        del grad_v
        x_seq, v_th = ctx.saved_tensors
        T = x_seq.shape[0]
        w = _time_weights(T, ctx.decay, x_seq)  # [T, 1, ...], sums to 1
        i_hat = (w * x_seq).sum(0)
        z = ctx.k * i_hat
        bound = v_th * ctx.out_scale
        pass_in = (z >= 0) & (z <= bound)
        if ctx.authors:  # qymeng94/DSR cifar/modules/neuron.py LIFFunction.backward + lif_grad
            g_o = (w * grad_out).sum(0) * T  # N times the weighted mean of dL/dout
            spread = torch.full_like(w, 1.0 / T)  # the same gradient at every step
        else:  # Prop. 1: dL/do = sum_n dL/dout[n], spread with dI_hat/dI[n] = w_n
            g_o, spread = grad_out.sum(0), w
        g_x = (g_o * ctx.k * pass_in.to(g_o.dtype)).unsqueeze(0) * spread
        g_th = None
        if ctx.needs_input_grad[1]:
            g_th = (g_o * (z > bound).to(g_o.dtype)).sum() * ctx.out_scale * ctx.grad_scale
            g_th = g_th.to(v_th.dtype).reshape(v_th.shape)
        return g_x, g_th, None, None, None, None, None, None, None, None, None


class _ReplayFunction(torch.autograd.Function):
    """Representation pass of one DSR layer: value = the recorded spike representation r (so the
    loss is the SNN's), gradient = that of o = clamp(k I_hat, 0, b) at the recorded I_hat."""

    @staticmethod
    def forward(ctx, x_hat, v_th, i_hat, rep, k, out_scale, grad_scale):
        del x_hat  # only its place in the graph matters: the gradient flows back through it
        ctx.save_for_backward(i_hat, v_th)
        ctx.k, ctx.out_scale, ctx.grad_scale = k, out_scale, grad_scale
        return rep.clone()

    @staticmethod
    def backward(ctx, g_o):
        i_hat, v_th = ctx.saved_tensors
        z = ctx.k * i_hat
        bound = v_th * ctx.out_scale
        g_x = g_o * ctx.k * ((z >= 0) & (z <= bound)).to(g_o.dtype)
        g_th = None
        if ctx.needs_input_grad[1]:
            g_th = (g_o * (z > bound).to(g_o.dtype)).sum() * ctx.out_scale * ctx.grad_scale
            g_th = g_th.to(v_th.dtype).reshape(v_th.shape)
        return g_x, g_th, None, None, None, None, None


def weighted_mean(x_seq: torch.Tensor, decay: float) -> torch.Tensor:
    """sum_n w_n x[n] over the time axis 0 with w of :func:`_time_weights` ([T, B, ...] -> [B, ...])."""
    w = _time_weights(x_seq.shape[0], decay, x_seq[:1]).flatten()
    return torch.tensordot(w, x_seq, dims=1)


def _time_weights(T: int, decay: float, like: torch.Tensor) -> torch.Tensor:
    """w_n = lambda^{N-n} / sum_m lambda^{N-m}, n = 1..N, shaped [T, 1, ..., 1]."""
    w = torch.tensor([decay ** (T - 1 - t) for t in range(T)], dtype=torch.float64)
    w = (w / w.sum()).to(device=like.device, dtype=like.dtype)
    return w.view(T, *([1] * (like.dim() - 1)))


def dsr_step(x, v, v_th, *, decay: float, gain: float, alpha: float, out_scale: float):
    """One simulated step, charge / fire / reset (Eq. 3a-3c, 20): (weighted spike, potential).
    The one home of the update: _DSRFunction's loop and the FlexSN core run it; DSRNode._record
    runs the same operations in place (for memory) and is checked against it bit for bit."""
    u = decay * v + gain * x
    s = (u >= alpha * v_th).to(u)
    return v_th * s * out_scale, u - v_th * s


def dsr_core(x, v, i_sum, r_sum, v_th, *, decay: float, gain: float, alpha: float, out_scale: float):
    """:func:`dsr_step` and the record pass's Horner sums of the input and the output: a FlexSN core."""
    out, v = dsr_step(x, v, v_th, decay=decay, gain=gain, alpha=alpha, out_scale=out_scale)
    return out, v, i_sum * decay + x, r_sum * decay + out


def dsr_surrogate_core(x, v, v_th, *, decay, gain, alpha, out_scale, spike_fn, detach_reset: bool):
    """One step of ``grad: surrogate`` (BPTT), as DSRNode.multi_step_forward's loop: a FlexSN core."""
    u = decay * v + gain * x
    d = u - alpha * v_th
    s = spike_fn(d)
    return v_th * s * out_scale, u - v_th * (heaviside_value(d) if detach_reset else s)


class DSRNode(FlexScan, base.MemoryModule):
    """DSR IF (``tau=None``) or LIF neuron; see the module docstring. With ``flex_scan`` (set by
    trainer.flexsn on CUDA) its fp32 simulations run as FlexSN scans of the cores above."""

    def __init__(
        self,
        surrogate: nn.Module,
        *,
        v_threshold: float,
        alpha: float,
        tau: float | None,  # None: IF
        delta_t: float | None,
        train_v_threshold: bool,
        v_threshold_lower_bound: float,
        v_threshold_grad_scale: float,
        grad: str,
        detach_reset: bool,
        dsr_backward: str,
    ):
        super().__init__()
        if dsr_backward not in DSR_BACKWARDS:
            raise ConfigError(
                f"neuron.dsr_backward={dsr_backward!r}; choose one of {', '.join(DSR_BACKWARDS)}"
            )
        if grad not in GRAD_MODES:
            raise ConfigError(f"neuron: grad={grad!r}; choose one of {', '.join(GRAD_MODES)}")
        if not 0.0 < alpha <= 1.0:
            raise ConfigError(f"neuron: alpha must be in (0, 1], got {alpha}")
        if v_threshold_lower_bound <= 0 or v_threshold < v_threshold_lower_bound:
            raise ConfigError(
                f"neuron: need 0 < v_threshold_lower_bound <= v_threshold "
                f"(got {v_threshold_lower_bound}, {v_threshold})"
            )
        self.is_lif = tau is not None
        if self.is_lif:
            if delta_t is None or not 0.0 < delta_t < tau:
                raise ConfigError(f"neuron dsr_lif: need 0 < delta_t < tau (got {delta_t}, {tau})")
            self.tau, self.delta_t = float(tau), float(delta_t)
        self.surrogate_function = surrogate
        self.alpha = float(alpha)
        self.lower_bound = float(v_threshold_lower_bound)
        self.grad_scale = float(v_threshold_grad_scale)
        self.grad = grad
        self.detach_reset = detach_reset
        self.dsr_backward = dsr_backward
        th = torch.tensor(float(v_threshold))
        if train_v_threshold:
            self.v_threshold = nn.Parameter(th)
        else:
            self.register_buffer("v_threshold", th)
        self.register_memory("v", 0.0)
        self.register_memory("dsr_sums", None)  # the record pass's (sum I, sum out, steps) so far
        self.step_mode = "m"
        self.dsr_phase: str | None = None  # None | "record" | "replay" | "ann" (set by method=dsr)
        self.dsr_record: tuple[torch.Tensor, torch.Tensor] | None = None  # (I_hat, r)

    # ---------------------------------------------------------------- constants of the model
    @property
    def decay(self) -> float:
        """lambda = exp(-dt/tau) (LIF), 1 (IF)."""
        return math.exp(-self.delta_t / self.tau) if self.is_lif else 1.0

    @property
    def gain(self) -> float:
        """Factor of the input current in U[n]: 1 - lambda (LIF), 1 (IF)."""
        return 1.0 - self.decay if self.is_lif else 1.0

    @property
    def out_scale(self) -> float:
        """Output = V_th * s * out_scale: 1/dt (LIF), 1 (IF)."""
        return 1.0 / self.delta_t if self.is_lif else 1.0

    @property
    def slope(self) -> float:
        """k of o = clamp(k I_hat, 0, b): 1/tau (LIF, Prop. 1), 1 (IF)."""
        return 1.0 / self.tau if self.is_lif else 1.0

    @property
    def bound(self) -> torch.Tensor:
        """b of Eq. 17: V_th (IF), V_th/dt (LIF)."""
        return self.threshold() * self.out_scale

    def threshold(self) -> torch.Tensor:
        return self.v_threshold.clamp_min(self.lower_bound)

    def representation(self, out_seq: torch.Tensor) -> torch.Tensor:
        """r(s) of Sec. 3.4 from this layer's output sequence [T, B, ...] -> [B, ...]."""
        return weighted_mean(out_seq, self.decay)

    # ---------------------------------------------------------------- forward
    def _project(self) -> None:
        # only when violated: an in-place write would invalidate a graph built by an earlier
        # forward that has not been back-propagated yet
        th = self.v_threshold
        if self.training and isinstance(th, nn.Parameter) and bool(th.detach() < self.lower_bound):
            with torch.no_grad():
                th.clamp_(min=self.lower_bound)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if self.dsr_phase == "replay":
            return self._replay(x_seq)
        if self.dsr_phase == "ann":  # hybrid training: the ANN's ReLU (methods/_dsr_hybrid.py)
            return torch.relu(x_seq)
        self._project()
        v_th = self.threshold()
        v = self.v
        if not isinstance(v, torch.Tensor) or v.shape != x_seq.shape[1:]:
            v = torch.zeros_like(x_seq[0])
        if self.dsr_phase == "record" and not torch.is_grad_enabled():
            return self._record(x_seq, v_th.detach(), v.detach().clone())
        if self.grad == "dsr":
            out, v = _DSRFunction.apply(
                x_seq,
                v_th,
                v.detach(),
                self.decay,
                self.gain,
                self.out_scale,
                self.alpha,
                self.slope,
                self.grad_scale,
                self._scan_out_and_v if self.flex_scan else None,
                self.dsr_backward == "authors",
            )
        elif (ran := self._surrogate_scan(x_seq, v_th, v)) is not None:
            (out,), (v,) = ran
        else:
            outs = []
            step = functools.partial(
                dsr_surrogate_core,
                spike_fn=self.surrogate_function,
                detach_reset=bool(self.detach_reset),
                **self._constants(),
            )
            for t in range(x_seq.shape[0]):
                o, v = step(x_seq[t], v, v_th)
                outs.append(o)
            out = torch.stack(outs)
        self.v = v
        if self.dsr_phase == "record":
            with torch.no_grad():
                self.dsr_record = (weighted_mean(x_seq, self.decay), self.representation(out))
        return out

    def _record(self, x_seq: torch.Tensor, v_th: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The forward of method=dsr's record pass (no graph): the same dynamics as above, with one
        output buffer and in-place updates, and I_hat and r accumulated step by step (Horner:
        acc = lambda acc + x[n]), so that the transient memory is the input and the output only.
        The sums carry over calls until a reset: a streamed record pass (method.record_chunk)
        feeds the T steps a chunk at a time."""
        if self.dsr_sums is None:
            i_acc, r_acc, steps = torch.zeros_like(v), torch.zeros_like(v), 0
        else:
            i_acc, r_acc, steps = self.dsr_sums
        ran = self._scan(x_seq, v_th, v, i_acc, r_acc)
        if ran is not None:
            (out,), (v, i_acc, r_acc) = ran
        else:
            out = torch.empty_like(x_seq)
            fire, spike = self.alpha * v_th, v_th * self.out_scale
            for t in range(x_seq.shape[0]):
                # decay v + gain x, as _DSRFunction and dsr_core (bit for bit; add_'s alpha= rounds once)
                v.mul_(self.decay).add_(x_seq[t] if self.gain == 1.0 else self.gain * x_seq[t])
                torch.ge(v, fire, out=out[t])  # s[n] as 0/1, then the weighted spike V_th s (/dt)
                v.sub_(out[t] * v_th)
                out[t].mul_(spike)
                i_acc.mul_(self.decay).add_(x_seq[t])
                r_acc.mul_(self.decay).add_(out[t])
        steps += x_seq.shape[0]
        norm = sum(self.decay**n for n in range(steps))
        self.v = v
        self.dsr_sums = (i_acc, r_acc, steps)
        self.dsr_record = (i_acc / norm, r_acc / norm)
        return out

    # ---------------------------------------------------------------- FlexSN scans (neurons/flex.py)
    def flex_supports(self, dtype: torch.dtype) -> bool:
        return dtype == torch.float32  # under AMP the loops mix dtypes (bf16 x, fp32 V_th)

    def _constants(self) -> dict:
        return dict(decay=self.decay, gain=self.gain, alpha=self.alpha, out_scale=self.out_scale)

    def _scannable(self, *tensors: torch.Tensor) -> bool:
        return self.flex_scan and all(t.dtype == torch.float32 for t in tensors)

    def _scan(self, x_seq, v_th, v, i_sum, r_sum):
        """dsr_core over x_seq: ((out,), (v, i_sum, r_sum)), or None to run the loop."""
        if not self._scannable(x_seq, v_th, v):
            return None
        core = functools.partial(dsr_core, **self._constants())
        return self.flex_run(core, (v_th,), x_seq, (v, i_sum, r_sum))

    def _scan_out_and_v(self, x_seq, v_th, v):
        ran = self._scan(x_seq, v_th, v, torch.zeros_like(v), torch.zeros_like(v))
        return None if ran is None else (ran[0][0], ran[1][0])

    def _surrogate_scan(self, x_seq, v_th, v):
        """dsr_surrogate_core over x_seq: ((out,), (v,)), or None to run the loop."""
        if not self._scannable(x_seq, v_th, v):
            return None
        core = functools.partial(
            dsr_surrogate_core,
            spike_fn=surrogate_spike(self.surrogate_function),
            detach_reset=bool(self.detach_reset),
            **self._constants(),
        )
        return self.flex_run(core, (v_th,), x_seq, (v,))

    def _replay(self, x_seq: torch.Tensor) -> torch.Tensor:
        if self.dsr_record is None or x_seq.shape[0] != 1:
            raise RuntimeError("DSR replay needs a recorded simulation and a [1, B, ...] input")
        i_hat, rep = self.dsr_record
        o = _ReplayFunction.apply(
            x_seq[0], self.threshold(), i_hat, rep, self.slope, self.out_scale, self.grad_scale
        )
        return o.unsqueeze(0)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.multi_step_forward(x.unsqueeze(0))[0]

    def extra_repr(self) -> str:
        kind = f"LIF, tau={self.tau}, dt={self.delta_t}" if self.is_lif else "IF"
        return (
            f"{kind}, v_threshold={float(self.v_threshold.detach()):.4g}, alpha={self.alpha}, "
            f"lower_bound={self.lower_bound}, grad={self.grad}"
            + (f", dsr_backward={self.dsr_backward}" if self.is_lif else "")
        )


def _dsr_traits(v_threshold: str) -> NeuronTraits:
    """DSR neurons: the DSR backward and FlexSN cores (fp32 only: under AMP the loops mix bf16
    inputs with the fp32 V_th, so there is no fp32-state guarantee either), and no single graph
    (the projection of V_th onto its bound branches on V_th's value, which dynamo cannot trace
    without a break). A test's inputs
    (unit scale) need a threshold far below the YAML's (Table 3: V_th = 6 for IF) to fire often."""
    return NeuronTraits(dsr=True, flexsn=True, examples={"": (f"v_threshold={v_threshold}",)})


# IF is the no-leak case of the one DSRNode (lambda = 1): the two DSR backwards agree there
NEURONS.variant(
    "dsr_if", DSRNode, tau=None, delta_t=None, dsr_backward="exact", paper="DSR", traits=_dsr_traits("1.0")
)
NEURONS.variant("dsr_lif", DSRNode, paper="DSR", traits=_dsr_traits("0.05"))
