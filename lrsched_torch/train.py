"""Small training helpers for plain torch, the counterpart of :mod:`lrsched_jax.train`.

* :func:`train_epoch` — one epoch of updates, stepping a scheduler per batch, returning the
  loss and the lr each update applied;
* :func:`evaluate` — mean loss and accuracy;
* :func:`batches` — the same shuffled, drop-the-remainder batching the JAX helper uses.

They run on the device of the model's parameters (pass ``device=`` to move batches there).

**Data parallel** (``torch.distributed``): with a ``DistributedDataParallel`` model (or
``process_group=``), call them on every rank. An ``(x, y)`` pair of tensors is then the
*whole* data set on every rank, with the same ``generator`` seed everywhere: ``batch_size``
is the global batch, split into equal contiguous shares, one per rank — the same global
batches as one process with that ``batch_size`` (``ValueError`` naming ``batch_size`` when
it does not split evenly). An iterable is each rank's own share of every batch (a
``DataLoader`` with a ``DistributedSampler``); every rank must yield the same number of
batches. The returned losses and metrics are global (means over the ranks, combined in rank
order: identical on every rank), and an exception on one rank makes every rank raise
instead of leaving the others inside a collective (:mod:`lrsched_torch.distributed`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

import numpy as np
import torch

from lrsched_jax.core.losses import CriterionLoss, resolve_loss
from lrsched_jax.core.validate import here, place
from lrsched_torch._common import CRITERION_MODULES, cross_entropy
from lrsched_torch.distributed import RankSync, sync_group, unwrap

__all__ = ["batches", "evaluate", "train_epoch", "train_step"]

Batch = tuple[torch.Tensor, torch.Tensor]
Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LossFn = Callable[[torch.nn.Module, Any], torch.Tensor]


def _loss(criterion: Any, loss_fn: Any) -> LossFn:
    """The ``(model, batch)`` loss of ``criterion=`` / ``loss_fn=`` (default: cross-entropy)."""
    return resolve_loss(criterion, loss_fn, cross_entropy, CRITERION_MODULES)


def _check_batch_size(batch_size: Any) -> int | None:
    """``batch_size`` as an int >= 1 (or None): ``TypeError`` for a bool, a float or any other
    non-integer (``2.5`` would otherwise fail inside slicing, ``True`` pass as 1)."""
    if batch_size is None:
        return None
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"{here()}: batch_size must be an int or None, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"{here()}: batch_size must be >= 1, got {batch_size!r}")
    return int(batch_size)


@place("batches")
def batches(n: int, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices of ``n // batch_size`` full batches, shape ``(steps, batch_size)``; shuffled
    with ``generator`` if given. The remainder is dropped, as in :func:`lrsched_jax.train.batches`.

    ``batch_size`` must be an int in ``[1, n]`` (``TypeError``/``ValueError`` naming it)."""
    return _indices(n, batch_size, generator)


def _indices(n: int, batch_size: Any, generator: torch.Generator | None) -> torch.Tensor:
    if _check_batch_size(batch_size) is None:
        raise TypeError(f"{here()}: batch_size must be an int, got None")
    if batch_size > n:
        raise ValueError(
            f"{here()}: batch_size must be in [1, {n}] (the number of samples), got {batch_size}"
        )
    order = torch.arange(n) if generator is None else torch.randperm(n, generator=generator)
    steps = n // batch_size
    return order[: steps * batch_size].reshape(steps, batch_size)


def _is_pair(data: Any) -> bool:
    return isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor)


def _iterate(
    data: Batch | Iterable[Batch],
    batch_size: int | None,
    generator: torch.Generator | None,
    sync: RankSync | None = None,
) -> Iterator[Batch]:
    if _is_pair(data):
        x, y = data
        if batch_size is None:
            raise ValueError(f"{here()}: batch_size is required when data is an (x, y) pair of tensors")
        if sync is None or not sync.distributed:
            for idx in _indices(len(x), batch_size, generator):
                yield x[idx], y[idx]
            return
        # The global batch's contiguous share of this rank (checked to split evenly).
        share = batch_size // sync.world
        lo = sync.rank * share
        for idx in _indices(len(x), batch_size, generator):
            mine = idx[lo : lo + share]
            yield x[mine], y[mine]
    else:
        yield from cast(Iterable[Batch], data)


def _check_split(sync: RankSync, data: Any, batch_size: int | None) -> None:
    if sync.distributed and _is_pair(data) and batch_size is not None and batch_size % sync.world:
        raise ValueError(
            f"{here()}: batch_size: a global batch of {batch_size} samples does not split evenly over "
            f"the {sync.world} ranks; use a multiple of {sync.world}"
        )


_END = object()


def _update(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_of: LossFn, batch: Batch, scheduler: Any
) -> tuple[torch.Tensor, float]:
    """``zero_grad → loss → backward → optimizer.step() → scheduler.step()``: the loss before
    the update and the first param group's lr that the update applied."""
    optimizer.zero_grad(set_to_none=True)
    loss = loss_of(model, batch)
    loss.backward()
    lr = float(optimizer.param_groups[0]["lr"])
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return loss.detach(), lr


@place("train_step")
def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    criterion: Criterion | None = None,
    loss_fn: LossFn | None = None,
    scheduler: Any = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, float]:
    """One update on the batch ``(x, y)`` (the counterpart of :func:`lrsched_jax.train.train_step`):
    ``zero_grad → loss → backward → optimizer.step()``, then ``scheduler.step()`` if given.
    Returns ``(loss before the update, lr applied)``: the loss a detached 0-dim tensor (no
    host sync), the lr the first param group's. The loss: ``criterion(model(x), y)`` (default
    ``F.cross_entropy``) or ``loss_fn(model, (x, y))``, exactly one.

    >>> import torch
    >>> from lrsched_torch.train import train_step
    >>> model = torch.nn.Linear(4, 3)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> loss, lr = train_step(model, opt, torch.randn(8, 4), torch.randint(0, 3, (8,)))
    >>> loss.shape, lr
    (torch.Size([]), 0.1)
    """
    loss_of = _loss(criterion, loss_fn)
    if device is not None:
        x, y = x.to(device), y.to(device)
    model.train()
    return _update(model, optimizer, loss_of, (x, y), scheduler)


@place("train_epoch")
def train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Batch | Iterable[Batch],
    *,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
    criterion: Criterion | None = None,
    loss_fn: LossFn | None = None,
    scheduler: Any = None,
    device: torch.device | str | None = None,
    process_group: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch: for each batch, ``zero_grad → loss → backward → optimizer.step()`` then
    ``scheduler.step()`` (per batch, if given).

    ``data`` is an ``(x, y)`` pair of tensors (batched with ``batch_size``, shuffled with
    ``generator``, remainder dropped) or any iterable of ``(x, y)`` batches (a DataLoader).
    Returns the per-step losses (before each update) and the lr of the first param group
    that each update applied. The loss: ``criterion(model(x), y)`` (default
    ``F.cross_entropy``) or ``loss_fn(model, (x, y))`` — exactly one (``TypeError`` for both;
    ``loss_fn`` was a criterion before this release: a ``torch`` criterion given as
    ``loss_fn`` is refused with a ``TypeError`` saying to pass it as ``criterion``).

    Data parallel (a DDP model, or ``process_group``; see the module docstring): the losses
    are the global batch's (the mean over the ranks of each rank's loss) and ``scheduler``
    steps identically on every rank.

    >>> import torch, lrsched_jax as lrs
    >>> from lrsched_torch import ScheduleLR
    >>> from lrsched_torch.train import train_epoch
    >>> model = torch.nn.Linear(4, 3)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> sched = ScheduleLR(opt, lrs.linear(0.1, 0.0, total_steps=4))
    >>> x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    >>> losses, lrs_applied = train_epoch(model, opt, (x, y), batch_size=2, scheduler=sched)
    >>> lrs_applied.round(3).tolist()
    [0.1, 0.075, 0.05, 0.025]
    """
    loss_of = _loss(criterion, loss_fn)
    batch_size = _check_batch_size(batch_size)
    dev = None if device is None else torch.device(device)
    sync = RankSync(sync_group(model, process_group), dev)
    _check_split(sync, data, batch_size)
    model.train()
    losses: list[float] = []
    applied: list[float] = []
    it = iter(_iterate(data, batch_size, generator, sync))
    if not sync.distributed:
        for xb, yb in it:
            if dev is not None:
                xb, yb = xb.to(dev), yb.to(dev)
            loss, lr = _update(model, optimizer, loss_of, (xb, yb), scheduler)
            applied.append(lr)
            losses.append(loss.item())
        return np.asarray(losses), np.asarray(applied)

    # Distributed: agreement points (sync.check) before the model's collectives — after the
    # batch is fetched (also: has every rank one more batch?) and after the loss — so that
    # an error on one rank, or one rank running out of batches early, stops every rank.
    def fetch() -> Any:
        batch: Any = next(it, _END)
        if batch is _END:
            return batch
        xb, yb = batch
        return (xb.to(dev), yb.to(dev)) if dev is not None else (xb, yb)

    def update() -> None:
        optimizer.step()
        if scheduler is not None:
            scheduler.step()

    while True:
        batch = sync.attempt(fetch)
        ended = sync.check([1.0 if batch is _END else 0.0])[:, 0]
        if ended.all():
            break
        if ended.any():
            raise ValueError(
                f"{here()}: data: rank(s) {np.flatnonzero(ended).tolist()} ran out of batches after "
                f"{len(losses)} step(s) while the others had more; give every rank the same number of "
                "batches (a DistributedSampler does)"
            )

        def forward(batch: Any = batch) -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            return loss_of(model, batch)

        loss = sync.attempt(forward)
        mine = None if loss is None else loss.detach().double().item()
        losses.append(float(sync.mean(sync.check([mine]))[0]))
        loss.backward()
        applied.append(float(optimizer.param_groups[0]["lr"]))
        sync.attempt(update)
    return np.asarray(losses), np.asarray(applied)


@torch.no_grad()
@place("evaluate")
def evaluate(
    model: torch.nn.Module,
    data: Batch | Iterable[Batch],
    *,
    batch_size: int | None = None,
    criterion: Criterion | None = None,
    loss_fn: LossFn | None = None,
    metric: Criterion | None = None,
    device: torch.device | str | None = None,
    process_group: Any = None,
) -> dict[str, float]:
    """``{"loss": ..., "accuracy": ...}`` over ``data`` (an ``(x, y)`` pair — all at once when
    ``batch_size`` is None — or an iterable of batches); accuracy for class logits. The loss is
    the sample-weighted mean of the per-batch losses: ``criterion(model(x), y)`` (default
    ``F.cross_entropy``) or ``loss_fn(model, (x, y))``, exactly one. ``metric(output, y)``
    replaces the accuracy (the result is then ``{"loss": ..., "metric": ...}``), weighted the
    same way. ``ValueError`` naming ``data`` when it holds no sample (over all ranks).

    Data parallel (a DDP model, or ``process_group``): an ``(x, y)`` pair is split into one
    contiguous share of the samples per rank (any number of samples); an iterable is each
    rank's own share. The metrics are over all ranks' samples, identical on every rank. A DDP
    model is evaluated through its inner module (same parameters on every rank), so ranks
    with different numbers of batches never meet inside DDP's collectives.
    """
    loss_of = _loss(criterion, loss_fn)
    if metric is not None and not callable(metric):
        raise TypeError(f"{here()}: metric must be callable, got {type(metric).__name__}")
    name = "accuracy" if metric is None else "metric"
    batch_size = _check_batch_size(batch_size)
    sync = RankSync(sync_group(model, process_group), None if device is None else torch.device(device))
    net = unwrap(model) if sync.distributed else model
    if sync.distributed and _is_pair(data):
        x, y = cast(Batch, data)
        share = torch.tensor_split(torch.arange(len(x)), sync.world)[sync.rank]
        data = (x[share], y[share])

    def local() -> tuple[float, float, int]:
        total, loss_sum, correct = 0, 0.0, 0.0
        batches_ = [data] if isinstance(data, tuple) and batch_size is None else data
        for xb, yb in _iterate(batches_, batch_size, None):
            if device is not None:
                xb, yb = xb.to(device), yb.to(device)
            n = len(yb)
            out = net(xb)
            # A criterion reads the one forward pass; a loss_fn makes its own.
            loss = (
                loss_of.criterion(out, yb) if isinstance(loss_of, CriterionLoss) else loss_of(net, (xb, yb))
            )
            loss_sum += float(loss) * n
            if metric is not None:
                correct += float(metric(out, yb)) * n
            elif out.ndim == 2:
                correct += float((out.argmax(dim=1) == yb).sum())  # a count: exact
            total += n
        return loss_sum, correct, total

    was_training = net.training
    net.eval()
    try:
        sums = sync.attempt(local)
    finally:
        net.train(was_training)
    if sync.distributed:
        # Sums over the ranks' samples, in rank order (the same numbers on every rank).
        table = sync.check(sums if sums is not None else (None, None, None))
        loss_sum, correct, total = (float(np.sum(table[:, j])) for j in range(3))
    else:
        loss_sum, correct, total = sums
    if total == 0:
        raise ValueError(f"{here()}: data has no samples (no batch, or only empty ones); nothing to evaluate")
    return {"loss": loss_sum / total, name: correct / total}
