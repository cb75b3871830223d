r"""Combinators: schedules built from schedules, so everything composes (and configs nest)."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from collections.abc import Sequence as SequenceOf
from typing import Any

from lrsched_jax.core import _math as m
from lrsched_jax.core import validate as V
from lrsched_jax.core._math import Ctx
from lrsched_jax.core.schedule import Schedule, register

__all__ = ["Sequence", "Product", "Warmup", "Scale", "PerEpoch", "Shift"]


def _schedules(where: str, name: str, value: Any, minimum: int = 1) -> tuple[Schedule, ...]:
    items = V.sequence(where, name, value)
    if len(items) < minimum:
        raise ValueError(f"{where}: {name} needs at least {minimum} schedule(s), got {len(items)}")
    for i, s in enumerate(items):
        if not isinstance(s, Schedule):
            raise TypeError(
                f"{where}: {name}[{i}] must be an lrsched schedule, got {type(s).__name__} "
                "(wrap plain functions in a schedule from lrsched_jax)"
            )
    return items


def _schedule(where: str, name: str, value: Any) -> Schedule:
    if not isinstance(value, Schedule):
        raise TypeError(f"{where}: {name} must be an lrsched schedule, got {type(value).__name__}")
    return value


@register("sequence")
class Sequence(Schedule):
    r"""One schedule after another: ``schedules[i]`` runs from ``boundaries[i-1]``.

    With ``restart=True`` (default) each schedule sees local time ``t - boundaries[i-1]``
    — torch ``SequentialLR``'s semantics (each scheduler restarts at its milestone) and
    Optax ``join_schedules``'. With ``restart=False`` each sees the global step ``t``.
    ``len(schedules) == len(boundaries) + 1``; boundaries strictly increasing.

    >>> import lrsched_jax as lrs
    >>> s = lrs.sequence([lrs.linear(0.0, 1.0, 2), lrs.exponential(1.0, 0.5)], boundaries=[2])
    >>> [float(s(t)) for t in range(5)]
    [0.0, 0.5, 1.0, 0.5, 0.25]
    """

    schedules: SequenceOf[Schedule]
    boundaries: SequenceOf[float]
    restart: bool = True

    def __post_init__(self) -> None:
        w = self._where
        scheds = _schedules(w, "schedules", self.schedules)
        b = V.ordered_steps(w, "boundaries", self.boundaries, strict=True, allow_empty=True)
        if len(scheds) != len(b) + 1:
            raise ValueError(f"{w}: needs len(boundaries) + 1 = {len(b) + 1} schedules, got {len(scheds)}")
        self._set(schedules=scheds, boundaries=b, restart=V.flag(w, "restart", self.restart))

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        out = self.schedules[0]._eval(ctx, t)
        for b, s in zip(self.boundaries, self.schedules[1:]):
            b = ctx.c(b)
            local = xp.maximum(t - b, 0) if self.restart else t
            out = xp.where(t < b, out, s._eval(ctx, local))
        return out

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


@register("product")
class Product(Schedule):
    r"""``lr(t) = schedules[0](t) * schedules[1](t) * ...``.

    torch: ``ChainedScheduler`` of multiplicative (chainable) schedulers, e.g.
    ``ConstantLR`` warm-up times ``ExponentialLR``: ``product([scale_schedule, factor1,
    factor2])`` where the factors are multiplier schedules.

    >>> import lrsched_jax as lrs
    >>> s = lrs.product([lrs.constant(0.1), lrs.piecewise_constant([2], [0.5, 1.0])])
    >>> [float(s(t)) for t in range(4)]
    [0.05, 0.05, 0.1, 0.1]
    """

    schedules: SequenceOf[Schedule]

    def __post_init__(self) -> None:
        self._set(schedules=_schedules(self._where, "schedules", self.schedules))

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        out = self.schedules[0]._eval(ctx, t)
        for s in self.schedules[1:]:
            out = out * s._eval(ctx, t)
        return out

    def _points(self, until: float) -> Iterable[float]:
        return [p for s in self.schedules for p in s.change_points(until)]


@register("warmup")
class Warmup(Schedule):
    r"""A warm-up ramp in front of any schedule.

    For ``t < W``: from ``init_lr`` to ``schedule(0)``, linearly (``shape='linear'``:
    ``init + (target - init) * t / W``) or along a half cosine (``shape='cosine'``); for
    ``t >= W``: ``schedule(t - W)`` — the wrapped schedule starts after the warm-up, as in
    Optax's ``warmup_*`` schedules (``sequence`` with ``restart=False`` keeps global time).

    >>> import lrsched_jax as lrs
    >>> s = lrs.warmup(lrs.constant(1.0), warmup_steps=4)
    >>> [float(s(t)) for t in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    schedule: Schedule
    warmup_steps: int
    init_lr: float = 0.0
    shape: str = "linear"

    def __post_init__(self) -> None:
        w = self._where
        self._set(
            schedule=_schedule(w, "schedule", self.schedule),
            warmup_steps=V.steps(w, "warmup_steps", self.warmup_steps),
            init_lr=V.lr(w, "init_lr", self.init_lr),
            shape=V.choice(w, "shape", self.shape, ("linear", "cosine")),
        )

    @functools.cached_property
    def _target(self) -> float:
        return float(self.schedule(0))

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        W = self.warmup_steps
        tc = xp.minimum(t, ctx.c(W))
        ramp_fn = m.lerp if self.shape == "linear" else m.cos_mix
        ramp = ramp_fn(ctx, self.init_lr, self._target, tc, W)
        return xp.where(t < ctx.c(W), ramp, self.schedule._eval(ctx, xp.maximum(t - ctx.c(W), 0)))

    def _points(self, until: float) -> Iterable[float]:
        W = self.warmup_steps
        return [W] + [W + p for p in self.schedule.change_points(max(until - W, 0))]


@register("scale")
class Scale(Schedule):
    r"""``lr(t) = factor * schedule(t)``.

    >>> import lrsched_jax as lrs
    >>> float(lrs.scale(lrs.constant(0.5), 0.1)(0))
    0.05
    """

    schedule: Schedule
    factor: float

    def __post_init__(self) -> None:
        w = self._where
        self._set(
            schedule=_schedule(w, "schedule", self.schedule),
            factor=V.lr(w, "factor", self.factor),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        return self.factor * self.schedule._eval(ctx, t)

    def _points(self, until: float) -> Iterable[float]:
        return self.schedule.change_points(until)


@register("per_epoch")
class PerEpoch(Schedule):
    r"""A per-epoch staircase: ``lr(t) = schedule(t // steps_per_epoch)``.

    Ports an epoch-stepped torch recipe (``scheduler.step()`` once per epoch) to Optax's
    per-update count: the wrapped schedule sees the epoch number, constant within an epoch.

    >>> import lrsched_jax as lrs
    >>> s = lrs.per_epoch(lrs.exponential(1.0, 0.5), steps_per_epoch=3)
    >>> [float(s(t)) for t in range(7)]
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    """

    schedule: Schedule
    steps_per_epoch: int

    def __post_init__(self) -> None:
        w = self._where
        self._set(
            schedule=_schedule(w, "schedule", self.schedule),
            steps_per_epoch=V.steps(w, "steps_per_epoch", self.steps_per_epoch),
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        epoch, _ = m.floor_divmod(ctx, t, self.steps_per_epoch)
        return self.schedule._eval(ctx, epoch)

    def _points(self, until: float) -> Iterable[float]:
        spe = self.steps_per_epoch
        return [math.ceil(p) * spe for p in self.schedule.change_points(until / spe)]


@register("shift")
class Shift(Schedule):
    r"""``lr(t) = schedule(t + steps)``: the schedule as seen from step ``steps`` on.

    Continues a schedule mid-run with a fresh step count (e.g. a torch scheduler converted
    after ``steps`` updates, resumed in Optax with a new optimizer whose count starts at 0).

    >>> import lrsched_jax as lrs
    >>> s = lrs.shift(lrs.linear(0.0, 1.0, 4), steps=2)
    >>> [float(s(t)) for t in range(4)]
    [0.5, 0.75, 1.0, 1.0]
    """

    schedule: Schedule
    steps: float

    def __post_init__(self) -> None:
        w = self._where
        steps = V.real(w, "steps", self.steps, lo=0.0)
        self._set(
            schedule=_schedule(w, "schedule", self.schedule),
            steps=int(steps) if steps.is_integer() else steps,
        )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        steps = ctx.c(self.steps)
        shifted = t + steps
        if ctx.is_int(t) and isinstance(steps, int):
            # Saturate instead of wrapping when the integer step dtype overflows.
            shifted = ctx.xp.where(shifted < t, m.int_max(t), shifted)
        return self.schedule._eval(ctx, shifted)

    def _points(self, until: float) -> Iterable[float]:
        return [p - self.steps for p in self.schedule.change_points(until + self.steps)]
