"""snnexp list [group ...]: what can be chosen, one line each, read from the config tree.

Every option of a config group is a YAML file whose first comment line describes it (and names
its paper), so listing needs neither torch nor the registries.
"""

from __future__ import annotations

from pathlib import Path

from snnexp.config.compose import CONFIG_GROUPS, conf_dir
from snnexp.errors import ArgParser, UserError, choices_hint

GROUPS = [*CONFIG_GROUPS, "launcher", "experiment", "debug", "search"]
ALIASES = {
    "models": "model",
    "blocks": "block",
    "neurons": "neuron",
    "surrogates": "surrogate",
    "norms": "norm",
    "normalizations": "norm",
    "encoders": "encoder",
    "datasets": "data",
    "dataset": "data",
    "trainers": "trainer",
    "optimizers": "optim",
    "schedulers": "sched",
    "loggers": "logger",
    "launchers": "launcher",
    "experiments": "experiment",
}


def describe(path: Path) -> str:
    for line in path.read_text().splitlines():
        s = line.strip()
        if s.startswith("#") and not s.startswith("# @package"):
            return s.lstrip("# ").strip()
        if s and not s.startswith("#"):
            break
    return ""


def options(group: str, extra_dirs: tuple[Path, ...] = ()) -> list[tuple[str, str]]:
    """(name, description) of a group's options in the config tree and in ``extra_dirs`` (the
    user's ``--config-dir``, searched by Hydra too; its option wins a name clash, as in Hydra)."""
    found: dict[str, str] = {}
    for base in (conf_dir(), *extra_dirs):
        root = Path(base) / group
        if root.is_dir():
            for p in sorted(root.rglob("*.yaml")):
                if not p.name.startswith("_"):
                    found[str(p.relative_to(root).with_suffix(""))] = describe(p)
    return sorted(found.items())


def main(argv: list[str]) -> int:
    ap = ArgParser(prog="snnexp list", description=__doc__.splitlines()[0])
    ap.add_argument("groups", nargs="*", help=f"any of: {', '.join(GROUPS)} (default: all)")
    ap.add_argument("--config-dir", "-cd", action="append", default=[], help="your own config tree too")
    args = ap.parse_args(argv)
    extra = tuple(Path(d) for d in args.config_dir)
    for d in extra:
        if not d.is_dir():
            raise UserError(f"--config-dir {d}: no such directory")
    wanted = []
    for g in args.groups:
        g = ALIASES.get(g, g)
        if g not in GROUPS:
            raise UserError(f"unknown group {g!r}; {choices_hint(g, GROUPS)}")
        wanted.append(g)
    for g in wanted or GROUPS:
        opts = options(g, extra)
        print(f"{g}  ({g}=<name>)")
        w = max([len(n) for n, _ in opts] + [4])
        for name, text in opts:
            print(f"  {name:<{w}}  {text}")
        print()
    return 0
