"""snnexp runs [DIR ...]: past runs, newest first: when, status, best/last acc@1, overrides."""

from __future__ import annotations

import json
import time

from snnexp.errors import ArgParser


def main(argv: list[str]) -> int:
    from snnexp.report.runs import find_runs

    ap = ArgParser(prog="snnexp runs", description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", default=["outputs"], metavar="DIR", help="default: outputs")
    ap.add_argument("--json", action="store_true", help="one JSON list on stdout")
    args = ap.parse_args(argv)
    runs = sorted(find_runs(args.dirs), key=lambda r: r.mtime, reverse=True)
    rows = []
    for r in runs:
        best, epoch = r.best("acc1")
        rows.append(
            {
                "run_dir": str(r.path),
                "modified": time.strftime("%Y-%m-%d %H:%M", time.localtime(r.mtime)),
                "status": r.status,
                "epochs": f"{len(r.summary)}/{r.epochs_planned or '?'}",
                "best_acc1": best,
                "best_epoch": epoch,
                "last_acc1": r.last("acc1"),
                "overrides": [o for o in r.overrides if not o.startswith("hydra.")],
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        best = "-" if row["best_acc1"] is None else f"{row['best_acc1']:.2f}"
        last = "-" if row["last_acc1"] is None else f"{row['last_acc1']:.2f}"
        print(
            f"{row['modified']}  {row['status']:<8} {row['epochs']:>7}  best {best:>6}  last {last:>6}  "
            f"{row['run_dir']}  {' '.join(row['overrides'])}"
        )
    if not rows:
        print(f"no runs under {', '.join(args.dirs)}")
    return 0
