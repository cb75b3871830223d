"""Whole curves: 10**6 steps evaluated by lrsched (NumPy, JAX) vs stepping torch's scheduler
10**6 times vs Optax's function under ``vmap``.

    python -m benchmarks.curves [--quick]

Two families with a counterpart on each side: cosine annealing (torch ``CosineAnnealingLR``,
Optax ``cosine_decay_schedule``) and one-cycle (torch ``OneCycleLR``; Optax has no exact
counterpart, so its ``cosine_onecycle_schedule`` stands in). JAX figures are jitted and
compiled before timing; torch steps a fresh scheduler (its optimizer holds one parameter).
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import lrsched_jax as lrs
from benchmarks._common import fmt_ratio, fmt_time, interleaved, paired_ratio, section_command, spread, timed


def _cases(n: int) -> list[dict[str, Any]]:
    return [
        {
            "family": "cosine",
            "ours": lrs.cosine(0.1, n, periodic=True),
            "torch": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=n),
            "optax": optax.cosine_decay_schedule(0.1, n),
        },
        {
            "family": "one_cycle",
            "ours": lrs.one_cycle(0.1, n),
            "torch": lambda o: torch.optim.lr_scheduler.OneCycleLR(
                o, max_lr=0.1, total_steps=n, cycle_momentum=False
            ),
            "optax": optax.cosine_onecycle_schedule(n, 0.1),
        },
    ]


def _torch_curve(build: Any, n: int) -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = build(opt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no optimizer.step(): torch's call-order warning
        for _ in range(n - 1):
            sched.step()


def run(quick: bool = False) -> dict[str, Any]:
    n, repeats = (100_000, 3) if quick else (1_000_000, 5)
    steps_np = np.arange(n)
    steps_jax = jnp.arange(n, dtype=jnp.int32)
    rows = []
    for case in _cases(n):
        ours, theirs = case["ours"], case["optax"]
        ours_jit = jax.jit(ours)
        optax_jit = jax.jit(jax.vmap(theirs))
        ours_jit(steps_jax).block_until_ready()
        optax_jit(steps_jax).block_until_ready()
        contenders = {
            "lrsched (NumPy float64)": lambda f=ours: timed(lambda: f(steps_np)),
            "lrsched (JAX jit)": lambda f=ours_jit: timed(lambda: f(steps_jax).block_until_ready()),
            "Optax (jit vmap)": lambda f=optax_jit: timed(lambda: f(steps_jax).block_until_ready()),
            "torch scheduler.step() × n": lambda b=case["torch"]: timed(lambda: _torch_curve(b, n)),
        }
        times = interleaved(contenders, repeats)
        rows.append(
            {
                "family": case["family"],
                "seconds": {k: spread(v) for k, v in times.items()},
                "torch_vs_numpy": paired_ratio(
                    times, "torch scheduler.step() × n", "lrsched (NumPy float64)"
                ),
                "optax_vs_jax": paired_ratio(times, "Optax (jit vmap)", "lrsched (JAX jit)"),
            }
        )
    return {"steps": n, "repeats": repeats, "rows": rows}


def table(result: dict[str, Any]) -> str:
    names = list(result["rows"][0]["seconds"])
    lines = [
        f"{result['steps']:,} steps, median (min–max) over {result['repeats']} interleaved repeats",
        "",
        "| family | " + " | ".join(names) + " | torch / lrsched NumPy | Optax / lrsched JAX |",
        "| --- |" + " ---: |" * (len(names) + 2),
    ]
    for r in result["rows"]:
        cells = [fmt_time(r["seconds"][k]) for k in names]
        lines.append(
            f"| {r['family']} | " + " | ".join(cells) + f" | {fmt_ratio(r['torch_vs_numpy'])} | "
            f"{fmt_ratio(r['optax_vs_jax'])} |"
        )
    return "\n".join(lines)


#: ``python -m benchmarks.curves``: this section alone.
main = section_command(__doc__, run, table)


if __name__ == "__main__":
    sys.exit(main())
