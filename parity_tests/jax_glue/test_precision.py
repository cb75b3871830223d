"""The float32 contract: JAX float32 within 8 float32 ulps of the float64 value, every family
and combinator, random valid hyperparameters, steps up to 10**6 (where the value is a normal
float32)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import diagonal, f32_ulps
from hypothesis import given
from hypothesis import strategies as st
from strategies import ALL, H

import lrsched_jax as lrs

MAX_ULPS = 8.0


PROBE = 32_768


def probe_steps(s, seed: int, dense: bool = False) -> np.ndarray:
    """Every step near the start, around each change point and the horizon, plus a random
    sample (``dense``: every step up to 10**6)."""
    if dense:
        return np.arange(H + 1, dtype=np.int64)
    rng = np.random.default_rng(seed)
    early = s.change_points(100_000)
    # Periodic kinds with short periods: their first 10**5 steps show every boundary case.
    points = early if len(early) > 1000 else s.change_points(H)
    points = np.floor(np.asarray(points, dtype=np.float64)).astype(np.int64)
    if len(points) > 300:  # periodic kinds: the first and last 50 and a sample between
        points = np.concatenate([points[:50], points[-50:], rng.choice(points, 200)])
    near = (points[:, None] + np.arange(-3, 4)[None, :]).ravel()
    parts = [np.arange(2048), rng.integers(0, H + 1, 20_000), [H - 1, H], near]
    steps = np.unique(np.concatenate([np.asarray(x, dtype=np.int64) for x in parts]))
    steps = steps[(steps >= 0) & (steps <= H)][:PROBE]
    # One fixed length, so JAX compiles each operation once for all examples.
    return np.concatenate([steps, rng.integers(0, H + 1, PROBE - len(steps))])


def product_allowance(s, steps: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """A product's relative error is the sum of its factors' plus one rounding per multiply;
    in ulps of the product (at least 8)."""
    rel = np.zeros(len(steps))
    for f in s.schedules:
        f64 = f(steps)
        f32 = np.asarray(f(jnp.asarray(steps, dtype=jnp.int32)), dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel += np.nan_to_num(np.abs(f32 - f64) / np.abs(f64))
    rel += 2.0**-24 * (len(s.schedules) - 1)
    spacing = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64) / np.maximum(np.abs(ref), 1e-300)
    return np.maximum(MAX_ULPS, rel / spacing)


def assert_f32_contract(s, steps: np.ndarray, got32, max_ulps: float = MAX_ULPS) -> None:
    ref = s(steps)
    assert ref.dtype == np.float64
    got = np.asarray(got32)
    assert got.dtype == np.float32
    ulps = f32_ulps(got, ref)
    if isinstance(s, lrs.product):
        # Two cosine factors at ~4-5 ulps each can add past 8; the product may not lose more.
        ulps = ulps / product_allowance(s, steps, ref) * MAX_ULPS
    worst = np.nanmax(ulps) if np.any(np.isfinite(ulps)) else 0.0
    if worst > max_ulps:
        i = int(np.nanargmax(ulps))
        raise AssertionError(
            f"{s!r}: {worst:.2f} float32 ulps at step {steps[i]} (f32 {got[i]!r}, f64 {ref[i]!r})"
        )


#: cosine(exponent=e) over the whole accepted range of e: tiny, fractional, large, the maximum.
EXPONENTS = [0.01, 0.5, 2.0, 5.0, 10.0, 37.3, 100.0, 1000.0]


def exponent_steps(T: float, seed: int) -> np.ndarray:
    """Every step of the first 4096 and around the horizon (where ``c**e`` is smallest or
    ``1 - c**e`` cancels), plus 20,000 random steps up to 10**6."""
    rng = np.random.default_rng(seed)
    end = int(T)
    parts = [np.arange(4096), np.arange(max(end - 4096, 0), end + 64), rng.integers(0, H + 1, 20_000), [H]]
    return np.unique(np.concatenate([np.asarray(x, dtype=np.int64) for x in parts]))


@pytest.mark.parametrize("kind", sorted(ALL))
@given(data=st.data())
def test_float32_within_8_ulps_of_float64(kind, data):
    s = data.draw(ALL[kind], label="schedule")
    steps = probe_steps(s, data.draw(st.integers(0, 2**32 - 1), label="seed"))
    assert_f32_contract(s, steps, s(jnp.asarray(steps, dtype=jnp.int32)))


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(ALL))
@given(data=st.data())
def test_float32_contract_every_step_jitted(kind, data):
    s = data.draw(ALL[kind], label="schedule")
    steps = probe_steps(s, 0, dense=True)
    assert_f32_contract(s, steps, jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32)))


COSINE_CASES = [
    (1.0, H, 0.0, False),
    (0.1, 777_777, 1e-3, False),
    (1e-3, 99_991, 0.5, True),
    (0.3, 12_345.5, 0.0, True),
]


@pytest.mark.parametrize(("init", "T", "min_lr", "periodic", "e"), diagonal(COSINE_CASES, EXPONENTS))
def test_cosine_exponent_float32_within_8_ulps(init, T, min_lr, periodic, e):
    """Regression: c**e rounded c in float32 first, so the error grew with e (13.6 ulps at
    e = 5, 236 at e = 100); now c and 1 - c are float32 pairs and the power is raised in pair
    arithmetic. min_lr > init_lr (the third case) weighs 1 - c**e, computed from expm1."""
    s = lrs.cosine(init, T, min_lr=min_lr, periodic=periodic, exponent=e)
    steps = exponent_steps(T, seed=int(e * 10))
    assert_f32_contract(s, steps, jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32)))


@pytest.mark.parametrize("e", [0.5, 3.0, 100.0])
def test_cosine_exponent_float32_float_steps(e):
    """Fractional float32 steps (x = t*pi/(2T) is split exactly, the fraction included)."""
    s = lrs.cosine(1.0, 1000, exponent=e)
    near_end = 1000 - np.geomspace(1e-3, 1, 200)
    steps = np.concatenate([np.linspace(0, 1000, 20_001), near_end]).astype(np.float32)
    # the float64 reference at the same (float32) steps
    assert_f32_contract(s, steps.astype(np.float64), jax.jit(s)(jnp.asarray(steps)))


def restart_steps(s, seed: int) -> np.ndarray:
    """Every step within 3 of each restart up to 10**6 (where a cycle ends: the steps left are
    few), the first 4096 steps and 20,000 random ones up to 10**6."""
    rng = np.random.default_rng(seed)
    points = np.floor(np.asarray(s.change_points(H), dtype=np.float64)).astype(np.int64)
    near = (points[:, None] + np.arange(-3, 4)[None, :]).ravel()
    parts = [np.arange(4096), rng.integers(0, H + 1, 20_000), near, [H]]
    steps = np.unique(np.concatenate([np.asarray(x, dtype=np.int64) for x in parts]))
    return steps[(steps >= 0) & (steps <= H)]


@pytest.mark.parametrize(
    ("T0", "min_lr", "decay", "mult"),
    diagonal([(1, 0.0, 0.7), (100, 1e-5, 1.0), (3333, 1e-4, 0.9)], [1.5, 1.3, 2.5, 1.001, 3.7]),
)
def test_warm_restarts_fractional_period_mult_float32(T0, min_lr, decay, mult):
    """Regression: with a fractional ``period_mult`` (Keras' ``t_mul=1.5``) the cycle starts
    were rounded to float32 and the steps left came from ``T_n - (t - S_n)``, which cancels
    near each cycle's end: up to 1.5e8 ulps (1.5, 100), 12e6 (1.3), 6.8e6 (2.5), 1.2e7
    (1.001), jitted. Now the steps done and left are exact pairs (at most 6.1 ulps measured)."""
    s = lrs.warm_restarts(0.3, T0, mult, min_lr=min_lr, peak_decay=decay)
    steps = restart_steps(s, seed=T0)
    assert_f32_contract(s, steps, jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32)))


K_DECAY_CYCLES = [
    ("cosine", {}, 1_000_000, 1),
    ("cosine", {}, 90_001, 2),
    ("cosine", {}, 3, 1.001),
    ("polynomial", {"power": 1.5}, 777, 3),
    ("polynomial", {"power": 0.7}, 1000, 1.5),
]


@pytest.mark.parametrize(
    ("shape", "extra", "T0", "mult", "k"), diagonal(K_DECAY_CYCLES, [0.1, 0.5, 0.8, 2.0, 20.0, 1000.0])
)
def test_decay_cycles_k_decay_float32_jitted(shape, extra, T0, mult, k):
    """Regression: timm's k-decay warp took ``1 - u**k`` from Kahan's
    ``(exp(a) - 1) * a / log(exp(a))``, which XLA folds into ``exp(a) - 1`` under ``jit``: up to
    1.2e6 ulps near each cycle's end (k = 0.5). Now ``log(u)`` and ``k*log(u)`` are pairs and
    ``1 - u**k`` their series ``expm1`` (at most 7.1 ulps measured, k in [0.01, 1000])."""
    s = lrs.decay_cycles(0.3, T0, shape, min_lr=1e-5, period_mult=mult, peak_decay=0.8, k=k, **extra)
    steps = restart_steps(s, seed=int(k * 10))
    assert_f32_contract(s, steps, jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32)))


@pytest.mark.parametrize("kind", ["polynomial", "polynomial_cycle"])
@pytest.mark.parametrize(("T", "power"), [(1_000_000, 0.1), (777_777, 1.0), (333, 0.1), (99_991, 3.7)])
def test_polynomial_end_lr_dominant_float32(kind, T, power):
    """Where ``end_lr`` dominates the lr is ``end_lr * (1 - w)``; ``1 - w`` came from XLA's float32
    ``log1p``/``expm1`` (1.6 and 4.3 ulps off): 7.0 ulps at ``power=0.1``. Now pair arithmetic:
    at most 2.1 ulps measured, asserted within 3."""
    s = getattr(lrs, kind)(1e-6, T, end_lr=1.0, power=power)
    steps = np.arange(H + 1, dtype=np.int64)
    t32 = jnp.asarray(steps, dtype=jnp.int32)
    # eager too: the remainder of the quotient must not rely on XLA contracting it into an FMA
    for got in (jax.jit(s)(t32), s(t32)):
        assert_f32_contract(s, steps, got, max_ulps=3.0)


@pytest.mark.parametrize("power", [0.5, 1.0, 2.0])
def test_polynomial_start_with_end_lr_far_above_init_lr_jitted(power):
    """Regression (drawn by the Hugging Face importer's property test, a '1-sqrt' warm-up from
    ``min_lr_ratio=1e-12``): jitted, XLA divides by the constant ``T`` as a product with its
    reciprocal, so ``1 - w`` at step 0 was about 2**-48, not 0: 0.4 % (20,971 ulps) of an lr
    of 1e-14 rising to 0.01. Now ``1 - w`` is 0 at step 0."""
    s = lrs.polynomial(1e-14, 115, end_lr=0.01, power=power)
    steps = np.arange(300)
    got = jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32))
    assert abs(float(got[0]) / 1e-14 - 1) < 2**-22
    assert_f32_contract(s, steps, got)


@pytest.mark.parametrize(
    "s",
    [
        lrs.warm_restarts(0.3, 7, 1.5, min_lr=1e-5, peak_decay=0.5),
        lrs.decay_cycles(0.3, 100, period_mult=1.3, k=0.5),
        lrs.decay_cycles(0.3, 100, "tanh", period_mult=1.3),
        lrs.decay_cycles(0.3, 100, "polynomial", period_mult=1.3, power=1.5),
    ],
    ids=repr,
)
def test_fractional_restarts_float32_float_steps(s):
    """Fractional float32 steps with fractional restarts: a step may pass the whole part of the
    cycle's end (the steps left are then in (0, 1)), and must not be clamped to it. Steps within
    4 float32 ulps of a restart are left out: float32 cannot hold the restart itself, so the
    two precisions may fall on different sides of it (the contract's exclusion)."""
    rng = np.random.default_rng(0)
    ends = np.asarray(s.change_points(10**5), dtype=np.float64)
    near = (ends[:, None] - np.geomspace(1e-3, 1.5, 40)[None, :]).ravel()
    steps = np.concatenate([rng.uniform(0, 1e5, 50_000), np.linspace(0, 200, 20_001), near])
    steps = steps[steps >= 0].astype(np.float32)
    gap = np.abs(steps[:, None].astype(np.float64) - ends[None, :]).min(axis=1)
    steps = steps[gap > 4 * np.spacing(steps).astype(np.float64)]
    assert_f32_contract(s, steps.astype(np.float64), jax.jit(s)(jnp.asarray(steps)))


WSD_SHAPES = [
    {"stable": "rsqrt"},
    {"stable": "power", "stable_power": 3.7, "stable_timescale": 0.3},
    {"stable": "power", "stable_power": 0.05, "stable_timescale": 7.5, "decay": "power"},
    {"stable": "rsqrt", "stable_timescale": 123.456, "decay": "cosine"},
    {"stable": "rsqrt", "stable_timescale": 0.001, "decay": "1-sqrt"},
    {"stable": "rsqrt", "decay": "power", "decay_power": 7.0, "min_lr": 1e-4},
    {
        "stable": "power",
        "stable_power": 1000.0,
        "stable_timescale": 1e5,
        "decay": "exp",
        "decay_ratio": 1e-9,
    },
    {"decay": "exp", "decay_ratio": 1e-3},
    {"decay": "exp", "decay_ratio": 0.9, "min_lr": 0.5},
    {"decay": "power", "decay_power": 0.01, "min_lr": 1.0},
    {"decay": "power", "decay_power": 1000.0},
]


@pytest.mark.parametrize(("W", "D", "kw"), diagonal([(1000, 700_000), (5, 999_000), (0, 3)], WSD_SHAPES))
def test_warmup_stable_decay_timm_shapes_float32_jitted(W, D, kw):
    """timm's WSD shapes (stable 'rsqrt'/'power', decay 'power'/'exp'), every step to 10**6,
    jitted. The stable factor is raised as a pair (a power of the rounded quotient, or
    exp(-p*log1p(q)), loses p*log(1 + q) ulps: ~18 at 10**6); measured at most 4.7 ulps."""
    if W == 0 and "stable" in kw and "stable_timescale" not in kw:
        kw = {**kw, "stable_timescale": 50}
    s = lrs.warmup_stable_decay(0.3, H, W, D, **kw)
    steps = np.arange(H + 1, dtype=np.int64)
    assert_f32_contract(s, steps, jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32)))


@pytest.mark.parametrize(
    "s",
    [
        lrs.decay_cycles(0.01, 1000, period_mult=1.5, peak_decay=2.19, min_lr=1e-5),
        lrs.decay_cycles(0.3, 7, "polynomial", power=1.5, peak_decay=1.7, cycles=8),
        lrs.decay_cycles(1e-4, 333, "tanh", peak_decay=40.0, cycles=6, period_mult=2),
    ],
    ids=repr,
)
def test_growth_float32_jitted(s):
    """Growing peaks (timm's cycle_decay > 1) within their bound: the growth factor is exp_times
    of the cycle index, within 8 ulps. (step_decay's bounded growth needs step_size >= ~2**44,
    so up to 10**6 it is its first step: nothing to measure.)"""
    steps = restart_steps(s, seed=7)
    assert_f32_contract(s, steps, jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32)))
