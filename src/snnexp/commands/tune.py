"""snnexp tune [search=...] [overrides]: a hyper-parameter search (optuna TPE + Hyperband, the BOHB
recipe of KEYS Sec. 3.5) whose trials are training runs of the composed config.

The search lives in the Hydra run directory (``hydra.run.dir=...``): its study (``study.db``), one run
directory per trial (``trials/<n>``) and the summary (``search_summary.md/.json``). Running the same
command with the same ``hydra.run.dir`` resumes a killed search.
"""

from __future__ import annotations

import sys

CONFIG_NAME = "tune"
FLAGS = {"--json"}


def precheck(cfg, overrides: list[str], multirun: bool) -> bool:
    """The search's space and its study file, before Hydra writes the run directory."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from snnexp.tune import check_search

    given = {
        o.get_key_element(): o.value() for o in OverridesParser.create().parse_overrides(list(overrides))
    }
    check_search(cfg, given.get("hydra.run.dir"))
    return True


def task(cfg, flags: set[str]) -> None:
    import json

    from hydra.core.hydra_config import HydraConfig

    from snnexp.tune import best_overrides, estimate, render_summary, run_search

    root = HydraConfig.get().runtime.output_dir
    estimate(cfg)  # how many trials and how long, before the first one starts
    summary = run_search(cfg, root)
    if "--json" in flags:
        print(json.dumps(summary, indent=2))
        return
    if summary["requeued"]:
        print(
            f"snnexp: resumed; trials {summary['requeued']} were interrupted and are queued again",
            file=sys.stderr,
        )
    print(render_summary(summary))
    if summary["best"]:
        print(f"best configuration: {best_overrides(summary)}  ({root}/trials/{summary['best']['number']})")
