r"""The LR finder's shared logic, written once in the array-namespace style.

Everything here computes with the namespace of its array arguments (NumPy on the host,
``jax.numpy`` inside ``jit``) and never branches in Python on array values, so the torch
driver (NumPy, per step on the host) and the JAX driver (traced, inside its jitted
while-loop) run *the same code* — with three host shortcuts, each held bitwise equal to the
traced form by ``parity_tests/jax_glue/test_finder_core_jitted.py``: the tracker's minimum
and stop code on NumPy scalars (comparisons instead of ufuncs) and the valley's run lengths
(patience sorting instead of the ``O(n**2)`` loop). Nothing here imports JAX at module level; the two loop
helpers (:func:`lrsched_jax.core.xp.fori_loop`, :func:`~lrsched_jax.core.xp.put`) reach for
``jax.lax`` / ``.at[]`` only when they are handed JAX values, i.e. only in a process that already uses JAX.

**Bitwise agreement between NumPy and XLA.** XLA fuses a multiply feeding an add into one
fused multiply-add (measured on CPU: about a quarter of ``a*b + c*d`` results differ from
NumPy's in the last bit), which would let the NumPy and the jitted evaluations of an EMA
drift apart. So no formula here lets a product feed an addition:

* the smoothing divides: ``s_k = s_{k-1} + (x_k - s_{k-1}) / c_k`` with the bias-correction
  divisors ``c_k = 1 + beta + ... + beta**k`` computed once on the host in float64
  (:func:`ema_divisors`) and handed to both frameworks as data;
* the stop threshold is a product compared, never added;
* the suggestion rules use differences, one division and comparisons, and return
  *indices*; the final ``lr / 10`` happens on the host (:func:`rule_values`).

Subtraction, division, comparison, ``min`` and ``argmin`` are exactly rounded (or exact) in
both, so NumPy and jitted JAX agree bit for bit, in float32 and in float64 — for losses
that are normal numbers: XLA on CPU flushes subnormals (below ~1e-38 in float32) to zero.

**The smoothing** is the bias-corrected exponential moving average of fastai
(``avg_k = beta*avg_{k-1} + (1-beta)*x_k``, ``s_k = avg_k / (1 - beta**(k+1))``), written in
its equivalent incremental form (``1/c_k = (1-beta)/(1-beta**(k+1))``). ``c_0 = 1``, so the
first smoothed value *is* the first loss; ``beta = 0`` means no smoothing at all:
``s_k = x_k`` exactly (not ``s + (x - s)``, which can differ in the last bits).

**The stop rule** at step ``k`` (after the loss of step ``k`` is known): ``best`` is the
minimum smoothed loss of steps ``0..k`` and the sweep stops when

* the smoothed loss is not finite (every non-finite raw loss makes it so): reason
  ``"non-finite"``, or
* ``s_k > best + (factor - 1) * |best|``: reason ``"diverged"``, computed as
  ``s_k > best * (factor if best >= 0 else 2 - factor)``.

For positive losses this is *exactly* torch-lr-finder's and the article's ``s_k > factor *
best`` (the same single product). A multiplicative threshold breaks for negative losses
(log-likelihoods, ELBOs, some contrastive losses): with ``best = -1`` and ``factor = 4``,
``4 * best = -4`` lies *below* the best, so the first step that is not a new best would
stop the sweep. The margin form keeps the meaning "the loss rose by ``factor - 1`` times
the size of the best loss" on both sides of zero, is continuous at ``best = 0`` and is
scale invariant (multiplying every loss by ``c > 0`` changes no decision). It is not shift
invariant — no threshold relative to ``best`` can be — so for a loss that hovers around
zero, add a constant to it before running the finder.

A new best never stops the sweep (``s > best*m`` is false for ``s = best`` of either sign).

**Suggestion rules** (each sees the ``count`` valid points: the steps up to the stop,
without a final non-finite one; :func:`valid_count`):

* ``"steepest"`` — the lr where the smoothed loss falls fastest against ``log(lr)``:
  ``argmin`` over the window of ``(s[i+1] - s[i-1]) / (x[i+1] - x[i-1])`` (``x = log lr``;
  one-sided at the ends of the valid points), the window being the valid points without
  the first ``skip_start`` and the last ``skip_end`` (noisy start, diverging end).
* ``"halfway"`` — the lr where the smoothed loss has first made half of its descent: with
  ``m`` the window's smallest smoothed loss (first index ``j``) and ``top`` the largest
  smoothed loss of the window up to ``j``, the first window index ``i <= j`` with
  ``s[i] - m <= (top - m) / 2``. It reads the curve where it falls steeply, so the noise of
  a sweep moves it least (the suggestion benchmark: max/min ≤ 2.1× over 10 data shuffles,
  against 5.3× for ``minimum`` and 13.5× for ``valley``).
* ``"valley"`` — fastai's rule: the longest strictly decreasing run (subsequence) of the
  smoothed losses in the window; the lr halfway along it (``start + d//3 + d//6`` with
  ``d`` its length, exactly fastai's arithmetic, clipped to the window).
* ``"minimum"`` — the lr of the smallest smoothed loss in the window, divided by 10.
* ``"article"`` — the article's rule: ``lr[argmin(np.gradient(raw losses))] / 10`` over
  every valid point, on the raw (unsmoothed) losses, with ``np.gradient``'s differences
  (central inside, one-sided at the two ends).
* ``"slide"`` — fastai's interval-slide rule: ``g = np.gradient`` of the window's smoothed
  losses (unit spacing); walking back from the window's end, the first ``r`` with
  ``|g[r] - g[r - 15]| <= 0.005`` (the curve's slope no longer changing: the flat part before
  the rise), the lr at ``min(r + 1, last) - 15``; the window's first point when no ``r``
  qualifies; needs more than 15 window points (fastai's ``lr_diff=15, thresh=0.005``).

**No suggestion at or past the minimum** (:func:`capped_values`): a rule's lr must lie below
the lr where the smoothed loss reached its minimum (over the valid points without the first
``skip_start``, whose noise the rules skip too) — beyond it the loss is already rising,
training there diverges. A rule whose own candidate is not below
gets ``lr_at_minimum / 10`` instead, and the result carries a note saying so.

**No suggestion when the loss never fell** (:func:`descent`): on a flat or pure-noise
curve every rule still finds *some* index (the noise's lowest point), so the rules are only
read when the raw losses in their window fell by more than their noise. For a block length
``L`` the window's ``W`` raw losses give the means of every ``L`` consecutive losses; the
loss *fell* at that scale when the lowest such mean after the first one lies below the first
one (the window's start) by more than :data:`DESCENT_NOISE` ``= 5.5`` noise units
``sigma * sqrt(2 / L)`` (the standard deviation of a difference of two ``L``-point means),
``sigma`` being the standard deviation of the raw losses' first differences divided by
``sqrt(2)`` — over the steps from 0 to the end of that lowest block, so the divergence after
it does not count as noise, and first differences cancel the descent's own slope. Two
scales, ``L = ceil(W / 4)`` (power: long noisy descents) and ``L = ceil(W / 12)`` (a short
descent right at the window's start, which a quarter-window block would average away); the
loss fell when it fell at either. Raw block means, not the smoothed curve: the EMA lags
(with ``smooth=0.98`` a short descent cut off by the divergence barely shows in it) and its
noise depends on ``smooth``; block means make the test independent of the smoothing.
Calibration (``W`` from 3 to 985; Gaussian, Student-t(3), uniform and
log-normal noise; 14,800 pure-noise sweeps): the statistic's largest value on noise was 5.1
(99.99 % quantile 4.9); on the 168 recorded sweeps of the suggestion benchmark
(``benchmarks/results.json``, seven tasks, the noisiest a minibatch MSE whose smoothed curve
falls by less than one raw-loss standard deviation) the smallest was 6.5 — none of their
suggestions changes. When the loss never fell every rule's suggestion is ``None`` and the
result carries a note saying so, with the numbers.

Ties go to the first (smallest) index in every rule, in both namespaces.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from lrsched_jax.core.xp import fori_loop, is_numpy, put, quiet
from lrsched_jax.core.xp import namespace as _ns

__all__ = [
    "RUNNING",
    "DIVERGED",
    "NONFINITE",
    "REASONS",
    "RULES",
    "RULE_DIVISORS",
    "RULE_TABLE",
    "Rule",
    "Tracker",
    "ema_divisors",
    "ema_step",
    "tracker_init",
    "tracker_step",
    "scan",
    "valid_count",
    "steepest_index",
    "valley_index",
    "minimum_index",
    "article_index",
    "slide_index",
    "halfway_index",
    "rule_indices",
    "rule_values",
    "capped_values",
    "SLIDE_DIFF",
    "SLIDE_THRESH",
    "descent",
    "DESCENT_BLOCKS",
    "DESCENT_NOISE",
]

#: Stop codes: still running (or completed, when the steps ran out), diverged, non-finite loss.
RUNNING, DIVERGED, NONFINITE = 0, 1, 2
#: The stop reason of each code, as stored in a :class:`~lrsched_jax.finder.FinderResult`.
REASONS = {RUNNING: "completed", DIVERGED: "diverged", NONFINITE: "non-finite"}

#: fastai's ``slide`` settings: the interval (points) and the slope-change threshold (loss units).
SLIDE_DIFF, SLIDE_THRESH = 15, 0.005
#: :func:`descent`: the window is compared in blocks of ``ceil(W / b)`` points for each ``b``
#: here, and a fall must exceed ``DESCENT_NOISE`` noise units (module docstring: calibration).
DESCENT_BLOCKS, DESCENT_NOISE = (4, 12), 5.5


def ema_divisors(num: int, smooth: float) -> np.ndarray | None:
    """The bias-correction divisors ``c_k = 1 + beta + ... + beta**k`` (float64, host), or
    ``None`` for ``smooth = 0`` (no smoothing).

    ``s_k = s_{k-1} + (x_k - s_{k-1}) / c_k`` is the bias-corrected EMA; ``c_0 = 1``
    exactly, so ``s_0 = 0 + (x_0 - 0) / 1 = x_0``. Without smoothing there is no table:
    ``s + (x - s)`` is not always ``x`` in floating point, so :func:`tracker_step` is told
    by ``divisor=None`` to take the loss itself. Both drivers cast this one table to the
    loss dtype, so they divide by identical numbers.

    >>> ema_divisors(4, 0.5).tolist()
    [1.0, 1.5, 1.75, 1.875]
    >>> ema_divisors(4, 0.0) is None
    True
    """
    if smooth == 0:
        return None
    out = np.empty(int(num), dtype=np.float64)
    c = 0.0
    for k in range(int(num)):
        c = 1.0 + smooth * c
        out[k] = c
    return out


class Tracker(NamedTuple):
    """The finder's running state: the last smoothed loss and the best smoothed loss so far."""

    smoothed: Any
    best: Any


def tracker_init(xp: Any, dtype: Any) -> Tracker:
    """The state before step 0: ``smoothed = 0`` (unused: ``c_0 = 1``), ``best = +inf``."""
    # [()] makes NumPy scalars (several times faster to compute with than 0-d arrays).
    return Tracker(xp.asarray(0.0, dtype=dtype)[()], xp.asarray(math.inf, dtype=dtype)[()])


def ema_step(prev: Any, loss: Any, divisor: Any) -> Any:
    """The smoothed loss after ``loss``: ``prev + (loss - prev) / divisor`` (``divisor``: the
    step's :func:`ema_divisors` entry), or ``loss`` itself without smoothing (``None``) — in
    the operands' precision. :func:`tracker_step`'s smoothing, on its own for the host
    tracker's curves."""
    # Division, never a product feeding an addition (module docstring: FMA contraction).
    return loss if divisor is None else prev + (loss - prev) / divisor


def tracker_step(state: Tracker, loss: Any, divisor: Any, diverge_factor: float) -> tuple[Tracker, Any]:
    """One step of smoothing and the stop rule: ``(new_state, code)``.

    ``loss`` is the step's raw loss (a scalar of the tracker's dtype), ``divisor`` its
    :func:`ema_divisors` entry (same dtype), or ``None`` without smoothing. ``code`` is
    :data:`RUNNING`, :data:`DIVERGED` or :data:`NONFINITE` (module docstring: the rule; a
    non-finite raw loss always makes the smoothed loss non-finite). With NumPy, a non-finite
    or huge loss makes NumPy warn; callers running it per step wrap their loop in
    :func:`quiet` once (entering ``np.errstate`` per step would cost more than the step).

    Written with operators rather than ``where`` wherever both give the same bits: the
    torch driver runs this once per step on NumPy scalars, where each ufunc call costs
    about a microsecond and an operator a tenth of that.

    >>> import numpy as np
    >>> st = tracker_init(np, np.float32)
    >>> codes = []
    >>> for k, x in enumerate([2.0, 1.0, 5.0]):
    ...     st, code = tracker_step(st, np.float32(x), None, 4.0)
    ...     codes.append(int(code))
    >>> codes, float(st.best)  # 5 > 4 * 1: diverged at step 2
    ([0, 0, 1], 1.0)
    """
    xp = _ns(loss)
    s = ema_step(state.smoothed, loss, divisor)
    best = _minimum(xp, state.best, s)
    # best + (factor - 1) * |best| as one product per sign of best: factor * best (exactly
    # the multiplicative rule) for best >= 0, (2 - factor) * best below zero. An overflowing
    # threshold is inf: nothing lies above it, in either namespace.
    above = ((best >= 0.0) & (s > best * diverge_factor)) | (
        (best < 0.0) & (s > best * (2.0 - diverge_factor))
    )
    return Tracker(s, best), _stop_code(xp, s, above)


# The torch driver runs tracker_step once per training step on NumPy scalars, where a ufunc
# call costs about a microsecond and NumPy's bool arithmetic several (docs/benchmarks.md has
# the finder's cost): for scalars these two helpers compute the same values with comparisons
# and Python logic; arrays and traced values take the ufuncs.


def _minimum(xp: Any, a: Any, b: Any) -> Any:
    """``xp.minimum(a, b)``: the smaller, NaN if either is NaN."""
    if isinstance(b, np.generic):
        return b if (b < a or b != b) else a
    return xp.minimum(a, b)


def _stop_code(xp: Any, s: Any, above: Any) -> Any:
    """:data:`NONFINITE` where ``s`` is not finite, else :data:`DIVERGED` where ``above``, else
    :data:`RUNNING` (int32)."""
    if isinstance(s, np.generic):
        finite = math.isfinite(s)
        return np.int32(NONFINITE if not finite else DIVERGED if above else RUNNING)
    finite = xp.isfinite(s)
    return xp.astype(xp.asarray((finite & above) * DIVERGED + (~finite) * NONFINITE), xp.int32)


def scan(losses: Any, divisors: Any, diverge_factor: float) -> tuple[Any, Any, Any]:
    """Run :func:`tracker_step` over a whole loss sequence: ``(smoothed, stop_step, code)``.

    ``smoothed`` is computed for every entry (also past the stop); ``stop_step`` is the
    first step whose code is not :data:`RUNNING` and ``code`` that code, or
    ``len(losses) - 1`` and :data:`RUNNING` ("completed") when no step stops. Computes in
    the dtype of ``losses``; ``divisors`` (:func:`ema_divisors`, cast to that dtype) has at
    least as many entries, or is ``None`` (no smoothing). The drivers call
    :func:`tracker_step` once per step instead — the same function.

    >>> import numpy as np
    >>> losses = np.array([3.0, 2.0, 1.0, 9.0, 1.0])
    >>> s, stop, code = scan(losses, None, 4.0)
    >>> s.tolist(), int(stop), REASONS[int(code)]
    ([3.0, 2.0, 1.0, 9.0, 1.0], 3, 'diverged')
    """
    xp = _ns(losses)
    n = losses.shape[0]
    dt = losses.dtype
    smoothed = xp.zeros((n,), dtype=dt)
    if not (not is_numpy(xp)):
        smoothed = np.array(smoothed)  # a buffer of our own, filled in place

    def body(i: Any, carry: Any) -> Any:
        state, out, stop, code = carry
        state, c = tracker_step(state, losses[i], None if divisors is None else divisors[i], diverge_factor)
        out = put(xp, out, i, state.smoothed)
        first = (code == RUNNING) & (c != RUNNING)
        stop = xp.where(first, xp.asarray(i, dtype=xp.int32), stop)
        code = xp.where(first, c, code)
        return state, out, xp.astype(stop, xp.int32), xp.astype(code, xp.int32)

    init = (
        tracker_init(xp, dt),
        smoothed,
        xp.asarray(n - 1, dtype=xp.int32),
        xp.asarray(RUNNING, dtype=xp.int32),
    )
    with quiet(xp):
        _, smoothed, stop, code = fori_loop(xp, 0, n, body, init)
    return smoothed, stop, code


def valid_count(stop_step: Any, code: Any) -> Any:
    """How many points the suggestion rules may use: steps ``0..stop_step``, without the
    stop step when its loss was not finite."""
    xp = _ns(stop_step)
    return xp.where(code == NONFINITE, stop_step, stop_step + 1)


def _window(xp: Any, n_total: int, count: Any, skip_start: int, skip_end: int) -> tuple[Any, Any]:
    idx = xp.arange(n_total, dtype=xp.int32)
    return idx, (idx >= skip_start) & (idx < count - skip_end)


def _first_argmin(xp: Any, values: Any, mask: Any) -> Any:
    """The first index of the smallest value where ``mask`` holds (``+inf`` elsewhere)."""
    inf = xp.asarray(math.inf, dtype=values.dtype)
    return xp.astype(xp.argmin(xp.where(mask, values, inf)), xp.int32)


def steepest_index(
    smoothed: Any, log_lrs: Any, count: Any, skip_start: int, skip_end: int
) -> tuple[Any, Any]:
    """``(index, ok)`` of the steepest descent of ``smoothed`` against ``log_lrs`` in the window.

    The slope at ``i`` is ``(s[hi] - s[lo]) / (x[hi] - x[lo])`` with ``lo = max(i-1, 0)``,
    ``hi = min(i+1, count-1)`` (central differences, one-sided at the ends of the valid
    points). ``ok`` is false when the window is empty (the index is then 0, meaningless).
    ``log_lrs`` is given by the caller (computed once on the host), so no ``log`` is
    evaluated here — NumPy's and XLA's ``log`` may differ in the last bit.
    """
    xp = _ns(smoothed)
    n = smoothed.shape[0]
    idx, mask = _window(xp, n, count, skip_start, skip_end)
    lo = xp.maximum(idx - 1, 0)
    hi = xp.minimum(idx + 1, xp.maximum(count - 1, 0))
    dy = xp.take(smoothed, hi) - xp.take(smoothed, lo)
    dx = xp.take(log_lrs, hi) - xp.take(log_lrs, lo)
    with quiet(xp):
        slope = dy / dx
    # An empty difference (count < 2) gives nan; only masked-in values matter.
    ok = xp.any(mask) & (count >= 2)
    return _first_argmin(xp, slope, mask & (hi > lo)), ok


def valley_index(smoothed: Any, count: Any, skip_start: int, skip_end: int) -> tuple[Any, Any]:
    """``(index, ok)`` of fastai's valley: the middle of the longest decreasing run in the window.

    ``lds[i]`` is the length of the longest strictly decreasing subsequence of the window's
    smoothed losses ending at ``i`` (``O(n**2)``, as fastai); ``max_end`` the first ``i``
    with the largest ``lds``, ``max_start = max_end - lds[max_end]``,
    ``index = max_start + d//3 + d//6`` with ``d = max_end - max_start`` (fastai's
    ``int(d/3) + int(d/3/2)``), clipped to the window.
    """
    xp = _ns(smoothed)
    n = smoothed.shape[0]
    idx, mask = _window(xp, n, count, skip_start, skip_end)
    end = xp.maximum(count - skip_end, skip_start)
    if is_numpy(xp):
        lds = _decreasing_run_lengths(smoothed, skip_start, int(end))
    else:
        after_start = idx >= skip_start

        def body(i: Any, lds: Any) -> Any:
            # Only window points are visited, and j < i keeps j below the window's end.
            earlier = after_start & (idx < i) & (smoothed > smoothed[i])
            return put(xp, lds, i, xp.max(xp.where(earlier, lds, 0)) + 1)

        lds = fori_loop(xp, skip_start, end, body, xp.zeros((n,), dtype=xp.int32))
    max_end = xp.astype(xp.argmax(lds), xp.int32)
    max_start = max_end - lds[max_end]
    d = max_end - max_start
    pick = max_start + d // 3 + d // 6
    first = xp.asarray(skip_start, dtype=xp.int32)
    last = xp.astype(xp.maximum(count - skip_end - 1, skip_start), xp.int32)
    return xp.astype(xp.clip(pick, first, last), xp.int32), xp.any(mask)


def _decreasing_run_lengths(smoothed: np.ndarray, start: int, end: int) -> np.ndarray:
    """:func:`valley_index`'s ``lds`` on the host, in ``O(n log n)`` instead of the traced
    ``O(n**2)`` loop (a per-sweep cost the torch driver adds to every run): patience sorting
    of the negated losses, where the number of piles a loss lands after is the length of the
    longest strictly decreasing subsequence ending at it. A NaN is above nothing and nothing
    is above it: its length is 1 and it opens no pile. ``parity_tests`` hold it equal to the
    traced loop's."""
    lds = np.zeros(smoothed.shape[0], dtype=np.int32)
    tails: list[float] = []  # tails[k]: the smallest negated last loss of a run of k + 1
    for i in range(start, end):
        x = -float(smoothed[i])
        if x != x:
            lds[i] = 1
            continue
        k = bisect.bisect_left(tails, x)
        lds[i] = k + 1
        if k == len(tails):
            tails.append(x)
        else:
            tails[k] = x
    return lds


def minimum_index(smoothed: Any, count: Any, skip_start: int, skip_end: int) -> tuple[Any, Any]:
    """``(index, ok)`` of the smallest smoothed loss in the window."""
    xp = _ns(smoothed)
    _, mask = _window(xp, smoothed.shape[0], count, skip_start, skip_end)
    return _first_argmin(xp, smoothed, mask), xp.any(mask)


def article_index(raw: Any, count: Any) -> tuple[Any, Any]:
    """``(index, ok)`` of ``argmin(np.gradient(raw[:count]))`` (the article's rule).

    ``np.gradient`` with unit spacing: ``(r[i+1] - r[i-1]) / 2`` inside,
    ``r[1] - r[0]`` and ``r[count-1] - r[count-2]`` at the ends; needs ``count >= 2``.
    """
    xp = _ns(raw)
    n = raw.shape[0]
    idx = xp.arange(n, dtype=xp.int32)
    mask = idx < count
    last = xp.maximum(count - 1, 0)
    lo = xp.maximum(idx - 1, 0)
    hi = xp.minimum(idx + 1, last)
    diff = xp.take(raw, hi) - xp.take(raw, lo)
    interior = (idx > 0) & (idx < last)
    with quiet(xp):
        grad = xp.where(interior, diff / xp.asarray(2.0, dtype=raw.dtype), diff)
    return _first_argmin(xp, grad, mask), count >= 2


def slide_index(smoothed: Any, count: Any, skip_start: int, skip_end: int) -> tuple[Any, Any]:
    """``(index, ok)`` of fastai's ``slide`` rule on the window's smoothed losses.

    ``g[i]`` is ``np.gradient`` over the window ``[a, e)`` (``a = skip_start``,
    ``e = count - skip_end``): ``(s[i+1] - s[i-1]) / 2`` inside, one-sided at ``a`` and
    ``e - 1``. fastai walks ``r`` back from ``e - 1`` while ``|g[r] - g[r - D]| > T``
    (``D = 15``, ``T = 0.005``), keeping ``lr[r - D]``; the loop's result in closed form:
    with ``r*`` the largest ``r`` in ``[a + D, e - 1]`` where ``|g[r] - g[r - D]| <= T``,
    the index is ``min(r* + 1, e - 1) - D``, or ``a`` when there is no such ``r``.
    ``ok`` needs ``e - a > D`` (fastai would index outside the window).
    """
    xp = _ns(smoothed)
    n = smoothed.shape[0]
    idx = xp.arange(n, dtype=xp.int32)
    a = xp.asarray(skip_start, dtype=xp.int32)
    e = xp.astype(xp.asarray(count - skip_end), xp.int32)
    last = xp.maximum(e - 1, a)
    # Clipped into the array too: with an empty window (too few points) ``a`` may lie past it.
    lo = xp.minimum(xp.clip(idx - 1, a, last), n - 1)
    hi = xp.minimum(xp.clip(idx + 1, a, last), n - 1)
    diff = xp.take(smoothed, hi) - xp.take(smoothed, lo)
    interior = (idx > a) & (idx < last)
    with quiet(xp):
        g = xp.where(interior, diff / xp.asarray(2.0, dtype=smoothed.dtype), diff)
        back = xp.take(g, xp.maximum(idx - SLIDE_DIFF, 0))
        flat = xp.abs(g - back) <= xp.asarray(SLIDE_THRESH, dtype=smoothed.dtype)
    qualifies = flat & (idx >= a + SLIDE_DIFF) & (idx <= e - 1)
    r = xp.max(xp.where(qualifies, idx, -1))
    pick = xp.where(r >= 0, xp.minimum(r + 1, e - 1) - SLIDE_DIFF, a)
    return xp.astype(pick, xp.int32), (e - a) > SLIDE_DIFF


def halfway_index(smoothed: Any, count: Any, skip_start: int, skip_end: int) -> tuple[Any, Any]:
    """``(index, ok)`` of the first window point at least half-way down the descent.

    ``j`` is the window's first smallest smoothed loss (:func:`minimum_index`), ``top`` the
    largest smoothed loss in the window up to ``j``; the index is the first ``i`` in
    ``[skip_start, j]`` with ``s[i] - s[j] <= (top - s[j]) / 2`` (differences, one
    division, a comparison: the same bits in NumPy and XLA). A curve that never falls
    (``top == s[j]``) gives ``j`` itself; :func:`build_result` then suggests nothing
    (:func:`descent`).
    """
    xp = _ns(smoothed)
    n = smoothed.shape[0]
    idx, mask = _window(xp, n, count, skip_start, skip_end)
    j, ok = minimum_index(smoothed, count, skip_start, skip_end)
    upto = mask & (idx <= j)
    low = smoothed[j]
    ninf = xp.asarray(-math.inf, dtype=smoothed.dtype)
    top = xp.max(xp.where(upto, smoothed, ninf))
    with quiet(xp):
        half = (top - low) / xp.asarray(2.0, dtype=smoothed.dtype)
        down = upto & ((smoothed - low) <= half)
    first = xp.astype(xp.argmax(down), xp.int32)  # the first True (j itself qualifies)
    return xp.where(ok, first, j), ok


class Rule(NamedTuple):
    """One suggestion rule: what its lr is divided by, its colour in
    :meth:`~lrsched_jax.core.finder.FinderResult.plot`, and its picker
    ``pick(raw, smoothed, log_lrs, count, skip_start, skip_end) -> (index, ok)``."""

    divisor: float
    colour: str
    pick: Callable[[Any, Any, Any, Any, int, int], tuple[Any, Any]]


#: The suggestion rules, in the order they are reported: a new rule is one entry here (plus
#: its picker above, its tests and its docs row).
RULE_TABLE: dict[str, Rule] = {
    "halfway": Rule(1.0, "C3", lambda raw, s, x, n, a, e: halfway_index(s, n, a, e)),
    "valley": Rule(1.0, "C6", lambda raw, s, x, n, a, e: valley_index(s, n, a, e)),
    "steepest": Rule(1.0, "C2", lambda raw, s, x, n, a, e: steepest_index(s, x, n, a, e)),
    "minimum": Rule(10.0, "C1", lambda raw, s, x, n, a, e: minimum_index(s, n, a, e)),
    "article": Rule(10.0, "C4", lambda raw, s, x, n, a, e: article_index(raw, n)),
    "slide": Rule(1.0, "C5", lambda raw, s, x, n, a, e: slide_index(s, n, a, e)),
}
#: The rules' names, in the order they are reported.
RULES = tuple(RULE_TABLE)
#: What each rule's lr is divided by (the "÷ 10" rules).
RULE_DIVISORS = {name: rule.divisor for name, rule in RULE_TABLE.items()}


def rule_indices(
    raw: Any, smoothed: Any, log_lrs: Any, count: Any, skip_start: int, skip_end: int
) -> dict[str, tuple[Any, Any]]:
    """Every rule's ``(index, ok)``, by rule name (:data:`RULE_TABLE`)."""
    return {
        name: rule.pick(raw, smoothed, log_lrs, count, skip_start, skip_end)
        for name, rule in RULE_TABLE.items()
    }


def rule_values(lrs: np.ndarray, indices: dict[str, tuple[Any, Any]]) -> dict[str, float | None]:
    """Every rule's own candidate lr (host, float64): ``lrs[index] / divisor``, or ``None``
    for a rule that had no point to choose from (before :func:`capped_values`)."""
    out: dict[str, float | None] = {}
    for rule in RULES:
        i, ok = indices[rule]
        out[rule] = float(lrs[int(i)] / RULE_DIVISORS[rule]) if bool(ok) else None
    return out


def capped_values(
    lrs: np.ndarray,
    smoothed: np.ndarray,
    count: int,
    values: dict[str, float | None],
    skip_start: int = 0,
) -> tuple[dict[str, float | None], tuple[str, ...]]:
    """The suggestions with none at or past the smoothed loss's minimum, and a note per change.

    ``lr_min`` is the lr of the first smallest smoothed loss among the ``count`` valid points
    from ``skip_start`` on (all of them when there are no more than ``skip_start``): the
    first smoothed value *is* the first raw loss, so on a noisy loss (a regression's
    minibatch MSE) an early point can be the smallest by chance, and a cap there — at the
    sweep's first lr — would throw every rule's suggestion away (measured: 6 of 24 sweeps
    on ``make_friedman1``, every rule then at 1e-8). The rules skip those points for the
    same reason. A candidate ``>= lr_min`` (the loss is no longer falling there: training at
    it starts on the diverging side) becomes ``lr_min / 10`` — the ``minimum`` rule's
    distance below the minimum — and a note names the rule, its candidate and the
    replacement. Host, float64.
    """
    if count < 1:
        return dict(values), ()
    idx = np.arange(len(smoothed))
    start = skip_start if count > skip_start else 0
    k = int(_first_argmin(np, np.asarray(smoothed, dtype=np.float64), (idx >= start) & (idx < count)))
    lr_min = float(lrs[k])
    out: dict[str, float | None] = {}
    notes: list[str] = []
    for rule, v in values.items():
        if v is not None and not v < lr_min:
            out[rule] = lr_min / 10.0
            notes.append(
                f"{rule}: its candidate {v:.3g} is not below the lr of the smoothed loss's minimum "
                f"({lr_min:.3g}, step {k}); suggesting {lr_min / 10.0:.3g} (that lr / 10) instead"
            )
        else:
            out[rule] = v
    return out, tuple(notes)


def _block_drop(x: np.ndarray, count: int, a: int, w: int, blocks: int) -> tuple[bool, tuple[Any, ...]]:
    """One scale of :func:`descent`: ``(fell, the numbers for the note)``."""
    size = -(-w // blocks)
    # Each block summed on its own (no running sum): equal losses give bitwise equal means,
    # so a constant loss has a drop of exactly 0.
    means = np.lib.stride_tricks.sliding_window_view(x[a : a + w], size).mean(axis=1)
    p = 1 + int(np.argmin(means[1:]))
    drop = float(means[0] - means[p])
    end = min(max(a + p + size, 3), count)
    with np.errstate(all="ignore"):
        sigma = float(np.std(np.diff(x[:end]))) / math.sqrt(2.0)
        threshold = DESCENT_NOISE * sigma * math.sqrt(2.0 / size)
    return drop > threshold, (size, means[p], a + p, means[0], threshold, sigma)


def _drop_note(size: int, low: float, at: int, first: float, threshold: float, sigma: float) -> str:
    return (
        f"the lowest mean of {size} consecutive losses ({low:.4g}, from step {at}) is not below "
        f"the mean of the first {size} ({first:.4g}) by more than {DESCENT_NOISE:g} noise units "
        f"({threshold:.3g}; noise: the std of the losses' first differences / sqrt(2) = {sigma:.3g})"
    )


def descent(raw: np.ndarray, count: int, skip_start: int, skip_end: int) -> tuple[bool, str | None]:
    """Did the loss fall in the rules' window by more than its noise? ``(fell, note)``.

    Host, float64, on the ``count`` valid raw losses; the module docstring gives the test and
    its calibration. ``note`` (when ``fell`` is false) says that the loss never fell, with the
    numbers of the quarter-window scale. A window of fewer than 2 points is not judged
    (``(True, None)``): the rules themselves have nothing to read there and say so with ``None``.

    >>> import numpy as np
    >>> descent(np.full(40, 2.0), 40, 10, 5)[0]
    False
    >>> descent(np.linspace(2.0, 1.0, 40), 40, 10, 5)
    (True, None)
    """
    x = np.asarray(raw, dtype=np.float64)
    a, count = int(skip_start), int(count)
    w = count - int(skip_end) - a
    if w < 2:
        return True, None
    first: tuple[Any, ...] = ()
    for b in DESCENT_BLOCKS:
        fell, numbers = _block_drop(x, count, a, w, b)
        if fell:
            return True, None
        first = first or numbers
    return False, (
        f"the loss never fell: in the rules' window (steps {a}-{a + w - 1}) {_drop_note(*first)}; "
        "no suggestion. "
        "The sweep may start past the useful lrs (lower start_lr) or end before them (raise end_lr), or "
        "the model may not be training (frozen parameters, a loss that does not depend on them)"
    )
