"""KEYS Table 9 from a hyper-parameter search (``snnexp tune``): the leak found by the search, as
the mean (std) over its best configurations, beside the paper's.

KEYS Table 9: "Hyper-parameter search" 0.889 (± 0.003), "the mean among the 6 best performing
configurations", and "Learned through PLIF" 0.986. The search's ``search_summary.json`` (written by
:mod:`snnexp.tune`) holds the mean and std of each searched value over its ``top_k`` best trials.
The PLIF row's leak lives in the keys/table10 run's checkpoint (lambda = 1 - sigmoid(w)), which this
torch-free module does not read: its cell names the run instead.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from snnexp.errors import UserError
from snnexp.papers import get_table, load_paper

LEAK_KEY = "neuron.leak"


def find_summaries(dirs: list[str | Path]) -> list[Path]:
    found = []
    for d in map(Path, dirs):
        if not d.is_dir():
            raise UserError(f"{d}: no such directory")
        found += sorted(d.rglob("search_summary.json"))
    return found


def _best_summary(paths: list[Path]) -> tuple[Path, dict[str, Any]]:
    """The search with the most finished trials (a resumed search rewrites its own summary)."""
    loaded = [(p, json.loads(p.read_text())) for p in paths]
    return max(loaded, key=lambda ps: ps[1].get("counts", {}).get("COMPLETE", 0))


def search_table(dirs: list[str | Path]) -> dict[str, Any]:
    """Table 9 with our search's leak (mean and std over its top_k best trials)."""
    paths = find_summaries(dirs)
    if not paths:
        where = ", ".join(map(str, dirs))
        raise UserError(
            f"no search_summary.json in {where}: run `snnexp tune experiment=keys/table9_search ...`"
        )
    path, summary = _best_summary(paths)
    paper = get_table("keys", "9")
    stats = summary.get("stats", {}).get(LEAK_KEY)
    best = summary.get("best") or {}
    return {
        "id": "9",
        "caption": paper["caption"],
        "source": paper["source"],
        "summary": str(path),
        "counts": summary.get("counts", {}),
        "top_k": summary.get("top_k"),
        "rows": [
            {
                "id": "bohb",
                "label": paper["rows"][0]["label"],
                "paper": paper["values"]["bohb"]["leak"]["leak"],
                "paper_std": 0.003,
                "ours": None if stats is None else stats["mean"],
                "ours_std": None if stats is None else stats["std"],
                "ours_n": None if stats is None else stats["n"],
                "from": str(path.parent),
            },
            {
                "id": "plif",
                "label": paper["rows"][1]["label"],
                "paper": paper["values"]["plif"]["leak"]["leak"],
                "paper_std": None,
                "ours": None,
                "ours_std": None,
                "ours_n": None,
                "from": "the keys/table10 run with neuron.learn_leak=true (its checkpoint; not read here)",
            },
        ],
        "best": {"value": best.get("value"), "params": best.get("params", {})},
        "paper_best": load_paper("keys")["hparams"],
    }


def _pm(mean: float | None, std: float | None, n: int | None = None) -> str:
    if mean is None:
        return "—"
    return f"{mean:.3f}" + ("" if std is None else f" (± {std:.3f})") + (f", n={n}" if n else "")


def render_markdown(t: dict[str, Any]) -> str:
    c = t["counts"]
    lines = [
        f"## KEYS Table 9: {t['caption']}",
        "",
        f"Source: {t['source']}. Ours: {t['summary']} ({c.get('COMPLETE', 0)} complete, "
        f"{c.get('PRUNED', 0)} pruned trials); mean (± population std) over the {t['top_k']} best.",
        "",
        "| Method | Leak paper | Leak ours | ours from |",
        "|---|---|---|---|",
    ]
    for r in t["rows"]:
        lines.append(
            f"| {r['label']} | {_pm(r['paper'], r['paper_std'])} | "
            f"{_pm(r['ours'], r['ours_std'], r['ours_n'])} | {r['from']} |"
        )
    hp, best = t["paper_best"], t["best"]
    if best["params"]:
        ours = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best["params"].items()
        )
        lines += [
            "",
            f"- Best configuration, ours: {ours} (acc1 {best['value']:.2f} %); the paper's (Sec. 3.5): "
            f"leak {hp['neuron']['leak']}, T {hp['T']}, lr {hp['optimizer']['lr']} "
            f"at batch {hp['batch_size']}.",
        ]
    return "\n".join(lines) + "\n"


def render_csv(t: dict[str, Any]) -> str:
    buf = io.StringIO()
    fields = ["row", "label", "paper", "paper_std", "ours", "ours_std", "ours_n", "from"]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in t["rows"]:
        w.writerow({"row": r["id"], **{k: ("" if r[k] is None else r[k]) for k in fields[1:]}})
    return buf.getvalue()


def write_search_table(t: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, cs = out / "table_9.md", out / "table_9.csv"
    md.write_text(render_markdown(t))
    cs.write_text(render_csv(t))
    return md, cs


__all__ = ["render_csv", "render_markdown", "search_table", "write_search_table"]
