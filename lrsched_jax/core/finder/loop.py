"""The host loop both drivers share when batches come from an iterable (no JAX, no torch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lrsched_jax.core.finder.data import progress_bar
from lrsched_jax.core.finder.sweep import RUNNING, Tracker, tracker_init, tracker_step
from lrsched_jax.core.validate import here

__all__ = ["host_loop", "numpy_advance", "numpy_tracker"]


def numpy_tracker(float64: bool) -> Tracker:
    """The NumPy tracker before step 0, in the loss's precision: float64 for float64 losses,
    float32 for anything narrower (as the JAX driver's tracker)."""
    return tracker_init(np, np.float64 if float64 else np.float32)


def numpy_advance(
    tracker: Tracker, value: float, divisor: float | None, factor: float
) -> tuple[Tracker, Any, int]:
    """Smoothing and the stop rule for one step's loss ``value`` (a Python float) in the
    tracker's dtype — what the JAX driver does after its training step: ``(tracker, loss, code)``."""
    dt = tracker.smoothed.dtype.type
    loss = dt(value)
    tracker, code = tracker_step(tracker, loss, None if divisor is None else dt(divisor), factor)
    return tracker, loss, int(code)


def host_loop(
    num_iter: int,
    step: Callable[[int], Any],
    read: Callable[[Any], int],
    progress: bool,
    lag: int = 0,
) -> tuple[int, int]:
    """Run ``step(k)`` for ``k = 0, 1, ...`` until a step's stop code is not ``RUNNING`` or the
    steps run out; returns ``(stop_step, code)``.

    ``step(k)`` trains step ``k`` and returns its code (any handle ``read`` turns into an
    int). With ``lag=1`` step ``k`` is started before step ``k-1``'s code is read — the JAX
    driver's one step in flight, so the device never waits for the host; a step started past
    the stop is then dropped by the caller (``stop_step`` says which steps count). With
    ``lag=0`` (torch) each code is read as soon as its step returns.
    """
    codes: list[Any] = []
    stop = num_iter - 1
    bar = progress_bar(progress, num_iter, here())
    try:
        for k in range(num_iter):
            codes.append(step(k))
            j = k - lag
            if j >= 0 and read(codes[j]) != RUNNING:
                stop = j
                break
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return stop, read(codes[stop])
