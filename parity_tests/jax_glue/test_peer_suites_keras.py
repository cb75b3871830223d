"""Keras' own schedule tests, run on ``from_keras``'s schedules.

Keras ships ``keras/src/optimizers/schedules/learning_rate_schedule_test.py`` inside its
package; it is imported from where pip put it (never copied here) and every one of its tests
is run, with the module's ``schedules`` (``keras.src.optimizers.schedules``) swapped for six
stand-ins. Each stand-in is a subclass of Keras' class that, when built, converts a genuine
Keras object with the same config — ``from_keras(serialize(KerasClass.from_config(cfg)))``
— and evaluates *that* schedule when called (on ``keras.ops.convert_to_tensor(step)``, so
in JAX float32 like an optimizer's step). Keras' expected values, written by Keras for its
own classes, so check our numbers; a config ``from_keras`` refuses fails at construction.

What each kind of Keras test checks with the stand-ins in:

* the value tests (``test_decay``, ``test_staircase``, ``test_mmul``, ...): our curve against
  Keras' expected numbers, at Python-int steps, Keras ``Variable`` steps (float and int64)
  and ``np.float64`` learning rates;
* ``test_fit_lr_correctness``: ``model.fit`` with ``Adam(learning_rate=<stand-in>)``, so our
  schedule is traced into Keras' jitted train step and the losses must match Keras' recorded
  ones;
* ``test_config``: Keras' serialisation round trip (``get_config``/``from_config`` and
  ``serialize``/``deserialize``) of the stand-in, which is Keras' own machinery — the
  stand-ins are registered (package ``lrsched_swap``) so Keras can revive them. What it
  checks of ours is the conversion of each config it builds (three per test, e.g.
  ``CosineDecayRestarts(t_mul=3.0, m_mul=4.0)``'s growing peaks); it evaluates nothing.

Every test must pass except those in :data:`REFUSALS` (Keras test id -> why ``from_keras``
refuses that config on purpose), each of which must fail with our refusal. At Keras 3.15.1:
35 tests, 35 pass, no refusals.
"""

from __future__ import annotations

import importlib
import os
import types
import unittest
from collections.abc import Iterator

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import pytest
from conftest import shipped_tests
from keras.src.saving import object_registration

from lrsched_jax import from_keras
from lrsched_jax.core.keras import KERAS_CLASSES

S = keras.optimizers.schedules
SHIPPED = importlib.import_module("keras.src.optimizers.schedules.learning_rate_schedule_test")

#: Keras test id -> the reason ``from_keras`` refuses its config (none at Keras 3.15.1).
REFUSALS: dict[str, str] = {}

#: How often the stand-ins converted a config and evaluated our schedule.
CALLS = {"convert": 0, "eval": 0}


def _short(test: unittest.TestCase) -> str:
    return test.id().removeprefix(SHIPPED.__name__ + ".")


TESTS = {_short(t): t for t in shipped_tests(SHIPPED)}


def stand_in(keras_cls: type) -> type:
    """A subclass of ``keras_cls`` that is ``from_keras`` of a genuine ``keras_cls``."""

    class Ours(keras_cls):  # type: ignore[misc,valid-type]
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            genuine = keras_cls.from_config(self.get_config())
            self._ours = from_keras(S.serialize(genuine))
            CALLS["convert"] += 1

        def __call__(self, step):
            CALLS["eval"] += 1
            return self._ours(keras.ops.convert_to_tensor(step))

    Ours.__name__ = Ours.__qualname__ = keras_cls.__name__
    return Ours


@pytest.fixture(scope="module")
def swapped() -> Iterator[None]:
    classes = {name: stand_in(getattr(S, name)) for name in KERAS_CLASSES}
    filtering = keras.config.is_traceback_filtering_enabled()
    try:
        for cls in classes.values():
            keras.saving.register_keras_serializable(package="lrsched_swap")(cls)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(SHIPPED, "schedules", types.SimpleNamespace(**classes))
            yield
    finally:
        for cls in classes.values():
            name = object_registration.GLOBAL_CUSTOM_NAMES.pop(cls, None)
            object_registration.GLOBAL_CUSTOM_OBJECTS.pop(name, None)
        if filtering:  # Keras' TestCase.setUp turns it off for the process
            keras.config.enable_traceback_filtering()


def test_the_shipped_suite_is_found():
    """The file is Keras' own, it uses the names swapped, and REFUSALS names real tests."""
    assert SHIPPED.__file__.startswith(os.path.dirname(keras.__file__))
    assert SHIPPED.schedules.ExponentialDecay is S.ExponentialDecay
    classes = {tid.split(".")[0] for tid in TESTS}
    assert {"ExponentialDecayTest", "CosineDecayRestartsTest", "TestFitLRSchedulesFlow"} <= classes
    assert len(TESTS) >= 30
    assert set(REFUSALS) <= set(TESTS)


# Keras' test_boundary_values asks for an int64 Variable, which JAX without x64 makes int32
@pytest.mark.filterwarnings("ignore:Explicitly requested dtype int64")
@pytest.mark.parametrize("tid", sorted(TESTS))
def test_keras_shipped_test_with_ours(tid, swapped):
    before = dict(CALLS)
    result = unittest.TestResult()
    TESTS[tid].run(result)
    problems = [text for _, text in result.errors + result.failures]
    assert not result.skipped, f"{tid} skipped: {result.skipped}"
    assert CALLS["convert"] > before["convert"], f"{tid} never built a stand-in"
    if not tid.endswith(".test_config"):
        assert CALLS["eval"] > before["eval"], f"{tid} never evaluated our schedule"
    if tid in REFUSALS:
        assert problems and "from_keras" in problems[0], f"{tid} should be refused: {REFUSALS[tid]}"
    else:
        assert result.wasSuccessful(), f"{tid} with from_keras's schedule:\n" + "\n".join(problems)
