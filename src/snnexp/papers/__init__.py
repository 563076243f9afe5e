"""Paper numbers as data: one YAML file per paper (``sew.yaml`` ...), read by ``snnexp report``.

    >>> from snnexp.papers import load_paper, get_table
    >>> get_table("sew", "2")["values"]["resnet18"]["sew_add"]["acc1"]
    63.18

Each file holds the paper's tables in the paper's layout (rows, columns, the accuracies in percent,
parameters where printed, whether the paper's number is the max over epochs) and the
hyper-parameters the experiments in ``conf/experiment/<paper>/`` must use. See the comment at the top
of ``sew.yaml`` for the layout.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from snnexp.errors import UserError, choices_hint

_DIR = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the papers with stored numbers (``sew`` ...)."""
    return sorted(p.stem for p in _DIR.glob("*.yaml"))


@cache
def _load(name: str) -> dict[str, Any]:
    path = _DIR / f"{name}.yaml"
    if not path.is_file():
        raise UserError(f"no stored numbers for paper {name!r}; {choices_hint(name, available())}")
    with open(path) as f:
        data = yaml.safe_load(f)
    for tid, t in data.get("tables", {}).items():
        t["id"] = str(tid)
        t.setdefault("reported", data.get("reported", "max"))
        t.setdefault("info", [])
        t.setdefault("params", {})
        t.setdefault("notes", [])
        t.setdefault("experiments", [])
        t.setdefault("row_header", "Network")
        t["info_labels"] = {**data.get("info_labels", {}), **t.get("info_labels", {})}
    return data


def load_paper(name: str = "sew") -> dict[str, Any]:
    """The whole file of paper ``name`` (a fresh copy: callers may modify it)."""
    import copy

    return copy.deepcopy(_load(name.lower()))


def get_table(paper: str, table_id: str) -> dict[str, Any]:
    tables = load_paper(paper)["tables"]
    key = normalize_table_id(table_id)
    if key not in tables:
        raise UserError(f"{paper.upper()} has no table {table_id!r}; {choices_hint(key, tables)}")
    return tables[key]


def normalize_table_id(table_id: str | int) -> str:
    """'s3' -> 'S3', 2 -> '2', 'table2' -> '2'."""
    t = str(table_id).strip()
    if t.lower().startswith("table"):
        t = t[5:].lstrip("_- ")
    return t.upper()


def paper_value(table: dict[str, Any], row: str, col: str, metric: str) -> float | None:
    """The paper's accuracy (percent) in ``table`` at ``row``/``col`` for ``metric``, or None."""
    v = (table.get("values", {}).get(row) or {}).get(col) or {}
    x = v.get(metric)
    return None if x is None else float(x)


def tables_for_experiment(paper: str, experiment_name: str) -> list[str]:
    """Ids of the tables of ``paper`` that runs of ``experiment_name`` fill."""
    return [tid for tid, t in load_paper(paper)["tables"].items() if experiment_name in t["experiments"]]


__all__ = [
    "available",
    "get_table",
    "load_paper",
    "normalize_table_id",
    "paper_value",
    "tables_for_experiment",
]
