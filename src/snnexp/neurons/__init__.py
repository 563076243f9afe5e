"""Spiking neurons (config group ``neuron``). Every builder returns a multi-step module that maps
``[T, B, ...]`` input currents to ``[T, B, ...]`` spikes and is reset by ``functional.reset_net``.

Each module of this package registers its neurons (``NEURONS.register``) with their help line,
paper and :class:`~snnexp.neurons.traits.NeuronTraits` (fast paths, test-sized examples), and is
found by ``registry.load_builtin``: a new neuron is its module and its ``conf/neuron`` YAML file.
``snnexp list neuron`` shows the options; each module's docstring gives its equations.
"""
