"""Residual blocks (config group ``block``): SEW ADD/AND/IAND, Spiking ResNet, plain."""

from snnexp.blocks import sew  # noqa: F401
