"""The run's console lines, also kept in ``<run dir>/snnexp.log`` (Hydra's log file there only
receives ``logging`` records, and the engine prints); in a sweep each line names its job."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path


class _Tee:
    def __init__(self, stream, log, prefix: str):
        self.stream, self.log, self.prefix = stream, log, prefix
        self.at_line_start = True

    def write(self, s: str) -> int:
        if self.prefix:
            s = self._prefixed(s)
        self.stream.write(s)
        if "\r" not in s:  # a terminal progress bar's redraws stay out of the log
            self.log.write(s)
            self.log.flush()
        return len(s)

    def _prefixed(self, s: str) -> str:
        out = []
        for part in s.splitlines(keepends=True):
            out.append((self.prefix if self.at_line_start else "") + part)
            self.at_line_start = part.endswith("\n")
        return "".join(out)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


@contextlib.contextmanager
def tee_to_log(run_dir: str | Path, prefix: str = ""):
    """stdout and stderr also go to ``run_dir/snnexp.log`` (appended: a resume adds to it)."""
    path = Path(run_dir) / "snnexp.log"
    try:
        log = open(path, "a")  # noqa: SIM115 (closed below)
    except OSError:  # the run itself reports an unwritable run dir
        yield
        return
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(out, log, prefix), _Tee(err, log, prefix)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        log.close()
