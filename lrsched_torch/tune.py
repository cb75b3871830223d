"""Which lr? :func:`tune_lr` in torch: the candidates of :func:`lrsched_jax.tune_lr`, each rung
trained by :func:`lrsched_torch.compare` (one ``torch.func`` loop over candidates × seeds).

Every decision — the candidates read off the sweep, the rung lengths, the survivors, the
choice — is made by :func:`lrsched_jax.core.tune.search`, the code the JAX side uses, on the
same batches (:func:`lrsched_jax.core.tune.sweep_order`, :func:`lrsched_jax.core.arena.batch_order`),
so in float64 both frameworks choose the same lr.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

from lrsched_jax.core import constant
from lrsched_jax.core.arena import Mode
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
from lrsched_torch._common import CRITERION_MODULES, cross_entropy
from lrsched_torch.arena import accuracy, compare
from lrsched_torch.finder import find_lr

__all__ = ["tune_lr"]

Stage = Callable[[str, int, int], None]


def _tensor(v: Any) -> torch.Tensor:
    return v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v))


def _sweep(
    model: Callable[[int], torch.nn.Module],
    optimizer: Callable[[Iterable[Any]], torch.optim.Optimizer],
    loss: Any,
    train: tuple[Any, Any],
    *,
    seed: int,
    batch_size: int,
    device: Any,
) -> Any:
    """The finder sweep of seed ``seed``'s model on the arena's batches of that seed."""
    x, y = _tensor(train[0]), _tensor(train[1])
    idx = torch.from_numpy(sweep_order(seed, len(x), batch_size, FINDER_STEPS).reshape(-1, batch_size))
    batches = [(x[b], y[b]) for b in idx]
    net = model(seed)
    if device is not None:
        net = net.to(device)
    return find_lr(net, optimizer(net.parameters()), batches, loss_fn=loss, device=device)


def tune_lr(
    *,
    model: Callable[[int], torch.nn.Module],
    optimizer: Callable[[Iterable[Any]], torch.optim.Optimizer],
    train: tuple[Any, Any],
    val: tuple[Any, Any],
    epochs: int,
    batch_size: int = 32,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    loss_fn: Callable[[Any, Any], torch.Tensor] | None = None,
    metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    mode: Mode = "max",
    seeds: Sequence[int] = (0,),
    schedule: Callable[[float], Schedule] = constant,
    budget: float = 3.0,
    lrs: Sequence[float] | None = None,
    device: torch.device | str | None = None,
    policy: Policy = DEFAULT_POLICY,
    progress: Stage | None = None,
) -> TuneResult:
    """Choose the peak lr for ``schedule`` by training; the torch counterpart of
    :func:`lrsched_jax.tune_lr`, with the same arguments, search and result.

    ``model(seed)`` builds the ``nn.Module``; ``optimizer(params)`` the torch optimizer (as
    :func:`lrsched_torch.compare`: the lr it is given is replaced by each member's schedule);
    ``criterion(output, y)`` (default ``F.cross_entropy``) or ``loss_fn(model, batch)`` (as
    :func:`lrsched_torch.compare` takes them); ``metric(output, y)`` (default
    accuracy); ``device``: where the models and data go. The rest: :func:`lrsched_jax.tune_lr`.
    """
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
    n = len(train[0])
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise ValueError(f"{where}: batch_size must be an int in [1, {n}], got {batch_size!r}")
    steps = n // batch_size
    check_room(where, budget, int(epochs), steps, 0 if cands is not None else FINDER_STEPS, policy)

    def probe(scheds: list[Schedule], ep: int) -> tuple[np.ndarray, np.ndarray]:
        tick = None if progress is None else (lambda d, t: progress(f"{ep} epoch(s)", d, t))
        res = compare(
            model, optimizer, train, val, {f"candidate {i}": s for i, s in enumerate(scheds)}, seed_list, ep,
            criterion=criterion, loss_fn=loss_fn, metric=metric or accuracy, batch_size=batch_size, mode=mode,
            eval_every=steps, device=device, progress=tick,
        )  # fmt: skip
        return from_compare(res, len(scheds), len(seed_list))

    sweep, used, anchor_lr = None, 0, None
    if cands is None:
        if progress is not None:
            progress("sweep", 0, 1)
        sweep = _sweep(
            model, optimizer, finder_loss, train, seed=seed_list[0], batch_size=batch_size, device=device
        )
        used = int(sweep.stop_step) + 1
        cands, anchor_lr = sweep_candidates(sweep, policy)
        if progress is not None:
            progress("sweep", 1, 1)
    result = search(
        where, framework="torch", candidates=cands, schedule=schedule, epochs=int(epochs),
        steps_per_epoch=steps, seeds=seed_list, budget=budget, mode=mode, probe=probe, sweep=sweep,
        sweep_updates=used, anchor_lr=anchor_lr, policy=policy, extend=sweep is not None,
    )  # fmt: skip
    result.wall_s = time.perf_counter() - t0
    return result
