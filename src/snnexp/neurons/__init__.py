"""Spiking neurons (config group ``neuron``). Every builder returns a multi-step module that maps
``[T, B, ...]`` input currents to ``[T, B, ...]`` spikes and is reset by ``functional.reset_net``.

- ``if`` (SEW): IF, hard reset (spikingjelly IFNode)
- ``lif`` (SEW Eq. 5): LIF (spikingjelly LIFNode)
- ``plif`` (SEW): LIF with learnable tau, per layer or shared (spikingjelly ParametricLIFNode)
- ``keys_lif`` (KEYS): u = lambda u + I, soft reset (LIFNode / ParametricLIFNode)
- ``tdbn_lif`` (TDBN): u = tau_decay u (1 - o) + x, strict threshold (own, on SimpleBaseNode)
- ``dsr_if``, ``dsr_lif`` (DSR): subtraction reset, fire at alpha V_th, trainable V_th, DSR or
  surrogate backward (own)
"""
