"""``cosine(exponent=e)`` against Optax's ``cosine_decay_schedule(..., exponent=e)``: the same
values in float64 over the whole accepted range of ``e``, and in float32 ours within the
8-ulp contract where Optax's own float32 form is far off."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import f32_ulps

import lrsched_jax as lrs

T = 20_000
STEPS = np.unique(np.concatenate([np.arange(0, 2048), np.arange(T - 2048, T + 8), np.linspace(0, T, 4001)]))
STEPS = STEPS.astype(np.int64)


@pytest.mark.parametrize("e", [0.01, 0.5, 2.0, 5.0, 37.3, 100.0, 1000.0])
@pytest.mark.parametrize("alpha", [0.0, 0.25])
def test_float64_equals_optax_and_float32_keeps_the_contract(e, alpha):
    theirs = optax.cosine_decay_schedule(0.5, T, alpha=alpha, exponent=e)
    ours = lrs.cosine(0.5, T, min_lr=0.5 * alpha, exponent=e)
    with jax.enable_x64(True):
        ref = np.asarray(theirs(jnp.asarray(STEPS, dtype=jnp.int64)), dtype=np.float64)
    got64 = ours(STEPS)
    # Optax's float64 1 + cos cancels near the end (c = 1e-8 is off by 1e-8 relative, and
    # c**e by e times that): compared where c >= 1e-3, i.e. up to 98% of the horizon
    early = STEPS <= 0.98 * T
    np.testing.assert_allclose(got64[early], ref[early], rtol=1e-12, atol=1e-13)
    # and everywhere as the plain cosine (exponent 1, itself equal to Optax and torch) raised to e
    c = lrs.cosine(1.0, T)(STEPS)
    np.testing.assert_allclose(got64, 0.5 * alpha + (0.5 - 0.5 * alpha) * c**e, rtol=1e-13, atol=1e-300)
    got32 = np.asarray(jax.jit(ours)(jnp.asarray(STEPS, dtype=jnp.int32)))
    assert np.nanmax(f32_ulps(got32, got64)) <= 8
    theirs32 = np.asarray(jax.jit(theirs)(jnp.asarray(STEPS, dtype=jnp.int32)))
    assert np.nanmax(f32_ulps(got32, got64)) <= max(np.nanmax(f32_ulps(theirs32, got64)), 8)
