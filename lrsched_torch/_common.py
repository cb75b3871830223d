"""Shared pieces of the torch adapters: argument checks and the chunked float64 curve.

Nothing here imports JAX: schedules are evaluated on NumPy int64 steps, which the
``lrsched_jax`` schedules compute in NumPy float64 on the host.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lrsched_jax.core import Schedule, from_config

__all__ = [
    "MODES",
    "CHUNK",
    "Curve",
    "check_optimizer",
    "check_mode",
    "group_schedules",
    "to_json",
    "from_json",
]

#: The two ways a schedule can drive a param group's lr.
MODES = ("absolute", "multiplier")

#: Steps evaluated ahead in one vectorised call (one NumPy evaluation per group per chunk).
CHUNK = 4096

_INT64_MAX = int(np.iinfo(np.int64).max)


def check_optimizer(where: str, optimizer: Any) -> torch.optim.Optimizer:
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"{where}: optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if not optimizer.param_groups:
        raise ValueError(f"{where}: optimizer has no param groups")
    return optimizer


def check_mode(where: str, mode: Any) -> str:
    if mode not in MODES:
        raise ValueError(f"{where}: mode must be 'absolute' or 'multiplier', got {mode!r}")
    return str(mode)


def group_schedules(where: str, schedule: Any, n_groups: int) -> tuple[Schedule, ...]:
    """One schedule per param group: ``schedule`` repeated, or a list/tuple of ``n_groups``."""
    if isinstance(schedule, Schedule):
        return (schedule,) * n_groups
    if isinstance(schedule, (list, tuple)):
        if len(schedule) != n_groups:
            raise ValueError(
                f"{where}: schedule has {len(schedule)} entries but the optimizer has {n_groups} "
                "param group(s); pass one schedule for all groups or exactly one per group"
            )
        for i, s in enumerate(schedule):
            if not isinstance(s, Schedule):
                raise TypeError(
                    f"{where}: schedule[{i}] must be an lrsched_jax schedule, got {type(s).__name__}"
                )
        return tuple(schedule)
    hint = ""
    if callable(schedule):
        hint = " (write the function as an lrsched schedule, or use torch's LambdaLR)"
    raise TypeError(
        f"{where}: schedule must be an lrsched_jax schedule or a list/tuple of them (one per param group), "
        f"got {type(schedule).__name__}{hint}"
    )


def as_float(where: str, name: str, value: Any) -> float:
    """A torch lr (Python number or one-element tensor) as a Python float."""
    if type(value) is float:
        return value
    if isinstance(value, torch.Tensor):
        return float(value.item())
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a number, got {value!r}")
    return float(value)


def to_json(schedule: Schedule) -> str:
    """A schedule's config as a canonical JSON string (floats round-trip exactly)."""
    return json.dumps(schedule.to_config(), sort_keys=True, allow_nan=False)


def from_json(text: str) -> Schedule:
    return from_config(json.loads(text))


class Curve:
    """The float64 values of one schedule per group, served from chunks evaluated ahead.

    ``row(k)`` is a new list ``[scales[i] * schedules[i](k) for each group]`` of Python
    floats. Integer steps come from a chunk of ``CHUNK`` consecutive steps evaluated in one
    vectorised NumPy call per group and kept as one flat list per group (``cols``; refilled,
    starting at ``k``, whenever ``k`` leaves the chunk — also backwards, after a resume);
    other steps (fractional epochs) are evaluated one at a time. The values are exactly
    the schedule's float64 values (times ``scales``: one IEEE multiplication, the same as
    multiplying the scalar).
    """

    __slots__ = ("cols", "scales", "schedules", "size", "start")

    def __init__(self, schedules: Sequence[Schedule], scales: Sequence[float] | None = None) -> None:
        self.schedules = tuple(schedules)
        self.scales = None if scales is None else tuple(float(s) for s in scales)
        self.start = 0
        self.cols: list[list[float]] = [[] for _ in self.schedules]
        self.size = 0

    def index(self, k: Any) -> int:
        """The position of integer step ``k`` in ``cols`` (refilling if needed), or -1 for a
        step that is not an integer."""
        if type(k) is not int:
            if isinstance(k, (numbers.Integral, np.integer)) and not isinstance(k, bool):
                k = int(k)
            else:
                return -1
        j = k - self.start
        if 0 <= j < self.size:
            return j
        self._fill(k)
        return k - self.start

    def row(self, k: Any) -> list[float]:
        j = self.index(k)
        if j < 0:
            return self._single(k)
        return [c[j] for c in self.cols]

    def _fill(self, k: int) -> None:
        start = max(k, 0)
        stop = min(start + CHUNK, _INT64_MAX)
        steps = np.arange(start, stop, dtype=np.int64)
        cols = [np.asarray(s(steps), dtype=np.float64) for s in self.schedules]
        if self.scales is not None:
            cols = [c * f for c, f in zip(cols, self.scales)]
        if k < 0:
            # Negative steps count as step 0 (the schedules clip them); keep index arithmetic.
            cols = [np.concatenate([np.full(-k, c[0]), c]) for c in cols]
            start = k
        self.cols = [c.tolist() for c in cols]
        self.start = start
        self.size = len(self.cols[0])

    def _single(self, k: Any) -> list[float]:
        if isinstance(k, torch.Tensor):
            k = k.item()
        if isinstance(k, bool) or not isinstance(k, (numbers.Real, np.floating)):
            raise TypeError(f"the step (last_epoch) must be a number, got {k!r}")
        t = np.float64(k)
        vals = [float(s(t)) for s in self.schedules]
        if self.scales is not None:
            vals = [v * f for v, f in zip(vals, self.scales)]
        return vals
