"""``lrsched_jax.optax_schedules`` against Optax itself: same names, same arguments, Optax's
float64 values (Optax evaluated under x64) within ``1e-12`` times the peak value at every
step, random arguments; the mirrors stay within the float32 contract where their periods and
boundaries are whole. Where Optax returns NaN (its fractional-power polynomial at the end),
ours holds the end value — the one documented exception."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import f32_ulps
from hypothesis import given
from hypothesis import strategies as st

import lrsched_jax as lrs
from lrsched_jax import optax_schedules as ours_mod

STEPS = np.arange(0, 4096)
TOL = 1e-12
MEASURED: dict[str, float] = {}

val = st.floats(1e-6, 1.0)
small = st.floats(0.0, 1e-3)
steps = st.integers(1, 2000)
begin = st.integers(-5, 500)


def optax64(fn, scalar=False):
    """Optax's schedule under x64, eagerly on the array of steps, or through ``vmap`` for
    the piecewise schedules (they take a scalar count)."""
    with jax.enable_x64(True):
        count = jnp.asarray(STEPS, dtype=jnp.int64)
        return np.asarray(jax.vmap(fn)(count) if scalar else fn(count), dtype=np.float64)


def late_staircase(got, ref, start, every):
    """Optax's staircase ``floor(count / T)`` becomes ``floor(count * (1/T))`` under XLA,
    which for some ``T`` rounds below the multiple: Optax decays one step late there. The
    documented exception: the steps where the curves differ are multiples of ``T`` after
    ``start``, and there Optax still holds the previous step's value."""
    bad = np.flatnonzero(np.abs(got - ref) > TOL * np.max(np.abs(ref)))
    assert np.all((bad - start) % every == 0) and np.all(bad - start > 0)
    assert np.allclose(ref[bad], got[bad - 1], rtol=1e-12, atol=0)
    ref = ref.copy()
    ref[bad] = got[bad]
    return ref


def same(name, ours, theirs, f32=True, fix=None):
    ref = optax64(theirs, scalar="interpolate" in name or "onecycle" in name)
    got = ours(STEPS)
    if fix is not None:
        ref = fix(got, ref)
    nan = np.isnan(ref)
    peak = max(float(np.max(np.abs(ref[~nan]), initial=0.0)), 1e-300)
    err = float(np.max(np.abs(got[~nan] - ref[~nan]), initial=0.0)) / peak
    MEASURED[name] = max(MEASURED.get(name, 0.0), err)
    assert err <= TOL, f"{name}: {err:.3g} * peak, {ours!r}"
    if f32:
        got32 = np.asarray(ours(jnp.asarray(STEPS, dtype=jnp.int32)))
        ulps = f32_ulps(got32, got)
        worst = np.nanmax(ulps) if np.any(np.isfinite(ulps)) else 0.0
        assert worst <= 8, f"{name}: {worst:.2f} float32 ulps"
    return got, ref, nan


def test_same_names_as_optax():
    for name in ours_mod.__all__:
        assert callable(getattr(optax, name)), name


@given(val)
def test_constant(v):
    same("constant_schedule", ours_mod.constant_schedule(v), optax.constant_schedule(v))


@given(val, st.one_of(val, small), steps, begin)
def test_linear(a, b, T, b0):
    same("linear_schedule", ours_mod.linear_schedule(a, b, T, b0), optax.linear_schedule(a, b, T, b0))


@given(val, st.one_of(val, small), st.floats(0.1, 4.0), steps, begin)
def test_polynomial(a, b, p, T, b0):
    """The documented exception: from the end on, Optax computes ``1 - count * (1/T)`` (XLA's
    rewrite of the division), which can come out slightly negative (NaN for a fractional
    power) or slightly positive (``residue**power``, up to ~1e-6 relative for small powers):
    ours is the end value exactly there, and Optax within that residue of it."""
    end_step = max(b0, 0) + T

    def fix(got, ref):
        tail = STEPS >= end_step
        assert np.all(got[tail] == b)
        residue = abs(a - b) * (4 * 2.0**-52) ** p
        assert np.all(np.isnan(ref[tail]) | (np.abs(ref[tail] - b) <= residue))
        ref = ref.copy()
        ref[tail] = b
        return ref

    same(
        "polynomial_schedule",
        ours_mod.polynomial_schedule(a, b, p, T, b0),
        optax.polynomial_schedule(a, b, p, T, b0),
        fix=fix,
    )


@given(val, st.integers(1, 500), st.floats(0.5, 1.0), begin, st.booleans(), st.one_of(st.none(), small))
def test_exponential_decay(a, T, rate, b0, stair, end):
    ours = ours_mod.exponential_decay(a, T, rate, b0, stair, end)
    fix = (lambda g, r: late_staircase(g, r, max(b0, 0), T)) if stair else None
    same("exponential_decay", ours, optax.exponential_decay(a, T, rate, b0, stair, end), fix=fix)


@given(
    val,
    st.integers(1, 500),
    st.floats(1.000001, 3.0),
    begin,
    st.booleans(),
    # (no factor that makes end_value subnormal: XLA flushes it to 0 in Optax's curve)
    st.one_of(st.just(0.0), st.floats(1e-30, 1.0), st.floats(1.0, 1e6)),
)
def test_exponential_growth_capped_at_end_value(a, T, rate, b0, stair, factor):
    """``decay_rate > 1``: Optax grows and caps at ``end_value`` (also ``init_value`` before
    ``transition_begin``); ours is the same curve, within the float32 contract."""
    end = a * factor
    ours = ours_mod.exponential_decay(a, T, rate, b0, stair, end)
    fix = (lambda g, r: late_staircase(g, r, max(b0, 0), T)) if stair else None
    same("exponential_decay (growth)", ours, optax.exponential_decay(a, T, rate, b0, stair, end), fix=fix)


def test_exponential_growth_without_end_value():
    """Uncapped growth: Optax's values up to the step where it passes 1e30, the largest
    learning rate, held at 1e30 from there (Optax's float32 values go on to inf)."""
    slow = (1e-3, 10**6, 1.01)  # passes 1e30 at step ~7.6e9
    ours = ours_mod.exponential_decay(*slow)
    same("exponential_decay (growth)", ours, optax.exponential_decay(*slow))
    at = np.asarray([2**31 - 1, 7 * 10**9, 8 * 10**9], dtype=np.int64)
    with jax.enable_x64(True):
        theirs = np.asarray(optax.exponential_decay(*slow)(jnp.asarray(at)))
    np.testing.assert_allclose(ours(at[:2]), theirs[:2], rtol=1e-12)
    assert float(ours(at[2])) == 1e30 < float(theirs[2])
    fast = ours_mod.exponential_decay(1.0, 2, 2.0)  # passes 1e30 at step 200
    steps = np.arange(0, 400, dtype=np.int64)
    with jax.enable_x64(True):
        theirs = np.asarray(optax.exponential_decay(1.0, 2, 2.0)(jnp.asarray(steps)))
    below = theirs <= 1e30
    assert below[:199].all() and not below[200:].any()
    np.testing.assert_allclose(fast(steps[below]), theirs[below], rtol=1e-12)
    assert (fast(steps[~below]) == 1e30).all()
    warm = ours_mod.warmup_exponential_decay_schedule(0.0, 1.0, 10, 2, 2.0)
    assert float(warm(10**9)) == 1e30


@given(val, steps, st.floats(0.0, 0.5), st.floats(0.25, 1.5))
def test_cosine_decay(a, D, alpha, e):
    ours = ours_mod.cosine_decay_schedule(a, D, alpha, e)
    same("cosine_decay_schedule", ours, optax.cosine_decay_schedule(a, D, alpha, e))


@given(small, val, st.integers(0, 500), st.integers(1, 2000), small, st.floats(0.25, 1.5))
def test_warmup_cosine_decay(a, peak, W, D, end, e):
    D = W + D
    ours = ours_mod.warmup_cosine_decay_schedule(a, peak, W, D, end, e)
    same("warmup_cosine_decay_schedule", ours, optax.warmup_cosine_decay_schedule(a, peak, W, D, end, e))


@given(
    small,
    val,
    st.integers(0, 500),
    st.integers(1, 500),
    st.floats(0.5, 1.0),
    begin,
    st.booleans(),
    st.one_of(st.none(), small),
)
def test_warmup_exponential_decay(a, peak, W, T, rate, b0, stair, end):
    args = (a, peak, W, T, rate, b0, stair, end)
    ours = ours_mod.warmup_exponential_decay_schedule(*args)
    fix = (lambda g, r: late_staircase(g, r, W + max(b0, 0), T)) if stair else None
    same("warmup_exponential_decay_schedule", ours, optax.warmup_exponential_decay_schedule(*args), fix=fix)


@given(small, val, st.integers(0, 2000))
def test_warmup_constant(a, peak, W):
    same(
        "warmup_constant_schedule",
        ours_mod.warmup_constant_schedule(a, peak, W),
        optax.warmup_constant_schedule(a, peak, W),
    )


# scales 0 or >= 1e-3: products that stay normal numbers (XLA flushes subnormals to zero)
scale = st.one_of(st.just(0.0), st.floats(1e-3, 3.0))
bounds_scales = st.dictionaries(st.integers(0, 3000), scale, max_size=5)


@given(val, bounds_scales)
def test_piecewise_constant(a, bs):
    ours = ours_mod.piecewise_constant_schedule(a, bs)
    same("piecewise_constant_schedule", ours, optax.piecewise_constant_schedule(a, bs))


@given(st.sampled_from(["linear", "cosine"]), val, bounds_scales)
def test_piecewise_interpolate(kind, a, bs):
    ours = ours_mod.piecewise_interpolate_schedule(kind, a, bs)
    same("piecewise_interpolate_schedule", ours, optax.piecewise_interpolate_schedule(kind, a, bs))


@given(
    st.integers(10, 3000),
    val,
    st.floats(0.05, 0.5),
    st.floats(0.5, 0.95),
    st.floats(2.0, 100.0),
    st.floats(1.0, 1e5),
)
def test_linear_onecycle(T, peak, p0, p1, div, fdiv):
    args = (T, peak, p0, p1, div, fdiv)
    same(
        "linear_onecycle_schedule",
        ours_mod.linear_onecycle_schedule(*args),
        optax.linear_onecycle_schedule(*args),
    )


@given(st.integers(10, 3000), val, st.floats(0.05, 0.95), st.floats(2.0, 100.0), st.floats(1.0, 1e5))
def test_cosine_onecycle(T, peak, p0, div, fdiv):
    args = (T, peak, p0, div, fdiv)
    same(
        "cosine_onecycle_schedule",
        ours_mod.cosine_onecycle_schedule(*args),
        optax.cosine_onecycle_schedule(*args),
    )


cycle = st.fixed_dictionaries(
    {
        "init_value": small,
        "peak_value": val,
        "warmup_steps": st.integers(0, 100),
        "decay_steps": st.integers(101, 1500),
        "end_value": small,
    }
)


@given(st.lists(cycle, min_size=1, max_size=4))
def test_sgdr(kwargs):
    same("sgdr_schedule", ours_mod.sgdr_schedule(kwargs), optax.sgdr_schedule(kwargs))


@given(
    st.lists(st.tuples(val, steps), min_size=1, max_size=4),
    st.lists(st.integers(0, 3000), min_size=3, max_size=3, unique=True),
)
def test_join(parts, bounds):
    bounds = sorted(bounds)[: len(parts) - 1]
    parts = parts[: len(bounds) + 1]
    mine = [ours_mod.cosine_decay_schedule(a, D) for a, D in parts]
    theirs = [optax.cosine_decay_schedule(a, D) for a, D in parts]
    same("join_schedules", ours_mod.join_schedules(mine, bounds), optax.join_schedules(theirs, bounds))


NEGATIVE = [
    (lambda: ours_mod.constant_schedule(-0.1), "constant_schedule: value must be >= 0"),
    (lambda: ours_mod.linear_schedule(0.1, -1.0, 10), "linear_schedule: end_value must be >= 0"),
    (lambda: ours_mod.polynomial_schedule(-0.1, 0.0, 2, 10), "polynomial_schedule: init_value must be >= 0"),
    (
        lambda: ours_mod.warmup_cosine_decay_schedule(0.2, 1.21, 50, 100, -3.0, 2),
        "warmup_cosine_decay_schedule: end_value must be >= 0",
    ),
    (lambda: ours_mod.cosine_decay_schedule(1.0, 10, -0.5), "cosine_decay_schedule: alpha must be >= 0"),
    (
        lambda: ours_mod.piecewise_constant_schedule(-0.1, {3: 2.0, 6: 0.5}),
        "piecewise_constant_schedule: init_value must be >= 0",
    ),
    (
        lambda: ours_mod.piecewise_interpolate_schedule("linear", -0.1, {3: 2.0}),
        "piecewise_interpolate_schedule: init_value must be >= 0",
    ),
    (
        lambda: ours_mod.exponential_decay(1.0, 2, 2.0, 3, False, -1.0),
        "exponential_decay: end_value must be >= 0",
    ),
    (
        lambda: ours_mod.exponential_decay(1.0, 2, 1.0, end_value=-1.0),
        "exponential_decay: end_value must be >= 0",
    ),
    (
        lambda: ours_mod.warmup_constant_schedule(0.0, -1.0, 10),
        "warmup_constant_schedule: peak_value must be >= 0",
    ),
    (
        lambda: ours_mod.cosine_onecycle_schedule(100, -1.0),
        "cosine_onecycle_schedule: peak_value must be >= 0",
    ),
    (lambda: ours_mod.linear_onecycle_schedule(100, 1.0, div_factor=-2.0), "div_factor must be > 0"),
]


@pytest.mark.parametrize(("build", "message"), NEGATIVE)
def test_negative_values_refused_by_the_optax_argument(build, message):
    """Where Optax's schedule would take a negative value: refused, naming the Optax argument
    and saying why (the internal names ``min_lr``/``end_lr``/``values`` never appear)."""
    with pytest.raises(ValueError, match=message) as e:
        build()
    assert "cannot be negative" in str(e.value)
    assert not any(name in str(e.value) for name in ("min_lr", "end_lr", "base_lr", "values["))


def test_negative_values_optax_never_takes_are_accepted():
    """A floor below 0 of a decay, the end_value of a zero peak: Optax's values, all >= 0."""
    pairs = [
        (
            ours_mod.exponential_decay(1.0, 2, 0.2, 3, True, -0.1),
            optax.exponential_decay(1.0, 2, 0.2, 3, True, -0.1),
        ),
        (
            ours_mod.warmup_cosine_decay_schedule(0.2, 0.0, 50, 100, -3.0, 2),
            optax.warmup_cosine_decay_schedule(0.2, 0.0, 50, 100, -3.0, 2),
        ),
        (ours_mod.linear_schedule(0.1, -1.0, 0), optax.linear_schedule(0.1, -1.0, 0)),
    ]
    for ours, theirs in pairs:
        same("negative unused", ours, theirs)
        assert np.min(ours(STEPS)) >= 0


def test_refusals_name_the_argument():
    with pytest.raises(ValueError, match="decay_rate must be >= 0"):
        ours_mod.exponential_decay(0.1, 10, -0.5)
    with pytest.raises(ValueError, match="decay_steps"):
        ours_mod.cosine_decay_schedule(0.1, 0)
    with pytest.raises(ValueError, match="non-negative scale"):
        ours_mod.piecewise_constant_schedule(0.1, {5: -1.0})
    with pytest.raises(TypeError, match="lrsched schedule"):
        ours_mod.join_schedules([optax.constant_schedule(0.1), lrs.constant(0.2)], [5])
    with pytest.raises(ValueError, match="power"):
        ours_mod.polynomial_schedule(0.1, 0.0, -1.0, 10)


def test_optax_fallbacks_kept():
    """Optax's silent fallbacks: non-positive transition_steps -> constant init, zero rate -> constant."""
    assert ours_mod.linear_schedule(0.1, 0.0, 0) == lrs.constant(0.1)
    assert ours_mod.exponential_decay(0.1, 10, 0.0) == lrs.constant(0.1)
