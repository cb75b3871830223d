r"""Optax glue for the plateau state machine (:mod:`lrsched_jax.core.plateau`).

:func:`scale_by_plateau` is a gradient transformation that multiplies the updates by the
current plateau lr, :func:`report_plateau` reports one metric (torch's
``scheduler.step(metric)``) to the plateau state inside an optimizer state, and
:func:`plateau_lr` reads the current lr back. All three work under ``jax.jit``.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import optax

from lrsched_jax.core import validate
from lrsched_jax.core.plateau import PlateauState, ReduceOnPlateau
from lrsched_jax.core.validate import place

__all__ = ["scale_by_plateau", "report_plateau", "plateau_state", "plateau_lr"]


@place("scale_by_plateau")
def _lr_leaf(i: int, n: int, leaf: Any) -> float:
    name = "learning_rate" if n == 1 else f"learning_rate (group {i})"
    if isinstance(leaf, numbers.Real) and not isinstance(leaf, bool):
        return validate.lr(name, leaf)
    if getattr(leaf, "ndim", None) == 0 and not isinstance(leaf, jax.core.Tracer):
        return validate.lr(name, float(leaf))
    raise TypeError(f"scale_by_plateau: {name} must be a number, got {leaf!r}")


def scale_by_plateau(plateau: ReduceOnPlateau, learning_rate: Any) -> optax.GradientTransformation:
    r"""Multiply updates by the lr of a :class:`~lrsched_jax.ReduceOnPlateau` state machine.

    ``update(updates, state) = lr * updates``, where ``lr`` starts at ``learning_rate`` and
    changes only when a metric is reported with :func:`report_plateau` — once per epoch,
    exactly where torch calls ``scheduler.step(val_loss)``; the updates after a report use
    the new lr. Put it *after* the optimizer, whose own learning rate is then 1::

        tx = optax.chain(optax.adam(1.0), scale_by_plateau(plateau, 1e-3))

    so the lr multiplies the optimizer's final direction as torch's ``param_group["lr"]``
    does (``optax.sgd(1.0, momentum=0.9)``, ``optax.adamw(1.0, weight_decay=wd)`` likewise:
    ``-lr * (direction + wd * p)`` is torch's AdamW step).

    Parameter groups: ``learning_rate`` is one number (one group: every update) or a pytree
    of numbers that is a *prefix* of the updates' tree — e.g. ``{"encoder": 1e-4, "head":
    1e-3}`` for params ``{"encoder": {...}, "head": {...}}`` — one group per leaf, in JAX's
    flatten order (the order of ``plateau_lr``'s entries and of a per-group ``min_lr``).
    All groups share one ``best`` and counters, as in torch.

    The state is the :class:`~lrsched_jax.PlateauState` itself (arrays only: jit-, scan-
    and checkpoint-friendly), in JAX's default float (float32 unless x64). Extra arguments
    such as ``value=`` are ignored — the metric goes through :func:`report_plateau`.

    Differences from ``optax.contrib.reduce_on_plateau``:

    * *When the metric counts.* contrib takes ``value=`` with every update and averages it
      over ``accumulation_size`` updates, deciding once per window (typically on the
      training loss). Here the metric you choose (e.g. the validation loss) is reported
      explicitly, once per epoch, and is not averaged — torch's semantics.
    * *Decision rules.* contrib has mode ``min`` only, calls ``avg < (1 - rtol) * best -
      atol`` an improvement, and reduces when ``plateau_count == patience`` — one bad epoch
      earlier than torch, and with ``patience=0`` on *every* report, improvements included.
      It has no ``eps`` and a single ``min_scale`` multiplier instead of per-group
      ``min_lr``. Here the rules are torch's, decision for decision.
    * *Negative metrics.* With no ``max`` mode a maximised metric (accuracy) has to be
      negated, and then contrib's relative bar ``(1 - rtol) * best`` lies *above* the
      (negative) best: an accuracy up to ``rtol * |best|`` *worse* than the best counts as
      an improvement, so a slowly declining accuracy never reduces the lr. torch's (and
      this) ``mode="max"`` uses ``a > best * (1 + threshold)``. (torch's relative threshold
      has the same loosening for a negative metric in mode ``"min"``; it is reproduced for
      parity — use ``threshold_mode="abs"`` for metrics that can be negative.)
    * *What the state holds.* contrib keeps a multiplier ``scale`` for a fixed optimizer lr;
      here the state holds the lr of each group itself, as torch's ``get_last_lr()``.

    >>> import jax, jax.numpy as jnp, optax
    >>> from lrsched_jax.core.plateau import reduce_on_plateau
    >>> from lrsched_jax.plateau_optax import scale_by_plateau, report_plateau, plateau_lr
    >>> plateau = reduce_on_plateau(factor=0.5, patience=0)
    >>> tx = optax.chain(optax.sgd(1.0), scale_by_plateau(plateau, 0.1))
    >>> params = {"w": jnp.ones(2)}
    >>> opt_state = tx.init(params)
    >>> step = jax.jit(tx.update)
    >>> report = jax.jit(lambda s, m: report_plateau(s, m, plateau))
    >>> applied = []
    >>> for val_loss in [1.0, 1.0, 0.5]:  # an epoch: its updates, then one report
    ...     updates, opt_state = step({"w": jnp.ones(2)}, opt_state, params)
    ...     applied.append(round(-updates["w"][0].item(), 6))
    ...     opt_state = report(opt_state, val_loss)
    >>> applied  # the 2nd report (1.0, no improvement, patience 0) halved the lr
    [0.1, 0.1, 0.05]
    >>> round(float(plateau_lr(opt_state)[0]), 6)
    0.05
    """
    if not isinstance(plateau, ReduceOnPlateau):
        raise TypeError(
            f"scale_by_plateau: plateau must be a ReduceOnPlateau (lrsched_jax.reduce_on_plateau(...)), "
            f"got {type(plateau).__name__}"
        )
    leaves, treedef = jax.tree.flatten(learning_rate)
    if not leaves:
        raise ValueError("scale_by_plateau: learning_rate must hold at least one learning rate, got none")
    n = len(leaves)
    lrs0 = [_lr_leaf(i, n, leaf) for i, leaf in enumerate(leaves)]
    if isinstance(plateau.min_lr, tuple) and len(plateau.min_lr) != n:
        raise ValueError(
            f"scale_by_plateau: expected {n} min_lr values (one per learning_rate group), "
            f"got {len(plateau.min_lr)}"
        )

    def init_fn(params: Any) -> PlateauState:
        del params
        # Created at init time, so the x64 setting in force then decides the float dtype.
        return plateau.init(jnp.asarray(lrs0, dtype=jnp.result_type(float)))

    def update_fn(updates: Any, state: PlateauState, params: Any = None) -> tuple[Any, PlateauState]:
        del params
        lr_tree = jax.tree.unflatten(treedef, [state.lr[i] for i in range(n)])

        def scale_group(lr: Any, sub: Any) -> Any:
            # Multiply in the update's dtype (like optax.scale), so bfloat16 stays bfloat16.
            return jax.tree.map(lambda u: (u * lr).astype(u.dtype), sub)

        try:
            return jax.tree.map(scale_group, lr_tree, updates), state
        except ValueError as err:
            raise ValueError(
                "scale_by_plateau: learning_rate's tree must be a prefix of the updates' tree "
                f"(one lr per parameter group); learning_rate has structure {treedef}"
            ) from err

    return optax.GradientTransformation(init_fn, update_fn)


def _is_plateau(x: Any) -> bool:
    return isinstance(x, PlateauState)


def report_plateau(opt_state: Any, metric: Any, plateau: ReduceOnPlateau, *, when: Any = True) -> Any:
    r"""Report one metric to the plateau state(s) in ``opt_state``: torch's ``scheduler.step(metric)``.

    Pure and jit-able: returns a new optimizer state in which every
    :class:`~lrsched_jax.PlateauState` (the state of :func:`scale_by_plateau`, wherever it is
    nested — ``optax.chain``, ``multi_transform``, a Flax ``TrainState.opt_state``) is
    stepped with ``plateau.update(state, metric)``; pass the same ``plateau`` the transform
    was built with. Call it once per epoch, after the epoch's updates.

    ``when`` (a bool or a traced boolean scalar) lets one compiled train step do it: the
    plateau state is stepped only where ``when`` is true, e.g. ``when=is_last_batch``; with
    ``when`` false the state comes back unchanged, so an unreported step is no epoch.

    Raises ``ValueError`` if ``opt_state`` holds no plateau state.

    >>> import jax.numpy as jnp, optax
    >>> from lrsched_jax.core.plateau import reduce_on_plateau
    >>> from lrsched_jax.plateau_optax import scale_by_plateau, report_plateau, plateau_lr
    >>> p = reduce_on_plateau(patience=0)
    >>> tx = optax.chain(optax.adam(1.0), scale_by_plateau(p, 1e-3))
    >>> s = tx.init(jnp.zeros(3))
    >>> s = report_plateau(s, 2.0, p)
    >>> s = report_plateau(s, 3.0, p, when=jnp.asarray(False))  # not an epoch end: no change
    >>> float(plateau_lr(s)[0]) == float(jnp.float32(1e-3))
    True
    >>> s = report_plateau(s, 3.0, p)                             # a bad epoch with patience 0
    >>> round(float(plateau_lr(s)[0]), 7)
    0.0001
    """
    if not isinstance(plateau, ReduceOnPlateau):
        raise TypeError(f"report_plateau: plateau must be a ReduceOnPlateau, got {type(plateau).__name__}")
    leaves, treedef = jax.tree.flatten(opt_state, is_leaf=_is_plateau)
    if not any(_is_plateau(leaf) for leaf in leaves):
        raise ValueError(
            "report_plateau: the optimizer state holds no plateau state; build the optimizer "
            "with lrsched_jax.scale_by_plateau(...)"
        )
    if when is False:
        return opt_state
    out = []
    for leaf in leaves:
        if _is_plateau(leaf):
            new = plateau.update(leaf, metric)
            if when is not True:
                w = jnp.asarray(when)
                if w.shape != () or w.dtype != jnp.bool_:
                    raise ValueError(f"report_plateau: when must be a boolean scalar, got {when!r}")
                new = PlateauState(*(jnp.where(w, a, b) for a, b in zip(new, leaf)))
            leaf = new
        out.append(leaf)
    return jax.tree.unflatten(treedef, out)


def plateau_state(opt_state: Any) -> PlateauState:
    """The (single) :class:`~lrsched_jax.PlateauState` inside ``opt_state``.

    Raises ``ValueError`` when there is none or more than one.
    """
    found = [leaf for leaf in jax.tree.leaves(opt_state, is_leaf=_is_plateau) if _is_plateau(leaf)]
    if len(found) != 1:
        what = "no plateau state" if not found else f"{len(found)} plateau states"
        raise ValueError(
            f"plateau_state: the optimizer state holds {what}; expected exactly one "
            "(from lrsched_jax.scale_by_plateau)"
        )
    return found[0]


def plateau_lr(opt_state: Any) -> Any:
    """The current plateau lr of each group, a 1-D array (torch's ``get_last_lr()``).

    It is the lr the next update will use. Works inside ``jit``; ``ValueError`` unless the
    state holds exactly one plateau state. See :func:`scale_by_plateau` for an example.
    """
    return plateau_state(opt_state).lr
