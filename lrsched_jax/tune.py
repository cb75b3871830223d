"""Which lr? :func:`tune_lr` decides by training: short probes of every candidate, then the
survivors for the full run, each rung one vmapped, jitted program (:func:`lrsched_jax.compare`).

The search, its defaults and the measurements behind them: :mod:`lrsched_jax.core.tune` and
docs/tune.md. The torch counterpart, :func:`lrsched_torch.tune_lr`, makes its decisions by
the same code from the same batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optax
from flax import nnx

from lrsched_jax.core.arena import Mode
from lrsched_jax.core.families import Constant
from lrsched_jax.core.losses import resolve_loss
from lrsched_jax.core.schedule import Schedule
from lrsched_jax.core.tune import DEFAULT_POLICY, Policy, TuneResult, run_tuner, sweep_rows
from lrsched_jax.core.validate import place
from lrsched_jax.finder.jax_driver import CRITERION_MODULES, cross_entropy

__all__ = ["tune_lr"]

Stage = Callable[[str, int, int], None]


def _sweep_data(train: tuple[Any, Any], seed: int, batch_size: int) -> tuple[Any, Any]:
    x, y = np.asarray(train[0]), np.asarray(train[1])
    idx = sweep_rows(seed, len(x), batch_size)
    return x[idx], y[idx]


@place("tune_lr")
def tune_lr(
    *,
    model: Callable[[int], nnx.Module],
    optimizer: Callable[[Any], optax.GradientTransformation],
    train: tuple[Any, Any],
    val: tuple[Any, Any],
    epochs: int,
    batch_size: int = 32,
    criterion: Callable[[Any, Any], Any] | None = None,
    loss_fn: Callable[[Any, Any], Any] | None = None,
    metric: Callable[[Any, Any], Any] | None = None,
    mode: Mode = "max",
    seeds: Sequence[int] = (0,),
    schedule: Callable[[float], Schedule] = Constant,
    budget: float = 3.0,
    lrs: Sequence[float] | None = None,
    devices: int | Sequence[Any] | None = None,
    policy: Policy = DEFAULT_POLICY,
    progress: Stage | None = None,
) -> TuneResult:
    """Choose the peak lr for ``schedule`` by training (see :mod:`lrsched_jax.core.tune`).

    * ``model(seed)`` builds the Flax NNX model; ``optimizer(lr)`` the Optax transformation
      around an lr schedule (as :func:`lrsched_jax.compare`); ``train`` / ``val``: ``(x, y)``
      arrays; ``epochs`` and ``batch_size``: the full run the lr is for.
    * The loss: ``criterion(output, y)`` (default: softmax cross-entropy on integer labels) or
      ``loss_fn(model, batch)`` — exactly one. ``metric(output, y)`` (default: accuracy) on
      ``val`` decides, higher is better with ``mode="max"``, lower with ``"min"``.
    * ``schedule(peak)``: how the lr is used in the full run (default: a constant lr; e.g.
      ``lambda peak: lrs.one_cycle(peak, epochs * steps_per_epoch)``). Probes shorter than the
      full run train it compressed in time (:class:`lrsched_jax.core.tune.compress`).
    * ``budget``: the most training, in full runs (per seed) of member-updates, the sweep's
      steps included (default 3). ``lrs``: the candidates (default: the half-decade lattice
      around a finder sweep of seed ``seeds[0]``'s model on the probes' own batches).
    * ``seeds``: every candidate trains from each seed; the mean metric decides.
      ``devices``: shard the members as :func:`lrsched_jax.compare` does. ``policy``: the
      search's settings (:class:`lrsched_jax.core.tune.Policy`; measured defaults).
    * ``progress(stage, done, total)``: called as the sweep and each rung advance.

    Returns a :class:`lrsched_jax.core.tune.TuneResult`: ``lr``, ``trials``, ``cost``,
    ``sweep``, ``table()``, ``to_dict()``, ``plot()``. A diverging candidate is marked and
    loses; when all do, ``lr`` is None and ``notes`` says so. ``TypeError`` / ``ValueError``
    name a bad argument before anything is trained.
    """
    from lrsched_jax.arena import compare, shared_programs
    from lrsched_jax.finder.jax_driver import find_lr

    finder_loss = resolve_loss(criterion, loss_fn, cross_entropy, CRITERION_MODULES)

    def train_rung(named: dict[str, Schedule], ep: int, seed_list: list[int], steps: int, tick: Any) -> Any:
        shared.updates = int(epochs) * steps  # every rung's lr table as long as the full run's
        return compare(
            model, optimizer, train, val, named, seed_list, ep,
            criterion=criterion, loss_fn=loss_fn, metric=metric, batch_size=batch_size, mode=mode,
            eval_every=steps, devices=devices, progress=tick,
        )  # fmt: skip

    def sweep(seed: int) -> Any:
        data = _sweep_data(train, seed, batch_size)
        return find_lr(model(seed), optimizer, data, loss_fn=finder_loss, batch_size=batch_size)

    with shared_programs() as shared:  # rungs of one member count compile once
        return run_tuner(
            "jax", lrs=lrs, schedule=schedule, epochs=epochs, n_train=int(np.shape(train[0])[0]),
            batch_size=batch_size, seeds=seeds, budget=budget, mode=mode, metric=metric, policy=policy,
            progress=progress, train=train_rung, sweep=sweep,
        )  # fmt: skip
