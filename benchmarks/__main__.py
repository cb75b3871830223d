"""Cross-framework benchmarks: one command, one results table.

    python -m benchmarks [--quick] [--device cpu|gpu|auto] [--devices N]
                         [--out DIR | --update-committed] [--only SECTION ...]

From the repository root; from anywhere else, ``python path/to/benchmarks ...`` (the folder
itself) runs the same. Runs every section side by side in one process and writes
``RESULTS.md`` and ``results.json`` (machine, versions, date, every figure with its spread
over repeats) to ``--out``, default a new ``benchmark-results-<time>`` folder in the current
directory, printing the tables as it goes. The committed ``benchmarks/RESULTS.md`` and
``results.json`` are written only by ``--update-committed``, and only by a full run (all
sections, not ``--quick``). ``--quick`` finishes in a few minutes (the smoke test runs it);
the full run takes about 25 minutes on 2 CPU cores and runs unchanged on a GPU machine
(``--device gpu``: torch on CUDA and JAX on its GPU; ``cpu``: both on the CPU; ``auto``: each
on its GPU when it has one). ``--devices N`` (default 2) sets how far the data-parallel
``scaling`` section goes: 1 to N devices (JAX in a subprocess with N simulated CPU devices
when there is no accelerator) and 1 to N torch processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

if not __package__:
    # Run as ``python path/to/benchmarks``: the repository root on the path, for this process
    # and the sections' worker processes (``python -m benchmarks.<section>``).
    _ROOT = str(Path(__file__).resolve().parents[1])
    sys.path.insert(0, _ROOT)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p)

from benchmarks._common import machine
from lrtwin.devices import CHOICES, HELP, check_device, pin_jax_to_cpu

#: Where ``--update-committed`` writes: the results committed with the repository.
COMMITTED = Path(__file__).resolve().parent

#: (module, title, what it answers) — in the order of RESULTS.md.
SECTIONS: list[tuple[str, str, str]] = [
    ("precision", "1. Precision", "max float32 ulps against float64, per family: lrsched beside Optax"),
    (
        "ingraph",
        "2. In-graph cost",
        "a jitted Flax train step with an lrsched schedule vs a constant lr vs Optax's",
    ),
    (
        "torch_adapter",
        "3. torch adapter",
        "ScheduleLR.step() vs torch's own schedulers; attach; 10^6-step curves",
    ),
    ("curves", "4. Whole curves", "10^6 steps: lrsched (NumPy, JAX) vs torch stepping vs Optax under vmap"),
    ("finder", "5. Finder", "JAX finder vs torch finder vs torch-lr-finder, against bare training steps"),
    (
        "suggestions",
        "5b. Finder suggestions",
        "each rule's lr trained (fixed and one-cycle) against a half-decade grid: 5 tasks + 2 held out, "
        "2 optimizers",
    ),
    (
        "tune",
        "5c. Tuning the lr by training",
        "tune_lr's choice against the half-decade grid trained to the full run, beside the finder's "
        "default: regret, cost in runs, wall time (5 + 2 held-out tasks, 2 optimizers, 2 schedules)",
    ),
    ("throughput", "6. Training throughput", "the same networks and data: jitted JAX vs torch eager/compile"),
    (
        "claims",
        "7. The article's claims",
        "updates to a target accuracy, fixed lr vs schedules, digits (8 seeds) and the LM transformer "
        "(3 seeds), trained by the schedule arena",
    ),
    (
        "scaling",
        "8. Data-parallel scaling",
        "the finder and a training epoch on 1 to N devices: JAX SPMD and torch DDP, same global batches",
    ),
    (
        "arena",
        "9. Schedule arena",
        "schedules x seeds as one JAX program vs torch eager one after another vs a fair JAX sequential",
    ),
]


def _call_run(mod: Any, quick: bool, device: str, devices: int = 2) -> dict[str, Any]:
    import inspect

    params = inspect.signature(mod.run).parameters
    kwargs: dict[str, Any] = {"quick": quick}
    if "device" in params:
        kwargs["device"] = device  # torch's: "cpu" or "cuda"
    if "devices" in params:
        kwargs["devices"] = devices
    return mod.run(**kwargs)


def _table(mod: Any, result: dict[str, Any]) -> str:
    return mod.table(result)


def _finite(obj: Any) -> bool:
    """Every number in a result is finite (None marks 'not measured / not reached')."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return True
    if isinstance(obj, (int, float)):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_finite(v) for v in obj)
    return True


def _fresh_folder(parent: Path, name: str) -> Path:
    """A new folder ``parent/name`` (``name-2``, ``name-3``, ... when taken): never one with
    results in it already."""
    for i in range(1, 1000):
        path = parent / (name if i == 1 else f"{name}-{i}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free {name}-* folder in {parent}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (a few minutes)")
    parser.add_argument("--device", choices=CHOICES, default="cpu", help=HELP)
    parser.add_argument(
        "--devices",
        type=int,
        default=2,
        help="the scaling section's largest device / process count (default 2)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: a new benchmark-results-<time> folder in the current directory)",
    )
    where.add_argument(
        "--update-committed",
        action="store_true",
        help=f"write the committed {COMMITTED / 'RESULTS.md'} and results.json (a full run only)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=[s[0] for s in SECTIONS], default=None, help="run only these sections"
    )
    args = parser.parse_args(argv)
    if args.devices < 1:
        parser.error(f"--devices must be >= 1, got {args.devices}")
    if args.update_committed and (args.quick or args.only):
        parser.error("--update-committed writes the committed results: a full run, without --quick or --only")
    # Before JAX starts (machine() imports it): a CPU run opens JAX's CPU platform only.
    pin_jax_to_cpu(args.device)
    try:
        torch_device = check_device(args.device, ("torch", "jax"))["torch"]
    except ValueError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    if args.update_committed:
        out = COMMITTED
    elif args.out is not None:
        out = args.out
        out.mkdir(parents=True, exist_ok=True)
    else:
        out = _fresh_folder(Path.cwd(), f"benchmark-results-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
    chosen = [s for s in SECTIONS if args.only is None or s[0] in args.only]
    info = machine()
    results: dict[str, Any] = {
        "machine": info,
        "quick": args.quick,
        "device": args.device,
        "devices": args.devices,
        "sections": {},
    }
    md = [
        "# lrtwin benchmarks",
        "",
        f"`python -m benchmarks{' --quick' if args.quick else ''}"
        f"{f' --device {args.device}' if args.device != 'cpu' else ''}"
        f"{f' --devices {args.devices}' if args.devices != 2 else ''}` on "
        f"{info.get('cpu', info['processor'])} "
        f"({info['cpu_count']} cores), {info['date']}; Python {info['python']}, JAX {info['jax']} "
        f"({', '.join(info['jax_devices'])}), Optax {info['optax']}, torch {info['torch']}, "
        f"NumPy {info['numpy']}, lrtwin {info['lrtwin']}. Every comparison is measured side by side "
        "in this one run (interleaved repeats, ratios per repeat; median with min–max).",
    ]
    for name, title, what in chosen:
        mod = importlib.import_module(f"benchmarks.{name}")
        print(f"\n## {title}: {what}", flush=True)
        start = time.perf_counter()
        result = _call_run(mod, args.quick, torch_device, args.devices)
        seconds = time.perf_counter() - start
        if not _finite(result):
            raise RuntimeError(f"section {name} produced a non-finite figure")
        table = _table(mod, result)
        print(table, flush=True)
        results["sections"][name] = {"title": title, "seconds": seconds, "result": result}
        md += ["", f"## {title}", "", f"*{what}* ({seconds:.0f} s)", "", table]
        # Written after every section: a failure late in a long run keeps what was measured.
        (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
        (out / "RESULTS.md").write_text("\n".join(md) + "\n")
    print(f"\nwrote {out / 'RESULTS.md'} and {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
