"""The thread count of a run (the rules and why: :mod:`snnexp.config.threads`, where the config
gate can read them without importing the engine)."""

from snnexp.config.threads import MAX_AUTO, available_cpus, parallel_jobs, resolve_threads

__all__ = ["MAX_AUTO", "available_cpus", "parallel_jobs", "resolve_threads"]
