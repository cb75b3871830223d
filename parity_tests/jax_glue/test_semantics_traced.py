"""Step semantics under JAX: int32 steps, plain and under ``jax.jit``, against horizons and
factors that would overflow or drift in int32 / float32 (parity_tests/core/test_semantics.py
holds the host-only part)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrsched_jax as lrs


def test_exponential_every_staircase_floor():
    assert float(lrs.exponential(1.0, 0.5, every=2)(3)) == pytest.approx(0.5**1.5, rel=1e-15)
    assert float(lrs.exponential(1.0, 0.5, every=2, staircase=True)(3)) == 0.5
    assert float(lrs.exponential(1.0, 0.5, min_lr=0.1)(100)) == 0.1
    # no float32 drift of gamma**k: 0.9999**600000 stays exact to float32 ulps
    s = lrs.exponential(1.0, 0.9999)
    ref = 0.9999**600_000
    assert float(s(jnp.int32(600_000))) == pytest.approx(ref, rel=8 * 2**-24)


def test_huge_steps_do_not_overflow_or_lose_the_curve():
    big = np.array([2**31 - 1, 2**31, 2**31 + 1, 2**40 + 7, 2**53], dtype=np.int64)
    cyc = lrs.cyclic(0.0, 1.0, 4)
    assert cyc(big).tolist() == [0.25, 0.0, 0.25, 0.25, 0.0]  # t mod 8 = 7, 0, 1, 7, 0
    pc = lrs.per_epoch(lrs.step_decay(1.0, 1, 0.5), 2**31)
    np.testing.assert_allclose(pc(big), [1.0, 0.5, 0.5, 0.5**512, 0.5 ** (2**22)], rtol=1e-13)
    sr = lrs.warm_restarts(1.0, 2**31, period_mult=2)
    assert float(sr(2**31 - 1 + 2**32)) == pytest.approx(0.0, abs=1e-18)  # end of cycle 2
    assert float(sr(2**31 + 2**32)) == 1.0  # restart
    # JAX int32 steps against horizons past 2**31: no overflow, held values correct
    cos = lrs.cosine(1.0, 3 * 10**9)
    got = jax.jit(cos)(jnp.array([0, 2**31 - 1], dtype=jnp.int32))
    np.testing.assert_allclose(np.asarray(got), cos(np.array([0, 2**31 - 1])), rtol=1e-6)
    seq = lrs.sequence([lrs.constant(1.0), lrs.constant(2.0)], [3 * 10**9])
    assert np.asarray(seq(jnp.array([2**31 - 1], dtype=jnp.int32))).tolist() == [1.0]
    assert seq(np.array([3 * 10**9])).tolist() == [2.0]
