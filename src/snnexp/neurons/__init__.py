"""Spiking neurons (config group ``neuron``). Every builder returns a multi-step module that maps
``[T, B, ...]`` input currents to ``[T, B, ...]`` spikes and is reset by ``functional.reset_net``."""

from snnexp.neurons import integrate_and_fire  # noqa: F401
