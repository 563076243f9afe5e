"""Checkpoints that survive ``kill -9``: written to a temporary file in the same directory,
fsynced, then atomically renamed over the old one; loaded with ``weights_only=True``.

Everything in a checkpoint is a tensor or a plain Python value (the config is a YAML string, the
numpy RNG state is split into a tensor and ints), so no pickled class is ever trusted on load.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snnexp.errors import CheckpointError

TMP_SUFFIX = ".tmp"


def save_atomic(obj: dict[str, Any], path: str | Path) -> None:
    """Write ``obj`` to ``path``, replacing the run's own earlier checkpoint there in one rename."""
    _save(obj, Path(path), replace=True)


def save_new(obj: dict[str, Any], path: str | Path) -> None:
    """Write ``obj`` to ``path``, which must not exist: a file already there (a run's checkpoint, an
    earlier result, anything) is never replaced, even by a concurrent writer (``os.link`` fails
    on an existing name, where a rename would replace it)."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise CheckpointError(f"{path} already exists; nothing was written (give another path)")
    _save(obj, path, replace=False)


def _save(obj: dict[str, Any], path: Path, replace: bool) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    had_previous = path.is_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
            tmp.unlink()
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(f"{path} already exists; nothing was written (give another path)") from None
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if _is_write_failure(e):  # disk full, quota, permissions
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e).splitlines()[0][:120]
            kept = (
                "nothing was written"
                if not replace
                else ("the previous one is intact" if had_previous else "there is no earlier one")
            )
            raise CheckpointError(f"cannot write checkpoint {path}: {why} ({kept})") from None
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def _is_write_failure(e: BaseException) -> bool:
    """An OSError, or torch's zip writer reporting one as a RuntimeError ("file write failed",
    "unexpected pos ..." from inline_container.cc when the device is full)."""
    msg = str(e)
    return isinstance(e, OSError) or (
        isinstance(e, RuntimeError) and ("inline_container" in msg or "write failed" in msg)
    )


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated, not a checkpoint, or holds pickled objects
        raise CheckpointError(f"cannot read checkpoint {path}: {why_unreadable(e, path)}") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise CheckpointError(f"{path} is not an snnexp checkpoint (no 'model' entry)")
    return ckpt


def why_unreadable(e: Exception, path: Path) -> str:
    """torch's refusals are paragraphs (the weights-only one ends by suggesting weights_only=False);
    keep the clause that says what is wrong, and never suggest running the file's code."""
    with open(path, "rb") as f:
        head = f.read(4)
    if not (head.startswith(b"PK") or head.startswith(b"\x80")):  # torch.save: zip; legacy: pickle
        return "not a PyTorch checkpoint (neither a zip archive nor a pickle)"
    text = str(e).strip()
    if "Weights only load failed" in text:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if found:
            return (
                f"it holds a pickled Python object ({found.group(1)}); snnexp loads tensors only "
                "(weights_only=True), so that no file it is given can run code"
            )
        return "not a PyTorch checkpoint (the weights-only unpickler cannot read it)"
    if "failed finding central directory" in text or "failed reading zip archive" in text:
        return "truncated or corrupted (not a complete zip archive)"
    first = text.splitlines()[0] if text else type(e).__name__
    return first[:200]


def load_weights(model: torch.nn.Module, ckpt: dict[str, Any], path: str | Path, hint: str = "") -> None:
    """``model.load_state_dict`` with a one-line error when the checkpoint does not fit the model."""
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        why = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{path} does not fit the model built from its config ({why}){hint}") from None


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_rest": [int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    pos, has_gauss, gauss = state["numpy_rest"]
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
