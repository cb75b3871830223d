"""Every construction either refuses its arguments by name or gives a schedule whose every
value is finite and in its documented range ``[0, upper_bound()]``: every family and
combinator, hyperparameters drawn from extreme pools (strategies.extreme), steps of every
integer dtype (int8…int64, uint8…uint64), float16…float64, NaN and ±inf — on the host
(NumPy) and under ``jax.jit`` (one compiled call per example, all step dtypes batched)."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import f32_ulps
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import COMBINATOR_CLASSES, FAMILY_CLASSES, extreme

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]
#: The integer dtypes JAX has without x64 (the default): what a traced step can be.
JAX_INT_DTYPES = [np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32]
BASE_STEPS = [0, 1, 2, 3, 7, 99, 100, 101, 127, 255, 1000, 65_535, 10**6, 2**24 + 1, 2**31 - 1]
BIG_STEPS = [2**31, 3_000_000_000, 2**32 - 1, 2**53, 2**63 - 1]
FLOAT_STEPS = [0.0, 0.5, 2.5, 99.5, 1e3, 6.5e4, 1e6, 1e9, 1e15, 1e30]


def build(cls_kwargs):
    """The schedule, or ``None`` after checking that the refusal names an argument."""
    cls, kwargs = cls_kwargs
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        names = [f.name for f in dataclasses.fields(cls)]
        assert any(n in str(e) for n in names), f"{cls.config_name}({kwargs}): {e!r} names no argument"
        return None


def probe(s) -> np.ndarray:
    """Integer steps to look at: fixed ones and every change point's neighbours."""
    try:
        pts = list(s.change_points(2.0**31))[:40]
    except ValueError:  # a short period: more change points than one call lists
        try:
            pts = list(s.change_points(100))[:40]
        except ValueError:
            pts = []
    near = [math.floor(p) + d for p in pts for d in (-1, 0, 1)]
    steps = np.unique(np.asarray(BASE_STEPS + near, dtype=np.int64))
    return steps[(steps >= 0) & (steps <= 2**31 - 1)]


def in_range(s, values, rel: float) -> None:
    computed = np.asarray(values)
    v = computed.astype(np.float64)
    top = s.upper_bound()
    assert np.all(np.isfinite(v)), f"{s!r}: non-finite values {v[~np.isfinite(v)][:5]}"
    assert np.all(v >= 0), f"{s!r}: negative value {v.min()}"
    if math.isfinite(top):
        # a bound in the subnormal range is held to the spacing there (absolute, not relative)
        floor = float(np.finfo(computed.dtype).smallest_subnormal) * 4
        assert np.all(v <= top * (1 + rel) + floor), f"{s!r}: {v.max()} above its bound {top}"


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


def kinds():
    return [pytest.param(c, id=c.config_name) for c in FAMILY_CLASSES + COMBINATOR_CLASSES]


@pytest.mark.parametrize("cls", kinds())
@given(data=st.data())
def test_refused_by_name_or_finite_and_in_range_on_the_host(cls, data):
    s = build(data.draw(extreme(cls), label="arguments"))
    if s is not None:
        check_host(s)


@pytest.mark.parametrize("cls", kinds())
@settings(max_examples=4)
@given(data=st.data())
def test_refused_by_name_or_finite_and_in_range_under_jit(cls, data):
    s = build(data.draw(extreme(cls), label="arguments"))
    if s is not None:
        check_jit(s)
