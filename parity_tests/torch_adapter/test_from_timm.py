"""``lrsched_torch.from_timm`` against timm's own schedulers.

timm cannot be imported whole here (it needs torchvision, which is never installed), so its
scheduler modules are loaded straight from the installed package files (:func:`timm_scheduler`);
they import only torch. For random arguments of every converted scheduler, on a real torch
optimizer: ``from_timm(s)(t)`` equals timm's own ``s._get_lr(t)`` (and the lr ``step(t)`` /
``step_update(t)`` puts in the param group, ``lr_scale`` included) in float64 within
``1e-12 * base_lr``; the plateau scheduler matches ``reduce_on_plateau`` decision for decision.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
import types
import warnings
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from conftest import f32_ulps
from hypothesis import given, settings
from hypothesis import strategies as st

import lrsched_jax as lrs
from lrsched_torch import from_timm

F64_TOL = 1e-12
N = 400  # whole steps compared from 0 (past every drawn horizon), plus a few far ones
FAR = [10_000, 123_457, 2**31 + 5]
MEASURED: dict[str, float] = {}
_MODULES = ("scheduler", "cosine_lr", "tanh_lr", "step_lr", "multistep_lr", "poly_lr", "plateau_lr", "wsd_lr")


def timm_scheduler() -> types.SimpleNamespace:
    """timm's scheduler modules, imported from the installed files without running
    ``timm/__init__.py`` (which imports torchvision): stub parent packages ``timm`` and
    ``timm.scheduler`` whose ``__path__`` is the installed folder, for the time of the import."""
    spec = importlib.util.find_spec("timm")  # finds the folder; executes nothing
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("timm is not installed (pip install --no-deps timm)")
    root = next(iter(spec.submodule_search_locations))
    saved = {k: v for k, v in sys.modules.items() if k == "timm" or k.startswith("timm.")}
    try:
        for name, path in (("timm", root), ("timm.scheduler", f"{root}/scheduler")):
            stub = types.ModuleType(name)
            stub.__path__ = [path]
            sys.modules[name] = stub
        mods = {m: importlib.import_module(f"timm.scheduler.{m}") for m in _MODULES}
    finally:
        for k in [k for k in sys.modules if k == "timm" or k.startswith("timm.")]:
            del sys.modules[k]
        sys.modules.update(saved)
    out = types.SimpleNamespace()
    for m in mods.values():
        for name, obj in vars(m).items():
            if isinstance(obj, type) and name.endswith("Scheduler"):
                setattr(out, name, obj)
    return out


T = timm_scheduler()


def optimizer(lrs_: list[float], scales: list[float | None]) -> torch.optim.Optimizer:
    groups = []
    for lr, sc in zip(lrs_, scales):
        g = {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr}
        if sc is not None:
            g["lr_scale"] = sc
        groups.append(g)
    return torch.optim.SGD(groups, lr=lrs_[0])


def restarts(t_initial: float, mult: float, until: int) -> set[int]:
    """Whole steps that start a cycle (exactly, in rationals)."""
    starts, s, n = set(), Fraction(0), Fraction(t_initial)
    m = Fraction(mult)
    while s <= until:
        if s.denominator == 1:
            starts.add(int(s))
        s, n = s + n, n * m
    return starts


def compare(kind: str, sched, base_lrs: list[float], warmup: int, prefix: bool, cyc=None, far=FAR) -> None:
    converted = from_timm(sched)
    converted = converted if isinstance(converted, tuple) else (converted,)
    assert len(converted) == len(base_lrs)
    steps = list(range(N)) + list(far)
    ref = np.array([sched._get_lr(t) for t in steps], dtype=np.float64)  # (steps, groups)
    scales = [g.get("lr_scale", 1.0) for g in sched.optimizer.param_groups]
    for g, s in enumerate(converted):
        got = s(np.asarray(steps, dtype=np.int64))
        err = np.abs(got - ref[:, g] * scales[g])
        tol = F64_TOL * max(base_lrs[g], sched.warmup_lr_init if warmup else 0.0, 1e-300)
        bad = np.flatnonzero(err > tol)
        if cyc is not None and len(bad):
            # timm's floor(log(..., cycle_mul)) lands just below a restart at some of them and
            # gives the previous cycle's last value there (documented in from_timm): only at
            # exact restarts, and only the previous cycle's end (the lr just before the restart)
            t0, mult = cyc
            offset = warmup if prefix else 0
            starts = {x + offset for x in restarts(t0, mult, max(steps))} - {offset}
            for i in bad:
                t = steps[i]
                assert t in starts, f"{kind}: {s!r} differs at step {t} (not a restart)"
                before = float(s(np.float64(t) - 1e-7))
                assert abs(ref[i, g] * scales[g] - before) <= 1e-6 * base_lrs[g], (kind, t)
            err[bad] = 0.0
        assert err.max() <= tol, (
            f"{kind} {s!r}: {err.max() / tol * F64_TOL:.3g} x base at step {steps[int(err.argmax())]}"
        )
        MEASURED[kind] = max(MEASURED.get(kind, 0.0), float(err.max() / max(base_lrs[g], 1e-300)))
    # the lr timm actually puts in the param groups (lr_scale applied) at a few counts
    for t in (0, 1, warmup, warmup + 3, N - 1):
        (sched.step if sched.t_in_epochs else sched.step_update)(t)
        for g, s in enumerate(converted):
            applied = sched.optimizer.param_groups[g]["lr"]
            assert (
                abs(float(s(t)) - applied) <= F64_TOL * max(base_lrs[g], sched.warmup_lr_init, 1e-300) * 1.01
            )


groups_st = st.lists(
    st.tuples(st.floats(1e-5, 1.0), st.sampled_from([None, None, 0.5, 0.1])), min_size=1, max_size=2
)
warm_st = st.tuples(st.sampled_from([0, 0, 1, 5, 17]), st.floats(0.0, 1e-3), st.booleans())


def _cycle_kw(t_initial, lr_min, mult, decay, limit, warm, t_in_epochs):
    """timm's cycle and warm-up arguments, shared by its cyclic schedulers."""
    W, init, prefix = warm
    return dict(
        t_initial=t_initial, lr_min=lr_min, cycle_mul=mult, cycle_decay=decay, cycle_limit=limit,
        warmup_t=W, warmup_lr_init=init, warmup_prefix=prefix, t_in_epochs=t_in_epochs,
    )  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["CosineLRScheduler", "TanhLRScheduler", "PolyLRScheduler"]),
    groups=groups_st,
    warm=warm_st,
    t_initial=st.integers(1, 120),
    mult=st.sampled_from([1.0, 1.0, 2.0, 3.0, 1.5]),
    decay=st.sampled_from([1.0, 0.5, 0.9]),
    limit=st.sampled_from([1, 1, 2, 5, 1000, 0]),
    lr_min=st.sampled_from([0.0, 1e-6, 3e-4]),
    k_decay=st.sampled_from([1.0, 1.0, 0.5, 1.7]),
    power=st.floats(0.1, 3.0),
    lb_ub=st.tuples(st.floats(-10.0, 1.0), st.floats(0.5, 8.0)),
    t_in_epochs=st.booleans(),
)
def test_cyclic_schedulers_match_timm(
    kind, groups, warm, t_initial, mult, decay, limit, lr_min, k_decay, power, lb_ub, t_in_epochs
):
    W, _, prefix = warm
    opt = optimizer([g[0] for g in groups], [g[1] for g in groups])
    kw = _cycle_kw(t_initial, lr_min, mult, decay, limit, warm, t_in_epochs)
    if kind == "TanhLRScheduler":
        kw.update(lb=lb_ub[0], ub=lb_ub[0] + lb_ub[1])
    else:
        kw["k_decay"] = k_decay
        if kind == "PolyLRScheduler":
            kw["power"] = power
    sched = getattr(T, kind)(opt, **kw)
    compare(kind, sched, [g[0] for g in groups], W, prefix, cyc=(t_initial, mult) if mult != 1 else None)


@settings(max_examples=30, deadline=None)
@given(
    groups=groups_st,
    warm=warm_st,
    t_initial=st.integers(1, 120),
    mult=st.sampled_from([1.0, 2.0, 3.0, 1.5]),
    decay=st.sampled_from([1.0, 0.5, 0.9]),
    limit=st.sampled_from([1, 2, 5, 1000, 0, 10**9]),
    lr_min=st.sampled_from([0.0, 1e-6, 3e-4]),
    t_in_epochs=st.booleans(),
)
def test_poly_power_zero_matches_timm(groups, warm, t_initial, mult, decay, limit, lr_min, t_in_epochs):
    """power=0: timm's (1 - ...) ** 0 == 1 holds each cycle's peak."""
    W, _, prefix = warm
    opt = optimizer([g[0] for g in groups], [g[1] for g in groups])
    kw = _cycle_kw(t_initial, lr_min, mult, decay, limit, warm, t_in_epochs)
    sched = T.PolyLRScheduler(opt, power=0, **kw)
    compare("PolyLRScheduler(power=0)", sched, [g[0] for g in groups], W, prefix, cyc=(t_initial, mult))


@settings(max_examples=60, deadline=None)
@given(
    groups=groups_st,
    warm=warm_st,
    t_initial=st.integers(1, 300),
    frac=st.floats(0.0, 1.0),
    lr_min=st.sampled_from([0.0, 1e-6, 3e-4, 2.0]),
    decay_fn=st.sampled_from(["linear", "1-sqrt", "cosine", "power", "exp"]),
    decay_power=st.floats(0.1, 4.0),
    decay_ratio=st.sampled_from([0.1, 0.5, 1e-4, 0.999]),
    stable=st.sampled_from(["constant", "constant", "rsqrt", "power"]),
    timescale=st.sampled_from([None, 1, 7.5, 0.25, 1000]),
    stable_power=st.floats(0.05, 3.0),
    t_in_epochs=st.booleans(),
)
def test_wsd_matches_timm(
    groups,
    warm,
    t_initial,
    frac,
    lr_min,
    decay_fn,
    decay_power,
    decay_ratio,
    stable,
    timescale,
    stable_power,
    t_in_epochs,
):
    W, init, _ = warm
    if stable != "constant" and timescale is None and W == 0:
        timescale = 3  # timm needs a positive stable_timescale (it defaults to warmup_t)
    opt = optimizer([g[0] for g in groups], [g[1] for g in groups])
    sched = T.WSDLRScheduler(
        opt,
        t_initial=t_initial,
        decay_t=max(1, round(frac * t_initial)),
        lr_min=lr_min,
        stable_fn=stable,
        stable_timescale=timescale,
        stable_power=stable_power,
        decay_fn=decay_fn,
        decay_power=decay_power,
        decay_ratio=decay_ratio,
        warmup_t=W,
        warmup_lr_init=init,
        t_in_epochs=t_in_epochs,
    )
    compare("WSDLRScheduler", sched, [g[0] for g in groups], W, True)


@pytest.mark.parametrize(
    "kw",
    [
        {"stable_fn": "rsqrt", "warmup_t": 5},
        {"stable_fn": "power", "warmup_t": 5, "stable_power": 1.3, "decay_fn": "exp", "decay_ratio": 0.01},
        {"stable_fn": "power", "stable_timescale": 2.5, "stable_power": 0.3, "decay_fn": "power"},
        {"stable_fn": "rsqrt", "stable_timescale": 4, "decay_fn": "cosine", "lr_min": 0.02},
        {"decay_fn": "exp", "decay_ratio": 0.3, "lr_min": 1e-3},
    ],
)
def test_wsd_stable_and_exp_shapes_convert(kw):
    """Regression: stable_fn='rsqrt'/'power' and decay_fn='exp' were refused (no lrsched shape);
    now warmup_stable_decay draws them: timm's values to 1e-12 of the base lr (a decaying
    stable phase floored at lr_min, and carried through the decay phase)."""
    opt = optimizer([0.1, 0.04], [None, 0.5])
    sched = T.WSDLRScheduler(opt, t_initial=200, decay_t=80, **kw)
    compare("WSDLRScheduler", sched, [0.1, 0.04], kw.get("warmup_t", 0), True)
    s = from_timm(sched, group=0)
    got32 = np.asarray(s(jnp.arange(400, dtype=jnp.int32)))
    assert np.nanmax(f32_ulps(got32, s(np.arange(400)))) <= 8


def test_wsd_callable_decay_is_refused_naming_the_argument():
    opt = optimizer([0.1], [None])
    with pytest.raises(TypeError, match=r"decay_fn=.* is arbitrary Python code"):
        from_timm(T.WSDLRScheduler(opt, t_initial=20, decay_t=5, decay_fn=lambda f: 1 - f))
    with pytest.raises(ValueError, match=r"from_timm\(WSDLRScheduler\).*stable_power"):
        from_timm(
            T.WSDLRScheduler(
                opt, t_initial=20, decay_t=5, stable_fn="power", stable_timescale=1, stable_power=5000.0
            )
        )


def test_zero_decay_rate_converts_and_a_negative_one_is_refused_naming_it():
    opt = optimizer([0.1], [None])
    for sched in (
        T.StepLRScheduler(opt, decay_t=3, decay_rate=0.0),
        T.MultiStepLRScheduler(opt, decay_t=[4, 9], decay_rate=0.0),
        T.MultiStepLRScheduler(opt, decay_t=[0, 9], decay_rate=0.0),
    ):
        compare(type(sched).__name__, sched, [0.1], 0, False)
    for kind, kw in (("StepLRScheduler", {"decay_t": 3}), ("MultiStepLRScheduler", {"decay_t": [3]})):
        with pytest.raises(ValueError, match=r"decay_rate must be >= 0, got -0\.5"):
            from_timm(getattr(T, kind)(opt, decay_rate=-0.5, **kw))


@settings(max_examples=30, deadline=None)
@given(
    multi=st.booleans(),
    groups=groups_st,
    warm=warm_st,
    decay_t=st.one_of(
        st.integers(1, 60), st.integers(2, 160).map(lambda q: q / 4), st.sampled_from([2.375, 1.1, 2.4, 0.7])
    ),
    milestones=st.lists(st.integers(0, 300), max_size=5).map(sorted),
    rate=st.floats(0.05, 1.0),
    rate_multi=st.floats(0.05, 1.5),
    t_in_epochs=st.booleans(),
)
def test_step_schedulers_match_timm(multi, groups, warm, decay_t, milestones, rate, rate_multi, t_in_epochs):
    W, init, prefix = warm
    opt = optimizer([g[0] for g in groups], [g[1] for g in groups])
    common = dict(warmup_t=W, warmup_lr_init=init, warmup_prefix=prefix, t_in_epochs=t_in_epochs)
    if multi:
        sched = T.MultiStepLRScheduler(opt, decay_t=milestones, decay_rate=rate_multi, **common)
    else:
        sched = T.StepLRScheduler(opt, decay_t=decay_t, decay_rate=rate, **common)
    compare(type(sched).__name__, sched, [g[0] for g in groups], W, prefix)


def test_multistep_milestone_applies_one_step_early_like_timm():
    opt = optimizer([1.0], [None])
    s = from_timm(T.MultiStepLRScheduler(opt, decay_t=[0, 3, 3, 5], decay_rate=0.5))
    # timm: decay_rate ** bisect_right(decay_t, t + 1); milestone 0 from the start
    assert [float(s(t)) for t in range(6)] == [0.5, 0.5, 0.125, 0.125, 0.0625, 0.0625]


def test_steps_per_epoch_gives_the_per_update_staircase():
    opt = optimizer([0.1], [None])
    sched = T.CosineLRScheduler(opt, t_initial=10, warmup_t=2, warmup_lr_init=1e-4)
    s = from_timm(sched, steps_per_epoch=7)
    assert isinstance(s, lrs.per_epoch)
    k = np.arange(100)
    np.testing.assert_allclose(s(k), [sched._get_lr(int(i) // 7)[0] for i in k], rtol=0, atol=1e-14)


def test_cycle_mul_log_quirk_is_timm_landing_in_the_previous_cycle():
    opt = optimizer([1.0], [None])
    sched = T.CosineLRScheduler(opt, t_initial=1, cycle_mul=3.0, cycle_limit=10, cycle_decay=0.5)
    s = from_timm(sched)
    assert math.log(243, 3) < 5  # the restart at t = 1 + 3 + 9 + 27 + 81 = 121
    assert sched._get_lr(121)[0] == 0.0  # timm: the end of cycle 4
    assert float(s(121)) == pytest.approx(0.5**5, abs=1e-15)  # ours: cycle 5's peak
    assert float(s(120.9999999)) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    mode=st.sampled_from(["min", "max"]),
    decay=st.floats(0.05, 0.95),
    patience=st.integers(0, 4),
    cooldown=st.integers(0, 3),
    threshold=st.sampled_from([0.0, 1e-4, 0.05]),
    lr_min=st.sampled_from([0.0, 1e-4]),
    metrics=st.lists(st.sampled_from([1.0, 0.99, 0.9, 1.1, 0.5, 2.0]), min_size=1, max_size=40),
    base=st.floats(1e-3, 1.0),
)
def test_plateau_matches_timm_decision_for_decision(
    mode, decay, patience, cooldown, threshold, lr_min, metrics, base
):
    opt = optimizer([base, base / 3], [None, None])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # timm deprecates the class
        sched = T.PlateauLRScheduler(
            opt,
            decay_rate=decay,
            patience_t=patience,
            threshold=threshold,
            cooldown_t=cooldown,
            lr_min=lr_min,
            mode=mode,
        )
    machine = from_timm(sched)
    assert isinstance(machine, lrs.reduce_on_plateau)
    timm_lrs = []
    for e, m in enumerate(metrics):
        sched.step(e + 1, m)  # timm's training loop: step(epoch + 1, metric)
        timm_lrs.append([g["lr"] for g in opt.param_groups])
    np.testing.assert_array_equal(machine.lr_history([base, base / 3], metrics), np.array(timm_lrs))


def test_k_decay_float32_bound():
    """k != 1 keeps the 8-ulp contract, eager and jitted (jitted, XLA once folded the warp's
    ``log(exp(a))`` and left a cancellation: millions of ulps)."""
    # a sample, and every step within 64 of the restarts (90,001 and 270,003), where the warp's
    # cancellation was
    restarts = np.array([0, 90_001, 270_003])
    near = (restarts[:, None] + np.arange(-64, 65)[None, :]).ravel()
    steps = np.unique(np.concatenate([np.arange(0, 400_000, 29), near[near >= 0]])).astype(np.int64)
    for shape, extra in (("cosine", {}), ("polynomial", {"power": 1.5})):
        for k in (0.5, 0.8, 1.6, 2.0):
            s = lrs.decay_cycles(0.3, 90_001, shape, min_lr=1e-5, period_mult=2, k=k, **extra)
            t32 = jnp.asarray(steps, dtype=jnp.int32)
            for got in (s(t32), jax.jit(s)(t32)):
                ulps = f32_ulps(np.asarray(got), s(steps))
                assert np.nanmax(ulps) <= 8.0, (s, float(np.nanmax(ulps)))


# --- refusals ------------------------------------------------------------------------------


def test_noise_is_refused_naming_the_argument():
    opt = optimizer([0.1], [None])
    sched = T.CosineLRScheduler(opt, t_initial=10, noise_range_t=(2, 8))
    with pytest.raises(ValueError, match="noise_range_t"):
        from_timm(sched)


@pytest.mark.parametrize(
    ("kind", "kw"),
    [
        ("CosineLRScheduler", {"t_initial": 7, "cycle_decay": 1.5, "cycle_limit": 5}),
        ("CosineLRScheduler", {"t_initial": 3, "cycle_mul": 2.0, "cycle_decay": 1.2, "cycle_limit": 1000}),
        ("TanhLRScheduler", {"t_initial": 10, "cycle_decay": 3.0, "lr_min": 1e-4}),
        ("PolyLRScheduler", {"t_initial": 9, "cycle_decay": 2.0, "cycle_limit": 6, "power": 1.5}),
        ("PolyLRScheduler", {"t_initial": 9, "cycle_decay": 1.3, "cycle_limit": 4, "power": 0}),
        (
            "PolyLRScheduler",
            {"t_initial": 5, "cycle_mul": 1.5, "cycle_decay": 1.3, "cycle_limit": 8, "power": 0},
        ),
    ],
)
def test_growing_cycle_peaks_convert(kind, kw):
    """Regression: cycle_decay > 1 was refused; a growth whose last drawn peak before step
    2**63 stays <= 1e30 now converts to decay_cycles(peak_decay > 1), timm's values to 1e-12."""
    opt = optimizer([0.1, 0.03], [None, 0.5])
    sched = getattr(T, kind)(opt, **kw)
    # (timm raises cycle_decay to the cycle index before checking cycle_limit: OverflowError at
    # far steps with equal cycles; the converted schedule holds lr_min there)
    far = [] if kw.get("cycle_mul", 1.0) == 1.0 else FAR
    compare(kind, sched, [0.1, 0.03], 0, True, cyc=(kw["t_initial"], kw.get("cycle_mul", 1.0)), far=far)
    assert from_timm(sched, group=0).upper_bound() >= max(sched._get_lr(t)[0] for t in range(0, 3000))


def test_step_scheduler_growth_converts_within_the_bound():
    """Regression: StepLRScheduler(decay_rate > 1) was refused; with a decay_t long enough that
    decay_rate**(2**63 / decay_t) stays <= 1e30 it converts to step_decay(gamma > 1)."""
    opt = optimizer([0.1], [None])
    sched = T.StepLRScheduler(opt, decay_t=2**50, decay_rate=1.005)
    s = from_timm(sched)
    for t in (0, 5, 2**50 - 1, 2**50, 3 * 2**50 + 7, 2**62, 2**63 - 1):
        assert abs(float(s(np.int64(t))) - sched._get_lr(t)[0]) <= F64_TOL * 0.1 * sched._get_lr(t)[0] / 0.1
    with pytest.raises(ValueError, match=r"decay_rate=1\.1 grows the lr past .* or <= 1\.00"):
        from_timm(T.StepLRScheduler(opt, decay_t=2**50, decay_rate=1.1))


@pytest.mark.parametrize(
    ("kind", "kw", "match"),
    [
        ("CosineLRScheduler", {"t_initial": 10, "cycle_mul": 0.5}, "cycle_mul"),
        ("CosineLRScheduler", {"t_initial": 10, "cycle_mul": 1.0005}, "cycle_mul"),
        (
            "TanhLRScheduler",
            {"t_initial": 10, "cycle_decay": 1.5, "cycle_limit": 10**9},
            "cycle_decay=1.5 grows",
        ),
        (
            "CosineLRScheduler",
            {"t_initial": 10, "cycle_mul": 2.0, "cycle_decay": 4.0, "cycle_limit": 99},
            "at most",
        ),
        ("CosineLRScheduler", {"t_initial": 10, "cycle_decay": 0.0}, "cycle_decay must be > 0"),
        ("PolyLRScheduler", {"t_initial": 10, "cycle_limit": -1}, "cycle_limit"),
        ("MultiStepLRScheduler", {"decay_t": [5, 2]}, "sorted"),
        ("StepLRScheduler", {"decay_t": 5, "decay_rate": 2.0}, r"decay_rate=2\.0 grows the lr past 1e\+30"),
    ],
)
def test_unreproducible_arguments_are_refused(kind, kw, match):
    opt = optimizer([0.1], [None])
    with pytest.raises(ValueError, match=match):
        from_timm(getattr(T, kind)(opt, **kw))


def test_plateau_warmup_and_used_state_are_refused():
    opt = optimizer([0.1], [None])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(ValueError, match="warmup_t"):
            from_timm(T.PlateauLRScheduler(opt, warmup_t=3))
        used = T.PlateauLRScheduler(optimizer([0.1], [None]))
    used.step(1, 0.5)
    with pytest.raises(ValueError, match="already seen"):
        from_timm(used)


def test_not_timm_and_overridden_formula_are_type_errors():
    opt = optimizer([0.1], [None])
    with pytest.raises(TypeError, match="from_torch"):
        from_timm(torch.optim.lr_scheduler.StepLR(opt, 3))

    class Custom(T.CosineLRScheduler):
        def _get_lr(self, t):
            return [0.5]

    with pytest.raises(TypeError, match="overrides"):
        from_timm(Custom(opt, t_initial=10))
    with pytest.raises(ValueError, match="steps_per_epoch"):
        from_timm(T.CosineLRScheduler(opt, t_initial=10, t_in_epochs=False), steps_per_epoch=5)
