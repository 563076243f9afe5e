"""snnexp runs [DIR ...]: past runs, newest first: when, status, best/last acc@1, overrides.

Filters: --status finished, --where neuron=lif (any dotted config key; a group matches its
option's name), --since/--until 2026-12-01; --sort best_acc1 (any metrics.json number or summary
column, best first); --compare A B: the config keys that differ and the metrics side by side.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

from snnexp.errors import ArgParser, UserError


def _date(text: str) -> float:
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"):
        try:
            return datetime.strptime(text, fmt).timestamp()
        except ValueError:
            pass
    raise UserError(f"date {text!r} is not YYYY-MM-DD (or 'YYYY-MM-DD HH:MM')")


def _where(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UserError(f"--where {text!r} must be key=value, e.g. --where neuron=lif")
    return key, value


def config_value(run, key: str):
    """``neuron`` means ``neuron.name``; any dotted key of the resolved config otherwise."""
    v = run.get(key)
    return v.get("name") if isinstance(v, dict) else v


def metric_value(run, metric: str) -> float | None:
    from snnexp import runfiles

    if metric in ("best_acc1", "best_acc5"):
        return run.best(metric[5:])[0]
    if metric in ("last_acc1", "last_acc5"):
        return run.last(metric[5:])
    v = runfiles.to_number(run.metrics.get(metric))
    if v is None and run.summary:
        v = runfiles.to_number(run.summary[-1].get(metric))
    return v


def parser():
    ap = ArgParser(prog="snnexp runs", description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", default=["outputs"], metavar="DIR", help="default: outputs")
    ap.add_argument("--json", action="store_true", help="one JSON list on stdout")
    ap.add_argument("--status", action="append", help="only runs in this state (repeatable)")
    ap.add_argument("--where", action="append", type=str, default=[], help="key=value of the config")
    ap.add_argument("--since", help="runs last written on or after this date (YYYY-MM-DD)")
    ap.add_argument("--until", help="runs last written before this date")
    ap.add_argument("--sort", help="a metric, highest first (best_acc1, last_acc1, params, ...)")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two run directories side by side")
    return ap


def select(runs, args) -> list:
    wheres, since, until = _filters(args)
    out = []
    for r in runs:
        if args.status and r.status not in args.status:
            continue
        if any(str(config_value(r, k)) != v for k, v in wheres):
            continue
        if (since is not None and r.mtime < since) or (until is not None and r.mtime >= until):
            continue
        out.append(r)
    if args.sort:
        known = [r for r in out if metric_value(r, args.sort) is not None]
        if out and not known:
            raise UserError(f"--sort {args.sort}: no run has that metric (try best_acc1, last_acc1, params)")
        out = sorted(known, key=lambda r: -metric_value(r, args.sort)) + [r for r in out if r not in known]
    return out


def _filters(args):
    """(key=value pairs, since, until), each checked before any directory is read."""
    wheres = [_where(w) for w in args.where]
    since = _date(args.since) if args.since else None
    until = _date(args.until) if args.until else None
    return wheres, since, until


def compare(a, b) -> str:
    from snnexp.report.sweep import _flat

    fa, fb = _flat(a.config), _flat(b.config)
    keys = sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k) and not k.startswith("hydra"))
    w = max([len(k) for k in keys] + [12])
    lines = [f"{'':<{w}}  A: {a.path}", f"{'':<{w}}  B: {b.path}", "", "config keys that differ:"]
    lines += [f"  {k:<{w}}  {fa.get(k, '—')!s:>20}  {fb.get(k, '—')!s:>20}" for k in keys] or ["  (none)"]
    lines += ["", "metrics:"]
    for m in ("status", "best_acc1", "last_acc1", "best_acc5", "best_epoch", "epochs_done", "params"):
        va = a.status if m == "status" else metric_value(a, m)
        vb = b.status if m == "status" else metric_value(b, m)
        lines.append(f"  {m:<{w}}  {_fmt(va):>20}  {_fmt(vb):>20}")
    return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) >= 1:
        return str(int(v))
    return "—" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))


def main(argv: list[str]) -> int:
    from snnexp.report.runs import RunRecord, find_runs

    args = parser().parse_args(argv)
    _filters(args)
    if args.compare:
        a, b = (find_runs([p]) for p in args.compare)
        if len(a) != 1 or len(b) != 1:
            raise UserError("--compare takes two run directories (each with config.yaml or metrics.json)")
        print(compare(RunRecord.load(a[0].path), RunRecord.load(b[0].path)))
        return 0
    runs = select(sorted(find_runs(args.dirs), key=lambda r: r.mtime, reverse=True), args)
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
                **({args.sort: metric_value(r, args.sort)} if args.sort else {}),
                "overrides": [o for o in r.overrides if not o.startswith("hydra.")],
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        best = "-" if row["best_acc1"] is None else f"{row['best_acc1']:.2f}"
        last = "-" if row["last_acc1"] is None else f"{row['last_acc1']:.2f}"
        extra = f"  {args.sort} {_fmt(row[args.sort])}" if args.sort and "acc1" not in args.sort else ""
        head = f"{row['modified']}  {row['status']:<8} {row['epochs']:>7}  best {best:>6}  last {last:>6}"
        print(f"{head}{extra}  {row['run_dir']}  {' '.join(row['overrides'])}")
    if not rows:
        print(f"no runs under {', '.join(args.dirs)} that match")
    return 0
