r"""Data parallel with ``torch.distributed``: how the finder and the training helpers agree
across ranks.

:func:`lrsched_torch.find_lr`, :func:`lrsched_torch.train.train_epoch` and
:func:`lrsched_torch.train.evaluate` run *synchronised* when the model is a
``DistributedDataParallel`` (over its process group) or when ``process_group=`` is given
(any group, e.g. ``torch.distributed.group.WORLD``, for models that synchronise their
gradients by other means); otherwise they are purely local, with no collective at all.

Synchronised, every rank reaches each agreement point of a step and contributes its local
values plus a failure flag (one ``all_gather`` of a few float64 numbers):

* **the same numbers on every rank** — each rank combines the gathered values itself, in
  rank order, so the global mean loss that drives the finder's smoothing and stop rule is
  bitwise identical everywhere whatever the backend's reduction order; every rank then
  stops at the same step (none is left waiting in a collective) and returns the same result;
* **clean failure** — an exception on one rank (its data, its loss function, its optimizer
  step) is caught, announced at the next agreement point, and every rank raises: the
  failing rank its own exception, the others a ``RuntimeError`` naming the rank and its
  error. The finder restores its state on every rank as it does locally. Agreement points
  sit before the model's own collectives (DDP's buffer broadcast in the forward pass, the
  gradient all-reduce in the backward pass), so a failed rank never leaves the others
  inside one. What this cannot cover is an error raised *inside* the forward or backward
  pass on one rank only, between collectives of the model itself (``SyncBatchNorm``, DDP's
  bucketed all-reduce): the other ranks then wait in that collective until the process
  group's ``timeout`` — set one (``init_process_group(..., timeout=...)``).

The global batch is the union of the ranks' batches. With equal per-rank batch sizes (as
DDP's gradient averaging assumes), the mean of the per-rank mean losses is the mean loss
of the global batch, and the run matches a single process on the same global batches up to
float rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from lrsched_jax.core.validate import here

__all__ = ["RankSync", "forward_buffers", "sync_group", "unwrap"]


def sync_group(model: Any, process_group: Any) -> Any:
    """The process group to agree over: ``process_group``; else the group of a
    ``DistributedDataParallel`` model; else ``None`` (local)."""
    if process_group is None:
        ddp = getattr(torch.nn.parallel, "DistributedDataParallel", None)
        if ddp is not None and isinstance(model, ddp):
            return model.process_group
        return None
    if not (dist.is_available() and dist.is_initialized()):
        raise ValueError(
            f"{here()}: process_group is given but torch.distributed is not initialised "
            "(call torch.distributed.init_process_group first)"
        )
    return process_group


def forward_buffers(model: Any) -> list[torch.Tensor]:
    """The buffers a ``DistributedDataParallel`` model broadcasts from rank 0 at the start of
    every forward pass (none for other models, or with ``broadcast_buffers=False``)."""
    ddp = getattr(torch.nn.parallel, "DistributedDataParallel", None)
    if ddp is None or not isinstance(model, ddp) or not model.broadcast_buffers:
        return []
    ignore = set(getattr(model, "parameters_to_ignore", ()))
    return [b for name, b in model.module.named_buffers() if name not in ignore]


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a ``DistributedDataParallel`` wrapper (for forward passes that must
    not take part in its collectives: evaluation), else ``model``."""
    ddp = getattr(torch.nn.parallel, "DistributedDataParallel", None)
    return model.module if ddp is not None and isinstance(model, ddp) else model


class RankSync:
    """Agreement points over a process group (``group=None`` on one process: local, no
    collectives; :meth:`agree` then just raises a local error or returns the values).

    :meth:`attempt` runs a local piece of work; distributed, an exception it raises is kept
    (``pending``) instead of propagating, and :meth:`check` — the next agreement point —
    announces it to every rank.
    """

    def __init__(self, group: Any, device: torch.device | None = None) -> None:
        self.where = here()
        self.group = group
        self.pending: Exception | None = None
        if group is None:
            self.rank, self.world = 0, 1
            self.device = torch.device("cpu")
            return
        self.rank = dist.get_rank(group)
        self.world = dist.get_world_size(group)
        # gloo reduces CPU tensors; NCCL (and other device backends) need them on the device.
        backend = str(dist.get_backend(group))
        on_device = device is not None and device.type != "cpu" and backend != "gloo"
        self.device = device if device is not None and on_device else torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.group is not None

    def attempt(self, fn: Callable[[], Any]) -> Any:
        """``fn()``; distributed, an exception is kept for :meth:`check` (and later work is
        skipped until then) instead of propagating — locally it propagates at once."""
        if self.group is None:
            return fn()
        if self.pending is not None:
            return None
        try:
            return fn()
        except Exception as e:
            self.pending = e
            return None

    def check(self, values: Sequence[float | None] = ()) -> np.ndarray:
        """An agreement point: :meth:`agree` with the pending error, if any."""
        return self.agree(self.pending, values)

    def broadcast_from_first(self, tensors: Sequence[torch.Tensor]) -> None:
        """Overwrite ``tensors`` in place with the group's first rank's (one broadcast per
        device and dtype) — what DDP does with the buffers before each forward pass."""
        if self.group is None or not tensors:
            return
        src = dist.get_global_rank(self.group, 0)
        by_kind: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
        for t in tensors:
            by_kind.setdefault((t.device, t.dtype), []).append(t)
        with torch.no_grad():
            for same in by_kind.values():
                flat = torch.cat([t.reshape(-1) for t in same])
                dist.broadcast(flat, src=src, group=self.group)
                for t, part in zip(same, flat.split([t.numel() for t in same])):
                    t.copy_(part.view_as(t))

    def agree(self, error: BaseException | None, values: Sequence[float | None] = ()) -> np.ndarray:
        """Every rank's ``values`` as a ``(world, len(values))`` float64 array, identical on
        every rank; if any rank passes an ``error``, every rank raises instead.

        Every rank passes the same number of values (a failing rank's are ignored: ``None``
        stands for a value it could not compute)."""
        if self.group is None:
            if error is not None:
                raise error
            return np.asarray([list(values)], dtype=np.float64).reshape(1, len(values))
        ok = error is None
        row = [0.0 if ok else 1.0, *(float(v) if ok and v is not None else 0.0 for v in values)]
        mine = torch.tensor(row, dtype=torch.float64, device=self.device)
        rows = [torch.empty_like(mine) for _ in range(self.world)]
        dist.all_gather(rows, mine, group=self.group)
        table = torch.stack(rows).cpu().numpy()
        failed = [r for r in range(self.world) if table[r, 0] != 0.0]
        if failed:
            # Everyone saw the same flags, so everyone takes part in this second collective.
            messages: list[Any] = [None] * self.world
            text = None if error is None else f"{type(error).__name__}: {error}"
            dist.all_gather_object(messages, text, group=self.group)
            if error is not None:
                raise error
            detail = "; ".join(f"rank {r}: {messages[r]}" for r in failed)
            raise RuntimeError(
                f"{self.where}: stopped on every rank because rank(s) {failed} raised — {detail}"
            )
        return table[:, 1:]

    def mean(self, table: np.ndarray) -> np.ndarray:
        """The column means of :meth:`agree`'s table, summed in rank order (deterministic)."""
        total = table[0].copy()
        for r in range(1, table.shape[0]):
            total = total + table[r]
        return total / table.shape[0]
