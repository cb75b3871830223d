"""lrsched for PyTorch: the same schedules as ``lrsched_jax``, driving torch optimizers.

* :class:`ScheduleLR` — a ``LambdaLR`` subclass that sets each param group's lr from an
  lrsched schedule (absolute or multiplier mode), with checkpoint-safe state.
* :func:`attach` — count-bound mode: the lr follows the optimizer's own update count
  (Optax's semantics), immune to forgotten or doubled ``scheduler.step()`` calls.
* :func:`from_torch` — a torch scheduler's curve as an lrsched schedule (for Optax).
* :func:`find_lr` — the LR range test; with a ``DistributedDataParallel`` model the ranks
  agree on every step's loss and on failures (:mod:`lrsched_torch.distributed`).

Schedules are evaluated with NumPy float64 on the host. Importing this package never
imports JAX, so a torch process starts no JAX backend and takes no accelerator memory.
"""

from __future__ import annotations

from lrsched_torch.convert import from_torch
from lrsched_torch.count_bound import COUNT_KEY, AttachHandle, attach
from lrsched_torch.finder import find_lr
from lrsched_torch.schedule_lr import ScheduleLR

__all__ = ["ScheduleLR", "attach", "AttachHandle", "COUNT_KEY", "from_torch", "find_lr"]
