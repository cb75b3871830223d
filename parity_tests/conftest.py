"""Shared test set-up: hypothesis profiles, the layer markers and float helpers.

The tests are organised by layer: ``core/`` (framework-neutral), ``jax_glue/``,
``torch_adapter/`` and ``end_to_end/`` (both frameworks, the CLI, the demo, the docs). Every
test under ``end_to_end/`` carries the ``e2e`` marker, so ``-m "not slow and not e2e"`` is the
quick local loop; the README's test command runs everything but the ``slow`` cases.

Profiles: ``default`` (the README's test command) keeps every property test to a modest
number of examples so the suite runs in minutes on 2 cores; ``thorough`` (``--hypothesis-profile
thorough``) runs many more.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings

# The float32 contract's one measure (its floor rule included), shared with the benchmarks;
# the tests import it from here.
from lrsched_jax.core.precision import F32_FLOOR, f32_ulps  # noqa: F401

# The default profile does not shrink: a failure is reported at once with the example that
# failed (shrinking a schedule over 10**6 steps can take minutes). ``thorough`` shrinks.
settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=bool(os.environ.get("CI")),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
settings.register_profile(
    "thorough",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


_E2E = Path(__file__).parent / "end_to_end"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _E2E in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


def diagonal(rows: list, cols: list) -> list:
    """The grid ``rows × cols`` as ``pytest.param`` cases (a row that is a tuple is unpacked):
    a diagonal that holds every row and every column at least once runs by default, the rest
    of the grid under ``-m slow``, so a regression matrix keeps its full reach without
    costing the default suite every cell."""
    n = max(len(rows), len(cols))
    kept = {(i % len(rows), i % len(cols)) for i in range(n)}
    cases = []
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            values = (*r, c) if isinstance(r, tuple) else (r, c)
            marks = () if (i, j) in kept else (pytest.mark.slow,)
            cases.append(pytest.param(*values, marks=marks))
    return cases


def shipped_tests(module) -> list:
    """Every ``unittest`` case of a peer library's shipped test module, flattened: the peer
    suites (``jax_glue/test_peer_suites_*.py``) run them one by one."""
    import unittest

    def flat(suite):
        for t in suite:
            yield from flat(t) if isinstance(t, unittest.TestSuite) else (t,)

    return list(flat(unittest.defaultTestLoader.loadTestsFromModule(module)))


def assert_never_fell(res) -> None:
    """A finder result whose loss never fell: completed, no suggestion by any rule, and one
    note that says so (both drivers build it with the same core code)."""
    assert res.stop_reason == "completed"
    assert res.suggestion is None and set(res.suggestions.values()) == {None}
    (note,) = res.notes
    assert note.startswith("the loss never fell")
    assert res.suggest("fixed") is None and '"suggestion": null' in res.to_json()


def tune_task() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The tuner tests' three-class toy task, ``(train, val)`` pairs of float32 inputs and int64
    labels (128 and 32 samples), the same in both frameworks."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 6)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return (x[:128], y[:128]), (x[128:], y[128:])


def tune_helpers(lib, *, model, optimizer, train, val, epochs, batch_size):
    """``(tune, final_metric)`` for a framework's tuner tests (``lib``: ``lrsched_jax`` or
    ``lrsched_torch``): ``tune(**kw)`` is ``lib.tune_lr`` on this task, ``final_metric(schedule,
    epochs)`` the arena's final metric of one member (seed 0) evaluated once per epoch."""
    base = dict(model=model, optimizer=optimizer, train=train, val=val, batch_size=batch_size)
    steps = len(train[0]) // batch_size

    def tune(**kw):
        return lib.tune_lr(**{**base, "epochs": epochs, **kw})

    def final_metric(schedule, n_epochs):
        res = lib.compare(
            model, optimizer, train, val, [schedule], [0], n_epochs, batch_size=batch_size, eval_every=steps
        )
        return res.members[0].final_val_metric

    return tune, final_metric


#: What both frameworks' ``tune_lr`` refuse before anything trains: ``(arguments, error, match)``.
TUNE_BAD_INPUT = [
    ({"lrs": []}, ValueError, "lrs is empty"),
    ({"lrs": [0.1, 0.2], "budget": 0.2}, ValueError, "below one rung"),
    ({"schedule": lambda p: 0.1}, TypeError, "must return an lrsched schedule"),
    ({"budget": -1}, ValueError, "budget"),
    ({"mode": "up"}, ValueError, "mode"),
    ({"seeds": []}, ValueError, "seeds"),
    ({"seeds": [1, 1]}, ValueError, "distinct"),
    ({"epochs": 0}, ValueError, "epochs"),
    ({"batch_size": 1000}, ValueError, "batch_size"),
    ({"metric": 0.5}, TypeError, "metric must be callable"),
]


def shared_tuner_tests(tune, one_rung: float):
    """The tuner tests both frameworks run alike, bound to a framework's ``tune`` (from
    :func:`tune_helpers`); ``one_rung``: a budget for which one rung of probes decides. A test
    module collects them by assigning the returned pair to its own ``test_*`` names."""

    def diverging_candidates_are_marked_not_fatal():
        res = tune(lrs=[0.1, 1e4], budget=one_rung)
        bad = next(t for t in res.trials if t.lr == 1e4)
        assert bad.diverged == 0 and bad.metrics[0] is None
        assert res.lr == 0.1 and "diverged" in res.table()
        allbad = tune(lrs=[1e4, 1e5], budget=one_rung)
        assert allbad.lr is None and "every candidate diverged" in allbad.notes[0]

    @pytest.mark.parametrize(("over", "error", "match"), TUNE_BAD_INPUT)
    def bad_input_is_refused_naming_the_argument(over, error, match):
        with pytest.raises(error, match=match):
            tune(**{"lrs": [0.1, 0.3], **over})

    return diverging_candidates_are_marked_not_fatal, bad_input_is_refused_naming_the_argument
