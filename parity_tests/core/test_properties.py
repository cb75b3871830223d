"""Every construction either refuses its arguments by name or gives a schedule whose every
value is finite and in its documented range ``[0, upper_bound()]``: every family and
combinator, hyperparameters drawn from extreme pools (strategies.extreme), steps of every
integer dtype (int8…int64, uint8…uint64), float16…float64, NaN and ±inf — on the host
(NumPy). The same under ``jax.jit``: parity_tests/jax_glue/test_properties_traced.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import FLOAT_STEPS, build, extreme, in_range, kinds, probe

from lrsched_jax.core import polynomial, polynomial_cycle

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]
BIG_STEPS = [2**31, 3_000_000_000, 2**32 - 1, 2**53, 2**63 - 1]


def check_host(s) -> None:
    steps = probe(s)
    ref = s(steps)
    in_range(s, ref, 1e-12)
    for dt in INT_DTYPES:
        info = np.iinfo(dt)
        fit = steps[steps <= info.max]
        # every integer dtype gives the value of the same step in int64
        np.testing.assert_array_equal(s(fit.astype(dt)), s(fit), err_msg=f"{s!r} at {dt.__name__} steps")
        big = np.asarray([b for b in BIG_STEPS if b <= info.max], dtype=np.uint64)
        if big.size:
            in_range(s, s(big.astype(dt)), 1e-12)
    for dt in FLOAT_DTYPES:
        with np.errstate(over="ignore"):
            fl = np.asarray(FLOAT_STEPS, dtype=dt)
        # float32 steps evaluate in float32: its rounding of the bound
        in_range(s, s(fl[np.isfinite(fl)]), 1e-12 if dt == np.float64 else 1e-6)
        assert float(s(dt(-np.inf))) == float(s(dt(0)))
        for bad in (np.nan, np.inf):
            with pytest.raises(ValueError, match="step"):
                s(np.asarray([1.0, bad], dtype=dt))


@pytest.mark.parametrize("cls", kinds())
@given(data=st.data())
def test_refused_by_name_or_finite_and_in_range_on_the_host(cls, data):
    s = build(data.draw(extreme(cls), label="arguments"))
    if s is not None:
        check_host(s)


@pytest.mark.parametrize(
    "s",
    [
        polynomial(init_lr=0.0, total_steps=2**31 - 1, end_lr=1e30),
        polynomial(init_lr=1e-30, total_steps=2**31 - 1),
        polynomial_cycle(init_lr=7.5, total_steps=2**31 - 1, end_lr=1e30),
        polynomial(init_lr=1e-6, total_steps=2**24 + 1, end_lr=1.0),
    ],
    ids=repr,
)
def test_polynomial_float32_steps_past_2_24_never_go_negative(s):
    """Regression (found by the property test above): with float32 steps and a horizon float32
    cannot hold (T = 2**31 - 1 rounds to 2**31), (T - t)/T came out above 1 and the lr
    negative (-4.7e20 for end_lr = 1e30 at step 0); T's remainder now stays in the pair."""
    steps = np.asarray(
        [0, 0.5, 1, 2.5, 1000, s.total_steps // 2, s.total_steps - 1, s.total_steps, 2**31], np.float32
    )
    v = np.asarray(s(steps), dtype=np.float64)
    assert np.all(v >= 0), v
    assert float(s(np.float32(0))) == pytest.approx(float(s(0)), rel=1e-6, abs=1e-38)
