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
import re

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

keras = pytest.importorskip("keras")
S = keras.optimizers.schedules

from conftest import f32_ulps  # noqa: E402

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


@given(lr, st.integers(20, 800), st.sampled_from([1.0, 2.0, 3.0]), st.floats(0.3, 3.0), st.floats(0.0, 0.3))
def test_cosine_decay_restarts(init, D, t_mul, m_mul, alpha):
    """Growing peaks (``m_mul > 1``) too, with the ``t_mul > 1`` they need."""
    if m_mul > 1 and t_mul == 1:
        t_mul = 2.0
    # Keras' float32 fraction of the cycle, step / D minus its floor, keeps fewer bits the
    # more cycles have passed: ~2**-24 * (step / D) absolute in the phase
    rel = F32 * (8 + 4 * STEPS[-1] / D)
    peak = float(
        np.max(lrs.from_keras(S.serialize(S.CosineDecayRestarts(init, D, t_mul, m_mul, alpha)))(STEPS))
    )
    compare(
        lambda: S.CosineDecayRestarts(init, D, t_mul, m_mul, alpha), peak, rel, f64=False, boundaries=True
    )


@pytest.mark.parametrize("t_mul", [1.0, 2.0])
def test_cosine_decay_restarts_m_mul_zero(t_mul):
    """``m_mul = 0``: Keras' first cycle, then ``alpha * initial_learning_rate`` for ever."""
    compare(lambda: S.CosineDecayRestarts(0.1, 100, t_mul, 0.0, 0.2), 0.1, F32 * 8, f64=False)


def test_cosine_decay_restarts_growing_peaks_reach_keras_values():
    """The Keras test suite's ``t_mul=3.0, m_mul=4.0``: peaks growing 4x a cycle."""
    k = S.CosineDecayRestarts(0.05, 10, t_mul=3.0, m_mul=4.0, alpha=0.1)
    ours = lrs.from_keras(S.serialize(k))
    steps = np.array([0, 5, 10, 25, 40, 85, 130, 200, 400, 1000])
    np.testing.assert_allclose(ours(steps), np.asarray(k(jnp.asarray(steps))), rtol=1e-6)
    assert np.all(np.diff(ours([0, 10, 40, 130, 400])) > 0)


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
    with pytest.raises(TypeError, match="class_name"):
        lrs.from_keras({"initial_learning_rate": 0.1})
    with pytest.raises(TypeError, match="not one of"):
        lrs.from_keras({"module": "mine", "class_name": "Noam", "config": {}})


def test_growing_peaks_refused_only_where_they_would_not_stay_finite():
    """``m_mul > 1`` converts with ``t_mul > 1`` up to the bound that keeps the last peak
    before step 2**63 at most 1e30, and the messages name Keras' arguments."""
    with pytest.raises(ValueError, match=r"m_mul must be in \(0, 1\] with t_mul == 1") as e:
        lrs.from_keras(S.serialize(S.CosineDecayRestarts(0.1, 10, t_mul=1.0, m_mul=1.5)))
    assert "peak_decay" not in str(e.value) and "period_mult" not in str(e.value)
    limit = lrs.warm_restarts.peak_decay_limit(0.1, 1000, 2.0)
    assert 3.6 < limit < 3.7  # the bound the module docstring quotes
    s = lrs.from_keras(S.serialize(S.CosineDecayRestarts(0.1, 1000, 2.0, m_mul=limit)))
    assert s.upper_bound() <= lrs.validate.MAX_LR
    with pytest.raises(ValueError, match=r"m_mul=3\.7 makes the peak .* at most 3\.68") as e:
        lrs.from_keras(S.serialize(S.CosineDecayRestarts(0.1, 1000, 2.0, m_mul=3.7)))
    assert "peak_decay" not in str(e.value)
    with pytest.raises(ValueError, match="m_mul must be >= 0"):
        lrs.from_keras(S.serialize(S.CosineDecayRestarts(0.1, 1000, 2.0, m_mul=-0.5)))


@pytest.mark.parametrize(
    ("sched", "named", "bad", "internal"),
    [
        (S.ExponentialDecay(0.1, 10, 0.5), "decay_steps", 0, "every"),
        (S.InverseTimeDecay(0.1, 10, 0.5), "decay_rate", -0.5, "rate"),
        (S.PolynomialDecay(0.1, 10), "end_learning_rate", -1.0, "end_lr"),
        (S.CosineDecay(0.1, 10), "decay_steps", 0, "total_steps"),
        (S.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=5), "warmup_target", -1.0, "init_lr"),
        (S.CosineDecayRestarts(0.1, 10), "first_decay_steps", 0, "first_period"),
        (S.CosineDecayRestarts(0.1, 10), "t_mul", 1.0005, "period_mult"),
    ],
)
def test_errors_name_the_keras_argument(sched, named, bad, internal):
    """A config Keras' constructor would take (or the caller wrote) that lrsched refuses: the
    message names Keras' argument, not the lrsched family's."""
    cfg = S.serialize(sched)
    cfg["config"][named] = bad
    with pytest.raises(ValueError, match=rf"^from_keras\(\w+\): {named}\b") as e:
        lrs.from_keras(cfg)
    assert not re.search(rf"\b{internal}\b", str(e.value))


SAMPLES = [
    (S.ExponentialDecay(0.1, 10, 0.9, staircase=True), "staircase", "staircse"),
    (S.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.1]), "boundaries", "boundries"),
    (S.PolynomialDecay(0.1, 100, 0.01, power=2.0, cycle=True), "cycle", "cyle"),
    (S.InverseTimeDecay(0.1, 10, 0.5), "decay_rate", "decay_rat"),
    (S.CosineDecay(0.1, 100, 0.1, warmup_target=0.2, warmup_steps=10), "warmup_steps", "warmup_step"),
    (S.CosineDecayRestarts(0.1, 100, 2.0, 0.9, 0.1), "m_mul", "mmul"),
]


@pytest.mark.parametrize(("sched", "key", "typo"), SAMPLES, ids=[type(s[0]).__name__ for s in SAMPLES])
def test_unknown_config_keys_refused_as_keras_does(sched, key, typo):
    """Every key Keras writes is read; a key Keras' constructor does not take (a typo that
    would otherwise silently fall back to a default) is refused, as Keras' deserialize does."""
    cfg = S.serialize(sched)
    assert set(cfg["config"]) == set(lrs.core.keras._KEYS[cfg["class_name"]])
    lrs.from_keras(cfg)
    bad = {**cfg, "config": {**cfg["config"], typo: cfg["config"][key]}}
    del bad["config"][key]
    with pytest.raises(TypeError, match=typo):
        S.deserialize(bad)
    with pytest.raises(ValueError, match=rf"unknown config key '{typo}' \(did you mean '{key}'\?\)"):
        lrs.from_keras(bad)
    with pytest.raises(ValueError, match=r"unknown config key 'zzz';"):
        lrs.from_keras({**cfg, "config": {**cfg["config"], "zzz": 1}})


class CosineDecay(S.CosineDecay):
    """A user's unregistered subclass, named like the built-in."""

    def __call__(self, step):
        return 2 * super().__call__(step)


def test_user_subclasses_refused():
    """A registered subclass defined in a script or notebook serialises as ``module: None``,
    ``registered_name: 'pkg>ExponentialDecay'`` with its base's config: not Keras' class."""

    class ExponentialDecay(S.ExponentialDecay):
        __module__ = "__main__"

        def __call__(self, step):
            return 2 * super().__call__(step)

    keras.saving.register_keras_serializable(package="pkg")(ExponentialDecay)
    try:
        cfg = S.serialize(ExponentialDecay(0.1, 10, 0.9))
    finally:
        from keras.src.saving import object_registration as reg

        reg.GLOBAL_CUSTOM_OBJECTS.pop(reg.GLOBAL_CUSTOM_NAMES.pop(ExponentialDecay), None)
    assert (cfg["module"], cfg["class_name"], cfg["registered_name"]) == (
        None,
        "ExponentialDecay",
        "pkg>ExponentialDecay",
    )
    with pytest.raises(
        TypeError, match=r"module None and registered_name 'pkg>ExponentialDecay' is a user's class"
    ):
        lrs.from_keras(cfg)
    mine = S.serialize(CosineDecay(0.1, 100))
    assert mine["module"] == __name__
    with pytest.raises(
        TypeError, match=rf"module '{__name__}' and registered_name 'CosineDecay' is a user's class"
    ):
        lrs.from_keras(mine)
    with pytest.raises(
        TypeError, match=r"^from_keras: 'CosineDecay' with registered_name 'pkg>CosineDecay' is"
    ):
        lrs.from_keras({**S.serialize(S.CosineDecay(0.1, 100)), "registered_name": "pkg>CosineDecay"})


def test_bare_config_of_older_keras_is_the_builtin():
    """No ``module`` key at all: Keras' deserialize reads the built-in, and so do we."""
    bare = {"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 10}}
    bare["config"]["decay_rate"] = 0.9
    keras_s = S.deserialize(bare)
    assert type(keras_s) is S.ExponentialDecay
    np.testing.assert_allclose(lrs.from_keras(bare)(STEPS[:50]), keras_curve(keras_s, False)[:50], rtol=1e-6)


# -- the family behind growing peaks: warm_restarts(peak_decay > 1) ----------------------------


@given(
    lr,
    st.integers(1, 50_000),
    st.sampled_from([2, 3]),
    st.one_of(st.just(0.0), st.floats(0.0, 1.0)),
    st.floats(0.0, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_growing_peaks_float32_within_8_ulps(base, T0, mult, min_frac, where, seed):
    """The float32 contract for ``peak_decay > 1`` (the families' strategies draw <= 1)."""
    limit = lrs.warm_restarts.peak_decay_limit(base, T0, mult, base * min_frac)
    s = lrs.warm_restarts(base, T0, mult, min_lr=base * min_frac, peak_decay=1 + (limit - 1) * where)
    rng = np.random.default_rng(seed)
    pts = np.asarray([p for p in s.change_points(10**6)], dtype=np.int64)
    near = (pts[:, None] + np.arange(-2, 3)).ravel()
    steps = np.unique(np.concatenate([np.arange(512), rng.integers(0, 10**6 + 1, 2048), near]))
    steps = steps[(steps >= 0) & (steps <= 10**6)][:4096]
    # one fixed length, so JAX compiles each operation once for all examples
    steps = np.concatenate([steps, rng.integers(0, 10**6 + 1, 4096 - len(steps))])
    got = np.asarray(s(jnp.asarray(steps, dtype=jnp.int32)))
    worst = float(np.nanmax(f32_ulps(got, s(steps))))
    assert worst <= 8.0, f"{s!r}: {worst:.2f} ulps"


def test_growing_peaks_finite_up_to_step_2_63_and_bounded():
    """At the limit the last peak before step 2**63 is 1e30, and every value stays finite."""
    s = lrs.warm_restarts(
        2.0, 1, 2, min_lr=0.5, peak_decay=lrs.warm_restarts.peak_decay_limit(2.0, 1, 2, 0.5)
    )
    host = s(np.array([0, 1, 2**31, 2**53, 2**63 - 1], dtype=np.int64))
    traced = jax.jit(s)(jnp.array([0.0, 2.0**31, 2.0**63], dtype=jnp.float32))
    for v in (host, np.asarray(traced, dtype=np.float64)):
        assert np.all(np.isfinite(v)) and np.all(v <= s.upper_bound() * (1 + 2**-16))
    assert 0.99e30 < s.upper_bound() <= lrs.validate.MAX_LR
    with pytest.raises(ValueError, match=r"peak_decay must be in \(0, 1\] with period_mult == 1"):
        lrs.warm_restarts(1.0, 5, peak_decay=1.5)
    with pytest.raises(ValueError, match=r"peak_decay must be in \(0, 1\] when min_lr > base_lr"):
        lrs.warm_restarts(1.0, 5, 2, min_lr=2.0, peak_decay=1.5)
    with pytest.raises(ValueError, match=r"peak_decay=10\.0 makes the peak .* exceed 1e\+30"):
        lrs.warm_restarts(1.0, 5, 2, peak_decay=10.0)
