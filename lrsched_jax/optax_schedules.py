r"""Optax's schedule functions, by the same names and arguments, returning lrsched schedules.

Switch by changing one import::

    from lrsched_jax import optax_schedules as sched   # was: import optax as sched / optax.schedules
    lr = sched.warmup_cosine_decay_schedule(0.0, 1e-3, 1_000, 100_000, end_value=1e-6)
    opt = optax.adamw(learning_rate=lr)

Each function builds the lrsched schedule (families and combinators) whose float64 values are
Optax's own at every step (to ``1e-12`` times the largest value, tested against Optax under
x64), and gains what every lrsched schedule has: the float32 contract (Optax's float32
cosine loses up to ~20% near its end, its ``exponential_decay`` raises a rounded float32
rate to large powers), configs, plots, the torch adapter (``lrsched_torch.ScheduleLR``).

Exceptions, all documented where they arise: Optax's jitted ``polynomial_schedule`` (and
so ``linear_schedule``'s relatives with a fractional ``power``) returns NaN at and after its
end for many ``transition_steps``; these hold ``end_value``. Optax's float32 staircase
``exponential_decay`` can decay a step late at exact multiples; these decay on the multiple.

``exponential_decay`` with ``decay_rate > 1`` grows, as in Optax, up to ``end_value`` (its
cap when ``decay_rate >= 1``, its floor below 1). Without ``end_value`` Optax's growth has no
end (its float32 values become ``inf``): it is refused where it passes ``1e30``, the largest
learning rate, before step ``2**31`` (``decay_rate`` and ``end_value`` named), and otherwise
held at ``1e30`` from where it gets there (after step ``2**31``; Optax's values there are above).

Refused with ``ValueError``/``TypeError`` (what no lrsched schedule draws, or what Optax
itself rejects): a negative value wherever Optax's schedule would take it (a learning rate
cannot be negative: the optimizer would climb the loss) -- ``value``, ``init_value``,
``peak_value``, ``end_value`` (also as ``exponential_decay``'s cap), ``alpha``, a negative
scale in ``boundaries_and_scales`` -- each named; a negative ``end_value`` that Optax never
takes is accepted (a floor below 0 of a decay, the ``end_value`` of a zero ``peak_value``).
Also ``decay_rate < 0``, ``power < 0``, negative boundaries, non-increasing
``join_schedules`` boundaries, and plain Python functions in ``join_schedules`` (wrap them
in an lrsched schedule). Optax's own silent fallbacks are kept: ``transition_steps <= 0``
gives a constant ``init_value``, a negative ``transition_begin`` counts as 0,
``decay_rate == 0`` gives a constant.

This module imports neither JAX nor Optax.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import lrsched_jax.core as lrs
from lrsched_jax.core import Schedule, validate
from lrsched_jax.core.validate import here, place

__all__ = [
    "constant_schedule",
    "linear_schedule",
    "polynomial_schedule",
    "exponential_decay",
    "cosine_decay_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "warmup_constant_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "linear_onecycle_schedule",
    "cosine_onecycle_schedule",
    "sgdr_schedule",
    "join_schedules",
]


_num = validate.number

_F32_MAX = 3.4028234663852886e38


def _lr(name: str, value: Any, role: str = "") -> float:
    """An argument that becomes a value of the schedule: a learning rate in ``[0, MAX_LR]``
    (``role`` says how it becomes one, for the message)."""
    why = (
        f"{role}: a learning rate cannot be negative (Optax accepts it, and the optimizer would "
        "climb the loss)"
    )
    v = validate.at_least(name, value, why=why)
    if v > validate.MAX_LR:
        most = f"at most {validate.MAX_LR:g} (the largest learning rate){role}"
        raise ValueError(f"{here()}: {name} must be {most}, got {value!r}")
    return v


def _whole(v: float) -> Any:
    """A whole float as an int (the families' step counts are ints; others they refuse)."""
    return int(v) if float(v).is_integer() else v


def _begin(value: Any) -> float:
    """Optax: a negative ``transition_begin`` falls back to 0."""
    return max(_num("transition_begin", value), 0.0)


def _delayed(first: float, rest: Schedule, begin: float) -> Schedule:
    """``first`` before ``begin``, then ``rest(count - begin)`` (Optax's ``transition_begin``)."""
    return rest if begin == 0 else lrs.sequence([lrs.constant(first), rest], [begin])


@place("constant_schedule")
def constant_schedule(value: float) -> Schedule:
    """Optax ``constant_schedule(value)``: ``value`` at every step."""
    return lrs.constant(_lr("value", value))


@place("polynomial_schedule")
def polynomial_schedule(
    init_value: float, end_value: float, power: float, transition_steps: float, transition_begin: float = 0
) -> Schedule:
    """Optax ``polynomial_schedule``: ``(init - end) * (1 - c/T)**power + end`` with
    ``c = clip(count - transition_begin, 0, T)``. Where Optax's jitted version returns NaN
    (fractional ``power`` at and after the end), this holds ``end_value``."""
    return _polynomial(init_value, end_value, power, transition_steps, transition_begin)


def _polynomial(
    init_value: Any, end_value: Any, power: Any, transition_steps: Any, transition_begin: Any
) -> Schedule:
    """``polynomial_schedule``, its messages naming ``where``."""
    init = _lr("init_value", init_value)
    _num("end_value", end_value)  # a number even where it is never reached
    p = _num("power", power)
    T = _num("transition_steps", transition_steps)
    if T <= 0:
        return lrs.constant(init)
    if p < 0:
        raise ValueError(
            f"{here()}: power must be >= 0, got {power!r} (a negative power is infinite at the end)"
        )
    begin = _begin(transition_begin)
    if p == 0:
        return lrs.constant(init)  # frac**0 == 1 at every step, the end included (0**0 == 1)
    end = _lr("end_value", end_value)
    body = (
        lrs.linear(init, end, _whole(T)) if p == 1 else lrs.polynomial(init, _whole(T), end_lr=end, power=p)
    )
    return _delayed(init, body, begin)


@place("linear_schedule")
def linear_schedule(
    init_value: float, end_value: float, transition_steps: float, transition_begin: float = 0
) -> Schedule:
    """Optax ``linear_schedule``: ``init_value`` to ``end_value`` over ``transition_steps``
    after ``transition_begin``, held after."""
    return _polynomial(init_value, end_value, 1, transition_steps, transition_begin)


@place("exponential_decay")
def exponential_decay(
    init_value: float,
    transition_steps: float,
    decay_rate: float,
    transition_begin: float = 0,
    staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:
    """Optax ``exponential_decay``: ``init * decay_rate ** ((count - begin) / T)`` (the
    exponent floored with ``staircase``), ``init`` before ``begin``, then clipped at
    ``end_value``: a floor for ``decay_rate < 1``, a cap for ``decay_rate >= 1`` (growth).
    Growth without ``end_value`` is refused where it passes ``1e30`` before step ``2**31``,
    else held at ``1e30`` from there (Optax: above it, then ``inf``)."""
    return _exponential(
        init_value, transition_steps, decay_rate,
        transition_begin=transition_begin, staircase=staircase, end_value=end_value,
    )  # fmt: skip


def _exponential(
    init_value: Any,
    transition_steps: Any,
    decay_rate: Any,
    *,
    transition_begin: Any,
    staircase: Any,
    end_value: Any,
    offset: float = 0.0,
) -> Schedule:
    """``exponential_decay``, its messages naming ``where`` (and steps counted from ``offset``)."""
    init = _lr("init_value", init_value)
    T = _num("transition_steps", transition_steps)
    rate = _num("decay_rate", decay_rate)
    end = None if end_value is None else _num("end_value", end_value)
    if T <= 0 or rate == 0:
        return lrs.constant(init)
    if rate < 0:
        raise ValueError(
            f"{here()}: decay_rate must be >= 0, got {decay_rate!r} (a negative rate has no real fractional "
            "powers: Optax returns NaN between its whole ones)"
        )
    begin = _begin(transition_begin)
    if rate < 1:
        # Optax's floor (jnp.maximum): one below 0 never binds, since no value is negative
        floor = 0.0 if end is None or end < 0 else _lr("end_value", end_value)
        body = lrs.exponential(init, rate, every=T, staircase=bool(staircase), min_lr=floor)
        return _delayed(max(init, floor), body, begin)
    # decay_rate >= 1: Optax's cap (jnp.minimum), also on init_value before transition_begin
    if end is not None:
        cap = _lr("end_value", end_value, role=" (with decay_rate >= 1, Optax caps every value at it)")
    elif rate == 1 or init == 0:
        cap = init  # nothing grows
    else:
        cap = _uncapped(init, T, rate, offset + begin, bool(staircase))
    if rate == 1 or init == 0 or cap <= init:
        return lrs.constant(min(init, cap))
    if init < validate.MIN_POSITIVE_LR:
        raise ValueError(
            f"{here()}: init_value must be 0 or >= {validate.MIN_POSITIVE_LR:g} where decay_rate > "
            f"1 (float32 has no normal number below it to grow from), got {init_value!r}"
        )
    body = lrs.exponential(init, rate, every=T, staircase=bool(staircase), max_lr=cap)
    return _delayed(init, body, begin)


def _uncapped(init: float, T: float, rate: float, begin: float, staircase: bool) -> float:
    """The cap of a growth without ``end_value``: ``MAX_LR``, the largest learning rate. Up to
    the step where Optax's curve passes it the values are Optax's; from there they hold it
    (where Optax's own float32 values go on to ``inf``)."""
    return validate.MAX_LR


@place("cosine_decay_schedule")
def cosine_decay_schedule(
    init_value: float, decay_steps: float, alpha: float = 0.0, exponent: float = 1.0
) -> Schedule:
    """Optax ``cosine_decay_schedule``: ``init * ((1 - alpha) * c**exponent + alpha)`` with
    ``c = (1 + cos(pi * min(count, D) / D)) / 2``."""
    init = _lr("init_value", init_value)
    D = _num("decay_steps", decay_steps)
    if not D > 0:
        raise ValueError(f"{here()}: requires positive decay_steps, got {decay_steps!r}")
    a = _num("alpha", alpha)
    # init_value * alpha is the last value (every value is 0 where init_value is)
    if init > 0 and not 0 <= a * init <= validate.MAX_LR:
        raise ValueError(
            f"{here()}: alpha must be >= 0 (and init_value * alpha <= {validate.MAX_LR:g}), got {alpha!r}: "
            "init_value * alpha is the last value, and a learning rate cannot be negative"
        )
    return lrs.cosine(init, D, min_lr=max(init * a, 0.0), exponent=_num("exponent", exponent))


@place("warmup_constant_schedule")
def warmup_constant_schedule(init_value: float, peak_value: float, warmup_steps: float) -> Schedule:
    """Optax ``warmup_constant_schedule``: linear ``init -> peak`` over ``warmup_steps``, then ``peak``."""
    _lr("peak_value", peak_value)
    return _polynomial(init_value, peak_value, 1, warmup_steps, 0)


@place("warmup_cosine_decay_schedule")
def warmup_cosine_decay_schedule(
    init_value: float,
    peak_value: float,
    warmup_steps: float,
    decay_steps: float,
    end_value: float = 0.0,
    exponent: float = 1.0,
) -> Schedule:
    """Optax ``warmup_cosine_decay_schedule``: linear ``init -> peak`` over ``warmup_steps``,
    then ``cosine_decay_schedule(peak, decay_steps - warmup_steps, alpha=end/peak, exponent)``
    (``decay_steps`` counts the warm-up, as in Optax)."""
    init = _lr("init_value", init_value)
    peak = _lr("peak_value", peak_value)
    W = validate.at_least("warmup_steps", warmup_steps)
    end = _num("end_value", end_value)
    if peak != 0.0:  # Optax's alpha = end_value / peak_value; 0 (end_value unused) for a zero peak
        _lr("end_value", end, role=" (the value the cosine decays to)")
    alpha = 0.0 if peak == 0.0 else end / peak
    decay = cosine_decay_schedule(peak, _num("decay_steps", decay_steps) - W, alpha, exponent)
    return join_schedules([linear_schedule(init, peak, W), decay], [W])


@place("warmup_exponential_decay_schedule")
def warmup_exponential_decay_schedule(
    init_value: float,
    peak_value: float,
    warmup_steps: float,
    transition_steps: float,
    decay_rate: float,
    transition_begin: float = 0,
    staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:
    """Optax ``warmup_exponential_decay_schedule``: linear ``init -> peak`` over
    ``warmup_steps``, then ``exponential_decay(peak, ...)`` counted from the warm-up's end."""
    init = _lr("init_value", init_value)
    peak = _lr("peak_value", peak_value)
    W = validate.at_least("warmup_steps", warmup_steps)
    decay = _exponential(
        peak, transition_steps, decay_rate,
        transition_begin=transition_begin, staircase=staircase, end_value=end_value, offset=W,
    )  # fmt: skip
    return join_schedules([linear_schedule(init, peak, W), decay], [W])


def _scaled(
    init: float, boundaries_and_scales: Mapping[Any, float] | None
) -> tuple[list[float], list[float]]:
    """Sorted boundaries and the values after each, the running product of the scales (in
    Optax's order, so the float64 products are Optax's)."""
    if boundaries_and_scales is None:
        return [], [init]
    if not isinstance(boundaries_and_scales, Mapping):
        raise TypeError(
            f"{here()}: boundaries_and_scales must be a dict {{step: scale}}, got {boundaries_and_scales!r}"
        )
    items = sorted(
        (_num("a boundary", b), _num(f"the scale at {b!r}", s)) for b, s in boundaries_and_scales.items()
    )
    if any(s < 0 for _, s in items):
        raise ValueError(
            f"{here()}: boundaries_and_scales expects non-negative scale factors (as Optax does: a "
            f"negative scale makes the learning rate negative), got {dict(boundaries_and_scales)!r}"
        )
    if any(b < 0 for b, _ in items):
        raise ValueError(f"{here()}: boundaries must be steps >= 0, got {sorted(boundaries_and_scales)!r}")
    values = [init]
    for _, s in items:
        values.append(values[-1] * s)
    return [b for b, _ in items], values


@place("piecewise_constant_schedule")
def piecewise_constant_schedule(
    init_value: float, boundaries_and_scales: Mapping[float, float] | None = None
) -> Schedule:
    """Optax ``piecewise_constant_schedule``: from each boundary ``b`` on (``count >= b``) the
    value is multiplied by its scale."""
    init = _lr("init_value", init_value, role=" (the first value, each later one a multiple)")
    bounds, values = _scaled(init, boundaries_and_scales)
    # a boundary at 0 applies from the first step
    while bounds and bounds[0] == 0:
        bounds, values = bounds[1:], values[1:]
    return lrs.piecewise_constant(bounds, values)


@place("piecewise_interpolate_schedule")
def piecewise_interpolate_schedule(
    interpolate_type: str, init_value: float, boundaries_and_scales: Mapping[float, float] | None = None
) -> Schedule:
    """Optax ``piecewise_interpolate_schedule``: between consecutive knots ``0, b1, b2, ...``
    the value goes from one running product of the scales to the next, linearly or along a
    half cosine; constant after the last boundary."""
    if interpolate_type not in ("linear", "cosine"):
        raise ValueError(
            f"{here()}: `interpolate_type` must be either 'cosine' or 'linear', got {interpolate_type!r}"
        )
    init = _lr("init_value", init_value, role=" (the first value, each later one a multiple)")
    bounds, values = _scaled(init, boundaries_and_scales)
    knots, vals = [0.0, *bounds], values
    # an interval of length 0 (a boundary at 0) is never in force: the later value takes its knot
    kk: list[float] = []
    vv: list[float] = []
    for k, v in zip(knots, vals):
        if kk and k == kk[-1]:
            vv[-1] = v
        else:
            kk.append(k)
            vv.append(v)
    if len(kk) == 1:
        return lrs.constant(vv[0])
    if interpolate_type == "linear":
        return lrs.piecewise_linear(kk, vv)
    windows = [lrs.cosine(a, b1 - b0, min_lr=b) for a, b, b0, b1 in zip(vv, vv[1:], kk, kk[1:])]
    return lrs.sequence([*windows, lrs.constant(vv[-1])], kk[1:])


def _onecycle(transition_steps: Any, peak_value: Any, div: Any, final_div: Any) -> tuple[float, float]:
    """The one-cycle arguments' checks: ``(transition_steps, peak_value)``."""
    T = _num("transition_steps", transition_steps)
    if T <= 0:
        raise ValueError(f"{here()}: transition_steps must be > 0, got {transition_steps!r}")
    peak = _lr("peak_value", peak_value)
    for name, v in (("div_factor", div), ("final_div_factor", final_div)):
        if not _num(name, v) > 0:
            raise ValueError(
                f"{here()}: {name} must be > 0, got {v!r} (the values are peak_value divided by it: "
                "a learning rate cannot be negative or infinite)"
            )
    return T, peak


@place("linear_onecycle_schedule")
def linear_onecycle_schedule(
    transition_steps: float,
    peak_value: float,
    pct_start: float = 0.3,
    pct_final: float = 0.85,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """Optax ``linear_onecycle_schedule``: linear ``peak/div -> peak`` to ``int(pct_start*T)``,
    ``-> peak/div`` to ``int(pct_final*T)``, ``-> peak/div/final_div`` to ``T``."""
    T, peak = _onecycle(transition_steps, peak_value, div_factor, final_div_factor)
    return piecewise_interpolate_schedule(
        "linear",
        peak / div_factor,
        {
            int(pct_start * T): div_factor,
            int(pct_final * T): 1.0 / div_factor,
            transition_steps: 1.0 / final_div_factor,
        },
    )


@place("cosine_onecycle_schedule")
def cosine_onecycle_schedule(
    transition_steps: float,
    peak_value: float,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """Optax ``cosine_onecycle_schedule``: half cosines ``peak/div -> peak`` to
    ``int(pct_start*T)`` and ``-> peak/(div*final_div)`` to ``T``."""
    T, peak = _onecycle(transition_steps, peak_value, div_factor, final_div_factor)
    return piecewise_interpolate_schedule(
        "cosine",
        peak / div_factor,
        {int(pct_start * T): div_factor, int(T): 1.0 / (div_factor * final_div_factor)},
    )


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[float]) -> Schedule:
    """Optax ``join_schedules``: ``schedules[i]`` from ``boundaries[i-1]`` on, counting from
    there (``lrsched_jax.sequence``). Boundaries strictly increasing; the schedules lrsched
    schedules (``TypeError`` otherwise: a plain function has no readable curve)."""
    schedules, boundaries = list(schedules), list(boundaries)
    # Optax's where-chain: a boundary at or before 0 hands over from the first step on
    while boundaries and boundaries[0] <= 0:
        shift = -boundaries[0]
        nxt = schedules[1]
        schedules = [lrs.shift(nxt, shift) if shift else nxt, *schedules[2:]]
        boundaries = boundaries[1:]
    return lrs.sequence(schedules, boundaries) if boundaries else schedules[0]


@place("sgdr_schedule")
def sgdr_schedule(cosine_kwargs: Iterable[dict[str, Any]]) -> Schedule:
    """Optax ``sgdr_schedule``: ``warmup_cosine_decay_schedule(**kw)`` for each ``kw`` in turn,
    each lasting its ``decay_steps``."""
    schedules, boundaries, step = [], [], 0.0
    for kw in cosine_kwargs:
        schedules.append(warmup_cosine_decay_schedule(**kw))
        step += _num("decay_steps", kw["decay_steps"])
        boundaries.append(step)
    if not schedules:
        raise ValueError(f"{here()}: cosine_kwargs needs at least one cycle")
    return join_schedules(schedules, boundaries[:-1])
