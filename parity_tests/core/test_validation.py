"""Bad input: every constructor rule raises a clear error naming the argument (one test per rule)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import lrsched_jax as lrs

C = lrs.constant(1.0)
#: The message of a length outside [MIN_DURATION, MAX_STEPS].
LENGTH = r"{} must be finite and > 0: a length in steps in \[0.001, 2\*\*53\]"

RULES = [
    # (factory, kwargs, error type, message fragment)
    (lrs.constant, {"value": -0.1}, ValueError, "value must be a finite learning rate >= 0"),
    (lrs.constant, {"value": math.nan}, ValueError, "value must be finite"),
    (lrs.constant, {"value": math.inf}, ValueError, "value must be finite"),
    (lrs.constant, {"value": "0.1"}, TypeError, "value must be a real number"),
    (lrs.constant, {"value": True}, TypeError, "value must be a real number"),
    (lrs.step_decay, {"base_lr": 0.1, "step_size": 0}, ValueError, "step_size must be finite and > 0"),
    (
        lrs.step_decay,
        {"base_lr": 0.1, "step_size": 5, "gamma": 0.0},
        ValueError,
        r"gamma must be in \(0, 1\]",
    ),
    (
        lrs.step_decay,
        {"base_lr": 0.1, "step_size": 5, "gamma": -0.5},
        ValueError,
        r"gamma must be in \(0, 1\]",
    ),
    (lrs.multistep, {"base_lr": 0.1, "milestones": []}, ValueError, "milestones must not be empty"),
    (lrs.multistep, {"base_lr": 0.1, "milestones": [30, 10]}, ValueError, "milestones must be sorted"),
    (
        lrs.multistep,
        {"base_lr": 0.1, "milestones": [-1]},
        ValueError,
        r"milestones\[0\] must be a whole number",
    ),
    (
        lrs.multistep,
        {"base_lr": 0.1, "milestones": [1.5]},
        ValueError,
        r"milestones\[0\] must be a whole number",
    ),
    (lrs.multistep, {"base_lr": 0.1, "milestones": 10}, TypeError, "milestones must be a list"),
    (lrs.exponential, {"base_lr": 0.1, "gamma": 0.0}, ValueError, "gamma must be finite and > 0"),
    (lrs.exponential, {"base_lr": 0.0, "gamma": 2.0, "max_lr": 1.0}, ValueError, "base_lr must be >= 1e-30"),
    (
        lrs.exponential,
        {"base_lr": 0.1, "gamma": 0.9, "min_lr": 0.2, "max_lr": 0.1},
        ValueError,
        r"min_lr must be <= max_lr \(0.1\)",
    ),
    (lrs.exponential, {"base_lr": 0.1, "gamma": 0.9, "every": 0}, ValueError, "every must be finite and > 0"),
    (
        lrs.exponential,
        {"base_lr": 0.1, "gamma": 0.9, "staircase": 1},
        TypeError,
        "staircase must be True or False",
    ),
    (lrs.exponential, {"base_lr": 0.1, "gamma": 0.9, "min_lr": -1}, ValueError, "min_lr must be"),
    (
        lrs.linear,
        {"init_lr": 0.1, "end_lr": 1.0, "total_steps": 0},
        ValueError,
        "total_steps must be a whole number",
    ),
    (
        lrs.linear,
        {"init_lr": 0.1, "end_lr": 1.0, "total_steps": 2.5},
        ValueError,
        "total_steps must be a whole number",
    ),
    (
        lrs.polynomial,
        {"init_lr": 0.1, "total_steps": 10, "power": 0},
        ValueError,
        r"power must be finite and > 0 \(in \(0, 1000\]\)",
    ),
    (lrs.cosine, {"init_lr": -1.0, "total_steps": 10}, ValueError, "init_lr must be a finite learning rate"),
    (lrs.cosine, {"init_lr": 1.0, "total_steps": -10}, ValueError, "total_steps must be finite and > 0"),
    (
        lrs.cosine,
        {"init_lr": 1.0, "total_steps": 10, "periodic": "yes"},
        TypeError,
        "periodic must be True or False",
    ),
    (
        lrs.warm_restarts,
        {"base_lr": 1.0, "first_period": 0},
        ValueError,
        "first_period must be finite and > 0",
    ),
    (
        lrs.warm_restarts,
        {"base_lr": 1.0, "first_period": 5, "period_mult": 0.5},
        ValueError,
        r"period_mult must be in \[1",
    ),
    (
        lrs.warm_restarts,
        {"base_lr": 1.0, "first_period": 5, "period_mult": 1.0001},
        ValueError,
        "period_mult must be 1 or >= 1.001",
    ),
    (
        lrs.warm_restarts,
        {"base_lr": 1.0, "first_period": 5, "peak_decay": 0.0},
        ValueError,
        r"peak_decay must be in \(0, 1\]",
    ),
    (
        lrs.warm_restarts,
        {"base_lr": 1.0, "first_period": 5, "peak_decay": 1.5},
        ValueError,
        r"peak_decay must be in \(0, 1\]",
    ),
    (
        lrs.warmup_cosine,
        {"peak_lr": 1.0, "warmup_steps": 10, "total_steps": 10},
        ValueError,
        "warmup_steps must be < total_steps",
    ),
    (
        lrs.warmup_cosine,
        {"peak_lr": 1.0, "warmup_steps": -1, "total_steps": 10},
        ValueError,
        "warmup_steps must be a whole number of steps >= 0",
    ),
    (
        lrs.one_cycle,
        {"max_lr": 1.0, "total_steps": 100, "pct_start": 0.0},
        ValueError,
        r"pct_start must be in \(0, 1\)",
    ),
    (
        lrs.one_cycle,
        {"max_lr": 1.0, "total_steps": 100, "pct_start": 1.0},
        ValueError,
        r"pct_start must be in \(0, 1\)",
    ),
    (
        lrs.one_cycle,
        {"max_lr": 1.0, "total_steps": 100, "pct_start": 0.01},
        ValueError,
        "pct_start=0.01 with total_steps=100 gives an empty phase",
    ),
    (
        lrs.one_cycle,
        {"max_lr": 1.0, "total_steps": 100, "anneal": "cosine"},
        ValueError,
        "anneal must be one of 'cos', 'linear'",
    ),
    (
        lrs.one_cycle,
        {"max_lr": 1.0, "total_steps": 100, "div_factor": 0},
        ValueError,
        "div_factor must be finite and > 0",
    ),
    (lrs.one_cycle, {"max_lr": 1.0, "total_steps": 0}, ValueError, "total_steps must be a whole number"),
    (lrs.cyclic, {"base_lr": 1.0, "max_lr": -0.5}, ValueError, r"max_lr must be a finite learning rate"),
    (
        lrs.cyclic,
        {"base_lr": 0.1, "max_lr": 1.0, "mode": "tri"},
        ValueError,
        "mode must be one of 'triangular'",
    ),
    (
        lrs.cyclic,
        {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 0},
        ValueError,
        "step_size_up must be finite and > 0",
    ),
    (
        lrs.cyclic,
        {"base_lr": 0.1, "max_lr": 1.0, "step_size_down": -3},
        ValueError,
        r"step_size_down must be 0 or a length in steps in \[0.001, 2\*\*53\]",
    ),
    (lrs.cyclic, {"base_lr": 0.1, "max_lr": 1.0, "gamma": 1.5}, ValueError, r"gamma must be in \(0, 1\]"),
    (lrs.inverse_sqrt, {"peak_lr": 1.0, "warmup_steps": 0}, ValueError, "timescale must be given"),
    (
        lrs.inverse_sqrt,
        {"peak_lr": 1.0, "warmup_steps": 10, "timescale": 0},
        ValueError,
        "timescale must be finite and > 0",
    ),
    (
        lrs.warmup_stable_decay,
        {"peak_lr": 1.0, "total_steps": 10, "warmup_steps": 5, "decay_steps": 6},
        ValueError,
        "warmup_steps \\+ decay_steps must be <= total_steps",
    ),
    (
        lrs.warmup_stable_decay,
        {"peak_lr": 1.0, "total_steps": 10, "warmup_steps": 0, "decay_steps": 0},
        ValueError,
        "decay_steps must be a whole number",
    ),
    (
        lrs.warmup_stable_decay,
        {"peak_lr": 1.0, "total_steps": 10, "warmup_steps": 0, "decay_steps": 5, "decay": "exp"},
        ValueError,
        "decay must be one of",
    ),
    (
        lrs.piecewise_constant,
        {"boundaries": [5], "values": [1.0]},
        ValueError,
        "values needs len\\(boundaries\\) \\+ 1 = 2 entries, got 1",
    ),
    (
        lrs.piecewise_constant,
        {"boundaries": [5, 5], "values": [1.0, 0.5, 0.1]},
        ValueError,
        "boundaries must be strictly increasing",
    ),
    (
        lrs.piecewise_constant,
        {"boundaries": [5], "values": [1.0, -0.5]},
        ValueError,
        r"values\[1\] must be a finite learning rate",
    ),
    (
        lrs.piecewise_linear,
        {"knots": [0, 10], "values": [1.0]},
        ValueError,
        "values needs one entry per knot",
    ),
    (
        lrs.piecewise_linear,
        {"knots": [10, 0], "values": [1.0, 0.0]},
        ValueError,
        "knots must be strictly increasing",
    ),
    (lrs.piecewise_linear, {"knots": [], "values": []}, ValueError, "knots must not be empty"),
    (lrs.lr_range, {"start_lr": 1.0, "end_lr": 1e-3}, ValueError, "end_lr must be > start_lr"),
    (lrs.lr_range, {"start_lr": 0.0}, ValueError, "start_lr must be finite and > 0"),
    (
        lrs.lr_range,
        {"start_lr": 1e-31},
        ValueError,
        r"start_lr must be finite and > 0 \(in \[1e-30, 1e\+30\]\)",
    ),
    (lrs.lr_range, {"start_lr": 1e-20, "end_lr": 1e20}, ValueError, r"end_lr / start_lr must be <= 1e\+30"),
    (lrs.lr_range, {"num_steps": 1}, ValueError, "num_steps must be a whole number of steps >= 2"),
    (lrs.lr_range, {"mode": "log"}, ValueError, "mode must be one of 'exp', 'linear'"),
    (
        lrs.article_warmup_cosine,
        {"base_lr": 0.1, "warmup_epochs": 10, "total_epochs": 5},
        ValueError,
        "warmup_epochs must be < total_epochs",
    ),
    (
        lrs.article_one_cycle,
        {"max_lr": 0.1, "total_steps": 100, "pct_start": 1.2},
        ValueError,
        r"pct_start must be in \(0, 1\)",
    ),
    (
        lrs.sequence,
        {"schedules": [C, C], "boundaries": []},
        ValueError,
        "needs len\\(boundaries\\) \\+ 1 = 1 schedules, got 2",
    ),
    (lrs.sequence, {"schedules": [C, C], "boundaries": [-1]}, ValueError, r"boundaries\[0\] must be in \[0"),
    (
        lrs.sequence,
        {"schedules": [C, lambda t: t], "boundaries": [5]},
        TypeError,
        r"schedules\[1\] must be an lrsched schedule",
    ),
    (lrs.sequence, {"schedules": [], "boundaries": []}, ValueError, "schedules needs at least 1 schedule"),
    (lrs.product, {"schedules": []}, ValueError, "schedules needs at least 1"),
    (lrs.warmup, {"schedule": 0.1, "warmup_steps": 10}, TypeError, "schedule must be an lrsched schedule"),
    (
        lrs.warmup,
        {"schedule": C, "warmup_steps": 0},
        ValueError,
        "warmup_steps must be a whole number of steps >= 1",
    ),
    (
        lrs.warmup,
        {"schedule": C, "warmup_steps": 5, "shape": "exp"},
        ValueError,
        "shape must be one of 'linear', 'cosine'",
    ),
    (lrs.scale, {"schedule": C, "factor": -2.0}, ValueError, "factor must be a finite learning rate >= 0"),
    (
        lrs.per_epoch,
        {"schedule": C, "steps_per_epoch": 0},
        ValueError,
        "steps_per_epoch must be a whole number",
    ),
    (lrs.shift, {"schedule": C, "steps": -1}, ValueError, r"steps must be in \[0"),
    # -- accepted only what evaluates finitely at every step (issue 12 item 5) --------------
    (lrs.cosine, {"init_lr": 0.1, "total_steps": 1e-100}, ValueError, LENGTH.format("total_steps")),
    (lrs.cosine, {"init_lr": 0.1, "total_steps": 5e-324}, ValueError, LENGTH.format("total_steps")),
    (lrs.cosine, {"init_lr": 0.1, "total_steps": 1e300}, ValueError, LENGTH.format("total_steps")),
    (
        lrs.step_decay,
        {"base_lr": 0.1, "step_size": 1e-100, "gamma": 0.5},
        ValueError,
        LENGTH.format("step_size"),
    ),
    (
        lrs.step_decay,
        {"base_lr": 0.1, "step_size": 10, "gamma": 1e300},
        ValueError,
        r"gamma must be in \(0, 1\] \(a factor > 1 grows without bound",
    ),
    (
        lrs.multistep,
        {"base_lr": 0.1, "milestones": [10, 20], "gamma": 1e300},
        ValueError,
        r"gamma=1e\+300 > 1 makes base_lr \* gamma\*\*len\(milestones\) \(gamma\*\*2\) exceed 1e\+30",
    ),
    (
        lrs.multistep,
        {"base_lr": 1e20, "milestones": [10, 20], "gamma": 1e6},
        ValueError,
        r"gamma=1000000.0 > 1 makes base_lr \* gamma\*\*len\(milestones\)",
    ),
    (
        lrs.exponential,
        {"base_lr": 0.1, "gamma": 1.01},
        ValueError,
        r"gamma must be in \(0, 1\] \(a factor > 1",
    ),
    (lrs.exponential, {"base_lr": 0.1, "gamma": 0.9, "every": 1e-9}, ValueError, LENGTH.format("every")),
    (
        lrs.constant,
        {"value": 1e31},
        ValueError,
        r"value must be a finite learning rate >= 0 \(and <= 1e\+30\)",
    ),
    (
        lrs.linear,
        {"init_lr": 0.1, "end_lr": 1.0, "total_steps": 2**53 + 2},
        ValueError,
        r"total_steps .*<= 2\*\*53",
    ),
    (
        lrs.polynomial,
        {"init_lr": 0.1, "total_steps": 10, "power": 1e4},
        ValueError,
        r"power must be .*1000\]",
    ),
    (
        lrs.warm_restarts,
        {"base_lr": 1.0, "first_period": 5, "period_mult": 1e300},
        ValueError,
        r"period_mult must be in \[1, 2\*\*53\]",
    ),
    (lrs.warm_restarts, {"base_lr": 1.0, "first_period": 1e-10}, ValueError, LENGTH.format("first_period")),
    (
        lrs.one_cycle,
        {"max_lr": 1.0, "total_steps": 100, "div_factor": 1e-40},
        ValueError,
        r"div_factor makes the initial lr max_lr / div_factor = 1e\+40, more than 1e\+30",
    ),
    (
        lrs.one_cycle,
        {"max_lr": 1.0, "total_steps": 100, "final_div_factor": 1e-40},
        ValueError,
        r"final_div_factor makes the final lr",
    ),
    (
        lrs.article_one_cycle,
        {"max_lr": 1.0, "total_steps": 100, "div_factor": 1e-40},
        ValueError,
        r"div_factor makes the start lr",
    ),
    (
        lrs.cyclic,
        {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 1e-9},
        ValueError,
        LENGTH.format("step_size_up"),
    ),
    (
        lrs.cyclic,
        {"base_lr": 0.1, "max_lr": 1.0, "mode": "exp_range", "gamma": 1.0001},
        ValueError,
        r"gamma must be in \(0, 1\]",
    ),
    (
        lrs.inverse_sqrt,
        {"peak_lr": 1.0, "warmup_steps": 0, "timescale": 1e-9},
        ValueError,
        LENGTH.format("timescale"),
    ),
    (
        lrs.piecewise_constant,
        {"boundaries": [1e300], "values": [1.0, 0.5]},
        ValueError,
        r"boundaries\[0\] must be in \[0, 2\*\*53\]",
    ),
    (
        lrs.piecewise_linear,
        {"knots": [0, 1], "values": [1.0, 1e40]},
        ValueError,
        r"values\[1\] must be a finite",
    ),
    (
        lrs.lr_range,
        {"start_lr": 1e-3, "end_lr": 1e31},
        ValueError,
        r"end_lr must be finite and > 0 \(in \[1e-30",
    ),
    (
        lrs.scale,
        {"schedule": lrs.constant(1e20), "factor": 1e20},
        ValueError,
        r"factor=1e\+20 times the schedule's upper bound \(1e\+20\) is 1e\+40, more than 1e\+30",
    ),
    (
        lrs.product,
        {"schedules": [lrs.constant(1e20), lrs.cosine(1e20, 10)]},
        ValueError,
        r"schedules multiply to values up to 1e\+40",
    ),
    (lrs.shift, {"schedule": C, "steps": 1e300}, ValueError, r"steps must be in \[0, 2\*\*53\]"),
    (lrs.per_epoch, {"schedule": C, "steps_per_epoch": 1e300}, ValueError, r"steps_per_epoch .*<= 2\*\*53"),
    # -- a 0-d array for a list argument (issue 12 item 17) ----------------------------------
    (
        lrs.multistep,
        {"base_lr": 0.1, "milestones": np.array(5)},
        TypeError,
        "milestones must be a list or tuple, got a 0-d",
    ),
    (
        lrs.piecewise_linear,
        {"knots": np.array(3.0), "values": [1.0]},
        TypeError,
        "knots must be a list or tuple, got a 0-d",
    ),
    (
        lrs.piecewise_constant,
        {"boundaries": [1], "values": np.array(1.0)},
        TypeError,
        "values must be a list or tuple",
    ),
    (
        lrs.sequence,
        {"schedules": np.array(C), "boundaries": []},
        TypeError,
        "schedules must be a list or tuple",
    ),
]


@pytest.mark.parametrize(
    ("factory", "kwargs", "exc", "message"),
    RULES,
    ids=[f"{f.config_name}-{'-'.join(k)}" for f, k, _, _ in RULES],
)
def test_rule(factory, kwargs, exc, message):
    with pytest.raises(exc, match=f"{factory.config_name}: {message}"):
        factory(**kwargs)


def test_nesting_depth_is_limited_at_construction():
    # 900 levels used to construct, then fail in to_config()/pickle with a RecursionError.
    s = C
    for _ in range(lrs.MAX_DEPTH - 1):
        s = lrs.scale(s, 1.0)
    assert s.to_config()["name"] == "scale"  # the deepest accepted schedule works
    assert pickle.loads(pickle.dumps(s)) == s
    with pytest.raises(ValueError, match=r"scale: schedules nest 101 levels deep here; at most 100"):
        lrs.scale(s, 1.0)
    with pytest.raises(ValueError, match=r"sequence: schedules nest 101 levels deep"):
        lrs.sequence([C, s], [5])


MIN, MAX_STEPS, MAX_LR = lrs.validate.MIN_DURATION, lrs.validate.MAX_STEPS, lrs.validate.MAX_LR

# The most extreme arguments each kind accepts (the ends of every documented range).
EXTREMES = [
    lrs.constant(MAX_LR),
    lrs.step_decay(MAX_LR, MIN, 5e-324),
    lrs.step_decay(MAX_LR, MAX_STEPS, 1.0),
    lrs.multistep(5e-324, [1, 1, 1, 1], 1e7),
    lrs.multistep(1.0, [0, MAX_STEPS], 1e15),
    lrs.exponential(MAX_LR, 5e-324, every=MIN),
    lrs.exponential(MAX_LR, 5e-324, every=MIN, staircase=True, min_lr=1e-30),
    lrs.linear(MAX_LR, 0.0, MAX_STEPS),
    lrs.polynomial(MAX_LR, MAX_STEPS, end_lr=MAX_LR, power=1000),
    lrs.polynomial(MAX_LR, 1, power=1e-3),
    lrs.cosine(MAX_LR, MIN, periodic=True),
    lrs.cosine(MAX_LR, MAX_STEPS, periodic=True),
    lrs.warm_restarts(MAX_LR, MIN, MAX_STEPS),
    lrs.warm_restarts(MAX_LR, MIN, 1.001, peak_decay=5e-324, min_lr=1.0),
    lrs.warmup_cosine(MAX_LR, MAX_STEPS - 1, MAX_STEPS, min_lr=MAX_LR, init_lr=MAX_LR),
    lrs.one_cycle(1.0, 100, div_factor=1e-30, final_div_factor=1e300, anneal="linear"),
    lrs.one_cycle(MAX_LR, 10, div_factor=1e300, final_div_factor=1e-300, three_phase=True),
    lrs.cyclic(0.0, MAX_LR, MIN, MAX_STEPS, mode="exp_range", gamma=5e-324),
    lrs.cyclic(0.0, MAX_LR, MIN, 0, mode="triangular2"),
    lrs.inverse_sqrt(MAX_LR, 0, timescale=MIN),
    lrs.warmup_stable_decay(MAX_LR, MAX_STEPS, 0, MAX_STEPS, decay="1-sqrt", min_lr=MAX_LR),
    lrs.piecewise_constant([0, MAX_STEPS], [MAX_LR, 0.0, MAX_LR]),
    lrs.piecewise_linear([0.5, 0.5001, MAX_STEPS], [MAX_LR, 0.0, MAX_LR]),
    lrs.lr_range(1e-30, 1.0, 2),
    lrs.lr_range(1.0, MAX_LR, MAX_STEPS),
    lrs.article_one_cycle(1.0, 10, div_factor=1e-30, final_div_factor=1e300),
    lrs.product([lrs.constant(1e15), lrs.cosine(1e15, MIN, periodic=True)]),
    lrs.scale(lrs.cosine(1.0, MIN), MAX_LR),
    lrs.per_epoch(lrs.step_decay(MAX_LR, MIN, 0.5), 1),
    lrs.shift(lrs.cyclic(0.0, MAX_LR, MIN), MAX_STEPS - 0.5),
]


@pytest.mark.parametrize("s", EXTREMES, ids=[f"{i}-{s.config_name}" for i, s in enumerate(EXTREMES)])
def test_what_validation_accepts_is_finite_everywhere(s):
    """Every value at steps up to 2**63 (host int64/float64, jitted int32/uint32/float32) is
    finite and within ``[0, upper_bound()]``."""
    import jax
    import jax.numpy as jnp

    # float32 rounding may lift a value a few dozen ulps over the bound, never more
    bounds = [s.upper_bound() * (1 + 1e-12)] * 2 + [s.upper_bound() * (1 + 2**-16)] * 3
    host = [
        np.array([0, 1, 2, 999, 2**31 - 1, 2**31, 2**53, 2**53 + 1, 2**62, 2**63 - 1], dtype=np.int64),
        np.array([0.0, 0.25, 1.5, 1e9 + 0.5, 2.0**53, 2.0**63], dtype=np.float64),
    ]
    traced = [
        jnp.array([0, 1, 2, 999, 2**24 + 1, 2**31 - 1], dtype=jnp.int32),
        jnp.array([0, 2**32 - 1], dtype=jnp.uint32),
        jnp.array([0.0, 0.25, 1.5, 2.0**31, 2.0**53, 2.0**63], dtype=jnp.float32),
    ]
    fn = jax.jit(s)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # none on the host either
        values = [s(t) for t in host]
    values += [np.asarray(fn(t)) for t in traced]
    for v, bound in zip(values, bounds):
        v = np.asarray(v, dtype=np.float64)
        assert np.isfinite(v).all() and (v >= 0).all() and (v <= bound).all(), (s, v)


def _zero_d_scalars():
    """0-d arrays of NumPy, JAX and torch holding 0.25 (exact in float32)."""
    import jax.numpy as jnp
    import torch

    return [np.float32(0.25), np.array(0.25), jnp.float32(0.25), jnp.array(0.25), torch.tensor(0.25)]


def test_concrete_0d_array_hyperparameters_are_stored_as_python_numbers():
    """Regression: a 0-d array was refused as "must be a real number, got Array(...)"; a
    concrete one now counts as the number it holds, stored as a Python float/int so the
    schedule stays hashable, picklable and its config JSON-able."""
    import json

    import jax.numpy as jnp

    plain = lrs.cosine(0.25, 100, min_lr=0.25 / 8)
    for v in _zero_d_scalars():
        s = lrs.cosine(v, jnp.array(100), min_lr=v / 8)
        assert s == plain and hash(s) == hash(plain) and repr(s) == repr(plain), v
        assert type(s.init_lr) is float and type(s.min_lr) is float and type(s.total_steps) is int
        assert pickle.loads(pickle.dumps(s)) == s
        assert lrs.from_config(json.loads(json.dumps(s.to_config()))) == s
    # an int field takes an integer-valued array of any kind, a list field a 1-D array
    ramp = lrs.linear(0.1, 0.0, jnp.array(3))
    assert ramp == lrs.linear(0.1, 0.0, 3) and type(ramp.total_steps) is int
    assert lrs.linear(0.1, 0.0, np.array(3.0)).total_steps == 3
    assert lrs.multistep(0.1, jnp.array([10, 20])).milestones == (10, 20)
    assert all(type(m) is int for m in lrs.multistep(0.1, np.array([10, 20])).milestones)
    # float32 0.1 is not 0.1: the value held is kept, not a guess at the decimal meant
    assert lrs.constant(np.float32(0.1)).value == float(np.float32(0.1))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"total_steps": np.array(3.5)}, ValueError, r"linear: total_steps must be a whole number"),
        ({"init_lr": np.array(True)}, TypeError, r"linear: init_lr must be a real number, got array\(True\)"),
        ({"init_lr": np.array(0.5j)}, TypeError, r"init_lr must be a real number"),
        ({"init_lr": np.array("0.1")}, TypeError, r"init_lr must be a real number"),
        ({"init_lr": np.array([0.1])}, TypeError, r"init_lr must be a real number"),
        ({"init_lr": np.array(np.nan)}, ValueError, r"init_lr must be finite"),
        ({"init_lr": np.float32(-0.1)}, ValueError, r"init_lr must be a finite learning rate >= 0"),
    ],
)
def test_0d_arrays_are_checked_like_numbers(kwargs, error, message):
    args = {"init_lr": 0.1, "end_lr": 0.0, "total_steps": 10, **kwargs}
    with pytest.raises(error, match=message):
        lrs.linear(**args)
