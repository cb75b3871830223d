"""Which lr? :func:`tune_lr` in torch: the candidates of :func:`lrsched_jax.tune_lr`, each rung
trained by :func:`lrsched_torch.compare` (one ``torch.func`` loop over candidates × seeds).

Every decision — the candidates read off the sweep, the rung lengths, the survivors, the
choice — is made by :func:`lrsched_jax.core.tune.search`, the code the JAX side uses, on the
same batches (:func:`lrsched_jax.core.tune.sweep_order`, :func:`lrsched_jax.core.arena.batch_order`),
so in float64 both frameworks choose the same lr.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

from lrsched_jax.core import constant
from lrsched_jax.core.arena import Mode
from lrsched_jax.core.losses import resolve_loss
from lrsched_jax.core.schedule import Schedule
from lrsched_jax.core.tune import DEFAULT_POLICY, Policy, TuneResult, run_tuner, sweep_rows
from lrsched_jax.core.validate import place
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
    idx = torch.from_numpy(sweep_rows(seed, len(x), batch_size).reshape(-1, batch_size))
    batches = [(x[b], y[b]) for b in idx]
    net = model(seed)
    if device is not None:
        net = net.to(device)
    return find_lr(net, optimizer(net.parameters()), batches, loss_fn=loss, device=device)


@place("tune_lr")
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
    finder_loss = resolve_loss(criterion, loss_fn, cross_entropy, CRITERION_MODULES)

    def train_rung(named: dict[str, Schedule], ep: int, seed_list: list[int], steps: int, tick: Any) -> Any:
        return compare(
            model, optimizer, train, val, named, seed_list, ep,
            criterion=criterion, loss_fn=loss_fn, metric=metric or accuracy, batch_size=batch_size, mode=mode,
            eval_every=steps, device=device, progress=tick,
        )  # fmt: skip

    def sweep(seed: int) -> Any:
        return _sweep(model, optimizer, finder_loss, train, seed=seed, batch_size=batch_size, device=device)

    return run_tuner(
        "torch", lrs=lrs, schedule=schedule, epochs=epochs, n_train=len(train[0]),
        batch_size=batch_size, seeds=seeds, budget=budget, mode=mode, metric=metric, policy=policy,
        progress=progress, train=train_rung, sweep=sweep,
    )  # fmt: skip
