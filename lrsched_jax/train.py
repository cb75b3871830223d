"""Small training helpers for Flax NNX + Optax, parameterised by a schedule.

They are what the demo and the benchmarks use, and a starting point for users' scripts:

* :func:`make_optimizer` — an ``nnx.Optimizer`` whose learning rate is a schedule, built
  with ``optax.inject_hyperparams`` so the applied lr can be read back;
* :func:`train_step` — one jitted update, returning the loss and the lr it applied;
* :func:`train_epoch` — a whole epoch as one jitted ``lax.scan`` over batches, returning
  the loss and the applied lr of every step;
* :func:`evaluate` — mean loss and accuracy over arrays.

Everything runs on JAX's default device (a GPU when JAX sees one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from lrsched_jax.optax_glue import applied_lr

__all__ = ["batches", "evaluate", "make_optimizer", "train_epoch", "train_step"]

LossFn = Callable[[nnx.Module, jax.Array, jax.Array], jax.Array]


def cross_entropy(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of ``model(x)`` against integer labels ``y``."""
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def make_optimizer(
    model: nnx.Module,
    schedule: Callable[[Any], Any],
    tx: Callable[..., optax.GradientTransformation] = optax.adamw,
    **kwargs: Any,
) -> nnx.Optimizer:
    """``nnx.Optimizer(model, optax.inject_hyperparams(tx)(learning_rate=schedule, **kwargs))``.

    Update ``k`` (0-based) uses ``schedule(k)``; :func:`lrsched_jax.applied_lr` on
    ``optimizer.opt_state`` reads the lr the last update applied.

    >>> import optax, lrsched_jax as lrs
    >>> from flax import nnx
    >>> from lrsched_jax.train import make_optimizer
    >>> model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    >>> opt = make_optimizer(model, lrs.cosine(1e-2, 100), optax.sgd)
    >>> round(float(lrs.applied_lr(opt.opt_state)), 6)  # before any update: lr(0)
    0.01
    """
    return nnx.Optimizer(model, optax.inject_hyperparams(tx)(learning_rate=schedule, **kwargs), wrt=nnx.Param)


@nnx.jit(static_argnames=("loss_fn",))
def train_step(
    model: nnx.Module, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array, loss_fn: LossFn = cross_entropy
) -> tuple[jax.Array, jax.Array]:
    """One jitted update on the batch ``(x, y)``; returns ``(loss before the update, lr applied)``."""
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss, applied_lr(optimizer.opt_state)


def batches(n: int, batch_size: int, key: jax.Array | None = None) -> np.ndarray:
    """Indices of ``n // batch_size`` full batches, shape ``(steps, batch_size)``; shuffled
    with ``key`` if given. The remainder is dropped so every step has the same shape."""
    if batch_size < 1 or batch_size > n:
        raise ValueError(f"batch_size must be in [1, {n}], got {batch_size}")
    order = np.arange(n) if key is None else np.asarray(jax.random.permutation(key, n))
    steps = n // batch_size
    return order[: steps * batch_size].reshape(steps, batch_size)


def train_epoch(
    model: nnx.Module,
    optimizer: nnx.Optimizer,
    x: jax.Array,
    y: jax.Array,
    batch_size: int,
    *,
    key: jax.Array | None = None,
    loss_fn: LossFn = cross_entropy,
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch over ``(x, y)`` as a single jitted ``lax.scan`` over batches.

    Updates ``model`` and ``optimizer`` in place; returns the per-step losses (before each
    update) and the lr each update applied (``schedule(k)`` for global update ``k``).
    ``key`` shuffles the epoch; the last partial batch is dropped.
    """
    idx = jnp.asarray(batches(int(x.shape[0]), batch_size, key))
    losses, lrs = _scan_epoch(model, optimizer, jnp.asarray(x)[idx], jnp.asarray(y)[idx], loss_fn)
    return np.asarray(losses), np.asarray(lrs)


@nnx.jit(static_argnames=("loss_fn",))
def _scan_epoch(
    model: nnx.Module, optimizer: nnx.Optimizer, xb: jax.Array, yb: jax.Array, loss_fn: LossFn
) -> tuple[jax.Array, jax.Array]:
    graphdef, state = nnx.split((model, optimizer))

    def body(state: Any, batch: tuple[jax.Array, jax.Array]) -> tuple[Any, tuple[jax.Array, jax.Array]]:
        m, opt = nnx.merge(graphdef, state)
        loss, grads = nnx.value_and_grad(loss_fn)(m, *batch)
        opt.update(m, grads)
        lr = applied_lr(opt.opt_state)
        return nnx.state((m, opt)), (loss, lr)

    state, out = jax.lax.scan(body, state, (xb, yb))
    nnx.update((model, optimizer), state)
    return out


@nnx.jit(static_argnames=("loss_fn",))
def _eval(model: nnx.Module, x: jax.Array, y: jax.Array, loss_fn: LossFn) -> tuple[jax.Array, jax.Array]:
    logits = model(x)
    acc = jnp.mean(jnp.argmax(logits, axis=-1) == y) if logits.ndim == 2 else jnp.nan
    return loss_fn(model, x, y), acc


def evaluate(
    model: nnx.Module, x: jax.Array, y: jax.Array, loss_fn: LossFn = cross_entropy
) -> dict[str, float]:
    """``{"loss": ..., "accuracy": ...}`` of ``model`` on ``(x, y)`` (accuracy for class logits)."""
    loss, acc = _eval(model, jnp.asarray(x), jnp.asarray(y), loss_fn)
    return {"loss": float(loss), "accuracy": float(acc)}
