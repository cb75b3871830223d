"""Hypothesis strategies: random valid schedules of every family and combinator.

Periods and boundaries are whole steps (the float32 contract is stated for those: a
fractional boundary is not representable in float32, so float32 and float64 may fall on
different sides of it). Horizons go up to 10**6 steps.
"""

from __future__ import annotations

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
    return lrs.cosine(draw(lr), draw(horizon), min_lr=draw(small_lr), periodic=draw(st.booleans()))


@st.composite
def warm_restarts(draw):
    mult = draw(st.sampled_from([1, 1, 2, 3]))
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
    return lrs.warmup_stable_decay(
        draw(lr),
        total,
        warm,
        dec,
        decay=draw(st.sampled_from(["linear", "cosine", "1-sqrt"])),
        min_lr=draw(small_lr),
        init_lr=draw(small_lr),
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
        lrs.sequence([lrs.linear(0.0, 1e-3, 1000), lrs.cosine(1e-3, 999_000)], [1000]),
        lrs.product([lrs.exponential(1.0, 0.99999), lrs.cosine(0.1, 500_000)]),
        lrs.warmup(lrs.exponential(0.1, 0.99999), 1000, shape="cosine"),
        lrs.scale(lrs.cosine(1.0, 1_000_000), 0.3),
        lrs.per_epoch(lrs.exponential(0.1, 0.95), 391),
        lrs.shift(lrs.warmup_cosine(1e-3, 500, 100_000), 250),
    ]
