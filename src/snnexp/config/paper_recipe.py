"""A paper's network trained outside that paper's recipe says so, in one line at start-up.

``snnexp train model=s_resnet38 block=keys_s2s data=cifar100`` builds KEYS's network but trains it
with the project's defaults (IF, ArcTan, BN, T=4, ...): not what KEYS trained. When a run's model
belongs to a paper (the model registry's ``paper`` tag) and the run names no experiment of that
paper, :func:`recipe_notice` compares the run with the paper's experiment that uses this model
(the one on the run's data set if there is one; otherwise the paper's ``_base`` recipe) and names
the parts that differ and that experiment. The facts live in ``conf/experiment/<paper>/``: this
module reads them from there (no second list of the papers' settings).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from snnexp.config.compose import compose, conf_dir

# (config key, the word the notice uses): the parts of a paper's recipe a run is compared on
COMPARED = (
    ("neuron.name", "neuron"),
    ("surrogate.name", "surrogate"),
    ("norm.name", "norm"),
    ("block.name", "block"),
    ("encoder.name", "encoder"),
    ("method.name", "method"),
    ("T", "T"),
    ("trainer.epochs", "epochs"),
    ("trainer.batch_size", "batch"),
    ("optim.name", "optim"),
    ("optim.lr", "lr"),
    ("sched.name", "sched"),
)


def _defaults(path: Path) -> tuple[list[str], dict[str, str]]:
    """(the experiment files it extends, its ``override /<group>: <option>`` entries)."""
    doc = yaml.safe_load(path.read_text()) or {}
    parents, overrides = [], {}
    for entry in doc.get("defaults", []):
        if isinstance(entry, str) and entry != "_self_":
            parents.append(entry.removeprefix("/experiment/"))
        elif isinstance(entry, dict):
            for key, value in entry.items():
                if str(key).startswith("override /"):
                    overrides[str(key).removeprefix("override /")] = str(value)
    return parents, overrides


@cache
def _groups_of(name: str) -> tuple[tuple[str, str], ...]:
    """The group options experiment ``name`` (e.g. ``keys/table7``) selects, its parents' included
    (a later file's override wins, as in Hydra's defaults list)."""
    parents, own = _defaults(conf_dir() / "experiment" / f"{name}.yaml")
    chosen: dict[str, str] = {}
    for parent in parents:
        # "dsr/_base" is relative to the experiment group, "_base" to the including file's folder
        sibling = str(Path(name).parent / parent)
        found = (conf_dir() / "experiment" / f"{sibling}.yaml").is_file() and "/" not in parent
        chosen.update(dict(_groups_of(sibling if found else parent)))
    chosen.update(own)
    return tuple(sorted(chosen.items()))


def experiments_of(paper: str) -> list[str]:
    """The runnable experiments of a paper (``conf/experiment/<paper>/*.yaml``, partials excluded)."""
    d = conf_dir() / "experiment" / paper.lower()
    return sorted(f"{paper.lower()}/{p.stem}" for p in d.glob("*.yaml") if not p.name.startswith("_"))


def reference_experiment(paper: str, model: str, chosen: dict[str, str]) -> str | None:
    """The paper's experiment that trains ``model``, or None; among several, the one that shares
    most group choices with the run (``chosen``: group -> option), then the one named after the
    run's data set (dsr/cifar10_if before dsr/ablation_no_f), then by name."""
    using = [e for e in experiments_of(paper) if dict(_groups_of(e)).get("model") == model]

    def closeness(e: str) -> tuple[int, int]:
        groups = dict(_groups_of(e))
        shared = sum(groups.get(g) == o for g, o in chosen.items())
        return shared, int(chosen.get("data", "?") in e.split("/", 1)[1])

    return max(sorted(using), key=closeness, default=None)


def _value(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=None)


def recipe_notice(cfg: DictConfig, paper: str) -> str | None:
    """One line naming what differs from ``paper``'s recipe for this run's model, or None (the run
    uses one of the paper's experiments, the model is no paper's, or nothing differs)."""
    if not paper or (cfg.get("paper") or "").lower() == paper.lower():
        return None
    base = conf_dir() / "experiment" / paper.lower() / "_base.yaml"
    if not base.is_file():
        return None
    model = str(cfg.model.name)
    chosen = {g: str(_value(cfg, f"{g}.name")) for g in ("data", "neuron", "block", "norm", "encoder")}
    exp = reference_experiment(paper, model, chosen)
    ref = compose([f"experiment={exp}"] if exp else [f"experiment={paper.lower()}/_base", f"model={model}"])
    diffs = [
        f"{word} {_value(cfg, key)} ({paper}: {_value(ref, key)})"
        for key, word in COMPARED
        if _value(ref, key) is not None and _value(cfg, key) != _value(ref, key)
    ]
    if not diffs:
        return None
    where = f"experiment={exp}" if exp else f"experiment={paper.lower()}/<table> (snnexp list experiment)"
    return (
        f"note: model={model} is {paper}'s network, but this run is not {paper}'s recipe: "
        f"{', '.join(diffs)}; {where} has it"
    )
