"""The finder's core math (:mod:`lrsched_jax.core.finder.sweep`) jitted in JAX gives bitwise
the NumPy results: smoothing, the stop rule and every suggestion rule, in float32 and float64
(the NumPy half of these checks lives in ``parity_tests/core/test_finder_core.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from lrsched_jax.core.finder import sweep as C

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from test_finder_core import FACTOR, KINDS, SKIP, N, make_sequence, numpy_eval, ref_slide


@jax.jit
def _jax_eval(x, div, log_lrs):
    s, stop, code = C.scan(x, div, FACTOR)
    count = C.valid_count(stop, code)
    return s, stop, code, C.rule_indices(x, s, log_lrs, count, *SKIP)


def assert_same(losses: np.ndarray, beta: float) -> None:
    for dt in (np.float32, np.float64):
        ref = numpy_eval(losses, beta, dt)
        with jax.enable_x64(dt == np.float64):
            div = None if ref["div"] is None else jnp.asarray(ref["div"])
            s, stop, code, rules = _jax_eval(jnp.asarray(ref["x"]), div, jnp.asarray(ref["log_lrs"]))
            assert s.dtype == dt
            np.testing.assert_array_equal(np.asarray(s), ref["s"])  # bitwise (NaN == NaN here)
            assert int(stop) == int(ref["stop"]) and int(code) == int(ref["code"])
            for rule, (i, ok) in ref["rules"].items():
                assert (int(rules[rule][0]), bool(rules[rule][1])) == (int(i), bool(ok)), rule


# --- NumPy == jitted JAX ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("beta", [0.98, 0.0, 0.6])
def test_numpy_and_jitted_jax_agree_hand_made(kind, beta):
    for seed in range(3):
        assert_same(make_sequence(kind, seed), beta)


@given(
    kind=st.sampled_from(KINDS),
    seed=st.integers(0, 2**32 - 1),
    beta=st.sampled_from([0.0, 0.5, 0.9, 0.98, 0.999]),
)
def test_numpy_and_jitted_jax_agree_random(kind, seed, beta):
    assert_same(make_sequence(kind, seed), beta)


# No subnormal losses: XLA flushes subnormals to zero on CPU (NumPy keeps them), which no
# formula can prevent; and |x| >= 2**-100 keeps differences of two losses normal too.
_magnitude = st.floats(2.0**-100, 2.0**20, width=32)
_loss = st.one_of(st.just(0.0), _magnitude, _magnitude.map(lambda v: -v))


@given(st.lists(_loss, min_size=N, max_size=N))
def test_numpy_and_jitted_jax_agree_arbitrary_floats(values):
    assert_same(np.asarray(values), 0.98)


@pytest.mark.parametrize("scale", [1.0, 0.05])
def test_jitted_slide_index_matches_numpy(scale):
    for seed in range(10):
        rng = np.random.default_rng(seed)
        s = np.cumsum(scale * rng.normal(size=N) * rng.choice([0.01, 0.1, 1.0], size=N)) + 5.0
        i, ok = C.slide_index(s, np.int64(N), *SKIP)
        assert bool(ok) and int(i) == SKIP[0] + ref_slide(s[SKIP[0] : N - SKIP[1]])
        with jax.enable_x64(True):
            j, ok_j = jax.jit(C.slide_index, static_argnums=(2, 3))(jnp.asarray(s), jnp.int32(N), *SKIP)
            assert (int(j), bool(ok_j)) == (int(i), True)


_tied = st.sampled_from([0.0, 1.0, 2.0, 3.0, np.inf, -np.inf, np.nan])


@given(
    st.one_of(
        st.lists(_tied, min_size=1, max_size=40),
        st.lists(st.one_of(_tied, st.floats(-4.0, 4.0, width=32)), min_size=1, max_size=40),
    ),
    st.integers(0, 40),
    st.integers(0, 4),
    st.integers(0, 4),
)
@example([5.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 2.0, 1.0, 0.0], 10, 0, 0)  # ties are not a decrease
def test_valley_host_runs_equal_the_traced_loop(values, count, skip_start, skip_end):
    """The valley's run lengths on the host (patience sorting) and traced (the ``O(n**2)``
    loop) pick the same index, with ties, infinities, NaN and any window."""
    v = np.asarray(values, dtype=np.float32)
    count = min(count, len(v))
    i, ok = C.valley_index(v, np.int32(count), skip_start, skip_end)
    j, ok_j = jax.jit(C.valley_index, static_argnums=(2, 3))(
        jnp.asarray(v), jnp.int32(count), skip_start, skip_end
    )
    assert (int(i), bool(ok)) == (int(j), bool(ok_j))
