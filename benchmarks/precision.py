"""Float32 precision per family: max float32 ulps against the float64 value, ours beside Optax.

    python benchmarks/precision.py [--quick]

Every schedule is evaluated jitted in JAX float32 at every step 0..10**6 (``--quick``: 10**5)
and compared with the float64 value of the same curve (lrsched's NumPy evaluation; where an
Optax function has the same semantics, the curve is the same). Values below 1e-30 are not
measured (XLA flushes subnormal intermediates). An Optax cell reads ``nan@k`` when Optax
returns NaN at ``k`` steps.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrsched_jax as lrs
from lrsched_jax.core.precision import f32_ulps

H = 1_000_000


def _cases() -> list[tuple[str, lrs.Schedule, Callable[[Any], Any] | None]]:
    T = H
    return [
        ("constant", lrs.constant(0.1), optax.constant_schedule(0.1)),
        (
            "step_decay",
            lrs.step_decay(0.1, 1000, 0.97),
            optax.exponential_decay(0.1, 1000, 0.97, staircase=True),
        ),
        (
            "multistep",
            lrs.multistep(0.1, [300_000, 600_000, 900_000], 0.1),
            optax.piecewise_constant_schedule(0.1, {300_000: 0.1, 600_000: 0.1, 900_000: 0.1}),
        ),
        ("exponential", lrs.exponential(0.1, 0.99999), optax.exponential_decay(0.1, 1, 0.99999)),
        ("linear", lrs.linear(1e-3, 1e-7, T), optax.linear_schedule(1e-3, 1e-7, T)),
        (
            "polynomial",
            lrs.polynomial(1e-2, T, end_lr=1e-7, power=0.9),
            optax.polynomial_schedule(1e-2, 1e-7, 0.9, T),
        ),
        ("cosine", lrs.cosine(0.1, T), optax.cosine_decay_schedule(0.1, T)),
        ("cosine (10k steps)", lrs.cosine(0.1, 10_000), optax.cosine_decay_schedule(0.1, 10_000)),
        (
            "warm_restarts",
            lrs.warm_restarts(0.1, 10_000, 2, min_lr=1e-6),
            optax.sgdr_schedule(
                [
                    dict(
                        init_value=0.1,
                        peak_value=0.1,
                        warmup_steps=0,
                        decay_steps=10_000 * 2**i,
                        end_value=1e-6,
                    )
                    for i in range(7)
                ]
            ),
        ),
        (
            "warmup_cosine",
            lrs.warmup_cosine(1e-3, 10_000, T, min_lr=1e-6),
            optax.warmup_cosine_decay_schedule(0.0, 1e-3, 10_000, T, end_value=1e-6),
        ),
        ("one_cycle", lrs.one_cycle(0.1, T), None),
        ("cyclic", lrs.cyclic(1e-4, 1e-2, 2000, mode="exp_range", gamma=0.99999), None),
        ("inverse_sqrt", lrs.inverse_sqrt(1e-3, 4000), None),
        ("warmup_stable_decay", lrs.warmup_stable_decay(1e-3, T, 1000, 200_000, "1-sqrt", 1e-6), None),
        (
            "piecewise_constant",
            lrs.piecewise_constant([1000, 500_000], [0.1, 0.01, 0.001]),
            optax.piecewise_constant_schedule(0.1, {1000: 0.1, 500_000: 0.1}),
        ),
        (
            "piecewise_linear",
            lrs.piecewise_linear([0, 1000, T], [0.0, 1e-3, 1e-7]),
            optax.piecewise_interpolate_schedule("linear", 1e-9, {1000: 1e6, T: 1e-4}),
        ),
        ("lr_range", lrs.lr_range(1e-7, 10.0, T), optax.exponential_decay(1e-7, T - 1, 1e8)),
        ("article_warmup_cosine", lrs.article_warmup_cosine(0.1, 5000, T), None),
        ("article_one_cycle", lrs.article_one_cycle(0.1, T), None),
        (
            "sequence",
            lrs.sequence([lrs.linear(0.0, 1e-3, 1000), lrs.cosine(1e-3, T - 1000)], [1000]),
            optax.join_schedules(
                [optax.linear_schedule(0.0, 1e-3, 1000), optax.cosine_decay_schedule(1e-3, T - 1000)], [1000]
            ),
        ),
        ("product", lrs.product([lrs.exponential(1.0, 0.99999), lrs.cosine(0.1, T)]), None),
        ("warmup", lrs.warmup(lrs.exponential(0.1, 0.99999), 1000, shape="cosine"), None),
        ("scale", lrs.scale(lrs.cosine(1.0, T), 0.3), None),
        ("per_epoch", lrs.per_epoch(lrs.exponential(0.1, 0.95), 391), None),
        ("shift", lrs.shift(lrs.cosine(0.1, T), 12_345), None),
    ]


def _ulps(got: np.ndarray, ref: np.ndarray) -> tuple[float, int]:
    """The worst float32 ulps over the finite values (the contract's measure,
    :func:`lrsched_jax.core.precision.f32_ulps`) and how many values are not finite."""
    nan = int(np.sum(~np.isfinite(got)))
    err = f32_ulps(got, ref)
    ok = np.isfinite(err)
    return (float(np.max(err[ok])) if np.any(ok) else 0.0), nan


def run(quick: bool = False) -> dict[str, Any]:
    """Measure every case.

    Returns ``{"horizon": n, "rows": [{family, ours_ulps, optax_ulps, optax_nan}, ...]}``.
    """
    n = 100_001 if quick else H + 1
    steps = np.arange(n, dtype=np.int64)
    steps32 = jnp.asarray(steps, dtype=jnp.int32)
    rows = []
    for name, ours, theirs in _cases():
        ref = ours(steps)
        mine, _ = _ulps(np.asarray(jax.jit(ours)(steps32)), ref)
        row: dict[str, Any] = {"family": name, "ours_ulps": mine, "optax_ulps": None, "optax_nan": 0}
        if theirs is not None:
            # Optax schedules take a scalar count (piecewise_interpolate needs one): vmap them
            got = np.asarray(jax.jit(jax.vmap(theirs))(steps32), dtype=np.float32)
            row["optax_ulps"], row["optax_nan"] = _ulps(got, ref)
        rows.append(row)
    return {"horizon": n - 1, "rows": rows}


def table(result: dict[str, Any]) -> str:
    lines = [
        f"float32 vs float64, max ulps over steps 0..{result['horizon']:,} (jitted JAX)",
        "",
        "| family | lrsched | Optax |",
        "| --- | ---: | ---: |",
    ]
    for r in result["rows"]:
        if r["optax_ulps"] is None:
            theirs = "—"
        else:
            theirs = f"{r['optax_ulps']:,.1f}"
            if r["optax_nan"]:
                theirs += f" (nan@{r['optax_nan']})"
        lines.append(f"| {r['family']} | {r['ours_ulps']:.2f} | {theirs} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10**5 steps instead of 10**6")
    args = parser.parse_args(argv)
    result = run(args.quick)
    print(table(result))
    worst = max(r["ours_ulps"] for r in result["rows"])
    print(f"\nworst lrsched family: {worst:.2f} ulps (contract: <= 8)")
    return 0 if worst <= 8 else 1


if __name__ == "__main__":
    sys.exit(main())
