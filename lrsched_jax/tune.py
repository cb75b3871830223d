"""Which lr? :func:`tune_lr` decides by training: short probes of every candidate, then the
survivors for the full run, each rung one vmapped, jitted program (:func:`lrsched_jax.compare`).

The search, its defaults and the measurements behind them: :mod:`lrsched_jax.core.tune` and
docs/tune.md. The torch counterpart, :func:`lrsched_torch.tune_lr`, makes its decisions by
the same code from the same batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optax
from flax import nnx

from lrsched_jax.core.arena import Mode
from lrsched_jax.core.families import Constant
from lrsched_jax.core.losses import resolve_loss
from lrsched_jax.core.schedule import Schedule
from lrsched_jax.core.tune import (
    DEFAULT_POLICY,
    FINDER_STEPS,
    Policy,
    TuneResult,
    check_budget,
    check_candidates,
    check_room,
    check_seeds,
    from_compare,
    peak_schedules,
    search,
    sweep_candidates,
    sweep_order,
)
from lrsched_jax.finder.jax_driver import CRITERION_MODULES, cross_entropy

__all__ = ["tune_lr"]

Stage = Callable[[str, int, int], None]


def _sweep_data(train: tuple[Any, Any], seed: int, batch_size: int) -> tuple[Any, Any]:
    x, y = np.asarray(train[0]), np.asarray(train[1])
    idx = sweep_order(seed, len(x), batch_size, FINDER_STEPS)
    return x[idx], y[idx]


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
    from lrsched_jax.arena import compare

    where = "tune_lr"
    t0 = time.perf_counter()
    finder_loss = resolve_loss(where, criterion, loss_fn, cross_entropy, CRITERION_MODULES)
    if metric is not None and not callable(metric):
        raise TypeError(f"{where}: metric must be callable, got {metric!r}")
    cands = None if lrs is None else check_candidates(where, lrs)
    budget = check_budget(where, budget)
    if mode not in ("max", "min"):
        raise ValueError(f"{where}: mode must be 'max' (higher is better) or 'min', got {mode!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"{where}: epochs must be an int >= 1 (the full run), got {epochs!r}")
    seed_list = check_seeds(where, seeds)
    peak_schedules(where, schedule, [cands[0] if cands else 1e-2])
    n = int(np.shape(train[0])[0])
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise ValueError(f"{where}: batch_size must be an int in [1, {n}], got {batch_size!r}")
    steps = n // batch_size
    check_room(where, budget, int(epochs), steps, 0 if cands is not None else FINDER_STEPS, policy)

    def probe(scheds: list[Schedule], ep: int) -> tuple[np.ndarray, np.ndarray]:
        tick = None if progress is None else (lambda d, t: progress(f"{ep} epoch(s)", d, t))
        res = compare(
            model, optimizer, train, val, {f"candidate {i}": s for i, s in enumerate(scheds)}, seed_list, ep,
            criterion=criterion, loss_fn=loss_fn, metric=metric, batch_size=batch_size, mode=mode,
            eval_every=steps, devices=devices, progress=tick,
        )  # fmt: skip
        return from_compare(res, len(scheds), len(seed_list))

    sweep, used, anchor_lr = None, 0, None
    if cands is None:
        from lrsched_jax.finder.jax_driver import find_lr

        if progress is not None:
            progress("sweep", 0, 1)
        sweep = find_lr(
            model(seed_list[0]), optimizer, _sweep_data(train, seed_list[0], batch_size), loss_fn=finder_loss,
            batch_size=batch_size,
        )  # fmt: skip
        used = int(sweep.stop_step) + 1
        cands, anchor_lr = sweep_candidates(sweep, policy)
        if progress is not None:
            progress("sweep", 1, 1)
    result = search(
        where, framework="jax", candidates=cands, schedule=schedule, epochs=int(epochs),
        steps_per_epoch=steps, seeds=seed_list, budget=budget, mode=mode, probe=probe, sweep=sweep,
        sweep_updates=used, anchor_lr=anchor_lr, policy=policy, extend=sweep is not None,
    )  # fmt: skip
    result.wall_s = time.perf_counter() - t0
    return result
