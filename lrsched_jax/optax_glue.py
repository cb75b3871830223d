"""Optax glue: read the learning rate an optimizer actually applied.

Any :class:`~lrsched_jax.Schedule` already *is* an Optax schedule (``optax.adamw(learning_rate=s)``);
Optax evaluates it at the optimizer's update count, so update ``k`` (0-based) uses ``s(k)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jax.numpy as jnp
import optax

__all__ = ["applied_lr"]

#: The optimizer-state types that carry ``optax.inject_hyperparams``'s hyperparameters (the
#: stateful variant exists in newer Optax only). Read here and by the finder's JAX driver.
INJECT_STATE_TYPES: tuple[type, ...] = tuple(
    t
    for t in (
        getattr(optax, "InjectHyperparamsState", None),
        getattr(optax, "InjectStatefulHyperparamsState", None),
    )
    if t is not None
)


def _walk(state: Any) -> Iterator[Any]:
    yield state
    if isinstance(state, dict):
        for v in state.values():
            yield from _walk(v)
    elif isinstance(state, (tuple, list)):
        for v in state:
            yield from _walk(v)


def applied_lr(opt_state: Any, schedule: Callable[[Any], Any] | None = None) -> Any:
    """The learning rate applied at the optimizer's last update (a scalar array).

    * With ``optax.inject_hyperparams`` (e.g. ``optax.inject_hyperparams(optax.adamw)(
      learning_rate=s)``) it reads the injected ``learning_rate`` from the state: after
      update ``k`` that is ``s(k)``; before the first update, the lr the first update
      will use.
    * Otherwise pass the ``schedule``: it finds the ``ScaleByScheduleState`` count ``n``
      (updates done) and returns ``schedule(max(n - 1, 0))``.

    Works inside ``jit``. Raises ``ValueError`` when the state holds neither.

    >>> import jax.numpy as jnp, optax, lrsched_jax as lrs
    >>> s = lrs.linear(0.0, 1.0, total_steps=10)
    >>> opt = optax.inject_hyperparams(optax.sgd)(learning_rate=s)
    >>> params = {"w": jnp.zeros(2)}
    >>> state = opt.init(params)
    >>> for _ in range(3):
    ...     _, state = opt.update({"w": jnp.ones(2)}, state, params)
    >>> round(float(applied_lr(state)), 6)  # the third update (k = 2) used s(2)
    0.2
    """
    for node in _walk(opt_state):
        if isinstance(node, INJECT_STATE_TYPES):
            hp = node.hyperparams  # type: ignore[attr-defined]  # the injected-state types
            if "learning_rate" in hp:
                return jnp.asarray(hp["learning_rate"])
    if schedule is not None:
        for node in _walk(opt_state):
            if isinstance(node, optax.ScaleByScheduleState):
                count = jnp.asarray(node.count)
                return schedule(jnp.maximum(count - 1, 0))
        raise ValueError(
            "applied_lr: no ScaleByScheduleState in the optimizer state; was it built with "
            "learning_rate=<schedule>?"
        )
    raise ValueError(
        "applied_lr: the optimizer state has no injected learning_rate; build the optimizer "
        "with optax.inject_hyperparams(...) or pass the schedule"
    )
