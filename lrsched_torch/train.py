"""Small training helpers for plain torch, the counterpart of :mod:`lrsched_jax.train`.

* :func:`train_epoch` — one epoch of updates, stepping a scheduler per batch, returning the
  loss and the lr each update applied;
* :func:`evaluate` — mean loss and accuracy;
* :func:`batches` — the same shuffled, drop-the-remainder batching the JAX helper uses.

They run on the device of the model's parameters (pass ``device=`` to move batches there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["batches", "evaluate", "train_epoch"]

Batch = tuple[torch.Tensor, torch.Tensor]


def batches(n: int, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices of ``n // batch_size`` full batches, shape ``(steps, batch_size)``; shuffled
    with ``generator`` if given. The remainder is dropped, as in :func:`lrsched_jax.train.batches`."""
    if batch_size < 1 or batch_size > n:
        raise ValueError(f"batch_size must be in [1, {n}], got {batch_size}")
    order = torch.arange(n) if generator is None else torch.randperm(n, generator=generator)
    steps = n // batch_size
    return order[: steps * batch_size].reshape(steps, batch_size)


def _iterate(data: Batch | Iterable[Batch], batch_size: int | None, generator: torch.Generator | None):
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        x, y = data
        if batch_size is None:
            raise ValueError("batch_size is required when data is an (x, y) pair of tensors")
        for idx in batches(len(x), batch_size, generator):
            yield x[idx], y[idx]
    else:
        yield from data


def train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Batch | Iterable[Batch],
    *,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    scheduler: Any = None,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch: for each batch, ``zero_grad → loss → backward → optimizer.step()`` then
    ``scheduler.step()`` (per batch, if given).

    ``data`` is an ``(x, y)`` pair of tensors (batched with ``batch_size``, shuffled with
    ``generator``, remainder dropped) or any iterable of ``(x, y)`` batches (a DataLoader).
    Returns the per-step losses (before each update) and the lr of the first param group
    that each update applied.

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
    model.train()
    losses: list[float] = []
    applied: list[float] = []
    for xb, yb in _iterate(data, batch_size, generator):
        if device is not None:
            xb, yb = xb.to(device), yb.to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        applied.append(float(optimizer.param_groups[0]["lr"]))
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
    return np.asarray(losses), np.asarray(applied)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    data: Batch | Iterable[Batch],
    *,
    batch_size: int | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """``{"loss": ..., "accuracy": ...}`` over ``data`` (an ``(x, y)`` pair — all at once when
    ``batch_size`` is None — or an iterable of batches); accuracy for class logits."""
    was_training = model.training
    model.eval()
    total, loss_sum, correct = 0, 0.0, 0.0
    if isinstance(data, tuple) and batch_size is None:
        data = [data]  # type: ignore[list-item]
    for xb, yb in _iterate(data, batch_size, None):
        if device is not None:
            xb, yb = xb.to(device), yb.to(device)
        out = model(xb)
        n = len(yb)
        loss_sum += float(loss_fn(out, yb)) * n
        if out.ndim == 2:
            correct += float((out.argmax(dim=1) == yb).sum())
        total += n
    model.train(was_training)
    return {"loss": loss_sum / total, "accuracy": correct / total}
