"""Timing helpers shared by the benchmark sections: interleaved repeats, paired ratios, and a
description of the machine.

These machines are noisy, so every comparison is measured side by side in one run: the
contenders alternate within each repeat (A, B, C, A, B, C, ...), and a ratio is formed per
repeat before taking the median, so a slow spell hits both sides of a ratio alike.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any


def spread(values: list[float]) -> dict[str, float]:
    """Median with min and max (and the number of repeats)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def interleaved(contenders: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Call each contender once per repeat, in rotating order; each returns a time (s).

    The rotation keeps a systematic first/last position effect out of the ratios.
    """
    names = list(contenders)
    out: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            gc.collect()
            out[name].append(contenders[name]())
    return out


def paired_ratio(times: dict[str, list[float]], num: str, den: str) -> dict[str, float]:
    """``num/den`` per repeat, summarised: the ratio of two contenders measured side by side."""
    return spread([a / b for a, b in zip(times[num], times[den])])


def timed(fn: Callable[[], Any]) -> float:
    """Wall time of one call (GC paused, as timeit does)."""
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def per_call(fn: Callable[[], Any], n: int) -> float:
    """Seconds per call over ``n`` consecutive calls (garbage collected first, then paused)."""

    def loop() -> None:
        for _ in range(n):
            fn()

    gc.collect()
    return timed(loop) / n


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, versions, devices, date."""
    info: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import jax
    import numpy
    import optax
    import torch

    import lrsched_jax

    info.update(
        numpy=numpy.__version__,
        jax=jax.__version__,
        jax_devices=[str(d) for d in jax.devices()],
        optax=optax.__version__,
        torch=torch.__version__,
        torch_cuda=torch.cuda.is_available(),
        torch_threads=torch.get_num_threads(),
        lrtwin=lrsched_jax.__version__,
    )
    return info


def fmt_ratio(r: dict[str, float]) -> str:
    return f"{r['median']:.3f}× ({r['min']:.3f}–{r['max']:.3f})"


def fmt_time(s: dict[str, float], unit: str = "ms") -> str:
    k = {"s": 1.0, "ms": 1e3, "us": 1e6}[unit]
    label = "µs" if unit == "us" else unit
    return f"{s['median'] * k:.3g} {label} ({s['min'] * k:.3g}–{s['max'] * k:.3g})"


def section_main(
    doc: str,
    run: Callable[..., dict[str, Any]],
    table: Callable[[dict[str, Any]], str],
    argv: list[str] | None = None,
    *,
    quick_help: str = "a short run",
    device: bool = False,
) -> int:
    """The command line of one section run alone (``python -m benchmarks.<section>``):
    ``--quick`` (and ``--device`` where the section has one), then its table."""
    from lrtwin.devices import CHOICES, HELP, pin_jax_to_cpu, torch_device

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    if device:
        parser.add_argument("--device", choices=CHOICES, default="cpu", help=HELP)
    args = parser.parse_args(argv)
    if not device:
        print(table(run(args.quick)))
        return 0
    pin_jax_to_cpu(args.device)
    try:
        torch_dev = torch_device(args.device)
    except ValueError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    print(table(run(args.quick, torch_dev)))
    return 0


def section_command(
    doc: str, run: Callable[..., dict[str, Any]], table: Callable[[dict[str, Any]], str], **options: Any
) -> Callable[[list[str] | None], int]:
    """A section's ``main(argv)``: :func:`section_main` with its module's docstring, ``run`` and
    ``table`` (``options``: ``quick_help=``, ``device=``)."""
    return functools.partial(section_main, doc, run, table, **options)
