"""``make table-* DRY=1``: print each command as ``echo`` would, and before a ``snnexp train``
(or ``snnexp tune``) how many runs it starts and how long they take on this machine (estimate on
stderr, so the printed commands stay one per line on stdout). ``ESTIMATE=0`` prints only.

A ``-m`` command's runs are those Hydra starts: the experiment's own axes (``hydra.sweeper.params``
in its YAML, which the make targets no longer spell) times the command line's sweeps."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    print(" ".join(argv), flush=True)
    if len(argv) < 2 or not argv[0].endswith("snnexp") or argv[1] not in ("train", "tune"):
        return 0
    from snnexp.cli import one_line
    from snnexp.commands.estimate import plan

    flags = ("-m", "--multirun")
    args = [a for a in argv[2:] if a not in flags]
    multirun = any(a in flags for a in argv[2:])  # a sweep runs its experiment's axes too
    try:
        if argv[1] == "tune":
            from snnexp.commands.estimate import plan_tune

            plan_tune(args)
        else:
            plan(args, multirun=multirun)
    except Exception as e:  # an estimate that cannot be made does not stop the listing
        print(f"snnexp estimate: not estimated ({one_line(e) or type(e).__name__}: {e})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
