"""The README's table of config groups is `snnexp list --markdown`, and it names every registry entry."""

from __future__ import annotations

from pathlib import Path

from snnexp import registry as R
from snnexp.commands.list import BEGIN, END, GROUPS, markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block() -> str:
    text = README.read_text()
    assert BEGIN in text and END in text, f"README.md lacks the markers {BEGIN!r} ... {END!r}"
    return text[text.index(BEGIN) : text.index(END) + len(END)] + "\n"


def readme_rows() -> dict[str, list[str]]:
    rows = {}
    for line in readme_block().splitlines()[3:-1]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = [o.strip() for o in cells[1].split(",")]
    return rows


def test_the_readme_table_is_what_snnexp_list_markdown_prints():
    block, generated = readme_block(), markdown_table()
    if block != generated:
        old, new = set(block.splitlines()), set(generated.splitlines())
        only_readme, only_generated = "\n  ".join(sorted(old - new)), "\n  ".join(sorted(new - old))
        raise AssertionError(
            "README.md's config-group table is stale; run `make format` (scripts/update_readme.py).\n"
            f"only in README:\n  {only_readme}\nonly generated:\n  {only_generated}"
        )


def test_the_readme_table_names_every_registry_entry_and_every_group():
    R.load_builtin()
    rows = readme_rows()
    assert list(rows) == list(GROUPS)
    for group, registry in R.GROUPS.items():
        names = set(registry.names())
        assert set(rows[group]) == names, (group, sorted(rows[group]), sorted(names))


def test_every_experiment_folder_is_counted_in_the_readme_table():
    import re

    from snnexp.config.compose import group_options

    counted = {}
    for cell in readme_rows()["experiment"]:
        folder, n = re.fullmatch(r"`(\w+)/\*` \((\d+)\)", cell).groups()
        counted[folder] = int(n)
    found: dict[str, int] = {}
    for option in group_options("experiment"):
        found[option.split("/")[0]] = found.get(option.split("/")[0], 0) + 1
    assert counted == found
