"""``snnexp <command> --help``: the command's own keys and flags, then the config groups a user
picks from. Built from the config tree and the command module, without Hydra's listing (which
shows every command train's config and internal entries: schemas, root, run_dir)."""

from __future__ import annotations

import re
from pathlib import Path

from snnexp.config.compose import ALL_GROUPS, conf_dir

INTERNAL_KEYS = {"defaults", "hydra", "paths", "paper_hparams", "experiment_name", "paper"}
_TOP_KEY = re.compile(r"^([A-Za-z_][\w]*):\s*(.*?)\s*(?:#\s*(.*))?$")


def own_keys(config_name: str) -> list[tuple[str, str, str]]:
    """(key, default, comment) of the top-level keys a command's YAML sets itself; a YAML that
    only extends another (fold.yaml: ``defaults: [eval]``) shows that one's keys."""
    path = conf_dir() / f"{config_name}.yaml"
    rows, parent = [], None
    for line in path.read_text().splitlines():
        m = _TOP_KEY.match(line)
        if m and m.group(1) not in INTERNAL_KEYS:
            rows.append((m.group(1), m.group(2), m.group(3) or ""))
        elif line.strip().startswith("- ") and parent is None:
            name = line.strip()[2:].split("#")[0].strip()
            if (conf_dir() / f"{name}.yaml").is_file() and name != "train":
                parent = name
    return rows or (own_keys(parent) if parent else [])


def header(path: Path) -> list[str]:
    out = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        if not line.startswith("# @package"):
            out.append(line.lstrip("#").rstrip()[1:] if line.startswith("# ") else "")
    return out


def render(command: str, module, summary: str) -> str:
    from snnexp.commands.list import options

    name = module.CONFIG_NAME
    lines = [f"snnexp {command} [overrides...]" + (" [-m]" if command == "train" else ""), "", summary, ""]
    lines += [ln for ln in header(conf_dir() / f"{name}.yaml") if ln.strip()][:6]
    keys = own_keys(name)
    if keys:
        lines += ["", "its own keys (key=value):"]
        w = max(len(k) for k, _, _ in keys)
        lines += [
            f"  {k:<{w}}  {('default ' + v) if v else ''}{('  ' + c) if c else ''}".rstrip()
            for k, v, c in keys
        ]
    flags = sorted(getattr(module, "FLAGS", set()))
    if flags or getattr(module, "POSITIONAL", None):
        lines += ["", "flags:"]
        lines += [
            f"  {f}  print the result as JSON on stdout (and nothing else there)"
            for f in flags
            if f == "--json"
        ]
        if getattr(module, "POSITIONAL", None):
            lines.append(f"  the first word sets {module.POSITIONAL}= (snnexp {command} firing)")
    lines += ["", "config groups (group=option; snnexp list <group> describes each option):"]
    for g in (g for g in ALL_GROUPS if g != "search" or command == "tune"):  # search: tune's only
        lines.append(f"  {g:<10} {', '.join(n for n, _ in options(g))}")
    lines += [
        "",
        f"any key of the config can be set (key=value); snnexp {command} --cfg job prints the composed",
        "config, --hydra-help lists Hydra's own flags.",
    ]
    return "\n".join(lines)
