"""Bad input: every constructor rule raises a clear error naming the argument (one test per rule)."""

from __future__ import annotations

import math

import pytest

import lrsched_jax as lrs

C = lrs.constant(1.0)

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
        "gamma must be finite and > 0",
    ),
    (
        lrs.step_decay,
        {"base_lr": 0.1, "step_size": 5, "gamma": -0.5},
        ValueError,
        "gamma must be finite and > 0",
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
        "power must be finite and > 0",
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
        {"max_lr": 1.0, "total_steps": 100, "pct_start": 0.6, "three_phase": True},
        ValueError,
        "pct_start=0.6 .* gives an empty phase",
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
        r"step_size_down must be in \[0, inf\]",
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
]


@pytest.mark.parametrize(
    ("factory", "kwargs", "exc", "message"),
    RULES,
    ids=[f"{f.config_name}-{'-'.join(k)}" for f, k, _, _ in RULES],
)
def test_rule(factory, kwargs, exc, message):
    base = {
        lrs.step_decay: {"base_lr": 0.1, "step_size": 5},
        lrs.exponential: {"base_lr": 0.1, "gamma": 0.9},
        lrs.cyclic: {"base_lr": 0.1, "max_lr": 1.0},
    }.get(factory, {})
    with pytest.raises(exc, match=f"{factory.config_name}: {message}"):
        factory(**{**base, **kwargs})
