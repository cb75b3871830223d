"""The float32 contract: JAX float32 within 8 float32 ulps of the float64 value, every family
and combinator, random valid hyperparameters, steps up to 10**6 (where the value is a normal
float32)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import f32_ulps
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


def assert_f32_contract(s, steps: np.ndarray, got32) -> None:
    ref = s(steps)
    assert ref.dtype == np.float64
    got = np.asarray(got32)
    assert got.dtype == np.float32
    ulps = f32_ulps(got, ref)
    if isinstance(s, lrs.product):
        # Two cosine factors at ~4-5 ulps each can add past 8; the product may not lose more.
        ulps = ulps / product_allowance(s, steps, ref) * MAX_ULPS
    worst = np.nanmax(ulps) if np.any(np.isfinite(ulps)) else 0.0
    if worst > MAX_ULPS:
        i = int(np.nanargmax(ulps))
        raise AssertionError(
            f"{s!r}: {worst:.2f} float32 ulps at step {steps[i]} (f32 {got[i]!r}, f64 {ref[i]!r})"
        )


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


#: cosine(exponent=e) over the whole accepted range of e: tiny, fractional, large, the maximum.
EXPONENTS = [0.01, 0.5, 2.0, 5.0, 10.0, 37.3, 100.0, 1000.0]


def exponent_steps(T: float, seed: int) -> np.ndarray:
    """Every step of the first 4096 and around the horizon (where ``c**e`` is smallest or
    ``1 - c**e`` cancels), plus 20,000 random steps up to 10**6."""
    rng = np.random.default_rng(seed)
    end = int(T)
    parts = [np.arange(4096), np.arange(max(end - 4096, 0), end + 64), rng.integers(0, H + 1, 20_000), [H]]
    return np.unique(np.concatenate([np.asarray(x, dtype=np.int64) for x in parts]))


@pytest.mark.parametrize("e", EXPONENTS)
@pytest.mark.parametrize(
    ("init", "T", "min_lr", "periodic"),
    [
        (1.0, H, 0.0, False),
        (0.1, 777_777, 1e-3, False),
        (1e-3, 99_991, 0.5, True),
        (0.3, 12_345.5, 0.0, True),
    ],
)
def test_cosine_exponent_float32_within_8_ulps(e, init, T, min_lr, periodic):
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
