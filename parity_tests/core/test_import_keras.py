"""``lrsched_jax.from_keras`` against Keras 3 itself (JAX backend), random arguments.

``from_keras(keras.optimizers.schedules.serialize(s))`` is compared with ``s`` at every step
up to 3000: with Keras in float32 (its default) within float32 tolerance (``2**-24`` relative
per rounding Keras makes, times the exponent for its ``decay_rate ** p``), and with Keras in
float64 (``floatx='float64'`` under x64) within ``1e-12`` of the initial lr for the four
classes Keras computes cleanly there (its cosines keep float32-rounded parts, ~3e-8).
"""

from __future__ import annotations

import contextlib
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

keras = pytest.importorskip("keras")
S = keras.optimizers.schedules

import lrsched_jax as lrs  # noqa: E402

STEPS = np.arange(3000)
MEASURED: dict[str, float] = {}

lr = st.floats(1e-5, 1.0)
decay_steps = st.integers(50, 1500)


@contextlib.contextmanager
def keras_float64():
    old = keras.config.floatx()
    keras.config.set_floatx("float64")
    try:
        with jax.enable_x64(True):
            yield
    finally:
        keras.config.set_floatx(old)


def keras_curve(sched, scalar: bool) -> np.ndarray:
    k = jnp.asarray(STEPS)
    return np.asarray(jax.vmap(sched)(k) if scalar else sched(k), dtype=np.float64)


def boundary_steps(got, ref, points, tol):
    """Keras float32 computes its phase index (``floor``/``ceil`` of ``step / decay_steps``,
    a restart index from a float32 logarithm) from rounded float32 values, which at some
    exact boundaries land on the wrong side: Keras switches one step late or early there.
    The documented exception: every step where the curves differ is a boundary ``b`` (one of
    ours, ``points``) or the step before one, and Keras' value there is the neighbouring
    side's, within about one step's change (twice the neighbouring step's: on a convex curve
    such as a polynomial's end the step before is the larger one, by up to ~(D/(D-2))**(p-1))."""
    pts = set(int(p) for p in points)
    bad = np.flatnonzero(np.abs(got - ref) > tol)
    ref = ref.copy()
    for k in bad:
        at = k in pts or (k + 1) in pts
        late = at and k >= 2 and abs(ref[k] - got[k - 1]) <= 2 * abs(got[k - 1] - got[k - 2]) + tol
        n = len(got)
        early = at and k + 2 < n and abs(ref[k] - got[k + 1]) <= 2 * abs(got[k + 2] - got[k + 1]) + tol
        assert late or early, f"step {k}: Keras {ref[k]!r}, ours {got[k]!r}"
        ref[k] = got[k]
    return ref


def compare(make, peak, f32_rel, scalar=False, f64=True, boundaries=False, f64_residue=0.0):
    """``make()`` builds the Keras schedule (inside each float mode)."""
    sched = make()
    ours = lrs.from_keras(S.serialize(sched))
    got = ours(STEPS)
    ref = keras_curve(sched, scalar)
    if boundaries:
        ref = boundary_steps(got, ref, ours.change_points(len(STEPS)), f32_rel * peak)
    err32 = float(np.max(np.abs(got - ref))) / peak
    name = type(sched).__name__
    MEASURED[name + "/float32"] = max(MEASURED.get(name + "/float32", 0.0), err32)
    assert err32 <= f32_rel, f"{name}: {err32:.3g} * peak against Keras float32"
    if f64:
        with keras_float64():
            sched64 = make()
            ref64 = keras_curve(sched64, scalar)
        if boundaries:
            ref64 = boundary_steps(got, ref64, ours.change_points(len(STEPS)), 1e-12 * peak)
        if f64_residue:
            # the float64 form of the polynomial exception: XLA's 1 - step*(1/T) is ~2**-52
            # where it is 0, so Keras is NaN or residue**power off there; ours is exact
            off = np.isnan(ref64) | (np.abs(got - ref64) > 1e-12 * peak)
            assert np.all(np.isnan(ref64[off]) | (np.abs(got[off] - ref64[off]) <= f64_residue * peak))
            ref64 = np.where(off, got, ref64)
        err64 = float(np.max(np.abs(got - ref64))) / peak
        MEASURED[name + "/float64"] = max(MEASURED.get(name + "/float64", 0.0), err64)
        assert err64 <= 1e-12, f"{name}: {err64:.3g} * peak against Keras float64"
    return ours


F32 = 4 * 2.0**-24


@given(lr, decay_steps, st.floats(0.5, 0.999), st.booleans())
def test_exponential_decay(init, D, rate, stair):
    p = STEPS[-1] / D
    compare(lambda: S.ExponentialDecay(init, D, rate, staircase=stair), init, F32 * (2 + p), boundaries=stair)


@given(st.lists(st.integers(-3, 2900), min_size=1, max_size=5, unique=True), st.data())
def test_piecewise_constant_decay(bounds, data):
    bounds = sorted(bounds)
    values = data.draw(st.lists(lr, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    compare(lambda: S.PiecewiseConstantDecay(bounds, values), max(values), F32)


@given(lr, decay_steps, st.floats(0.0, 1e-3), st.floats(0.25, 3.0), st.booleans())
def test_polynomial_decay(init, D, end, power, cycle):
    # Keras rounds 1 - step/decay_steps in float32 before the power (XLA turns the division
    # into a product with 1/decay_steps, so 1 - p can be ~2**-24 where it is 0): a power below
    # 1 magnifies that near the end, by up to (2**-23)**power (the float64 run checks exactness)
    rel = F32 * (4 + 4 * power) + (2.0**-23) ** power * (power < 1)
    residue = (4 * 2.0**-52) ** min(power, 1.0)
    make = lambda: S.PolynomialDecay(init, D, end, power, cycle=cycle)  # noqa: E731
    compare(make, max(init, end), rel, boundaries=cycle, f64_residue=residue)


@given(lr, decay_steps, st.floats(0.01, 5.0), st.booleans())
def test_inverse_time_decay(init, D, rate, stair):
    compare(lambda: S.InverseTimeDecay(init, D, rate, staircase=stair), init, F32 * 4, boundaries=stair)


@given(lr, decay_steps, st.floats(0.0, 0.5), st.one_of(st.none(), st.tuples(lr, st.integers(0, 500))))
def test_cosine_decay(init, D, alpha, warm):
    if warm is None:
        make = lambda: S.CosineDecay(init, D, alpha)  # noqa: E731
        peak = init
    else:
        target, W = warm
        make = lambda: S.CosineDecay(init, D, alpha, warmup_target=target, warmup_steps=W)  # noqa: E731
        peak = max(init, target)
    compare(make, peak, F32 * 8, scalar=warm is not None, f64=False)


@given(lr, st.integers(20, 800), st.sampled_from([1.0, 2.0, 3.0]), st.floats(0.3, 1.0), st.floats(0.0, 0.3))
def test_cosine_decay_restarts(init, D, t_mul, m_mul, alpha):
    # Keras' float32 fraction of the cycle, step / D minus its floor, keeps fewer bits the
    # more cycles have passed: ~2**-24 * (step / D) absolute in the phase
    rel = F32 * (8 + 4 * STEPS[-1] / D)
    compare(
        lambda: S.CosineDecayRestarts(init, D, t_mul, m_mul, alpha), init, rel, f64=False, boundaries=True
    )


def test_keras_float64_cosines_are_float32_rounded():
    """Why the cosines are compared against Keras float32 only: in float64 mode Keras' cosine
    still carries float32 rounding (here 3e-8 at the midpoint, where the value is 0.5 exactly)."""
    with keras_float64():
        mid = float(S.CosineDecay(1.0, 100)(50))
    assert abs(lrs.from_keras(S.serialize(S.CosineDecay(1.0, 100)))(50) - 0.5) <= 1e-15
    assert 1e-9 < abs(mid - 0.5) < 1e-7


def test_refusals():
    with pytest.raises(ValueError, match="decay_rate"):
        lrs.from_keras(S.serialize(S.ExponentialDecay(0.1, 10, 1.5)))
    with pytest.raises(ValueError, match="m_mul"):
        lrs.from_keras(S.serialize(S.CosineDecayRestarts(0.1, 10, m_mul=1.5)))
    with pytest.raises(TypeError, match="class_name"):
        lrs.from_keras({"initial_learning_rate": 0.1})
    with pytest.raises(TypeError, match="not one of"):
        lrs.from_keras({"module": "mine", "class_name": "Noam", "config": {}})
