r"""The schedule families: one small immutable class per schedule, each a pure ``step -> lr``.

Every class is registered under the snake_case name used in configs and the CLI; the
snake_case factory (``lrs.cosine``) is the class itself. Notation in the docstrings:
``t`` is the step (update number, 0-based), ``T`` a horizon in steps.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from collections.abc import Sequence as SequenceOf
from typing import Any

from lrsched_jax.core import _math as m
from lrsched_jax.core import validate as V
from lrsched_jax.core._math import Ctx
from lrsched_jax.core.schedule import Schedule, multiples, register

__all__ = [
    "Constant",
    "StepDecay",
    "MultiStep",
    "Exponential",
    "Linear",
    "Polynomial",
    "Cosine",
    "WarmRestarts",
    "WarmupCosine",
    "OneCycle",
    "Cyclic",
    "InverseSqrt",
    "WarmupStableDecay",
    "PiecewiseConstant",
    "PiecewiseLinear",
    "LrRange",
    "ArticleWarmupCosine",
    "ArticleOneCycle",
    "article_decay",
]


def _ramp(ctx: Ctx, t: Any, init: float, peak: float, steps: float) -> Any:
    """Linear warm-up value ``init -> peak`` over ``steps`` (valid for ``t <= steps``)."""
    return m.lerp(ctx, init, peak, ctx.xp.minimum(t, ctx.c(steps)), steps)


def _after_warmup(ctx: Ctx, t: Any, warmup: int, ramp: Callable[[], Any], rest: Any) -> Any:
    """``ramp()`` for ``t < warmup``, ``rest`` after (no ramp at all when ``warmup == 0``)."""
    if warmup == 0:
        return rest
    return ctx.xp.where(t < ctx.c(warmup), ramp(), rest)


def _warmup_and_total(where: str, warm_name: str, warm: Any, total_name: str, total: Any) -> tuple[int, int]:
    """Validated ``(warmup, total)`` step counts with ``0 <= warmup < total``."""
    total_v = V.steps(where, total_name, total)
    warm_v = V.steps(where, warm_name, warm, minimum=0)
    if warm_v >= total_v:
        raise ValueError(f"{where}: {warm_name} must be < {total_name} ({total_v}), got {warm!r}")
    return warm_v, total_v


@register("constant")
class Constant(Schedule):
    """``lr(t) = value`` for every step.

    torch: a plain optimizer lr (no scheduler). Optax: ``constant_schedule(value)``.

    >>> import lrsched_jax as lrs
    >>> float(lrs.constant(0.1)(12345))
    0.1
    """

    value: float

    def __post_init__(self) -> None:
        self._set(value=V.lr(self._where, "value", self.value))

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        return ctx.full(t, self.value)


@register("step_decay")
class StepDecay(Schedule):
    r"""Step decay: ``lr(t) = base_lr * gamma ** floor(t / step_size)``.

    torch: ``StepLR(step_size, gamma)`` (identical values). Optax:
    ``exponential_decay(base_lr, step_size, gamma, staircase=True)``.
    Defined for every ``t >= 0`` (no horizon). Fractional ``step_size`` is allowed.

    >>> import lrsched_jax as lrs
    >>> s = lrs.step_decay(base_lr=1.0, step_size=30, gamma=0.1)
    >>> [round(float(s(t)), 6) for t in (0, 29, 30, 59, 60)]
    [1.0, 1.0, 0.1, 0.1, 0.01]
    """

    base_lr: float
    step_size: float
    gamma: float = 0.1

    def __post_init__(self) -> None:
        w = self._where
        self._set(
            base_lr=V.lr(w, "base_lr", self.base_lr),
            step_size=V.duration(w, "step_size", self.step_size),
            gamma=V.positive(w, "gamma", self.gamma),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        k, _ = m.floor_divmod(ctx, t, self.step_size)
        return self.base_lr * m.pow_int(ctx, self.gamma, k)

    def _points(self, until: float) -> Iterable[float]:
        return multiples(self.step_size, until, self.step_size)


@register("multistep")
class MultiStep(Schedule):
    r"""Multi-step decay: ``lr(t) = base_lr * gamma ** #{milestones <= t}``.

    torch: ``MultiStepLR(milestones, gamma)``; a milestone listed twice decays twice, as
    in torch. Optax: ``piecewise_constant_schedule`` with scale ``gamma`` at each milestone.
    Milestones must be sorted (non-decreasing) whole steps ``>= 0``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.multistep(base_lr=1.0, milestones=[2, 4, 4], gamma=0.5)
    >>> [float(s(t)) for t in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.125, 0.125]
    """

    base_lr: float
    milestones: SequenceOf[int]
    gamma: float = 0.1

    def __post_init__(self) -> None:
        w = self._where
        self._set(
            base_lr=V.lr(w, "base_lr", self.base_lr),
            milestones=V.ordered_steps(w, "milestones", self.milestones, strict=False, integer=True),
            gamma=V.positive(w, "gamma", self.gamma),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        values = tuple(self.base_lr * self.gamma**i for i in range(len(self.milestones) + 1))
        return m.step_lookup(ctx, t, self.milestones, values)

    def _points(self, until: float) -> Iterable[float]:
        return self.milestones


@register("exponential")
class Exponential(Schedule):
    r"""Exponential decay: ``lr(t) = max(base_lr * gamma ** (t / every), min_lr)``.

    With ``staircase=True`` the exponent is ``floor(t / every)``. torch:
    ``ExponentialLR(gamma)`` is ``every=1``. Optax: ``exponential_decay(base_lr,
    transition_steps=every, decay_rate=gamma, staircase=staircase, end_value=min_lr)``.
    ``gamma**k`` is computed as ``exp(k*log(gamma))`` split so that float32 stays within a
    few ulps at any step (Optax raises a float32 ``gamma`` to the power, which drifts).
    The staircase exponent is an exact floor (Optax computes ``floor(count *
    (1/transition_steps))`` after XLA's rewrite of the division, and for about one in eight
    values of ``transition_steps`` decays one step late at exact multiples).
    No horizon: it decays for ever, floored at ``min_lr``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.exponential(base_lr=0.1, gamma=0.95)
    >>> [round(float(s(t)), 6) for t in (0, 1, 10)]
    [0.1, 0.095, 0.059874]
    """

    base_lr: float
    gamma: float
    every: float = 1
    staircase: bool = False
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        w = self._where
        self._set(
            base_lr=V.lr(w, "base_lr", self.base_lr),
            gamma=V.positive(w, "gamma", self.gamma),
            every=V.duration(w, "every", self.every),
            staircase=V.flag(w, "staircase", self.staircase),
            min_lr=V.lr(w, "min_lr", self.min_lr),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        if self.staircase:
            k, _ = m.floor_divmod(ctx, t, self.every)
            val = m.pow_int(ctx, self.gamma, k)
        else:
            val = m.exp_times(ctx, t, math.log(self.gamma) / self.every)
        out = self.base_lr * val
        if self.min_lr > 0:
            out = ctx.xp.maximum(out, self.min_lr)
        return out

    def _points(self, until: float) -> Iterable[float]:
        return multiples(self.every, until, self.every) if self.staircase else []


@register("linear")
class Linear(Schedule):
    r"""Linear ramp: ``init_lr`` at step 0 to ``end_lr`` at ``total_steps``, then held.

    ``lr(t) = init_lr + (end_lr - init_lr) * min(t, T) / T``.
    torch: ``LinearLR(start_factor, end_factor, total_iters)`` is
    ``linear(base*start_factor, base*end_factor, total_iters)``. Optax:
    ``linear_schedule(init_lr, end_lr, total_steps)``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.linear(init_lr=0.0, end_lr=1.0, total_steps=4)
    >>> [float(s(t)) for t in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    init_lr: float
    end_lr: float
    total_steps: int

    def __post_init__(self) -> None:
        w = self._where
        self._set(
            init_lr=V.lr(w, "init_lr", self.init_lr),
            end_lr=V.lr(w, "end_lr", self.end_lr),
            total_steps=V.steps(w, "total_steps", self.total_steps),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        return _ramp(ctx, t, self.init_lr, self.end_lr, self.total_steps)

    def _points(self, until: float) -> Iterable[float]:
        return (self.total_steps,)


@register("polynomial")
class Polynomial(Schedule):
    r"""Polynomial decay: ``lr(t) = end_lr + (init_lr - end_lr) * (1 - min(t, T)/T) ** power``.

    torch: ``PolynomialLR(total_iters, power)`` is ``end_lr=0``. Optax:
    ``polynomial_schedule(init_lr, end_lr, power, total_steps)``. Held at ``end_lr``
    after ``T``. Computed as ``init_lr*w + end_lr*(1-w)`` with ``w`` and ``1-w`` each
    evaluated without cancellation, and ``w`` by an accurate float32 power (XLA's is
    ``exp(p*log(x))``, 20+ ulps off near the end). Optax's jitted ``polynomial_schedule``
    returns NaN at and after its end for most ``T`` when ``power`` is fractional
    (``1 - T*(1/T)`` comes out slightly negative); this one holds ``end_lr``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.polynomial(init_lr=1.0, total_steps=4, power=2.0)
    >>> [float(s(t)) for t in range(6)]
    [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """

    init_lr: float
    total_steps: int
    end_lr: float = 0.0
    power: float = 1.0

    def __post_init__(self) -> None:
        w = self._where
        self._set(
            init_lr=V.lr(w, "init_lr", self.init_lr),
            total_steps=V.steps(w, "total_steps", self.total_steps),
            end_lr=V.lr(w, "end_lr", self.end_lr),
            power=V.positive(w, "power", self.power),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        tc = ctx.f(xp.minimum(t, ctx.c(self.total_steps)))
        T = float(self.total_steps)
        u = tc / T  # fraction done
        left = T - tc  # exact
        frac = left / T
        w = m.powr_ratio(ctx, left, T, self.power)
        if self.end_lr == 0.0:
            return self.init_lr * w
        # 1 - w without cancellation: log1p(-u) near the start, log(frac) near the end.
        with m.quiet(xp):
            logfrac = xp.where(u <= 0.5, xp.log1p(-u), xp.log(frac))
        one_minus_w = -xp.expm1(self.power * logfrac)
        return self.init_lr * w + self.end_lr * one_minus_w

    def _points(self, until: float) -> Iterable[float]:
        return (self.total_steps,)


def _cos_window(ctx: Ctx, t: Any, a: float, b: float, start: float, length: float) -> Any:
    """Cosine from ``a`` at ``start`` to ``b`` at ``start + length``, held at ``b`` after."""
    xp = ctx.xp
    u = xp.minimum(xp.maximum(t - ctx.c(start), 0), ctx.c(length)) if start else xp.minimum(t, ctx.c(length))
    return m.cos_mix(ctx, a, b, u, length)


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

    >>> import lrsched_jax as lrs
    >>> s = lrs.cosine(init_lr=1.0, total_steps=4)
    >>> [round(float(s(t)), 6) for t in range(6)]
    [1.0, 0.853553, 0.5, 0.146447, 0.0, 0.0]
    >>> p = lrs.cosine(init_lr=1.0, total_steps=4, periodic=True)
    >>> [round(float(p(t)), 6) for t in (4, 6, 8)]
    [0.0, 0.5, 1.0]
    """

    init_lr: float
    total_steps: float
    min_lr: float = 0.0
    periodic: bool = False

    def __post_init__(self) -> None:
        w = self._where
        self._set(
            init_lr=V.lr(w, "init_lr", self.init_lr),
            total_steps=V.duration(w, "total_steps", self.total_steps),
            min_lr=V.lr(w, "min_lr", self.min_lr),
            periodic=V.flag(w, "periodic", self.periodic),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        T = self.total_steps
        if not self.periodic:
            return _cos_window(ctx, t, self.init_lr, self.min_lr, 0, T)
        _, r = m.floor_divmod(ctx, t, 2 * T)
        u = ctx.xp.where(r <= float(T), r, float(2 * T) - r)
        return m.cos_mix(ctx, self.init_lr, self.min_lr, u, T)

    def _points(self, until: float) -> Iterable[float]:
        if self.periodic:
            return multiples(self.total_steps, until, self.total_steps)
        return [self.total_steps]


@register("warm_restarts")
class WarmRestarts(Schedule):
    r"""Cosine annealing with warm restarts (SGDR).

    Cycle ``n`` (0-based) starts at ``S_n = T0 * (mult**n - 1) / (mult - 1)`` (``n*T0``
    when ``mult == 1``) and lasts ``T_n = T0 * mult**n`` steps; within it,
    ``lr = min_lr + (peak_n - min_lr) * (1 + cos(pi * (t - S_n) / T_n)) / 2`` with
    ``peak_n = min_lr + (base_lr - min_lr) * peak_decay**n``. Fractional steps are
    allowed (torch's ``step(epoch=2.5)``). No horizon: the restarts go on for ever.

    torch: ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)`` is ``peak_decay=1`` (torch
    needs whole ``T_0``/``T_mult``; fractional ones are allowed here). Optax:
    ``sgdr_schedule`` with one ``warmup_steps=0`` cycle per restart. With ``period_mult > 1``
    (1 or >= 1.001) the restarts come from a table of cycle starts accumulated in float64
    as torch does (``T_i *= T_mult``), so they land on the same step in float32 and float64
    (torch's own ``step(epoch)`` path takes a logarithm and can be off by one cycle).

    >>> import lrsched_jax as lrs
    >>> s = lrs.warm_restarts(base_lr=1.0, first_period=2, period_mult=2)
    >>> [round(float(s(t)), 4) for t in range(7)]
    [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]
    """

    base_lr: float
    first_period: float
    period_mult: float = 1
    min_lr: float = 0.0
    peak_decay: float = 1.0

    def __post_init__(self) -> None:
        w = self._where
        mult = V.real(w, "period_mult", self.period_mult, lo=1.0)
        self._set(
            base_lr=V.lr(w, "base_lr", self.base_lr),
            first_period=V.duration(w, "first_period", self.first_period),
            period_mult=int(mult) if mult.is_integer() else mult,
            min_lr=V.lr(w, "min_lr", self.min_lr),
            peak_decay=V.real(w, "peak_decay", self.peak_decay, lo=0.0, hi=1.0, lo_open=True),
        )
        if 1 < mult < 1.001:
            # The restart table up to step 2**63 would exceed ~37,000 cycles.
            raise ValueError(f"{w}: period_mult must be 1 or >= 1.001, got {self.period_mult!r}")

    @functools.cached_property
    def _table(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Cycle starts and lengths (float64, torch's ``T_i *= T_mult`` products) to 2**63."""
        starts, lengths = [0.0], [float(self.first_period)]
        while starts[-1] + lengths[-1] < 2.0**63:
            starts.append(starts[-1] + lengths[-1])
            lengths.append(lengths[-1] * self.period_mult)
        return tuple(starts), tuple(lengths)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        per_unit = None
        if self.period_mult == 1:
            n, cur = m.floor_divmod(ctx, t, self.first_period)
            n = ctx.f(n)
            length: Any = self.first_period
        else:
            starts, lengths = self._table
            # A table lookup, exact for integer steps (t >= S_n is t >= ceil(S_n)), so
            # every restart lands on the same step in float32 and float64.
            n = m.step_lookup(ctx, t, starts[1:], tuple(float(i) for i in range(len(starts))))
            idx = xp.astype(n, xp.int32)

            def take(values: Any) -> Any:
                return xp.take(xp.asarray(values, dtype=ctx.dtype), idx)

            cur = ctx.f(t) - take(starts)
            length = take(lengths)
            if ctx.dtype != xp.float64:
                k1, k2 = m.split_table([math.pi / 2 / x for x in lengths])
                per_unit = (take(k1), take(k2))
        peak: Any = self.base_lr
        if self.peak_decay != 1.0:
            # base*d + min*(1-d) with 1-d from expm1: no cancellation, even for min > base.
            c = math.log(self.peak_decay)
            kept = m.exp_times(ctx, n, c)
            peak = self.base_lr * kept + self.min_lr * -ctx.xp.expm1(n * c)
        return m.cos_mix(ctx, peak, self.min_lr, cur, length, per_unit)

    def _points(self, until: float) -> Iterable[float]:
        if self.period_mult == 1:
            return multiples(self.first_period, until, self.first_period)
        return [s for s in self._table[0][1:] if s <= until]


@register("warmup_cosine")
class WarmupCosine(Schedule):
    r"""Linear warm-up then cosine decay.

    ``lr(t) = init_lr + (peak_lr - init_lr) * t / W`` for ``t < W``; then
    ``min_lr + (peak_lr - min_lr) * (1 + cos(pi * (t - W) / (T - W))) / 2`` up to ``T``;
    ``min_lr`` after. Optax: ``warmup_cosine_decay_schedule(init_lr, peak_lr, W,
    decay_steps=T, end_value=min_lr)`` (same values; ours without float32 cancellation).
    Hugging Face ``get_cosine_schedule_with_warmup`` is ``peak_lr=1`` in multiplier mode.
    The article's variant (warm-up ``(e+1)/W``) is :class:`ArticleWarmupCosine`.

    >>> import lrsched_jax as lrs
    >>> s = lrs.warmup_cosine(peak_lr=1.0, warmup_steps=2, total_steps=6)
    >>> [round(float(s(t)), 4) for t in range(7)]
    [0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    peak_lr: float
    warmup_steps: int
    total_steps: int
    min_lr: float = 0.0
    init_lr: float = 0.0

    def __post_init__(self) -> None:
        w = self._where
        warm, total = _warmup_and_total(w, "warmup_steps", self.warmup_steps, "total_steps", self.total_steps)
        self._set(
            peak_lr=V.lr(w, "peak_lr", self.peak_lr),
            warmup_steps=warm,
            total_steps=total,
            min_lr=V.lr(w, "min_lr", self.min_lr),
            init_lr=V.lr(w, "init_lr", self.init_lr),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        W, T = self.warmup_steps, self.total_steps
        decay = _cos_window(ctx, t, self.peak_lr, self.min_lr, W, T - W)
        return _after_warmup(ctx, t, W, lambda: _ramp(ctx, t, self.init_lr, self.peak_lr, W), decay)

    def _points(self, until: float) -> Iterable[float]:
        return (self.warmup_steps, self.total_steps)


@register("one_cycle")
class OneCycle(Schedule):
    r"""The 1cycle policy, exactly as torch's ``OneCycleLR`` computes the lr.

    ``initial = max_lr / div_factor``, ``final = initial / final_div_factor``. Phases end
    at steps ``e1 = pct_start*T - 1`` and ``T - 1`` (two-phase: initial→max→final) or
    ``e1``, ``e2 = 2*pct_start*T - 2``, ``T - 1`` (three-phase: initial→max→initial→final).
    Step ``t`` belongs to the first phase with ``t <= e_i`` (the last phase takes the rest,
    as in torch) and anneals with ``pct = (t - e_{i-1}) / (e_i - e_{i-1})`` (``e_0 = 0``),
    by cosine (``anneal='cos'``) or linearly. Step ``T`` (torch's last legal step, where
    ``pct`` exceeds 1) has torch's value; after ``T`` the value of step ``T`` is held
    (torch raises there). Momentum cycling is not part of a learning-rate schedule.

    torch: ``OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy, div_factor,
    final_div_factor, three_phase)``. Optax's ``cosine_onecycle_schedule`` uses other phase
    boundaries (``int(pct_start*T)``), it matches the article's :class:`ArticleOneCycle`.

    >>> import lrsched_jax as lrs
    >>> s = lrs.one_cycle(max_lr=1.0, total_steps=10, pct_start=0.3, anneal="linear")
    >>> [round(float(s(t)), 4) for t in (0, 1, 2, 9)]
    [0.04, 0.52, 1.0, 0.0]
    """

    max_lr: float
    total_steps: int
    pct_start: float = 0.3
    anneal: str = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False

    def __post_init__(self) -> None:
        w = self._where
        total = V.steps(w, "total_steps", self.total_steps)
        pct = V.real(w, "pct_start", self.pct_start, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        self._set(
            max_lr=V.lr(w, "max_lr", self.max_lr),
            total_steps=total,
            pct_start=pct,
            anneal=V.choice(w, "anneal", self.anneal, ("cos", "linear")),
            div_factor=V.positive(w, "div_factor", self.div_factor),
            final_div_factor=V.positive(w, "final_div_factor", self.final_div_factor),
            three_phase=V.flag(w, "three_phase", self.three_phase),
        )
        starts = [0.0] + [e for e, _, _ in self._phases()[:-1]]
        for (end, _, _), start in zip(self._phases(), starts):
            if end - start <= 0 and end >= 0:
                raise ValueError(
                    f"{w}: pct_start={pct!r} with total_steps={total} gives an empty phase "
                    f"(ending at step {end:g}); torch's OneCycleLR divides by zero there. "
                    "Use pct_start*total_steps > 1 (and < (total_steps+1)/2 for three_phase)."
                )

    @functools.cached_property
    def _value_at_end(self) -> float:
        """torch's value at step ``total_steps``: the last anneal at ``pct > 1``, in float64."""
        phases = self._phases()
        start = phases[-2][0] if len(phases) > 1 else 0.0
        end, a, b = phases[-1]
        pct = (self.total_steps - start) / (end - start)
        if self.anneal == "linear":
            return (b - a) * pct + a
        return b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1)

    def _phases(self) -> list[tuple[float, float, float]]:
        """``(end_step, start_lr, end_lr)`` per phase, with torch's float arithmetic."""
        T = self.total_steps
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        e1 = float(self.pct_start * T) - 1
        if self.three_phase:
            e2 = float(2 * self.pct_start * T) - 2
            return [(e1, initial, self.max_lr), (e2, self.max_lr, initial), (T - 1, initial, final)]
        return [(e1, initial, self.max_lr), (T - 1, self.max_lr, final)]

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        tc = xp.minimum(t, ctx.c(self.total_steps))
        phases = self._phases()
        anneal = m.cos_mix if self.anneal == "cos" else m.lerp
        start = 0.0
        pieces = []
        for end, a, b in phases:
            # Phase ends such as pct_start*T - 1 are fractional: measure from both ends with
            # the constant split, so near a phase end the remaining part stays precise.
            num, rest = m.sub(ctx, tc, start), -m.sub(ctx, tc, end)
            pieces.append((end, anneal(ctx, a, b, num, end - start, rest=rest)))
            start = end
        # The last phase takes every step past the earlier ends, as in torch. Step T (held
        # after) extrapolates the anneal past its end, where float32 would cancel: use the
        # float64 value computed on the host.
        out = xp.where(tc >= ctx.c(self.total_steps), self._value_at_end, pieces[-1][1])
        for end, val in reversed(pieces[:-1]):
            # For integer steps, t <= end is t <= floor(end): exact in any dtype.
            limit = ctx.c(math.floor(end)) if ctx.is_int(tc) else end
            out = xp.where(tc <= limit, val, out)
        return out

    def _points(self, until: float) -> Iterable[float]:
        return [math.floor(e) + 1 for e, _, _ in self._phases()[:-1]] + [self.total_steps]


@register("cyclic")
class Cyclic(Schedule):
    r"""Cyclical learning rate (CLR): triangle waves between ``base_lr`` and ``max_lr``.

    A cycle lasts ``up + down`` steps (``down`` defaults to ``up``): ``x = t mod (up+down)``,
    ``scale = x/up`` while rising (``x <= up``), else ``(up + down - x)/down``;
    ``lr = base_lr + (max_lr - base_lr) * scale * f``, with ``f = 1`` (``triangular``),
    ``1/2**(cycle-1)`` (``triangular2``, ``cycle`` counted from 1) or ``gamma**t``
    (``exp_range``). torch: ``CyclicLR(base_lr, max_lr, step_size_up, step_size_down,
    mode, gamma)`` — its lr exactly; its momentum cycling is not part of a learning-rate
    schedule (keep momentum fixed, or cycle it yourself from the same phase). As in torch,
    ``max_lr < base_lr`` gives an inverted cycle and ``step_size_down=0`` a sawtooth (the
    lr drops back at once). Optax: none. No horizon.

    >>> import lrsched_jax as lrs
    >>> s = lrs.cyclic(base_lr=0.0, max_lr=1.0, step_size_up=2, mode="triangular2")
    >>> [float(s(t)) for t in range(9)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.25, 0.5, 0.25, 0.0]
    """

    base_lr: float
    max_lr: float
    step_size_up: float = 2000
    step_size_down: float | None = None
    mode: str = "triangular"
    gamma: float = 1.0

    def __post_init__(self) -> None:
        w = self._where
        up = V.duration(w, "step_size_up", self.step_size_up)
        if self.step_size_down is None:
            down: int | float = up
        else:
            d = V.real(w, "step_size_down", self.step_size_down, lo=0.0)
            down = int(d) if d.is_integer() else d
        self._set(
            base_lr=V.lr(w, "base_lr", self.base_lr),
            max_lr=V.lr(w, "max_lr", self.max_lr),
            step_size_up=up,
            step_size_down=down,
            mode=V.choice(w, "mode", self.mode, ("triangular", "triangular2", "exp_range")),
            gamma=V.real(w, "gamma", self.gamma, lo=0.0, hi=1.0, lo_open=True),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        assert self.step_size_down is not None
        up, down = float(self.step_size_up), float(self.step_size_down)
        cycle, x = m.floor_divmod(ctx, t, up + down)
        with m.quiet(xp):  # step_size_down=0: the falling branch is never selected
            scale = xp.where(x <= up, x / up, (up + down - x) / (down or 1.0))
        if self.mode == "triangular2":
            scale = scale * m.pow_int(ctx, 0.5, cycle)
        elif self.mode == "exp_range":
            scale = scale * m.pow_int(ctx, self.gamma, t)
        return self.base_lr + (self.max_lr - self.base_lr) * scale

    def _points(self, until: float) -> Iterable[float]:
        assert self.step_size_down is not None
        period = self.step_size_up + self.step_size_down
        return multiples(period, until, self.step_size_up) + multiples(period, until, period)


@register("inverse_sqrt")
class InverseSqrt(Schedule):
    r"""Linear warm-up, then inverse-square-root decay.

    ``lr(t) = init_lr + (peak_lr - init_lr) * t / W`` for ``t < W``, then
    ``peak_lr * sqrt(timescale / (t - W + timescale))`` (``timescale`` defaults to ``W``,
    giving ``peak_lr * sqrt(W / t)``, the Transformer/"Noam" rule). Hugging Face:
    ``get_inverse_sqrt_schedule(num_warmup_steps, timescale)`` in multiplier mode.
    torch, Optax: none. No horizon.

    >>> import lrsched_jax as lrs
    >>> s = lrs.inverse_sqrt(peak_lr=1.0, warmup_steps=4)
    >>> [round(float(s(t)), 4) for t in (0, 2, 4, 16)]
    [0.0, 0.5, 1.0, 0.5]
    """

    peak_lr: float
    warmup_steps: int
    timescale: float | None = None
    init_lr: float = 0.0

    def __post_init__(self) -> None:
        w = self._where
        warm = V.steps(w, "warmup_steps", self.warmup_steps, minimum=0)
        if self.timescale is None:
            if warm == 0:
                raise ValueError(f"{w}: timescale must be given (> 0) when warmup_steps is 0")
            ts: float = warm
        else:
            ts = V.duration(w, "timescale", self.timescale)
        self._set(
            peak_lr=V.lr(w, "peak_lr", self.peak_lr),
            warmup_steps=warm,
            timescale=ts,
            init_lr=V.lr(w, "init_lr", self.init_lr),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        assert self.timescale is not None
        W, ts = self.warmup_steps, float(self.timescale)
        shifted = ctx.f(xp.maximum(t - ctx.c(W), 0))
        decay = self.peak_lr * xp.sqrt(ts / (shifted + ts))
        return _after_warmup(ctx, t, W, lambda: _ramp(ctx, t, self.init_lr, self.peak_lr, W), decay)

    def _points(self, until: float) -> Iterable[float]:
        return (self.warmup_steps,)


@register("warmup_stable_decay")
class WarmupStableDecay(Schedule):
    r"""Warm-up, stable, decay (WSD, "trapezoidal").

    Linear warm-up ``init_lr -> peak_lr`` over ``W`` steps; ``peak_lr`` until
    ``T - D``; then decay to ``min_lr`` over the last ``D`` steps — with ``u`` the fraction
    of the decay done: ``linear`` ``1-u``, ``cosine`` ``(1+cos(pi*u))/2``, ``1-sqrt``
    ``1 - sqrt(u)`` (the factor applied to ``peak_lr - min_lr``); ``min_lr`` after ``T``.
    Hugging Face: ``get_wsd_schedule``. torch, Optax: none (compose it with
    ``sequence``).

    >>> import lrsched_jax as lrs
    >>> s = lrs.warmup_stable_decay(peak_lr=1.0, total_steps=8, warmup_steps=2, decay_steps=4)
    >>> [float(s(t)) for t in range(9)]
    [0.0, 0.5, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
    """

    peak_lr: float
    total_steps: int
    warmup_steps: int
    decay_steps: int
    decay: str = "linear"
    min_lr: float = 0.0
    init_lr: float = 0.0

    def __post_init__(self) -> None:
        w = self._where
        total = V.steps(w, "total_steps", self.total_steps)
        warm = V.steps(w, "warmup_steps", self.warmup_steps, minimum=0)
        dec = V.steps(w, "decay_steps", self.decay_steps)
        if warm + dec > total:
            raise ValueError(
                f"{w}: warmup_steps + decay_steps must be <= total_steps ({total}), got {warm} + {dec}"
            )
        self._set(
            peak_lr=V.lr(w, "peak_lr", self.peak_lr),
            total_steps=total,
            warmup_steps=warm,
            decay_steps=dec,
            decay=V.choice(w, "decay", self.decay, ("linear", "cosine", "1-sqrt")),
            min_lr=V.lr(w, "min_lr", self.min_lr),
            init_lr=V.lr(w, "init_lr", self.init_lr),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        W, D, T = self.warmup_steps, self.decay_steps, self.total_steps
        u = ctx.f(xp.minimum(xp.maximum(t - ctx.c(T - D), 0), ctx.c(D)))
        Df = float(D)
        if self.decay == "linear":
            tail = m.lerp(ctx, self.peak_lr, self.min_lr, u, D)
        elif self.decay == "cosine":
            tail = m.cos_mix(ctx, self.peak_lr, self.min_lr, u, D)
        else:
            root = xp.sqrt(u / Df)
            keep = ((Df - u) / Df) / (1 + root)  # 1 - sqrt(u/D), without cancellation
            tail = self.peak_lr * keep + self.min_lr * root
        out = xp.where(t < ctx.c(T - D), ctx.full(t, self.peak_lr), tail)
        return _after_warmup(ctx, t, W, lambda: _ramp(ctx, t, self.init_lr, self.peak_lr, W), out)

    def _points(self, until: float) -> Iterable[float]:
        T, D = self.total_steps, self.decay_steps
        return (self.warmup_steps, T - D, T)


@register("piecewise_constant")
class PiecewiseConstant(Schedule):
    r"""Piecewise constant: ``values[i]`` for ``boundaries[i-1] <= t < boundaries[i]``.

    ``len(values) == len(boundaries) + 1``; boundaries strictly increasing. torch:
    ``MultiStepLR``/``ConstantLR`` are special cases. Optax:
    ``piecewise_constant_schedule(values[0], {b: values[i+1]/values[i]})`` (scales
    instead of values; the change happens at ``t >= b`` in both).

    >>> import lrsched_jax as lrs
    >>> s = lrs.piecewise_constant(boundaries=[2, 4], values=[1.0, 0.5, 0.1])
    >>> [float(s(t)) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.1]
    """

    boundaries: SequenceOf[float]
    values: SequenceOf[float]

    def __post_init__(self) -> None:
        w = self._where
        b = V.ordered_steps(w, "boundaries", self.boundaries, strict=True, allow_empty=True)
        vals = tuple(V.lr(w, f"values[{i}]", v) for i, v in enumerate(V.sequence(w, "values", self.values)))
        if len(vals) != len(b) + 1:
            raise ValueError(f"{w}: values needs len(boundaries) + 1 = {len(b) + 1} entries, got {len(vals)}")
        self._set(boundaries=b, values=vals)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        return m.step_lookup(ctx, t, self.boundaries, self.values)

    def _points(self, until: float) -> Iterable[float]:
        return self.boundaries


@register("piecewise_linear")
class PiecewiseLinear(Schedule):
    r"""Piecewise linear through the points ``(knots[i], values[i])``; flat outside them.

    Knots strictly increasing. Optax: ``piecewise_interpolate_schedule('linear', ...)``
    (scales instead of values). torch: ``LinearLR`` chained with ``SequentialLR``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.piecewise_linear(knots=[0, 2, 6], values=[0.0, 1.0, 0.0])
    >>> [float(s(t)) for t in range(8)]
    [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    knots: SequenceOf[float]
    values: SequenceOf[float]

    def __post_init__(self) -> None:
        w = self._where
        k = V.ordered_steps(w, "knots", self.knots, strict=True)
        vals = tuple(V.lr(w, f"values[{i}]", v) for i, v in enumerate(V.sequence(w, "values", self.values)))
        if len(vals) != len(k):
            raise ValueError(f"{w}: values needs one entry per knot ({len(k)}), got {len(vals)}")
        self._set(knots=k, values=vals)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        if len(self.knots) == 1:
            return ctx.full(t, self.values[0])
        integral = (
            ctx.is_int(t)
            and all(float(k).is_integer() for k in self.knots)
            and isinstance(ctx.c(max(self.knots)), int)
        )
        kdt = t.dtype if integral else ctx.dtype
        knots = xp.asarray(self.knots, dtype=kdt)
        vals = xp.asarray(self.values, dtype=ctx.dtype)
        i = xp.clip(xp.searchsorted(knots, t, side="right") - 1, 0, len(self.knots) - 2)
        t0, t1 = xp.take(knots, i), xp.take(knots, i + 1)
        v0, v1 = xp.take(vals, i), xp.take(vals, i + 1)
        tt = t if integral else ctx.f(t)
        num = ctx.f(xp.minimum(xp.maximum(tt - t0, 0), t1 - t0))
        den = ctx.f(t1 - t0)
        return v0 * ((den - num) / den) + v1 * (num / den)

    def _points(self, until: float) -> Iterable[float]:
        return self.knots


@register("lr_range")
class LrRange(Schedule):
    r"""The LR range test's sweep: ``start_lr`` at step 0 to ``end_lr`` at step ``N - 1``.

    ``exp``: ``start_lr * (end_lr / start_lr) ** (t / (N - 1))``; ``linear``:
    ``start_lr + (end_lr - start_lr) * t / (N - 1)``; held at ``end_lr`` after. The end lr
    *is* reached, at the last of the ``num_steps`` iterations (as in torch-lr-finder).

    >>> import lrsched_jax as lrs
    >>> s = lrs.lr_range(start_lr=1e-3, end_lr=1.0, num_steps=4)
    >>> [round(float(s(t)), 6) for t in range(5)]
    [0.001, 0.01, 0.1, 1.0, 1.0]
    """

    start_lr: float = 1e-7
    end_lr: float = 10.0
    num_steps: int = 100
    mode: str = "exp"

    def __post_init__(self) -> None:
        w = self._where
        start = V.positive(w, "start_lr", self.start_lr)
        end = V.positive(w, "end_lr", self.end_lr)
        if end <= start:
            raise ValueError(f"{w}: end_lr must be > start_lr ({start!r}), got {self.end_lr!r}")
        self._set(
            start_lr=start,
            end_lr=end,
            num_steps=V.steps(w, "num_steps", self.num_steps, minimum=2),
            mode=V.choice(w, "mode", self.mode, ("exp", "linear")),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        last = self.num_steps - 1
        tc = ctx.xp.minimum(t, ctx.c(last))
        if self.mode == "linear":
            return m.lerp(ctx, self.start_lr, self.end_lr, tc, last)
        return self.start_lr * m.exp_times(ctx, tc, math.log(self.end_lr / self.start_lr) / last)

    def _points(self, until: float) -> Iterable[float]:
        return (self.num_steps - 1,)


@register("article_warmup_cosine")
class ArticleWarmupCosine(Schedule):
    r"""The article's ``WarmupCosineSchedule``, exactly: epoch ``e`` (0-based).

    ``lr(e) = base_lr * (e + 1) / W`` for ``e < W`` (so ``base_lr`` is reached at
    ``e = W - 1``); else ``min_lr + (base_lr - min_lr) * (1 + cos(pi*(e - W)/(T - W))) / 2``;
    ``min_lr`` after ``T`` (the article never steps past ``T``). The warm-up differs from
    :class:`WarmupCosine`, which starts at ``init_lr`` and reaches the peak at ``W``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.article_warmup_cosine(base_lr=1.0, warmup_epochs=2, total_epochs=4)
    >>> [round(float(s(e)), 6) for e in range(5)]
    [0.5, 1.0, 1.0, 0.5, 0.0]
    """

    base_lr: float
    warmup_epochs: int
    total_epochs: int
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        w = self._where
        warm, total = _warmup_and_total(
            w, "warmup_epochs", self.warmup_epochs, "total_epochs", self.total_epochs
        )
        self._set(
            base_lr=V.lr(w, "base_lr", self.base_lr),
            warmup_epochs=warm,
            total_epochs=total,
            min_lr=V.lr(w, "min_lr", self.min_lr),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        W, T = self.warmup_epochs, self.total_epochs
        decay = _cos_window(ctx, t, self.base_lr, self.min_lr, W, T - W)
        # the article's warm-up: (e + 1) / W, so base_lr is reached at e = W - 1
        return _after_warmup(
            ctx, t, W, lambda: self.base_lr * (ctx.f(ctx.xp.minimum(t, ctx.c(W)) + 1) / float(W)), decay
        )

    def _points(self, until: float) -> Iterable[float]:
        return (self.warmup_epochs, self.total_epochs)


@register("article_one_cycle")
class ArticleOneCycle(Schedule):
    r"""The article's ``OneCycleScheduler``, exactly: step ``s``, ``w = int(T * pct_start)``.

    ``start = max_lr / div_factor``, ``final = max_lr / final_div_factor``;
    ``lr = start + (max_lr - start) * s / w`` for ``s < w``, else
    ``final + (max_lr - final) * (1 + cos(pi * (s - w) / (T - w))) / 2``; ``final`` after
    ``T``. Differs from torch's :class:`OneCycle` (phase ends at ``pct_start*T - 1``, final
    lr ``start / final_div_factor``). Optax: ``cosine_onecycle_schedule`` has the same
    phase split but anneals the warm-up by cosine.

    >>> import lrsched_jax as lrs
    >>> s = lrs.article_one_cycle(max_lr=1.0, total_steps=10)
    >>> [round(float(s(t)), 4) for t in (0, 3, 10)]
    [0.04, 1.0, 0.0001]
    """

    max_lr: float
    total_steps: int
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4

    def __post_init__(self) -> None:
        w = self._where
        self._set(
            max_lr=V.lr(w, "max_lr", self.max_lr),
            total_steps=V.steps(w, "total_steps", self.total_steps),
            pct_start=V.real(w, "pct_start", self.pct_start, lo=0.0, hi=1.0, lo_open=True, hi_open=True),
            div_factor=V.positive(w, "div_factor", self.div_factor),
            final_div_factor=V.positive(w, "final_div_factor", self.final_div_factor),
        )

    @property
    def warmup_steps(self) -> int:
        return int(self.total_steps * self.pct_start)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        T, w = self.total_steps, self.warmup_steps
        start = self.max_lr / self.div_factor
        final = self.max_lr / self.final_div_factor
        decay = _cos_window(ctx, t, self.max_lr, final, w, T - w)
        return _after_warmup(ctx, t, w, lambda: _ramp(ctx, t, start, self.max_lr, w), decay)

    def _points(self, until: float) -> Iterable[float]:
        return (self.warmup_steps, self.total_steps)


def article_decay(base_lr: float = 0.1, gamma: float = 0.95) -> Exponential:
    """The article's demo decay ``0.1 * 0.95**epoch`` (an :class:`Exponential`).

    >>> import lrsched_jax as lrs
    >>> round(float(lrs.article_decay()(10)), 6)
    0.059874
    """
    return Exponential(base_lr=base_lr, gamma=gamma)
