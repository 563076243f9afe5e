"""snnexp export ckpt=<path> format=nir out=<file>: the trained network as a NIR graph.

The model is rebuilt from the checkpoint (``snnexp.inference``; the SEW authors' or spikingjelly's
weights with the network given on the command line), its norms folded into the convs, and written
by ``snnexp.nir_export``. The file is written beside ``out`` first and linked to ``out`` only if
nothing is there: an existing file is never replaced.
"""

from __future__ import annotations

import json

CONFIG_NAME = "export"
FLAGS = {"--json"}
OWN_KEYS = {"ckpt", "format", "out", "weights"}


def task(cfg, flags: set[str]) -> None:
    import os
    from pathlib import Path

    import nir

    from snnexp.commands.summary import example_input
    from snnexp.errors import UserError
    from snnexp.inference import load_for_inference
    from snnexp.nir_export import to_nir

    out = Path(cfg.out)
    if out.exists():
        raise UserError(f"out={out} already exists; pick another out= (nothing is overwritten)")
    if not out.parent.is_dir():
        raise UserError(f"out={out}: the directory {out.parent} does not exist")
    model, run_cfg, ckpt = load_for_inference(cfg.ckpt, cfg, None, OWN_KEYS, weights_format=cfg.weights)
    if ckpt.get("folded"):
        raise UserError(f"{cfg.ckpt} is already folded; export the checkpoint it was folded from")
    image_shape = tuple(example_input(run_cfg).shape[-3:])
    graph, _ = to_nir(model, image_shape, sequence=bool(run_cfg.data.get("sequence", False)))
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        nir.write(str(tmp), graph)
        os.link(tmp, out)  # fails if out appeared meanwhile: never replaced
    except FileExistsError:
        raise UserError(f"out={out} already exists; pick another out= (nothing is overwritten)") from None
    except OSError as e:
        raise UserError(f"out={out}: cannot write it ({e.strerror or e})") from None
    finally:
        tmp.unlink(missing_ok=True)
    result = {
        "ckpt": str(cfg.ckpt),
        "out": str(out),
        "nodes": len(graph.nodes),
        "edges": len(graph.edges),
        "input": list(image_shape),
        "T": int(run_cfg.T),
        **graph.metadata,
    }
    if "--json" in flags:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"exported {cfg.ckpt} -> {out}: NIR graph of {result['nodes']} nodes, {result['edges']} edges; "
            f"input {tuple(image_shape)}, {graph.metadata['input']}, T={result['T']}; "
            "logits = mean of the output over T"
        )
