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
