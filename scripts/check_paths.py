"""Every configuration of the four papers: the neuron path snnexp predicts
(engine/fastpath.py, what `snnexp train` logs at start-up) against the one spikingjelly takes.

For each experiment file conf/experiment/{sew,keys,tdbn,dsr}/*.yaml (not the ``_`` bases), the
model and method are built as ``snnexp train experiment=...`` builds them and one training step
runs on a random batch of 2 under the experiment's AMP, with spikingjelly's Python reference loops
spied on. Printed per (experiment, neuron type): the predicted path, whether spikingjelly's loop
ran, and, where the eager path is a Python loop, whether the compiled loop (trainer.compile=true,
the fast path fastpath.py names for it) compiled and ran, with the first compiled step's time.
Configurations that build the same network are checked once, the compiled loop once per (model,
neuron types). On CPU every eager path is a loop. With ``--flexsn`` (CUDA) the layers that
``trainer.flexsn=true`` moves to a FlexSN scan run one more step that way: which FlexSN
implementation ran (triton, its fallback hop, or the CPU torch loop), the step time against the
eager loop, and the largest difference in the loss gradient of the first layer's weights.

    python scripts/check_paths.py [--device auto|cpu|cuda] [--only sew/imagenet ...] [--no-compile]
                                  [--flexsn]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from spikingjelly._ops.if_ import reference as if_ref
from spikingjelly._ops.lif import reference as lif_ref
from spikingjelly._ops.plif import reference as plif_ref
from spikingjelly.activation_based import functional
from spikingjelly.activation_based.neuron.flexsn import FlexSN

ROOT = Path(__file__).resolve().parent.parent
PAPERS = ("sew", "keys", "tdbn", "dsr")


def experiments(only: list[str]) -> list[str]:
    """The experiment names, the papers taking turns (so a compile budget reaches all four)."""
    per_paper = [
        [
            f"{paper}/{f.stem}"
            for f in sorted((ROOT / "conf" / "experiment" / paper).glob("*.yaml"))
            if not f.stem.startswith("_")
        ]
        for paper in PAPERS
    ]
    names = [n for turn in itertools.zip_longest(*per_paper) for n in turn if n]
    return [n for n in names if not only or n in only]


@contextlib.contextmanager
def spied_loops(model: torch.nn.Module, ran: set[str]):
    """Record in ``ran`` the class of every neuron layer for which spikingjelly runs its Python
    reference loop (a pre-hook on each neuron names the layer running now)."""
    from snnexp.engine.fastpath import is_neuron

    current = [""]
    hooks = [
        m.register_forward_pre_hook(lambda mod, _a: current.__setitem__(0, type(mod).__name__))
        for m in model.modules()
        if is_neuron(m)
    ]
    originals = [(mod, mod.multi_step) for mod in (if_ref, lif_ref, plif_ref)]
    for mod, fn in originals:
        mod.multi_step = lambda *a, _fn=fn, **k: (ran.add(current[0]), _fn(*a, **k))[1]
    try:
        yield
    finally:
        for mod, fn in originals:
            mod.multi_step = fn
        for h in hooks:
            h.remove()


def one_step(cfg, model, method, net, device: torch.device) -> None:
    from snnexp.engine.steps import StepContext

    ctx = StepContext.from_config(
        cfg, device, model=model, optimizer=torch.optim.SGD(model.parameters(), lr=1e-3)
    )
    d = cfg.data
    shape = (2, int(d.in_channels), int(d.image_size), int(d.image_size))
    x = torch.rand((int(cfg.T), *shape) if d.get("sequence", False) else shape, device=device)
    y = torch.randint(0, int(d.num_classes), (2,), device=device)
    try:
        method.train_step(net, x, y, ctx)
    finally:
        functional.reset_net(model)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def signature(cfg) -> tuple:
    """What decides the network and its paths (experiments differing only in schedule share it)."""
    c = cfg
    return tuple(
        str(v)
        for v in (
            c.model,
            c.block,
            c.neuron,
            c.surrogate,
            c.norm,
            c.method,
            c.T,
            c.data.image_size,
            c.trainer.amp,
        )
    )


def build(name: str, device: torch.device):
    import snnexp
    from snnexp.build import build_method, build_model

    cfg = snnexp.compose([f"experiment={name}", "logger=none"])
    torch.manual_seed(0)
    model = build_model(cfg)
    method = build_method(cfg)
    method.prepare(model)
    return cfg, model.to(device).train(), method


def timed_step(cfg, model, method, net, device) -> float:
    t0 = time.perf_counter()
    one_step(cfg, model, method, net, device)
    return time.perf_counter() - t0


def compile_one(name: str, device: torch.device) -> None:
    """A child's job: the experiment's step eager, then compiled (first step: compiling), as JSON."""
    from snnexp.engine import fastpath

    cfg, model, method = build(name, device)
    eager = min(timed_step(cfg, model, method, model, device) for _ in range(3))
    net = fastpath.CompiledOrEager(model)
    first = timed_step(cfg, model, method, net, device)
    warm = min(timed_step(cfg, model, method, net, device) for _ in range(3))
    print(json.dumps({"failed": net.failed, "first": first, "warm": warm, "eager": eager}))


def compiled_loop(name: str, device: torch.device, timeout: float) -> str:
    """Run the experiment's compiled step in a child process (a compile can take minutes, and
    one that hangs must not stop the table): the column's text."""
    cmd = [sys.executable, __file__, "--compile-one", name, "--device", device.type]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"failed: not done in {timeout:.0f} s"
    if p.returncode != 0:
        return f"failed: exit {p.returncode}: {(p.stderr.strip().splitlines() or [''])[-1][:150]}"
    r = json.loads(p.stdout.strip().splitlines()[-1])
    if r["failed"]:
        return f"failed: {r['failed']}"
    return (
        f"ok: compiled in {r['first']:.0f} s; step {r['warm'] * 1e3:.1f} ms vs eager "
        f"{r['eager'] * 1e3:.1f} ms (x{r['eager'] / r['warm']:.2f})"
    )


@contextlib.contextmanager
def spied_flexsn(ran: set[str]):
    """Record in ``ran`` which FlexSN implementation ran (triton | hop | torch)."""
    names = {"_triton_scan": "triton", "_hop_scan": "hop", "_torch_scan": "torch"}
    originals = {n: getattr(FlexSN, n) for n in names}
    for n, fn in originals.items():
        setattr(FlexSN, n, lambda self, *a, _fn=fn, _n=names[n], **k: (ran.add(_n), _fn(self, *a, **k))[1])
    try:
        yield
    finally:
        for n, fn in originals.items():
            setattr(FlexSN, n, fn)


def first_grad(model) -> torch.Tensor:
    return next(p.grad.detach().float().clone() for p in model.parameters() if p.grad is not None)


def flexsn_step(cfg, model, method, device, rows) -> str:
    """One step with the FLEXSN rows' layers on their FlexSN scan against the eager loop (same
    weights, same batch; the step's SGD update is undone by restoring the state_dict)."""
    from snnexp.engine import fastpath

    if not any(r.path == fastpath.FLEXSN for r in rows):
        return ""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(1)
    loop_s, ref = timed_step(cfg, model, method, model, device), first_grad(model)
    model.load_state_dict(state)
    n = fastpath.use_flexsn(model, rows)
    ran: set[str] = set()
    torch.manual_seed(1)
    with spied_flexsn(ran):
        first = timed_step(cfg, model, method, model, device)
    got = first_grad(model)
    model.load_state_dict(state)
    torch.manual_seed(1)
    warm = timed_step(cfg, model, method, model, device)
    fastpath.use_flexsn(model, [])
    diff = (got - ref).abs().max().item() / max(ref.abs().max().item(), 1e-30)
    return (
        f"{n} layers on {'/'.join(sorted(ran)) or 'NONE'}; step {warm * 1e3:.1f} ms "
        f"vs loop {loop_s * 1e3:.1f} ms "
        f"(x{loop_s / warm:.2f}; first {first:.1f} s); grad rel. diff {diff:.1e}"
    )


def check(
    name: str, device: torch.device, compile_loops: set | None, timeout: float, flexsn: bool = False
) -> list[str]:
    """The table rows of one experiment. ``compile_loops``: the (model, neuron types) whose
    compiled loop was already run (once each); None: run none."""
    from snnexp.engine import fastpath

    cfg, model, method = build(name, device)
    kind = device.type
    rows = fastpath.layer_paths(
        model, device=kind, dtype=fastpath.amp_dtype(cfg, kind), compiled=False, flexsn=flexsn
    )
    ran: set[str] = set()
    with spied_loops(model, ran):
        one_step(cfg, model, method, model, device)
    flex = flexsn_step(cfg, model, method, device, rows) if flexsn else ""
    compiled = ""
    slow = (fastpath.LOOP, fastpath.FLEXSN)  # eager, the FLEXSN rows ran the loop above too
    key = (cfg.model.name, tuple(r.layer_type for r in rows if r.path in slow))
    if compile_loops is not None and key[1] and key not in compile_loops:
        compile_loops.add(key)
        compiled = compiled_loop(name, device, timeout)
    if not rows:
        return [f"| {name} | no spiking neurons (an ANN) | | | | | |"]
    lines = []
    for r in rows:
        node = _first(model, r.layer_type)
        loop = "yes" if r.layer_type in ran else ("no" if fastpath.fused_kind(node) else "own loop")
        # spikingjelly picks its registered op (on CUDA the fused kernel) by the same conditions on
        # every device; on CPU that op is a loop too, so the row says "Python loop" there
        registered = not fastpath.why_not_fused(node, fastpath.amp_dtype(cfg, kind))[0]
        agree = registered == (loop == "no")
        label = f"{r.layer_type} x{r.count} [{r.surrogate or '-'}]"
        after = compiled if r.path in slow else ""
        scan = flex if r.path == fastpath.FLEXSN else ""
        lines.append(
            f"| {name} | {label} | {r.path} | {loop} | {'yes' if agree else 'NO'} | {after} | {scan} |"
        )
    return lines


def _first(model: torch.nn.Module, cls_name: str) -> torch.nn.Module:
    return next(m for m in model.modules() if type(m).__name__ == cls_name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto|cpu|cuda")
    ap.add_argument("--only", nargs="*", default=[], help="experiment names, e.g. sew/imagenet")
    ap.add_argument("--no-compile", action="store_true", help="skip the compiled-loop step")
    ap.add_argument(
        "--compile-budget", type=float, default=float("inf"), help="seconds; no compiled step starts after"
    )
    ap.add_argument("--compile-timeout", type=float, default=300.0, help="seconds for one compiled check")
    ap.add_argument("--flexsn", action="store_true", help="also run trainer.flexsn=true's FlexSN scans")
    ap.add_argument("--compile-one", metavar="EXPERIMENT", help=argparse.SUPPRESS)  # a child's job
    args = ap.parse_args()
    dev = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = torch.device("cpu" if dev == "auto" else dev)
    if args.compile_one:
        return compile_one(args.compile_one, device)
    if args.flexsn and device.type != "cuda":
        print("--flexsn: the engine takes FlexSN scans on CUDA only; on CPU this column stays empty")
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(
        f"neuron paths of every paper configuration, one training step on {where}, torch {torch.__version__}"
    )
    print(
        "| experiment | neuron layers [surrogate] | predicted path | loop ran | agree | compiled loop "
        "| FlexSN scan |"
    )
    print("|---|---|---|---|---|---|---|")
    seen: dict[tuple, str] = {}
    bad, start, compiled = 0, time.perf_counter(), set()
    import snnexp

    for name in experiments(args.only):
        try:
            sig = signature(snnexp.compose([f"experiment={name}", "logger=none"]))
            if sig in seen:
                print(f"| {name} | as {seen[sig]} | | | | | |", flush=True)
                continue
            seen[sig] = name
            budget_left = time.perf_counter() - start < args.compile_budget
            todo = compiled if not args.no_compile and budget_left else None
            lines = check(name, device, todo, args.compile_timeout, args.flexsn)
        except Exception as e:  # noqa: BLE001 -- report every configuration, then fail at the end
            bad += 1
            print(
                f"| {name} | ERROR {type(e).__name__}: {str(e).splitlines()[0][:200]} | | | NO | | |",
                flush=True,
            )
            continue
        bad += sum("| NO |" in line or "failed:" in line or "NONE" in line for line in lines)
        print("\n".join(lines), flush=True)
    print(f"{bad} disagreement(s) or failure(s)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
