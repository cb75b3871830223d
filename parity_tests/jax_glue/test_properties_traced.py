"""Every construction either refuses its arguments by name or gives a schedule whose every
value is finite and in its documented range, under ``jax.jit``: one compiled call per
example, every JAX step dtype batched, NaN and ±inf steps (the host side is
parity_tests/core/test_properties.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import f32_ulps
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import FLOAT_STEPS, build, extreme, in_range, kinds, probe

FLOAT_DTYPES = [np.float16, np.float32, np.float64]

#: The integer dtypes JAX has without x64 (the default): what a traced step can be.
JAX_INT_DTYPES = [np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32]


def check_jit(s) -> None:
    steps = probe(s)
    ints = {}
    for dt in JAX_INT_DTYPES:
        info = np.iinfo(dt)
        ints[dt.__name__] = jnp.asarray(steps[steps <= info.max].astype(dt))
    ints["uint32_big"] = jnp.asarray(np.asarray([2**31, 3_000_000_000, 2**32 - 1], dtype=np.uint32))
    with np.errstate(over="ignore"):  # float16 holds no 1e30: inf, as intended
        floats = {
            dt.__name__: jnp.asarray(
                np.asarray([*FLOAT_STEPS, np.nan, np.inf, -np.inf], np.float32), dtype=dt
            )
            for dt in FLOAT_DTYPES[:2]
        }
    got = jax.jit(lambda xs: {k: s(x) for k, x in xs.items()})({**ints, **floats})
    ref32 = np.asarray(got["int32"], dtype=np.float64)
    for k, v in got.items():
        in_range(s, v, 1e-5)
        if k in ints and k != "uint32_big":
            # narrow and unsigned steps: the values of int32 steps (XLA may vectorise arrays
            # of other lengths differently: an ulp apart at most)
            ulps = f32_ulps(v, ref32[: v.shape[0]])
            assert not np.any(ulps > 1), f"{s!r}: {k} steps differ from int32 steps by {np.nanmax(ulps)} ulps"
    for k in floats:
        v = np.asarray(got[k], dtype=np.float64)
        # traced: NaN and -inf count as step 0
        assert v[-3] == v[-1] == v[0], f"{s!r}: NaN/-inf step under jit gave {v[-3]}, {v[-1]}"


@pytest.mark.parametrize("cls", kinds())
@settings(max_examples=4)
@given(data=st.data())
def test_refused_by_name_or_finite_and_in_range_under_jit(cls, data):
    s = build(data.draw(extreme(cls), label="arguments"))
    if s is not None:
        check_jit(s)
