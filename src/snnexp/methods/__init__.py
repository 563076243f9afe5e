"""Training methods (config group ``method``): how one optimisation step turns a batch into an
update. The engine's loop (epochs, data, evaluation, checkpoints) is the same for every method;
a method owns the step itself (forward, backward, optimizer step), so a method that updates per
time step or runs two passes needs no change to the loop.

- ``bptt``: backpropagation through time with surrogate gradients (SEW, KEYS, TDBN)
- ``dsr``: differentiation on spike representation (DSR), saved memory flat in T

A new method is a module here that registers a :class:`~snnexp.methods.base.Method` subclass in
``METHODS`` and a ``conf/method/<name>.yaml``; nothing else changes.
"""
