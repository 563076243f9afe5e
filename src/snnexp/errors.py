"""User-facing errors.

Anything the user can fix (a bad override, a missing data set, an unreadable checkpoint) raises a
:class:`UserError`. The CLI prints its message as one line and exits with status 2; a traceback is
shown only when ``HYDRA_FULL_ERROR=1`` is set. Bugs stay ordinary exceptions.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Iterable


class UserError(Exception):
    """An error the user can fix; its message is printed alone, on one line."""

    exit_code = 2


class ConfigError(UserError):
    """A config value that is missing, of the wrong type, or out of range."""


class DataError(UserError):
    """A data set that is missing, incomplete or unreadable."""


class TrainingDiverged(UserError):
    """The loss became NaN/inf: a learning rate or a setting to change, not a bug."""


class CheckpointError(UserError):
    """A checkpoint or run directory that cannot be used as asked."""


class RunInterrupted(UserError):
    """A run stopped by a signal (Ctrl-C, SIGTERM) at a step boundary, its checkpoint saved: not a
    failure of the job, so a sweep or ``snnexp claims`` stops too instead of starting the next run.
    Exit status 128 + the signal's number, as a shell reports a process the signal ended."""

    def __init__(self, message: str, signum: int = 2):
        super().__init__(message)
        self.exit_code = 128 + signum


def choices_hint(value: str, allowed: Iterable[str]) -> str:
    """'did you mean ...? allowed: ...' for an unknown ``value`` among ``allowed``."""
    allowed = sorted(allowed)
    close = difflib.get_close_matches(str(value), allowed, n=3, cutoff=0.7)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return f"{hint}allowed: {', '.join(allowed)}"


class ArgParser(argparse.ArgumentParser):
    """argparse for the non-Hydra commands: a bad argument is a one-line UserError (exit 2), not
    argparse's usage block (``--help`` still prints the usage)."""

    def error(self, message: str):
        raise UserError(f"{message} (see {self.prog} --help)")
