"""Optax's own schedule tests, run on ``lrsched_jax.optax_schedules``.

Optax ships ``optax/schedules/_schedule_test.py``, ``_join_test.py`` and ``_inject_test.py``
inside its package; they are imported from where pip put them (never copied here) and every
one of their tests is run (as ``unittest`` cases, in this process) with Optax's schedule
functions swapped for ours: each name of ``optax_schedules.__all__`` in
``optax.schedules._schedule``, ``optax.schedules._join``, ``optax.schedules`` and ``optax``
(the names the test modules call: ``_schedule.exponential_decay``, ``_join.join_schedules``,
``schedules.piecewise_constant_schedule``). Optax's expected values, written for its own
functions, so check our numbers — jitted, vmapped, as an optimizer's ``learning_rate``
(``ScheduleAsLearningRateTest``), and inside ``inject_hyperparams``.

Every test must pass except those in :data:`REFUSALS` (test id -> why ours refuses that
schedule on purpose, and the words our refusal must fail it with). Optax's own
``skipTest`` (an optimizer whose ``learning_rate`` is not annotated as a schedule) is the one
skip accepted. At Optax 0.2.8: 102 tests, 88 pass, 8 skipped by Optax, 6 refusals.
``ScheduleAsLearningRateTest`` and ``_inject_test`` (optimizer runs, ~40 s on 2 cores) are marked
slow; the rest (~15 s) runs by default.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import re
import unittest
from collections.abc import Callable, Iterator
from typing import Any

import optax
import optax.schedules._join
import optax.schedules._schedule
import pytest
from conftest import shipped_tests

from lrsched_jax import optax_schedules as ours

SUITES = {
    name: importlib.import_module(f"optax.schedules.{name}")
    for name in ("_schedule_test", "_join_test", "_inject_test")
}
SLOW = ("_schedule_test.ScheduleAsLearningRateTest.", "_inject_test.")
OPTAX_OWN_SKIP = "Optimizer doesn't accept a learning schedule."

_NEGATIVE = "a learning rate cannot be negative"

#: Optax test id -> (why ours refuses it on purpose, words our ValueError must fail it with).
REFUSALS: dict[str, tuple[str, str]] = {
    "_schedule_test.PiecewiseConstantTest.test_negative": (
        "init_value=-0.1: every value negative",
        f"init_value must be >= 0, got -0.1 (the first value, each later one a multiple): {_NEGATIVE}",
    ),
    "_schedule_test.WarmupCosineDecayTest.test_with_exponent": (
        "end_value=-3.0: the cosine decays below 0",
        f"end_value must be >= 0, got -3.0 (the value the cosine decays to): {_NEGATIVE}",
    ),
}

#: How often one of our functions was called (a test that names one must call it).
CALLS = {"n": 0}


def _tests() -> dict[str, unittest.TestCase]:
    out = {}
    for name, module in SUITES.items():
        for t in shipped_tests(module):
            out[f"{name}.{type(t).__name__}.{t._testMethodName}"] = t
    return out


TESTS = _tests()
_NAMES = re.compile(r"\b(" + "|".join(ours.__all__) + r")\(")


def _calls_ours(test: unittest.TestCase) -> bool:
    """Whether the test's source calls one of the swapped names (parameterized ones unwrapped)."""
    return bool(_NAMES.search(inspect.getsource(getattr(type(test), test._testMethodName))))


def _counted(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        CALLS["n"] += 1
        return fn(*args, **kwargs)

    return call


TARGETS = (optax.schedules._schedule, optax.schedules._join, optax.schedules, optax)


@pytest.fixture(scope="module")
def swapped() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ours.__all__:
            for target in TARGETS:
                if hasattr(target, name):
                    mp.setattr(target, name, _counted(getattr(ours, name)))
        yield


def test_the_shipped_suites_are_found():
    """The files are Optax's own, every schedule function they can reach is swapped, and
    REFUSALS names real tests."""
    root = os.path.dirname(optax.__file__)
    assert all(m.__file__.startswith(root) for m in SUITES.values())
    public = {n for n, f in vars(optax.schedules._schedule).items() if inspect.isfunction(f) and n[0] != "_"}
    assert public <= set(ours.__all__), public - set(ours.__all__)
    assert {"ExponentialTest", "JoinTest", "InjectHyperparamsTest"} <= {t.split(".")[1] for t in TESTS}
    assert len(TESTS) >= 100
    assert set(REFUSALS) <= set(TESTS)


def _param(tid: str) -> Any:
    return pytest.param(tid, marks=pytest.mark.slow) if tid.startswith(SLOW) else tid


@pytest.mark.parametrize("tid", [_param(t) for t in sorted(TESTS)])
def test_optax_shipped_test_with_ours(tid, swapped):
    test = TESTS[tid]
    before = CALLS["n"]
    result = unittest.TestResult()
    test.run(result)
    problems = [text for _, text in result.errors + result.failures]
    assert all(why == OPTAX_OWN_SKIP for _, why in result.skipped), result.skipped
    if _calls_ours(test) and not result.skipped:
        assert CALLS["n"] > before, f"{tid} never called our functions"
    if tid in REFUSALS:
        why, words = REFUSALS[tid]
        assert problems and "ValueError" in problems[0] and words in problems[0], (
            f"{tid} should be refused ({why}):\n" + "\n".join(problems)
        )
    else:
        assert result.wasSuccessful(), f"{tid} with optax_schedules:\n" + "\n".join(problems)
