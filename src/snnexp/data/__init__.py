"""Data sets (config group ``data``).

A builder registered in ``DATASETS`` takes ``(cfg, split)`` with ``cfg`` the whole composed config
(for ``cfg.data``, ``cfg.T`` ...) and ``split`` in {"train", "test"}, and returns a map-style
dataset of ``(x, label)``: ``x`` is a static image ``[C, H, W]`` or a sequence ``[T, C, H, W]``
(event frames); the engine turns batched sequences ``[B, T, ...]`` into ``[T, B, ...]``.
A missing data set raises :class:`snnexp.errors.DataError` saying where the files must go.
"""

from snnexp.data.loaders import build_data, build_dataset, build_eval_loader  # noqa: F401
