"""Normalisations (config group ``norm``) for multi-step activations ``[T, B, C, ...]``."""

from snnexp.norms import batchnorm  # noqa: F401
