"""Run directories as records: what a run is (its config and overrides), how far it got, what it
measured. The files themselves are read by :mod:`snnexp.runfiles`; this module interprets them.

A multirun sweep directory holds one numbered run directory per job; :func:`find_runs` walks a run
directory, a sweep directory or a tree of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snnexp import runfiles
from snnexp.errors import UserError

# overrides that do not change what a run measures (not worth a note under the table)
HARMLESS = (
    "hydra",
    "logger",
    "launcher",
    "data.root",
    "trainer.num_workers",
    "trainer.progress",
    "device",
    "resume",
    "trainer.eval_batch_size",
    "trainer.ckpt_every_steps",
    "experiment",
)


@dataclass
class RunRecord:
    """What one run directory says about its run (not the engine's live ``engine.trainer.Run``)."""

    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    summary: list[dict[str, float | None]] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> RunRecord:
        path = Path(path)
        return cls(
            path,
            config=runfiles.read_config(path),
            overrides=runfiles.read_overrides(path),
            metrics=runfiles.read_metrics(path),
            summary=runfiles.read_summary(path),
        )

    # ---- identity
    def get(self, key: str) -> Any:
        """A dotted key of the resolved config (``experiment_name`` also from metrics/overrides)."""
        if key == "experiment_name":
            return self.experiment_name
        node: Any = self.config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return self._from_overrides(key)
            node = node[part]
        return node

    def _from_overrides(self, key: str) -> Any:
        group = key[: -len(".name")] if key.endswith(".name") else None
        for o in self.overrides:
            k, _, v = o.lstrip("+~").partition("=")
            if k == key or (group is not None and k == group):
                return v
        return None

    @property
    def experiment_name(self) -> str | None:
        name = self.config.get("experiment_name") or self.metrics.get("experiment_name")
        if not name:
            for o in self.overrides:
                k, _, v = o.lstrip("+").partition("=")
                if k == "experiment":
                    return v
        return name or None

    @property
    def paper(self) -> str | None:
        p = self.config.get("paper")
        return str(p) if p else None

    # ---- progress
    @property
    def epochs_done(self) -> int:
        if self.metrics.get("epochs_done") is not None:
            return int(self.metrics["epochs_done"])
        if self.summary:
            e = self.summary[-1].get("epoch")
            # summary epochs may count from 0 or 1: the number of rows is what ran
            return max(len(self.summary), int(e) if e is not None else 0)
        return 0

    @property
    def epochs_planned(self) -> int | None:
        e = (self.config.get("trainer") or {}).get("epochs", self.metrics.get("epochs"))
        return int(e) if isinstance(e, int | float) else None

    @property
    def status(self) -> str:
        """metrics.json's status (engine/lifecycle.py), or ``crashed`` for a run still marked as
        going whose process is gone (killed outright: its lock names a dead pid on this host)."""
        s = str(self.metrics.get("status") or ("running" if self.summary else "started"))
        if s in ("started", "running"):
            holder = runfiles.lock_holder(self.path)
            if holder is not None and runfiles.holder_gone(holder):
                return "crashed"
        return s

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def params(self) -> int | None:
        p = self.metrics.get("params")
        return int(p) if isinstance(p, int | float) else None

    @property
    def mtime(self) -> float:
        """When the run last wrote a file (newest run file)."""
        return runfiles.last_modified(self.path)

    # ---- accuracies
    def _column(self, metric: str) -> list[tuple[int, float]]:
        out = []
        for i, row in enumerate(self.summary):
            v = row.get(f"test_{metric}")
            if v is not None:
                e = row.get("epoch")
                out.append((int(e) if e is not None else i, v))
        return out

    def test_curve(self, metric: str) -> list[tuple[int, float]]:
        """(epoch, test ``metric``) of every evaluated epoch."""
        return self._column(metric)

    def best(self, metric: str) -> tuple[float | None, int | None]:
        """(max over epochs of the test ``metric``, the epoch it was reached). The run decided its
        best epoch (``Run.best_row``, in metrics.json); summary.csv is read only for a run whose
        metrics.json has no such key."""
        v = runfiles.to_number(self.metrics.get(f"best_{metric}"))
        if v is not None:
            epochs = [e for e, x in self._column(metric) if x == v]
            return v, (self.metrics.get("best_epoch") if metric == "acc1" else (epochs or [None])[0])
        col = self._column(metric)
        if col:
            e, v = max(col, key=lambda ev: ev[1])
            return v, e
        return None, None

    def last(self, metric: str) -> float | None:
        """Test ``metric`` after the last epoch that was evaluated."""
        col = self._column(metric)
        if col:
            return col[-1][1]
        return runfiles.to_number(self.metrics.get(f"last_{metric}"))

    def extra_overrides(self, fixed_groups: set[str]) -> list[str]:
        """Overrides beyond the table's own axes (e.g. ``trainer.epochs=2``): worth a note."""
        out = []
        for o in self.overrides:
            k = o.lstrip("+~").partition("=")[0]
            if k in fixed_groups or any(k == h or k.startswith(h + ".") for h in HARMLESS):
                continue
            out.append(o)
        return out


def find_runs(paths: list[str | Path]) -> list[RunRecord]:
    """Every run directory at or under ``paths`` (a run dir, a sweep dir, or a tree of them)."""
    runs: list[RunRecord] = []
    seen: set[Path] = set()
    for root in map(Path, paths):
        if not root.exists():
            raise UserError(f"no such directory: {root}")
        if not root.is_dir():
            raise UserError(f"not a directory: {root} (give a run or sweep directory)")
        stack = [root]
        while stack:
            d = stack.pop()
            rd = d.resolve()
            if rd in seen:
                continue
            seen.add(rd)
            if runfiles.is_run_dir(d):
                runs.append(RunRecord.load(d))
                continue  # a run's subdirectories (checkpoints, .hydra, wandb) are not runs
            try:
                children = sorted(c for c in d.iterdir() if c.is_dir() and not c.name.startswith("."))
            except OSError:
                continue
            stack.extend(reversed(children))
    return runs


__all__ = ["HARMLESS", "RunRecord", "find_runs"]
