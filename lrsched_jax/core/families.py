r"""The schedule families: one small immutable class per schedule, each a pure ``step -> lr``.

Every class is registered under the snake_case name used in configs and the CLI; the
snake_case factory (``lrs.cosine``) is the class itself, the one documented spelling
(``isinstance(s, lrs.cosine)`` works; the CamelCase classes here are for subclassing).
Notation in the docstrings: ``t`` is the step (update number, 0-based), ``T`` a horizon in
steps.

Argument ranges (checked at construction, ``ValueError``/``TypeError`` naming the argument;
see :mod:`lrsched_jax.core.validate` for why): an *lr* is a finite learning rate in
``[0, 1e30]``; a *count* a whole number of steps up to ``2**53``; a *length* a number of
steps in ``[0.001, 2**53]``, fractional allowed. Whatever they accept evaluates finitely at
every step up to 2**63, on the host and in float32.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from lrsched_jax.core import _math, validate
from lrsched_jax.core._math import Ctx
from lrsched_jax.core.schedule import Schedule, factory_names, multiples, register
from lrsched_jax.core.validate import arg, here


def _ramp(ctx: Ctx, t: Any, init: float, peak: float, steps: float) -> Any:
    """Linear warm-up value ``init -> peak`` over ``steps`` (valid for ``t <= steps``)."""
    return _math.lerp(ctx, init, peak, ctx.xp.minimum(t, ctx.const(steps)), steps)


def _after_warmup(ctx: Ctx, t: Any, warmup: int, ramp: Callable[[], Any], rest: Any) -> Any:
    """``ramp()`` for ``t < warmup``, ``rest`` after (no ramp at all when ``warmup == 0``)."""
    if warmup == 0:
        return rest
    return ctx.xp.where(t < ctx.const(warmup), ramp(), rest)


def _warmup_before_total(obj: Schedule, warm_name: str, total_name: str) -> None:
    """The rule ``warmup < total`` between two checked step counts of ``obj``."""
    warm, total = getattr(obj, warm_name), getattr(obj, total_name)
    if warm >= total:
        raise ValueError(f"{here()}: {warm_name} must be < {total_name} ({total}), got {warm!r}")


def _lr_within(name: str, value: float, what: str) -> None:
    """A derived lr (``max_lr / div_factor``) must be a finite lr <= MAX_LR, like the arguments."""
    if not value <= validate.MAX_LR:
        raise ValueError(
            f"{here()}: {name} makes {what} = {value:g}, more than {validate.MAX_LR:g}; raise {name}"
        )


#: The largest ``power`` of :class:`Polynomial`: ``(1 - t/T)**1000`` has decayed 99.99% by
#: ``t = T/100`` already; larger powers only risk overflowing the float32 exponent arithmetic.
#: (Any power > 0 is accepted below it, as torch's ``PolynomialLR`` accepts it.)
_MAX_POWER = 1000.0


class _HeldFromLastPoint(Schedule):
    """A family whose value is constant from its last change point on (its horizon, last
    milestone or knot): that point is its ``_flat_from``, so ``shift`` stays exact past the
    int32 range (``Schedule._flat_from``)."""

    def _flat_from(self) -> float:
        return max(self._points(math.inf), default=0)


@register("constant")
class Constant(Schedule):
    """``lr(t) = value`` for every step.

    torch: a plain optimizer lr (no scheduler). Optax: ``constant_schedule(value)``.

    Ranges: ``value`` an lr.

    >>> import lrsched_jax as lrs
    >>> float(lrs.constant(0.1)(12345))
    0.1
    """

    value: float = arg(validate.lr)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        return ctx.full(t, self.value)

    def _flat_from(self) -> float:
        return 0


constant = Constant


def _growth_limit(base_lr: float, last: int) -> float:
    """The largest factor ``d`` whose power ``d**last`` keeps ``base_lr * d**last`` and
    ``d**last`` itself at most ``1e30`` (so float32 never overflows, even from a tiny
    ``base_lr``), less a relative ``1e-12`` for the rounding of the power; ``inf`` when
    ``last == 0`` (the factor is never applied), at least 1."""
    if last <= 0:
        return math.inf
    growth = validate.MAX_LR if base_lr <= 1.0 else validate.MAX_LR / base_lr
    return max(1.0, growth ** (1.0 / last) * (1 - 1e-12))


@register("step_decay")
class StepDecay(Schedule):
    r"""Step decay: ``lr(t) = base_lr * gamma ** floor(t / step_size)``.

    torch: ``StepLR(step_size, gamma)`` (identical values). Optax:
    ``exponential_decay(base_lr, step_size, gamma, staircase=True)``.
    Defined for every ``t >= 0`` (no horizon). Fractional ``step_size`` is allowed.

    Ranges: ``base_lr`` an lr; ``step_size`` a length; ``gamma > 0``: in ``(0, 1]``, or a
    growth up to :meth:`gamma_limit` (torch's ``StepLR(gamma > 1)``), where every value up to
    step 2**63 stays a learning rate ``<= 1e30`` (with a practical ``step_size`` that is
    ``gamma`` within ~1e-15 of 1: ``gamma**(2**63 / step_size)`` overflows otherwise).

    >>> import lrsched_jax as lrs
    >>> s = lrs.step_decay(base_lr=1.0, step_size=30, gamma=0.1)
    >>> [round(float(s(t)), 6) for t in (0, 29, 30, 59, 60)]
    [1.0, 1.0, 0.1, 0.1, 0.01]
    """

    base_lr: float = arg(validate.lr)
    step_size: float = arg(validate.duration)
    gamma: float = arg(validate.positive, default=0.1)

    def _check(self) -> None:
        if self.gamma > 1:
            limit = self.gamma_limit(self.base_lr, self.step_size)
            if self.gamma > limit:
                more = f", or at most {limit!r} with these base_lr and step_size" if limit > 1 else ""
                raise ValueError(
                    f"{here()}: gamma must be in (0, 1]{more} (a factor > 1 grows the lr: base_lr * "
                    f"gamma**{math.floor(2.0**63 / self.step_size)} at step 2**63 would exceed "
                    f"{validate.MAX_LR:g}), got {self.gamma!r}"
                )

    @staticmethod
    def gamma_limit(base_lr: float, step_size: float) -> float:
        """The largest ``gamma`` accepted: the growth whose value at step 2**63 (and the factor
        ``gamma**k`` alone) reaches ``1e30`` (:func:`_growth_limit`)."""
        return _growth_limit(base_lr, math.floor(2.0**63 / step_size))

    def upper_bound(self) -> float:
        if self.gamma <= 1:
            return self.base_lr
        return self.base_lr * self.gamma ** math.floor(2.0**63 / self.step_size) * (1 + 1e-12)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        k, _ = _math.floor_divmod(ctx, t, self.step_size)
        return self.base_lr * _math.pow_int(ctx, self.gamma, k)

    def _points(self, until: float) -> Iterable[float]:
        return multiples(self.step_size, until, self.step_size)


step_decay = StepDecay


@register("multistep")
class MultiStep(_HeldFromLastPoint):
    r"""Multi-step decay: ``lr(t) = base_lr * gamma ** #{milestones <= t}``.

    torch: ``MultiStepLR(milestones, gamma)``; a milestone listed twice decays twice, as
    in torch. Optax: ``piecewise_constant_schedule`` with scale ``gamma`` at each milestone.
    Milestones must be sorted (non-decreasing) whole steps ``>= 0``.

    Ranges: ``base_lr`` an lr; ``milestones`` whole steps in ``[0, 2**53]``; ``gamma > 0`` —
    above 1 too (it grows only ``len(milestones)`` times), as long as ``gamma**len(milestones)``
    and ``base_lr * gamma**len(milestones)`` are at most ``1e30``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.multistep(base_lr=1.0, milestones=[2, 4, 4], gamma=0.5)
    >>> [float(s(t)) for t in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.125, 0.125]
    """

    base_lr: float = arg(validate.lr)
    milestones: Sequence[int] = arg(validate.ordered_steps, strict=False, integer=True)
    gamma: float = arg(validate.positive, default=0.1)

    def _check(self) -> None:
        n = len(self.milestones)
        # gamma > 1 grows, but only len(milestones) times: check the largest value exactly.
        if self.gamma > 1 and (
            n * math.log(self.gamma) > math.log(validate.MAX_LR)
            or self.base_lr * self.gamma**n > validate.MAX_LR
        ):
            raise ValueError(
                f"{here()}: gamma={self.gamma!r} > 1 makes base_lr * gamma**len(milestones) "
                f"(gamma**{n}) exceed {validate.MAX_LR:g}; lower gamma or base_lr"
            )

    def upper_bound(self) -> float:
        return self.base_lr * max(1.0, self.gamma ** len(self.milestones))

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        values = tuple(self.base_lr * self.gamma**i for i in range(len(self.milestones) + 1))
        return _math.step_lookup(ctx, t, self.milestones, values)

    def _points(self, until: float) -> Iterable[float]:
        return self.milestones


multistep = MultiStep


@register("exponential")
class Exponential(Schedule):
    r"""Exponential decay or capped growth: ``lr(t) = clip(base_lr * gamma**(t/every), min_lr, max_lr)``.

    With ``staircase=True`` the exponent is ``floor(t / every)``. torch:
    ``ExponentialLR(gamma)`` is ``every=1``. Optax: ``exponential_decay(base_lr,
    transition_steps=every, decay_rate=gamma, staircase=staircase, end_value=min_lr)``, and
    with ``gamma > 1`` (growth) ``end_value=max_lr``.
    ``gamma**k`` is computed as ``exp(k*log(gamma))`` split so that float32 stays within a
    few ulps at any step (Optax raises a float32 ``gamma`` to the power, which drifts).
    The staircase exponent is an exact floor (Optax computes ``floor(count *
    (1/transition_steps))`` after XLA's rewrite of the division, and for about one in eight
    values of ``transition_steps`` decays one step late at exact multiples).
    No horizon: it decays for ever, floored at ``min_lr``; a growing one (``gamma > 1``)
    rises to ``max_lr`` and stays there (its exponent stops one ``every`` past the cap, so
    nothing overflows at any step).

    Ranges: ``base_lr``, ``min_lr``, ``max_lr`` lrs (``min_lr <= max_lr``); ``gamma > 0``,
    above 1 only with ``max_lr`` (an uncapped growth has no finite value at step 2**63) and
    ``base_lr >= 1e-30``; ``every`` a length.

    >>> import lrsched_jax as lrs
    >>> s = lrs.exponential(base_lr=0.1, gamma=0.95)
    >>> [round(float(s(t)), 6) for t in (0, 1, 10)]
    [0.1, 0.095, 0.059874]
    >>> g = lrs.exponential(base_lr=1.0, gamma=2.0, max_lr=5.0)
    >>> [float(g(t)) for t in (0, 1, 2, 3, 10**9)]
    [1.0, 2.0, 4.0, 5.0, 5.0]
    """

    base_lr: float = arg(validate.lr)
    gamma: float = arg(validate.positive)
    every: float = arg(validate.duration, default=1)
    staircase: bool = arg(validate.flag, default=False)
    min_lr: float = arg(validate.lr, default=0.0)
    max_lr: float | None = arg(validate.lr, default=None, optional=True)

    def _check(self) -> None:
        if self.gamma > 1 and self.max_lr is None:
            raise ValueError(
                f"{here()}: gamma must be in (0, 1] (a factor > 1 grows without bound: no finite "
                f"value at every step), or > 1 with max_lr, the cap it grows to; got {self.gamma!r}"
            )
        if self.gamma > 1 and self.base_lr < validate.MIN_POSITIVE_LR:
            # below it base_lr is 0 or subnormal in float32, and 0 * an overflowing power is NaN
            raise ValueError(
                f"{here()}: base_lr must be >= {validate.MIN_POSITIVE_LR:g} when gamma > 1 (growth from 0 "
                f"stays 0: use constant(0.0)), got {self.base_lr!r}"
            )
        if self.max_lr is not None and self.min_lr > self.max_lr:
            raise ValueError(f"{here()}: min_lr must be <= max_lr ({self.max_lr!r}), got {self.min_lr!r}")

    def _stop(self) -> int:
        """A whole step from which a growing curve is above ``max_lr`` (an exponent one
        ``every`` past the cap's): the exponent stops there, so it cannot overflow."""
        assert self.max_lr is not None
        ratio = self.max_lr / self.base_lr
        periods = (math.floor(math.log(ratio) / math.log(self.gamma)) if ratio > 1 else 0) + 1
        return math.ceil(self.every * periods)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        if self.gamma > 1 and self.max_lr is not None:
            stop = self._stop()
            if not ctx.is_int(t):
                t = xp.minimum(t, float(stop))
            elif stop <= _math.int_max(t):  # else the step's dtype cannot reach it
                t = xp.minimum(t, stop)
        with _math.quiet(xp):  # a growth with a huge gamma overflows to inf before the cap: harmless
            if self.staircase:
                k, _ = _math.floor_divmod(ctx, t, self.every)
                val = _math.pow_int(ctx, self.gamma, k)
            else:
                val = _math.exp_times(ctx, t, math.log(self.gamma) / self.every)
            out = self.base_lr * val
        if self.min_lr > 0:
            out = xp.maximum(out, self.min_lr)
        if self.max_lr is not None:
            out = xp.minimum(out, self.max_lr)
        return out

    def _points(self, until: float) -> Iterable[float]:
        return multiples(self.every, until, self.every) if self.staircase else []


exponential = Exponential


@register("linear")
class Linear(_HeldFromLastPoint):
    r"""Linear ramp: ``init_lr`` at step 0 to ``end_lr`` at ``total_steps``, then held.

    ``lr(t) = init_lr + (end_lr - init_lr) * min(t, T) / T``.
    torch: ``LinearLR(start_factor, end_factor, total_iters)`` is
    ``linear(base*start_factor, base*end_factor, total_iters)``. Optax:
    ``linear_schedule(init_lr, end_lr, total_steps)``.

    Ranges: ``init_lr``, ``end_lr`` lrs; ``total_steps`` a count ``>= 1``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.linear(init_lr=0.0, end_lr=1.0, total_steps=4)
    >>> [float(s(t)) for t in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    init_lr: float = arg(validate.lr)
    end_lr: float = arg(validate.lr)
    total_steps: int = arg(validate.steps)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        return _ramp(ctx, t, self.init_lr, self.end_lr, self.total_steps)

    def _points(self, until: float) -> Iterable[float]:
        return (self.total_steps,)


linear = Linear


@validate.checked
class _PolynomialFields(Schedule):
    """The hyperparameters :class:`Polynomial` and :class:`PolynomialCycle` share (one
    declaration, so their ranges cannot drift apart)."""

    init_lr: float = arg(validate.lr)
    total_steps: int = arg(validate.steps)
    end_lr: float = arg(validate.lr, default=0.0)
    power: float = arg(validate.positive, default=1.0, maximum=_MAX_POWER)


@register("polynomial")
class Polynomial(_PolynomialFields, _HeldFromLastPoint):
    r"""Polynomial decay: ``lr(t) = end_lr + (init_lr - end_lr) * (1 - min(t, T)/T) ** power``.

    torch: ``PolynomialLR(total_iters, power)`` is ``end_lr=0``. Optax:
    ``polynomial_schedule(init_lr, end_lr, power, total_steps)``. Held at ``end_lr``
    after ``T``. Computed as ``init_lr*w + end_lr*(1-w)`` with ``w`` and ``1-w`` each
    evaluated without cancellation, and ``w`` by an accurate float32 power (XLA's is
    ``exp(p*log(x))``, 20+ ulps off near the end). Optax's jitted ``polynomial_schedule``
    returns NaN at and after its end for most ``T`` when ``power`` is fractional
    (``1 - T*(1/T)`` comes out slightly negative); this one holds ``end_lr``.

    Ranges: ``init_lr``, ``end_lr`` lrs; ``total_steps`` a count ``>= 1``; ``power`` in
    ``(0, 1000]``.

    >>> import lrsched_jax as lrs
    >>> lrs.polynomial(init_lr=1.0, total_steps=4, power=2.0).curve(6).tolist()
    [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        T = self.total_steps
        if ctx.dtype != xp.float64:
            # float32: w = ((T - t)/T)**power as an unevaluated pair hi + lo (the rounding of
            # the quotient would be multiplied by the power), from the exact T - t.
            if ctx.is_int(t) and isinstance(ctx.const(T), int):
                yh, yl = _math.int_pair(ctx, T - xp.minimum(t, T))
            else:
                yh = float(T) - ctx.to_float(xp.minimum(t, ctx.const(T)))
                # float(T) rounds to float32 above 2**24: its remainder (an exact small
                # integer) keeps T - t whole, so that q = (T - t)/T never exceeds 1; where t
                # rounded to T or past it, T - t is 0.
                yl = xp.where(yh > 0, float(T) - _f32(float(T)), 0.0)
            wh, wl = _math.powr_pair(ctx, yh, yl, T, self.power)
            if self.end_lr == 0.0:
                return self.init_lr * wh + self.init_lr * wl
            # 1 - w: from the pair where w < 1/2 (no cancellation there); where w >= 1/2,
            # -expm1(power*log(q)) for the pair q = (T - t)/T (the remainder of yh/T from
            # Dekker's exact product), log and expm1 in pair arithmetic: XLA's float32 log1p
            # and expm1 (1.6 and 4.3 ulps off) gave 7 ulps of the lr where end_lr dominates.
            d32 = _f32(float(T))
            qh = yh / d32
            prod, err = _math._two_prod(qh, d32, _math._split12(d32))
            ql = (((yh - prod) - err) + yl - qh * (float(T) - d32)) / d32
            near_one = _math._one_minus_pow(xp, xp.where(qh > 0, qh, 1.0), ql, self.power)
            one_minus_w = xp.maximum(xp.where(wh >= 0.5, near_one, (1.0 - wh) - wl), 0.0)
            # exactly 0 at the start: jitted, XLA divides by the constant T as a product with
            # its reciprocal, so q = T/T is 1 - 2**-24 plus a remainder, and 1 - w about
            # 2**-48, which end_lr >> init_lr would show (0.4 % of the lr at 1e12 apart).
            one_minus_w = xp.where(t <= 0, 0.0, one_minus_w)
            return _math.mix(ctx, self.init_lr, wh + wl, self.end_lr, one_minus_w)
        tc = ctx.to_float(xp.minimum(t, ctx.const(T)))
        u = tc / float(T)  # fraction done
        left = float(T) - tc  # exact
        w = _math.powr_ratio(ctx, left, T, self.power)
        if self.end_lr == 0.0:
            return self.init_lr * w
        # 1 - w without cancellation: log1p(-u) near the start, log(frac) near the end.
        with _math.quiet(xp):
            logfrac = xp.where(u <= 0.5, xp.log1p(-u), xp.log(left / float(T)))
        one_minus_w = -xp.expm1(self.power * logfrac)
        return self.init_lr * w + self.end_lr * one_minus_w

    def _points(self, until: float) -> Iterable[float]:
        return (self.total_steps,)


polynomial = Polynomial


def _cos_window(
    ctx: Ctx, t: Any, a: float, b: float, *, start: float, length: float, exponent: float = 1.0
) -> Any:
    """Cosine from ``a`` at ``start`` to ``b`` at ``start + length``, held at ``b`` after
    (the cosine factor raised to ``exponent``: :func:`~lrsched_jax.core._math.cos_mix`)."""
    xp = ctx.xp
    u = (
        xp.minimum(xp.maximum(t - ctx.const(start), 0), ctx.const(length))
        if start
        else xp.minimum(t, ctx.const(length))
    )
    if ctx.is_int(u) and isinstance(ctx.const(length), int):
        # the part left, in integers: exact, where float32 would round u (and so
        # length - u) for windows longer than 2**24 steps
        return _math.cos_mix(ctx, a, b, u, length, rest=ctx.to_float(length - u), exponent=exponent)
    return _math.cos_mix(ctx, a, b, u, length, exponent=exponent)


def _powered_mix(ctx: Ctx, a: float, b: float, c: Any, s: Any, e: float) -> Any:
    """``a * c**e + b * (1 - c**e)`` from ``c`` and ``s = 1 - c`` (both accurate, in [0, 1]).

    ``c**e`` by :func:`~lrsched_jax.core._math.powr_ratio` (XLA's power is ``exp(e*log(c))``,
    tens of float32 ulps off for small ``c``); ``1 - c**e`` as ``-expm1(e*log(c))`` where
    ``c**e >= 1/2``, with ``log(c) = log1p(-s)`` where ``s`` is the small one.
    """
    xp = ctx.xp
    ce = _math.powr_ratio(ctx, c, 1.0, e)
    with _math.quiet(xp):
        lc = xp.where(s <= 0.5, xp.log1p(-s), xp.log(c))
        rest = xp.where(ce >= 0.5, -xp.expm1(e * lc), 1.0 - ce)
    return _math.mix(ctx, a, ce, b, rest)


@register("cosine")
class Cosine(Schedule):
    r"""Cosine annealing: ``lr(t) = min_lr + (init_lr - min_lr) * (1 + cos(pi * t / T)) / 2``.

    For ``t > T`` it holds ``min_lr`` (default) or, with ``periodic=True``, follows the
    formula for every ``t`` — torch ``CosineAnnealingLR``'s continuation, which climbs
    back to ``init_lr`` at ``2T``. torch: ``CosineAnnealingLR(T_max=T, eta_min=min_lr)``
    (torch steps a recursive formula that drifts from this closed form by ~1e-11 relative;
    ours is the exact closed form). Optax: ``cosine_decay_schedule(init_lr, T,
    alpha=min_lr/init_lr)``, whose float32 evaluation loses up to ~20% near ``T``
    (``1 + cos`` cancels); ours stays within a few ulps.

    With ``exponent=e`` (default 1) the cosine factor ``c = (1 + cos(pi*t/T))/2`` is raised
    to the power: ``lr(t) = min_lr + (init_lr - min_lr) * c**e`` — Optax
    ``cosine_decay_schedule(..., exponent=e)``. In float32 ``c`` and ``1 - c`` are float32
    pairs accurate to ~2**-36 (a float32 ``c`` would have its rounding multiplied by ``e``),
    ``c**e`` is raised in pair arithmetic and ``1 - c**e`` comes from ``expm1`` where it is
    small, so float32 stays within the 8-ulp contract for every ``e`` (the measured errors,
    and Optax's float32 form's: docs/precision.md).

    Ranges: ``init_lr``, ``min_lr`` lrs; ``total_steps`` a length (fractional allowed);
    ``exponent`` in ``(0, 1000]``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.cosine(init_lr=1.0, total_steps=4)
    >>> [round(float(s(t)), 6) for t in range(6)]
    [1.0, 0.853553, 0.5, 0.146447, 0.0, 0.0]
    >>> p = lrs.cosine(init_lr=1.0, total_steps=4, periodic=True)
    >>> [round(float(p(t)), 6) for t in (4, 6, 8)]
    [0.0, 0.5, 1.0]
    """

    init_lr: float = arg(validate.lr)
    total_steps: float = arg(validate.duration)
    min_lr: float = arg(validate.lr, default=0.0)
    periodic: bool = arg(validate.flag, default=False)
    exponent: float = arg(validate.positive, default=1.0, maximum=_MAX_POWER)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        T, e = self.total_steps, self.exponent
        if not self.periodic:
            return _cos_window(ctx, t, self.init_lr, self.min_lr, start=0, length=T, exponent=e)
        _, r = _math.floor_divmod(ctx, t, 2 * T)
        u = ctx.xp.where(r <= float(T), r, float(2 * T) - r)
        return _math.cos_mix(ctx, self.init_lr, self.min_lr, u, T, exponent=e)

    def _periodic(self) -> tuple[int, int] | None:
        period = 2.0 * self.total_steps
        return (0, int(period)) if self.periodic and period.is_integer() else None

    def _flat_from(self) -> float | None:
        return None if self.periodic else self.total_steps

    def _points(self, until: float) -> Iterable[float]:
        if self.periodic:
            return multiples(self.total_steps, until, self.total_steps)
        return [self.total_steps]


cosine = Cosine


def _restart_table(
    first_period: float, period_mult: float, cycles: int | None = None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Cycle starts and lengths, accumulated in float64 as torch does (``T_i *= T_mult``), up
    to step 2**63 (or ``cycles`` cycles)."""
    starts, lengths = [0.0], [float(first_period)]
    while starts[-1] + lengths[-1] < 2.0**63 and (cycles is None or len(starts) <= cycles):
        starts.append(starts[-1] + lengths[-1])
        lengths.append(lengths[-1] * period_mult)
    return tuple(starts), tuple(lengths)


def _cycle_position(
    ctx: Ctx,
    t: Any,
    first_period: float,
    table: tuple[tuple[float, ...], tuple[float, ...]] | None,
    scale: float,
    pairs: bool = False,
) -> tuple[Any, Any, Any, Any, Any]:
    """``(n, cur, rest, length, per_unit)`` of step ``t`` in a train of cycles: the cycle index
    (float), the steps done and left in it, its length, and ``scale / length`` as a float32
    split pair for :func:`_math.cos_mix` (``None`` in float64). Equal cycles of ``first_period``
    when ``table`` is ``None``; else the starts and lengths of :func:`_restart_table`, looked up
    exactly for integer steps (``t >= S_n`` is ``t >= ceil(S_n)``), so every restart lands on
    the same step in float32 and float64. ``pairs`` (float32 only): ``cur`` and ``rest`` as
    ``(hi, lo)`` pairs (exact for integer steps below 2**24)."""
    xp = ctx.xp
    if table is None:
        n, cur = _math.floor_divmod(ctx, t, first_period)
        length: Any = float(first_period)
        rest = length - cur
        if ctx.dtype == xp.float64:
            return ctx.to_float(n), cur, rest, length, None
        if pairs:
            cur, rest = (cur, ctx.full(cur, 0.0)), (rest, ctx.full(cur, 0.0))
        return ctx.to_float(n), cur, rest, length, _math._split12(scale / length)
    starts, lengths = table
    n = _math.step_lookup(ctx, t, starts[1:], tuple(float(i) for i in range(len(starts))))
    idx = xp.astype(n, xp.int32)

    def take(values: Any) -> Any:
        return xp.take(xp.asarray(values, dtype=ctx.dtype), idx)

    length = take(lengths)
    if ctx.dtype == xp.float64:
        # float steps past the table (beyond 2**63) stay at the last cycle's end
        cur = xp.minimum(ctx.to_float(t) - take(starts), length)
        return n, cur, length - cur, length, None
    cur, rest = _cycle_parts32(ctx, t, starts, lengths, idx)
    cur = (xp.minimum(cur[0], length), cur[1])
    if not pairs:
        # the low parts count for fractional float steps, where the steps left cancel
        cur, rest = cur[0] + cur[1], rest[0] + rest[1]
    k1, k2 = _math.split_table([scale / x for x in lengths])
    return n, cur, rest, length, (take(k1), take(k2))


def _cycle_parts32(
    ctx: Ctx, t: Any, starts: Sequence[float], lengths: Sequence[float], idx: Any
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """float32 steps done ``t - S_n`` and left ``S_n + T_n - t`` in cycle ``idx``, as pairs
    ``(hi, lo)``: a fractional start rounded to float32 first (``period_mult=1.5``) would leave
    the steps left near a cycle's end to a cancellation, thousands of ulps of the lr there.

    With ``B_n = floor(S_n)`` (a whole number in the step's dtype), ``t - B_n`` is exact
    (integers, or float32 below 2**24), the steps done are ``(t - B_n) - (S_n - B_n)`` and the
    steps left ``(D_n - (t - B_n)) + (S_n + T_n - B_n - D_n)`` with ``D_n`` the whole part of
    ``S_n + T_n - B_n`` (a sum of two non-negative terms); each sum is exact (TwoSum), with the
    fraction's float64 remainder in the low part (the steps done cancel right after a restart,
    where ``u**k`` with ``k < 1`` needs every bit of them)."""
    xp = ctx.xp
    top = _math.int_max(t) if ctx.is_int(t) else 2**63
    base = [min(math.floor(s), top) for s in starts]
    span = [s + n - b for s, n, b in zip(starts, lengths, base)]  # S_n + T_n - B_n, in float64
    whole = [min(math.floor(x), top) for x in span]
    kind = t.dtype if ctx.is_int(t) else ctx.dtype

    def take(values: Sequence[float], dtype: Any = ctx.dtype) -> Any:
        return xp.take(xp.asarray(values, dtype=dtype), idx)

    def split(values: list[float]) -> tuple[Any, Any]:
        hi = [_f32(v) for v in values]
        return take(hi), take([v - h for v, h in zip(values, hi)])

    done = t - take(base, kind)  # >= 0: t >= ceil(S_n)
    fh, fl = split([s - b for s, b in zip(starts, base)])
    ch, cl = _math._two_sum(ctx.to_float(done), -fh)
    # whole steps: t <= floor(S_n + T_n), so D_n - (t - B_n) >= 0; a float step may pass the
    # whole part (D_n - (t - B_n) in (-1, 0), exact) or the table's end (2**63: rest 0)
    left = take(whole, kind) - done
    gh, gl = split([x - w for x, w in zip(span, whole)])
    rh, rl = _math._two_sum(ctx.to_float(left), gh)
    rl = rl + gl
    if not ctx.is_int(t):
        rh, rl = xp.maximum(rh, 0.0), xp.where(rh > 0.0, rl, 0.0)
    return (ch, cl - fl), (rh, rl)


def _peak_factor(name: str, value: Any) -> float:
    """``WarmRestarts.peak_decay``: ``> 0``; above 1 only where ``_check`` finds it bounded."""
    v = validate.number(name, value)
    if v <= 0:
        raise ValueError(f"{here()}: {name} must be in (0, 1], or > 1 with period_mult > 1, got {value!r}")
    return v


@register("warm_restarts")
class WarmRestarts(Schedule):
    r"""Cosine annealing with warm restarts (SGDR).

    Cycle ``n`` (0-based) starts at ``S_n = T0 * (mult**n - 1) / (mult - 1)`` (``n*T0``
    when ``mult == 1``) and lasts ``T_n = T0 * mult**n`` steps; within it,
    ``lr = min_lr + (peak_n - min_lr) * (1 + cos(pi * (t - S_n) / T_n)) / 2`` with
    ``peak_n = min_lr + (base_lr - min_lr) * peak_decay**n``. Fractional steps are
    allowed (torch's ``step(epoch=2.5)``). No horizon: the restarts go on for ever.
    ``peak_decay > 1`` (growing peaks, Keras' ``CosineDecayRestarts(m_mul > 1)``) needs
    ``period_mult > 1``, where the cycles up to step 2**63 are finitely many (equal cycles
    would grow the peak without bound), ``min_lr <= base_lr``, and the last of those
    cycles' peaks at most ``1e30`` (:meth:`peak_decay_limit`).

    torch: ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)`` is ``peak_decay=1`` (torch
    needs whole ``T_0``/``T_mult``; fractional ones are allowed here). Optax:
    ``sgdr_schedule`` with one ``warmup_steps=0`` cycle per restart. With ``period_mult > 1``
    (1 or >= 1.001) the restarts come from a table of cycle starts accumulated in float64
    as torch does (``T_i *= T_mult``), so they land on the same step in float32 and float64
    (torch's own ``step(epoch)`` path takes a logarithm and can be off by one cycle). In
    float32 the steps done and left in a cycle are exact pairs, so a fractional
    ``period_mult`` (Keras' ``t_mul=1.5``) keeps the 8-ulp contract up to each cycle's end.

    Ranges: ``base_lr``, ``min_lr`` lrs; ``first_period`` a length; ``period_mult`` 1 or in
    ``[1.001, 2**53]``; ``peak_decay`` in ``(0, 1]``, or up to :meth:`peak_decay_limit` with
    ``period_mult > 1`` and ``min_lr <= base_lr``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.warm_restarts(base_lr=1.0, first_period=2, period_mult=2)
    >>> [round(float(s(t)), 4) for t in range(7)]
    [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]
    """

    base_lr: float = arg(validate.lr)
    first_period: float = arg(validate.duration)
    period_mult: float = arg(validate.real, default=1, lo=1.0, hi=validate.MAX_STEPS)
    min_lr: float = arg(validate.lr, default=0.0)
    peak_decay: float = arg(_peak_factor, default=1.0)

    def _check(self) -> None:
        mult = self.period_mult
        if 1 < mult < 1.001:
            # The restart table up to step 2**63 would exceed ~37,000 cycles.
            raise ValueError(f"{here()}: period_mult must be 1 or >= 1.001, got {mult!r}")
        self._set(period_mult=int(mult) if mult.is_integer() else mult)
        d = self.peak_decay
        if d <= 1.0:
            return
        if mult == 1 or self.min_lr > self.base_lr:
            why = "with period_mult == 1 (equal cycles: the peak grows without bound)"
            if mult != 1:
                why = "when min_lr > base_lr (the peaks would fall below min_lr, then below 0)"
            raise ValueError(f"{here()}: peak_decay must be in (0, 1] {why}, got {d!r}")
        limit = self.peak_decay_limit(self.base_lr, self.first_period, mult, self.min_lr)
        if d > limit:
            raise ValueError(
                f"{here()}: peak_decay={d!r} makes the peak of the last cycle before step 2**63 "
                f"(cycle {len(self._table[0]) - 1}) exceed {validate.MAX_LR:g}; at most {limit!r} here"
            )

    @staticmethod
    def peak_decay_limit(
        base_lr: float, first_period: float, period_mult: float, min_lr: float = 0.0
    ) -> float:
        """The largest ``peak_decay`` accepted with these arguments: 1 with equal cycles or
        ``min_lr > base_lr``; else the one whose last peak before step 2**63 (and its growth
        factor ``peak_decay**n`` alone) reaches ``1e30``, less a relative ``1e-12`` that
        covers the rounding of ``peak_decay**n`` and of :meth:`upper_bound`'s margin."""
        if period_mult == 1 or min_lr > base_lr:
            return 1.0
        last = len(_restart_table(first_period, period_mult)[0]) - 1
        growth = (
            validate.MAX_LR
            if base_lr == min_lr
            else min(validate.MAX_LR, (validate.MAX_LR - min_lr) / (base_lr - min_lr))
        )
        return max(1.0, growth ** (1.0 / last) * (1 - 1e-12))

    def upper_bound(self) -> float:
        if self.peak_decay <= 1.0:
            return max(self.base_lr, self.min_lr)
        # the last cycle's peak; the margin covers the host's exp(n*log(peak_decay))
        last = len(self._table[0]) - 1
        return (self.min_lr + (self.base_lr - self.min_lr) * self.peak_decay**last) * (1 + 1e-12)

    @functools.cached_property
    def _table(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return _restart_table(self.first_period, self.period_mult)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        table = None if self.period_mult == 1 else self._table
        n, cur, rest, length, per_unit = _cycle_position(ctx, t, self.first_period, table, math.pi / 2)
        peak: Any = self.base_lr
        if self.peak_decay > 1.0:
            # growing: min + (base - min)*d**n adds two terms >= 0 (min <= base is checked)
            c = math.log(self.peak_decay)
            peak = self.min_lr + (self.base_lr - self.min_lr) * _math.exp_times(ctx, n, c)
        elif self.peak_decay != 1.0:
            # base*d + min*(1-d) with 1-d from expm1: no cancellation, even for min > base.
            c = math.log(self.peak_decay)
            kept = _math.exp_times(ctx, n, c)
            peak = self.base_lr * kept + self.min_lr * -ctx.xp.expm1(n * c)
        return _math.cos_mix(ctx, peak, self.min_lr, cur, length, per_unit, rest=rest)

    def _periodic(self) -> tuple[int, int] | None:
        P = float(self.first_period)
        if self.period_mult != 1 or self.peak_decay != 1.0 or not P.is_integer():
            return None
        return 0, int(P)

    def _points(self, until: float) -> Iterable[float]:
        if self.period_mult == 1:
            return multiples(self.first_period, until, self.first_period)
        return [s for s in self._table[0][1:] if s <= until]


warm_restarts = WarmRestarts


@register("warmup_cosine")
class WarmupCosine(_HeldFromLastPoint):
    r"""Linear warm-up then cosine decay.

    ``lr(t) = init_lr + (peak_lr - init_lr) * t / W`` for ``t < W``; then
    ``min_lr + (peak_lr - min_lr) * (1 + cos(pi * (t - W) / (T - W))) / 2`` up to ``T``;
    ``min_lr`` after. Optax: ``warmup_cosine_decay_schedule(init_lr, peak_lr, W,
    decay_steps=T, end_value=min_lr)`` (same values; ours without float32 cancellation).
    Hugging Face ``get_cosine_schedule_with_warmup`` is ``peak_lr=1`` in multiplier mode.
    The article's variant (warm-up ``(e+1)/W``) is :class:`ArticleWarmupCosine`.

    Ranges: ``peak_lr``, ``min_lr``, ``init_lr`` lrs; ``warmup_steps`` a count ``>= 0`` and
    ``< total_steps``; ``total_steps`` a count ``>= 1``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.warmup_cosine(peak_lr=1.0, warmup_steps=2, total_steps=6)
    >>> [round(float(s(t)), 4) for t in range(7)]
    [0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    peak_lr: float = arg(validate.lr)
    warmup_steps: int = arg(validate.steps, minimum=0)
    total_steps: int = arg(validate.steps)
    min_lr: float = arg(validate.lr, default=0.0)
    init_lr: float = arg(validate.lr, default=0.0)

    def _check(self) -> None:
        _warmup_before_total(self, "warmup_steps", "total_steps")

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        W, T = self.warmup_steps, self.total_steps
        decay = _cos_window(ctx, t, self.peak_lr, self.min_lr, start=W, length=T - W)
        return _after_warmup(ctx, t, W, lambda: _ramp(ctx, t, self.init_lr, self.peak_lr, W), decay)

    def _points(self, until: float) -> Iterable[float]:
        return (self.warmup_steps, self.total_steps)


warmup_cosine = WarmupCosine


@register("one_cycle")
class OneCycle(Schedule):
    r"""The 1cycle policy, exactly as torch's ``OneCycleLR`` computes the lr.

    ``initial = max_lr / div_factor``, ``final = initial / final_div_factor``. Phases end
    at steps ``e1 = pct_start*T - 1`` and ``T - 1`` (two-phase: initial→max→final) or
    ``e1``, ``e2 = 2*pct_start*T - 2``, ``T - 1`` (three-phase: initial→max→initial→final).
    Step ``t`` belongs to the first phase with ``t <= e_i`` (the last phase takes the rest,
    as in torch) and anneals with ``pct = (t - e_{i-1}) / (e_i - e_{i-1})`` (``e_0 = 0``),
    by cosine (``anneal='cos'``) or linearly. The final lr ``lr(T-1)`` is held for every
    ``t >= T - 1``: the lr of update ``k < T`` is torch's, and torch's own value at step
    ``T`` (the anneal continued past its end, up to 127× the final lr, or negative with
    ``anneal='linear'``) is one torch sets only after the last update, so no update applies
    it. torch's momentum cycle (``cycle_momentum=True``) is a schedule of its own: a
    ``one_cycle`` from ``max_momentum`` down to ``base_momentum`` and back
    (``lrsched_torch.from_torch(s, field="momentum")`` reads it off a torch scheduler).

    torch: ``OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy, div_factor,
    final_div_factor, three_phase)``. Optax's ``cosine_onecycle_schedule`` uses other phase
    boundaries (``int(pct_start*T)``), it matches the article's :class:`ArticleOneCycle`.

    With ``three_phase`` and ``pct_start*T >= (T+1)/2`` the second phase ends at or after
    ``T - 1``: it covers every update (cut short on its way back to ``initial``) and the
    third phase is never reached, as in torch.

    Ranges: ``max_lr`` an lr; ``total_steps`` a count ``>= 1``; ``pct_start`` in ``(0, 1)``
    with a first phase that is not empty (``pct_start*total_steps != 1``: torch divides by
    zero there); ``div_factor``, ``final_div_factor`` ``> 0`` with the initial and final lrs
    at most ``1e30``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.one_cycle(max_lr=1.0, total_steps=10, pct_start=0.3, anneal="linear")
    >>> [round(float(s(t)), 4) for t in (0, 1, 2, 9)]
    [0.04, 0.52, 1.0, 0.0]
    """

    max_lr: float = arg(validate.lr)
    total_steps: int = arg(validate.steps)
    pct_start: float = arg(validate.real, default=0.3, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    anneal: str = arg(validate.choice, default="cos", options=("cos", "linear"))
    div_factor: float = arg(validate.positive, default=25.0)
    final_div_factor: float = arg(validate.positive, default=1e4)
    three_phase: bool = arg(validate.flag, default=False)

    def _check(self) -> None:
        initial = self.max_lr / self.div_factor
        _lr_within("div_factor", initial, "the initial lr max_lr / div_factor")
        final = initial / self.final_div_factor
        _lr_within("final_div_factor", final, "the final lr max_lr / div_factor / final_div_factor")
        pct, total = self.pct_start, self.total_steps
        starts = [0.0] + [e for e, _, _ in self._phases()[:-1]]
        for (end, _, _), start in zip(self._phases(), starts):
            if end - start <= 0 and end >= 0:
                raise ValueError(
                    f"{here()}: pct_start={pct!r} with total_steps={total} gives an empty phase "
                    f"(ending at step {end:g}); torch's OneCycleLR divides by zero there. "
                    "Use pct_start*total_steps != 1."
                )

    def upper_bound(self) -> float:
        initial = self.max_lr / self.div_factor
        return max(self.max_lr, initial, initial / self.final_div_factor)

    def _phases(self) -> list[tuple[float, float, float]]:
        """``(end_step, start_lr, end_lr)`` per phase, with torch's float arithmetic."""
        T = self.total_steps
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        e1 = float(self.pct_start * T) - 1
        if self.three_phase:
            e2 = float(2 * self.pct_start * T) - 2
            if e2 >= T - 1:
                # pct_start*T >= (T+1)/2: torch's second phase covers every update and its
                # third is never reached (nor divided by), so it is not a phase here either.
                return [(e1, initial, self.max_lr), (e2, self.max_lr, initial)]
            return [(e1, initial, self.max_lr), (e2, self.max_lr, initial), (T - 1, initial, final)]
        return [(e1, initial, self.max_lr), (T - 1, self.max_lr, final)]

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        # Held from the last update on: torch's own step-T value (the anneal continued past
        # its end) is set only after the last update, so no update ever applies it.
        tc = xp.minimum(t, ctx.const(self.total_steps - 1))
        phases = self._phases()
        anneal = _math.cos_mix if self.anneal == "cos" else _math.lerp
        start = 0.0
        pieces = []
        for end, a, b in phases:
            # Phase ends such as pct_start*T - 1 are fractional: measure from both ends with
            # the constant split, so near a phase end the remaining part stays precise.
            num, rest = _math.sub(ctx, tc, start), -_math.sub(ctx, tc, end)
            pieces.append((end, anneal(ctx, a, b, num, end - start, rest=rest)))
            start = end
        # The last phase takes every step past the earlier ends, as in torch.
        out = pieces[-1][1]
        for end, val in reversed(pieces[:-1]):
            # For integer steps, t <= end is t <= floor(end): exact in any dtype.
            limit = ctx.const(math.floor(end)) if ctx.is_int(tc) else end
            out = xp.where(tc <= limit, val, out)
        return out

    def _flat_from(self) -> float:
        return self.total_steps - 1

    def _points(self, until: float) -> Iterable[float]:
        return [math.floor(e) + 1 for e, _, _ in self._phases()[:-1]] + [self.total_steps]


one_cycle = OneCycle


@register("cyclic")
class Cyclic(Schedule):
    r"""Cyclical learning rate (CLR): triangle waves between ``base_lr`` and ``max_lr``.

    A cycle lasts ``up + down`` steps (``down`` defaults to ``up``): ``x = t mod (up+down)``,
    ``scale = x/up`` while rising (``x <= up``), else ``(up + down - x)/down``;
    ``lr = base_lr + (max_lr - base_lr) * scale * f``, with ``f = 1`` (``triangular``),
    ``1/2**(cycle-1)`` (``triangular2``, ``cycle`` counted from 1) or ``gamma**t``
    (``exp_range``). torch: ``CyclicLR(base_lr, max_lr, step_size_up, step_size_down,
    mode, gamma)`` — its lr exactly; its momentum cycle is the inverted ``cyclic`` from
    ``max_momentum`` to ``base_momentum`` (``lrsched_torch.from_torch(s, field="momentum")``
    returns it). As in torch,
    ``max_lr < base_lr`` gives an inverted cycle and ``step_size_down=0`` a sawtooth (the
    lr drops back at once). Optax: none. No horizon.

    Ranges: ``base_lr``, ``max_lr`` lrs; ``step_size_up`` a length; ``step_size_down`` 0 or a
    length (default ``step_size_up``); ``gamma`` in ``(0, 1]``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.cyclic(base_lr=0.0, max_lr=1.0, step_size_up=2, mode="triangular2")
    >>> [float(s(t)) for t in range(9)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.25, 0.5, 0.25, 0.0]
    """

    base_lr: float = arg(validate.lr)
    max_lr: float = arg(validate.lr)
    step_size_up: float = arg(validate.duration, default=2000)
    step_size_down: float | None = arg(validate.duration, default=None, optional=True, zero=True)
    mode: str = arg(validate.choice, default="triangular", options=("triangular", "triangular2", "exp_range"))
    gamma: float = arg(validate.decay_factor, default=1.0)

    def _check(self) -> None:
        if self.step_size_down is None:
            self._set(step_size_down=self.step_size_up)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        assert self.step_size_down is not None
        up, down = float(self.step_size_up), float(self.step_size_down)
        cycle, x = _math.floor_divmod(ctx, t, up + down)
        with _math.quiet(xp):  # step_size_down=0: the falling branch is never selected
            scale = xp.where(x <= up, x / up, (up + down - x) / (down or 1.0))
        # Never outside [base_lr, max_lr], also where a float phase is blurred by rounding.
        scale = xp.clip(scale, 0.0, 1.0)
        if self.mode == "triangular2":
            scale = scale * _math.pow_int(ctx, 0.5, cycle)
        elif self.mode == "exp_range":
            scale = scale * _math.pow_int(ctx, self.gamma, t)
        return self.base_lr + (self.max_lr - self.base_lr) * scale

    def _periodic(self) -> tuple[int, int] | None:
        assert self.step_size_down is not None
        period = float(self.step_size_up + self.step_size_down)
        if self.mode != "triangular" or not period.is_integer():
            return None
        return 0, int(period)

    def _points(self, until: float) -> Iterable[float]:
        assert self.step_size_down is not None
        period = self.step_size_up + self.step_size_down
        return multiples(period, until, self.step_size_up) + multiples(period, until, period)


cyclic = Cyclic


@register("inverse_sqrt")
class InverseSqrt(Schedule):
    r"""Linear warm-up, then inverse-square-root decay.

    ``lr(t) = init_lr + (peak_lr - init_lr) * t / W`` for ``t < W``, then
    ``peak_lr * sqrt(timescale / (t - W + timescale))`` (``timescale`` defaults to ``W``,
    giving ``peak_lr * sqrt(W / t)``, the Transformer/"Noam" rule). Hugging Face:
    ``get_inverse_sqrt_schedule(num_warmup_steps, timescale)`` in multiplier mode.
    torch, Optax: none. No horizon.

    Ranges: ``peak_lr``, ``init_lr`` lrs; ``warmup_steps`` a count ``>= 0``; ``timescale`` a
    length (required when ``warmup_steps`` is 0).

    >>> import lrsched_jax as lrs
    >>> s = lrs.inverse_sqrt(peak_lr=1.0, warmup_steps=4)
    >>> [round(float(s(t)), 4) for t in (0, 2, 4, 16)]
    [0.0, 0.5, 1.0, 0.5]
    """

    peak_lr: float = arg(validate.lr)
    warmup_steps: int = arg(validate.steps, minimum=0)
    timescale: float | None = arg(validate.duration, default=None, optional=True)
    init_lr: float = arg(validate.lr, default=0.0)

    def _check(self) -> None:
        if self.timescale is None:
            if self.warmup_steps == 0:
                raise ValueError(f"{here()}: timescale must be given (> 0) when warmup_steps is 0")
            self._set(timescale=self.warmup_steps)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        assert self.timescale is not None
        W, ts = self.warmup_steps, float(self.timescale)
        shifted = ctx.to_float(xp.maximum(t - ctx.const(W), 0))
        decay = self.peak_lr * xp.sqrt(ts / (shifted + ts))
        return _after_warmup(ctx, t, W, lambda: _ramp(ctx, t, self.init_lr, self.peak_lr, W), decay)

    def _points(self, until: float) -> Iterable[float]:
        return (self.warmup_steps,)


inverse_sqrt = InverseSqrt


@register("warmup_stable_decay")
class WarmupStableDecay(_HeldFromLastPoint):
    r"""Warm-up, stable, decay (WSD, "trapezoidal"), with timm's stable and decay shapes.

    Linear warm-up ``init_lr -> peak_lr`` over ``W`` steps; then the stable value ``S(t)``
    until ``T - D``; then the decay to ``min_lr`` over the last ``D`` steps,
    ``lr = min_lr + (S(t) - min_lr) * g(u)`` with ``u = (t - (T - D)) / D`` the fraction of the
    decay done; ``min_lr`` from ``T`` on (``g(1) = 0``).

    Stable shapes (``stable``), with ``t_s = t - W`` and ``tau = stable_timescale``:

    * ``"constant"`` (default): ``S = peak_lr`` (the WSD shape);
    * ``"rsqrt"``: ``S = max(peak_lr * (1 + t_s/tau) ** -0.5, min_lr)`` (Big Vision's
      reciprocal square root; with a linear decay, its cooldown);
    * ``"power"``: ``S = max(peak_lr * (1 + t_s/tau) ** -stable_power, min_lr)``.

    A decaying ``S`` keeps decaying through the decay phase (it multiplies ``g``) and is kept at
    or above ``min_lr``; ``tau`` defaults to ``W`` (required when ``W = 0``).

    Decay shapes (``decay``): ``linear`` ``g = 1 - u``; ``cosine`` ``(1 + cos(pi*u))/2``;
    ``1-sqrt`` ``1 - sqrt(u)``; ``power`` ``1 - u**decay_power``; ``exp``
    ``(r**u - r) / (1 - r)`` with ``r = decay_ratio`` (an exponential decay to ``r`` of the
    stable value, normalised to end at ``min_lr``). Boundaries: ``S`` holds at ``t = T - D``
    (``g(0) = 1``), the warm-up ends at ``init_lr + (peak_lr - init_lr) * (W-1)/W`` and step
    ``W`` is ``S(W) = peak_lr``. With ``stable="constant"`` and ``min_lr > peak_lr`` the "decay"
    rises to ``min_lr`` (no floor: the shape of earlier releases).

    Hugging Face: ``get_wsd_schedule``. timm: ``WSDLRScheduler`` after its warm-up prefix
    (``lrsched_torch.from_timm``). torch, Optax: none (compose it with ``sequence``).
    float32: the stable factor is raised as a pair (``tau/(t_s + tau)`` from Dekker's
    division, :func:`~lrsched_jax.core._math.powr_pair`), ``1 - u**decay_power`` from a pair
    log and ``expm1`` series, and ``exp`` as ``r**u * (1 - r**(1 - u)) / (1 - r)`` and
    ``(1 - r**u) / (1 - r)``: no cancellation in either weight.

    Ranges: ``peak_lr``, ``min_lr``, ``init_lr`` lrs; ``total_steps``, ``decay_steps`` counts
    ``>= 1``, ``warmup_steps`` a count ``>= 0``, ``warmup_steps + decay_steps <= total_steps``;
    ``stable_timescale`` a length (``rsqrt``/``power`` only); ``stable_power`` (``power``
    only) and ``decay_power`` (``decay="power"`` only) in ``(0, 1000]``; ``decay_ratio`` in
    ``(0, 1)`` (``decay="exp"`` only).

    >>> import lrsched_jax as lrs
    >>> s = lrs.warmup_stable_decay(peak_lr=1.0, total_steps=8, warmup_steps=2, decay_steps=4)
    >>> [float(s(t)) for t in range(9)]
    [0.0, 0.5, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
    >>> r = lrs.warmup_stable_decay(1.0, 8, 2, 4, stable="rsqrt")
    >>> [round(float(r(t)), 4) for t in range(2, 9)]
    [1.0, 0.8165, 0.7071, 0.4743, 0.2887, 0.1336, 0.0]
    """

    peak_lr: float = arg(validate.lr)
    total_steps: int = arg(validate.steps)
    warmup_steps: int = arg(validate.steps, minimum=0)
    decay_steps: int = arg(validate.steps)
    decay: str = arg(
        validate.choice, default="linear", options=("linear", "cosine", "1-sqrt", "power", "exp")
    )
    min_lr: float = arg(validate.lr, default=0.0)
    init_lr: float = arg(validate.lr, default=0.0)
    stable: str = arg(validate.choice, default="constant", options=("constant", "rsqrt", "power"))
    stable_timescale: float | None = arg(validate.duration, default=None, optional=True)
    stable_power: float = arg(validate.positive, default=0.5, maximum=_MAX_POWER)
    decay_power: float = arg(validate.positive, default=0.5, maximum=_MAX_POWER)
    decay_ratio: float = arg(validate.real, default=0.1, lo=0.0, hi=1.0, lo_open=True, hi_open=True)

    def _check(self) -> None:
        warm, dec, total = self.warmup_steps, self.decay_steps, self.total_steps
        if warm + dec > total:
            raise ValueError(
                f"{here()}: warmup_steps + decay_steps must be <= total_steps ({total}), got {warm} + {dec}"
            )
        only = (
            ("stable_power", 0.5, self.stable == "power", "stable='power'"),
            ("decay_power", 0.5, self.decay == "power", "decay='power'"),
            ("decay_ratio", 0.1, self.decay == "exp", "decay='exp'"),
        )
        for name, default, used, what in only:
            if not used and getattr(self, name) != default:
                raise ValueError(f"{here()}: {name} applies to {what} only, got {getattr(self, name)!r}")
        if self.stable == "constant":
            if self.stable_timescale is not None:
                raise ValueError(
                    f"{here()}: stable_timescale applies to stable='rsqrt' or 'power' only, "
                    f"got {self.stable_timescale!r}"
                )
        elif self.stable_timescale is None:
            if warm == 0:
                raise ValueError(
                    f"{here()}: stable_timescale must be given (a length > 0) when stable="
                    f"{self.stable!r} and warmup_steps is 0 (it defaults to warmup_steps)"
                )
            self._set(stable_timescale=warm)

    def _stable_lr(self, ctx: Ctx, t: Any) -> Any:
        """``max(peak_lr * (tau / (t_s + tau)) ** p, min_lr)``; float32 forms the quotient as a
        pair (the steps ``t_s`` exact, ``tau`` with its float32 remainder) and raises it by
        :func:`~lrsched_jax.core._math.powr_pair` (a power of a rounded quotient, or
        ``exp(-p*log1p(q))``, loses ``p*log(1 + q)`` times its rounding: ~18 ulps at 10**6)."""
        xp = ctx.xp
        assert self.stable_timescale is not None
        tau = float(self.stable_timescale)
        p = 0.5 if self.stable == "rsqrt" else self.stable_power
        ts = xp.maximum(t - ctx.const(self.warmup_steps), 0)
        if ctx.dtype == xp.float64:
            f = xp.exp(-p * xp.log1p(ctx.to_float(ts) / tau))
            return xp.maximum(self.peak_lr * f, self.min_lr)
        yh, yl = _math.int_pair(ctx, ts) if ctx.is_int(ts) else (ctx.to_float(ts), 0.0)
        tau32 = _f32(tau)
        nh, nl = _math._two_sum(yh, ctx.full(yh, tau32))
        nh, nl = _math._fast2sum(nh, nl + (yl + (tau - tau32)))  # t_s + tau = nh + nl
        xh = tau32 / nh
        prod, err = _math._two_prod(xh, nh)
        xl = ((((tau32 - prod) - err) + (tau - tau32)) - xh * nl) / nh
        fh, fl = _math.powr_pair(ctx, xh, xl, 1.0, p)
        return xp.maximum(_math.mix(ctx, self.peak_lr, fh, self.peak_lr, fl), self.min_lr)

    def _weights(self, ctx: Ctx, u: Any, rest: Any) -> tuple[Any, Any]:
        """``(g, 1 - g)`` of ``decay="power"`` or ``"exp"`` for ``u`` steps done and ``rest``
        left of ``D``, each computed without cancellation."""
        xp = ctx.xp
        Df = float(self.decay_steps)
        f64 = ctx.dtype == xp.float64
        if self.decay == "power":
            q = self.decay_power
            if f64:
                v = (u / Df) ** q
                with _math.quiet(xp):
                    lc = xp.where(rest <= 0.5 * Df, xp.log1p(-rest / Df), xp.log(u / Df))
                return xp.where(v >= 0.5, -xp.expm1(q * lc), 1.0 - v), v
            vh, vl = _math.powr_pair(ctx, u, ctx.full(u, 0.0), Df, q)
            d32 = _f32(Df)
            xh = u / d32  # u / D as a pair (Dekker's remainder, D's own float32 remainder)
            prod, err = _math._two_prod(xh, d32, _math._split12(d32))
            xl = (((u - prod) - err) - xh * (Df - d32)) / d32
            with _math.quiet(xp):
                near = _math._one_minus_pow(xp, xp.where(xh > 0, xh, 1.0), xl, q)
            v = vh + vl
            return xp.where(v >= 0.5, near, (1.0 - vh) - vl), v
        L = -math.log(self.decay_ratio)  # r**x = exp(-x*L)
        k = 1.0 / -math.expm1(-L)  # 1 / (1 - r)
        c = L / Df
        return k * _math.exp_times(ctx, u, -c) * self._one_minus_exp(ctx, rest, c), k * self._one_minus_exp(
            ctx, u, c
        )

    @staticmethod
    def _one_minus_exp(ctx: Ctx, n: Any, c: float) -> Any:
        """``1 - exp(-n*c)`` for steps ``n >= 0``: float32 carries ``n*c`` as a pair, the
        ``expm1`` series where it is at most 0.75, else ``1 - exp`` (at most 0.47 cancels)."""
        xp = ctx.xp
        if ctx.dtype == xp.float64:
            return -xp.expm1(-n * c)
        hi, lo = _math._times(ctx, n, *_math._split12(c))
        small = -_math._expm1_pair(-xp.minimum(hi, 0.75), -lo)
        return xp.where(hi <= 0.75, small, 1.0 - xp.exp(-hi) * (1.0 - lo))

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        W, D, T = self.warmup_steps, self.decay_steps, self.total_steps
        u = ctx.to_float(xp.minimum(xp.maximum(t - ctx.const(T - D), 0), ctx.const(D)))
        Df = float(D)
        peak: Any = self.peak_lr if self.stable == "constant" else self._stable_lr(ctx, t)
        if self.decay == "linear":
            tail = _math.lerp(ctx, peak, self.min_lr, u, D)
        elif self.decay == "cosine":
            tail = _math.cos_mix(ctx, peak, self.min_lr, u, D)
        elif self.decay == "1-sqrt":
            root = xp.sqrt(u / Df)
            keep = ((Df - u) / Df) / (1 + root)  # 1 - sqrt(u/D), without cancellation
            tail = peak * keep + self.min_lr * root
        else:
            rest = ctx.to_float(xp.minimum(xp.maximum(ctx.const(T) - t, 0), ctx.const(D)))
            g, done = self._weights(ctx, u, rest)
            tail = _math.mix(ctx, peak, g, self.min_lr, done)
        held = ctx.full(t, peak) if self.stable == "constant" else peak
        out = xp.where(t < ctx.const(T - D), held, tail)
        return _after_warmup(ctx, t, W, lambda: _ramp(ctx, t, self.init_lr, self.peak_lr, W), out)

    def _points(self, until: float) -> Iterable[float]:
        T, D = self.total_steps, self.decay_steps
        return (self.warmup_steps, T - D, T)


warmup_stable_decay = WarmupStableDecay


@register("piecewise_constant")
class PiecewiseConstant(_HeldFromLastPoint):
    r"""Piecewise constant: ``values[i]`` for ``boundaries[i-1] <= t < boundaries[i]``.

    ``len(values) == len(boundaries) + 1``; boundaries strictly increasing. torch:
    ``MultiStepLR``/``ConstantLR`` are special cases. Optax:
    ``piecewise_constant_schedule(values[0], {b: values[i+1]/values[i]})`` (scales
    instead of values; the change happens at ``t >= b`` in both).

    Ranges: ``boundaries`` strictly increasing step positions in ``[0, 2**53]`` (may be empty);
    ``values`` lrs, one more than ``boundaries``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.piecewise_constant(boundaries=[2, 4], values=[1.0, 0.5, 0.1])
    >>> [float(s(t)) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.1]
    """

    boundaries: Sequence[float] = arg(validate.ordered_steps, strict=True, allow_empty=True)
    values: Sequence[float] = arg(validate.lr_list)

    def _check(self) -> None:
        need = len(self.boundaries) + 1
        if len(self.values) != need:
            got = len(self.values)
            raise ValueError(f"{here()}: values needs len(boundaries) + 1 = {need} entries, got {got}")

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        return _math.step_lookup(ctx, t, self.boundaries, self.values)

    def _points(self, until: float) -> Iterable[float]:
        return self.boundaries


piecewise_constant = PiecewiseConstant


@register("piecewise_linear")
class PiecewiseLinear(_HeldFromLastPoint):
    r"""Piecewise linear through the points ``(knots[i], values[i])``; flat outside them.

    Knots strictly increasing. Optax: ``piecewise_interpolate_schedule('linear', ...)``
    (scales instead of values). torch: ``LinearLR`` chained with ``SequentialLR``.

    Ranges: ``knots`` strictly increasing step positions in ``[0, 2**53]`` (at least one);
    ``values`` lrs, one per knot.

    >>> import lrsched_jax as lrs
    >>> s = lrs.piecewise_linear(knots=[0, 2, 6], values=[0.0, 1.0, 0.0])
    >>> [float(s(t)) for t in range(8)]
    [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    knots: Sequence[float] = arg(validate.ordered_steps, strict=True)
    values: Sequence[float] = arg(validate.lr_list)

    def _check(self) -> None:
        if len(self.values) != len(self.knots):
            need, got = len(self.knots), len(self.values)
            raise ValueError(f"{here()}: values needs one entry per knot ({need}), got {got}")

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        if len(self.knots) == 1:
            return ctx.full(t, self.values[0])
        integral = (
            ctx.is_int(t)
            and all(float(k).is_integer() for k in self.knots)
            and isinstance(ctx.const(max(self.knots)), int)
        )
        kdt = t.dtype if integral else ctx.dtype
        knots = xp.asarray(self.knots, dtype=kdt)
        vals = xp.asarray(self.values, dtype=ctx.dtype)
        i = xp.clip(xp.searchsorted(knots, t, side="right") - 1, 0, len(self.knots) - 2)
        t0, t1 = xp.take(knots, i), xp.take(knots, i + 1)
        v0, v1 = xp.take(vals, i), xp.take(vals, i + 1)
        tt = t if integral else ctx.to_float(t)
        num = ctx.to_float(xp.minimum(xp.maximum(tt - t0, 0), t1 - t0))
        den = ctx.to_float(t1 - t0)
        # Two knots a float32 step cannot tell apart (2**31 - 1 and 2**31) give an empty
        # segment: the step is at its end, so it takes the later knot's value.
        seg = den > 0
        safe = xp.where(seg, den, 1.0)
        w0 = xp.where(seg, (den - num) / safe, 0.0)
        w1 = xp.where(seg, num / safe, 1.0)
        return v0 * w0 + v1 * w1

    def _points(self, until: float) -> Iterable[float]:
        return self.knots


piecewise_linear = PiecewiseLinear


@register("lr_range")
class LrRange(_HeldFromLastPoint):
    r"""The LR range test's sweep: ``start_lr`` at step 0 to ``end_lr`` at step ``N - 1``.

    ``exp``: ``start_lr * (end_lr / start_lr) ** (t / (N - 1))``; ``linear``:
    ``start_lr + (end_lr - start_lr) * t / (N - 1)``; held at ``end_lr`` after. The end lr
    *is* reached, at the last of the ``num_steps`` iterations (as in torch-lr-finder).

    Ranges: ``start_lr < end_lr``, both in ``[1e-30, 1e30]``, ``end_lr / start_lr <= 1e30``;
    ``num_steps`` a count ``>= 2``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.lr_range(start_lr=1e-3, end_lr=1.0, num_steps=4)
    >>> [round(float(s(t)), 6) for t in range(5)]
    [0.001, 0.01, 0.1, 1.0, 1.0]
    """

    start_lr: float = arg(validate.positive_lr, default=1e-7)
    end_lr: float = arg(validate.positive_lr, default=10.0)
    num_steps: int = arg(validate.steps, default=100, minimum=2)
    mode: str = arg(validate.choice, default="exp", options=("exp", "linear"))

    def _check(self) -> None:
        validate.sweep_ends(self.start_lr, self.end_lr)

    def upper_bound(self) -> float:
        return self.end_lr

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        last = self.num_steps - 1
        tc = ctx.xp.minimum(t, ctx.const(last))
        if self.mode == "linear":
            return _math.lerp(ctx, self.start_lr, self.end_lr, tc, last)
        return self.start_lr * _math.exp_times(ctx, tc, math.log(self.end_lr / self.start_lr) / last)

    def _points(self, until: float) -> Iterable[float]:
        return (self.num_steps - 1,)


lr_range = LrRange


@register("article_warmup_cosine")
class ArticleWarmupCosine(_HeldFromLastPoint):
    r"""The article's ``WarmupCosineSchedule``, exactly: epoch ``e`` (0-based).

    ``lr(e) = base_lr * (e + 1) / W`` for ``e < W`` (so ``base_lr`` is reached at
    ``e = W - 1``); else ``min_lr + (base_lr - min_lr) * (1 + cos(pi*(e - W)/(T - W))) / 2``;
    ``min_lr`` after ``T`` (the article never steps past ``T``). The warm-up differs from
    :class:`WarmupCosine`, which starts at ``init_lr`` and reaches the peak at ``W``.

    Ranges: ``base_lr``, ``min_lr`` lrs; ``warmup_epochs`` a count ``>= 0`` and
    ``< total_epochs``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.article_warmup_cosine(base_lr=1.0, warmup_epochs=2, total_epochs=4)
    >>> [round(float(s(e)), 6) for e in range(5)]
    [0.5, 1.0, 1.0, 0.5, 0.0]
    """

    base_lr: float = arg(validate.lr)
    warmup_epochs: int = arg(validate.steps, minimum=0, unit="epochs")
    total_epochs: int = arg(validate.steps, unit="epochs")
    min_lr: float = arg(validate.lr, default=0.0)

    def _check(self) -> None:
        _warmup_before_total(self, "warmup_epochs", "total_epochs")

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        W, T = self.warmup_epochs, self.total_epochs
        decay = _cos_window(ctx, t, self.base_lr, self.min_lr, start=W, length=T - W)
        # the article's warm-up: (e + 1) / W, so base_lr is reached at e = W - 1 (and held
        # there for a fractional epoch in (W - 1, W), instead of overshooting base_lr)
        return _after_warmup(
            ctx,
            t,
            W,
            lambda: self.base_lr * (ctx.to_float(ctx.xp.minimum(t, ctx.const(W - 1)) + 1) / float(W)),
            decay,
        )

    def _points(self, until: float) -> Iterable[float]:
        return (self.warmup_epochs, self.total_epochs)


article_warmup_cosine = ArticleWarmupCosine


@register("article_one_cycle")
class ArticleOneCycle(_HeldFromLastPoint):
    r"""The article's ``OneCycleScheduler``, exactly: step ``s``, ``w = int(T * pct_start)``.

    ``start = max_lr / div_factor``, ``final = max_lr / final_div_factor``;
    ``lr = start + (max_lr - start) * s / w`` for ``s < w``, else
    ``final + (max_lr - final) * (1 + cos(pi * (s - w) / (T - w))) / 2``; ``final`` after
    ``T``. Differs from torch's :class:`OneCycle` (phase ends at ``pct_start*T - 1``, final
    lr ``start / final_div_factor``). Optax: ``cosine_onecycle_schedule`` has the same
    phase split but anneals the warm-up by cosine.

    Ranges: ``max_lr`` an lr; ``total_steps`` a count ``>= 1``; ``pct_start`` in ``(0, 1)``;
    ``div_factor``, ``final_div_factor`` ``> 0`` with ``max_lr / div_factor`` and
    ``max_lr / final_div_factor`` at most ``1e30``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.article_one_cycle(max_lr=1.0, total_steps=10)
    >>> [round(float(s(t)), 4) for t in (0, 3, 10)]
    [0.04, 1.0, 0.0001]
    """

    max_lr: float = arg(validate.lr)
    total_steps: int = arg(validate.steps)
    pct_start: float = arg(validate.real, default=0.3, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    div_factor: float = arg(validate.positive, default=25.0)
    final_div_factor: float = arg(validate.positive, default=1e4)

    def _check(self) -> None:
        _lr_within("div_factor", self.max_lr / self.div_factor, "the start lr max_lr / div_factor")
        final = self.max_lr / self.final_div_factor
        _lr_within("final_div_factor", final, "the final lr max_lr / final_div_factor")

    def upper_bound(self) -> float:
        return max(self.max_lr, self.max_lr / self.div_factor, self.max_lr / self.final_div_factor)

    @property
    def warmup_steps(self) -> int:
        return int(self.total_steps * self.pct_start)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        T, w = self.total_steps, self.warmup_steps
        start = self.max_lr / self.div_factor
        final = self.max_lr / self.final_div_factor
        decay = _cos_window(ctx, t, self.max_lr, final, start=w, length=T - w)
        return _after_warmup(ctx, t, w, lambda: _ramp(ctx, t, start, self.max_lr, w), decay)

    def _points(self, until: float) -> Iterable[float]:
        return (self.warmup_steps, self.total_steps)


article_one_cycle = ArticleOneCycle


def article_decay(base_lr: float = 0.1, gamma: float = 0.95) -> Exponential:
    """The article's demo decay ``0.1 * 0.95**epoch`` (an :class:`Exponential`).

    >>> import lrsched_jax as lrs
    >>> round(float(lrs.article_decay()(10)), 6)
    0.059874
    """
    return Exponential(base_lr=base_lr, gamma=gamma)


@register("inverse_time")
class InverseTime(Schedule):
    r"""Inverse-time decay: ``lr(t) = base_lr / (1 + rate * t / every)``.

    With ``staircase=True`` the quotient is ``floor(t / every)``. Keras:
    ``InverseTimeDecay(initial_learning_rate=base_lr, decay_steps=every, decay_rate=rate,
    staircase)``. torch, Optax: none. No horizon: it decays for ever (as ``1/t``).
    ``rate * t / every`` is carried as an unevaluated float32 pair (the product is never
    rounded as a whole), so float32 stays within a few ulps at any step.

    Ranges: ``base_lr`` an lr; ``rate`` in ``[0, 1e30]``; ``every`` a length.

    >>> import lrsched_jax as lrs
    >>> s = lrs.inverse_time(base_lr=1.0, rate=0.5, every=2)
    >>> [float(s(t)) for t in (0, 2, 4, 12)]
    [1.0, 0.6666666666666666, 0.5, 0.25]
    """

    base_lr: float = arg(validate.lr)
    rate: float = arg(validate.real, lo=0.0, hi=validate.MAX_LR)
    every: float = arg(validate.duration, default=1)
    staircase: bool = arg(validate.flag, default=False)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        if self.rate == 0.0:
            return ctx.full(t, self.base_lr)
        if self.staircase:
            k, _ = _math.floor_divmod(ctx, t, self.every)
            x, c = ctx.to_float(k), float(self.rate)
        else:
            x, c = ctx.to_float(t), self.rate / self.every
        if ctx.dtype == ctx.xp.float64:
            return self.base_lr / (1.0 + x * c)
        xp = ctx.xp
        with _math.quiet(xp):
            hi, lo = _math._times(ctx, x, *_math._split12(c))
            paired = self.base_lr / ((1.0 + hi) + lo)
            # rate * t near or past the float32 range, where the pair's sums overflow (inf -
            # inf): there 1 + x*c is x*c, one rounding, and the lr tends to 0
            plain = self.base_lr / (1.0 + x * c)
            return xp.where(xp.isfinite(hi) & xp.isfinite(lo), paired, plain)

    def _points(self, until: float) -> Iterable[float]:
        return multiples(self.every, until, self.every) if self.staircase else []


inverse_time = InverseTime


def _f32(x: float) -> float:
    """``x`` rounded to float32, on the host (a constant: no array, so nothing is traced)."""
    import struct

    return float(struct.unpack("f", struct.pack("f", x))[0])


@register("polynomial_cycle")
class PolynomialCycle(_PolynomialFields):
    r"""Polynomial decay restarted over ever longer horizons (Keras ``PolynomialDecay(cycle=True)``).

    With ``n = max(1, ceil(t / T))`` (the first multiple of ``T`` not below ``t``):
    ``lr(t) = end_lr + (init_lr - end_lr) * (1 - t / (n*T)) ** power``. Each multiple
    ``t = n*T`` reaches ``end_lr``; the next step jumps back up to about
    ``end_lr + (init_lr - end_lr) * (1/(n+1)) ** power`` and decays to ``end_lr`` again at
    ``(n+1)*T``. Keras: ``PolynomialDecay(init_lr, decay_steps=T, end_learning_rate=end_lr,
    power, cycle=True)``. torch, Optax: none. No horizon (``polynomial`` is the
    ``cycle=False`` form, held at ``end_lr`` after ``T``).

    The part left, ``n*T - t``, is exact in integers for whole steps and a whole ``T``; the
    quotient is carried as a float32 pair and raised by :func:`~lrsched_jax.core._math.powr_pair`,
    so float32 stays within a few ulps.

    Ranges: ``init_lr``, ``end_lr`` lrs; ``total_steps`` a count ``>= 1``; ``power`` in
    ``(0, 1000]``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.polynomial_cycle(init_lr=1.0, total_steps=2)
    >>> [float(s(t)) for t in range(7)]
    [1.0, 0.5, 0.0, 0.25, 0.0, 0.16666666666666666, 0.0]
    """

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        T = self.total_steps
        q, r = _math.floor_divmod(ctx, t, T)
        # n*T - t = T - r where r > 0, and 0 at the multiples themselves (n = q there, or 1 at 0)
        at_multiple = (r <= 0) & (q > 0)  # step 0 starts the first horizon (Keras: n = 1)
        left = xp.where(at_multiple, 0.0, float(T) - r)  # exact: r is exact for whole steps
        n = xp.where(at_multiple, ctx.to_float(q), ctx.to_float(q) + 1.0)
        if ctx.dtype == xp.float64:
            span = n * float(T)
            w = (left / span) ** self.power
            done = (span - left) / span  # t / (n*T): the part of the current horizon done
            with _math.quiet(xp):
                log_left = xp.where(done <= 0.5, xp.log1p(-done), xp.log(left / span))
            return self.init_lr * w + self.end_lr * -xp.expm1(self.power * log_left)
        # float32: n*T as an exact pair (it may pass 2**24) and the quotient left / (n*T)
        # corrected to first order in the pair's low part, then raised in pair arithmetic
        t32 = _f32(float(T))
        sh, sl = _math._two_prod(n, t32)
        sl = sl + n * (float(T) - t32)
        qh = left / sh
        # the remainder from Dekker's exact product: left - qh*sh is exact only where XLA
        # contracts it into an FMA (jitted), and 1 - q near the start needs every bit of it
        prod, err = _math._two_prod(qh, sh)
        # float(T) rounds to float32 above 2**24: its remainder keeps T - r whole (q <= 1)
        left_l = xp.where(left > 0, float(T) - t32, 0.0)
        ql = (((left - prod) - err) + left_l - qh * sl) / sh
        wh, wl = _math.powr_pair(ctx, qh, ql, 1.0, self.power)
        if self.end_lr == 0.0:
            return self.init_lr * wh + self.init_lr * wl
        # where w >= 1/2: -expm1(power*log(q)) with log and expm1 in pair arithmetic (XLA's
        # float32 log1p and expm1, 1.6 and 4.3 ulps off, gave 7 ulps where end_lr dominates)
        near_one = _math._one_minus_pow(xp, xp.where(qh > 0, qh, 1.0), ql, self.power)
        one_minus_w = xp.maximum(xp.where(wh >= 0.5, near_one, (1.0 - wh) - wl), 0.0)
        return _math.mix(ctx, self.init_lr, wh + wl, self.end_lr, one_minus_w)

    def _points(self, until: float) -> Iterable[float]:
        return multiples(self.total_steps, until, self.total_steps)


polynomial_cycle = PolynomialCycle


#: The widest ``lb``/``ub`` of :class:`DecayCycles`' tanh shape: ``(1 - tanh(x))/2`` is below
#: 1e-86 at ``x = 100`` and within 1e-86 of 1 at ``-100``; wider ends change nothing.
_MAX_TANH_END = 100.0


@register("decay_cycles")
class DecayCycles(Schedule):
    r"""A decay shape restarted in cycles: growing lengths, decaying peaks, a cycle limit.

    Cycle ``n`` (0-based) starts at ``S_n = T0 * (mult**n - 1) / (mult - 1)`` (``n*T0`` when
    ``mult == 1``) and lasts ``T_n = T0 * mult**n``. With the phase ``u = (t - S_n) / T_n``
    in ``[0, 1)``, warped as ``v = u**k``, and the cycle's peak ``p_n = base_lr *
    peak_decay**n``:

    * ``shape="cosine"``: ``lr = min_lr + (p_n - min_lr) * (1 + cos(pi * v)) / 2``;
    * ``shape="tanh"``: ``lr = min_lr + (p_n - min_lr) * (1 - tanh(lb*(1 - v) + ub*v)) / 2``
      (Hsueh et al. 2019; it starts just below ``p_n`` and ends just above ``min_lr``);
    * ``shape="polynomial"``: ``lr = min_lr + (p_n - min_lr) * (1 - v) ** power``.

    From cycle ``n = cycles`` on (``cycles`` not ``None``) the lr holds ``min_lr``; with
    ``cycles=None`` the restarts go on for ever. ``k`` is the k-decay time warp (Zhang &
    Li 2020): ``k > 1`` keeps the lr high for longer, ``k < 1`` drops it sooner.
    Boundary rule: the step ``t = S_n`` belongs to cycle ``n`` (it restarts at ``p_n``).
    Note the peak decays from ``base_lr`` itself, not from ``min_lr + (base_lr - min_lr) *
    peak_decay**n`` as in :class:`WarmRestarts`, so a decayed peak may fall below ``min_lr``
    (the cycle then rises from ``p_n`` to ``min_lr``); every value lies between ``p_n`` and
    ``min_lr``.

    timm: ``CosineLRScheduler``, ``TanhLRScheduler`` and ``PolyLRScheduler`` after their
    warm-up, with ``t_initial=T0``, ``cycle_mul=mult``, ``cycle_decay=peak_decay``,
    ``cycle_limit=cycles``, ``k_decay=k``, ``lr_min=min_lr``
    (:func:`lrsched_torch.from_timm` builds it). torch: ``cosine`` with ``cycles=None``,
    ``k=1`` and ``min_lr = 0`` or ``peak_decay = 1`` is ``CosineAnnealingWarmRestarts``
    (``warm_restarts``). Optax: none (``sgdr_schedule`` for the cosine, cycle by cycle).
    With ``mult > 1`` the cycle starts come from a float64 table (as in ``warm_restarts``),
    so restarts land on the same step in float32 and float64 (also for a fractional ``mult``:
    the steps done and left in a cycle are exact pairs). float32: the phase and its
    complement ``1 - v`` are each computed without cancellation and the tanh argument is
    carried as an unevaluated pair from the exact steps done and left, so float32 stays within 8
    ulps (the power of ``shape="polynomial"`` multiplies the rounding of ``1 - v`` by
    ``power``: drawn up to 2). With ``k != 1``, ``log(u)`` and ``k*log(u)`` are float32 pairs
    and ``1 - u**k`` their series ``expm1``, so the warped phase is rounded once, by ``exp``:
    at most 7.1 ulps measured for ``k`` in ``[0.01, 1000]`` (docs/precision.md).

    Ranges: ``base_lr``, ``min_lr`` lrs; ``first_period`` a length; ``period_mult`` 1 or in
    ``[1.001, 2**53]``; ``peak_decay`` in ``(0, 1]``, or growing peaks (timm's
    ``cycle_decay > 1``) up to :meth:`peak_decay_limit`, where the last peak before step 2**63
    (or cycle ``cycles``) stays at most ``1e30``; ``cycles`` a count ``>= 0`` or
    ``None``; ``k`` in ``(0, 1000]`` (not ``shape="tanh"``); ``power`` in ``(0, 1000]``
    (``shape="polynomial"`` only); ``lb < ub`` in ``[-100, 100]`` (``shape="tanh"`` only).

    >>> import lrsched_jax as lrs
    >>> s = lrs.decay_cycles(base_lr=1.0, first_period=4, cycles=2, peak_decay=0.5)
    >>> [round(float(s(t)), 4) for t in range(10)]
    [1.0, 0.8536, 0.5, 0.1464, 0.5, 0.4268, 0.25, 0.0732, 0.0, 0.0]
    >>> p = lrs.decay_cycles(base_lr=1.0, first_period=4, shape="polynomial", power=2.0, k=0.5)
    >>> [round(float(p(t)), 4) for t in range(5)]
    [1.0, 0.25, 0.0858, 0.0179, 1.0]
    """

    base_lr: float = arg(validate.lr)
    first_period: float = arg(validate.duration)
    shape: str = arg(validate.choice, default="cosine", options=("cosine", "tanh", "polynomial"))
    min_lr: float = arg(validate.lr, default=0.0)
    period_mult: float = arg(validate.real, default=1, lo=1.0, hi=validate.MAX_STEPS)
    peak_decay: float = arg(validate.positive, default=1.0)
    cycles: int | None = arg(validate.steps, default=None, optional=True, minimum=0, unit="cycles")
    k: float = arg(validate.positive, default=1.0, maximum=_MAX_POWER)
    power: float = arg(validate.positive, default=1.0, maximum=_MAX_POWER)
    lb: float = arg(validate.real, default=-7.0, lo=-_MAX_TANH_END, hi=_MAX_TANH_END)
    ub: float = arg(validate.real, default=3.0, lo=-_MAX_TANH_END, hi=_MAX_TANH_END)

    def _check(self) -> None:
        mult = self.period_mult
        if 1 < mult < 1.001:
            # The table of cycle starts up to step 2**63 would exceed ~37,000 cycles.
            raise ValueError(f"{here()}: period_mult must be 1 or >= 1.001, got {mult!r}")
        self._set(period_mult=int(mult) if mult.is_integer() else mult)
        if self.shape != "polynomial" and self.power != 1.0:
            raise ValueError(f"{here()}: power applies to shape='polynomial' only, got power={self.power!r}")
        if self.shape != "tanh" and (self.lb, self.ub) != (-7.0, 3.0):
            raise ValueError(
                f"{here()}: lb and ub apply to shape='tanh' only, got lb={self.lb!r}, ub={self.ub!r}"
            )
        if not self.lb < self.ub:
            raise ValueError(f"{here()}: lb must be < ub, got lb={self.lb!r}, ub={self.ub!r}")
        if self.shape == "tanh" and self.k != 1.0:
            # timm's tanh has no k-decay, and a warped phase would carry its float32 rounding
            # into the tanh argument times |2x| (tens of ulps): not within the contract
            raise ValueError(f"{here()}: k applies to shape='cosine' or 'polynomial' only, got k={self.k!r}")
        limit = self.peak_decay_limit(self.base_lr, self.first_period, self.period_mult, self.cycles)
        if self.peak_decay > limit:
            more = ""
            if limit > 1:
                more = f", or at most {limit!r} with these base_lr, first_period, period_mult and cycles"
            raise ValueError(
                f"{here()}: peak_decay must be in (0, 1]{more} (growing peaks: base_lr * peak_decay**"
                f"{self._last_peak(self.first_period, self.period_mult, self.cycles)} at the last "
                f"cycle before step 2**63 would exceed {validate.MAX_LR:g}), got {self.peak_decay!r}"
            )

    @staticmethod
    def _last_peak(first_period: float, period_mult: float, cycles: int | None) -> int:
        """The index of the last cycle whose peak is drawn: the one holding step 2**63, or
        ``cycles - 1`` (later ones hold ``min_lr``)."""
        if period_mult == 1:
            last = math.floor(2.0**63 / first_period)
        else:
            last = len(_restart_table(first_period, period_mult)[0]) - 1
        return last if cycles is None else max(min(last, cycles - 1), 0)

    @classmethod
    def peak_decay_limit(
        cls, base_lr: float, first_period: float, period_mult: float = 1, cycles: int | None = None
    ) -> float:
        """The largest ``peak_decay`` accepted with these arguments: the growth whose last peak
        (:meth:`_last_peak`), and the factor ``peak_decay**n`` alone, reach ``1e30``, less a
        relative ``1e-12``; ``inf`` when only cycle 0 is drawn."""
        return max(1.0, _growth_limit(base_lr, cls._last_peak(first_period, period_mult, cycles)))

    def upper_bound(self) -> float:
        last = self._last_peak(self.first_period, self.period_mult, self.cycles)
        if self.peak_decay <= 1.0 or last == 0:
            return max(self.base_lr, self.min_lr)
        return max(self.min_lr, self.base_lr * self.peak_decay**last * (1 + 1e-12))

    @functools.cached_property
    def _table(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return _restart_table(self.first_period, self.period_mult, self.cycles)

    def _cycle(self, ctx: Ctx, t: Any, scale: float, pairs: bool = False) -> tuple[Any, Any, Any, Any, Any]:
        """Cycle index ``n`` (float), the steps done ``cur`` and left ``rest`` in it (float32
        pairs with ``pairs``), its length, and ``scale / length`` as a float32 split pair
        (``None`` in float64)."""
        table = None if self.period_mult == 1 else self._table
        return _cycle_position(ctx, t, self.first_period, table, scale, pairs)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        scale = math.pi / 2 if self.shape == "cosine" else 1.0
        # float32 steps done and left as exact pairs where their rounding would be amplified:
        # by the warp u**k, or by |2x| in the tanh argument (with fractional restarts)
        pairs = ctx.dtype != xp.float64 and (self.k != 1.0 or self.shape == "tanh")
        n, cur, rest, length, per = self._cycle(ctx, t, scale, pairs=pairs)
        peak: Any = self.base_lr
        if self.peak_decay != 1.0:
            drawn = n
            if self.peak_decay > 1.0 and self.cycles is not None:
                # past the last drawn cycle (held at min_lr) a growing peak could overflow
                drawn = xp.minimum(n, float(max(self.cycles - 1, 0)))
            peak = self.base_lr * _math.exp_times(ctx, drawn, math.log(self.peak_decay))
        if self.shape == "cosine" and self.k == 1.0:
            out = _math.cos_mix(ctx, peak, self.min_lr, cur, length, per, rest=rest)
        else:
            if pairs and self.k != 1.0:
                v, w = self._warp32(ctx, n, cur, rest, length)
            elif pairs:  # the float32 tanh works from cur and rest (see _tanh)
                v = w = None
            elif self.k == 1.0:
                v, w = cur / length, rest / length  # phase and its complement, each rounded once
            else:
                u, s = cur / length, rest / length
                with _math.quiet(xp):
                    log_u = xp.where(s <= 0.5, xp.log1p(-s), xp.log(u))  # accurate near u = 1
                    v = xp.exp(self.k * log_u)
                    w = -xp.expm1(self.k * log_u)
            if self.shape == "cosine":
                out = _math.cos_mix(ctx, peak, self.min_lr, v, 1.0, rest=w)
            elif self.shape == "polynomial":
                out = _powered_mix(ctx, peak, self.min_lr, w, v, self.power)
            else:
                out = self._tanh(ctx, peak, n, steps=(cur, rest), weights=(v, w))
        if self.cycles is not None:
            out = xp.where(n >= self.cycles, self.min_lr, out)
        return out

    def _warp32(self, ctx: Ctx, n: Any, cur: Any, rest: Any, length: Any) -> tuple[Any, Any]:
        """float32 ``v = u**k`` and ``w = 1 - u**k`` from the steps done and left (pairs).

        The smaller of ``u`` and ``1 - u`` is a pair (Dekker's exact product gives the
        remainder of the quotient by the float32 length, the length's own remainder is
        subtracted too), ``log(u)`` is a pair from it (:func:`~lrsched_jax.core._math._log_pair`
        of ``u`` or of ``1 - s``: XLA's ``log``/``log1p``, 1-2 ulps off, would be doubled by the
        cosine), ``a = k*log(u)`` is a pair too, ``v`` is ``exp`` of that pair
        and, where ``v >= 1/2``, ``w = -expm1(a)`` by the series of
        :func:`~lrsched_jax.core._math._expm1_pair` (``|a| <= log 2`` there; elsewhere ``1 - v``
        does not cancel). Kahan's ``(exp(a) - 1) * a / log(exp(a))`` would not do: XLA folds
        ``log(exp(a))`` into ``a`` under ``jit``, which leaves the cancelling ``exp(a) - 1``.
        """
        xp = ctx.xp
        near_end = rest[0] < cur[0]
        x = xp.where(near_end, rest[0], cur[0])
        if isinstance(length, float):
            d: Any = _f32(length)
            dl: Any = length - d
            prod, err = _math._two_prod(x / d, d, _math._split12(d))
        else:
            d = length
            lows = [L - _f32(L) for L in self._table[1]]
            dl = xp.take(xp.asarray(lows, dtype=ctx.dtype), xp.astype(n, xp.int32))
            prod, err = _math._two_prod(x / d, d)
        xh = x / d
        xl = ((((x - prod) - err) + xp.where(near_end, rest[1], cur[1])) - xh * dl) / d
        # log(u) as a pair: of 1 - s near the end (1 - xh and the rest are exact, xh <= 1/2),
        # of u near the start (u = 0 masked: v = 0 there)
        oh = 1.0 - xh
        ol = ((1.0 - oh) - xh) - xl
        zero = ~near_end & (xh <= 0.0)
        h = xp.where(near_end, oh, xp.where(zero, 1.0, xh))
        ah, al = _math._scaled_log_pair(xp, h, xp.where(near_end, ol, xl), self.k)
        with _math.quiet(xp):
            v = xp.where(zero, 0.0, xp.exp(ah) * (1.0 + al))
            # the series is for -0.75 <= a <= 0; it is used only where a >= -log 2
            near_one = -_math._expm1_pair(xp.maximum(ah, -0.75), al)
        w = xp.where(v >= 0.5, near_one, 1.0 - v)
        return v, w

    def _tanh(self, ctx: Ctx, peak: Any, n: Any, *, steps: tuple[Any, Any], weights: tuple[Any, Any]) -> Any:
        """``(1 - tanh(x))/2 = 1/(1 + exp(2x))`` and its complement ``1/(1 + exp(-2x))``, with
        ``x = lb*(1 - u) + ub*u``: no cancellation in either weight (``1 - tanh`` cancels for
        ``x > 0``). In float32 the argument ``2x = cur*(2ub/T_n) + rest*(2lb/T_n)`` is a pair
        ``hi + lo`` (no product rounded as a whole: the rounding of ``u`` would be multiplied
        by ``|2x|``, tens of ulps) and ``exp(2x) = exp(hi)*(1 + lo)``. ``steps``: the cycle's
        steps done and left, ``(cur, rest)``; ``weights``: their fractions ``(v, w)``."""
        (cur, rest), (v, w) = steps, weights
        xp = ctx.xp
        lb2, ub2 = 2.0 * self.lb, 2.0 * self.ub
        if ctx.dtype == xp.float64:
            z = lb2 * w + ub2 * v
            with _math.quiet(xp):
                up, down = xp.exp(z), xp.exp(-z)
        else:
            if self.period_mult == 1:
                T = float(self.first_period)
                ku, kl = _math._split12(ub2 / T), _math._split12(lb2 / T)
            else:
                lengths = self._table[1]
                idx = xp.astype(n, xp.int32)

                def take(values: Any) -> Any:
                    return xp.take(xp.asarray(values, dtype=ctx.dtype), idx)

                ku1, ku2 = _math.split_table([ub2 / x for x in lengths])
                kl1, kl2 = _math.split_table([lb2 / x for x in lengths])
                ku, kl = (take(ku1), take(ku2)), (take(kl1), take(kl2))
            # cur and rest are pairs (hi, lo); the low parts enter to first order
            h1, l1 = _math._times(ctx, cur[0], *ku)
            h2, l2 = _math._times(ctx, rest[0], *kl)
            l1 = l1 + cur[1] * (ku[0] + ku[1])
            l2 = l2 + rest[1] * (kl[0] + kl[1])
            hi = h1 + h2
            lo = (l1 + l2) + xp.where(xp.abs(h1) >= xp.abs(h2), (h1 - hi) + h2, (h2 - hi) + h1)
            with _math.quiet(xp):
                up, down = xp.exp(hi) * (1.0 + lo), xp.exp(-hi) * (1.0 - lo)
        return _math.mix(ctx, peak, 1.0 / (1.0 + up), self.min_lr, 1.0 / (1.0 + down))

    def _periodic(self) -> tuple[int, int] | None:
        P = float(self.first_period)
        if self.period_mult != 1 or self.peak_decay != 1.0 or self.cycles is not None or not P.is_integer():
            return None
        return 0, int(P)

    def _flat_from(self) -> float | None:
        if self.cycles is None:
            return None
        starts = self._table[0]
        return starts[self.cycles] if self.cycles < len(starts) else None

    def _points(self, until: float) -> Iterable[float]:
        if self.period_mult == 1:
            end = until if self.cycles is None else min(until, self.cycles * self.first_period)
            return multiples(self.first_period, end, self.first_period)
        return [s for s in self._table[0][1:] if s <= until]


decay_cycles = DecayCycles


if not TYPE_CHECKING:
    # The registry lists the factories; mypy, which cannot read a computed __all__, reads
    # the bindings beside each class instead (see lrsched_jax.core's docstring).
    __all__ = [*factory_names(__name__), "article_decay"]
