"""Shared test set-up: hypothesis profiles and float helpers.

Profiles: ``default`` (the README's test command) keeps every property test to a modest
number of examples so the suite runs in minutes on 2 cores; ``thorough`` (``--hypothesis-profile
thorough``) runs many more.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=bool(os.environ.get("CI")),
)
settings.register_profile(
    "thorough",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def f32_ulps(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|got - ref| in units of the float32 spacing at ``ref``; NaN where ``ref`` is not a
    normal float32 (zero, subnormal), which the precision contract excludes."""
    ref = np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    r32 = np.abs(ref).astype(np.float32)
    spacing = np.spacing(r32).astype(np.float64)
    out = np.abs(got - ref) / spacing
    return np.where(r32 >= np.finfo(np.float32).tiny, out, np.nan)
