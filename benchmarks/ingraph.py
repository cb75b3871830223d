"""In-graph cost: a jitted Flax train step with an lrsched schedule vs a constant lr vs Optax's
built-in equivalent schedule (target: indistinguishable, ≤ 1.01×).

    python -m benchmarks.ingraph [--quick]

Two networks (an MLP on 784-d inputs and a small CNN on 28×28 images), AdamW, the schedule
``warmup_cosine`` (Optax: ``warmup_cosine_decay_schedule``). Each timing runs ``steps``
jitted updates from Python and blocks at the end; the three variants alternate within every
repeat and the ratios are per repeat.
"""

from __future__ import annotations

import sys
from typing import Any

import jax
import optax
from flax import nnx

import lrsched_jax as lrs
from benchmarks._common import fmt_ratio, fmt_time, interleaved, paired_ratio, section_command, spread, timed
from lrtwin.models import flax_mlp


def mlp(rngs: nnx.Rngs) -> nnx.Module:
    return flax_mlp((784, 512, 512, 10), rngs=rngs)


class CNN(nnx.Module):
    """On 28×28 images, unlike the digits CNN of :mod:`lrtwin.models`: strided, mean-pooled."""

    def __init__(self, rngs: nnx.Rngs) -> None:
        self.c1 = nnx.Conv(1, 32, (3, 3), rngs=rngs)
        self.c2 = nnx.Conv(32, 64, (3, 3), strides=(2, 2), rngs=rngs)
        self.out = nnx.Linear(64, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = jax.nn.relu(self.c2(jax.nn.relu(self.c1(x))))
        return self.out(h.mean(axis=(1, 2)))


def _stepper(model: nnx.Module, tx: optax.GradientTransformation):
    """A jitted functional AdamW step (graphdef static), its initial state."""
    graphdef, params = nnx.split(model, nnx.Param)
    opt_state = tx.init(params)

    @jax.jit
    def step(params: Any, opt_state: Any, x: jax.Array, y: jax.Array) -> tuple[Any, Any, jax.Array]:
        def loss_fn(p: Any) -> jax.Array:
            logits = nnx.merge(graphdef, p)(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step, params, opt_state


def _bench_model(
    name: str, make: Any, x: jax.Array, y: jax.Array, steps: int, repeats: int
) -> dict[str, Any]:
    total = 10_000
    variants = {
        "lrsched": lrs.warmup_cosine(1e-3, 100, total, min_lr=1e-6),
        "constant": 1e-3,
        "optax": optax.warmup_cosine_decay_schedule(0.0, 1e-3, 100, total, end_value=1e-6),
    }
    runs = {}
    for key, lr in variants.items():
        step, params, opt_state = _stepper(make(nnx.Rngs(0)), optax.adamw(lr, weight_decay=1e-2))
        params, opt_state, loss = step(params, opt_state, x, y)  # compile outside the timing
        loss.block_until_ready()
        state = {"p": params, "o": opt_state}

        def run(step=step, state=state) -> None:
            p, o = state["p"], state["o"]
            for _ in range(steps):
                p, o, loss = step(p, o, x, y)
            loss.block_until_ready()
            state["p"], state["o"] = p, o

        runs[key] = lambda run=run: timed(run) / steps
    times = interleaved(runs, repeats)
    return {
        "model": name,
        "per_step": {k: spread(v) for k, v in times.items()},
        "lrsched_vs_constant": paired_ratio(times, "lrsched", "constant"),
        "lrsched_vs_optax": paired_ratio(times, "lrsched", "optax"),
    }


def run(quick: bool = False) -> dict[str, Any]:
    steps, repeats = (8, 3) if quick else (200, 11)
    key = jax.random.key(0)
    x_mlp = jax.random.normal(key, (128, 784))
    y = jax.random.randint(key, (128,), 0, 10)
    x_cnn = jax.random.normal(key, (64, 28, 28, 1))
    return {
        "steps": steps,
        "repeats": repeats,
        "rows": [
            _bench_model("MLP 784-512-512-10, batch 128", mlp, x_mlp, y, steps, repeats),
            _bench_model("CNN 2 conv + linear, 28×28, batch 64", CNN, x_cnn, y[:64], steps, repeats),
        ],
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| model | step (lrsched) | step (constant) | step (Optax schedule) "
        "| lrsched / constant | lrsched / Optax |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        p = r["per_step"]
        lines.append(
            f"| {r['model']} | {fmt_time(p['lrsched'])} | {fmt_time(p['constant'])} | "
            f"{fmt_time(p['optax'])} | "
            f"{fmt_ratio(r['lrsched_vs_constant'])} | {fmt_ratio(r['lrsched_vs_optax'])} |"
        )
    return "\n".join(lines)


#: ``python -m benchmarks.ingraph``: this section alone.
main = section_command(__doc__, run, table)


if __name__ == "__main__":
    sys.exit(main())
