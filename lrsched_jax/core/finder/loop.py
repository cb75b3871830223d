"""The host loop both drivers share when batches come from an iterable (no JAX, no torch)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lrsched_jax.core.finder.data import progress_bar
from lrsched_jax.core.finder.sweep import DIVERGED, RUNNING, Tracker, ema_step, tracker_init, tracker_step
from lrsched_jax.core.validate import here

__all__ = ["HostTracker", "host_loop"]


#: float32's largest finite value, and its unit roundoff (half an ulp of 1).
_F32_MAX, _F32_U = float(np.finfo(np.float32).max), 2.0**-24
#: Below 2**-126 (float32's subnormals) results round by an absolute step, which relative
#: bounds do not cover: the shadow and the band leave losses under this floor, well above
#: that range, to the exact tracker.
_F32_TINY = 2.0**-100
#: Steps a band of :class:`HostTracker` holds for (its rounding bound grows with them).
BAND_STEPS = 1024


class HostTracker:
    """Smoothing and the stop rule of a host loop, one step at a time: the values and codes
    :func:`~lrsched_jax.core.finder.sweep.tracker_step` gives on NumPy scalars of the loss's
    precision (float64 for float64 losses, float32 for anything narrower — as the JAX
    driver's tracker), at the cost per step of a comparison, mostly.

    Three layers, each used only where it is proven to give the exact tracker's verdict:

    * a *band*: after a step decided below, the losses for which the next steps (up to
      :data:`BAND_STEPS`) are certainly running — however the EMA mixes them and however
      float32 rounds each operation (the bound is derived in docs/precision.md). A loss in
      the band is kept, and nothing else is computed.
    * a float64 *shadow* of the rule on Python floats, carrying a bound on how far it can lie
      from the exact computation (the rounding of every float32 operation, accumulated through
      the EMA's contraction; zero in float64, where the two are the same operations). It
      decides a step outside the band where its verdict is decided by more than that bound,
      after the exact smoothing has caught up with the band's steps
      (:func:`~lrsched_jax.core.finder.sweep.ema_step`, their codes being known).
    * the exact tracker, which catches up and decides where the shadow cannot (the smoothed
      loss within its bound of the stop threshold, a sign in doubt, anything non-finite or
      near float32's overflow).

    :meth:`curves` completes the smoothing of the steps the exact tracker has not taken: the
    recorded losses and smoothed losses are always the exact tracker's. Why: in a training
    loop the work between two steps' kernels costs several times what it costs alone (the
    kernels evict it from the caches); docs/benchmarks.md has the figures.
    """

    def __init__(self, float64: bool, divisors: list[float] | None, factor: float) -> None:
        self._dt = np.float64 if float64 else np.float32
        self._u = 0.0 if float64 else _F32_U
        # The band's unit: float32's, or float64's with room for the bound's own rounding.
        self._band_u = 2.0**-48 if float64 else _F32_U
        # Below it float32 rounds subnormal results by an absolute step, which the shadow's
        # relative bound does not cover (a float64 shadow is exact); the band stays above it too.
        self._tiny = 0.0 if float64 else _F32_TINY
        self._band_tiny = 2.0**-900 if float64 else _F32_TINY
        self._divs = divisors
        self._factor = factor
        self._exact = tracker_init(np, self._dt)
        self._done = 0  # steps the exact tracker has taken (all of them, or their smoothing)
        self._seen = 0  # steps the shadow has taken
        self._values: list[float] = []
        self._losses: list[Any] = []
        self._smoothed: list[Any] = []
        # Beyond it an operation on two values may overflow: the exact tracker decides.
        self._max = 1e300 if float64 else _F32_MAX / 4
        self._lo, self._hi, self._band_end = math.inf, -math.inf, 0
        self._resync()

    def advance(self, value: float) -> int:
        """Step ``k``'s loss ``value`` (a Python float) in; its stop code out."""
        if self._lo <= value <= self._hi and len(self._values) < self._band_end:
            self._values.append(value)
            return RUNNING
        k = len(self._values)
        if self._seen < k:  # the band's steps, which the shadow has not seen: the exact smoothing
            self._settle(k)
        self._lo, self._hi = math.inf, -math.inf  # a band holds only while every loss is in it
        code = self._shadow_step(value)
        self._seen = k + 1
        if code == RUNNING:
            self._band(k + 1)
        return code

    def curves(self) -> tuple[np.ndarray, np.ndarray]:
        """The exact losses (in the tracker's dtype) and smoothed losses of every step so far,
        as float64 arrays."""
        self._settle(len(self._values))
        return np.asarray(self._losses, dtype=np.float64), np.asarray(self._smoothed, dtype=np.float64)

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

    def _settle(self, until: int) -> None:
        """The exact smoothed and best losses through step ``until - 1``, for steps whose
        codes are known (every step before the current one): the smoothing alone, in the
        tracker's dtype. Their losses are finite and far from overflow (a band's, or decided
        by the shadow), so the best is a plain minimum."""
        dt, done = self._dt, self._done
        if done >= until:
            return
        tail = np.asarray(self._values[done:until], dtype=dt)
        divs = [None] * (until - done) if self._divs is None else np.asarray(self._divs[done:until], dtype=dt)
        s, best = self._exact
        for loss, div in zip(tail, divs):
            s = ema_step(s, loss, div)
            best = s if s < best else best
            self._smoothed.append(s)
        self._losses.extend(tail)
        self._exact, self._done = Tracker(s, best), until
        self._resync()

    def _shadow_step(self, value: float) -> int:
        """Step ``k``'s code from the shadow, or from the exact tracker where the shadow's
        bound cannot tell it."""
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
            and abs(value) >= self._tiny
            and abs(thr) >= self._tiny
        )  # False for NaN and inf too
        if not sure:
            return self._catch_up(k + 1)
        self._s, self._best = s, best
        return DIVERGED if s > thr else RUNNING

    def _band(self, start: int) -> None:
        """The band of steps ``start .. start + BAND_STEPS - 1``: losses in ``[lo, hi]`` keep
        every smoothed loss there at or below the stop threshold (docs/precision.md derives
        it): with ``u`` the unit roundoff and ``e`` the growth of ``BAND_STEPS`` steps' rounding,
        every smoothed loss lies below ``w = hi (1 + u)(1 + e)`` and above ``min(lo (1 - u),
        best) - e w``, and the threshold is at least ``factor (1 - u)**2`` times the latter.
        No band (every step decided) for a loss or best not above zero, near the stop, or near
        overflow. Its upper end is ``sqrt(factor)`` times the smoothed loss, at most 64."""
        top, bottom = self._s + self._err, self._best - self._err_best  # bound the exact values
        g, u = self._factor, self._band_u
        if not (0.0 < bottom and top < self._max):
            return
        e = 3.02 * u * BAND_STEPS  # >= (1 + 3.01 u)**BAND_STEPS - 1: one step's rounding, compounded
        inv = 1.0 / (g * (1.0 - u) ** 2) + e
        hi = min(top * min(math.sqrt(g), 64.0), self._max / 4, bottom / ((1.0 + u) * (1.0 + e) * inv))
        if not hi >= top:
            return
        self._lo = max(hi * (1.0 + u) * (1.0 + e) * inv * (1.0 + 4.0 * u), self._band_tiny)
        self._hi, self._band_end = hi, start + BAND_STEPS


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
