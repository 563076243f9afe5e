"""``snnexp <command> [hydra overrides...]``.

Hydra owns the argv of every config-driven command (overrides, ``-m``, ``--cfg job``, ``--info``,
``--config-dir``, shell completion); this module only picks the command, strips the command's own
flags (``--json``) and hands over; a bad value anywhere is one line and exit 2, not Hydra's
multi-line report (the config gate, config/gate.py, checks each config where it is used). Nothing
here imports torch.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

COMMANDS = {
    "train": "train a model as the config says (method=bptt: surrogate-gradient BPTT)",
    "eval": "evaluate a checkpoint on a data split: snnexp eval ckpt=path/to/last.pt [split=test] [T=...]",
    "summary": "build the model from the same overrides; print params and a per-layer table [--json]",
    "list": "list registered models, blocks, neurons, ... (snnexp list [group])",
    "report": "a paper table, or any sweep's varied keys vs accuracy (mean ± std): snnexp report <dir>",
    "runs": "list past runs with status, accuracy and overrides: snnexp runs [dir] [--json]",
    "analyze": "firing rates, gradient norms, energy: snnexp analyze firing|gradients|energy [overrides]",
    "fold": "fold tdBN/BN into the convs of a checkpoint for inference: snnexp fold ckpt=... [out=...]",
    "export": "write a trained network as a NIR graph: snnexp export ckpt=... format=nir out=model.nir",
    "tune": "hyper-parameter search (TPE + Hyperband, resumable): snnexp tune search=... [overrides]",
    "estimate": "runs of a (sweep) command and their time on this machine: snnexp estimate [-m] ...",
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


def bash_completion() -> str:
    """A bash completion for snnexp: the command names, then Hydra's completion of the command's
    overrides (groups, options, keys), asked of ``snnexp <command> -sc query=bash``."""
    hydra_cmds = "|".join(c for c in COMMANDS if c not in ("list", "report", "runs"))
    return f"""_snnexp_completion() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "{" ".join(COMMANDS)}" -- "$cur"))
        return
    fi
    case "${{COMP_WORDS[1]}}" in
        {hydra_cmds})
            local choices
            choices=$(COMP_LINE="$COMP_LINE" snnexp "${{COMP_WORDS[1]}}" -sc query=bash 2>/dev/null)
            COMPREPLY=($(compgen -o nospace -o default -W "$choices" -- "$cur"));;
    esac
}}
COMP_WORDBREAKS=${{COMP_WORDBREAKS//=}}
complete -o nospace -o default -F _snnexp_completion snnexp"""


def fail(msg: str, code: int = 2) -> int:
    print(f"snnexp: error: {msg}", file=sys.stderr)
    return code


def _validate(module, args: list[str]) -> bool:
    """Compose once with the overrides (the first sweep combination for -m) to fail fast, then
    let the command check its start (``precheck``) before Hydra writes anything. False: the
    command has nothing to do."""
    from hydra._internal.utils import get_args_parser

    from snnexp.config import compose
    from snnexp.errors import ConfigError

    parsed, _ = get_args_parser().parse_known_args(args)
    if parsed.help or parsed.hydra_help or parsed.shell_completion:
        return True
    if parsed.config_dir and not os.path.isdir(parsed.config_dir):
        raise ConfigError(f"--config-dir {parsed.config_dir}: no such directory")
    name = parsed.config_name or module.CONFIG_NAME
    variants = (
        _sweep_variants(list(parsed.overrides), name, parsed.config_dir)
        if parsed.multirun
        else [parsed.overrides]
    )
    cfg = [compose(overrides, name, user_dir=parsed.config_dir) for overrides in variants][0]
    if parsed.cfg or parsed.info:  # prints the config: nothing is started
        return True
    if "launcher=slurm" in parsed.overrides and parsed.multirun:
        import shutil

        if not shutil.which("srun"):
            raise ConfigError(
                "launcher=slurm needs SLURM (no srun on PATH); run it on the cluster, or use launcher=joblib"
            )
    precheck = getattr(module, "precheck", None)
    return precheck(cfg, list(parsed.overrides), bool(parsed.multirun)) if precheck else True


def _sweep_variants(overrides: list[str], config_name: str, user_dir: str | None) -> list[list[str]]:
    """Enough single runs to check every value of every axis once (not the whole product): the
    first value of every axis, then each further value of each axis in turn. The axes are the
    experiment's own (hydra.sweeper.params) and the command line's (config/sweep.py)."""
    from snnexp.config.sweep import axes

    values = [v for _, v in axes(overrides, config_name, user_dir)]
    base = [v[0] for v in values]
    variants = [base]
    for i, vs in enumerate(values):
        variants += [base[:i] + [v] + base[i + 1 :] for v in vs[1:]]
    return variants


def run_hydra(command: str, module, args: list[str]) -> int:
    import hydra

    from snnexp.config.compose import register_resolvers

    register_resolvers()
    flags = {a for a in args if a in getattr(module, "FLAGS", set())}
    args = [a for a in args if a not in flags]
    args = [_plots_format_as_list(a) for a in args]
    if hasattr(module, "rewrite_args"):  # a command's own reading of some overrides (eval: T=50,40)
        args = module.rewrite_args(args)
    positional = getattr(module, "POSITIONAL", None)
    if positional and args and "=" not in args[0] and not args[0].startswith("-"):
        args = [f"{positional}={args[0]}"] + args[1:]
    if any(a in ("--help", "-h") for a in args):  # the command's own keys, not Hydra's listing of train
        from snnexp.commands.help import render

        print(render(command, module, COMMANDS[command]))
        return 0
    # HYDRA_FULL_ERROR=1 changes how an error prints (a traceback), never what is checked
    full = os.environ.get("HYDRA_FULL_ERROR") == "1"
    if not _validate(module, args):
        return 0
    sweep_env = _sweep_env(args, module.CONFIG_NAME)  # read before --config-dir is rearranged
    args, primary = _user_config_dir_first(args)

    @hydra.main(config_path=primary, config_name=module.CONFIG_NAME, version_base="1.3")
    def app(cfg):

        _quiet_third_party("--json" in flags)
        try:
            return module.task(cfg, flags)
        except Exception as e:  # raised inside Hydra's job: one line and exit 2, not Hydra's report
            msg = one_line(e)
            if msg is None:  # a bug: Hydra's report with the traceback
                raise
            if os.environ.get("SNNEXP_FULL_ERROR") == "1":  # the traceback too; the outcome is the same
                traceback.print_exc()
            from snnexp.errors import RunInterrupted

            if _in_sweep() and not isinstance(e, RunInterrupted):  # the other jobs finish; Hydra
                # reports this one at the end (an interrupted job ends the sweep: exit below)
                from snnexp.sweepjob import SweepJobFailed

                raise SweepJobFailed(f"snnexp: error: {msg} (the sweep's other jobs ran on)") from None
            print(f"snnexp: error: {msg}", file=sys.stderr)
            sys.exit(getattr(e, "exit_code", 2))

    rank = os.environ.get("RANK") or os.environ.get("SLURM_PROCID")
    if rank not in (None, "0") and int(os.environ.get("WORLD_SIZE", os.environ.get("SLURM_NTASKS", "1"))) > 1:
        # DDP: all ranks share rank 0's run dir (broadcast by the engine); the others' Hydra
        # dirs go to a scratch place instead of leaving near-empty run dirs under outputs/.
        import tempfile

        scratch = tempfile.mkdtemp(prefix=f"snnexp-rank{rank}-")
        args = [*args, f"hydra.run.dir={scratch}", "hydra.output_subdir=null"]
    sys.argv = [f"snnexp {command}", *args]
    # Hydra reports an error of its own (a run dir it cannot create, a launcher that cannot start)
    # as a stack trace; with HYDRA_FULL_ERROR=1 it raises instead, and it becomes one line here.
    # SNNEXP_FULL_ERROR carries the user's own choice into the job (and joblib's workers).
    saved_env = {k: os.environ.get(k) for k in (*SWEEP_ENV, "SNNEXP_FULL_ERROR", "HYDRA_FULL_ERROR")}
    os.environ["SNNEXP_FULL_ERROR"] = "1" if full else "0"
    os.environ.update(sweep_env)
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        return _run_app(app, args, full)
    finally:  # an in-process caller (tests, notebooks) keeps its own error settings
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _user_config_dir_first(args: list[str]) -> tuple[list[str], str]:
    """(args, Hydra's primary config dir): with ``--config-dir DIR``, DIR becomes the primary dir
    and the package's tree the additional one (config.compose.search_order: why)."""
    from snnexp.config.compose import conf_dir

    out, user, i = [], None, 0
    while i < len(args):
        a = args[i]
        if a in ("--config-dir", "-cd") and i + 1 < len(args):
            user, i = args[i + 1], i + 2
            continue
        if a.startswith("--config-dir="):
            user = a.partition("=")[2]
        else:
            out.append(a)
        i += 1
    if user is None:
        return args, str(conf_dir())
    return [*out, "--config-dir", str(conf_dir())], os.path.abspath(user)


def _plots_format_as_list(arg: str) -> str:
    """``plots.format=png,pdf,svg`` is one list of file formats, not a sweep over them."""
    import re

    m = re.fullmatch(r"(\+{0,2}plots\.format)=([A-Za-z0-9_.]+(?:,[A-Za-z0-9_.]+)+)", arg)
    return f"{m.group(1)}=[{m.group(2)}]" if m else arg


def _run_app(app, args: list[str], full: bool) -> int:
    try:
        app()
    except SystemExit as e:  # Hydra's own error exit is 1; snnexp's user errors are 2
        raise SystemExit(2 if e.code == 1 else e.code) from None
    except Exception as e:
        from hydra.errors import HydraException

        from snnexp.config.compose import translate_error
        from snnexp.sweepjob import SweepJobFailed

        if full:
            raise
        if isinstance(e, SweepJobFailed):
            print(str(e), file=sys.stderr)
            return 2
        msg = one_line(e) or (str(translate_error(e, args)) if isinstance(e, HydraException) else None)
        if msg is None:
            raise
        return fail(msg)
    return 0


def _quiet_third_party(json_only: bool) -> None:
    """Hydra's job logging sends INFO to stdout for the read-only commands; a library's INFO line
    (matplotlib's "generated new fontManager" on a fresh machine) must not end up in front of
    ``--json`` output, nor in the console at all."""
    import logging

    for name in ("matplotlib", "PIL", "urllib3", "wandb"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if json_only:  # stdout is for the JSON document alone
        logging.getLogger().setLevel(logging.WARNING)


SWEEP_ENV = ("SNNEXP_SWEPT_KEYS", "SNNEXP_SWEEP_RUNS", "SNNEXP_SWEEP_T0")


def _sweep_env(args: list[str], config_name: str) -> dict[str, str]:
    """What a sweep's jobs learn of the sweep: the swept keys (for the job dirs' names), the
    number of runs and the start time (for the progress line with an ETA, commands/train.py).
    The experiment's own axes (hydra.sweeper.params) count as swept keys like the command line's."""
    import math
    import time

    from hydra._internal.utils import get_args_parser

    from snnexp.config.sweep import axes

    parsed, _ = get_args_parser().parse_known_args(args)
    keys, n = [], 1
    if parsed.multirun:
        try:
            found = axes(list(parsed.overrides), parsed.config_name or config_name, parsed.config_dir)
            keys = [k.lstrip("+~") for k, v in found if len(v) > 1]
            n = math.prod(len(v) for _, v in found)
        except Exception:  # Hydra reports a bad override itself
            n = 0
    return {
        "SNNEXP_SWEPT_KEYS": ",".join(keys),
        "SNNEXP_SWEEP_RUNS": str(n),
        "SNNEXP_SWEEP_T0": f"{time.time():.0f}",
    }


def _in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def one_line(e: BaseException) -> str | None:
    """The one-line message for an error the user can act on; None for a bug (traceback)."""
    from snnexp.errors import UserError

    if isinstance(e, UserError):
        return str(e)
    if isinstance(e, OSError):
        where = f": {e.filename}" if e.filename else ""
        return f"{e.strerror or e}{where}"
    text = str(e)
    if "Original Traceback" in text:  # a user error re-raised from a DataLoader worker: its last line
        last = [ln for ln in text.splitlines() if ln.strip()][-1]
        return last.split(": ", 1)[-1] if last.startswith("snnexp.errors.") else None
    if isinstance(e, RuntimeError) and "without overflow" in text:
        return f"{text.splitlines()[0]} (a value past float range: lower optim.lr?)"
    if isinstance(e, MemoryError) or (
        isinstance(e, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)
    ):
        return "out of memory; lower trainer.batch_size, T or the model's size"
    return None


def main(argv: list[str] | None = None) -> int:
    """SIGTERM (``kill``, a scheduler) acts as Ctrl-C for the whole command: a run stops at its next
    step with a checkpoint, a joblib sweep or ``snnexp claims`` stops its workers, instead of this
    process dying and leaving them training on."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    before = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, before)


def _main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        _usage()
        return 0
    if argv[0] in ("-V", "--version"):
        from snnexp import __version__

        print(f"snnexp {__version__}")
        return 0
    command, args = argv[0], argv[1:]
    if command in ("-sc", "--shell-completion") or any(a.startswith("install=") for a in args[:2]):
        if "install=bash" in argv:  # `snnexp -sc install=bash` or `snnexp train -sc install=bash`
            print(bash_completion())
            return 0
        if command in ("-sc", "--shell-completion"):
            return fail('shell completion: only bash is supported (eval "$(snnexp -sc install=bash)")')
    if "query=bash" in args and os.environ.get("COMP_LINE"):
        # Hydra completes `<app> overrides...`: drop the command word so it sees only overrides
        words = os.environ["COMP_LINE"].split(" ")
        os.environ["COMP_LINE"] = " ".join(w for i, w in enumerate(words) if not (i == 1 and w == command))
    if command not in COMMANDS:
        from snnexp.errors import choices_hint

        return fail(f"unknown command {command!r}; {choices_hint(command, COMMANDS)}")
    from snnexp.errors import UserError

    try:
        module = importlib.import_module(f"snnexp.commands.{command}")
        if hasattr(module, "CONFIG_NAME"):
            return run_hydra(command, module, args)
        return int(module.main(args) or 0)
    except BrokenPipeError:  # `snnexp list | head`: the reader has what it wanted
        _quiet_stdout()
        return 0
    except (UserError, OSError) as e:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":  # how it prints, not what it does (exit 2)
            traceback.print_exc()
        return fail(one_line(e), getattr(e, "exit_code", 2))
    except KeyboardInterrupt:
        return fail("interrupted", 130)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: the interpreter's last flush into a closed pipe would print
    "Exception ignored ... BrokenPipeError" (Python's documented remedy, signal module notes)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def entry() -> None:
    try:
        code = main()
        sys.stdout.flush()  # a pipe closed after the last write breaks here, not at exit
    except BrokenPipeError:
        _quiet_stdout()
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    entry()
