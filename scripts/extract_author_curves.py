"""Write the SEW authors' training curves as the small tables snnexp ships
(src/snnexp/papers/curves/*.csv), from a copy of ``origin_logs/`` of
fangwei123456/Spike-Element-Wise-ResNet:

    python scripts/extract_author_curves.py path/to/origin_logs

Which run directory fills which table is src/snnexp/papers/curves/index.yaml.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import yaml

from snnexp.tfevents import COLUMNS, read_run

HERE = Path(__file__).resolve().parents[1] / "src" / "snnexp" / "papers" / "curves"


def main(origin_logs: str) -> int:
    index = yaml.safe_load((HERE / "index.yaml").read_text())
    for entry in index["curves"]:
        rows = read_run(Path(origin_logs) / entry["run_dir"])
        if not rows:
            print(f"no events under {entry['run_dir']}", file=sys.stderr)
            return 1
        with open(HERE / entry["file"], "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({k: (f"{r[k]:.6g}" if k in r and k != "epoch" else r.get(k, "")) for k in COLUMNS})
        print(f"{entry['file']}: {len(rows)} epochs from {entry['run_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]) if len(sys.argv) == 2 else "usage: extract_author_curves.py <origin_logs>")
