"""The host loop both drivers share when batches come from an iterable (no JAX, no torch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lrsched_jax.core.finder.data import progress_bar
from lrsched_jax.core.finder.sweep import DIVERGED, RUNNING, tracker_init, tracker_step
from lrsched_jax.core.validate import here

__all__ = ["HostTracker", "host_loop"]


#: float32's largest finite value, and its unit roundoff (half an ulp of 1).
_F32_MAX, _F32_U = float(np.finfo(np.float32).max), 2.0**-24


class HostTracker:
    """Smoothing and the stop rule of a host loop, one step at a time: the values and codes
    :func:`~lrsched_jax.core.finder.sweep.tracker_step` gives on NumPy scalars of the loss's
    precision (float64 for float64 losses, float32 for anything narrower — as the JAX
    driver's tracker), at the cost per step of a few Python float operations.

    Each step runs a float64 *shadow* of the rule on Python floats and carries a bound on
    how far the shadow can lie from the exact computation (the rounding of every float32
    operation, accumulated through the EMA's contraction; zero in float64, where the two are
    the same operations). Where the shadow's verdict is decided by more than that bound, it
    is the exact verdict; where it is not (the smoothed loss within the bound of the stop
    threshold, a sign in doubt, anything non-finite or near float32's overflow), the exact
    tracker catches up to the step and decides, and the shadow restarts from its state.
    :meth:`curves` lets it catch up to the end: the recorded losses and smoothed losses are
    always the exact tracker's. Why: in a training loop the NumPy scalar operations cost
    several times what they cost alone (the step's kernels evict them from the caches);
    docs/benchmarks.md has the figures.
    """

    def __init__(self, float64: bool, divisors: list[float] | None, factor: float) -> None:
        self._dt = np.float64 if float64 else np.float32
        self._u = 0.0 if float64 else _F32_U
        self._divs = divisors
        self._factor = factor
        self._exact = tracker_init(np, self._dt)
        self._done = 0  # steps the exact tracker has taken
        self._values: list[float] = []
        self._losses: list[Any] = []
        self._smoothed: list[Any] = []
        # Beyond it an operation on two values may overflow: the exact tracker decides.
        self._max = 1e300 if float64 else _F32_MAX / 4
        self._resync()

    def _resync(self) -> None:
        """The shadow from the exact state: no error to carry."""
        self._s, self._best = float(self._exact.smoothed), float(self._exact.best)
        self._err = self._err_best = 0.0

    def _catch_up(self, until: int) -> int:
        """The exact tracker through step ``until - 1``; its code at that step."""
        dt, divs, code = self._dt, self._divs, RUNNING
        with np.errstate(all="ignore"):  # a non-finite or huge loss simply stops the sweep
            for k in range(self._done, until):
                loss = dt(self._values[k])
                div = None if divs is None else dt(divs[k])
                self._exact, c = tracker_step(self._exact, loss, div, self._factor)
                self._losses.append(loss)
                self._smoothed.append(self._exact.smoothed)
                code = int(c)
        self._done = until
        self._resync()
        return code

    def advance(self, value: float) -> int:
        """Step ``k``'s loss ``value`` (a Python float) in; its stop code out."""
        k = len(self._values)
        self._values.append(value)
        u, p = self._u, self._s
        d = None if self._divs is None else self._divs[k]
        s = value if d is None else p + (value - p) / d
        # The exact value's distance from the shadow: the EMA contracts the carried error by
        # 1 - 1/d; each step adds the rounding of the loss, the divisor and three operations.
        if d is None:
            self._err = u * abs(value)
        else:
            self._err = (1 - 1 / d) * self._err + 8 * u * (abs(value) + abs(p) + abs(s))
        best = s if s < self._best else self._best
        self._err_best = max(self._err_best, self._err)
        g = self._factor if best >= 0 else 2.0 - self._factor
        thr = best * g
        margin = self._err + abs(g) * self._err_best * (1 + 4 * u) + 4 * u * abs(thr)
        sure = (
            abs(value) < self._max
            and abs(p) < self._max
            and abs(s) + self._err < self._max
            and abs(thr) < self._max
            and abs(best) > self._err_best
            and abs(s - thr) > margin
        )  # False for NaN and inf too
        if not sure:
            return self._catch_up(k + 1)
        self._s, self._best = s, best
        return DIVERGED if s > thr else RUNNING

    def curves(self) -> tuple[np.ndarray, np.ndarray]:
        """The exact losses (in the tracker's dtype) and smoothed losses of every step so far,
        as float64 arrays."""
        self._catch_up(len(self._values))
        return np.asarray(self._losses, dtype=np.float64), np.asarray(self._smoothed, dtype=np.float64)


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
