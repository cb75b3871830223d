"""Hypothesis strategies: random valid schedules of every family and combinator.

Periods and boundaries are whole steps (the float32 contract is stated for those: a
fractional boundary is not representable in float32, so float32 and float64 may fall on
different sides of it). Cycle multipliers may be fractional (``period_mult=1.5``): the
restarts then fall between steps, on the same step in both precisions. Horizons go up to
10**6 steps.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import strategies as st

import lrsched_jax as lrs

H = 1_000_000

lr = st.floats(1e-6, 1.0, allow_nan=False, allow_infinity=False)
small_lr = st.floats(0.0, 1e-3, allow_nan=False, allow_infinity=False)
horizon = st.integers(1, H)
period = st.integers(1, 200_000)
gamma = st.floats(0.05, 0.99999, allow_nan=False, allow_infinity=False)


@st.composite
def step_decay(draw):
    return lrs.step_decay(draw(lr), draw(period), draw(gamma))


@st.composite
def multistep(draw):
    ms = sorted(draw(st.lists(st.integers(0, H), min_size=1, max_size=6)))
    return lrs.multistep(draw(lr), ms, draw(gamma))


@st.composite
def exponential(draw):
    staircase = draw(st.booleans())
    every = draw(st.integers(1, 5000))
    if draw(st.booleans()):  # growth capped at max_lr (Optax's decay_rate > 1 with end_value)
        base = draw(lr)
        cap = base * draw(st.floats(1.0, 1e12))
        g = draw(st.floats(1.000001, 4.0))
        return lrs.exponential(base, g, every=every, staircase=staircase, max_lr=cap)
    g = draw(st.floats(0.5, 0.999999)) if not staircase else draw(gamma)
    floor = draw(st.sampled_from([0.0, 1e-7]))
    return lrs.exponential(draw(lr), g, every=every, staircase=staircase, min_lr=floor)


@st.composite
def linear(draw):
    return lrs.linear(draw(st.one_of(lr, st.just(0.0))), draw(st.one_of(lr, st.just(0.0))), draw(horizon))


@st.composite
def polynomial(draw):
    return lrs.polynomial(
        draw(lr), draw(horizon), end_lr=draw(st.one_of(small_lr, lr)), power=draw(st.floats(0.1, 4.0))
    )


@st.composite
def cosine(draw):
    # exponent != 1 (Optax's exponent): the 8-ulp contract holds over its whole range (0, 1000]
    e = draw(st.one_of(st.sampled_from([1.0, 1.0, 0.5, 2.0, 1000.0]), st.floats(0.01, 1000.0)))
    per = draw(st.booleans())
    return lrs.cosine(draw(lr), draw(horizon), min_lr=draw(small_lr), periodic=per, exponent=e)


@st.composite
def inverse_time(draw):
    return lrs.inverse_time(
        draw(lr), draw(st.floats(0.0, 100.0)), every=draw(st.integers(1, 5000)), staircase=draw(st.booleans())
    )


@st.composite
def polynomial_cycle(draw):
    end = draw(st.one_of(small_lr, lr))
    T = draw(st.integers(1, 200_000))
    return lrs.polynomial_cycle(draw(lr), T, end_lr=end, power=draw(st.floats(0.1, 4.0)))


#: Cycle-length multipliers: whole ones, and fractional ones (Keras' ``t_mul=1.5``, timm's
#: ``cycle_mul``) whose restarts fall between steps: float32 and float64 restart on the same step
#: (``ceil`` of the float64 start) and the steps done and left in a cycle stay exact.
period_mult = st.one_of(st.sampled_from([1, 1, 2, 3, 1.5, 1.3, 2.5, 1.001]), st.floats(1.001, 4.0))
k_decay = st.one_of(st.sampled_from([0.5, 2.0]), st.floats(0.05, 20.0), st.floats(20.0, 1000.0))


@st.composite
def decay_cycles(draw):
    shape = draw(st.sampled_from(["cosine", "tanh", "polynomial"]))
    extra = {}
    if shape == "polynomial":
        # the power multiplies the rounding of 1 - v (see the DecayCycles docstring)
        extra["power"] = draw(st.floats(0.1, 2.0))
    elif shape == "tanh":
        lb = draw(st.floats(-10.0, 2.0))
        extra.update(lb=lb, ub=draw(st.floats(lb + 0.5, lb + 12.0)))
    base, T0, mult = draw(lr), draw(st.integers(1, 200_000)), draw(period_mult)
    cycles = draw(st.one_of(st.none(), st.integers(0, 8)))
    # growing peaks (timm's cycle_decay > 1) up to the bound of the last drawn peak
    grow = min(3.0, lrs.decay_cycles.peak_decay_limit(base, T0, mult, cycles))
    peak_decay = draw(st.sampled_from([1.0, draw(st.floats(0.3, 1.0)), draw(st.floats(1.0, grow))]))
    return lrs.decay_cycles(
        base,
        T0,
        shape,
        min_lr=draw(small_lr),
        period_mult=mult,
        peak_decay=peak_decay,
        cycles=cycles,
        # timm's k_decay (not with the tanh shape): small, fractional and large warps
        k=1.0 if shape == "tanh" else draw(st.one_of(st.just(1.0), k_decay)),
        **extra,
    )


@st.composite
def warm_restarts(draw):
    mult = draw(period_mult)
    return lrs.warm_restarts(
        draw(lr),
        draw(st.integers(1, 50_000)),
        mult,
        min_lr=draw(small_lr),
        peak_decay=draw(st.floats(0.3, 1.0)),
    )


@st.composite
def warmup_cosine(draw):
    total = draw(st.integers(2, H))
    warm = draw(st.integers(0, total - 1))
    return lrs.warmup_cosine(draw(lr), warm, total, min_lr=draw(small_lr), init_lr=draw(small_lr))


@st.composite
def one_cycle(draw):
    total = draw(st.integers(100, H))
    three = draw(st.booleans())
    pct = draw(st.floats(0.05, 0.45 if three else 0.95))
    return lrs.one_cycle(
        draw(lr),
        total,
        pct_start=pct,
        anneal=draw(st.sampled_from(["cos", "linear"])),
        div_factor=draw(st.floats(2.0, 100.0)),
        final_div_factor=draw(st.floats(1.0, 1e5)),
        three_phase=three,
    )


@st.composite
def cyclic(draw):
    base = draw(small_lr)
    top = base + draw(lr)
    mode = draw(st.sampled_from(["triangular", "triangular2", "exp_range"]))
    g = draw(st.floats(0.9999, 1.0)) if mode == "exp_range" else 1.0
    up = draw(st.integers(1, 20_000))
    down = draw(st.one_of(st.none(), st.integers(1, 20_000)))
    return lrs.cyclic(base, top, up, down, mode=mode, gamma=g)


@st.composite
def inverse_sqrt(draw):
    warm = draw(st.integers(0, 20_000))
    ts = draw(st.integers(1, 20_000)) if warm == 0 or draw(st.booleans()) else None
    return lrs.inverse_sqrt(draw(lr), warm, timescale=ts, init_lr=draw(small_lr))


@st.composite
def warmup_stable_decay(draw):
    total = draw(st.integers(2, H))
    dec = draw(st.integers(1, total))
    warm = draw(st.integers(0, total - dec))
    decay = draw(st.sampled_from(["linear", "cosine", "1-sqrt", "power", "exp"]))
    extra = {}
    if decay == "power":
        extra["decay_power"] = draw(st.one_of(st.floats(0.05, 10.0), st.sampled_from([0.5, 1000.0])))
    elif decay == "exp":
        extra["decay_ratio"] = draw(st.one_of(st.floats(1e-9, 0.999), st.sampled_from([0.1, 1e-30])))
    stable = draw(st.sampled_from(["constant", "constant", "rsqrt", "power"]))
    if stable != "constant":
        # timm's rsqrt / power stable phase; the timescale defaults to warmup_steps
        ts = draw(st.one_of(st.floats(0.001, 1e5), st.integers(1, 10_000)))
        extra.update(stable=stable, stable_timescale=None if warm and draw(st.booleans()) else ts)
        if stable == "power":
            extra["stable_power"] = draw(st.floats(0.01, 5.0))
    return lrs.warmup_stable_decay(
        draw(lr),
        total,
        warm,
        dec,
        decay=decay,
        min_lr=draw(small_lr),
        init_lr=draw(small_lr),
        **extra,
    )


@st.composite
def piecewise_constant(draw):
    bounds = sorted(set(draw(st.lists(st.integers(0, H), max_size=6))))
    vals = draw(st.lists(lr, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    return lrs.piecewise_constant(bounds, vals)


@st.composite
def piecewise_linear(draw):
    knots = sorted(set(draw(st.lists(st.integers(0, H), min_size=1, max_size=6))))
    vals = draw(st.lists(st.one_of(lr, st.just(0.0)), min_size=len(knots), max_size=len(knots)))
    return lrs.piecewise_linear(knots, vals)


@st.composite
def lr_range(draw):
    start = draw(st.floats(1e-8, 1e-3))
    return lrs.lr_range(
        start,
        start * draw(st.floats(10.0, 1e9)),
        draw(st.integers(2, H)),
        mode=draw(st.sampled_from(["exp", "linear"])),
    )


@st.composite
def article_warmup_cosine(draw):
    total = draw(st.integers(2, H))
    return lrs.article_warmup_cosine(draw(lr), draw(st.integers(0, total - 1)), total, min_lr=draw(small_lr))


@st.composite
def article_one_cycle(draw):
    return lrs.article_one_cycle(draw(lr), draw(st.integers(10, H)), pct_start=draw(st.floats(0.05, 0.95)))


FAMILIES = {
    "constant": st.builds(lrs.constant, lr),
    "step_decay": step_decay(),
    "multistep": multistep(),
    "exponential": exponential(),
    "linear": linear(),
    "polynomial": polynomial(),
    "cosine": cosine(),
    "warm_restarts": warm_restarts(),
    "warmup_cosine": warmup_cosine(),
    "one_cycle": one_cycle(),
    "cyclic": cyclic(),
    "inverse_sqrt": inverse_sqrt(),
    "warmup_stable_decay": warmup_stable_decay(),
    "piecewise_constant": piecewise_constant(),
    "piecewise_linear": piecewise_linear(),
    "lr_range": lr_range(),
    "article_warmup_cosine": article_warmup_cosine(),
    "article_one_cycle": article_one_cycle(),
    "inverse_time": inverse_time(),
    "polynomial_cycle": polynomial_cycle(),
    "decay_cycles": decay_cycles(),
}

any_family = st.one_of(*FAMILIES.values())


@st.composite
def sequence(draw):
    parts = draw(st.lists(any_family, min_size=1, max_size=3))
    bounds = sorted(set(draw(st.lists(st.integers(1, H), min_size=len(parts) - 1, max_size=len(parts) - 1))))
    parts = parts[: len(bounds) + 1]
    return lrs.sequence(parts, bounds, restart=draw(st.booleans()))


@st.composite
def product(draw):
    return lrs.product(draw(st.lists(any_family, min_size=1, max_size=2)))


@st.composite
def warmup(draw):
    return lrs.warmup(
        draw(any_family),
        draw(st.integers(1, 50_000)),
        init_lr=draw(small_lr),
        shape=draw(st.sampled_from(["linear", "cosine"])),
    )


@st.composite
def scale(draw):
    return lrs.scale(draw(any_family), draw(st.floats(1e-3, 10.0)))


@st.composite
def per_epoch(draw):
    return lrs.per_epoch(draw(any_family), draw(st.integers(1, 5000)))


@st.composite
def shift(draw):
    return lrs.shift(draw(any_family), draw(st.integers(0, H)))


COMBINATORS = {
    "sequence": sequence(),
    "product": product(),
    "warmup": warmup(),
    "scale": scale(),
    "per_epoch": per_epoch(),
    "shift": shift(),
}

ALL = {**FAMILIES, **COMBINATORS}
any_schedule = st.one_of(*ALL.values())


def representative() -> list:
    """One or more fixed, realistic schedules of every kind (for deterministic tests)."""
    return [
        lrs.constant(0.1),
        lrs.step_decay(0.1, 1000, 0.9),
        lrs.multistep(0.1, [10, 5000, 5000, 700_000], 0.3),
        lrs.exponential(0.1, 0.99992),
        lrs.exponential(0.1, 0.9, every=1000, staircase=True),
        lrs.exponential(1.0, 0.9999, min_lr=1e-5),
        lrs.linear(1e-3, 1e-6, 1_000_000),
        lrs.polynomial(1.0, 1_000_000, power=2.0),
        lrs.polynomial(1e-2, 900_000, end_lr=1e-6, power=0.9),
        lrs.cosine(0.1, 10_000),
        lrs.cosine(0.1, 1_000_000, min_lr=1e-6),
        lrs.cosine(0.1, 777, periodic=True),
        lrs.warm_restarts(0.1, 1000),
        lrs.warm_restarts(0.1, 1000, 2, min_lr=1e-5, peak_decay=0.7),
        lrs.warmup_cosine(1e-3, 5000, 1_000_000, min_lr=1e-6),
        lrs.one_cycle(0.1, 1_000_000),
        lrs.one_cycle(0.1, 999_999, pct_start=0.2571, three_phase=True, anneal="linear"),
        lrs.cyclic(1e-4, 1e-2, 2000),
        lrs.cyclic(1e-4, 1e-2, 2000, 3000, "triangular2"),
        lrs.cyclic(1e-4, 1e-2, 2000, mode="exp_range", gamma=0.99999),
        lrs.inverse_sqrt(1e-3, 4000),
        lrs.warmup_stable_decay(1e-3, 1_000_000, 1000, 200_000, "linear", 1e-6),
        lrs.warmup_stable_decay(1e-3, 1_000_000, 1000, 200_000, "cosine"),
        lrs.warmup_stable_decay(1e-3, 1_000_000, 1000, 200_000, "1-sqrt", 1e-6),
        lrs.piecewise_constant([100, 5000], [0.1, 0.01, 0.001]),
        lrs.piecewise_linear([0, 1000, 1_000_000], [0.0, 1e-3, 1e-6]),
        lrs.lr_range(1e-7, 10.0, 1000),
        lrs.article_warmup_cosine(0.1, 10, 100_000),
        lrs.article_one_cycle(0.1, 1_000_000),
        lrs.cosine(0.1, 100_000, min_lr=1e-5, exponent=1.5),
        lrs.inverse_time(0.1, 0.5, 1000),
        lrs.polynomial_cycle(0.1, 10_000, 1e-4, 2.0),
        lrs.decay_cycles(0.1, 100_000, min_lr=1e-5, cycles=1),
        lrs.decay_cycles(0.1, 10_000, "tanh", 1e-6, period_mult=2, peak_decay=0.5, cycles=5),
        lrs.decay_cycles(0.1, 300_000, "polynomial", power=0.5),
        lrs.sequence([lrs.linear(0.0, 1e-3, 1000), lrs.cosine(1e-3, 999_000)], [1000]),
        lrs.product([lrs.exponential(1.0, 0.99999), lrs.cosine(0.1, 500_000)]),
        lrs.warmup(lrs.exponential(0.1, 0.99999), 1000, shape="cosine"),
        lrs.scale(lrs.cosine(1.0, 1_000_000), 0.3),
        lrs.per_epoch(lrs.exponential(0.1, 0.95), 391),
        lrs.shift(lrs.warmup_cosine(1e-3, 500, 100_000), 250),
    ]


# --- extreme hyperparameters ---------------------------------------------------------------------
# Any value a caller might pass, valid or not, drawn per argument from the argument's declared
# check (lrsched_jax.core.validate.arg): the property test (core/test_properties.py) then asks
# that construction either refuses it naming the argument or gives a schedule that evaluates
# finitely, in its range, at every step.

_LRS = [0.0, 5e-324, 1e-30, 1e-12, 1e-3, 0.1, 1.0, 7.5, 1e6, 1e30, 1e31, -1e-9, float("nan"), float("inf")]
_POSITIVE = [5e-324, 1e-100, 1e-30, 1e-6, 0.5, 1.0, 25.0, 1e4, 1e30, 1e300, 0.0, -1.0, float("inf")]
_FACTORS = [5e-324, 1e-300, 1e-10, 0.1, 0.5, 0.9, 0.99999, 1.0, 1.0 + 1e-12, 2.0, 0.0]
_STEPS = [
    1,
    2,
    3,
    10,
    100,
    1000,
    999_983,
    2**24 + 1,
    2**31 - 1,
    2**31,
    3_000_000_000,
    2**53,
    2**53 + 2,
    0,
    2.5,
]
_DURATIONS = [1e-4, 1e-3, 0.25, 0.5, 1, 2, 2.5, 7, 4.5, 1000, 2**31 - 1, 2**31, 2**40, 2**53, 1e-100, 1e300]
_REALS = [
    0.0,
    1e-12,
    1e-3,
    0.05,
    0.3,
    0.5,
    0.75,
    0.999,
    1.0,
    1.001,
    2.0,
    30.0,
    1e6,
    2**31,
    2**53,
    -0.5,
    1e300,
]


def _values_for(field):
    from lrsched_jax.core import validate

    meta = field.metadata
    check, params = meta.get("check"), meta.get("params", {})
    if check is validate.lr:
        base = st.sampled_from(_LRS)
    elif check in (validate.positive, validate.positive_lr):
        base = st.sampled_from(_POSITIVE)
    elif check is validate.decay_factor:
        base = st.sampled_from(_FACTORS)
    elif check is validate.steps:
        base = st.sampled_from(_STEPS)
    elif check is validate.duration:
        base = st.sampled_from(_DURATIONS)
    elif check is validate.real:
        lo, hi = params.get("lo"), params.get("hi")
        near = [x for x in (lo, hi) if x is not None and abs(x) < 1e300]
        base = st.sampled_from(_REALS + near)
    elif check is validate.choice:
        base = st.sampled_from(list(params["options"]))
    elif check is validate.flag:
        base = st.booleans()
    elif check is validate.ordered_steps:
        base = st.lists(st.sampled_from([*_STEPS[:-1], 0, 0, 5, 2.5]), max_size=4).map(sorted)
    elif check is validate.lr_list:
        base = st.lists(st.sampled_from(_LRS[:-2]), min_size=1, max_size=5)
    elif field.type in ("Schedule", "Sequence[Schedule]") or "Schedule" in str(field.type):
        inner = st.one_of(*FAMILIES.values(), extreme_family())
        if "Sequence" in str(field.type):
            return st.lists(inner, min_size=1, max_size=3)
        return inner
    else:
        return None
    if meta.get("optional"):
        base = st.one_of(st.none(), base)
    return base


@st.composite
def extreme(draw, cls):
    """Keyword arguments for ``cls`` drawn from the extreme pools (omitting some optional ones)."""
    import dataclasses

    kwargs = {}
    for f in dataclasses.fields(cls):
        has_default = f.default is not dataclasses.MISSING
        values = _values_for(f)
        if values is None or (has_default and draw(st.booleans())):
            continue
        kwargs[f.name] = draw(values)
    return cls, kwargs


@st.composite
def extreme_family(draw):
    """A valid family schedule built from extreme arguments (invalid draws are redrawn)."""
    for _ in range(20):
        cls = draw(st.sampled_from(FAMILY_CLASSES))
        _, kwargs = draw(extreme(cls))
        try:
            return cls(**kwargs)
        except (ValueError, TypeError):
            continue
    return lrs.constant(0.1)


FAMILY_CLASSES = [
    lrs.constant,
    lrs.step_decay,
    lrs.multistep,
    lrs.exponential,
    lrs.linear,
    lrs.polynomial,
    lrs.cosine,
    lrs.warm_restarts,
    lrs.warmup_cosine,
    lrs.one_cycle,
    lrs.cyclic,
    lrs.inverse_sqrt,
    lrs.warmup_stable_decay,
    lrs.piecewise_constant,
    lrs.piecewise_linear,
    lrs.lr_range,
    lrs.article_warmup_cosine,
    lrs.article_one_cycle,
    lrs.inverse_time,
    lrs.polynomial_cycle,
    lrs.decay_cycles,
]
COMBINATOR_CLASSES = [lrs.sequence, lrs.product, lrs.warmup, lrs.scale, lrs.per_epoch, lrs.shift]

# --- shared by parity_tests/core/test_properties.py and jax_glue/test_properties_traced.py ---

BASE_STEPS = [0, 1, 2, 3, 7, 99, 100, 101, 127, 255, 1000, 65_535, 10**6, 2**24 + 1, 2**31 - 1]
FLOAT_STEPS = [0.0, 0.5, 2.5, 99.5, 1e3, 6.5e4, 1e6, 1e9, 1e15, 1e30]


def build(cls_kwargs):
    """The schedule, or ``None`` after checking that the refusal names an argument."""
    cls, kwargs = cls_kwargs
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        names = [f.name for f in dataclasses.fields(cls)]
        assert any(n in str(e) for n in names), f"{cls.config_name}({kwargs}): {e!r} names no argument"
        return None


def probe(s) -> np.ndarray:
    """Integer steps to look at: fixed ones and every change point's neighbours."""
    try:
        pts = list(s.change_points(2.0**31))[:40]
    except ValueError:  # a short period: more change points than one call lists
        try:
            pts = list(s.change_points(100))[:40]
        except ValueError:
            pts = []
    near = [math.floor(p) + d for p in pts for d in (-1, 0, 1)]
    steps = np.unique(np.asarray(BASE_STEPS + near, dtype=np.int64))
    return steps[(steps >= 0) & (steps <= 2**31 - 1)]


def in_range(s, values, rel: float) -> None:
    computed = np.asarray(values)
    v = computed.astype(np.float64)
    top = s.upper_bound()
    assert np.all(np.isfinite(v)), f"{s!r}: non-finite values {v[~np.isfinite(v)][:5]}"
    assert np.all(v >= 0), f"{s!r}: negative value {v.min()}"
    if math.isfinite(top):
        # a bound in the subnormal range is held to the spacing there (absolute, not relative)
        floor = float(np.finfo(computed.dtype).smallest_subnormal) * 4
        assert np.all(v <= top * (1 + rel) + floor), f"{s!r}: {v.max()} above its bound {top}"


def kinds():
    """Every family and combinator class, one pytest param each (named by its config name)."""
    return [pytest.param(c, id=c.config_name) for c in FAMILY_CLASSES + COMBINATOR_CLASSES]
