"""snnexp claims [paper | claim ...]: each paper's claims in miniature on digits, ruled on before the run.

Each claim is reproduced with several seeds and decided by a rule written in the claim's experiment
file (conf/experiment/claims/<paper>/<claim>.yaml) before the run.

Writes claims.md, claims.csv and one PNG per claim into --out (default outputs/claims). Finished
runs there are reused (one directory per arm, seed and resolved config), so an interrupted
`make claims` continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from snnexp.config.compose import group_options
from snnexp.errors import ArgParser, UserError, choices_hint


def available() -> list[str]:
    return [o for o in group_options("experiment") if o.startswith("claims/")]


def select(names: list[str]) -> list[str]:
    """Claim ids for ``names``: a paper (sew), a claim (sew/depth_degradation) or its full id."""
    claims = available()
    if not names:
        return claims
    chosen = []
    for name in names:
        key = name.lower().removeprefix("claims/")
        hits = [c for c in claims if c == f"claims/{key}" or c.startswith(f"claims/{key}/")]
        if not hits:
            papers = sorted({c.split("/")[1] for c in claims})
            short = [c.removeprefix("claims/") for c in claims]
            raise UserError(f"no claim {name!r}; {choices_hint(key, papers + short)}")
        chosen += [h for h in hits if h not in chosen]
    return chosen


def describe(claim) -> str:
    """A claim for ``--list``: the paper's statement with its source, then our test and our rule,
    labelled as ours (the paper states neither)."""
    return (
        f"{claim.id}\n"
        f"  {claim.paper} says ({claim.source}): {claim.paper_says}\n"
        f"  ours, the test in miniature: {claim.test}\n"
        f"  ours, the rule: {claim.rule_text()}"
    )


def _jobs(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def parser() -> argparse.ArgumentParser:
    p = ArgParser(prog="snnexp claims", description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="papers (sew) or claims (sew/depth_degradation); default: all")
    p.add_argument("--out", default="outputs/claims", help="where runs and tables go (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="reduced runs: one seed, its quick overrides")
    p.add_argument("--list", action="store_true", help="list the claims and their rules; run nothing")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument(
        "--plots-format",
        default="png",
        help="figure files: png, or a list such as png,pdf,svg (vector copies beside the PNG)",
    )
    p.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        help="runs side by side, one CPU thread each (default: the CPUs this process may use)",
    )
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    ids = select(args.names)
    from snnexp.claims.run import load_claim
    from snnexp.figures.style import parse_formats

    formats = parse_formats(args.plots_format, "--plots-format")
    claims = [load_claim(i) for i in ids]  # every claim file is checked before anything runs
    if args.list:
        print("\n".join(describe(c) for c in claims))
        return 0
    from snnexp.claims.render import markdown, write_all
    from snnexp.claims.run import run_claims
    from snnexp.engine.threads import available_cpus

    out = Path(args.out)
    try:  # before any run: a bad --out must not wait for the last table to fail
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"--out {out}: a file is in the way; give a directory") from None
    results = run_claims(claims, out, quick=args.quick, n_jobs=args.jobs or available_cpus())
    written = write_all(results, out, formats)
    from snnexp.loggers.images import log_report_images
    from snnexp.report.runs import RunRecord

    dirs = {d for r in results for ds in r.get("runs", {}).values() for d in ds}
    pngs = [p for p in written if p.suffix == ".png"]
    log_report_images([RunRecord.load(d) for d in sorted(dirs)], pngs, out, kind="claims")
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(markdown(results))
    print("wrote " + ", ".join(map(str, written)), file=sys.stderr)
    return 0
