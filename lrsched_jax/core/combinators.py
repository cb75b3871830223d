r"""Combinators: schedules built from schedules, so everything composes (and configs nest).

The snake_case factories (``lrs.sequence``, ``lrs.product``, ...) are these classes
(``lrs.sequence is Join``; the class is not called ``Sequence`` so as not to shadow
:class:`collections.abc.Sequence`). Schedules nest at most
:data:`~lrsched_jax.core.schedule.MAX_DEPTH` (100) levels deep; the argument ranges use the
terms of :mod:`lrsched_jax.core.families` (*lr*, *count*, *length*).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from lrsched_jax.core import _math, validate
from lrsched_jax.core._math import Ctx
from lrsched_jax.core.schedule import Schedule, factory_names, register
from lrsched_jax.core.validate import arg, here


def _schedules(name: str, value: Any, minimum: int = 1) -> tuple[Schedule, ...]:
    items = validate.sequence(name, value)
    if len(items) < minimum:
        raise ValueError(f"{here()}: {name} needs at least {minimum} schedule(s), got {len(items)}")
    for i, s in enumerate(items):
        if not isinstance(s, Schedule):
            raise TypeError(
                f"{here()}: {name}[{i}] must be an lrsched schedule, got {type(s).__name__} "
                "(wrap plain functions in a schedule from lrsched_jax)"
            )
    return items


def _schedule(name: str, value: Any) -> Schedule:
    if not isinstance(value, Schedule):
        raise TypeError(f"{here()}: {name} must be an lrsched schedule, got {type(value).__name__}")
    return value


@register("sequence")
class Join(Schedule):
    r"""One schedule after another: ``schedules[i]`` runs from ``boundaries[i-1]``.

    With ``restart=True`` (default) each schedule sees local time ``t - boundaries[i-1]``
    — torch ``SequentialLR``'s semantics (each scheduler restarts at its milestone) and
    Optax ``join_schedules``'. With ``restart=False`` each sees the global step ``t``.
    ``len(schedules) == len(boundaries) + 1``; boundaries strictly increasing.

    Ranges: ``schedules`` at least one schedule; ``boundaries`` strictly increasing step
    positions in ``[0, 2**53]``, one fewer than ``schedules``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.sequence([lrs.linear(0.0, 1.0, 2), lrs.exponential(1.0, 0.5)], boundaries=[2])
    >>> [float(s(t)) for t in range(5)]
    [0.0, 0.5, 1.0, 0.5, 0.25]
    """

    schedules: Sequence[Schedule] = arg(_schedules)
    boundaries: Sequence[float] = arg(validate.ordered_steps, strict=True, allow_empty=True)
    restart: bool = arg(validate.flag, default=True)

    def _check(self) -> None:
        need = len(self.boundaries) + 1
        if len(self.schedules) != need:
            got = len(self.schedules)
            raise ValueError(f"{here()}: needs len(boundaries) + 1 = {need} schedules, got {got}")

    def upper_bound(self) -> float:
        return max(s.upper_bound() for s in self.schedules)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        out = self.schedules[0]._eval(ctx, t)
        for b, s in zip(self.boundaries, self.schedules[1:]):
            b = ctx.const(b)
            local = xp.maximum(t - b, 0) if self.restart else t
            out = xp.where(t < b, out, s._eval(ctx, local))
        return out

    def _periodic(self) -> tuple[int, int] | None:
        per = _math.periodic_of(self.schedules[-1])
        if per is None:
            return None
        b = self.boundaries[-1] if self.boundaries else 0
        a, P = per
        return (math.ceil(b + a) if self.restart else math.ceil(max(b, a))), P

    def _flat_from(self) -> float | None:
        flat = _math.flat_of(self.schedules[-1])
        if flat is None:
            return None
        b = self.boundaries[-1] if self.boundaries else 0
        return b + flat if self.restart else max(b, flat)

    def _points(self, until: float) -> Iterable[float]:
        pts: list[float] = list(self.boundaries)
        starts = (0, *self.boundaries)
        ends = (*self.boundaries, until)
        for s, start, end in zip(self.schedules, starts, ends):
            if end <= start:
                continue
            offset = start if self.restart else 0
            pts += [offset + p for p in s.change_points(end - offset) if start < offset + p < end]
        return pts


sequence = Join


@register("product")
class Product(Schedule):
    r"""``lr(t) = schedules[0](t) * schedules[1](t) * ...``.

    torch: ``ChainedScheduler`` of multiplicative (chainable) schedulers, e.g.
    ``ConstantLR`` warm-up times ``ExponentialLR``: ``product([scale_schedule, factor1,
    factor2])`` where the factors are multiplier schedules.

    Ranges: ``schedules`` at least one schedule, the product of their upper bounds at most
    ``1e30``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.product([lrs.constant(0.1), lrs.piecewise_constant([2], [0.5, 1.0])])
    >>> [float(s(t)) for t in range(4)]
    [0.05, 0.05, 0.1, 0.1]
    """

    schedules: Sequence[Schedule] = arg(_schedules)

    def _over_bound(self, bound: float) -> str:
        return (
            f"schedules multiply to values up to {bound:g} (the product of their "
            f"upper bounds), more than {validate.MAX_LR:g}"
        )

    def upper_bound(self) -> float:
        bounds = [s.upper_bound() for s in self.schedules]
        return 0.0 if 0.0 in bounds else math.prod(bounds)

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        out = self.schedules[0]._eval(ctx, t)
        for s in self.schedules[1:]:
            out = out * s._eval(ctx, t)
        return out

    def _periodic(self) -> tuple[int, int] | None:
        pers = [_math.periodic_of(s) for s in self.schedules]
        if any(p is None for p in pers):
            return None
        period = math.lcm(*(p[1] for p in pers if p is not None))
        if period > 2**30:
            return None
        return max(p[0] for p in pers if p is not None), period

    def _flat_from(self) -> float | None:
        flats = [_math.flat_of(s) for s in self.schedules]
        return None if any(f is None for f in flats) else max(f for f in flats if f is not None)

    def _points(self, until: float) -> Iterable[float]:
        return [p for s in self.schedules for p in s.change_points(until)]


product = Product


@register("warmup")
class Warmup(Schedule):
    r"""A warm-up ramp in front of any schedule.

    For ``t < W``: from ``init_lr`` to ``schedule(0)``, linearly (``shape='linear'``:
    ``init + (target - init) * t / W``) or along a half cosine (``shape='cosine'``); for
    ``t >= W``: ``schedule(t - W)`` — the wrapped schedule starts after the warm-up, as in
    Optax's ``warmup_*`` schedules (``sequence`` with ``restart=False`` keeps global time).

    Ranges: ``warmup_steps`` a count ``>= 1``; ``init_lr`` an lr.

    >>> import lrsched_jax as lrs
    >>> s = lrs.warmup(lrs.constant(1.0), warmup_steps=4)
    >>> [float(s(t)) for t in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    schedule: Schedule = arg(_schedule)
    warmup_steps: int = arg(validate.steps)
    init_lr: float = arg(validate.lr, default=0.0)
    shape: str = arg(validate.choice, default="linear", options=("linear", "cosine"))

    def upper_bound(self) -> float:
        return max(self.init_lr, self.schedule.upper_bound())

    @functools.cached_property
    def _target(self) -> float:
        return float(self.schedule(0))

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        W = self.warmup_steps
        tc = xp.minimum(t, ctx.const(W))
        ramp_fn = _math.lerp if self.shape == "linear" else _math.cos_mix
        ramp = ramp_fn(ctx, self.init_lr, self._target, tc, W)
        return xp.where(t < ctx.const(W), ramp, self.schedule._eval(ctx, xp.maximum(t - ctx.const(W), 0)))

    def _periodic(self) -> tuple[int, int] | None:
        per = _math.periodic_of(self.schedule)
        return None if per is None else (self.warmup_steps + per[0], per[1])

    def _flat_from(self) -> float | None:
        flat = _math.flat_of(self.schedule)
        return None if flat is None else self.warmup_steps + flat

    def _points(self, until: float) -> Iterable[float]:
        W = self.warmup_steps
        return [W] + [W + p for p in self.schedule.change_points(max(until - W, 0))]


warmup = Warmup


@register("scale")
class Scale(Schedule):
    r"""``lr(t) = factor * schedule(t)``.

    Ranges: ``factor`` an lr, ``factor * schedule.upper_bound()`` at most ``1e30``.

    >>> import lrsched_jax as lrs
    >>> float(lrs.scale(lrs.constant(0.5), 0.1)(0))
    0.05
    """

    schedule: Schedule = arg(_schedule)
    factor: float = arg(validate.lr)

    def _over_bound(self, bound: float) -> str:
        return (
            f"factor={self.factor!r} times the schedule's upper bound "
            f"({self.schedule.upper_bound():g}) is {bound:g}, more than {validate.MAX_LR:g}"
        )

    def upper_bound(self) -> float:
        return self.factor * self.schedule.upper_bound() if self.factor else 0.0

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        return self.factor * self.schedule._eval(ctx, t)

    def _periodic(self) -> tuple[int, int] | None:
        return _math.periodic_of(self.schedule)

    def _flat_from(self) -> float | None:
        return _math.flat_of(self.schedule)

    def _points(self, until: float) -> Iterable[float]:
        return self.schedule.change_points(until)


scale = Scale


@register("per_epoch")
class PerEpoch(Schedule):
    r"""A per-epoch staircase: ``lr(t) = schedule(t // steps_per_epoch)``.

    Ports an epoch-stepped torch recipe (``scheduler.step()`` once per epoch) to Optax's
    per-update count: the wrapped schedule sees the epoch number, constant within an epoch.

    Ranges: ``steps_per_epoch`` a count ``>= 1``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.per_epoch(lrs.exponential(1.0, 0.5), steps_per_epoch=3)
    >>> [float(s(t)) for t in range(7)]
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    """

    schedule: Schedule = arg(_schedule)
    steps_per_epoch: int = arg(validate.steps)

    def upper_bound(self) -> float:
        return self.schedule.upper_bound()

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        epoch, _ = _math.floor_divmod(ctx, t, self.steps_per_epoch)
        return self.schedule._eval(ctx, epoch)

    def _periodic(self) -> tuple[int, int] | None:
        per = _math.periodic_of(self.schedule)
        n = self.steps_per_epoch
        return None if per is None else (per[0] * n, per[1] * n)

    def _flat_from(self) -> float | None:
        flat = _math.flat_of(self.schedule)
        return None if flat is None else math.ceil(flat) * self.steps_per_epoch

    def _points(self, until: float) -> Iterable[float]:
        spe = self.steps_per_epoch
        return [math.ceil(p) * spe for p in self.schedule.change_points(until / spe)]


per_epoch = PerEpoch


@register("shift")
class Shift(Schedule):
    r"""``lr(t) = schedule(t + steps)``: the schedule as seen from step ``steps`` on.

    Continues a schedule mid-run with a fresh step count (e.g. a torch scheduler converted
    after ``steps`` updates, resumed in Optax with a new optimizer whose count starts at 0).

    Ranges: ``steps`` in ``[0, 2**53]`` (fractional allowed).

    >>> import lrsched_jax as lrs
    >>> s = lrs.shift(lrs.linear(0.0, 1.0, 4), steps=2)
    >>> [float(s(t)) for t in range(4)]
    [0.5, 0.75, 1.0, 1.0]
    """

    schedule: Schedule = arg(_schedule)
    steps: float = arg(validate.real, lo=0.0, hi=validate.MAX_STEPS)

    def _check(self) -> None:
        if self.steps.is_integer():
            self._set(steps=int(self.steps))

    def upper_bound(self) -> float:
        return self.schedule.upper_bound()

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        # t + steps can pass the integer dtype's range (int32 in JAX without x64): eval_shifted
        # reduces it by the schedule's period, or clamps it at the step where the schedule
        # turns constant, so the sum stays exact.
        return _math.eval_shifted(self.schedule, ctx, t, self.steps)

    def _periodic(self) -> tuple[int, int] | None:
        per = _math.periodic_of(self.schedule)
        return None if per is None else (math.ceil(max(per[0] - self.steps, 0)), per[1])

    def _flat_from(self) -> float | None:
        flat = _math.flat_of(self.schedule)
        return None if flat is None else max(flat - self.steps, 0)

    def _points(self, until: float) -> Iterable[float]:
        return [p - self.steps for p in self.schedule.change_points(until + self.steps)]


shift = Shift


if not TYPE_CHECKING:
    # The registry lists the factories (see lrsched_jax.core's docstring).
    __all__ = factory_names(__name__)
