"""The plateau state machine against torch's ``ReduceLROnPlateau`` itself, and its Optax glue.

Every lr sequence below comes from the installed torch scheduler driving a real optimizer;
nothing here re-implements torch's rules. Exact equality is asserted wherever both sides
compute in float64 (NumPy, JAX under scoped x64) and in float32 where all values are dyadic
(so float32 rounds nothing and every decision must match).
"""

from __future__ import annotations

import doctest
import math
import pickle
import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lrsched_jax import plateau_optax
from lrsched_jax.core import plateau as plateau_mod
from lrsched_jax.core.plateau import PlateauState, ReduceOnPlateau, reduce_on_plateau
from lrsched_jax.plateau_optax import plateau_lr, plateau_state, report_plateau, scale_by_plateau

NAN, INF = math.nan, math.inf
FIELDS = ("best", "num_bad_epochs", "cooldown_counter", "last_epoch")


# -- drivers ----------------------------------------------------------------------------


def torch_history(kwargs: dict, lrs: list[float], metrics: list[float]) -> dict[str, np.ndarray]:
    """torch's own scheduler on an SGD optimizer with one param group per lr."""
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    opt = torch.optim.SGD(groups)
    kw = dict(kwargs)
    if isinstance(kw.get("min_lr"), tuple):
        kw["min_lr"] = list(kw["min_lr"])
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    out: dict[str, list] = {"lr": [], **{f: [] for f in FIELDS}}
    for m in metrics:
        sched.step(m)
        out["lr"].append(sched.get_last_lr())
        for f in FIELDS:
            out[f].append(getattr(sched, f))
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def numpy_history(p: ReduceOnPlateau, lrs: list[float], metrics: list[float]) -> dict[str, np.ndarray]:
    state = p.init(lrs)
    rows = []
    for m in metrics:
        state = p.update(state, m)
        rows.append(state)
    return _stack(rows)


def jax_scan_history(p: ReduceOnPlateau, lrs: list[float], metrics: list[float]) -> dict[str, np.ndarray]:
    """The whole sequence in one jitted ``lax.scan`` (the caller picks x64 or not)."""
    dtype = jnp.result_type(float)
    state = p.init(jnp.asarray(lrs, dtype=dtype))

    def body(s: PlateauState, m: jax.Array) -> tuple[PlateauState, PlateauState]:
        s = p.update(s, m)
        return s, s

    _, hist = jax.jit(lambda s, ms: jax.lax.scan(body, s, ms))(state, jnp.asarray(metrics, dtype=dtype))
    return {f: np.asarray(getattr(hist, f), dtype=np.float64) for f in PlateauState._fields}


def jax_jit_history(p: ReduceOnPlateau, lrs: list[float], metrics: list[float]) -> dict[str, np.ndarray]:
    """Step by step through ``jax.jit(p.update)`` (float32 unless x64)."""
    update = jax.jit(p.update)
    state = p.init(jnp.asarray(lrs, dtype=jnp.result_type(float)))
    rows = []
    for m in metrics:
        state = update(state, m)
        rows.append(state)
    return _stack(rows)


def _stack(rows: list[PlateauState]) -> dict[str, np.ndarray]:
    return {
        f: np.asarray([np.asarray(getattr(r, f)) for r in rows], dtype=np.float64)
        for f in PlateauState._fields
    }


def assert_same(ours: dict[str, np.ndarray], ref: dict[str, np.ndarray], metrics: list[float]) -> None:
    for f in ref:
        np.testing.assert_array_equal(ours[f], ref[f], err_msg=f"{f} differs; metrics={metrics!r}")


# -- strategies -------------------------------------------------------------------------

finite = st.floats(-100.0, 100.0, allow_nan=False, allow_infinity=False)
special = st.sampled_from([NAN, INF, -INF, 0.0, -0.0])
value = st.one_of(finite, finite, finite, special)
SLOPE = st.floats(-5.0, 5.0)


@st.composite
def configs(draw: st.DrawFn) -> tuple[dict, list[float]]:
    groups = draw(st.integers(1, 3))
    lrs = draw(st.lists(st.floats(1e-4, 1.0), min_size=groups, max_size=groups))
    per_group = draw(st.booleans())
    min_lr = (
        tuple(draw(st.lists(st.floats(0.0, 0.05), min_size=groups, max_size=groups)))
        if per_group
        else draw(st.one_of(st.just(0.0), st.floats(0.0, 0.01)))
    )
    kwargs = {
        "mode": draw(st.sampled_from(["min", "max"])),
        "threshold_mode": draw(st.sampled_from(["rel", "abs"])),
        "factor": draw(st.one_of(st.floats(0.01, 0.99), st.sampled_from([0.1, 0.5]))),
        "patience": draw(st.integers(0, 4)),
        "cooldown": draw(st.integers(0, 3)),
        "threshold": draw(
            st.one_of(st.just(0.0), st.floats(0.0, 0.5), st.sampled_from([1e-4, 0.1, 1.0, 1.5]))
        ),
        "eps": draw(st.sampled_from([0.0, 1e-8, 1e-3, 0.05])),
        "min_lr": min_lr,
    }
    return kwargs, lrs


@st.composite
def metric_sequences(
    draw: st.DrawFn,
    kwargs: dict,
    val: st.SearchStrategy[float] = value,
    base: st.SearchStrategy[float] = finite,
    slope: st.SearchStrategy[float] = SLOPE,
) -> list[float]:
    """Random, constant, monotone runs, and runs that sit exactly on the improvement bar."""
    thr, rel, lo = kwargs["threshold"], kwargs["threshold_mode"] == "rel", kwargs["mode"] == "min"

    def on_bar(x: float, n: int) -> list[float]:
        # Each value equals the previous one's bar, formed in Python floats as torch forms it:
        # equal is *not* better, so these exercise the strict comparison.
        out = [x]
        for _ in range(n - 1):
            x = x * ((1.0 - thr) if lo else (thr + 1.0)) if rel else (x - thr if lo else x + thr)
            out.append(x)
        return out

    segment = st.one_of(
        st.lists(val, min_size=1, max_size=8),
        st.tuples(val, st.integers(1, 8)).map(lambda t: [t[0]] * t[1]),
        st.tuples(base, slope, st.integers(2, 8)).map(lambda t: [t[0] + i * t[1] for i in range(t[2])]),
        st.tuples(base, st.integers(2, 5)).map(lambda t: on_bar(*t)),
    )
    # At least 12 reports, so that every example has room for reductions and cooldowns.
    segs = draw(st.lists(segment, min_size=3, max_size=8))
    out = [x for s in segs for x in s]
    out += draw(st.lists(val, min_size=max(0, 12 - len(out)), max_size=max(0, 12 - len(out))))
    return out[:60]


# -- float64 parity: torch == NumPy == jitted JAX (x64, scoped) --------------------------------


@given(st.data())
def test_float64_matches_torch_decision_for_decision(data: st.DataObject) -> None:
    kwargs, lrs = data.draw(configs())
    metrics = data.draw(metric_sequences(kwargs))
    p = reduce_on_plateau(**kwargs)
    ref = torch_history(kwargs, lrs, metrics)
    ours = numpy_history(p, lrs, metrics)
    assert_same(ours, ref, metrics)
    if _touches_subnormals(kwargs, metrics):
        return  # XLA flushes subnormals to zero (documented); NumPy and torch do not
    with jax.enable_x64(True):
        traced = jax_scan_history(p, lrs, metrics)
    assert_same(traced, ours, metrics)  # the NumPy evaluation equals the JAX evaluation


def _touches_subnormals(kwargs: dict, metrics: list[float]) -> bool:
    """Whether a metric or an improvement bar formed from one is a subnormal float64."""
    thr = kwargs["threshold"]
    if kwargs["threshold_mode"] == "rel":
        bars = [m * (1.0 - thr) for m in metrics] + [m * (thr + 1.0) for m in metrics]
    else:
        bars = [m - thr for m in metrics] + [m + thr for m in metrics]
    tiny = np.finfo(np.float64).tiny
    return any(0.0 < abs(v) < tiny for v in [*metrics, *bars])


# -- float32 parity on dyadic values: every decision and every lr exact --------------------


@st.composite
def dyadic_configs(draw: st.DrawFn) -> tuple[dict, list[float]]:
    groups = draw(st.integers(1, 3))
    lrs = [2.0 ** -draw(st.integers(0, 6)) for _ in range(groups)]
    dyadic_min = st.integers(3, 16).map(lambda j: 2.0**-j)
    min_lr = (
        tuple(draw(st.lists(dyadic_min, min_size=groups, max_size=groups)))
        if draw(st.booleans())
        else draw(dyadic_min)
    )
    mode_abs = draw(st.booleans())
    kwargs = {
        "mode": draw(st.sampled_from(["min", "max"])),
        "threshold_mode": "abs" if mode_abs else "rel",
        "factor": draw(st.sampled_from([0.5, 0.25, 0.125])),
        "patience": draw(st.integers(0, 3)),
        "cooldown": draw(st.integers(0, 2)),
        "threshold": draw(st.sampled_from([0.0, 0.25, 1.0, 2.0] if mode_abs else [0.0, 0.25, 0.5])),
        "eps": draw(st.sampled_from([0.0, 2.0**-12, 2.0**-6])),
        "min_lr": min_lr,
    }
    return kwargs, lrs


@given(st.data())
def test_float32_jit_matches_torch_on_dyadic_values(data: st.DataObject) -> None:
    kwargs, lrs = data.draw(dyadic_configs())
    eighths = st.integers(-64, 64).map(lambda k: k / 8)
    slope = st.integers(-16, 16).map(lambda k: k / 8)
    metrics = data.draw(metric_sequences(kwargs, st.one_of(eighths, eighths, special), eighths, slope))
    # on_bar runs may leave the dyadic grid only by products that stay exact in float32.
    assert all(math.isnan(m) or float(np.float32(m)) == m for m in metrics)
    p = reduce_on_plateau(**kwargs)
    ref = torch_history(kwargs, lrs, metrics)
    assert jnp.result_type(float) == jnp.float32
    ours = jax_jit_history(p, lrs, metrics)  # float32 values, compared exactly
    assert_same(ours, ref, metrics)


# -- documented boundary behaviour, spelled out ------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "metrics", "expected_lr"),
    [
        # NaN is never better: a bad epoch each (patience 1: reduced at the 2nd), never best.
        ({"patience": 1, "factor": 0.5}, [1.0, NAN, NAN, 0.5], [1.0, 1.0, 0.5, 0.5]),
        # -inf improves on anything, then nothing improves: every later report is bad.
        ({"patience": 0, "factor": 0.5}, [1.0, -INF, -INF, -1e300], [1.0, 1.0, 0.5, 0.25]),
        # +inf in mode min is never better, not even as the first report.
        ({"patience": 0, "factor": 0.5}, [INF, INF, 3.0], [0.5, 0.25, 0.25]),
        # torch's rel threshold on a negative metric: -9.5 after -10 counts as an improvement.
        ({"patience": 0, "factor": 0.5, "threshold": 0.1}, [-10.0, -9.5, -9.2], [1.0, 1.0, 1.0]),
        # ... which threshold_mode="abs" does not do.
        (
            {"patience": 0, "factor": 0.5, "threshold": 0.1, "threshold_mode": "abs"},
            [-10.0, -9.5],
            [1.0, 0.5],
        ),
        # rel threshold 1 in mode min: inf * 0 is NaN, so no report ever improves.
        ({"patience": 0, "factor": 0.5, "threshold": 1.0}, [1.0, 0.0, -5.0], [0.5, 0.25, 0.125]),
        # cooldown: two reports ignored after each reduction.
        ({"patience": 0, "factor": 0.5, "cooldown": 2}, [1.0, 2, 2, 2, 2], [1.0, 0.5, 0.5, 0.5, 0.25]),
        # the lr stops at min_lr, and eps suppresses a reduction smaller than eps.
        ({"patience": 0, "factor": 0.5, "min_lr": 0.3}, [1.0, 2, 2, 2], [1.0, 0.5, 0.3, 0.3]),
        ({"patience": 0, "factor": 0.9, "eps": 0.15}, [1.0, 2, 2], [1.0, 1.0, 1.0]),
        # a reduction of exactly eps is not applied (old - new > eps is strict).
        ({"patience": 0, "factor": 0.5, "eps": 0.5}, [1.0, 2, 2], [1.0, 1.0, 1.0]),
        ({"patience": 0, "factor": 0.5, "eps": 0.25}, [1.0, 2, 2, 2], [1.0, 0.5, 0.5, 0.5]),
    ],
)
def test_boundary_cases_match_torch(kwargs: dict, metrics: list[float], expected_lr: list[float]) -> None:
    ref = torch_history(kwargs, [1.0], metrics)
    np.testing.assert_array_equal(ref["lr"][:, 0], expected_lr)  # what torch does, pinned
    ours = numpy_history(reduce_on_plateau(**kwargs), [1.0], metrics)
    assert_same(ours, ref, metrics)


def test_lr_below_min_lr_is_never_raised() -> None:
    kwargs = {"patience": 0, "min_lr": [0.5, 0.0], "factor": 0.5}
    metrics = [1.0, 2.0, 2.0]
    ref = torch_history(kwargs, [0.1, 1.0], metrics)
    np.testing.assert_array_equal(ref["lr"], [[0.1, 1.0], [0.1, 0.5], [0.1, 0.25]])
    assert_same(numpy_history(reduce_on_plateau(**kwargs), [0.1, 1.0], metrics), ref, metrics)


def test_lr_history_is_get_last_lr_after_each_step() -> None:
    kwargs = {"mode": "max", "patience": 1, "cooldown": 1, "min_lr": [0.0, 1e-3]}
    metrics = [0.1, 0.2, 0.2, 0.1, 0.1, 0.15, 0.05, 0.05, 0.3]
    ref = torch_history(kwargs, [0.1, 0.01], metrics)
    np.testing.assert_array_equal(reduce_on_plateau(**kwargs).lr_history([0.1, 0.01], metrics), ref["lr"])
    assert reduce_on_plateau().lr_history(0.1, []).shape == (0, 1)


# -- JAX specifics -------------------------------------------------------------------------


def test_jax_state_keeps_its_types_and_init_traces() -> None:
    p = reduce_on_plateau(patience=0)
    s0 = p.init(jnp.asarray(0.1))  # a weakly typed scalar becomes a strong float32 group
    s1 = jax.jit(p.update)(s0, 1.0)
    sig = lambda s: [(x.shape, x.dtype, x.weak_type) for x in s]  # noqa: E731
    assert sig(s0) == sig(s1), "a jitted update would retrace on the second call"
    assert s0.lr.shape == (1,) and s0.lr.dtype == jnp.float32 and s0.num_bad_epochs.dtype == jnp.int32
    traced = jax.jit(p.init)(jnp.asarray([0.1, 0.2]))
    np.testing.assert_array_equal(traced.lr, np.float32([0.1, 0.2]))
    assert float(traced.best) == INF
    # A JAX metric with a NumPy state computes in JAX; a NumPy state stays float64 otherwise.
    host = p.init(0.1)
    assert host.lr.dtype == np.float64 and isinstance(host.best, np.ndarray)
    assert isinstance(p.update(host, jnp.asarray(1.0)).lr, jax.Array)
    assert p.update(host, np.float32(1.0)).lr.dtype == np.float64
    # A one-element metric is accepted, as torch's float(tensor) accepts it.
    assert int(p.update(host, np.asarray([2.0])).last_epoch) == 1


def test_numpy_update_is_pure_and_quiet() -> None:
    p = reduce_on_plateau(patience=0, threshold=1.0)  # inf * 0 inside: NaN, like torch
    s0 = p.init([0.1, 0.2])
    lr_before = s0.lr.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s1 = p.update(s0, NAN)
    np.testing.assert_array_equal(s0.lr, lr_before)
    assert int(s0.last_epoch) == 0 and int(s1.last_epoch) == 1


# -- the Optax transformation -----------------------------------------------------------------


def _torch_sgd_run(lrs: list[float], kwargs: dict, grads: np.ndarray, metrics: list[float], per_epoch: int):
    """The lr torch's SGD applies at each update (from the parameter change) and after each report."""
    params = [torch.nn.Parameter(torch.zeros(g.shape[1:], dtype=torch.float64)) for g in grads]
    opt = torch.optim.SGD([{"params": [q], "lr": lr} for q, lr in zip(params, lrs)])
    kw = dict(kwargs)
    if isinstance(kw.get("min_lr"), tuple):
        kw["min_lr"] = list(kw["min_lr"])
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    applied, last = [], []
    k = 0
    for m in metrics:
        for _ in range(per_epoch):
            before = [q.detach().clone() for q in params]
            for q, g in zip(params, grads):
                q.grad = torch.as_tensor(g[k])
            opt.step()
            applied.append([float(((b - q.detach()) / q.grad)[0]) for b, q in zip(before, params)])
            k += 1
        sched.step(m)
        last.append(sched.get_last_lr())
    return np.asarray(applied), np.asarray(last)


def test_optax_transform_scales_updates_by_torchs_lr() -> None:
    kwargs = {"mode": "min", "factor": 0.5, "patience": 1, "cooldown": 1, "min_lr": (0.0, 0.01)}
    lrs = [0.1, 0.04]
    metrics = [4.0, 3.0, 3.0, 3.5, 3.0, 3.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    per_epoch = 3
    n = len(metrics) * per_epoch
    rng = np.random.default_rng(0)
    grads = [rng.uniform(0.5, 2.0, (n, 2)), rng.uniform(0.5, 2.0, (n, 3))]
    applied, last = _torch_sgd_run(lrs, kwargs, grads, metrics, per_epoch)
    assert len(np.unique(applied[:, 0])) >= 3  # the run does reduce, more than once

    p = reduce_on_plateau(**kwargs)
    tx = optax.chain(optax.sgd(1.0), scale_by_plateau(p, {"a": lrs[0], "b": lrs[1]}))
    params = {"a": jnp.zeros(2), "b": jnp.zeros(3)}
    step = jax.jit(tx.update)
    report = jax.jit(lambda s, m: report_plateau(s, m, p))

    # (1) a jitted update per batch, a jitted report per epoch
    state = tx.init(params)
    k = 0
    for e, m in enumerate(metrics):
        for _ in range(per_epoch):
            g = {"a": jnp.asarray(grads[0][k], jnp.float32), "b": jnp.asarray(grads[1][k], jnp.float32)}
            upd, state = step(g, state, params)
            np.testing.assert_allclose(-upd["a"], applied[k, 0] * grads[0][k], rtol=3e-7)
            np.testing.assert_allclose(-upd["b"], applied[k, 1] * grads[1][k], rtol=3e-7)
            k += 1
        state = report(state, m)
        np.testing.assert_allclose(plateau_lr(state), last[e], rtol=2e-7)

    # (2) one compiled train step that reports where `when` is true
    @jax.jit
    def train_step(state, g, metric, is_epoch_end):
        upd, state = tx.update(g, state, params)
        return upd, report_plateau(state, metric, p, when=is_epoch_end)

    state = tx.init(params)
    k = 0
    for m in metrics:
        for i in range(per_epoch):
            g = {"a": jnp.asarray(grads[0][k], jnp.float32), "b": jnp.asarray(grads[1][k], jnp.float32)}
            upd, state = train_step(state, g, m if i == per_epoch - 1 else NAN, i == per_epoch - 1)
            np.testing.assert_allclose(-upd["b"], applied[k, 1] * grads[1][k], rtol=3e-7)
            k += 1
    np.testing.assert_allclose(plateau_lr(state), last[-1], rtol=2e-7)
    assert int(plateau_state(state).last_epoch) == len(metrics)


def test_optax_adam_with_plateau_trains_like_torch_adam_float64() -> None:
    """optax.adam(1.0) then the plateau lr is torch's Adam with ReduceLROnPlateau, to 1e-12."""
    kwargs = {"factor": 0.5, "patience": 0, "threshold": 0.0}
    target = np.array([1.0, -2.0, 0.5])
    epochs, per_epoch = 6, 4

    w = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = torch.optim.Adam([w], lr=0.05)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    t_target = torch.as_tensor(target)
    torch_w, torch_lr = [], []
    for e in range(epochs):
        for _ in range(per_epoch):
            opt.zero_grad()
            ((w - t_target) ** 2).sum().backward()
            opt.step()
            torch_w.append(w.detach().numpy().copy())
        sched.step(float(e % 2))  # alternates, so patience 0 reduces every other epoch
        torch_lr.append(sched.get_last_lr()[0])

    with jax.enable_x64(True):
        p = reduce_on_plateau(**kwargs)
        tx = optax.chain(optax.adam(1.0), scale_by_plateau(p, 0.05))
        params = jnp.zeros(3)
        state = tx.init(params)
        loss_grad = jax.jit(jax.grad(lambda q: jnp.sum((q - jnp.asarray(target)) ** 2)))
        step = jax.jit(tx.update)
        jax_w, jax_lr = [], []
        for e in range(epochs):
            for _ in range(per_epoch):
                upd, state = step(loss_grad(params), state, params)
                params = optax.apply_updates(params, upd)
                jax_w.append(np.asarray(params))
            state = report_plateau(state, float(e % 2), p)
            jax_lr.append(float(plateau_lr(state)[0]))
    assert jax_lr == torch_lr and len(set(torch_lr)) > 2
    np.testing.assert_allclose(np.asarray(jax_w), np.asarray(torch_w), rtol=0, atol=1e-12)


def test_update_keeps_dtype_and_rejects_mismatched_groups() -> None:
    p = reduce_on_plateau()
    tx = scale_by_plateau(p, 0.5)
    state = tx.init(None)
    upd, _ = tx.update({"x": jnp.ones(2, jnp.bfloat16)}, state)
    assert upd["x"].dtype == jnp.bfloat16 and float(upd["x"][0]) == 0.5
    tx2 = scale_by_plateau(p, {"a": 0.1, "b": 0.2})
    with pytest.raises(ValueError, match="prefix of the updates' tree"):
        tx2.update({"a": jnp.ones(1)}, tx2.init(None))


def test_optax_glue_errors() -> None:
    p = reduce_on_plateau()
    with pytest.raises(TypeError, match="plateau must be a ReduceOnPlateau"):
        scale_by_plateau({"patience": 3}, 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"learning_rate must be a finite learning rate >= 0"):
        scale_by_plateau(p, -0.1)
    with pytest.raises(ValueError, match=r"learning_rate \(group 1\)"):
        scale_by_plateau(p, [0.1, math.nan])
    with pytest.raises(TypeError, match="learning_rate must be a number"):
        scale_by_plateau(p, "0.1")
    with pytest.raises(ValueError, match="at least one learning rate"):
        scale_by_plateau(p, {})
    with pytest.raises(ValueError, match="expected 2 min_lr values"):
        scale_by_plateau(reduce_on_plateau(min_lr=[0.0, 0.1, 0.2]), [0.1, 0.2])
    with pytest.raises(ValueError, match="holds no plateau state"):
        report_plateau(optax.sgd(0.1).init(jnp.zeros(1)), 1.0, p)
    with pytest.raises(TypeError, match="plateau must be a ReduceOnPlateau"):
        report_plateau(scale_by_plateau(p, 0.1).init(None), 1.0, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="when must be a boolean scalar"):
        report_plateau(scale_by_plateau(p, 0.1).init(None), 1.0, p, when=jnp.ones(2, bool))
    two = (scale_by_plateau(p, 0.1).init(None), scale_by_plateau(p, 0.2).init(None))
    with pytest.raises(ValueError, match="2 plateau states"):
        plateau_lr(two)
    with pytest.raises(ValueError, match="no plateau state"):
        plateau_state({})
    # report_plateau steps every plateau state it finds; when=False leaves them all unchanged.
    stepped = report_plateau(two, 1.0, p)
    assert [int(s.last_epoch) for s in stepped] == [1, 1]
    assert report_plateau(two, 1.0, p, when=False) is two


# -- against optax.contrib.reduce_on_plateau itself ---------------------------------------------


def _contrib_scales(values: list[float], **kw) -> list[float]:
    tx = optax.contrib.reduce_on_plateau(**kw)
    state = tx.init(jnp.zeros(1))
    out = []
    for v in values:
        _, state = tx.update(jnp.ones(1), state, value=v)
        out.append(float(state.scale))
    return out


def test_differs_from_optax_contrib_on_negated_metrics() -> None:
    # A slowly *declining* accuracy, maximised: torch (mode max) reduces the lr.
    acc = [0.50, 0.49, 0.48, 0.47, 0.46, 0.45]
    kwargs = {"mode": "max", "factor": 0.5, "patience": 1, "threshold": 0.1}
    ref = torch_history(kwargs, [1.0], acc)
    assert ref["lr"][-1, 0] == 0.25
    assert_same(numpy_history(reduce_on_plateau(**kwargs), [1.0], acc), ref, acc)
    # optax.contrib has no max mode; on the negated accuracy its relative bar (1 - rtol)*best
    # lies above the negative best, so every worse accuracy "improves": the lr never drops.
    assert _contrib_scales([-a for a in acc], factor=0.5, patience=1, rtol=0.1) == [1.0] * len(acc)
    # (In mode min, torch's own rel threshold loosens the same way on negative metrics; ours
    # reproduces torch, so on the negated sequence ours, torch and contrib all see progress.)
    neg = [-a for a in acc]
    ref_min = torch_history({**kwargs, "mode": "min"}, [1.0], neg)
    assert ref_min["lr"][-1, 0] == 1.0
    assert_same(numpy_history(reduce_on_plateau(**{**kwargs, "mode": "min"}), [1.0], neg), ref_min, neg)


def test_differs_from_optax_contrib_on_patience() -> None:
    improving = [1.0, 0.5, 0.25, 0.1]
    # contrib reduces when plateau_count == patience: with patience 0, on every report.
    assert _contrib_scales(improving, factor=0.5, patience=0, rtol=1e-4) == [0.5, 0.25, 0.125, 0.0625]
    kwargs = {"factor": 0.5, "patience": 0}
    ref = torch_history(kwargs, [1.0], improving)
    assert ref["lr"][:, 0].tolist() == [1.0] * 4
    assert_same(numpy_history(reduce_on_plateau(**kwargs), [1.0], improving), ref, improving)
    # and with patience 2 contrib reduces after 2 bad reports, torch after 3.
    flat = [1.0, 1.0, 1.0, 1.0]
    assert _contrib_scales(flat, factor=0.5, patience=2, rtol=1e-4) == [1.0, 1.0, 0.5, 0.5]
    torch_lr = torch_history({"factor": 0.5, "patience": 2}, [1.0], flat)["lr"][:, 0]
    assert torch_lr.tolist() == [1.0, 1.0, 1.0, 0.5]


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"mode": "minimum"}, ValueError, r"mode must be one of 'min', 'max'"),
        ({"threshold_mode": "relative"}, ValueError, r"threshold_mode must be one of 'rel', 'abs'"),
        ({"factor": 1.0}, ValueError, r"factor must be in \(0, 1\)"),
        ({"factor": 1.5}, ValueError, r"factor must be in \(0, 1\)"),
        ({"factor": 0.0}, ValueError, r"factor must be in \(0, 1\)"),
        ({"factor": -0.5}, ValueError, r"factor must be in \(0, 1\)"),
        ({"factor": math.nan}, ValueError, r"factor must be finite"),
        ({"factor": "0.1"}, TypeError, r"factor must be a real number"),
        ({"patience": -1}, ValueError, r"patience must be a whole number of epochs >= 0"),
        ({"patience": 1.5}, ValueError, r"patience must be a whole number of epochs >= 0"),
        ({"patience": True}, TypeError, r"patience must be a real number"),
        ({"cooldown": -2}, ValueError, r"cooldown must be a whole number of epochs >= 0"),
        ({"cooldown": 0.5}, ValueError, r"cooldown must be a whole number of epochs >= 0"),
        ({"threshold": -1e-4}, ValueError, r"threshold must be in \[0, inf\]"),
        ({"threshold": math.inf}, ValueError, r"threshold must be finite"),
        ({"eps": -1e-8}, ValueError, r"eps must be in \[0, inf\]"),
        ({"eps": math.nan}, ValueError, r"eps must be finite"),
        ({"min_lr": -0.1}, ValueError, r"min_lr must be a finite learning rate >= 0"),
        ({"min_lr": [0.1, math.inf]}, ValueError, r"min_lr\[1\] must be finite"),
        ({"min_lr": []}, ValueError, r"min_lr must be a number or a non-empty list"),
        ({"min_lr": "0"}, TypeError, r"min_lr must be a list or tuple"),
    ],
)
def test_invalid_hyperparameters(kwargs: dict, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=r"reduce_on_plateau: " + match):
        reduce_on_plateau(**kwargs)


def test_torch_rejects_what_its_own_checks_reject() -> None:
    # The checks torch itself makes are a subset of ours.
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    for kw in ({"factor": 1.0}, {"mode": "minimum"}, {"threshold_mode": "relative"}, {"min_lr": [0, 0]}):
        with pytest.raises(ValueError):
            torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
        with pytest.raises(ValueError):
            reduce_on_plateau(**kw).init(0.1)


@pytest.mark.parametrize(
    ("lr", "exc", "match"),
    [
        (-0.1, ValueError, r"lr must be a finite learning rate >= 0"),
        ([0.1, math.nan], ValueError, r"lr\[1\] must be finite"),
        ([[0.1]], ValueError, r"lr must be a number or a 1-D list"),
        ([], ValueError, r"at least one learning rate"),
        ("0.1", TypeError, r"lr must be a number or a list of numbers"),
        (True, TypeError, r"lr must be a number or a list of numbers"),
        (jnp.asarray([True]), TypeError, r"lr must have an integer or real floating dtype"),
    ],
)
def test_invalid_initial_lr(lr: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        reduce_on_plateau().init(lr)


def test_invalid_metric_and_group_count() -> None:
    p = reduce_on_plateau()
    with pytest.raises(ValueError, match="metric must be a single number, got shape"):
        p.update(p.init(0.1), np.asarray([1.0, 2.0]))
    with pytest.raises(TypeError, match="metric must be a real number"):
        p.update(p.init(0.1), "1.0")
    with pytest.raises(ValueError, match=r"expected 2 min_lr values \(one per group\), got 3"):
        reduce_on_plateau(min_lr=[0.0, 0.1, 0.2]).init([0.1, 0.2])


# -- config object ---------------------------------------------------------------------------


def test_config_object() -> None:
    p = reduce_on_plateau(mode="max", factor=0.5, patience=2.0, min_lr=[0, 1e-5], eps=0)
    assert p.patience == 2 and isinstance(p.patience, int)
    assert p.min_lr == (0.0, 1e-5) and p.eps == 0.0
    assert p == reduce_on_plateau(mode="max", factor=0.5, patience=2, min_lr=(0.0, 1e-5), eps=0.0)
    assert hash(p) == hash(reduce_on_plateau(mode="max", factor=0.5, patience=2, min_lr=(0.0, 1e-5), eps=0.0))
    assert pickle.loads(pickle.dumps(p)) == p
    assert repr(p) == "reduce_on_plateau(mode='max', factor=0.5, patience=2, min_lr=(0.0, 1e-05), eps=0.0)"
    assert eval(repr(p), {"reduce_on_plateau": reduce_on_plateau}) == p
    cfg = p.to_config()
    assert cfg["name"] == "reduce_on_plateau" and cfg["min_lr"] == [0.0, 1e-5]
    import json

    assert ReduceOnPlateau.from_config(json.loads(json.dumps(cfg))) == p
    assert ReduceOnPlateau.from_config(p) is p
    assert ReduceOnPlateau.from_config({"patience": 3}) == reduce_on_plateau(patience=3)
    with pytest.raises(ValueError, match=r"unknown field\(s\) gamma; valid fields: mode, factor"):
        ReduceOnPlateau.from_config({"name": "reduce_on_plateau", "gamma": 0.1})
    with pytest.raises(ValueError, match="expected a config named 'reduce_on_plateau', got 'cosine'"):
        ReduceOnPlateau.from_config({"name": "cosine"})
    with pytest.raises(TypeError, match="must be a mapping"):
        ReduceOnPlateau.from_config([("patience", 3)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="patience must be a whole number"):
        ReduceOnPlateau.from_config({"patience": -3})
    with pytest.raises(AttributeError):
        p.factor = 0.2  # type: ignore[misc]


def test_state_machine_module_does_not_import_jax() -> None:
    code = (
        "import sys, lrsched_jax.core.plateau as p\n"
        "p.reduce_on_plateau().lr_history(0.1, [1.0])\n"
        "print('jax' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("module", [plateau_mod, plateau_optax])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0
