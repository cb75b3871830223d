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


def rules(factory, base, *cases):
    """``(factory, base | overrides, error type, message)`` rows: each case is
    ``(overrides, message)`` or ``(overrides, message, error type)`` (``ValueError`` by default)."""
    return [(factory, {**base, **over}, *(rest or [ValueError]), message) for over, message, *rest in cases]


RULES = [
    *rules(
        lrs.constant,
        {},
        ({"value": -0.1}, "value must be a finite learning rate >= 0"),
        ({"value": math.nan}, "value must be finite"),
        ({"value": math.inf}, "value must be finite"),
        ({"value": "0.1"}, "value must be a real number", TypeError),
        ({"value": True}, "value must be a real number", TypeError),
    ),
    *rules(
        lrs.step_decay,
        {"base_lr": 0.1},
        ({"step_size": 0}, "step_size must be finite and > 0"),
        ({"step_size": 5, "gamma": 0.0}, "gamma must be finite and > 0"),
        ({"step_size": 5, "gamma": -0.5}, "gamma must be finite and > 0"),
        # growth: only while base_lr * gamma**(2**63 // step_size) stays <= 1e30
        ({"step_size": 5, "gamma": 1.5}, r"gamma must be in \(0, 1\] \(a factor > 1 grows the lr"),
        (
            {"step_size": 2**53, "gamma": 1.1},
            r"gamma must be in \(0, 1\], or at most 1\.069\d* with these base_lr and step_size",
        ),
    ),
    *rules(
        lrs.multistep,
        {"base_lr": 0.1},
        ({"milestones": []}, "milestones must not be empty"),
        ({"milestones": [30, 10]}, "milestones must be sorted"),
        ({"milestones": [-1]}, r"milestones\[0\] must be a whole number"),
        ({"milestones": [1.5]}, r"milestones\[0\] must be a whole number"),
        ({"milestones": 10}, "milestones must be a list", TypeError),
    ),
    *rules(
        lrs.exponential,
        {},
        ({"base_lr": 0.1, "gamma": 0.0}, "gamma must be finite and > 0"),
        ({"base_lr": 0.0, "gamma": 2.0, "max_lr": 1.0}, "base_lr must be >= 1e-30"),
        ({"base_lr": 0.1, "gamma": 0.9, "min_lr": 0.2, "max_lr": 0.1}, r"min_lr must be <= max_lr \(0.1\)"),
        ({"base_lr": 0.1, "gamma": 0.9, "every": 0}, "every must be finite and > 0"),
        ({"base_lr": 0.1, "gamma": 0.9, "staircase": 1}, "staircase must be True or False", TypeError),
        ({"base_lr": 0.1, "gamma": 0.9, "min_lr": -1}, "min_lr must be"),
    ),
    *rules(
        lrs.linear,
        {"init_lr": 0.1, "end_lr": 1.0},
        ({"total_steps": 0}, "total_steps must be a whole number"),
        ({"total_steps": 2.5}, "total_steps must be a whole number"),
    ),
    (
        lrs.polynomial,
        {"init_lr": 0.1, "total_steps": 10, "power": 0},
        ValueError,
        r"power must be finite and > 0 \(in \(0, 1000\]\)",
    ),
    *rules(
        lrs.cosine,
        {},
        ({"init_lr": -1.0, "total_steps": 10}, "init_lr must be a finite learning rate"),
        ({"init_lr": 1.0, "total_steps": -10}, "total_steps must be finite and > 0"),
        ({"init_lr": 1.0, "total_steps": 10, "periodic": "yes"}, "periodic must be True or False", TypeError),
    ),
    *rules(
        lrs.warm_restarts,
        {"base_lr": 1.0},
        ({"first_period": 0}, "first_period must be finite and > 0"),
        ({"first_period": 5, "period_mult": 0.5}, r"period_mult must be in \[1"),
        ({"first_period": 5, "period_mult": 1.0001}, "period_mult must be 1 or >= 1.001"),
        ({"first_period": 5, "peak_decay": 0.0}, r"peak_decay must be in \(0, 1\]"),
        ({"first_period": 5, "peak_decay": 1.5}, r"peak_decay must be in \(0, 1\]"),
    ),
    *rules(
        lrs.warmup_cosine,
        {"peak_lr": 1.0, "total_steps": 10},
        ({"warmup_steps": 10}, "warmup_steps must be < total_steps"),
        ({"warmup_steps": -1}, "warmup_steps must be a whole number of steps >= 0"),
    ),
    *rules(
        lrs.one_cycle,
        {"max_lr": 1.0},
        ({"total_steps": 100, "pct_start": 0.0}, r"pct_start must be in \(0, 1\)"),
        ({"total_steps": 100, "pct_start": 1.0}, r"pct_start must be in \(0, 1\)"),
        ({"total_steps": 100, "pct_start": 0.01}, "pct_start=0.01 with total_steps=100 gives an empty phase"),
        ({"total_steps": 100, "anneal": "cosine"}, "anneal must be one of 'cos', 'linear'"),
        ({"total_steps": 100, "div_factor": 0}, "div_factor must be finite and > 0"),
        ({"total_steps": 0}, "total_steps must be a whole number"),
    ),
    *rules(
        lrs.cyclic,
        {},
        ({"base_lr": 1.0, "max_lr": -0.5}, r"max_lr must be a finite learning rate"),
        ({"base_lr": 0.1, "max_lr": 1.0, "mode": "tri"}, "mode must be one of 'triangular'"),
        ({"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 0}, "step_size_up must be finite and > 0"),
        (
            {"base_lr": 0.1, "max_lr": 1.0, "step_size_down": -3},
            r"step_size_down must be 0 or a length in steps in \[0.001, 2\*\*53\]",
        ),
        ({"base_lr": 0.1, "max_lr": 1.0, "gamma": 1.5}, r"gamma must be in \(0, 1\]"),
    ),
    *rules(
        lrs.inverse_sqrt,
        {"peak_lr": 1.0},
        ({"warmup_steps": 0}, "timescale must be given"),
        ({"warmup_steps": 10, "timescale": 0}, "timescale must be finite and > 0"),
    ),
    *rules(
        lrs.warmup_stable_decay,
        {"peak_lr": 1.0, "total_steps": 10},
        ({"warmup_steps": 5, "decay_steps": 6}, "warmup_steps \\+ decay_steps must be <= total_steps"),
        ({"warmup_steps": 0, "decay_steps": 0}, "decay_steps must be a whole number"),
        ({"warmup_steps": 0, "decay_steps": 5, "decay": "poly"}, "decay must be one of"),
        (
            {"warmup_steps": 2, "decay_steps": 5, "stable": "rsqrt", "decay_ratio": 0.5},
            "decay_ratio applies to",
        ),
        (
            {"warmup_steps": 2, "decay_steps": 5, "decay": "exp", "decay_ratio": 1.0},
            r"decay_ratio must be in \(0, 1\)",
        ),
        (
            {"warmup_steps": 2, "decay_steps": 5, "decay": "exp", "decay_ratio": 0.0},
            r"decay_ratio must be in \(0, 1\)",
        ),
        (
            {"warmup_steps": 2, "decay_steps": 5, "decay_power": 2.0},
            "decay_power applies to decay='power' only",
        ),
        (
            {"warmup_steps": 2, "decay_steps": 5, "decay": "power", "decay_power": 0},
            "decay_power must be finite",
        ),
        (
            {"warmup_steps": 2, "decay_steps": 5, "stable": "rsqrt", "stable_power": 2.0},
            "stable_power applies",
        ),
        (
            {"warmup_steps": 2, "decay_steps": 5, "stable": "power", "stable_power": 1001},
            "stable_power must be",
        ),
        ({"warmup_steps": 2, "decay_steps": 5, "stable_timescale": 3}, "stable_timescale applies to stable="),
        ({"warmup_steps": 0, "decay_steps": 5, "stable": "rsqrt"}, "stable_timescale must be given"),
        (
            {"warmup_steps": 0, "decay_steps": 5, "stable": "power", "stable_timescale": 0},
            "stable_timescale must be",
        ),
        ({"warmup_steps": 0, "decay_steps": 5, "stable": "cubic"}, "stable must be one of"),
    ),
    *rules(
        lrs.decay_cycles,
        {"base_lr": 0.1, "first_period": 10},
        ({"peak_decay": 0.0}, "peak_decay must be finite and > 0"),
        ({"peak_decay": -0.5}, "peak_decay must be finite and > 0"),
        # growing peaks: only while the last drawn peak before step 2**63 stays <= 1e30
        ({"peak_decay": 1.5}, r"peak_decay must be in \(0, 1\] \(growing peaks: base_lr \* peak_decay\*\*"),
        ({"peak_decay": 4.0, "period_mult": 2}, r"peak_decay must be in \(0, 1\], or at most 3\.22\d*"),
        (
            {"peak_decay": 1e30, "cycles": 3},
            r"peak_decay must be in \(0, 1\], or at most 999999999999000\.0 with these .* "
            r"peak_decay\*\*2 at the last cycle",
        ),
    ),
    *rules(
        lrs.piecewise_constant,
        {},
        ({"boundaries": [5], "values": [1.0]}, "values needs len\\(boundaries\\) \\+ 1 = 2 entries, got 1"),
        ({"boundaries": [5, 5], "values": [1.0, 0.5, 0.1]}, "boundaries must be strictly increasing"),
        ({"boundaries": [5], "values": [1.0, -0.5]}, r"values\[1\] must be a finite learning rate"),
    ),
    *rules(
        lrs.piecewise_linear,
        {},
        ({"knots": [0, 10], "values": [1.0]}, "values needs one entry per knot"),
        ({"knots": [10, 0], "values": [1.0, 0.0]}, "knots must be strictly increasing"),
        ({"knots": [], "values": []}, "knots must not be empty"),
    ),
    *rules(
        lrs.lr_range,
        {},
        ({"start_lr": 1.0, "end_lr": 1e-3}, "end_lr must be > start_lr"),
        ({"start_lr": 0.0}, "start_lr must be finite and > 0"),
        ({"start_lr": 1e-31}, r"start_lr must be finite and > 0 \(in \[1e-30, 1e\+30\]\)"),
        ({"start_lr": 1e-20, "end_lr": 1e20}, r"end_lr / start_lr must be <= 1e\+30"),
        ({"num_steps": 1}, "num_steps must be a whole number of steps >= 2"),
        ({"mode": "log"}, "mode must be one of 'exp', 'linear'"),
    ),
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
    *rules(
        lrs.sequence,
        {},
        ({"schedules": [C, C], "boundaries": []}, "needs len\\(boundaries\\) \\+ 1 = 1 schedules, got 2"),
        ({"schedules": [C, C], "boundaries": [-1]}, r"boundaries\[0\] must be in \[0"),
        (
            {"schedules": [C, lambda t: t], "boundaries": [5]},
            r"schedules\[1\] must be an lrsched schedule",
            TypeError,
        ),
        ({"schedules": [], "boundaries": []}, "schedules needs at least 1 schedule"),
    ),
    (lrs.product, {"schedules": []}, ValueError, "schedules needs at least 1"),
    *rules(
        lrs.warmup,
        {},
        ({"schedule": 0.1, "warmup_steps": 10}, "schedule must be an lrsched schedule", TypeError),
        ({"schedule": C, "warmup_steps": 0}, "warmup_steps must be a whole number of steps >= 1"),
        ({"schedule": C, "warmup_steps": 5, "shape": "exp"}, "shape must be one of 'linear', 'cosine'"),
    ),
    (lrs.scale, {"schedule": C, "factor": -2.0}, ValueError, "factor must be a finite learning rate >= 0"),
    (
        lrs.per_epoch,
        {"schedule": C, "steps_per_epoch": 0},
        ValueError,
        "steps_per_epoch must be a whole number",
    ),
    (lrs.shift, {"schedule": C, "steps": -1}, ValueError, r"steps must be in \[0"),
    *rules(
        lrs.cosine,
        {"init_lr": 0.1},
        ({"total_steps": 1e-100}, LENGTH.format("total_steps")),
        ({"total_steps": 5e-324}, LENGTH.format("total_steps")),
        ({"total_steps": 1e300}, LENGTH.format("total_steps")),
    ),
    *rules(
        lrs.step_decay,
        {"base_lr": 0.1},
        ({"step_size": 1e-100, "gamma": 0.5}, LENGTH.format("step_size")),
        ({"step_size": 10, "gamma": 1e300}, r"gamma must be in \(0, 1\] \(a factor > 1 grows the lr"),
    ),
    *rules(
        lrs.multistep,
        {"milestones": [10, 20]},
        (
            {"base_lr": 0.1, "gamma": 1e300},
            r"gamma=1e\+300 > 1 makes base_lr \* gamma\*\*len\(milestones\) \(gamma\*\*2\) exceed 1e\+30",
        ),
        ({"base_lr": 1e20, "gamma": 1e6}, r"gamma=1000000.0 > 1 makes base_lr \* gamma\*\*len\(milestones\)"),
    ),
    *rules(
        lrs.exponential,
        {"base_lr": 0.1},
        ({"gamma": 1.01}, r"gamma must be in \(0, 1\] \(a factor > 1"),
        ({"gamma": 0.9, "every": 1e-9}, LENGTH.format("every")),
    ),
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
    *rules(
        lrs.warm_restarts,
        {"base_lr": 1.0},
        ({"first_period": 5, "period_mult": 1e300}, r"period_mult must be in \[1, 2\*\*53\]"),
        ({"first_period": 1e-10}, LENGTH.format("first_period")),
    ),
    *rules(
        lrs.one_cycle,
        {"max_lr": 1.0, "total_steps": 100},
        (
            {"div_factor": 1e-40},
            r"div_factor makes the initial lr max_lr / div_factor = 1e\+40, more than 1e\+30",
        ),
        ({"final_div_factor": 1e-40}, r"final_div_factor makes the final lr"),
    ),
    (
        lrs.article_one_cycle,
        {"max_lr": 1.0, "total_steps": 100, "div_factor": 1e-40},
        ValueError,
        r"div_factor makes the start lr",
    ),
    *rules(
        lrs.cyclic,
        {"base_lr": 0.1, "max_lr": 1.0},
        ({"step_size_up": 1e-9}, LENGTH.format("step_size_up")),
        ({"mode": "exp_range", "gamma": 1.0001}, r"gamma must be in \(0, 1\]"),
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


MIN, MAX_STEPS, MAX_LR = lrs.validate.MIN_DURATION, lrs.validate.MAX_STEPS, lrs.validate.MAX_LR


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


def test_new_shape_and_growth_fields_round_trip_and_old_configs_load():
    """The fields added for timm's WSD shapes and for growth keep configs exact both ways: a
    schedule with them round-trips, and a config written before them (no such keys) still loads
    as the schedule it was."""
    for s in (
        lrs.warmup_stable_decay(0.1, 100, 10, 30, decay="exp", decay_ratio=0.01, stable="rsqrt"),
        lrs.warmup_stable_decay(
            0.1,
            100,
            0,
            30,
            decay="power",
            decay_power=2.0,
            stable="power",
            stable_timescale=2.5,
            stable_power=1.5,
            min_lr=1e-4,
        ),
        lrs.decay_cycles(0.1, 10, period_mult=2, peak_decay=1.5),
        lrs.step_decay(0.1, 2**53, 1.05),
    ):
        assert lrs.from_config(s.to_config()) == s
    r = lrs.warmup_stable_decay(0.1, 100, 10, 30, stable="rsqrt")
    assert r.stable_timescale == 10  # defaults to warmup_steps, kept in the config
    old = {
        "name": "warmup_stable_decay",
        "peak_lr": 1.0,
        "total_steps": 8,
        "warmup_steps": 2,
        "decay_steps": 4,
        "decay": "1-sqrt",
        "min_lr": 0.0,
        "init_lr": 0.0,
    }
    assert lrs.from_config(old) == lrs.warmup_stable_decay(1.0, 8, 2, 4, decay="1-sqrt")
