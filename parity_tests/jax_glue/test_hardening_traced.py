"""Issue 12, the numerics under JAX: jax.numpy integer steps of every width, uint32 steps past
int32, huge cyclic steps, the float32 contract at its edges (large powers, shifts past int32)
and traced NaN / infinite steps (the host side is parity_tests/core/test_hardening.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import f32_ulps
from strategies import representative

import lrsched_jax as lrs

STEPS = np.asarray([0, 1, 2, 5, 99, 100, 127, 255, 1000, 4095, 65_535, 999_999, 2**31 - 1], dtype=np.int64)


def ids(s):
    return type(s).__name__


def test_unsigned_steps_reproducers():
    s = lrs.one_cycle(0.1, 1000)
    assert float(s(jnp.uint32(0))) == pytest.approx(0.004, rel=1e-6)
    np.testing.assert_allclose(s(np.uint32([0, 100])), s(np.int64([0, 100])), rtol=0, atol=0)
    np.testing.assert_allclose(s(np.uint32([0, 100])), [0.004, 0.0281457], rtol=1e-5)
    assert float(lrs.piecewise_linear([10, 20], [0.0, 1.0])(np.uint32(0))) == 0.0
    sh = lrs.shift(lrs.linear(1.0, 0.0, 100), 5)
    np.testing.assert_allclose(np.asarray(sh(jnp.asarray([0, 3], dtype=jnp.uint32))), [0.95, 0.92], rtol=1e-6)


@pytest.mark.parametrize("s", representative()[::2], ids=ids)
def test_every_jax_integer_dtype_gives_the_int32_value(s):
    def all_dtypes(steps):
        return {dt: s(steps[dt]) for dt in steps}

    steps = {
        dt.__name__: jnp.asarray(STEPS[STEPS <= np.iinfo(dt).max].astype(dt))
        for dt in (np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32)
    }
    got = jax.jit(all_dtypes)(steps)
    ref = np.asarray(got["int32"])
    for name, v in got.items():
        # (XLA may vectorise arrays of other lengths differently: an ulp apart at most)
        assert not np.any(f32_ulps(v, ref[: v.shape[0]]) > 1), name


@pytest.mark.parametrize(
    "s",
    [
        lrs.cyclic(1e-4, 1e-2, 2000),  # periodic: exact phase past 2**31
        lrs.cosine(0.1, 777, periodic=True),
        lrs.warm_restarts(0.1, 1000),
        lrs.warmup(lrs.cyclic(1e-4, 1e-2, 1500, 500), 100),
        lrs.one_cycle(0.1, 1_000_000),  # constant from its horizon on
        lrs.inverse_sqrt(1e-3, 4000),  # neither: the step rounded to float32
        lrs.exponential(0.1, 0.999999999),
    ],
    ids=ids,
)
def test_uint32_steps_past_int32_without_x64(s):
    steps = np.asarray(
        [2**31 - 1, 2**31, 2**31 + 1, 2**31 + 12_345, 3_000_000_017, 2**32 - 1], dtype=np.int64
    )
    got = np.asarray(jax.jit(s)(jnp.asarray(steps.astype(np.uint32))))
    assert got.dtype == np.float32
    assert np.nanmax(f32_ulps(got, s(steps))) <= 8


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_holds_its_final_lr_past_the_horizon(anneal, three_phase):
    s = lrs.one_cycle(0.1, 100, anneal=anneal, three_phase=three_phase)
    final = float(s(99))
    assert final == pytest.approx(0.1 / 25 / 1e4, rel=1e-12)
    after = np.asarray([100, 101, 1000, 10**9, 2**40])
    assert np.all(s(after) == final)
    np.testing.assert_allclose(
        np.asarray(jax.jit(s)(jnp.asarray(after[:-1], dtype=jnp.int32))), final, rtol=1e-6
    )
    # and the values approach it from above: nothing past the horizon jumps back up
    assert np.all(np.diff(s(np.arange(90, 110))) <= 0)


@pytest.mark.parametrize("step", [100_000_044, 2_000_000_001, 2**31 - 1, 123_456_789])
def test_cyclic_fractional_period_jitted_at_huge_steps(step):
    s = lrs.cyclic(0.0, 0.1, step_size_up=2.5, step_size_down=2)
    got = float(jax.jit(s)(jnp.int32(step)))
    assert 0.0 <= got <= 0.1
    # a dyadic period (4.5 = 9/2) keeps its phase exactly in integer arithmetic
    assert got == pytest.approx(float(s(step)), rel=1e-6, abs=1e-9)


def test_cyclic_non_dyadic_period_stays_in_range():
    s = lrs.cyclic(0.01, 0.1, step_size_up=1 / 3, step_size_down=2.7)
    steps = np.arange(2**31 - 100_000, 2**31 - 1, 7)
    got = np.asarray(jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32)))
    assert np.all((got >= np.float32(0.01)) & (got <= np.float32(0.1)))


@pytest.mark.parametrize("power", [30.0, 10.0, 2.5, 0.3])
@pytest.mark.parametrize("end_lr", [0.0, 1e-5])
def test_polynomial_large_powers_within_the_float32_contract(power, end_lr):
    s = lrs.polynomial(0.0026859342009401643, 999_983, power=power, end_lr=end_lr)
    steps = np.unique(np.concatenate([np.arange(0, 999_984, 13), [284_325, 267_056, 999_982, 999_983]]))
    got = np.asarray(jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32)))
    assert np.nanmax(f32_ulps(got, s(steps))) <= 8


@pytest.mark.parametrize(
    "s",
    [
        lrs.shift(lrs.linear(1, 0, 3_000_000_000), 2_147_000_000),
        lrs.shift(lrs.cyclic(0.1, 1, 1_000_003), 2_147_483_000),
        lrs.shift(lrs.cosine(0.1, 1000, periodic=True), 2**40 + 3),
        lrs.shift(lrs.warmup_cosine(1e-3, 500, 2_100_000_000), 2_000_000_000),
        lrs.shift(lrs.shift(lrs.cyclic(1e-3, 1e-2, 700, 300), 2_000_000_000), 2_000_000_000),
    ],
    ids=repr,
)
def test_shift_past_int32_within_the_float32_contract(s):
    steps = np.unique(np.concatenate([np.arange(0, 2_000_000, 997), [1_000_000, 523_446, 147_483_647]]))
    got = np.asarray(jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32)))
    assert np.nanmax(f32_ulps(got, s(steps))) <= 8


@pytest.mark.parametrize("s", representative()[::4], ids=ids)
def test_nan_and_inf_steps(s):
    for bad in (float("nan"), float("inf"), np.float32("nan")):
        with pytest.raises(ValueError, match="step must be a finite number of steps"):
            s(bad)
    with pytest.raises(ValueError, match="got nan"):
        s(np.asarray([0.0, 1.0, np.nan]))
    assert s(-np.inf) == s(0)
    # traced: NaN and -inf count as step 0, +inf as step 2**63 (finite and in range)
    got = np.asarray(jax.jit(s)(jnp.asarray([np.nan, -np.inf, np.inf, 0.0], dtype=jnp.float32)))
    assert got[0] == got[1] == got[3]
    assert np.isfinite(got[2]) and 0 <= got[2] <= s.upper_bound() * (1 + 1e-6)
    assert got[2] == np.asarray(jax.jit(s)(jnp.asarray([2.0**63], dtype=jnp.float32)))[0]
