"""Loading the CIFAR python batches without running code from the file.

``pickle.load`` calls any importable function a file names; a CIFAR copy from an unknown source
(``data.verify_md5=false`` skips the md5 check of the official files) could run anything. This
unpickler builds only what the batches hold: dicts, lists, strings, bytes, numbers and numpy
arrays (the few numpy functions that rebuild an array); any other global is refused.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from snnexp.errors import DataError

# how numpy arrays (1.x and 2.x module paths) and Python-2 byte strings come out of a pickle
ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only arrays, lists and strings)")
        return super().find_class(module, name)


def load_batch(path: str | Path) -> Any:
    """One CIFAR batch file; a truncated, corrupt or code-carrying file is a one-line DataError."""
    try:
        with open(path, "rb") as f:
            return _ArraysOnly(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        why = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise DataError(f"cannot read {path}: {why} (truncated or not a CIFAR batch?)") from None


__all__ = ["ALLOWED", "load_batch"]
