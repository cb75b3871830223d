"""What each family computes: hand-worked values, boundary behaviour, horizons, change
points, huge steps; and the object contract (immutable, hashable, picklable, repr)."""

from __future__ import annotations

import dataclasses
import math
import pickle

import pytest
from hypothesis import given
from strategies import ALL, any_schedule, representative

import lrsched_jax as lrs
from lrsched_jax.core.schedule import schedule_class


def vals(s, steps):
    return [float(s(t)) for t in steps]


def cos_anneal(a, b, frac):
    return b + (a - b) * (1 + math.cos(math.pi * frac)) / 2


def test_step_decay_and_multistep():
    s = lrs.step_decay(0.5, 3, 0.1)
    assert vals(s, [0, 2, 3, 5, 6]) == pytest.approx([0.5, 0.5, 0.05, 0.05, 0.005], rel=1e-15)
    m = lrs.multistep(1.0, [0, 3, 3, 7], 0.5)  # a milestone at 0 applies at once, 3 twice
    assert vals(m, [0, 2, 3, 6, 7, 10**9]) == [0.5, 0.5, 0.125, 0.125, 0.0625, 0.0625]


def test_linear_polynomial_hold_after_horizon():
    lin = lrs.linear(0.2, 1.0, 8)
    assert vals(lin, [0, 4, 8, 9, 10**7]) == pytest.approx([0.2, 0.6, 1.0, 1.0, 1.0], rel=1e-15)
    p = lrs.polynomial(1.0, 10, end_lr=0.1, power=0.5)
    assert float(p(4)) == pytest.approx(0.1 + 0.9 * 0.6**0.5, rel=1e-15)
    assert vals(p, [10, 11, 10**6]) == pytest.approx([0.1, 0.1, 0.1], rel=1e-15)
    up = lrs.polynomial(0.0, 10, end_lr=1.0, power=2.0)  # increasing
    assert float(up(5)) == pytest.approx(0.75, rel=1e-15)


def test_cosine_floor_hold_and_periodic_continuation():
    c = lrs.cosine(1.0, 10, min_lr=0.1)
    for t in (0, 3, 10):
        assert float(c(t)) == pytest.approx(cos_anneal(1.0, 0.1, t / 10), rel=1e-15)
    assert vals(c, [11, 25, 10**8]) == pytest.approx([0.1] * 3, rel=1e-15)
    p = lrs.cosine(1.0, 10, min_lr=0.1, periodic=True)
    for t in (13, 20, 27, 10**8 + 3):
        # the reference reduces t exactly first: pi*t/10 in float64 loses digits for huge t
        assert float(p(t)) == pytest.approx(cos_anneal(1.0, 0.1, (t % 20) / 10), rel=1e-14)


def test_warm_restarts_cycles_fractional_and_peak_decay():
    s = lrs.warm_restarts(1.0, 3, period_mult=2, min_lr=0.1, peak_decay=0.5)
    # cycles start at 0, 3, 9, 21 with lengths 3, 6, 12
    assert float(s(3)) == pytest.approx(0.1 + 0.9 * 0.5, rel=1e-15)
    assert float(s(9)) == pytest.approx(0.1 + 0.9 * 0.25, rel=1e-15)
    assert float(s(6)) == pytest.approx(cos_anneal(0.55, 0.1, 3 / 6), rel=1e-14)
    assert float(s(8.5)) == pytest.approx(cos_anneal(0.55, 0.1, 5.5 / 6), rel=1e-14)
    assert s.change_points(30) == (3, 9, 21)
    plain = lrs.warm_restarts(1.0, 4)
    assert float(plain(2.5)) == pytest.approx(cos_anneal(1.0, 0.0, 2.5 / 4), rel=1e-14)
    assert float(plain(4 * 10**9 + 1)) == pytest.approx(cos_anneal(1.0, 0.0, 0.25), rel=1e-12)


def test_warmup_cosine_matches_its_formula():
    s = lrs.warmup_cosine(2.0, 4, 12, min_lr=0.2, init_lr=0.4)
    assert vals(s, [0, 2, 4]) == pytest.approx([0.4, 1.2, 2.0], rel=1e-15)
    assert float(s(8)) == pytest.approx(cos_anneal(2.0, 0.2, 0.5), rel=1e-14)
    assert vals(s, [12, 13]) == pytest.approx([0.2, 0.2], rel=1e-15)
    assert s.change_points(100) == (4, 12)


def test_one_cycle_phases_like_torch():
    s = lrs.one_cycle(1.0, 100, pct_start=0.25, div_factor=10, final_div_factor=100)
    initial, final = 0.1, 0.001
    assert float(s(0)) == pytest.approx(initial)
    assert float(s(24)) == pytest.approx(1.0)  # first phase ends at 0.25*100 - 1
    assert float(s(99)) == pytest.approx(final)
    # the final lr is held from the last update (step T-1) on; torch's step-T value is never applied
    assert float(s(100)) == float(s(10**6)) == float(s(99))
    three = lrs.one_cycle(1.0, 100, pct_start=0.25, three_phase=True, anneal="linear")
    assert float(three(48)) == pytest.approx(0.04)  # back to initial at 2*0.25*100 - 2
    assert three.change_points(200) == (25, 49, 100)


def test_cyclic_modes():
    tri2 = lrs.cyclic(0.0, 1.0, 2, 2, mode="triangular2")
    assert vals(tri2, range(9)) == [0.0, 0.5, 1.0, 0.5, 0.0, 0.25, 0.5, 0.25, 0.0]
    skew = lrs.cyclic(0.0, 1.0, 1, 3)
    assert vals(skew, range(5)) == pytest.approx([0.0, 1.0, 2 / 3, 1 / 3, 0.0])
    exp = lrs.cyclic(0.0, 1.0, 2, mode="exp_range", gamma=0.9)
    assert float(exp(2)) == pytest.approx(0.81, rel=1e-15)
    assert float(exp(3)) == pytest.approx(0.5 * 0.9**3, rel=1e-15)
    # the phase survives huge steps (integer arithmetic)
    assert float(lrs.cyclic(0.0, 1.0, 3)(6 * 10**12 + 3)) == 1.0


def test_inverse_sqrt_and_wsd():
    s = lrs.inverse_sqrt(1.0, 100)
    assert vals(s, [50, 100, 400]) == pytest.approx([0.5, 1.0, 0.5], rel=1e-15)
    s2 = lrs.inverse_sqrt(1.0, 0, timescale=10)
    assert float(s2(30)) == pytest.approx(0.5, rel=1e-15)
    w = lrs.warmup_stable_decay(1.0, 100, 10, 20, decay="1-sqrt", min_lr=0.1)
    assert float(w(90)) == pytest.approx(0.1 + 0.9 * (1 - math.sqrt(0.5)), rel=1e-14)
    assert vals(w, [10, 79, 100, 500]) == pytest.approx([1.0, 1.0, 0.1, 0.1], rel=1e-15)
    assert w.change_points(1000) == (10, 80, 100)


def test_piecewise_and_lr_range():
    pc = lrs.piecewise_constant([5, 10], [1.0, 0.5, 0.25])
    assert vals(pc, [0, 4, 5, 9, 10, 10**12]) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    pl = lrs.piecewise_linear([10, 20], [1.0, 3.0])
    assert vals(pl, [0, 10, 15, 20, 99]) == [1.0, 1.0, 2.0, 3.0, 3.0]
    r = lrs.lr_range(1e-6, 1.0, 7)
    assert vals(r, [0, 3, 6, 7]) == pytest.approx([1e-6, 1e-3, 1.0, 1.0], rel=1e-13)
    lin = lrs.lr_range(1e-3, 1.0, 3, mode="linear")
    assert vals(lin, [1]) == pytest.approx([0.5005])


def test_article_variants_exactly():
    b, W, T, m = 0.1, 5, 50, 1e-4
    s = lrs.article_warmup_cosine(b, W, T, min_lr=m)
    for e in range(T):
        ref = b * (e + 1) / W if e < W else m + (b - m) * 0.5 * (1 + math.cos(math.pi * (e - W) / (T - W)))
        assert float(s(e)) == pytest.approx(ref, rel=1e-13, abs=1e-18)
    M, T = 0.3, 1000
    oc = lrs.article_one_cycle(M, T)
    w, start, final = int(T * 0.3), M / 25, M / 1e4
    for step in range(0, T, 7):
        ref = (
            start + (M - start) * step / w
            if step < w
            else final + (M - final) * 0.5 * (1 + math.cos(math.pi * (step - w) / (T - w)))
        )
        assert float(oc(step)) == pytest.approx(ref, rel=1e-13, abs=1e-18)
    d = lrs.article_decay()
    assert [float(d(e)) for e in range(3)] == pytest.approx([0.1, 0.095, 0.09025], rel=1e-15)


def test_combinators():
    a, b = lrs.constant(1.0), lrs.linear(0.0, 1.0, 10)
    seq = lrs.sequence([a, b], [5])
    assert vals(seq, [4, 5, 10]) == [1.0, 0.0, 0.5]
    glob = lrs.sequence([a, b], [5], restart=False)
    assert vals(glob, [5, 10]) == [0.5, 1.0]
    assert vals(lrs.product([b, lrs.constant(2.0)]), [5]) == [1.0]
    w = lrs.warmup(lrs.exponential(1.0, 0.5), 4, init_lr=0.2)
    assert vals(w, [0, 2, 4, 5]) == pytest.approx([0.2, 0.6, 1.0, 0.5])
    wc = lrs.warmup(lrs.constant(1.0), 4, shape="cosine")
    assert float(wc(2)) == pytest.approx(0.5)
    assert vals(lrs.scale(b, 3.0), [5]) == [1.5]
    pe = lrs.per_epoch(lrs.step_decay(1.0, 2, 0.5), 10)
    assert vals(pe, [0, 19, 20, 39, 40]) == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert pe.change_points(100) == (20, 40, 60, 80, 100)
    sh = lrs.shift(b, 4)
    assert vals(sh, [0, 6]) == [0.4, 1.0]
    assert sh.change_points(20) == (6,)
    nested = lrs.sequence([lrs.warmup(lrs.cosine(1.0, 100), 10), lrs.constant(0.01)], [110])
    assert nested.change_points(200) == (10, 110)


@given(any_schedule)
def test_immutable_hashable_picklable_repr(s):
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.__setattr__(dataclasses.fields(s)[0].name, 1)
    assert hash(s) == hash(pickle.loads(pickle.dumps(s)))
    assert pickle.loads(pickle.dumps(s)) == s
    # the repr is the documented spelling, the factory call, and rebuilds the schedule in
    # the namespace of ``import lrsched_jax as lrs``
    r = repr(s)
    assert r.startswith(s.config_name + "(")
    assert getattr(lrs, s.config_name) is type(s)
    assert eval(r, dict(vars(lrs))) == s


def test_repr_shows_the_arguments_that_differ_from_the_defaults():
    assert repr(lrs.cosine(1.0, 4)) == "cosine(init_lr=1.0, total_steps=4)"
    assert repr(lrs.sequence([lrs.constant(1.0), lrs.cosine(1.0, 4, min_lr=0.5)], [2])) == (
        "sequence(schedules=(constant(value=1.0), cosine(init_lr=1.0, total_steps=4, min_lr=0.5)), "
        "boundaries=(2,))"
    )
    assert isinstance(lrs.cosine(1.0, 4), lrs.cosine)  # one spelling: the factory is the class


@pytest.mark.parametrize("kind", sorted(ALL))
def test_change_points_are_sorted_and_within_range(kind):
    for s in representative():
        pts = s.change_points(10**6)
        assert list(pts) == sorted(set(pts))
        assert all(0 < p <= 10**6 for p in pts)
        assert s.change_points(0) == ()
    with pytest.raises(ValueError, match="until"):
        lrs.constant(1.0).change_points(-1)
    with pytest.raises(TypeError, match="until"):
        lrs.constant(1.0).change_points("10")
    with pytest.raises(ValueError, match="smaller until"):
        lrs.step_decay(1.0, 1).change_points(10**7)


def test_every_kind_is_exported_and_registered():
    # the built-in kinds (user extensions registered by other tests may be there too)
    families = {"lrsched_jax.core.families", "lrsched_jax.core.combinators"}
    builtin = {n for n in lrs.registered_names() if schedule_class(n).__module__ in families}
    assert builtin == set(ALL) | {"constant"}
    for name in builtin:
        assert getattr(lrs, name) is schedule_class(name)
        assert getattr(lrs, name).config_name == name
