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


#: Below this the float32 contract is not measured: XLA flushes subnormal intermediates to
#: zero, so a result within a few ulps of the smallest normal float32 (1.2e-38) can flush.
F32_FLOOR = 1e-30


def f32_ulps(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|got - ref| in units of the float32 spacing at ``ref``; NaN where ``|ref|`` is below
    :data:`F32_FLOOR` (zero, subnormal or next to it), which the contract excludes."""
    ref = np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    r32 = np.abs(ref).astype(np.float32)
    spacing = np.spacing(r32).astype(np.float64)
    out = np.abs(got - ref) / spacing
    return np.where(r32 >= F32_FLOOR, out, np.nan)


_E2E = Path(__file__).parent / "end_to_end"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _E2E in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
