"""``lrsched_jax.from_hf`` and ``from_torch`` on Hugging Face's ``LambdaLR`` against ``transformers`` itself.

For every name ``transformers.get_scheduler`` accepts that is a function of the step, random
arguments: the lr Hugging Face's scheduler gives after ``k`` real ``step()`` calls, for every
``k`` up to well past ``num_training_steps``, equals ``from_hf(...)`` (and
``from_torch(scheduler)``) in float64 within ``1e-12 * base_lr``; the schedule traced in JAX
float32 stays within 8 float32 ulps of its float64 value.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from conftest import f32_ulps
from hypothesis import given
from hypothesis import strategies as st
from transformers import get_scheduler

import lrsched_jax as lrs
from lrsched_torch import from_torch

F64_TOL = 1e-12
MEASURED: dict[str, float] = {}

base_lr = st.floats(1e-6, 1.0)
warm = st.integers(0, 300)
total = st.integers(0, 1200)
cycles = st.one_of(st.floats(0.05, 4.0), st.sampled_from([0.5, 1.0, 2.0]))


N = 2048  # steps compared: past num_training_steps (<= 1500) for every draw; one JAX shape


def hf_curve(name, base, W, T, kw):
    """The lr at update k = 0 .. N-1: what ``LambdaLR`` sets after k ``step()`` calls,
    ``base_lr * lr_lambda(k)`` with transformers' own ``lr_lambda`` (one test below steps the
    scheduler for real and checks it is this)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
    sched = get_scheduler(name, opt, num_warmup_steps=W, num_training_steps=T, scheduler_specific_kwargs=kw)
    fn = sched.lr_lambdas[0]
    return sched, np.asarray([base * fn(k) for k in range(N)])


def whole(x: float) -> bool:
    return float(x).is_integer()


def check(name, base, W, T, kw, period=None):
    """``period``: the cosine's half-period in steps, where there is one. Past the horizon
    Hugging Face evaluates ``cos(2*pi*num_cycles*progress)`` at ever larger angles, whose
    float64 rounding (``~2**-52 * angle``) is its own; the tolerance adds twice that (ours
    reduces the phase exactly). The float32 contract is stated for whole periods (a
    fractional one is not a float32 number), so it is checked for those."""
    sched, ref = hf_curve(name, base, W, T, dict(kw))
    ours = lrs.from_hf(name, base_lr=base, num_warmup_steps=W, num_training_steps=T, **kw)
    steps = np.arange(N)
    tol = np.full(N, F64_TOL)
    if period is not None:
        tol += 2 * 2.0**-52 * np.pi * np.maximum(steps - W + 1, 0) / period
    err = np.abs(ours(steps) - ref) / base
    MEASURED[name] = max(MEASURED.get(name, 0.0), float(np.max(err)))
    k = int(np.argmax(err - tol))
    assert err[k] <= tol[k], f"{name} W={W} T={T} {kw}: {err[k]:.3g} * base_lr at step {k}"
    conv = from_torch(sched)
    assert np.all(np.abs(conv(steps) - ref) <= tol * base)
    if period is not None and not whole(period):
        return
    f32 = np.asarray(ours(jnp.asarray(steps, dtype=jnp.int32)))
    ulps = f32_ulps(f32, ours(steps))
    worst = np.nanmax(ulps) if np.any(np.isfinite(ulps)) else 0.0
    assert worst <= 8, f"{name}: {worst:.2f} float32 ulps"


@given(base_lr, warm, total)
def test_linear(base, W, T):
    check("linear", base, W, T, {})


@given(base_lr, warm, total, cycles)
def test_cosine(base, W, T, nc):
    check("cosine", base, W, T, {"num_cycles": nc}, period=max(1, T - W) / (2 * nc))


@given(base_lr, warm, total, st.one_of(st.integers(0, 60), st.floats(0.1, 30.0)))
def test_cosine_with_restarts(base, W, T, nc):
    check(
        "cosine_with_restarts",
        base,
        W,
        T,
        {"num_cycles": nc},
        period=max(1, T - W) / (2 * nc) if nc else None,
    )


@given(base_lr, warm, total, st.floats(0.0, 0.99), st.one_of(st.just(0.0), st.floats(0.1, 4.0)))
def test_polynomial(base, W, T, end_frac, power):
    if T == W:
        with pytest.raises(ValueError, match="divide by zero"):
            lrs.from_hf("polynomial", base_lr=base, num_warmup_steps=W, num_training_steps=T)
        return
    check("polynomial", base, W, T, {"lr_end": base * end_frac, "power": power})


@given(base_lr, st.integers(0, 50), st.integers(0, 400), st.floats(0.0, 0.99))
def test_polynomial_power_zero(base, W, T, end_frac):
    """power=0: pct_remaining ** 0 == 1 (0.0 ** 0 too), so the lr holds base_lr from the
    warm-up to num_training_steps inclusive, then lr_end."""
    if T == W:
        return
    check("polynomial", base, W, T, {"lr_end": base * end_frac, "power": 0})


@given(base_lr, warm, total, st.one_of(st.integers(1, 60), st.floats(0.05, 30.0)))
def test_cosine_with_restarts_negative_num_cycles(base, W, T, nc):
    """Regression: num_cycles < 0 was refused. Hugging Face's (num_cycles * progress) % 1 is
    then 1 - frac(|num_cycles| * progress): each window rises from 0 to base_lr (base_lr where
    the product is whole, step 0 included), 0 from progress >= 1; now converted."""
    check(
        "cosine_with_restarts",
        base,
        W,
        T,
        {"num_cycles": -nc},
        period=max(1, T - W) / (2 * nc),
    )


@given(base_lr, warm, total, cycles)
def test_cosine_negative_num_cycles(base, W, T, nc):
    """Hugging Face's cos(2*pi*num_cycles*progress) is even in num_cycles."""
    check("cosine", base, W, T, {"num_cycles": -nc}, period=max(1, T - W) / (2 * nc))


@given(base_lr)
def test_constant(base):
    check("constant", base, 5, 10, {})


@given(base_lr, warm)
def test_constant_with_warmup(base, W):
    check("constant_with_warmup", base, W, 100, {})


@given(base_lr, warm, st.one_of(st.none(), st.integers(1, 5000)))
def test_inverse_sqrt(base, W, ts):
    check("inverse_sqrt", base, W, 400, {} if ts is None else {"timescale": ts})


@given(base_lr, warm, total, cycles, st.floats(0.0, 0.9), st.booleans())
def test_cosine_with_min_lr(base, W, T, nc, rate, absolute):
    kw = {"num_cycles": nc, **({"min_lr": rate * base} if absolute else {"min_lr_rate": rate})}
    check("cosine_with_min_lr", base, W, T, kw, period=max(1, T - W) / (2 * nc))


@given(base_lr, warm, total, cycles, st.floats(0.0, 0.9), st.one_of(st.none(), st.floats(0.0, 1.0)))
def test_cosine_warmup_with_min_lr(base, W, T, nc, rate, wr):
    kw = {"num_cycles": nc, "min_lr_rate": rate, **({} if wr is None else {"warmup_lr_rate": wr})}
    check("cosine_warmup_with_min_lr", base, W, T, kw, period=max(1, T - W) / (2 * nc))


#: The warm-up-stable-decay shapes and their floor and cycles (``num_decay_steps`` added per test).
wsd_shape = st.fixed_dictionaries(
    {
        "warmup_type": st.sampled_from(["linear", "cosine", "1-sqrt"]),
        "decay_type": st.sampled_from(["linear", "cosine", "1-sqrt"]),
        "min_lr_ratio": st.floats(0.0, 0.9),
        "num_cycles": cycles,
    }
)


def _wsd_period(kw: dict) -> float | None:
    Dd = kw["num_decay_steps"]
    return Dd / (2 * kw["num_cycles"]) if kw["decay_type"] == "cosine" and Dd else None


@given(base_lr, warm, st.integers(0, 400), st.integers(0, 400), wsd_shape, st.booleans())
def test_warmup_stable_decay(base, W, S, Dd, shape, by_total):
    kw = {"num_decay_steps": Dd, **shape, **({} if by_total else {"num_stable_steps": S})}
    check("warmup_stable_decay", base, W, W + S + Dd, kw, period=_wsd_period(kw))


@given(base_lr, st.integers(0, 300), st.integers(1, 400), st.integers(0, 700), wsd_shape)
def test_warmup_stable_decay_longer_than_training(base, W, Dd, T, shape):
    """num_warmup_steps + num_decay_steps > num_training_steps: Hugging Face's num_stable_steps
    is negative, so its decay starts part-way at the end of the warm-up (or never runs)."""
    kw = {"num_decay_steps": Dd, **shape}
    check("warmup_stable_decay", base, W, min(T, W + Dd - 1), kw, period=_wsd_period(kw))


def test_reduce_lr_on_plateau_is_the_plateau_machine():
    plateau = lrs.from_hf("reduce_lr_on_plateau", base_lr=0.1, patience=2, factor=0.5)
    assert plateau == lrs.reduce_on_plateau(patience=2, factor=0.5)


def test_refusals_name_the_reason():
    with pytest.raises(TypeError, match="GreedyLR"):
        lrs.from_hf("greedy", base_lr=0.1)
    with pytest.raises(ValueError, match="unknown scheduler name"):
        lrs.from_hf("cosine_annealing", base_lr=0.1)
    with pytest.raises(ValueError, match="num_training_steps"):
        lrs.from_hf("cosine", base_lr=0.1, num_warmup_steps=10)
    with pytest.raises(TypeError, match="unexpected scheduler_specific_kwargs"):
        lrs.from_hf("linear", base_lr=0.1, num_warmup_steps=1, num_training_steps=9, num_cycles=2)
    with pytest.raises(ValueError, match=r"lr_end .* must be smaller than base_lr"):
        lrs.from_hf("polynomial", base_lr=0.1, num_warmup_steps=1, num_training_steps=9, lr_end=0.2)
    with pytest.raises(ValueError, match="power must be >= 0, got -1"):
        lrs.from_hf("polynomial", base_lr=0.1, num_warmup_steps=1, num_training_steps=9, power=-1)
    with pytest.raises(ValueError, match=r"num_cycles must be at least -1000, got -1000\.5"):
        lrs.from_hf(
            "cosine_with_restarts", base_lr=0.1, num_warmup_steps=1, num_training_steps=9, num_cycles=-1000.5
        )
    with pytest.raises(ValueError, match="min_lr_rate"):
        lrs.from_hf(
            "cosine_with_min_lr", base_lr=0.1, num_warmup_steps=1, num_training_steps=9, min_lr_rate=-0.1
        )


def test_from_torch_still_refuses_other_python_lambdas():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(TypeError, match="arbitrary"):
        from_torch(torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.9**k))


def test_from_torch_reads_each_group_and_polynomials_lr_init():
    """Stepped for real: LambdaLR multiplies each group's own lr by the lambda (polynomial's
    lambda divides by the optimizer's default lr); from_torch converts every group."""
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.03}], lr=0.1)
    sched = get_scheduler(
        "polynomial", opt, 10, 100, scheduler_specific_kwargs={"lr_end": 1e-3, "power": 2.0}
    )
    s0, s1 = from_torch(sched)
    ref = []
    for _ in range(150):
        ref.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    ref = np.asarray(ref)
    k = np.arange(150)
    assert np.max(np.abs(s0(k) - ref[:, 0])) <= F64_TOL * 0.1
    assert np.max(np.abs(s1(k) - ref[:, 1])) <= F64_TOL * 0.1
