"""snnexp list [group ...]: what can be chosen, one line each, read from the config tree.

Every option of a config group is a YAML file whose first comment line describes it (and names
its paper), so listing needs neither torch nor the registries.
"""

from __future__ import annotations

from pathlib import Path

from snnexp.config.compose import ALL_GROUPS, conf_dir
from snnexp.errors import ArgParser, UserError, choices_hint

GROUPS = list(ALL_GROUPS)
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


# What each group sets and where its code lives: the two hand-written columns of the README's table
# of config groups (`snnexp list --markdown`; the options themselves are read from the config tree).
GROUP_NOTES = {
    "data": ("the data set, its root and augmentation", "`data/`"),
    "model": ("the network (its own keys; the data's sizes come from `data`)", "`models/`"),
    "block": ("the residual block (`block.zero_init`)", "`blocks/`"),
    "neuron": ("the spiking neuron (charge / fire / reset), or `relu` for the ANN of a model", "`neurons/`"),
    "surrogate": ("the surrogate gradient of the spike", "`surrogates.py`"),
    "norm": ("the normalisation", "`norms/`"),
    "encoder": ("how an image or event stream becomes the T-step input", "`encoders.py`"),
    "trainer": ("the loop: epochs, batch size, AMP, clipping, checkpoints, ...", "`engine/`"),
    "method": (
        "how one step updates the weights (the method owns forward, backward, optimizer step); dsr: "
        "`method.formulation=per_step` (the authors') or `flat` (what backward keeps does not grow "
        "with T; with `method.record_chunk=N` the forward simulation runs N steps at a time)",
        "`methods/`",
    ),
    "optim": (
        "parameter groups by kind (weight/norm/bias/threshold), each with its weight decay",
        "`engine/optim.py`",
    ),
    "sched": ("the lr schedule (+ warm-up)", "`engine/schedule.py`"),
    "logger": ("where metrics go (wandb offline by default)", "`loggers/`"),
    "launcher": ("Hydra launchers for `-m` sweeps", ""),
    "experiment": (
        "complete paper settings (`# @package _global_`): each extends its paper's recipe "
        "(`experiment/<paper>/_base.yaml`) and says only what differs; `claims/*`: `snnexp claims`",
        "`conf/experiment/`",
    ),
    "debug": ("a whole run in seconds (tiny synthetic data and model), e.g. `debug=fast neuron=plif`", ""),
    "search": ("the search space and budget of `snnexp tune`", "`tune.py`"),
}
BEGIN = "<!-- snnexp list --markdown: begin (generated; edit src/snnexp/commands/list.py or conf/) -->"
END = "<!-- snnexp list --markdown: end -->"


def _option_cell(group: str, names: list[str]) -> str:
    """The options of a group; experiments by folder with their count (there are dozens)."""
    if group != "experiment":
        return ", ".join(names)
    folders: dict[str, int] = {}
    for n in names:
        folder = n.split("/")[0] if "/" in n else n
        folders[folder] = folders.get(folder, 0) + 1
    return ", ".join(f"`{f}/*` ({k})" for f, k in sorted(folders.items()))


def markdown_table(groups: list[str] | None = None) -> str:
    """The README's table of config groups, between its markers (tests/test_readme_groups.py)."""
    head = "| group | options (see `snnexp list <group>`) | what it sets | code |"
    lines = [BEGIN, head, "|---|---|---|---|"]
    for g in groups or GROUPS:
        what, code = GROUP_NOTES[g]
        names = [n for n, _ in options(g)]
        lines.append(f"| `{g}` | {_option_cell(g, names)} | {what} | {code} |")
    return "\n".join([*lines, END]) + "\n"


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
    ap.add_argument("--markdown", action="store_true", help="the README's table of config groups")
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
    if args.markdown:
        if extra:
            raise UserError("--markdown prints the table of this project's conf/; it takes no --config-dir")
        print(markdown_table(wanted), end="")
        return 0
    for g in wanted or GROUPS:
        opts = options(g, extra)
        print(f"{g}  ({g}=<name>)")
        w = max([len(n) for n, _ in opts] + [4])
        for name, text in opts:
            print(f"  {name:<{w}}  {text}")
        print()
    return 0
