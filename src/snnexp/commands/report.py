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
from pathlib import Path

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
        "keys against accuracy, mean ± std over seeds), or an id such as 2, 3, 4, 5, 6, S3 "
        "(KEYS 9: the leak of a `snnexp tune` search, from its search_summary.json)",
    )
    p.add_argument("--paper", default=None, help="whose tables (default: from the runs' config, else sew)")
    p.add_argument("--out", default=None, help="where to write table_<id>.md/.csv (default: the first DIR)")
    p.add_argument("--json", action="store_true", help="print the tables as JSON instead of markdown")
    p.add_argument(
        "--plots-format",
        default="png",
        help="figure files beside the tables: png, or a list such as png,pdf,svg",
    )
    p.add_argument("--no-plots", action="store_true", help="tables only (no matplotlib)")
    return p


def draw(args, runs, *, sweep=None, tables=(), out_dir) -> list[str]:
    """The figures of what was tabulated, beside the tables; logged to W&B when the runs were.
    Imported only here: the tables themselves need no matplotlib."""
    if args.no_plots:
        return []
    from snnexp.figures import report as figs
    from snnexp.figures.style import parse_formats

    formats = parse_formats(args.plots_format, "--plots-format")
    written = []
    if sweep is not None:
        title = f"Sweep {Path(args.dirs[0]).resolve().name}: {', '.join(sweep['axes']) or 'one setting'}"
        written += figs.write_sweep_figures(sweep, runs, Path(out_dir), title, formats)
    for t in tables:
        written += figs.write_table_figure(t, Path(out_dir), formats)
    from snnexp.loggers.images import log_report_images

    log_report_images(runs, [p for p in written if p.suffix == ".png"], Path(out_dir))
    return [str(p) for p in written]


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
    t = sweep_table(runs, args.dirs)
    out_dir = args.out or args.dirs[0]
    written = [*write_sweep_table(t, out_dir), *draw(args, runs, sweep=t, out_dir=out_dir)]
    print(json.dumps(t, indent=2, default=str) if args.json else render_markdown(t))
    print("wrote " + ", ".join(map(str, written)), file=sys.stderr)
    return 0


def search_report(args) -> int:
    """KEYS Table 9: the leak of a `snnexp tune` search (its search_summary.json) beside the paper's."""
    from snnexp.report.search import render_markdown, search_table, write_search_table

    t = search_table(args.dirs)
    written = write_search_table(t, args.out or args.dirs[0])
    print(json.dumps(t, indent=2, default=str) if args.json else render_markdown(t))
    print("wrote " + ", ".join(map(str, written)), file=sys.stderr)
    return 0


def _is_keys_search(args) -> bool:
    """--table 9 of KEYS: named (--paper keys), or a search_summary.json under the directories."""
    from snnexp.report.search import find_summaries

    if args.paper is not None:
        return args.paper.lower() == "keys"
    return bool(find_summaries(args.dirs))


def main(argv: list[str]) -> int:
    from snnexp.report import make_tables, render_markdown, write_table
    from snnexp.report.runs import find_runs
    from snnexp.report.tables import tables_for_runs

    args = parser().parse_args(argv)
    from snnexp.figures.style import parse_formats

    parse_formats(args.plots_format, "--plots-format")  # before any table is written
    if args.table == "9" and _is_keys_search(args):  # KEYS Table 9: a search, not runs in cells
        return search_report(args)
    if args.table == "sweep" or (
        args.table == "auto" and not tables_for_runs(find_runs(args.dirs), args.paper)
    ):  # not a paper experiment: the generic sweep table
        return sweep_report(args)
    tables = make_tables(args.dirs, table=args.table, paper=args.paper)
    out_dir = args.out or args.dirs[0]
    written = []
    for t in tables:
        written += [str(p) for p in write_table(t, out_dir)]
    written += draw(args, find_runs(args.dirs), tables=tables, out_dir=out_dir)
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
