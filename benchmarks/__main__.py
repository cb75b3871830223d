"""Cross-framework benchmarks: one command, one results table.

    python -m benchmarks [--quick] [--device cpu|gpu] [--devices N] [--out DIR] [--only SECTION ...]

Runs every section side by side in one process and writes ``RESULTS.md`` and ``results.json``
(machine, versions, date, every figure with its spread over repeats) to ``--out`` (default:
this folder), printing the tables as it goes. ``--quick`` finishes in about a minute (the
smoke test runs it); the full run takes about 15 minutes on 2 CPU cores and runs unchanged on
a GPU machine (``--device gpu`` puts torch on CUDA; JAX uses its default device).
``--devices N`` (default 2) sets how far the data-parallel ``scaling`` section goes: 1 to N
devices (JAX in a subprocess with N simulated CPU devices when there is no accelerator) and
1 to N torch processes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._common import machine

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
    ("throughput", "6. Training throughput", "the same networks and data: jitted JAX vs torch eager/compile"),
    (
        "claims",
        "7. The article's claims",
        "steps and time to a target accuracy, fixed lr vs schedules, 5 seeds",
    ),
    (
        "scaling",
        "8. Data-parallel scaling",
        "the finder and a training epoch on 1 to N devices: JAX SPMD and torch DDP, same global batches",
    ),
]


def _call_run(mod: Any, quick: bool, device: str, devices: int = 2) -> dict[str, Any]:
    import inspect

    params = inspect.signature(mod.run).parameters
    kwargs: dict[str, Any] = {"quick": quick}
    if "device" in params:
        kwargs["device"] = "cuda" if device == "gpu" else "cpu"
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (about a minute)")
    parser.add_argument(
        "--device", choices=("cpu", "gpu"), default="cpu", help="torch's device (default cpu)"
    )
    parser.add_argument(
        "--devices",
        type=int,
        default=2,
        help="the scaling section's largest device / process count (default 2)",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="output folder")
    parser.add_argument(
        "--only", nargs="+", choices=[s[0] for s in SECTIONS], default=None, help="run only these sections"
    )
    args = parser.parse_args(argv)
    if args.devices < 1:
        parser.error(f"--devices must be >= 1, got {args.devices}")
    args.out.mkdir(parents=True, exist_ok=True)
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
        "# lrsched benchmarks",
        "",
        f"`python -m benchmarks{' --quick' if args.quick else ''}"
        f"{f' --devices {args.devices}' if args.devices != 2 else ''}` on "
        f"{info.get('cpu', info['processor'])} "
        f"({info['cpu_count']} cores), {info['date']}; Python {info['python']}, JAX {info['jax']} "
        f"({', '.join(info['jax_devices'])}), Optax {info['optax']}, torch {info['torch']}, "
        f"NumPy {info['numpy']}, lrsched {info['lrsched']}. Every comparison is measured side by side "
        "in this one run (interleaved repeats, ratios per repeat; median with min–max).",
    ]
    for name, title, what in chosen:
        mod = importlib.import_module(f"benchmarks.{name}")
        print(f"\n## {title}: {what}", flush=True)
        start = time.perf_counter()
        result = _call_run(mod, args.quick, args.device, args.devices)
        seconds = time.perf_counter() - start
        if not _finite(result):
            raise RuntimeError(f"section {name} produced a non-finite figure")
        table = _table(mod, result)
        print(table, flush=True)
        results["sections"][name] = {"title": title, "seconds": seconds, "result": result}
        md += ["", f"## {title}", "", f"*{what}* ({seconds:.0f} s)", "", table]
        # Written after every section: a failure late in a long run keeps what was measured.
        (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
        (args.out / "RESULTS.md").write_text("\n".join(md) + "\n")
    print(f"\nwrote {args.out / 'RESULTS.md'} and {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
