"""lrtwin for PyTorch: the same schedules as ``lrsched_jax``, driving torch optimizers.

Every schedule factory and combinator (``lt.warmup_cosine``, ``lt.one_cycle``,
``lt.sequence``, ...), ``from_config``, ``register``, ``from_hf`` and ``from_keras`` are here
too: they are the very objects of :mod:`lrsched_jax.core` (one source), so a torch user writes
``import lrsched_torch as lt`` and never types ``lrsched_jax``.

* :class:`ScheduleLR` — a ``LambdaLR`` subclass that sets each param group's lr from an
  lrsched schedule (absolute or multiplier mode), with checkpoint-safe state.
* :func:`attach` — count-bound mode: the lr follows the optimizer's own update count
  (Optax's semantics), immune to forgotten or doubled ``scheduler.step()`` calls.
* :func:`from_torch` — a torch scheduler's curve as an lrsched schedule (for Optax);
  :func:`from_timm` the same for timm's schedulers.
* :func:`compare` — the schedule arena: (schedule, seed) members trained to one budget, a
  verdict per schedule (:mod:`lrsched_torch.arena`; the JAX side is ``lrsched_jax.compare``).
* :func:`tune_lr` — which lr? Short probes of the candidates, the survivors trained to the
  full run; the same search and result as ``lrsched_jax.tune_lr`` (:mod:`lrsched_torch.tune`).
* :func:`find_lr` — the LR range test; with a ``DistributedDataParallel`` model the ranks
  agree on every step's loss and on failures (:mod:`lrsched_torch.distributed`).

Schedules are evaluated with NumPy float64 on the host. Importing this package never
imports JAX, so a torch process starts no JAX backend and takes no accelerator memory.
"""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401  (the dependency this package adapts to)
except ModuleNotFoundError as _e:
    if _e.name != "torch":
        raise
    raise ImportError(
        "lrsched_torch needs PyTorch, which cannot be imported here. Install it with "
        '`pip install torch` (or the project\'s extra: `pip install "lrtwin[torch]"`); '
        "lrsched_jax works without it."
    ) from _e

from lrsched_jax.core import *  # noqa: F403  (the core's public names are this package's)
from lrsched_jax.core import __all__ as _core_all  # type: ignore[attr-defined]  # computed (core docstring)
from lrsched_torch.arena import compare
from lrsched_torch.convert import UnconvertedFieldWarning, from_torch
from lrsched_torch.count_bound import COUNT_KEY, AttachHandle, attach
from lrsched_torch.finder import find_lr
from lrsched_torch.schedule_lr import ScheduleLR
from lrsched_torch.timm import from_timm
from lrsched_torch.tune import tune_lr

__all__ = [
    *_core_all,
    "ScheduleLR",
    "attach",
    "AttachHandle",
    "COUNT_KEY",
    "from_torch",
    "from_timm",
    "UnconvertedFieldWarning",
    "find_lr",
    "compare",
    "tune_lr",
]


def __dir__() -> list[str]:
    return sorted(__all__)
