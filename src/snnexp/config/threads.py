"""The number of intra-op CPU threads: a config value (``threads``), set once at start, recorded.

Float sums in a conv or matmul are split across threads, so the same seed gives different bits
(and after enough epochs different accuracies: 74.67 vs 76.00 on digits) with a different thread
count. A run therefore sets the count itself instead of inheriting whatever OMP_NUM_THREADS or a
launcher (joblib's loky sets OMP_NUM_THREADS per worker) left, and writes it into metrics.json and
the checkpoint; ``threads=<that number>`` repeats a run bit for bit on the same machine and build.

``auto``: half of the CPUs this process may use, shared among the jobs that run in parallel
(``launcher=joblib``), at most 4 and at least 1. Small SNNs on CPU gain little from more threads,
and on a busy machine extra threads spin-wait on each other: the digits demo took 12 minutes with
2 threads on a loaded 2-core machine and 0.7 s per epoch with one.
"""

from __future__ import annotations

import os

from snnexp.errors import ConfigError

MAX_AUTO = 4


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resolve_threads(value, jobs: int = 1) -> int:
    """``threads`` (``auto`` or a count >= 1) for one of ``jobs`` processes running side by side."""
    if value is None or value == "auto":
        return max(1, min(MAX_AUTO, available_cpus() // (2 * max(1, jobs))))
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1 or str(n) != str(value).strip():
        raise ConfigError(f"threads={value!r} must be auto or a whole number >= 1")
    return n


def parallel_jobs(n_jobs) -> int:
    """joblib's n_jobs as a count (-1: all CPUs, -2: all but one, ...)."""
    n = int(n_jobs or 1)
    return n if n > 0 else max(1, available_cpus() + 1 + n)


__all__ = ["available_cpus", "parallel_jobs", "resolve_threads"]
