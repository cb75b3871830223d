"""Validation where JAX or torch values are involved: every accepted schedule evaluates finitely
under ``jax.jit``, and 0-d arrays of NumPy, JAX and torch are accepted as hyperparameters
(parity_tests/core/test_validation.py holds the rest)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import lrsched_jax as lrs

MIN, MAX_STEPS, MAX_LR = lrs.validate.MIN_DURATION, lrs.validate.MAX_STEPS, lrs.validate.MAX_LR


# The most extreme arguments each kind accepts (the ends of every documented range).
EXTREMES = [
    lrs.constant(MAX_LR),
    lrs.step_decay(MAX_LR, MIN, 5e-324),
    lrs.step_decay(MAX_LR, MAX_STEPS, 1.0),
    lrs.multistep(5e-324, [1, 1, 1, 1], 1e7),
    lrs.multistep(1.0, [0, MAX_STEPS], 1e15),
    lrs.exponential(MAX_LR, 5e-324, every=MIN),
    lrs.exponential(MAX_LR, 5e-324, every=MIN, staircase=True, min_lr=1e-30),
    lrs.linear(MAX_LR, 0.0, MAX_STEPS),
    lrs.polynomial(MAX_LR, MAX_STEPS, end_lr=MAX_LR, power=1000),
    lrs.polynomial(MAX_LR, 1, power=1e-3),
    lrs.cosine(MAX_LR, MIN, periodic=True),
    lrs.cosine(MAX_LR, MAX_STEPS, periodic=True),
    lrs.warm_restarts(MAX_LR, MIN, MAX_STEPS),
    lrs.warm_restarts(MAX_LR, MIN, 1.001, peak_decay=5e-324, min_lr=1.0),
    lrs.warmup_cosine(MAX_LR, MAX_STEPS - 1, MAX_STEPS, min_lr=MAX_LR, init_lr=MAX_LR),
    lrs.one_cycle(1.0, 100, div_factor=1e-30, final_div_factor=1e300, anneal="linear"),
    lrs.one_cycle(MAX_LR, 10, div_factor=1e300, final_div_factor=1e-300, three_phase=True),
    lrs.cyclic(0.0, MAX_LR, MIN, MAX_STEPS, mode="exp_range", gamma=5e-324),
    lrs.cyclic(0.0, MAX_LR, MIN, 0, mode="triangular2"),
    lrs.inverse_sqrt(MAX_LR, 0, timescale=MIN),
    lrs.warmup_stable_decay(MAX_LR, MAX_STEPS, 0, MAX_STEPS, decay="1-sqrt", min_lr=MAX_LR),
    lrs.piecewise_constant([0, MAX_STEPS], [MAX_LR, 0.0, MAX_LR]),
    lrs.piecewise_linear([0.5, 0.5001, MAX_STEPS], [MAX_LR, 0.0, MAX_LR]),
    lrs.lr_range(1e-30, 1.0, 2),
    lrs.lr_range(1.0, MAX_LR, MAX_STEPS),
    lrs.article_one_cycle(1.0, 10, div_factor=1e-30, final_div_factor=1e300),
    lrs.product([lrs.constant(1e15), lrs.cosine(1e15, MIN, periodic=True)]),
    lrs.scale(lrs.cosine(1.0, MIN), MAX_LR),
    lrs.per_epoch(lrs.step_decay(MAX_LR, MIN, 0.5), 1),
    lrs.shift(lrs.cyclic(0.0, MAX_LR, MIN), MAX_STEPS - 0.5),
]


def _zero_d_scalars():
    """0-d arrays of NumPy, JAX and torch holding 0.25 (exact in float32)."""
    import jax.numpy as jnp
    import torch

    return [np.float32(0.25), np.array(0.25), jnp.float32(0.25), jnp.array(0.25), torch.tensor(0.25)]


@pytest.mark.parametrize("s", EXTREMES, ids=[f"{i}-{s.config_name}" for i, s in enumerate(EXTREMES)])
def test_what_validation_accepts_is_finite_everywhere(s):
    """Every value at steps up to 2**63 (host int64/float64, jitted int32/uint32/float32) is
    finite and within ``[0, upper_bound()]``."""
    import jax
    import jax.numpy as jnp

    # float32 rounding may lift a value a few dozen ulps over the bound, never more
    bounds = [s.upper_bound() * (1 + 1e-12)] * 2 + [s.upper_bound() * (1 + 2**-16)] * 3
    host = [
        np.array([0, 1, 2, 999, 2**31 - 1, 2**31, 2**53, 2**53 + 1, 2**62, 2**63 - 1], dtype=np.int64),
        np.array([0.0, 0.25, 1.5, 1e9 + 0.5, 2.0**53, 2.0**63], dtype=np.float64),
    ]
    traced = [
        jnp.array([0, 1, 2, 999, 2**24 + 1, 2**31 - 1], dtype=jnp.int32),
        jnp.array([0, 2**32 - 1], dtype=jnp.uint32),
        jnp.array([0.0, 0.25, 1.5, 2.0**31, 2.0**53, 2.0**63], dtype=jnp.float32),
    ]
    fn = jax.jit(s)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # none on the host either
        values = [s(t) for t in host]
    values += [np.asarray(fn(t)) for t in traced]
    for v, bound in zip(values, bounds):
        v = np.asarray(v, dtype=np.float64)
        assert np.isfinite(v).all() and (v >= 0).all() and (v <= bound).all(), (s, v)


def test_concrete_0d_array_hyperparameters_are_stored_as_python_numbers():
    """Regression: a 0-d array was refused as "must be a real number, got Array(...)"; a
    concrete one now counts as the number it holds, stored as a Python float/int so the
    schedule stays hashable, picklable and its config JSON-able."""
    import json

    import jax.numpy as jnp

    plain = lrs.cosine(0.25, 100, min_lr=0.25 / 8)
    for v in _zero_d_scalars():
        s = lrs.cosine(v, jnp.array(100), min_lr=v / 8)
        assert s == plain and hash(s) == hash(plain) and repr(s) == repr(plain), v
        assert type(s.init_lr) is float and type(s.min_lr) is float and type(s.total_steps) is int
        assert pickle.loads(pickle.dumps(s)) == s
        assert lrs.from_config(json.loads(json.dumps(s.to_config()))) == s
    # an int field takes an integer-valued array of any kind, a list field a 1-D array
    ramp = lrs.linear(0.1, 0.0, jnp.array(3))
    assert ramp == lrs.linear(0.1, 0.0, 3) and type(ramp.total_steps) is int
    assert lrs.linear(0.1, 0.0, np.array(3.0)).total_steps == 3
    assert lrs.multistep(0.1, jnp.array([10, 20])).milestones == (10, 20)
    assert all(type(m) is int for m in lrs.multistep(0.1, np.array([10, 20])).milestones)
    # float32 0.1 is not 0.1: the value held is kept, not a guess at the decimal meant
    assert lrs.constant(np.float32(0.1)).value == float(np.float32(0.1))
