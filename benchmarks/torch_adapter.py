"""``ScheduleLR.step()`` against torch's own schedulers, side by side in one run.

Measures, on the host CPU:

* per family, the cost of ``ScheduleLR.step()`` (driving the curve ``from_torch`` gives
  for the native scheduler) against the native torch scheduler's ``step()``, and against a
  Hugging-Face-style ``LambdaLR`` with a Python lambda (warm-up + cosine) — as ratios
  ours/theirs over interleaved repeats (median, min, max);
* the count-bound mode's (``attach``) cost per ``optimizer.step()`` on a tiny model;
* a ``ScheduleLR`` over a 10^6-step curve against stepping torch's own scheduler 10^6
  times (wall time of the whole run, chunk refills included).

Run ``python -m benchmarks.torch_adapter [--quick]``; ``run(quick)`` returns the figures.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch.optim import lr_scheduler as tl

import lrsched_jax as lrs
from benchmarks._common import per_call, section_command
from lrsched_torch import ScheduleLR, attach, from_torch

Builder = Callable[[torch.optim.Optimizer], Any]

FAMILIES: dict[str, Builder] = {
    "StepLR": lambda o: tl.StepLR(o, step_size=300, gamma=0.9),
    "MultiStepLR": lambda o: tl.MultiStepLR(o, milestones=[1000, 5000, 12000, 30000], gamma=0.5),
    "ExponentialLR": lambda o: tl.ExponentialLR(o, gamma=0.9999),
    "LinearLR": lambda o: tl.LinearLR(o, start_factor=0.01, end_factor=1.0, total_iters=50_000),
    "PolynomialLR": lambda o: tl.PolynomialLR(o, total_iters=10**7, power=2.0),
    "CosineAnnealingLR": lambda o: tl.CosineAnnealingLR(o, T_max=10**7, eta_min=1e-5),
    "CyclicLR": lambda o: tl.CyclicLR(o, 0.001, 0.1, step_size_up=2000, mode="triangular2"),
    "OneCycleLR": lambda o: tl.OneCycleLR(o, max_lr=0.1, total_steps=10**7),
    "CosineAnnealingWarmRestarts": lambda o: tl.CosineAnnealingWarmRestarts(o, T_0=1000, T_mult=2),
}


def _hf_cosine_with_warmup(num_warmup_steps: int, num_training_steps: int) -> Callable[[int], float]:
    """Hugging Face ``get_cosine_schedule_with_warmup``'s lambda, as written there."""

    def lr_lambda(current_step: int) -> float:
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        progress = float(current_step - num_warmup_steps) / float(
            max(1, num_training_steps - num_warmup_steps)
        )
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))

    return lr_lambda


def _optimizer(groups: int = 1) -> torch.optim.SGD:
    params = [{"params": [torch.nn.Parameter(torch.zeros(4))], "lr": 0.1} for _ in range(groups)]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    return opt


def _ready(sched: Any) -> Any:
    # optimizer.step() before the first scheduler.step(): torch's call-order contract (no
    # gradients, so no update); keeps its warning out of the timed loop.
    sched.optimizer.step()
    return sched


def _summary(ours: list[float], theirs: list[float]) -> dict[str, float]:
    ratios = [a / b for a, b in zip(ours, theirs)]
    return {
        "ours_us": statistics.median(ours) * 1e6,
        "theirs_us": statistics.median(theirs) * 1e6,
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def bench_step(n: int, repeats: int) -> dict[str, dict[str, float]]:
    """ScheduleLR.step() vs the native step() per family, plus vs an HF-style LambdaLR."""
    pairs: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {}
    for name, build in FAMILIES.items():
        curve = from_torch(build(_optimizer()), field="lr")
        pairs[name] = (
            lambda build=build: _ready(build(_optimizer())),
            lambda curve=curve: _ready(ScheduleLR(_optimizer(), curve)),
        )
    warm, total = 500, 10**7
    hf = _hf_cosine_with_warmup(warm, total)
    wc = lrs.warmup_cosine(1.0, warm, total)
    pairs["HF LambdaLR (warm-up + cosine)"] = (
        lambda: _ready(tl.LambdaLR(_optimizer(), hf)),
        lambda: _ready(ScheduleLR(_optimizer(), wc, mode="multiplier")),
    )
    ours: dict[str, list[float]] = {k: [] for k in pairs}
    theirs: dict[str, list[float]] = {k: [] for k in pairs}
    for r in range(repeats):
        for name, (make_theirs, make_ours) in pairs.items():
            a, b = make_ours(), make_theirs()  # built outside the timed loops
            # Alternate which goes first, so drift in machine load hits both alike.
            if r % 2:
                ours[name].append(per_call(a.step, n))
                theirs[name].append(per_call(b.step, n))
            else:
                theirs[name].append(per_call(b.step, n))
                ours[name].append(per_call(a.step, n))
    return {k: _summary(ours[k], theirs[k]) for k in pairs}


def bench_count_bound(n: int, repeats: int) -> dict[str, float]:
    """optimizer.step() with attach() vs without (and vs + ScheduleLR.step()), tiny model."""

    def setup(kind: str) -> tuple[torch.optim.Optimizer, Callable[[], None]]:
        p = torch.nn.Parameter(torch.zeros(16))
        p.grad = torch.ones(16)
        opt = torch.optim.SGD([p], lr=0.1)
        s = lrs.warmup_cosine(0.1, 100, 10**7)
        if kind == "attach":
            attach(opt, s)
            return opt, opt.step
        if kind == "schedulelr":
            sched = ScheduleLR(opt, s)

            def both() -> None:
                opt.step()
                sched.step()

            return opt, both
        return opt, opt.step

    res: dict[str, list[float]] = {"plain": [], "attach": [], "schedulelr": []}
    steppers = {kind: setup(kind)[1] for kind in res}
    for r in range(repeats):
        order = ["plain", "attach", "schedulelr"]
        for kind in order if r % 2 == 0 else order[::-1]:
            res[kind].append(per_call(steppers[kind], n))
    overhead = [a - p for a, p in zip(res["attach"], res["plain"])]
    ratios = [a / p for a, p in zip(res["attach"], res["plain"])]
    return {
        "plain_step_us": statistics.median(res["plain"]) * 1e6,
        "attach_step_us": statistics.median(res["attach"]) * 1e6,
        "attach_overhead_us": statistics.median(overhead) * 1e6,
        "attach_overhead_min_us": min(overhead) * 1e6,
        "attach_overhead_max_us": max(overhead) * 1e6,
        "attach_ratio_median": statistics.median(ratios),
        "attach_ratio_min": min(ratios),
        "attach_ratio_max": max(ratios),
        "step_plus_schedulelr_us": statistics.median(res["schedulelr"]) * 1e6,
    }


def bench_long_curve(n: int, repeats: int) -> dict[str, dict[str, float]]:
    """A ScheduleLR over an n-step curve vs stepping torch's own scheduler n times (seconds)."""
    out: dict[str, dict[str, float]] = {}
    for name, build in (
        ("OneCycleLR", lambda o: tl.OneCycleLR(o, max_lr=0.1, total_steps=n)),
        ("CosineAnnealingLR", lambda o: tl.CosineAnnealingLR(o, T_max=n, eta_min=1e-6)),
    ):
        curve = from_torch(build(_optimizer()), field="lr")
        ours, theirs = [], []
        for r in range(repeats):
            jobs = [
                (theirs, lambda build=build: _ready(build(_optimizer()))),
                # ScheduleLR construction (first chunk) counted too
                (ours, lambda curve=curve: ScheduleLR(_optimizer(), curve)),
            ]
            for sink, make in jobs if r % 2 == 0 else jobs[::-1]:
                t0 = time.perf_counter()
                sched = make()
                sched.optimizer.step()
                per_call(sched.step, n - 1)
                sink.append(time.perf_counter() - t0)
        out[name] = {
            "steps": n,
            "ours_s": statistics.median(ours),
            "theirs_s": statistics.median(theirs),
            "ratio_median": statistics.median(a / b for a, b in zip(ours, theirs)),
            "ratio_min": min(a / b for a, b in zip(ours, theirs)),
            "ratio_max": max(a / b for a, b in zip(ours, theirs)),
        }
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """All figures as a dict (``quick``: fewer steps and repeats, for CI and smoke tests)."""
    n, repeats = (1000, 3) if quick else (20_000, 15)
    long_n, long_repeats = (2 * 10**4, 2) if quick else (10**6, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a misuse warning would distort the timings
        return {
            "meta": {
                "torch": torch.__version__,
                "python": sys.version.split()[0],
                "threads": torch.get_num_threads(),
                "steps_per_block": n,
                "repeats": repeats,
                "quick": quick,
            },
            "step": bench_step(n, repeats),
            # Short paired blocks, many repeats: optimizer.step() itself varies by more than
            # the hooks cost on a loaded machine.
            "count_bound": bench_count_bound(max(n // 10, 200), repeats * 6),
            "long_curve": bench_long_curve(long_n, long_repeats),
        }


def table(res: dict[str, Any]) -> str:
    """The figures as Markdown tables."""
    m = res["meta"]
    lines = [
        f"torch {m['torch']}, {m['threads']} threads; {m['steps_per_block']} steps × {m['repeats']} "
        "interleaved repeats per figure; ratio = ours / theirs per repeat, median [min, max].",
        "",
        "| scheduler | ScheduleLR.step() (µs) | native step() (µs) | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, r in res["step"].items():
        lines.append(
            f"| {name} | {r['ours_us']:.2f} | {r['theirs_us']:.2f} | "
            f"{r['ratio_median']:.2f} [{r['ratio_min']:.2f}, {r['ratio_max']:.2f}] |"
        )
    c = res["count_bound"]
    lines += [
        "",
        "| count-bound mode, per optimizer.step() (16-parameter SGD) | µs |",
        "| --- | ---: |",
        f"| plain optimizer.step() | {c['plain_step_us']:.2f} |",
        f"| with attach() | {c['attach_step_us']:.2f} (overhead {c['attach_overhead_us']:.2f} "
        f"[{c['attach_overhead_min_us']:.2f}, {c['attach_overhead_max_us']:.2f}]; ratio "
        f"{c['attach_ratio_median']:.2f} [{c['attach_ratio_min']:.2f}, {c['attach_ratio_max']:.2f}]) |",
        f"| optimizer.step() + ScheduleLR.step() | {c['step_plus_schedulelr_us']:.2f} |",
        "",
        "| whole curve | ScheduleLR (s) | torch scheduler (s) | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, r in res["long_curve"].items():
        lines.append(
            f"| {name}, {r['steps']:,} steps | {r['ours_s']:.2f} | {r['theirs_s']:.2f} | "
            f"{r['ratio_median']:.2f} [{r['ratio_min']:.2f}, {r['ratio_max']:.2f}] |"
        )
    return "\n".join(lines)


#: ``python -m benchmarks.torch_adapter``: this section alone.
main = section_command(__doc__, run, table, quick_help="fewer steps and repeats")


if __name__ == "__main__":
    sys.exit(main())
