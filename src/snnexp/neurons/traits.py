"""What a neuron's module declares about it when it registers (``NEURONS.register(..., traits=)``).

These are the facts that otherwise end up as lists of neuron names in other files: which neurons
spikingjelly fuses, which have a FlexSN core, which train with the DSR backward, and the small
configurations a test should try. The engine, the methods and the tests ask the registry
(``NEURONS.names(lambda t: t.flexsn)``), so a new neuron is its module and its YAML file.
tests/test_fastpath.py checks every declaration against the layer its builder builds.

This module imports nothing heavy: the registry (which imports no torch) holds its default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def _base_only() -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({"": ()})


@dataclass(frozen=True)
class NeuronTraits:
    # False for a stateless unit in the neuron slot (relu): no spike, no state, no surrogate
    spiking: bool = True
    # built on spikingjelly's IF/LIF/PLIF node, whose multi-step op is a fused CUDA kernel with
    # spikingjelly's own surrogates (engine/fastpath.py says when it applies)
    fused: bool = False
    # has a FlexSN core (neurons/flex.py): trainer.flexsn=true runs it as a Triton scan on CUDA
    flexsn: bool = False
    # trains with the DSR backward (DSR Eq. 16-17, 19): the neurons method=dsr accepts
    dsr: bool = False
    # keeps its membrane state in fp32 under AMP and returns spikes in the input's dtype
    # (neurons/_state.py)
    fp32_state: bool = False
    # torch.compile traces its forward and backward as one graph (fullgraph=True, no break)
    fullgraph: bool = False
    # test-sized configurations, label -> neuron-relative overrides ("v_reset=null"): "" is the
    # neuron itself (its YAML, plus what a test's few inputs need, e.g. a threshold they reach);
    # the others are the variants whose arithmetic differs (soft reset, a learned leak, ...), so
    # that a test of "every neuron" runs every branch of its update
    examples: Mapping[str, tuple[str, ...]] = field(default_factory=_base_only)

    def __post_init__(self):
        if "" not in self.examples:
            raise ValueError('NeuronTraits.examples needs the neuron itself, label ""')
        object.__setattr__(self, "examples", MappingProxyType(dict(self.examples)))


def example_id(name: str, label: str) -> str:
    """A test id for one example: ``lif``, ``lif-nodecay-soft``."""
    return f"{name}-{label}" if label else name


def example_overrides(name: str, overrides: tuple[str, ...]) -> list[str]:
    """The config overrides that compose one example (``neuron=lif neuron.v_reset=null``)."""
    return [f"neuron={name}", *(f"neuron.{o}" for o in overrides)]
