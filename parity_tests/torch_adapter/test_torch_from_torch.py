"""``lrsched_torch.from_torch`` against the installed torch schedulers themselves.

For every supported scheduler, random valid hyperparameters and one to three param groups:
torch's own lr sequence (the group lrs at ``last_epoch == k``) equals the converted schedule
(i) traced in JAX float32 within 8 float32 ulps, (ii) in NumPy float64 within
``1e-12 * base_lr``, and (iii) driving a fresh optimizer through ``ScheduleLR`` within
``1e-12 * base_lr``; and ``from_current_step=True`` taken mid-run continues the same curve.

torch's ``CosineAnnealingLR`` steps a recursive formula that drifts from its own closed form;
for it the comparisons use torch's ``_get_closed_form_lr`` values, and the drift itself is
bounded separately (``COSINE_DRIFT``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from conftest import f32_ulps
from hypothesis import assume, given
from hypothesis import strategies as st
from torch.optim import lr_scheduler as tl

import lrsched_jax as lrs
from lrsched_torch import ScheduleLR, from_torch
from lrsched_torch.convert import UnconvertedFieldWarning

#: The float32 contract: within this many float32 ulps of torch's float64 value.
F32_ULPS = 8
#: The float64 contract: within this times the group's lr scale, absolute.
F64_TOL = 1e-12
#: Bound on torch CosineAnnealingLR's recursive drift from its own closed form, as a
#: fraction of the group's largest lr, over at most 2000 steps. Measured worst over a scan of
#: T_max in [1, 1500] (halves included) and eta_min in {0, 0.3, 0.9}·base: 9.5e-11
#: (T_max=1124.5, eta_min=0.9·base) — the recursion's 1 + cos(x) loses digits near x = pi.
COSINE_DRIFT = 2e-10
#: JAX evaluations use one fixed length so eager XLA reuses its compiled kernels.
JAX_LEN = 2048


def make_opt(bases: list[float]) -> torch.optim.SGD:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": b} for b in bases]
    return torch.optim.SGD(groups, lr=bases[0], momentum=0.9)


@dataclass
class Case:
    bases: list[float]
    build: Any  # optimizer -> torch scheduler
    n: int
    closed_form: bool = False  # compare against torch's _get_closed_form_lr
    ulps: float = F32_ULPS


def record(sched: Any, opt: torch.optim.Optimizer, n: int, at: int | None = None) -> tuple[np.ndarray, Any]:
    """Group lrs at last_epoch 0..n-1 and ``from_torch(..., from_current_step=True)`` at ``at``."""
    rows = [[float(g["lr"]) for g in opt.param_groups]]
    snap = from_torch(sched, from_current_step=True) if at == 0 else None
    opt.step()  # torch's call order: optimizer.step() before scheduler.step()
    for k in range(1, n):
        sched.step()
        rows.append([float(g["lr"]) for g in opt.param_groups])
        if k == at:
            snap = from_torch(sched, from_current_step=True)
    return np.asarray(rows, dtype=np.float64), snap


def closed_form(sched: Any, n: int) -> np.ndarray:
    saved = sched.last_epoch
    out = []
    for k in range(n):
        sched.last_epoch = k
        out.append([float(v) for v in sched._get_closed_form_lr()])
    sched.last_epoch = saved
    return np.asarray(out)


def as_tuple(s: Any) -> tuple[lrs.Schedule, ...]:
    return s if isinstance(s, tuple) else (s,)


def curve64(ss: tuple[lrs.Schedule, ...], n: int, start: int = 0) -> np.ndarray:
    return np.stack([s.curve(n, start) for s in ss], axis=1)


def curve32(ss: tuple[lrs.Schedule, ...], n: int) -> np.ndarray:
    steps = jnp.arange(JAX_LEN, dtype=jnp.int32)
    cols = []
    for s in ss:
        v = s(steps)
        assert v.dtype == jnp.float32
        cols.append(np.asarray(v, dtype=np.float64)[:n])
    return np.stack(cols, axis=1)


def check_case(case: Case, at: int) -> None:
    assert case.n <= JAX_LEN
    opt = make_opt(case.bases)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch would warn about misuse; there must be none
        sched = case.build(opt)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            ss = as_tuple(from_torch(sched))
        warnings.filterwarnings("ignore", category=UnconvertedFieldWarning)  # counted just above
        ref, snap = record(sched, opt, case.n, at)
    # one warning exactly when the recipe cycles the momentum (the lr alone is not the recipe)
    cycles = cycles_momentum(sched)
    assert [w.category for w in seen] == ([UnconvertedFieldWarning] if cycles else [])
    if cycles:
        check_momentum(case, at)
    G = len(case.bases)
    assert len(ss) == G
    if case.closed_form:
        exact = closed_form(sched, case.n)
        drift = np.abs(ref - exact) / np.abs(exact).max(axis=0)
        assert drift.max() <= COSINE_DRIFT, f"torch's recursive drift {drift.max():.3g}"
        ref = exact
    scale = np.maximum(np.abs(ref).max(axis=0), np.asarray(case.bases))
    tol = F64_TOL * scale

    # (ii) NumPy float64
    ours = curve64(ss, case.n)
    err = np.abs(ours - ref)
    assert (err <= tol).all(), (
        f"float64 off by {(err / scale).max():.3g} x base at step {err.max(1).argmax()}"
    )

    # (i) JAX float32: within the contract of our float64 value, and of torch's value up to
    # however far torch itself is from it (its recursions can lose digits, e.g. LinearLR's
    # 1 + (e - s)/(...) at total_iters when end_factor is tiny).
    f32, mine, theirs = curve32(ss, case.n), ours, ref
    u = f32_ulps(f32, mine)
    worst = np.nanmax(u) if np.isfinite(u).any() else 0.0
    assert worst <= case.ulps, f"float32 off by {worst:.1f} ulps at step {np.nanargmax(np.nanmax(u, 1))}"
    with np.errstate(invalid="ignore"):
        over = f32_ulps(f32, theirs) > case.ulps + f32_ulps(mine, theirs)
    assert not over.any(), f"float32 off torch's value at step {np.argwhere(over)[0]}"

    # (iii) ScheduleLR driving a fresh optimizer
    opt2 = make_opt(case.bases)
    driven, _ = record(ScheduleLR(opt2, list(ss)), opt2, case.n)
    np.testing.assert_array_equal(driven, ours)  # no round trip: exactly the float64 values
    assert (np.abs(driven - ref) <= tol).all()

    # from_current_step mid-run continues the same curve
    assert snap is not None
    np.testing.assert_allclose(curve64(as_tuple(snap), case.n - at), ours[at:], rtol=0, atol=tol.max())

    # group= picks one group's schedule
    g = G - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvertedFieldWarning)  # checked above
        assert from_torch(sched, group=g) == ss[g]


def leaves(sched: Any) -> list[Any]:
    children = getattr(sched, "_schedulers", None)
    return [sched] if children is None else [x for c in children for x in leaves(c)]


def cycles_momentum(sched: Any) -> bool:
    return any(getattr(c, "cycle_momentum", False) for c in leaves(sched))


def group_momenta(opt: torch.optim.Optimizer) -> list[float]:
    """What torch's schedulers write: ``betas[0]`` where the optimizer has betas, else ``momentum``."""
    key = "betas" in opt.defaults
    return [float(g["betas"][0]) if key else float(g["momentum"]) for g in opt.param_groups]


def record_momenta(
    sched: Any, opt: torch.optim.Optimizer, n: int, at: int | None = None
) -> tuple[np.ndarray, Any]:
    """The group momenta at last_epoch 0..n-1, torch stepping a real optimizer, and
    ``from_torch(..., field="momentum", from_current_step=True)`` taken at step ``at``."""
    rows, snap = [], None
    for k in range(n):
        if k:
            opt.step()
            sched.step()
        rows.append(group_momenta(opt))
        if k == at:
            snap = from_torch(sched, field="momentum", from_current_step=True)
    return np.asarray(rows, dtype=np.float64), snap


def check_momentum(case: Case, at: int) -> None:
    """``from_torch(..., field="momentum")`` is the momentum torch's optimizer holds at every
    step (1e-12 absolute), drives a fresh optimizer through ScheduleLR to exactly its float64
    values, and continues mid-run with ``from_current_step``."""
    opt = make_opt(case.bases)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = case.build(opt)
        ms = as_tuple(from_torch(sched, field="momentum"))
        ref, snap = record_momenta(sched, opt, case.n, at)
    ours = curve64(ms, case.n)
    err = np.abs(ours - ref)
    assert err.max() <= F64_TOL, f"momentum off by {err.max():.3g} at step {err.max(1).argmax()}"
    np.testing.assert_array_equal(curve64(as_tuple(snap), case.n - at), ours[at:])
    opt2 = make_opt(case.bases)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvertedFieldWarning)
        lr = list(as_tuple(from_torch(sched)))
    driven, _ = record_momenta(ScheduleLR(opt2, lr, momentum=list(ms)), opt2, case.n)
    np.testing.assert_array_equal(driven, ours)


# --- hyperparameter strategies -------------------------------------------------------------------


@dataclass
class Combined:
    """Builds the children on the optimizer in list order, then the combining scheduler."""

    cls: type
    children: list[Any]
    milestones: list[int] | None = None

    def __call__(self, o: torch.optim.Optimizer) -> Any:
        scheds = [b(o) for b in self.children]
        if self.milestones is None:
            return self.cls(scheds, o)
        return self.cls(o, scheds, self.milestones)


bases_st = st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=3)


def plain(cls: type, **params: st.SearchStrategy) -> st.SearchStrategy[Case]:
    """``cls(optimizer, **drawn params)`` on 1-3 param groups, checked over 1,000 steps."""
    return st.builds(lambda bases, **kw: Case(bases, partial(cls, **kw), 1000), bases_st, **params)


factor, iters = st.floats(0.01, 1.0), st.integers(0, 1010)
step_lr = plain(tl.StepLR, step_size=st.integers(1, 300), gamma=st.floats(0.05, 1.0))
unsorted_milestones = st.lists(st.integers(0, 1100), max_size=6)  # repeated too, as torch allows
multistep_lr = plain(tl.MultiStepLR, milestones=unsorted_milestones, gamma=st.floats(0.1, 1.0))
constant_lr = plain(tl.ConstantLR, factor=factor, total_iters=iters)
linear_lr = plain(tl.LinearLR, start_factor=factor, end_factor=st.floats(0.0, 1.0), total_iters=iters)
exponential_lr = plain(tl.ExponentialLR, gamma=st.floats(0.9, 1.0))
polynomial_lr = plain(tl.PolynomialLR, total_iters=iters, power=st.floats(0.0, 5.0))


@st.composite
def cosine_lr(draw: Any) -> Case:
    bases = draw(bases_st)
    T = draw(st.integers(1, 1500) | st.integers(2, 3000).map(lambda x: x / 2))
    eta = draw(st.floats(0.0, 1.0)) * min(bases)
    return Case(bases, partial(tl.CosineAnnealingLR, T_max=T, eta_min=eta), 2000, closed_form=True)


@st.composite
def warm_restarts_lr(draw: Any) -> Case:
    bases = draw(bases_st)
    T0, mult, eta = draw(st.integers(1, 200)), draw(st.integers(1, 3)), draw(st.floats(0.0, 1.0)) * min(bases)
    return Case(bases, partial(tl.CosineAnnealingWarmRestarts, T_0=T0, T_mult=mult, eta_min=eta), 1500)


def _cyclic_kwargs(draw: Any, bases: list[float]) -> dict[str, Any]:
    size = st.integers(1, 300) | st.integers(2, 400).map(lambda x: x / 2)
    return {
        "base_lr": [b * draw(st.floats(0.0, 1.0)) for b in bases],
        "max_lr": bases,
        "step_size_up": draw(size),
        "step_size_down": draw(st.none() | size),
        "mode": draw(st.sampled_from(["triangular", "triangular2", "exp_range"])),
        "gamma": draw(st.floats(0.99, 1.0)),
    }


@st.composite
def cyclic_lr(draw: Any) -> Case:
    bases = draw(bases_st)
    kw = _cyclic_kwargs(draw, bases)
    return Case(bases, partial(tl.CyclicLR, **kw), 1500)


def _one_cycle_kwargs(draw: Any, bases: list[float], total: int) -> dict[str, Any]:
    three = draw(st.booleans())
    pct = draw(st.floats(0.01, 0.99))
    # torch divides by zero on an empty phase
    e1 = pct * total - 1
    e2 = 2 * pct * total - 2
    assume(e1 > 0.5)
    if three:
        # e2 >= total - 1: torch's third phase is never reached (pct_start >= about 0.5)
        assume(e2 - e1 > 0.5 and ((total - 1) - e2 > 0.5 or e2 >= total - 1))
    else:
        assume((total - 1) - e1 > 0.5)
    return {
        "max_lr": bases,
        "total_steps": total,
        "pct_start": pct,
        "anneal_strategy": draw(st.sampled_from(["cos", "linear"])),
        "div_factor": draw(st.floats(1.0, 100.0)),
        "final_div_factor": draw(st.floats(1.0, 1e5)),
        "three_phase": three,
    }


@st.composite
def one_cycle_lr(draw: Any) -> Case:
    bases = draw(bases_st)
    total = draw(st.integers(10, 1500))
    kw = _one_cycle_kwargs(draw, bases, total)
    # the applied lrs: updates 0..total_steps-1 (torch's step-total_steps value is set after
    # the last update and never applied; ours holds lr(total_steps - 1) from there on)
    return Case(bases, partial(tl.OneCycleLR, **kw), total)


def _multiplicative_child(draw: Any) -> Any:
    """A builder of one multiplicative chainable scheduler (total_iters >= 1)."""
    kind = draw(st.sampled_from(["step", "multistep", "constant", "linear", "exponential", "polynomial"]))
    if kind == "step":
        return partial(tl.StepLR, step_size=draw(st.integers(1, 200)), gamma=draw(st.floats(0.3, 1.0)))
    if kind == "multistep":
        ms = draw(st.lists(st.integers(0, 900), max_size=4))
        return partial(tl.MultiStepLR, milestones=ms, gamma=draw(st.floats(0.3, 1.0)))
    if kind == "constant":
        return partial(
            tl.ConstantLR, factor=draw(st.floats(0.05, 1.0)), total_iters=draw(st.integers(1, 900))
        )
    if kind == "linear":
        sf, ef = draw(st.floats(0.05, 1.0)), draw(st.floats(0.05, 1.0))
        return partial(tl.LinearLR, start_factor=sf, end_factor=ef, total_iters=draw(st.integers(1, 900)))
    if kind == "exponential":
        return partial(tl.ExponentialLR, gamma=draw(st.floats(0.98, 1.0)))
    return partial(tl.PolynomialLR, total_iters=draw(st.integers(1, 1200)), power=draw(st.floats(0.0, 5.0)))


@st.composite
def chained(draw: Any) -> Case:
    bases = draw(bases_st)
    n = 1000
    builders = [_multiplicative_child(draw) for _ in range(draw(st.integers(1, 3)))]
    last = draw(st.sampled_from([None, "cyclic", "one_cycle", "sgdr"]))
    if last == "cyclic":
        builders.append(partial(tl.CyclicLR, **_cyclic_kwargs(draw, bases)))
    elif last == "one_cycle":
        builders.append(partial(tl.OneCycleLR, **_one_cycle_kwargs(draw, bases, draw(st.integers(n, 2 * n)))))
    elif last == "sgdr":
        builders.append(partial(tl.CosineAnnealingWarmRestarts, T_0=draw(st.integers(1, 100)), T_mult=2))
    return Case(bases, Combined(tl.ChainedScheduler, builders), n)


@st.composite
def sequential(draw: Any) -> Case:
    bases = draw(bases_st)
    n = 1000
    k = draw(st.integers(1, 3))
    builders = []
    for _ in range(k):
        kind = draw(st.sampled_from(["mult", "mult", "cyclic", "one_cycle", "sgdr"]))
        if kind == "mult":
            builders.append(_multiplicative_child(draw))
        elif kind == "cyclic":
            builders.append(partial(tl.CyclicLR, **_cyclic_kwargs(draw, bases)))
        elif kind == "one_cycle":
            kw = _one_cycle_kwargs(draw, bases, draw(st.integers(n, 2 * n)))
            builders.append(partial(tl.OneCycleLR, **kw))
        else:
            T0, mult = draw(st.integers(1, 100)), draw(st.integers(1, 2))
            builders.append(partial(tl.CosineAnnealingWarmRestarts, T_0=T0, T_mult=mult))
    ms = sorted(draw(st.lists(st.integers(0, n), min_size=k - 1, max_size=k - 1)))
    return Case(bases, Combined(tl.SequentialLR, builders, ms), n)


@st.composite
def schedule_lr(draw: Any) -> Case:
    bases = draw(bases_st)
    s = draw(
        st.sampled_from(
            [
                lrs.warmup_cosine(1.0, 50, 800, min_lr=0.01),
                lrs.inverse_sqrt(2.0, 100),
                lrs.piecewise_linear([0, 100, 900], [0.1, 1.0, 0.0]),
                lrs.warmup_stable_decay(1.0, 900, 100, 300, decay="1-sqrt"),
            ]
        )
    )
    mode = draw(st.sampled_from(["absolute", "multiplier"]))
    return Case(bases, partial(ScheduleLR, schedule=s, mode=mode), 1000)


STRATEGIES = {
    "StepLR": step_lr,
    "MultiStepLR": multistep_lr,
    "ConstantLR": constant_lr,
    "LinearLR": linear_lr,
    "ExponentialLR": exponential_lr,
    "PolynomialLR": polynomial_lr,
    "CosineAnnealingLR": cosine_lr(),
    "CosineAnnealingWarmRestarts": warm_restarts_lr(),
    "CyclicLR": cyclic_lr(),
    "OneCycleLR": one_cycle_lr(),
    "ChainedScheduler": chained(),
    "SequentialLR": sequential(),
    "ScheduleLR": schedule_lr(),
}


@pytest.mark.parametrize("kind", list(STRATEGIES))
@given(data=st.data())
def test_parity_with_torch(kind: str, data: Any) -> None:
    case = data.draw(STRATEGIES[kind])
    at = data.draw(st.integers(0, case.n - 1))
    check_case(case, at)


# --- combinations with torch's recursive cosine (drift-bounded) -----------------------------------


def _drive(build: Any, bases: list[float], n: int) -> tuple[np.ndarray, tuple[lrs.Schedule, ...]]:
    opt = make_opt(bases)
    sched = build(opt)
    ss = as_tuple(from_torch(sched))
    ref, _ = record(sched, opt, n)
    return ref, ss


def test_sequential_with_cosine_continuation() -> None:
    """LinearLR warm-up, then CosineAnnealingLR past T_max (torch's periodic continuation)."""
    bases = [0.1, 0.02]

    def build(o: torch.optim.Optimizer) -> Any:
        warm = tl.LinearLR(o, 0.01, 1.0, 50)
        cos = tl.CosineAnnealingLR(o, 300, 1e-4)
        return tl.SequentialLR(o, [warm, cos, tl.ExponentialLR(o, 0.99)], [50, 1500])

    ref, ss = _drive(build, bases, 2000)
    ours = curve64(ss, 2000)
    assert np.abs(ours - ref).max() <= COSINE_DRIFT * max(bases)
    assert np.nanmax(f32_ulps(curve32(ss, 2000), ours)) <= F32_ULPS
    assert isinstance(ss[0], lrs.sequence) and ss[0].boundaries == (50, 1500)


@pytest.mark.parametrize("T_max", [100, 250.5])
def test_chained_cosine_with_settled_warmup(T_max: float) -> None:
    """Warm-up x cosine (eta_min=0) is a product, also past T_max where torch re-adds the base lr."""

    def build(o: torch.optim.Optimizer) -> Any:
        return tl.ChainedScheduler([tl.LinearLR(o, 0.1, 1.0, 40), tl.CosineAnnealingLR(o, T_max)])

    ref, ss = _drive(build, [0.1, 0.3], 1200)
    ours = curve64(ss, 1200)
    assert np.abs(ours - ref).max() <= COSINE_DRIFT * 0.3
    assert isinstance(ss[0], lrs.product)


def test_chained_cosine_with_eta_min_and_identity_children() -> None:
    def build(o: torch.optim.Optimizer) -> Any:
        return tl.ChainedScheduler([tl.StepLR(o, 10, 1.0), tl.CosineAnnealingLR(o, 70, 0.01)])

    ref, ss = _drive(build, [0.1], 500)
    assert np.abs(curve64(ss, 500) - ref).max() <= COSINE_DRIFT * 0.1
    assert ss[0] == lrs.cosine(0.1, 70, 0.01, periodic=True)


def test_cosine_recursive_drift_is_bounded() -> None:
    """DESIGN.md's measurement: T_max=2000, eta_min=0.05*base, 6000 steps — torch's recursion
    drifts from its own closed form by up to ~6e-11*base; ours is the closed form to 1e-12."""
    base = 1.0
    opt = make_opt([base])
    sched = tl.CosineAnnealingLR(opt, 2000, 0.05 * base)
    ss = as_tuple(from_torch(sched))
    ref, _ = record(sched, opt, 6000)
    exact = closed_form(sched, 6000)
    drift = np.abs(ref - exact).max() / base
    assert 1e-13 < drift < 1e-10
    assert np.abs(curve64(ss, 6000) - exact).max() <= F64_TOL * base


# --- single behaviours ---------------------------------------------------------------------------


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_holds_the_last_applied_lr_past_total_steps(anneal: str) -> None:
    opt = make_opt([0.5])
    sched = tl.OneCycleLR(opt, max_lr=0.5, total_steps=20, three_phase=True, anneal_strategy=anneal)
    ref, _ = record(sched, opt, 21)
    s = from_torch(sched, field="lr")
    # every applied lr (updates 0..19) is torch's
    np.testing.assert_allclose(s.curve(20), ref[:20, 0], rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="Tried to step"):
        sched.step()  # torch refuses step 21
    # torch's step-20 value (set after the last update) is never applied: ours holds lr(19),
    # where torch's would be larger than the final lr (cos) or negative (linear)
    assert ref[20, 0] != ref[19, 0]
    assert s(20) == s(25) == s(10**9) == s(19)
    assert float(s(20)) == pytest.approx(ref[19, 0], rel=1e-12)


@pytest.mark.parametrize(
    "kw",
    [
        {"base_lr": 0.1, "max_lr": 0.01, "step_size_up": 7},  # inverted cycle
        {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5, "step_size_down": 0},  # sawtooth
        {"base_lr": 0.1, "max_lr": 0.01, "step_size_up": 3, "step_size_down": 0, "mode": "triangular2"},
    ],
)
def test_cyclic_inverted_and_sawtooth(kw: dict) -> None:
    opt = make_opt([0.1])
    sched = tl.CyclicLR(opt, cycle_momentum=False, **kw)
    ref, _ = record(sched, opt, 60)
    s = from_torch(sched)
    np.testing.assert_allclose(s.curve(60), ref[:, 0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.asarray(s(jnp.arange(60))), ref[:, 0], rtol=1e-6, atol=1e-9)


def test_warm_restarts_fractional_epoch_position() -> None:
    opt = make_opt([0.1])
    sched = tl.CosineAnnealingWarmRestarts(opt, 10, 2, 0.001)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's epoch-argument deprecation
        sched.step(13.25)
    s = from_torch(sched, from_current_step=True)
    assert isinstance(s, lrs.shift) and s.steps == 13.25
    assert abs(float(s(0)) - opt.param_groups[0]["lr"]) <= 1e-15


def test_schedule_lr_and_lambda_of_schedules() -> None:
    s = lrs.warmup_cosine(1.0, 10, 100)
    opt = make_opt([0.1, 0.5])
    assert from_torch(ScheduleLR(opt, s)) == (s, s)
    opt = make_opt([0.1, 1.0])
    assert from_torch(ScheduleLR(opt, s, mode="multiplier")) == (lrs.scale(s, 0.1), s)
    opt = make_opt([0.1])
    assert from_torch(tl.LambdaLR(opt, s)) == lrs.scale(s, 0.1)


def test_sequential_skips_empty_segments_and_restarts_at_milestones() -> None:
    bases = [0.2]

    def build(o: torch.optim.Optimizer) -> Any:
        scheds = [
            tl.ExponentialLR(o, 0.5),
            tl.StepLR(o, 2),
            tl.ConstantLR(o, 0.5, 3),
            tl.LinearLR(o, 0.5, 1, 4),
        ]
        return tl.SequentialLR(o, scheds, [0, 5, 5])

    ref, ss = _drive(build, bases, 30)
    np.testing.assert_allclose(curve64(ss, 30), ref, rtol=0, atol=1e-15)
    assert ss[0] == lrs.sequence([lrs.step_decay(0.2, 2, 0.1), lrs.linear(0.1, 0.2, 4)], [5])


def _mutated(build: Any, **attrs: Any) -> Any:
    """A scheduler whose attributes were changed after construction (torch reads them live)."""

    def make(o: torch.optim.Optimizer) -> Any:
        sched = build(o)
        for k, v in attrs.items():
            setattr(sched, k, v)
        return sched

    return make


#: Schedulers from_torch refuses: ``(build, error, match)`` — a TypeError where no lrsched
#: family draws the curve, a ValueError where a hyperparameter has no exact equivalent, and
#: each of the conversion's own checks.
REFUSED = [
    *(
        (build, TypeError, match)
        for build, match in [
            (lambda o: tl.LambdaLR(o, lambda k: 0.9**k), "LambdaLR with a Python function.*lrsched schedule"),
            (lambda o: tl.MultiplicativeLR(o, lambda k: 0.9), "MultiplicativeLR.*lrsched schedule"),
            (lambda o: tl.ReduceLROnPlateau(o), "reduce_on_plateau"),
            (lambda o: tl.CyclicLR(o, 0.01, 0.1, scale_fn=lambda x: 1.0), "custom scale_fn"),
            (
                lambda o: tl.ChainedScheduler(
                    [tl.OneCycleLR(o, 0.1, total_steps=50), tl.ExponentialLR(o, 0.9)]
                ),
                "after the non-chainable OneCycleLR",
            ),
            (
                lambda o: tl.ChainedScheduler([tl.ExponentialLR(o, 0.9), tl.CosineAnnealingLR(o, 50)]),
                "re-adds its base lr",
            ),
            (
                lambda o: tl.ChainedScheduler([tl.ExponentialLR(o, 0.9), tl.CosineAnnealingLR(o, 50, 0.001)]),
                "eta_min > 0",
            ),
            (
                lambda o: tl.ChainedScheduler([tl.CosineAnnealingLR(o, 50), tl.CosineAnnealingLR(o, 20)]),
                "two CosineAnnealingLR",
            ),
            (
                lambda o: tl.SequentialLR(
                    o,
                    [
                        tl.ExponentialLR(o, 0.9),
                        tl.ChainedScheduler([tl.StepLR(o, 3), tl.ExponentialLR(o, 0.9)]),
                    ],
                    [5],
                ),
                "inside a SequentialLR",
            ),
            (
                lambda o: tl.ChainedScheduler(
                    [
                        tl.ExponentialLR(o, 0.9),
                        tl.SequentialLR(o, [tl.StepLR(o, 3), tl.ExponentialLR(o, 0.9)], [5]),
                    ]
                ),
                "SequentialLR inside a ChainedScheduler",
            ),
            (lambda o: type("MyStepLR", (tl.StepLR,), {})(o, 3), "MyStepLR is not supported"),
        ]
    ),
    *(
        (build, ValueError, match)
        for build, match in [
            (lambda o: tl.StepLR(o, 2.5), "step_size must be a whole number"),
            (lambda o: tl.ExponentialLR(o, 0.0), "gamma must be > 0"),
            (lambda o: tl.MultiStepLR(o, [3], gamma=-0.5), "gamma must be > 0"),
            (lambda o: tl.LinearLR(o, 0.5, 1.0, total_iters=-1), "total_iters must be a whole number >= 0"),
            (lambda o: tl.PolynomialLR(o, 10, power=-1.0), "power must be >= 0"),
            (lambda o: tl.CosineAnnealingLR(o, T_max=0), "T_max must be > 0"),
            (
                lambda o: tl.SequentialLR(o, [tl.StepLR(o, 3), tl.LinearLR(o, 0.5, 1.0, 0)], [5]),
                "total_iters=0 makes torch divide by zero",
            ),
            (
                lambda o: tl.SequentialLR(o, [tl.StepLR(o, 3), tl.StepLR(o, 4), tl.StepLR(o, 5)], [8, 4]),
                "sorted",
            ),
            (lambda o: tl.CyclicLR(o, 0.01, 0.1, mode="exp_range", gamma=1.5), "gamma must be in"),
        ]
    ),
    # each conversion check, on values torch accepts or reads live
    (lambda o: tl.StepLR(o, 3, gamma=math.inf), ValueError, "gamma must be finite"),
    (_mutated(lambda o: tl.StepLR(o, 3), step_size="3"), TypeError, "step_size must be a real number"),
    (_mutated(lambda o: tl.ConstantLR(o, 0.5), factor=1.5), ValueError, r"factor must be in \[0, 1\]"),
    (lambda o: tl.CosineAnnealingLR(o, 10, eta_min=-0.1), ValueError, "eta_min must be >= 0"),
    (
        lambda o: tl.SequentialLR(o, [tl.StepLR(o, 3), tl.StepLR(o, 4)], [2.5]),
        ValueError,
        "milestones must be whole steps",
    ),
    (
        lambda o: tl.OneCycleLR(o, 0.1, total_steps=10, final_div_factor=math.inf),
        ValueError,
        "div factors must be finite and > 0",
    ),
    (
        _mutated(lambda o: tl.OneCycleLR(o, 0.1, total_steps=10), _anneal_func_type="cubic"),
        TypeError,
        "unknown anneal strategy",
    ),
]


@pytest.mark.parametrize(("build", "error", "match"), REFUSED)
def test_unsupported_or_inexact_schedulers_are_refused(build: Any, error: type, match: str) -> None:
    opt = make_opt([0.1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sched = build(opt)
    with pytest.raises(error, match=match):
        from_torch(sched)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda o: tl.StepLR(o, 30, gamma=1.5),
            r"from_torch\(StepLR\): gamma=1\.5 > 1 grows .* by step 5,310",
        ),
        (lambda o: tl.ExponentialLR(o, 1.01), r"from_torch\(ExponentialLR\): gamma=1\.01 > 1 grows"),
        (lambda o: tl.StepLR(o, 2**50, gamma=1.1), r"gamma=1\.1 > 1 .* with step_size=\d+ at most 1\.00"),
    ],
)
def test_unbounded_growth_is_refused_naming_gamma(build: Any, match: str) -> None:
    """Regression: the refusal came from the family (step_decay's or exponential's message,
    the latter naming max_lr, which a torch user never passed); now it names torch's gamma and
    the step where the lr passes 1e30."""
    with pytest.raises(ValueError, match=match) as info:
        from_torch(build(make_opt([0.1])))
    assert "max_lr" not in str(info.value)


def test_bounded_growth_converts() -> None:
    """Regression: StepLR/ExponentialLR with gamma > 1 were refused. A growth that stays <= 1e30
    up to step 2**63 converts (step_decay(gamma > 1)): torch's closed form at far steps; from a
    zero lr torch's products stay 0 (constant 0)."""
    opt = make_opt([0.1, 0.02])
    sched = tl.StepLR(opt, step_size=2**50, gamma=1.005)
    ss = as_tuple(from_torch(sched))
    for t in (0, 7, 2**50 - 1, 2**50, 5 * 2**50 + 3, 2**62, 2**63 - 1):
        sched.last_epoch = t
        want = [float(v) for v in sched._get_closed_form_lr()]
        for s, w in zip(ss, want):
            assert abs(float(s(np.int64(t))) - w) <= 1e-12 * w
    for build in (lambda o: tl.StepLR(o, 3, gamma=2.0), lambda o: tl.ExponentialLR(o, 1.5)):
        opt = make_opt([0.0])
        sched = build(opt)
        got, _ = record(sched, opt, 50)
        assert np.all(got == 0.0) and float(from_torch(sched, from_current_step=False)(10**6)) == 0.0


def test_bad_arguments() -> None:
    opt = make_opt([0.1, 0.2])
    sched = tl.StepLR(opt, 3)
    with pytest.raises(TypeError, match="has no torch optimizer"):
        from_torch(object())
    with pytest.raises(TypeError, match="group must be an int"):
        from_torch(sched, group="0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="group must be an int"):
        from_torch(sched, group=True)
    with pytest.raises(ValueError, match=r"group must be in \[0, 2\)"):
        from_torch(sched, group=2)
    with pytest.raises(TypeError, match="from_current_step must be True or False"):
        from_torch(sched, from_current_step=1)  # type: ignore[arg-type]
    assert from_torch(sched, group=1) == lrs.step_decay(0.2, 3, 0.1)
    assert from_torch(sched) == (lrs.step_decay(0.1, 3, 0.1), lrs.step_decay(0.2, 3, 0.1))
    # at step 0 from_current_step changes nothing
    assert from_torch(sched, from_current_step=True) == from_torch(sched)


def test_constant_and_linear_edge_cases_follow_torch_recursion() -> None:
    """total_iters=0: torch's recursion never undoes the factor (its closed form would)."""
    for build, expected in [
        (lambda o: tl.ConstantLR(o, 0.25, total_iters=0), lrs.constant(0.025)),
        (lambda o: tl.LinearLR(o, 0.25, 1.0, total_iters=0), lrs.constant(0.025)),
        (lambda o: tl.PolynomialLR(o, total_iters=0), lrs.constant(0.1)),
    ]:
        opt = make_opt([0.1])
        sched = build(opt)
        ref, _ = record(sched, opt, 10)
        assert from_torch(sched) == expected
        np.testing.assert_allclose(ref[:, 0], expected.curve(10), rtol=0, atol=1e-17)


#: Schedulers built with torch's resume idiom, ``last_epoch=N`` on groups holding ``initial_lr``.
RESUMABLE: dict[str, Any] = {
    "ExponentialLR": lambda o, n: tl.ExponentialLR(o, 0.9, last_epoch=n),
    "CosineAnnealingLR": lambda o, n: tl.CosineAnnealingLR(o, 7, 0.01, last_epoch=n),
    "CosineAnnealingLR-eta0": lambda o, n: tl.CosineAnnealingLR(o, 6, last_epoch=n),
    "PolynomialLR": lambda o, n: tl.PolynomialLR(o, 20, 2.0, last_epoch=n),
    "CosineAnnealingWarmRestarts": lambda o, n: tl.CosineAnnealingWarmRestarts(o, 2, 2, 0.001, last_epoch=n),
    "CosineAnnealingWarmRestarts-mult1": lambda o, n: tl.CosineAnnealingWarmRestarts(o, 3, last_epoch=n),
    "StepLR": lambda o, n: tl.StepLR(o, 3, 0.5, last_epoch=n),
    "MultiStepLR": lambda o, n: tl.MultiStepLR(o, [3, 7, 9], 0.5, last_epoch=n),
    "ConstantLR": lambda o, n: tl.ConstantLR(o, 0.5, 8, last_epoch=n),
    "LinearLR": lambda o, n: tl.LinearLR(o, 0.1, 1.0, 10, last_epoch=n),
    "CyclicLR": lambda o, n: tl.CyclicLR(o, 0.01, 0.1, 4, last_epoch=n, cycle_momentum=False),
    "OneCycleLR": lambda o, n: tl.OneCycleLR(o, 0.1, total_steps=80, last_epoch=n, cycle_momentum=False),
}


@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_current_step_of_a_resumed_scheduler_follows_torch(name: str) -> None:
    """A scheduler built with ``last_epoch=N`` takes its initial step from the lr the groups
    hold (not from its curve at ``N + 1``) and SGDR keeps its first ``T_i``:
    ``from_current_step=True`` starts at the optimizer's lr and follows torch's run from there,
    for the groups of a real saved run and for groups holding any other lr."""
    build = RESUMABLE[name]
    for n in (0, 5, 6, 9, 13, 21):
        # a saved run: the optimizer's state after n updates, loaded into a fresh optimizer
        opt = make_opt([0.1, 0.05])
        sched = build(opt, -1)
        for _ in range(n):
            opt.step()
            sched.step()
        saved = opt.state_dict()
        held = [None, *[[lr, lr / 2] for lr in (0.1, 0.0531, 0.02)]]
        for lrs_now in held:
            opt2 = make_opt([0.1, 0.05])
            opt2.load_state_dict(saved)
            if lrs_now is not None:
                for g, lr in zip(opt2.param_groups, lrs_now):
                    g["lr"] = lr
            resumed = build(opt2, n)
            ss = as_tuple(from_torch(resumed, from_current_step=True, field="lr"))
            ref = [[float(g["lr"]) for g in opt2.param_groups]]
            for _ in range(40):
                opt2.step()
                resumed.step()
                ref.append([float(g["lr"]) for g in opt2.param_groups])
            err = np.abs(curve64(ss, 41) - np.asarray(ref)) / np.asarray([0.1, 0.05])
            assert err.max() <= F64_TOL, f"N={n}, held {lrs_now}: off by {err.max():.3g} x base"


def test_current_step_of_chained_scheduler() -> None:
    opt = make_opt([0.1])
    sched = tl.ChainedScheduler([tl.ConstantLR(opt, 0.5, 4), tl.ExponentialLR(opt, 0.9)], opt)
    ref, _ = record(sched, opt, 8)
    s = from_torch(sched, from_current_step=True)
    assert isinstance(s, lrs.shift) and s.steps == 7
    assert math.isclose(float(s(0)), ref[-1, 0], rel_tol=1e-15)


def test_cyclic_lr_built_after_another_scheduler_starts_at_initial_lr() -> None:
    """torch's CyclicLR takes its initial step before setting its own base_lrs, so on an
    optimizer that already has initial_lr (another scheduler was built first) step 0 has it."""
    opt = make_opt([0.3])
    tl.StepLR(opt, 5)
    sched = tl.CyclicLR(opt, 0.01, 0.1, step_size_up=4)
    ref, _ = record(sched, opt, 20)
    s = from_torch(sched, field="lr")
    assert ref[0, 0] == 0.3
    np.testing.assert_allclose(s.curve(20), ref[:, 0], rtol=0, atol=1e-16)
    # inside SequentialLR the initial step is re-run after construction: no such quirk
    opt = make_opt([0.3])
    seq = tl.SequentialLR(opt, [tl.StepLR(opt, 5), tl.CyclicLR(opt, 0.01, 0.1, step_size_up=4)], [3])
    ref, _ = record(seq, opt, 20)
    np.testing.assert_allclose(from_torch(seq, field="lr").curve(20), ref[:, 0], rtol=0, atol=1e-16)


@pytest.mark.parametrize("pct_start", [0.5, 0.5534751660115266, 0.9])
def test_three_phase_one_cycle_whose_third_phase_torch_never_reaches(pct_start: float) -> None:
    """three_phase with pct_start*T >= (T+1)/2: torch's second phase covers every update;
    from_torch converts it (it once refused it as an empty phase) to torch's applied lrs."""
    opt = make_opt([0.1])
    sched = tl.OneCycleLR(opt, 0.1, total_steps=303, pct_start=pct_start, three_phase=True)
    ours = from_torch(sched, field="lr")
    ref = []
    for _ in range(303):
        ref.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert np.abs(ours.curve(303) - np.asarray(ref)).max() <= F64_TOL * 0.1


def test_one_cycle_with_zero_max_lr_is_constant_zero() -> None:
    opt = make_opt([0.1])
    assert from_torch(tl.OneCycleLR(opt, 0.0, total_steps=10), field="lr") == lrs.constant(0.0)


def test_current_step_that_cannot_be_told() -> None:
    opt = make_opt([0.1])
    a, b = tl.StepLR(opt, 3), tl.ExponentialLR(opt, 0.9)
    tl.SequentialLR(opt, [a, b], [5])
    with pytest.raises(ValueError, match="has not started"):
        from_torch(b, from_current_step=True)  # SequentialLR undid its initial step
    opt = make_opt([0.1])
    a, b = tl.StepLR(opt, 3), tl.ExponentialLR(opt, 0.9)
    chain = tl.ChainedScheduler([a, b], opt)
    opt.step()
    a.step()  # only one child stepped
    with pytest.raises(ValueError, match="children are at different steps"):
        from_torch(chain, from_current_step=True)


def test_current_step_that_is_not_finite_names_the_scheduler() -> None:
    """torch's own step(nan) leaves NaN in last_epoch (and in the optimizer); the conversion
    refuses it with the scheduler named, instead of an error from deep inside ``shift``."""
    opt = make_opt([0.1])
    sched = tl.StepLR(opt, 3, 0.5)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's epoch deprecation warning
        sched.step(float("nan"))
    assert math.isnan(opt.param_groups[0]["lr"])  # torch itself writes the NaN
    with pytest.raises(ValueError, match=r"from_torch: scheduler: .*must be finite, got nan"):
        from_torch(sched, from_current_step=True)


# --- the momentum curve (field="momentum") ----------------------------------------------------------


def _adamw(bases: list[float]) -> torch.optim.AdamW:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": b} for b in bases]
    return torch.optim.AdamW(groups, lr=bases[0])


@pytest.mark.parametrize(
    "build",
    [
        lambda o: tl.OneCycleLR(o, [0.1, 0.3], total_steps=150, base_momentum=0.8, max_momentum=0.97),
        lambda o: tl.OneCycleLR(o, 0.1, total_steps=150, three_phase=True, anneal_strategy="linear"),
        # pct_start > 0.5 with three phases: torch never reaches the third
        lambda o: tl.OneCycleLR(o, 0.1, total_steps=150, three_phase=True, pct_start=0.62),
        lambda o: tl.CyclicLR(o, 0.01, 0.1, step_size_up=7, step_size_down=12, mode="triangular2"),
        lambda o: tl.CyclicLR(o, 0.01, 0.1, step_size_up=5.5, mode="exp_range", gamma=0.97),
        lambda o: tl.SequentialLR(
            o, [tl.LinearLR(o, 0.1, total_iters=10), tl.OneCycleLR(o, 0.1, total_steps=140)], [10]
        ),
    ],
)
def test_beta1_curve_of_adam_type_optimizers(build: Any) -> None:
    """On AdamW torch cycles betas[0]; field="momentum" is that curve, and ScheduleLR writes
    it back there (betas[1] untouched)."""
    opt = _adamw([0.1, 0.3])
    sched = build(opt)
    ms = as_tuple(from_torch(sched, field="momentum"))
    ref, _ = record_momenta(sched, opt, 150)
    assert np.abs(curve64(ms, 150) - ref).max() <= F64_TOL
    opt2 = _adamw([0.1, 0.3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvertedFieldWarning)
        lr = list(as_tuple(from_torch(sched)))
    driven, _ = record_momenta(ScheduleLR(opt2, lr, momentum=list(ms)), opt2, 150)
    np.testing.assert_array_equal(driven, curve64(ms, 150))
    assert all(g["betas"][1] == 0.999 and isinstance(g["betas"], tuple) for g in opt2.param_groups)


def test_one_cycle_momentum_starts_at_max_momentum() -> None:
    """The converted curve starts at max_momentum exactly (its div_factor is chosen so) and
    ends there; torch's own anneal can land one ulp off it."""
    for top, low in [(0.95, 0.85), (0.97, 0.8), (0.9, 0.3), (0.999, 0.9)]:
        opt = make_opt([0.1])
        sched = tl.OneCycleLR(opt, 0.1, total_steps=50, base_momentum=low, max_momentum=top)
        m = from_torch(sched, field="momentum")
        assert float(m(0)) == top
        assert abs(opt.param_groups[0]["momentum"] - top) <= 2e-16
        assert abs(float(m(49)) - top) <= 1e-15


def test_lr_only_conversion_warns_once_naming_the_momentum_field() -> None:
    opt = _adamw([0.1, 0.2])
    sched = tl.OneCycleLR(opt, [0.1, 0.2], total_steps=100)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        from_torch(sched)
    assert len(seen) == 1 and issubclass(seen[0].category, UserWarning)
    assert seen[0].category is UnconvertedFieldWarning
    assert "field='momentum'" in str(seen[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_torch(sched, field="momentum")
        from_torch(sched, field="lr")  # the lr alone, asked for explicitly
        from_torch(tl.OneCycleLR(make_opt([0.1]), 0.1, total_steps=10, cycle_momentum=False))
        from_torch(tl.CyclicLR(make_opt([0.1]), 0.01, 0.1, cycle_momentum=False))


@pytest.mark.parametrize(
    "build",
    [
        lambda o: tl.StepLR(o, 3),
        lambda o: tl.OneCycleLR(o, 0.1, total_steps=10, cycle_momentum=False),
        lambda o: tl.SequentialLR(o, [tl.StepLR(o, 3), tl.CyclicLR(o, 0.01, 0.1, cycle_momentum=False)], [4]),
        lambda o: ScheduleLR(o, lrs.constant(0.1)),
    ],
)
def test_momentum_of_a_scheduler_without_one_raises(build: Any) -> None:
    sched = build(make_opt([0.1]))
    with pytest.raises(ValueError, match="has no 'momentum' curve"):
        from_torch(sched, field="momentum")


def test_field_argument_checks_and_schedule_lr_fields() -> None:
    opt = make_opt([0.1])
    sched = tl.OneCycleLR(opt, 0.1, total_steps=10)
    with pytest.raises(TypeError, match="field must be a str"):
        from_torch(sched, field=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="has no 'weight_decay' curve"):
        from_torch(sched, field="weight_decay")
    wd, m = lrs.linear(1e-4, 1e-3, 10), lrs.cosine(0.9, 10, 0.5)
    driver = ScheduleLR(make_opt([0.1]), lrs.constant(0.1), momentum=m, fields={"weight_decay": wd})
    assert from_torch(driver, field="weight_decay") == wd
    assert from_torch(driver, field="momentum") == m
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert from_torch(driver) == lrs.constant(0.1)
    assert len(seen) == 1 and "field='momentum', field='weight_decay'" in str(seen[0].message)


def test_sequential_momentum_holds_what_torch_leaves() -> None:
    """A non-cycling scheduler first: the momentum is the max_momentum the cycling one set when
    it was built; after a cycling one: the value it set at the step before the milestone."""

    def build(o: torch.optim.Optimizer) -> Any:
        warm = tl.LinearLR(o, 0.1, total_iters=15)
        cyc = tl.CyclicLR(o, 0.01, 0.1, step_size_up=6, base_momentum=0.7, max_momentum=0.92)
        return tl.SequentialLR(o, [warm, cyc, tl.ConstantLR(o, 0.5, 5)], [15, 40])

    opt = make_opt([0.1])
    sched = build(opt)
    m = from_torch(sched, field="momentum")
    ref, _ = record_momenta(sched, opt, 80)
    assert np.abs(m.curve(80) - ref[:, 0]).max() <= F64_TOL
    assert isinstance(m, lrs.sequence) and m.boundaries == (15, 40)
    assert m.schedules[0] == lrs.constant(0.92)


def test_momentum_conversions_without_an_exact_form_raise() -> None:
    opt = make_opt([0.1])
    sched = tl.OneCycleLR(opt, 0.1, total_steps=10, base_momentum=0.0)
    with pytest.raises(ValueError, match="zero momentum"):
        from_torch(sched, field="momentum")
    opt = make_opt([0.1])
    first = tl.StepLR(opt, 3)
    driver = ScheduleLR(opt, lrs.constant(0.1), momentum=lrs.constant(0.5))
    seq = tl.SequentialLR(opt, [first, driver], [5])
    with pytest.raises(ValueError, match="cannot read"):
        from_torch(seq, field="momentum")
    opt = make_opt([0.1])
    sched = tl.CyclicLR(opt, 0.01, 0.1, scale_fn=lambda x: 1.0)
    with pytest.raises(TypeError, match="custom scale_fn"):
        from_torch(sched, field="momentum")


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("adam", [False, True])
def test_one_cycle_whose_sequential_milestone_comes_one_step_after_total_steps(
    three_phase: bool, adam: bool
) -> None:
    """SequentialLR runs a OneCycleLR to step total_steps when the next milestone is
    total_steps + 1: that update applies torch's continued anneal (4.95e-3 or 3.8e-4 here, not the
    held 4e-7), for the lr and the momentum, and the momentum torch left stays after it."""
    param = [torch.nn.Parameter(torch.zeros(1))]
    opt: torch.optim.Optimizer = (
        torch.optim.AdamW(param, lr=0.1) if adam else torch.optim.SGD(param, lr=0.1, momentum=0.9)
    )
    first = tl.OneCycleLR(opt, max_lr=0.1, total_steps=10, three_phase=three_phase)
    sched = tl.SequentialLR(opt, [first, tl.ConstantLR(opt, factor=1.0, total_iters=1)], milestones=[11])
    before = dict(opt.param_groups[0])
    lr, m = from_torch(sched, field="lr"), from_torch(sched, field="momentum")
    assert {k: v for k, v in opt.param_groups[0].items() if k != "params"} == {
        k: v for k, v in before.items() if k != "params"
    }  # from_torch leaves the groups as it found them (torch's get_lr writes the momentum)
    ref_lr, ref_m = [], []
    for _ in range(20):
        g = opt.param_groups[0]
        ref_lr.append(g["lr"])
        ref_m.append(g["betas"][0] if adam else g["momentum"])
        opt.step()
        sched.step()
    assert ref_lr[10] > 100 * ref_lr[9]  # the case: torch's step-10 value differs from the hold
    assert np.abs(lr.curve(20) - np.asarray(ref_lr)).max() <= F64_TOL * 0.1
    assert np.abs(m.curve(20) - np.asarray(ref_m)).max() <= F64_TOL


def test_one_cycle_run_to_a_negative_lr_inside_sequential_is_refused() -> None:
    """anneal 'linear' continued one step past its end is negative: torch applies it at the
    update before the milestone; from_torch says so instead of a silently different lr."""
    opt = make_opt([0.1])
    first = tl.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="linear")
    sched = tl.SequentialLR(opt, [first, tl.ConstantLR(opt, factor=1.0, total_iters=1)], milestones=[11])
    with pytest.raises(ValueError, match="negative lr"):
        from_torch(sched)
