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
  schedules keep their phase at steps of 2**31 and beyond (also for dyadic fractional
  periods such as ``4.5``);
* large powers ``x**p`` (``polynomial``) are raised in float32 pairs ``hi + lo``
  (:func:`powr_pair`), so the rounding of ``x`` is not multiplied by ``p``;
* a powered cosine ``((1 + cos x)/2)**e`` (``cosine(exponent=e)``) computes ``sin²`` of the
  folded half-angle as a pair from its Taylor series (:func:`cos_pow_weights`): XLA's
  float32 ``sin`` is good to one rounding, which the power would multiply by ``e``.

Pair ("double-float") arithmetic has to survive XLA: its CPU backend contracts ``x*y + z``
into an FMA, differently in different fusions, and folds ``(b + C) - C`` into ``b`` for a
constant ``C``. So every product that reaches the high part of a pair is exact (12-bit
halves, :func:`_two_prod`), and every error-free sum is of two computed values.

The contract's domain (float32, the JAX default, against float64 at the same step):

* integer steps of any dtype (each is widened first: int64 on NumPy and under x64, int32 in
  JAX otherwise; uint32 steps ``>= 2**31`` are evaluated as the schedule shifted by ``2**31``)
  whose value is at least :data:`~lrsched_jax.core.precision.F32_FLOOR` (below, XLA flushes
  subnormal intermediates);
* periods and boundaries in whole steps (a fractional boundary is not representable in
  float32, so the two precisions may fall on different sides of it; fractional periods
  keep the value in its range but are outside the contract). Fractional cycle multipliers
  (``warm_restarts``/``decay_cycles``' ``period_mult=1.5``) are inside: the restarts come
  from a float64 table, land on ``ceil`` of each start, and the steps done and left in a
  cycle are exact float32 pairs;
* ``shift`` past the integer range (``t + steps > 2**31 - 1`` in int32) is exact when the
  shifted schedule is periodic with a whole period, or constant from a step inside the
  range (:func:`eval_shifted`); otherwise the step is rounded to float32 there and the
  value, in its range, is outside the contract;
* float steps: the contract holds at the float step as given (float32 holds whole steps
  exactly only up to ``2**24``). NaN / infinite steps: see :func:`prepare`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrsched_jax.core.xp import namespace, quiet

__all__ = ["Ctx", "prepare", "finish"]

_INT32_MAX = 2**31 - 1

#: Float steps above this (the int64 range; ``+inf`` under ``jit``) evaluate as this step.
MAX_FLOAT_STEP = 2.0**63


@dataclass(frozen=True)
class Ctx:
    """The array namespace and the float dtype one evaluation computes in."""

    xp: Any
    dtype: Any
    #: The largest value of the integer step dtype the evaluation uses, else ``None``.
    imax: int | None = None

    def const(self, v: float) -> float:
        """A constant to combine with the step: as a float if it may not fit the step's
        integer dtype (JAX parses Python ints as int32 without x64), so nothing overflows."""
        if isinstance(v, int) and abs(v) > (self.imax if self.imax is not None else _INT32_MAX):
            return float(v)
        return v

    def to_float(self, x: Any) -> Any:
        """``x`` as an array of the evaluation's float dtype."""
        return self.xp.astype(x, self.dtype, copy=False)

    def c(self, v: float) -> float:
        """Deprecated spelling of :meth:`const` (removed in the next release)."""
        warnings.warn("Ctx.c is deprecated; use Ctx.const", DeprecationWarning, stacklevel=2)
        return self.const(v)

    def f(self, x: Any) -> Any:
        """Deprecated spelling of :meth:`to_float` (removed in the next release)."""
        warnings.warn("Ctx.f is deprecated; use Ctx.to_float", DeprecationWarning, stacklevel=2)
        return self.to_float(x)

    def full(self, like: Any, value: float) -> Any:
        """An array shaped like ``like`` filled with ``value``."""
        return self.xp.zeros_like(like, dtype=self.dtype) + value

    def is_int(self, t: Any) -> bool:
        return bool(self.xp.isdtype(t.dtype, "integral"))


def prepare(step: Any) -> tuple[Ctx, Any, bool, Any]:
    """Turn a step into ``(ctx, t, scalar_numpy, over)`` with ``t >= 0``.

    Python numbers and NumPy values compute in NumPy; objects with ``__array_namespace__``
    (JAX arrays and tracers) in their own namespace. Integer steps of every width and
    signedness become the namespace's default integer (int64 for NumPy and under x64,
    int32 for JAX otherwise), so an unsigned or narrow step gives the value of the same step
    in int64: arithmetic on ``t`` never wraps. uint64 steps past ``2**63 - 1`` saturate there.
    uint32 steps in JAX without x64 that do not fit int32 (``>= 2**31``) are returned as
    ``t = step - 2**31`` with ``over`` the mask of those lanes (else ``over`` is ``None``): the
    caller evaluates them as the schedule shifted by ``2**31`` (:func:`eval_shifted`).

    Integer steps compute in the namespace's default float dtype (float64 for NumPy,
    float32 for JAX unless x64 is enabled); float32/float64 steps keep their dtype;
    lower-precision floats are promoted to the default float. Negative steps (and ``-inf``)
    count as step 0. On the host a NaN or ``+inf`` step raises ``ValueError``; traced (no
    value to test), a NaN step counts as step 0 and ``+inf`` as step :data:`MAX_FLOAT_STEP`
    (as does every float step above it), so the lr stays finite and in its range.
    """
    scalar = False
    if isinstance(step, (bool, np.bool_)):
        raise TypeError(f"step must be a number or an array of numbers, got {step!r}")
    xp: Any = namespace(step)
    host = xp is np
    if host:
        step = np.asarray(step)
        scalar = step.ndim == 0
    dtype = step.dtype
    default_float = xp.asarray(0.0).dtype
    if xp.isdtype(dtype, "bool") or not xp.isdtype(dtype, ("integral", "real floating")):
        raise TypeError(f"step must have an integer or real floating dtype, got {dtype}")
    over = None
    if xp.isdtype(dtype, "integral"):
        wide = xp.asarray(0).dtype
        top = int(np.iinfo(np.dtype(str(wide))).max)
        have = int(np.iinfo(np.dtype(str(dtype))).max)
        if have <= top:
            t = xp.astype(step, wide)  # widening: exact
        elif have <= 2 * top + 1:
            # uint32 without int64: the upper half as an offset of 2**31 (see ``over``)
            half = xp.asarray(top + 1, dtype=dtype)  # a Python int would parse as int32
            over = step >= half
            t = xp.astype(xp.where(over, step - half, step), wide)
        else:
            t = xp.astype(xp.minimum(step, top), wide)
        return Ctx(xp, default_float, top), xp.maximum(t, 0), scalar, over
    if dtype == xp.float32 or dtype == xp.float64:
        fdtype = dtype
    else:
        fdtype = default_float
        step = xp.astype(step, fdtype)
    if host:
        bad = np.isnan(step) | (step == np.inf)
        if np.any(bad):
            first = float(step[bad].reshape(-1)[0])
            raise ValueError(
                f"step must be a finite number of steps (negative steps count as 0), got {first!r}"
            )
    # ``step >= 0`` is False for NaN: NaN and negative steps (-inf included) count as step 0.
    t = xp.where(step >= 0, step, xp.zeros_like(step))
    # Float steps past the int64 range (+inf included) count as step 2**63: no schedule's
    # step arithmetic (t times a rate, t over a period) can overflow to inf or NaN there.
    t = xp.minimum(t, MAX_FLOAT_STEP)
    return Ctx(xp, fdtype, None), t, scalar, over


def finish(ctx: Ctx, out: Any, scalar: bool) -> Any:
    """Cast to the evaluation dtype; a NumPy scalar step gives a NumPy scalar back."""
    out = ctx.to_float(out)
    if scalar:
        return out[()]
    return out


def eval_shifted(s: Any, ctx: Ctx, t: Any, k: float) -> Any:
    """``s`` at step ``t + k`` (``t >= 0`` an array, ``k >= 0`` a constant) without overflow.

    For an integer ``t`` and a whole ``k`` the sum is formed exactly wherever it can be:

    * ``s`` periodic from ``a`` with a whole period ``P`` (``s._periodic() == (a, P)``) and
      ``k >= a``: the step is reduced modulo ``P`` first (``a + ((t mod P) + (k - a) mod P)``
      stays below ``a + 2P``), exact at any ``t + k``;
    * ``s`` constant from a step ``F`` (``s._flat_from() == F``) inside the integer range:
      ``min(t, F - k) + k`` never passes ``F``;
    * otherwise ``t + k`` in integer arithmetic where it fits the dtype, and in the float
      dtype past it (the step rounded to float: the float32 contract does not extend there,
      the value stays in the schedule's range).

    Float steps (or a fractional ``k``) add in float.
    """
    xp = ctx.xp
    if not ctx.is_int(t) or not float(k).is_integer():
        return s._eval(ctx, t + ctx.const(k))
    k = int(k)
    if k == 0:
        return s._eval(ctx, t)
    top = int_max(t)
    per = periodic_of(s)
    if per is not None and k >= per[0] and per[0] + 2 * per[1] <= top:
        a, p = per
        return s._eval(ctx, xp.remainder(t, p) + (a + (k - a) % p))
    flat = flat_of(s)
    if flat is not None and math.ceil(flat) <= top:
        f = math.ceil(flat)
        if k >= f:
            return s._eval(ctx, xp.zeros_like(t) + f)
        return s._eval(ctx, xp.minimum(t, f - k) + k)
    rounded = None if k <= top and xp is np and bool(np.all(t <= top - k)) else ctx.to_float(t) + float(k)
    if k > top:
        return s._eval(ctx, rounded)
    fits = t <= top - k
    exact = s._eval(ctx, xp.where(fits, t, xp.zeros_like(t)) + k)
    if rounded is None:
        return exact
    return xp.where(fits, exact, s._eval(ctx, rounded))


def periodic_of(s: Any) -> tuple[int, int] | None:
    """``(a, P)``, whole numbers, if ``lr(t + P) == lr(t)`` for every ``t >= a``, else ``None``.

    A schedule declares it with its ``_periodic()`` hook (``Schedule`` defaults it to
    ``None``); one constant from a step ``F`` (:func:`flat_of`) is periodic with ``P = 1``
    from ``ceil(F)``.
    """
    per = s._periodic()
    if per is not None:
        return per
    flat = flat_of(s)
    return None if flat is None else (math.ceil(flat), 1)


def flat_of(s: Any) -> float | None:
    """A step ``F`` with ``lr(t) == lr(F)`` for every ``t >= F`` (declared by a schedule's
    ``_flat_from()`` hook, ``None`` by default)."""
    flat: float | None = s._flat_from()
    return flat


def floor_divmod(ctx: Ctx, t: Any, period: float) -> tuple[Any, Any]:
    """``(q, r)`` with ``t = q*period + r`` and ``0 <= r <= period`` (``r < period`` up to the
    rounding of a float step).

    ``r`` is a float array. ``q`` keeps the integer dtype of an integer ``t`` when ``period
    >= 1`` (so it fits), else it is a float array. Integer steps are divided exactly in
    integer arithmetic when ``period`` is whole, and also when it is a dyadic fraction
    (``period * 2**j`` whole for some ``j <= 12``, e.g. ``4.5``): ``t`` is first reduced
    modulo the whole ``period * 2**j``, so the phase stays exact at any step. Other periods
    divide in float; ``r`` is clamped into ``[0, period]`` so that the rounding of a large
    step never moves the phase out of its range.
    """
    xp = ctx.xp
    period = float(period)
    if ctx.is_int(t):
        top = int_max(t)
        if period.is_integer():
            p = int(period)
            if p > top:
                # The step's integer dtype cannot reach one period.
                return xp.zeros_like(t), ctx.to_float(t)
            q = xp.floor_divide(t, p)
            return q, ctx.to_float(t - q * p)
        mult = next((2**j for j in range(1, 13) if (period * 2**j).is_integer()), None)
        if mult is not None and period * mult * mult <= top:
            # t = q1*whole + r1 (whole = mult*period), then r1*mult = q2*whole + r2 < mult*whole:
            # t = (q1*mult + q2)*period + r2/mult, every step in integers.
            whole = int(period * mult)
            q1 = xp.floor_divide(t, whole)
            r1 = (t - q1 * whole) * mult
            q2 = xp.floor_divide(r1, whole)
            r = ctx.to_float(r1 - q2 * whole) / float(mult)
            if period >= 1:
                return q1 * mult + q2, r
            return ctx.to_float(q1) * float(mult) + ctx.to_float(q2), r
    q, r = _float_divmod(ctx, ctx.to_float(t), period)
    if ctx.is_int(t) and period >= 1:
        q = xp.astype(q, t.dtype)
    return q, r


def _float_divmod(ctx: Ctx, tf: Any, period: float) -> tuple[Any, Any]:
    # fmod is exact (IEEE 754, in NumPy and XLA alike), so the remainder -- and with it the
    # quotient, the whole number nearest (tf - r) / period -- is that of the exact real
    # division: 11 with a period of 1.1 (just above 11/10) is 9 periods, as Python's 11 // 1.1
    # says, where floor(11 / 1.1) rounds up to 10. tf >= 0 here. The clamp covers steps past
    # 2**53, whose remainder the float cannot hold anyway.
    xp = ctx.xp
    r = xp.fmod(tf, period)
    q = xp.round((tf - r) / period)
    return q, xp.clip(r, 0.0, period)


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
    return ctx.to_float(x - ctx.const(whole)) - (c - whole)


def lerp(ctx: Ctx, a: Any, b: Any, num: Any, den: Any, rest: Any = None) -> Any:
    """``a`` at ``num = 0`` to ``b`` at ``num = den``, linearly: ``a*(den-num)/den + b*num/den``.

    Both weights are computed directly, so for ``a, b >= 0`` there is no cancellation.
    ``rest`` (``den - num``, computed accurately by the caller) may be given.
    """
    num = ctx.to_float(num)
    den = _python_float(den)
    rest = den - num if rest is None else rest
    return _mix(ctx, a, rest / den, b, num / den)


def cos_mix(
    ctx: Ctx,
    a: Any,
    b: Any,
    num: Any,
    den: Any,
    per_unit: Any = None,
    rest: Any = None,
    exponent: float = 1.0,
) -> Any:
    """Cosine anneal from ``a`` (``num = 0``) to ``b`` (``num = den``).

    Equals ``b + (a - b) * (1 + cos(pi*num/den)) / 2`` (also for ``num`` slightly outside
    ``[0, den]``) but is computed as ``a*cos(θ)**2 + b*sin(θ)**2`` with ``θ = π/2·num/den``
    folded to at most ``π/4`` (measuring from whichever end is nearer), so one ``sin``
    gives both weights: ``sin(θ)**2 <= 1/2`` and ``cos(θ)**2 = 1 - sin(θ)**2 >= 1/2``, with
    no cancellation anywhere. In float32 the angle is carried as an unevaluated sum
    ``hi + lo`` (:func:`_times`), so the only roundings left are those of ``sin`` and of
    the final products. ``den`` may be an array when ``per_unit`` gives the matching
    ``π/(2*den)`` split as ``(k1, k2)`` arrays. ``rest`` (``den - num``, computed accurately
    by the caller) may be given. With ``exponent=e`` the cosine factor is raised to ``e``:
    ``b + (a - b) * ((1 + cos(pi*num/den)) / 2)**e`` (:func:`cos_pow_weights`).
    """
    if exponent != 1.0:
        wa, wb = cos_pow_weights(ctx, num, den, exponent, per_unit, rest)
        return _mix(ctx, a, wa, b, wb)
    xp = ctx.xp
    den, first, x = _fold(ctx, num, den, rest)
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


def _fold(ctx: Ctx, num: Any, den: Any, rest: Any) -> tuple[Any, Any, Any]:
    """``(den, first, x)`` for a cosine over ``[0, den]``: ``x`` is the distance from the
    nearer end (``num`` where ``first``, else ``rest = den - num``), so the half-angle
    ``π/2·x/den`` stays within ``π/4``."""
    num = ctx.to_float(num)
    den = _python_float(den)
    rest = den - num if rest is None else rest
    first = num <= rest
    return den, first, ctx.xp.where(first, num, rest)


def _mix(ctx: Ctx, a: Any, wa: Any, b: Any, wb: Any) -> Any:
    """``a*wa + b*wb``; in float32 a Python-float ``a``/``b`` is split into its float32 value
    and the remainder, so the rounding of the constants themselves does not count."""
    if ctx.dtype == ctx.xp.float64 or not (isinstance(a, float) and isinstance(b, float)):
        return a * wa + b * wb
    a_hi, b_hi = float(np.float32(a)), float(np.float32(b))
    return a_hi * wa + b_hi * wb + ((a - a_hi) * wa + (b - b_hi) * wb)


def _python_float(v: Any) -> Any:
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
        return xp.exp(ctx.to_float(k) * c)
    k1, k2 = _split12(c)
    hi, lo = _times(ctx, ctx.to_float(k), k1, k2)
    return xp.exp(hi) * (1.0 + lo)


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
    ef = ctx.to_float(xp.where(low, e - 1, e))
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
    # y = 0: 0**p = 0 (a power too small for float32, 0 * log(0), would give NaN)
    return xp.where(y > 0, xp.ldexp(xp.exp(h), xp.astype(n, xp.int32) + big), 0.0)


def mix(ctx: Ctx, a: Any, wa: Any, b: Any, wb: Any) -> Any:
    """``a*wa + b*wb`` (see :func:`_mix`)."""
    return _mix(ctx, a, wa, b, wb)


def int_pair(ctx: Ctx, y: Any) -> tuple[Any, Any]:
    """A non-negative integer array as an exact float ``hi + lo`` pair (float32 holds only 24
    bits of an int32): ``y = 4096*(y // 4096) + y % 4096``, each part exact, then renormalised."""
    xp = ctx.xp
    hi = xp.floor_divide(y, 4096) * 4096
    h, lo = ctx.to_float(hi), ctx.to_float(y - hi)
    s = h + lo
    return s, lo - (s - h)


def _split_f32(x: Any) -> tuple[Any, Any]:
    """Veltkamp's split of a float32 array: ``x = hi + lo`` with 12 significant bits each."""
    c = x * 4097.0
    hi = c - (c - x)
    return hi, x - hi


def _two_prod(a: Any, b: Any, b_split: tuple[Any, Any] | None = None) -> tuple[Any, Any]:
    """``a*b = p + e`` (Dekker; exact up to ~2**-48 relative), safe under FMA contraction.

    XLA's CPU backend lets LLVM contract ``x*y + z`` into an FMA, and where it duplicates a
    product into several fusions it may contract one use and not another, so a pair built
    as ``p = a*b`` then ``e = (... - p)`` can count the rounding of ``a*b`` twice or not at
    all (one float32 ulp of ``p``). Here every product that reaches ``p`` or the exact parts
    of ``e`` is exact (12-bit halves), so contracting it changes nothing.
    """
    ah, al = _split_f32(a)
    if b_split is None:
        # a Python float (float32-exact) splits on the host: Veltkamp's split in float64 would not
        b_split = _split12(b) if isinstance(b, float) else _split_f32(b)
    bh, bl = b_split
    m1, m2 = ah * bl, al * bh
    mid = m1 + m2
    bb = mid - m1
    mid_err = (m1 - (mid - bb)) + (m2 - bb)  # Knuth's TwoSum: exact
    p, e = _fast2sum(ah * bh, mid)
    return p, e + (mid_err + al * bl)


def _df_mul(x: tuple[Any, Any], y: tuple[Any, Any]) -> tuple[Any, Any]:
    """The product of two ``hi + lo`` pairs as a pair (relative error ~2**-44)."""
    p, e = _two_prod(x[0], y[0])
    return _fast2sum(p, e + (x[0] * y[1] + x[1] * y[0]))


#: Above this whole part of the power the exponentiation by squaring is not used.
_MAX_SQUARING_POWER = 2**32


def powr_pair(ctx: Ctx, yh: Any, yl: Any, d: float, p: float) -> tuple[Any, Any]:
    """``(y / d)**p`` for ``0 <= y <= d`` given as a pair ``y = yh + yl`` (float32), as a pair.

    The quotient is formed as a pair (Dekker's exact product gives the remainder of
    ``yh / d``), the whole part ``n`` of ``p`` raises it by squaring in pair arithmetic
    (about ``2*log2(n)`` products, each with relative error ~2**-44) and the fraction ``f``
    by :func:`powr_ratio` (its error scales with ``f < 1``), corrected for the low part.
    So the result is within about one float32 rounding of the exact value for any power,
    where ``exp(p*log(y/d))`` loses ``p`` times the rounding of the quotient and the log.
    """
    xp = ctx.xp
    n, f = math.floor(p), p - math.floor(p)
    d32 = float(np.float32(d))
    if n > _MAX_SQUARING_POWER or not math.isfinite(d32):
        return powr_ratio(ctx, yh + yl, d, p), ctx.full(yh, 0.0)
    xh = yh / d32
    prod, err = _two_prod(xh, d32, _split12(d32))
    xl = (((yh - prod) - err) + yl - xh * (d - d32)) / d32
    w: tuple[Any, Any] | None = None
    base = (xh, xl)
    k = n
    while k:
        if k & 1:
            w = base if w is None else _df_mul(w, base)
        k >>= 1
        if k:
            base = _df_mul(base, base)
    if f > 0:
        g = powr_ratio(ctx, xh, 1.0, f)
        with quiet(xp):
            corr = xp.where(xh > 0, g * (f * (xl / xh)), 0.0)
        w = (g, corr) if w is None else _df_mul(w, (g, corr))
    assert w is not None  # p > 0
    return w


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


# -- cos(θ)**(2e): the cosine factor raised to a power, in float32 pairs -----------------------

#: Taylor coefficients of ``sin(θ)**2 / θ**2`` in ``z = θ**2``: ``(-1)**k 2**(2k+1) / (2k+2)!``.
_SIN2_COEF = tuple((-1) ** k * 2.0 ** (2 * k + 1) / math.factorial(2 * k + 2) for k in range(10))


def _fast2sum(a: Any, b: Any) -> tuple[Any, Any]:
    """``a + b = s + e`` exactly, for ``|a| >= |b|``. Neither may be a compile-time constant:
    XLA folds ``(b + C) - C`` into ``b``, which would zero ``e``."""
    s = a + b
    return s, b - (s - a)


def _add_pairs(x: tuple[Any, Any], y: tuple[Any, Any]) -> tuple[Any, Any]:
    """``x + y`` for pairs with ``|x| >= |y|`` (relative error ~2**-44 where they do not cancel)."""
    s, e = _fast2sum(x[0], y[0])
    return _fast2sum(s, e + (x[1] + y[1]))


def _mul_const(x: tuple[Any, Any], c: float) -> tuple[Any, Any]:
    """``x * c`` for a pair ``x`` and a Python float ``c`` (split into float32 parts on the host)."""
    c32 = float(np.float32(c))
    p, e = _two_prod(x[0], c32, _split12(c32))
    return _fast2sum(p, e + (x[1] * c32 + x[0] * (c - c32)))


def _sin2_pair(ctx: Ctx, x: Any, k: tuple[Any, Any]) -> tuple[Any, Any]:
    """``sin(θ)**2`` for ``θ = x*(k1 + k2)`` in ``[0, π/4]``, as a float32 pair accurate to
    about ``2**-34`` relative (XLA's float32 ``sin`` is good to one rounding, which a power
    ``e`` would multiply by ``e``).

    ``θ`` is a pair (Dekker's exact ``x*k1`` plus ``x*k2``), ``z = θ**2`` a pair, and
    ``sin(θ)**2 = z - z²/3 + 2z³/45 - ...`` is summed smallest first with the terms up to
    ``z³`` as pairs and the rest (``z⁴`` on, below ``5e-4``) in float32. Every error-free
    sum is of two computed values, never a constant (see :func:`_fast2sum`).
    """
    k1, k2 = k
    ph, pl = _two_prod(x, k1, None if not isinstance(k1, float) else _split12(k1))
    theta = _fast2sum(ph, pl + x * k2)
    z = _df_mul(theta, theta)
    z2 = _df_mul(z, z)
    z3 = _df_mul(z2, z)
    tail: Any = _SIN2_COEF[-1]
    for c in reversed(_SIN2_COEF[3:-1]):
        tail = c + z[0] * tail
    u = _add_pairs(_mul_const(z3, _SIN2_COEF[2]), (z3[0] * (z[0] * tail), 0.0))
    u = _add_pairs(_mul_const(z2, _SIN2_COEF[1]), u)
    return _add_pairs(z, u)


#: ``1/(k+2)!``: ``expm1(a) = a + a**2 * sum(c_k a**k)``, to ``2**-27`` relative for ``|a| <= 0.75``.
_EXPM1_COEF = tuple(1.0 / math.factorial(k + 2) for k in range(10))


def _expm1_pair(ah: Any, al: Any) -> Any:
    """``expm1(ah + al)`` for ``-0.75 <= ah <= 0`` and ``|al| <= ulp(ah)``, within about one
    float32 ulp (XLA's float32 ``expm1`` is ~4.3 ulps off there): the Taylor series, its
    quadratic and higher terms in float32 (at most 40% of the result, so their rounding
    counts for less than half an ulp) and ``al * exp(ah)`` to first order."""
    poly: Any = _EXPM1_COEF[-1]
    for c in reversed(_EXPM1_COEF[:-1]):
        poly = c + ah * poly
    return ah + (al * (1.0 + ah) + (ah * ah) * poly)


def _two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    """``a + b = s + e`` exactly, in either order of magnitude (Knuth's TwoSum; neither may be
    a compile-time constant, see :func:`_fast2sum`)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


#: ``1/(2k+3)``: ``atanh(r) = r + r**3 * sum(c_k r**(2k))``, to ``2**-40`` relative for ``|r| <= 0.18``.
_ATANH_COEF = tuple(1.0 / (2 * k + 3) for k in range(8))


def _log_pair(xp: Any, h: Any, lo: Any) -> tuple[Any, Any]:
    """``log(h + lo)`` for a float32 pair with ``h > 0`` (``|lo| <= ulp(h)``), as a pair accurate
    to about ``2**-40`` relative (XLA's float32 ``log`` and ``log1p`` are 1.2 and 1.6 ulps off,
    which a power or a cosine after them doubles).

    ``h + lo = 2**e * m`` with ``m`` in ``[√½, √2)`` (both parts scaled exactly), and
    ``log(m) = 2*atanh(r)``, ``r = a/(2 + a)``, ``a = m - 1`` (exact, Sterbenz) plus the low
    part: ``r`` is a pair (the remainder of ``a/(2 + a)`` from Dekker's exact product, every
    difference in it exact), its series tail (at most 1% of ``r``) in float32, and ``e*log 2``
    a pair of 12-bit halves. ``h = 0`` is outside (finite, meaningless: the caller masks it)."""
    mant, ex = xp.frexp(h)
    low = mant < math.sqrt(0.5)
    mant = xp.where(low, mant * 2.0, mant)
    ex = xp.where(low, ex - 1, ex)
    ah, al = _two_sum(mant - 1.0, xp.ldexp(lo, -ex))
    den = 2.0 + ah
    rh = ah / den
    p, pe = _two_prod(rh, ah)
    # a - r*(2 + a): (ah - 2rh) and its difference with rh*ah are exact (Sterbenz)
    rl = ((((ah - 2.0 * rh) - p) - pe) + (al - rh * al)) / den
    z = rh * rh
    poly: Any = _ATANH_COEF[-1]
    for c in reversed(_ATANH_COEF[:-1]):
        poly = c + z * poly
    mh, ml = _fast2sum(2.0 * rh, 2.0 * (rh * z * poly))
    l1, l2 = _split12(math.log(2.0))
    ef = xp.astype(ex, h.dtype)
    s, err = _two_sum(ef * l1, mh)  # ef * l1 is exact (|e| < 2**12)
    return _fast2sum(s, err + ((ml + 2.0 * rl) + ef * l2))


def _scaled_log_pair(xp: Any, h: Any, lo: Any, p: float) -> tuple[Any, Any]:
    """``p * log(h + lo)`` as a float32 pair (:func:`_log_pair`, then Dekker's exact product
    with the float32 part of ``p`` and the rest to first order), for ``exp`` or
    :func:`_expm1_pair` of it."""
    lh, ll = _log_pair(xp, h, lo)
    p32 = float(np.float32(p))
    ah, al = _two_prod(lh, p32, _split12(p32))
    return ah, al + (p32 * ll + (p - p32) * lh)


def _one_minus_pow(xp: Any, h: Any, lo: Any, p: float) -> Any:
    """``1 - (h + lo)**p`` for a float32 pair in ``(0, 1]``, within about one ulp where it is
    at most 1/2 (``p*log(h + lo) >= -log 2``: the series of :func:`_expm1_pair`); elsewhere a
    value to be masked by the caller, who takes ``1 - w`` there (no cancellation)."""
    with quiet(xp):
        ah, al = _scaled_log_pair(xp, h, lo, p)
        return -_expm1_pair(xp.maximum(ah, -0.75), al)


def cos_pow_weights(
    ctx: Ctx, num: Any, den: Any, e: float, per_unit: Any = None, rest: Any = None
) -> tuple[Any, Any]:
    """float32 ``(w, 1 - w)`` for ``w = c**e``, ``c = (1 + cos(π*num/den))/2 = cos(θ)**2``
    (``θ = π/2·num/den``), each within about 2 float32 ulps for any ``e`` in ``(0, 1000]``.

    ``c`` and ``1 - c`` are ``cos(θ)**2`` and ``sin(θ)**2`` with ``θ`` folded to at most
    ``π/4`` (:func:`_sin2_pair`; the other is ``1 -`` it, still a pair), so the rounding that
    ``w`` multiplies by ``e`` is about ``2**-36``, not one float32 ulp. ``w`` is raised by
    :func:`powr_pair`; ``1 - w`` is ``1 - w`` where ``w < 1/2`` and ``-expm1(e*log(c))``
    where ``w >= 1/2`` (``|e*log(c)| <= log 2``: no cancellation), with ``log(c)`` from
    ``log1p`` of the smaller weight and ``e*log(c)`` a pair. ``den``, ``per_unit``, ``rest``:
    as for :func:`cos_mix`.
    """
    xp = ctx.xp
    den, first, x = _fold(ctx, num, den, rest)
    if ctx.dtype == xp.float64:
        sin = xp.sin(x * (math.pi / 2 / den))
        small = sin * sin
        c, s = xp.where(first, 1.0 - small, small), xp.where(first, small, 1.0 - small)
        ce = c**e
        with quiet(xp):
            lc = xp.where(s <= 0.5, xp.log1p(-s), xp.log(c))
            return ce, xp.where(ce >= 0.5, -xp.expm1(e * lc), 1.0 - ce)
    sh, sl = _sin2_pair(ctx, x, _split12(math.pi / 2 / den) if per_unit is None else per_unit)
    # 1 - s as a pair: 1 - oh and then (1 - oh) - sh are exact (Sterbenz, sh <= 1/2)
    oh = 1.0 - sh
    ol = ((1.0 - oh) - sh) - sl
    ch, cl = xp.where(first, oh, sh), xp.where(first, ol, sl)  # c = cos(θ)**2 unfolded
    wh, wl = powr_pair(ctx, ch, cl, 1.0, e)
    e32 = float(np.float32(e))
    with quiet(xp):
        # log(c) as a pair: log1p(-s) where c = 1 - s is the large weight, else log(s)
        lh = xp.where(first, xp.log1p(-sh), xp.log(sh))
        ll = xp.where(first, -sl / (1.0 - sh), sl / sh)
        ah, al = _two_prod(lh, e32, _split12(e32))
        al = al + (e32 * ll + (e - e32) * lh)
        near_one = -_expm1_pair(ah, al)
    rest_w = xp.where(wh >= 0.5, near_one, (1.0 - wh) - wl)
    return wh + wl, rest_w
