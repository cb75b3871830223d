"""Shared test set-up: hypothesis profiles and float helpers.

Profiles: ``default`` (the README's test command) keeps every property test to a modest
number of examples so the suite runs in minutes on 2 cores; ``thorough`` (``--hypothesis-profile
thorough``) runs many more.
"""

from __future__ import annotations

import os

import numpy as np
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
