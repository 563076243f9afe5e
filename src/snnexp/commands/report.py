"""snnexp report <sweep or run dir>... [--table auto|2|3|4|5|6|S3] [--paper sew] [--out DIR] [--json]

Scans the run directories, finds the paper tables they fill (from each run's experiment_name and
config), prints each table in the paper's layout with the paper's numbers beside ours (our max over
epochs and our last-epoch accuracy, labelled as such) and writes ``table_<id>.md`` and
``table_<id>.csv`` into the (first) directory given, or ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys

from snnexp.errors import ArgParser


def parser() -> argparse.ArgumentParser:
    p = ArgParser(
        prog="snnexp report",
        description="Paper tables from run directories: the paper's numbers beside ours "
        "(max over epochs and last epoch).",
    )
    p.add_argument(
        "dirs", nargs="+", metavar="DIR", help="a sweep directory, a run directory, or a tree of them"
    )
    p.add_argument(
        "--table",
        default="auto",
        help="which table: auto (every paper table the runs fill, else the sweep table), sweep (varied "
        "keys against accuracy, mean ± std over seeds), or an id such as 2, 3, 4, 5, 6, S3",
    )
    p.add_argument("--paper", default=None, help="whose tables (default: from the runs' config, else sew)")
    p.add_argument("--out", default=None, help="where to write table_<id>.md/.csv (default: the first DIR)")
    p.add_argument("--json", action="store_true", help="print the tables as JSON instead of markdown")
    return p


def sweep_report(args) -> int:
    """Any sweep: its varied keys against best/last acc@1, mean ± std over seeds."""
    from snnexp.errors import UserError
    from snnexp.report.runs import find_runs
    from snnexp.report.sweep import render_markdown, sweep_table, write_sweep_table

    runs = find_runs(args.dirs)
    if not runs:
        raise UserError(
            f"no runs in {', '.join(args.dirs)} (a run directory has metrics.json or summary.csv)"
        )
    t = sweep_table(runs)
    written = write_sweep_table(t, args.out or args.dirs[0])
    print(json.dumps(t, indent=2, default=str) if args.json else render_markdown(t))
    print("wrote " + ", ".join(map(str, written)), file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    from snnexp.report import make_tables, render_markdown, write_table
    from snnexp.report.runs import find_runs
    from snnexp.report.tables import tables_for_runs

    args = parser().parse_args(argv)
    if args.table == "sweep" or (
        args.table == "auto" and not tables_for_runs(find_runs(args.dirs), args.paper)
    ):  # not a paper experiment: the generic sweep table
        return sweep_report(args)
    tables = make_tables(args.dirs, table=args.table, paper=args.paper)
    out_dir = args.out or args.dirs[0]
    written = []
    for t in tables:
        written += [str(p) for p in write_table(t, out_dir)]
    if args.json:
        print(json.dumps(tables, indent=2, default=str))
        return 0
    for t in tables:
        print(render_markdown(t))
    print_authors_track(args.dirs)
    print("wrote " + ", ".join(written), file=sys.stderr)
    return 0


def print_authors_track(dirs: list[str]) -> None:
    """Runs of an experiment whose authors' curve ships with snnexp, against it at their last epoch."""
    from snnexp.report.author_curves import render_track, track_rows
    from snnexp.report.runs import find_runs

    rows = track_rows(find_runs(dirs))
    if rows:
        print(render_track(rows))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
