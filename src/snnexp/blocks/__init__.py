"""Residual blocks (config group ``block``): SEW ADD/AND/IAND, Spiking ResNet, plain."""
