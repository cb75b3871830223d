"""Array-namespace numerics shared by every schedule.

Every schedule computes with the namespace of its input (``step.__array_namespace__()``):
``jax.numpy`` for JAX arrays and tracers, NumPy for NumPy arrays and Python numbers. Nothing
here imports JAX, so the torch adapter, plots and the CLI never start a JAX backend.

The helpers are written so that float32 evaluation stays within a few ulps of the float64
value of the same formula:

* cosine anneals use ``a*cos(θ/2)**2 + b*sin(θ/2)**2`` with the half-angle folded to
  ``[0, π/4]`` — no ``1 + cos(x)`` cancellation near ``x = π`` and no cancellation between
  the two (non-negative) terms;
* linear ramps use ``a*(den-num)/den + b*num/den`` with both weights computed directly;
* powers ``gamma**k`` are ``exp(k*log(gamma))`` with ``k*log(gamma)`` split into pieces
  that are exact in float32 (``gamma`` is never rounded to float32 and then raised to a
  large power);
* ``t mod period`` is computed in integer arithmetic for integer steps, so periodic
  schedules keep their phase at steps of 2**31 and beyond.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrsched_jax.core.xp import namespace, quiet

__all__ = ["Ctx", "prepare", "finish"]

_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Ctx:
    """The array namespace and the float dtype one evaluation computes in."""

    xp: Any
    dtype: Any
    #: The largest value of a narrow (< 64-bit) integer step dtype, else ``None``.
    imax: int | None = None

    def c(self, v: float) -> float:
        """A constant to combine with the step: as a float if it may not fit the step's
        integer dtype (JAX parses Python ints as int32 without x64), so nothing overflows."""
        if isinstance(v, int) and abs(v) > (self.imax if self.imax is not None else _INT32_MAX):
            return float(v)
        return v

    def f(self, x: Any) -> Any:
        """``x`` as an array of the evaluation's float dtype."""
        return self.xp.astype(x, self.dtype, copy=False)

    def full(self, like: Any, value: float) -> Any:
        """An array shaped like ``like`` filled with ``value``."""
        return self.xp.zeros_like(like, dtype=self.dtype) + value

    def is_int(self, t: Any) -> bool:
        return bool(self.xp.isdtype(t.dtype, "integral"))


def prepare(step: Any) -> tuple[Ctx, Any, bool]:
    """Turn a step into ``(ctx, t, scalar_numpy)``; ``t >= 0`` keeps its integer dtype.

    Python numbers and NumPy values compute in NumPy; objects with ``__array_namespace__``
    (JAX arrays and tracers) in their own namespace. Integer steps compute in the
    namespace's default float dtype (float64 for NumPy, float32 for JAX unless x64 is
    enabled); float32/float64 steps keep their dtype; lower-precision floats are promoted
    to the default float. Negative steps are clipped to 0.
    """
    scalar = False
    if isinstance(step, (bool, np.bool_)):
        raise TypeError(f"step must be a number or an array of numbers, got {step!r}")
    xp: Any = namespace(step)
    if xp is np:
        step = np.asarray(step)
        scalar = step.ndim == 0
    dtype = step.dtype
    default_float = xp.asarray(0.0).dtype
    if xp.isdtype(dtype, "bool") or not xp.isdtype(dtype, ("integral", "real floating")):
        raise TypeError(f"step must have an integer or real floating dtype, got {dtype}")
    if xp.isdtype(dtype, "integral"):
        fdtype = default_float
    elif dtype == xp.float32 or dtype == xp.float64:
        fdtype = dtype
    else:
        fdtype = default_float
        step = xp.astype(step, fdtype)
    t = xp.maximum(step, 0)
    imax = None
    if xp.isdtype(dtype, "integral") and np.dtype(str(dtype)).itemsize < 8:
        imax = int(np.iinfo(np.dtype(str(dtype))).max)
    return Ctx(xp, fdtype, imax), t, scalar


def finish(ctx: Ctx, out: Any, scalar: bool) -> Any:
    """Cast to the evaluation dtype; a NumPy scalar step gives a NumPy scalar back."""
    out = ctx.f(out)
    if scalar:
        return out[()]
    return out


def floor_divmod(ctx: Ctx, t: Any, period: float) -> tuple[Any, Any]:
    """``(q, r)`` with ``t = q*period + r`` and ``0 <= r < period``.

    ``q`` keeps the dtype of ``t`` (an integer step gives an integer ``q``); ``r`` is a float
    array. Integer steps and an integer period are divided exactly in integer arithmetic.
    """
    xp = ctx.xp
    if ctx.is_int(t) and float(period).is_integer():
        p = int(period)
        if p > int_max(t):
            # The step's integer dtype cannot reach one period.
            return xp.zeros_like(t), ctx.f(t)
        q = xp.floor_divide(t, p)
        r = t - q * p
        return q, ctx.f(r)
    tf = ctx.f(t)
    period = float(period)
    q = xp.floor(tf / period)
    r = tf - q * period
    # One correction each way covers the rounding of tf / period.
    neg = r < 0
    q = xp.where(neg, q - 1, q)
    r = xp.where(neg, r + period, r)
    over = r >= period
    q = xp.where(over, q + 1, q)
    r = xp.where(over, r - period, r)
    if ctx.is_int(t):
        q = xp.astype(q, t.dtype)
    return q, r


def int_max(t: Any) -> int:
    return int(np.iinfo(np.dtype(str(t.dtype))).max)


def sub(ctx: Ctx, x: Any, c: float) -> Any:
    """``x - c`` for a step ``x`` and a constant ``c`` that float32 may not hold exactly (a
    fractional phase end such as ``pct_start*T - 1``).

    For integer steps: ``(x - floor(c))`` in integer arithmetic (exact), then the fraction
    is subtracted in float, so the difference of nearby values keeps its relative precision.
    (Splitting ``c`` into two float constants would not survive XLA, which folds
    ``(x - c1) - c2`` into ``x - (c1 + c2)``.) Float steps: ``x - c``.
    """
    c = float(c)
    if not ctx.is_int(x):
        return x - c
    whole = math.floor(c)
    return ctx.f(x - ctx.c(whole)) - (c - whole)


def lerp(ctx: Ctx, a: Any, b: Any, num: Any, den: Any, rest: Any = None) -> Any:
    """``a`` at ``num = 0`` to ``b`` at ``num = den``, linearly: ``a*(den-num)/den + b*num/den``.

    Both weights are computed directly, so for ``a, b >= 0`` there is no cancellation.
    ``rest`` (``den - num``, computed accurately by the caller) may be given.
    """
    num = ctx.f(num)
    den = _fl(den)
    rest = den - num if rest is None else rest
    return _mix(ctx, a, rest / den, b, num / den)


def cos_mix(ctx: Ctx, a: Any, b: Any, num: Any, den: Any, per_unit: Any = None, rest: Any = None) -> Any:
    """Cosine anneal from ``a`` (``num = 0``) to ``b`` (``num = den``).

    Equals ``b + (a - b) * (1 + cos(pi*num/den)) / 2`` (also for ``num`` slightly outside
    ``[0, den]``) but is computed as ``a*cos(θ)**2 + b*sin(θ)**2`` with ``θ = π/2·num/den``
    folded to at most ``π/4`` (measuring from whichever end is nearer), so one ``sin``
    gives both weights: ``sin(θ)**2 <= 1/2`` and ``cos(θ)**2 = 1 - sin(θ)**2 >= 1/2``, with
    no cancellation anywhere. In float32 the angle is carried as an unevaluated sum
    ``hi + lo`` (:func:`_times`), so the only roundings left are those of ``sin`` and of
    the final products. ``den`` may be an array when ``per_unit`` gives the matching
    ``π/(2*den)`` split as ``(k1, k2)`` arrays. ``rest`` (``den - num``, computed accurately
    by the caller) may be given.
    """
    xp = ctx.xp
    num = ctx.f(num)
    den = _fl(den)
    rest = den - num if rest is None else rest
    first = num <= rest
    x = xp.where(first, num, rest)
    if ctx.dtype == xp.float64:
        s = xp.sin(x * (math.pi / 2 / den))
        small = s * s
    else:
        k1, k2 = _split12(math.pi / 2 / den) if per_unit is None else per_unit
        hi, lo = _times(ctx, x, k1, k2)
        # sin(hi + lo) = sin(hi) + cos(hi)*lo, |lo| <= ulp(hi) (so 1 - hi²/2 is ample for
        # cos); squared with the correction kept separate, which saves a rounding.
        sh = xp.sin(hi)
        small = sh * sh + (2.0 * sh) * ((1.0 - 0.5 * (hi * hi)) * lo)
    large = 1.0 - small
    wa = xp.where(first, large, small)
    wb = xp.where(first, small, large)
    return _mix(ctx, a, wa, b, wb)


def _mix(ctx: Ctx, a: Any, wa: Any, b: Any, wb: Any) -> Any:
    """``a*wa + b*wb``; in float32 a Python-float ``a``/``b`` is split into its float32 value
    and the remainder, so the rounding of the constants themselves does not count."""
    if ctx.dtype == ctx.xp.float64 or not (isinstance(a, float) and isinstance(b, float)):
        return a * wa + b * wb
    a_hi, b_hi = float(np.float32(a)), float(np.float32(b))
    return a_hi * wa + b_hi * wb + ((a - a_hi) * wa + (b - b_hi) * wb)


def _fl(v: Any) -> Any:
    """Python numbers as floats (an int past 2**31 would overflow JAX's int32 parsing)."""
    return float(v) if isinstance(v, (int, float)) else v


def _split12(c: float) -> tuple[float, float]:
    """``c = hi + lo`` with ``hi`` carrying 12 significant bits (exact in float32)."""
    if c == 0.0 or not math.isfinite(c):
        return c, 0.0
    mant, e = math.frexp(c)
    hi = math.ldexp(round(mant * 4096.0), e - 12)
    return hi, c - hi


def split_table(values: Any) -> tuple[list[float], list[float]]:
    """:func:`_split12` of each value, as two lists (for per-element constants)."""
    pairs = [_split12(float(v)) for v in values]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _times(ctx: Ctx, x: Any, k1: Any, k2: Any) -> tuple[Any, Any]:
    """``x * (k1 + k2)`` as ``hi + lo`` with ``|lo| <= ulp(hi)``, for a float32 ``x``.

    ``k1`` has 12 significant bits. With ``x = 4096*q + r + f`` (integers ``q``, ``0 <= r <
    4096``, fraction ``f``), ``4096*q*k1`` and ``r*k1`` are exact for ``|x| < 2**24``; their
    sum is split exactly (Fast2Sum), the small rest ``x_int*k2 + f*k`` is added to the
    error term and the pair renormalised. No product is ever rounded as a whole, and
    Fast2Sum needs no multiplication, so FMA contraction cannot change the result.
    """
    xp = ctx.xp
    whole = xp.floor(x)
    frac = x - whole
    q = xp.floor(whole / 4096.0)
    r = whole - q * 4096.0
    p1 = (q * k1) * 4096.0
    p2 = r * k1
    s = p1 + p2
    e = p2 - (s - p1)  # exact rounding error of s, since |p1| >= |p2|
    e = e + (whole * k2 + frac * (k1 + k2))
    hi = s + e
    lo = e - (hi - s)
    return hi, lo


def exp_times(ctx: Ctx, k: Any, c: float) -> Any:
    """``exp(k*c)`` for a step-like ``k``, accurate to a few ulps in float32.

    float64 evaluates ``exp(k*c)`` directly (relative error ~|k*c|·1e-16). float32 never
    rounds ``k*c`` as a whole: it is carried as ``hi + lo`` (:func:`_times`) and
    ``exp(k*c) = exp(hi) * (1 + lo)``. (Multiplying separate exponentials would not do:
    XLA rewrites ``exp(a)*exp(b)`` into ``exp(a+b)``.) Used for ``gamma**k``.
    """
    xp = ctx.xp
    if c == 0.0:
        return ctx.full(k, 1.0)
    if ctx.dtype == xp.float64:
        return xp.exp(ctx.f(k) * c)
    k1, k2 = _split12(c)
    hi, lo = _times(ctx, ctx.f(k), k1, k2)
    return xp.exp(hi) * (1.0 + lo)


def powr(ctx: Ctx, x: Any, p: float) -> Any:
    """``x**p`` for ``x >= 0``, accurate to a few ulps in float32 for any real ``p``.

    XLA's float32 ``pow`` is ``exp(p*log(x))``, whose error grows like ``p*|log x|`` ulps
    (20+ ulps for ``x ~ 1e-6``). Here ``x = m * 2**e`` with ``m`` in ``[√½, √2)``; with
    ``p = p1 + p2`` (``p1`` 12 bits) ``p1*e`` is exact and splits into an integer ``n``
    and a fraction ``f``, so ``x**p = 2**n * exp(f*ln2 + p2*e*ln2 + p*log(m))`` with a
    small exponent. float64 and the exact cases ``p`` in {0.5, 1, 2} use ``x**p``.
    """
    return powr_ratio(ctx, x, 1.0, p)


def powr_ratio(ctx: Ctx, y: Any, d: float, p: float) -> Any:
    """``(y / d)**p`` for ``y >= 0`` and a constant ``d > 0``, without rounding ``y / d``.

    In float32 the quotient is never formed: ``d**-p`` enters as ``2**N * exp(F)`` computed
    in float64 on the host, so an exact ``y`` (``T - t``) keeps its precision however large
    ``p`` is (rounding ``y/d`` first would multiply its half-ulp error by ``p``).
    """
    xp = ctx.xp
    if ctx.dtype == xp.float64 or (d == 1.0 and p in (0.5, 1.0, 2.0)):
        return (y / d) ** p if d != 1.0 else y**p
    mant, e = xp.frexp(y)
    low = mant < math.sqrt(0.5)
    mant = xp.where(low, mant * 2.0, mant)
    ef = ctx.f(xp.where(low, e - 1, e))
    p1, p2 = _split12(p)
    a = p1 * ef
    n = xp.floor(a)
    # d**-p = 2**(-p*log2(d)) = 2**big * 2**frac, split on the host in float64
    scale = -p * math.log2(d)
    big = math.floor(scale)
    with quiet(xp):
        h = (a - n) * math.log(2.0) + (
            (p2 * math.log(2.0)) * ef + p * xp.log(mant) + (scale - big) * math.log(2.0)
        )
    return xp.ldexp(xp.exp(h), xp.astype(n, xp.int32) + big)


def pow_int(ctx: Ctx, base: float, k: Any) -> Any:
    """``base**k`` for a positive ``base`` via :func:`exp_times`."""
    if base == 1.0:
        return ctx.full(k, 1.0)
    return exp_times(ctx, k, math.log(base))


def step_lookup(ctx: Ctx, t: Any, boundaries: Sequence[float], values: Sequence[float]) -> Any:
    """``values[i]`` where ``i`` counts the boundaries ``<= t`` (piecewise constant).

    For integer steps the comparison is exact: ``t >= b`` is ``t >= ceil(b)``, and
    boundaries beyond the integer dtype's range are never reached.
    """
    xp = ctx.xp
    if ctx.is_int(t):
        top = int_max(t)
        kept: list[float] = [b for b in (math.ceil(x) for x in boundaries) if b <= top]
        b_arr = xp.asarray(kept, dtype=t.dtype) if kept else None
    else:
        kept = list(boundaries)
        b_arr = xp.asarray(kept, dtype=ctx.dtype) if kept else None
    if b_arr is None:
        return ctx.full(t, values[0])
    idx = xp.searchsorted(b_arr, t, side="right")
    v = xp.asarray(values[: len(kept) + 1], dtype=ctx.dtype)
    return xp.take(v, idx)
