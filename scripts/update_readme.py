"""Write `snnexp list --markdown` between the README's markers (run by `make format`): the README's
table of config groups is generated from conf/, so a new option (neuron, model, experiment ...)
reaches it without a hand edit. Exit 1 with --check when the README is stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from snnexp.commands.list import BEGIN, END, markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def updated(text: str) -> str:
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{README}: no markers {BEGIN!r} ... {END!r}")
    head, tail = text[: text.index(BEGIN)], text[text.index(END) + len(END) :]
    return head + markdown_table().rstrip("\n") + tail


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only say whether the README is stale")
    args = ap.parse_args()
    text = README.read_text()
    new = updated(text)
    if args.check:
        state = "current" if new == text else "stale: run `make format`"
        print(f"README.md: config-group table is {state}")
        return int(new != text)
    if new != text:
        README.write_text(new)
        print("README.md: config-group table updated from conf/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
