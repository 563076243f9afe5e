"""``snnexp <command> [hydra overrides...]``.

Hydra owns the argv of every config-driven command (overrides, ``-m``, ``--cfg job``, ``--info``,
``--config-dir``, shell completion); this module only picks the command, strips the command's own
flags (``--json``), validates the overrides once (so a typo is one line and exit 2, not Hydra's
multi-line report) and hands over. Nothing here imports torch.
"""

from __future__ import annotations

import importlib
import os
import sys

COMMANDS = {
    "train": "train a model as the config says (method=bptt: surrogate-gradient BPTT)",
    "eval": "evaluate a checkpoint on a data split: snnexp eval ckpt=path/to/last.pt [split=test] [T=...]",
    "summary": "build the model from the same overrides; print params and a per-layer table [--json]",
    "list": "list registered models, blocks, neurons, ... (snnexp list [group])",
    "report": "print a paper table from a sweep directory: snnexp report <dir>",
    "analyze": "firing rates, gradient norms, energy: snnexp analyze firing|gradients|energy [overrides]",
    "fold": "fold tdBN/BN into the convs of a checkpoint for inference: snnexp fold ckpt=... [out=...]",
    "claims": "the papers' central claims in miniature on digits: snnexp claims [paper] [--quick] [--list]",
}
USAGE = "usage: snnexp <command> [overrides...]   (snnexp <command> --help for its options)"


def _usage(stream=sys.stdout) -> None:
    print(USAGE, file=stream)
    print("\ncommands:", file=stream)
    for name, text in COMMANDS.items():
        print(f"  {name:<9} {text}", file=stream)
    print(
        "\nexamples:\n  snnexp train                       # the offline digits demo"
        "\n  snnexp train model=sew_resnet18 data=imagenet data.root=/data/imagenet"
        "\n  snnexp train -m block=sew_add,spiking,plain"
        "\n  snnexp train --cfg job              # print the composed config",
        file=stream,
    )


def fail(msg: str, code: int = 2) -> int:
    print(f"snnexp: error: {msg}", file=sys.stderr)
    return code


def _validate(config_name: str, args: list[str]) -> None:
    """Compose once with the overrides (the first sweep combination for -m) to fail fast."""
    from hydra._internal.utils import get_args_parser

    from snnexp.config import compose

    parsed, _ = get_args_parser().parse_known_args(args)
    if parsed.help or parsed.hydra_help or parsed.cfg or parsed.info or parsed.shell_completion:
        return
    extra = [f"hydra.searchpath=[file://{os.path.abspath(parsed.config_dir)}]"] if parsed.config_dir else []
    name = parsed.config_name or config_name
    for overrides in _sweep_variants(list(parsed.overrides)) if parsed.multirun else [parsed.overrides]:
        compose([*extra, *overrides], name)


def _sweep_variants(overrides: list[str]) -> list[list[str]]:
    """Enough single runs to check every value of every swept key once (not the whole product):
    the first value of every sweep, then each further value of each sweep in turn."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from snnexp.config.compose import translate_error

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as e:
        raise translate_error(e, overrides) from e
    values = [
        [f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
        if o.is_sweep_override()
        else [o.input_line]
        for o in parsed
    ]
    base = [v[0] for v in values]
    variants = [base]
    for i, vs in enumerate(values):
        variants += [base[:i] + [v] + base[i + 1 :] for v in vs[1:]]
    return variants


def run_hydra(command: str, module, args: list[str]) -> int:
    import hydra

    from snnexp.config.compose import conf_dir, register_resolvers

    register_resolvers()
    flags = {a for a in args if a in getattr(module, "FLAGS", set())}
    args = [a for a in args if a not in flags]
    positional = getattr(module, "POSITIONAL", None)
    if positional and args and "=" not in args[0] and not args[0].startswith("-"):
        args = [f"{positional}={args[0]}"] + args[1:]
    if os.environ.get("HYDRA_FULL_ERROR") != "1":
        _validate(module.CONFIG_NAME, args)

    @hydra.main(config_path=str(conf_dir()), config_name=module.CONFIG_NAME, version_base="1.3")
    def app(cfg):
        from snnexp.errors import UserError

        try:
            return module.task(cfg, flags)
        except UserError as e:  # raised inside Hydra's job: one line and exit 2, not Hydra's report
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(f"snnexp: error: {e}", file=sys.stderr)
            sys.exit(e.exit_code)

    rank = os.environ.get("RANK") or os.environ.get("SLURM_PROCID")
    if rank not in (None, "0") and int(os.environ.get("WORLD_SIZE", os.environ.get("SLURM_NTASKS", "1"))) > 1:
        # DDP: all ranks share rank 0's run dir (broadcast by the engine); the others' Hydra
        # dirs go to a scratch place instead of leaving near-empty run dirs under outputs/.
        import tempfile

        scratch = tempfile.mkdtemp(prefix=f"snnexp-rank{rank}-")
        args = [*args, f"hydra.run.dir={scratch}", "hydra.output_subdir=null"]
    sys.argv = [f"snnexp {command}", *args]
    app()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        _usage()
        return 0
    if argv[0] in ("-V", "--version"):
        from snnexp import __version__

        print(f"snnexp {__version__}")
        return 0
    command, args = argv[0], argv[1:]
    if command not in COMMANDS:
        from snnexp.errors import choices_hint

        return fail(f"unknown command {command!r}; {choices_hint(command, COMMANDS)}")
    from snnexp.errors import UserError

    try:
        module = importlib.import_module(f"snnexp.commands.{command}")
        if hasattr(module, "CONFIG_NAME"):
            return run_hydra(command, module, args)
        return int(module.main(args) or 0)
    except UserError as e:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        return fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except BrokenPipeError:  # `snnexp list | head`
        sys.stderr.close()
        return 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
