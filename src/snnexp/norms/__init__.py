"""Normalisations (config group ``norm``) for multi-step activations ``[T, B, C, ...]``:
``bn`` (SEW), ``tdbn`` (TDBN), ``bntt`` (KEYS), ``none``. A norm that keeps separate state per
time step sets ``per_step = True``. :func:`snnexp.fold.fold_tdbn` folds bn/tdbn into the conv."""
