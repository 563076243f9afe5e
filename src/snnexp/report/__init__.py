"""Paper tables from run directories: our accuracies beside the paper's numbers.

- :mod:`~snnexp.report.runs`: find run directories and read them as :class:`RunRecord`\\ s;
- :mod:`~snnexp.report.tables`: place the runs in the cells of a paper table (``snnexp.papers``);
- :mod:`~snnexp.report.render`: print a table as markdown or CSV, or write both.

The run directory's files and their format belong to :mod:`snnexp.runfiles`. Nothing here imports
torch (``snnexp report`` runs where no training does).
"""

from __future__ import annotations

from snnexp.report.render import render_csv, render_markdown, write_table
from snnexp.report.runs import RunRecord, find_runs
from snnexp.report.tables import build_table, make_tables, tables_for_runs

__all__ = [
    "RunRecord",
    "build_table",
    "find_runs",
    "make_tables",
    "render_csv",
    "render_markdown",
    "tables_for_runs",
    "write_table",
]
