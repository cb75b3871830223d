"""The float32 contract's measure: how many float32 ulps a value is from its float64 reference.

The contract (see :mod:`lrsched_jax.core._math`) is that float32 evaluation stays within a few
float32 ulps of the float64 value of the same schedule at every step. :func:`f32_ulps` is the
one measure the tests and the benchmarks use for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["F32_FLOOR", "f32_ulps"]

#: Below this the float32 contract is not measured: XLA flushes subnormal intermediates to
#: zero, so a result within a few ulps of the smallest normal float32 (1.2e-38) can flush.
F32_FLOOR = 1e-30


def f32_ulps(got: Any, ref: Any) -> np.ndarray:
    """``|got - ref|`` in units of the float32 spacing at ``ref`` (float64 arrays).

    NaN where ``|ref|`` is below :data:`F32_FLOOR` (zero, subnormal or next to it), which
    the contract excludes; ``inf`` where ``got`` is not finite but ``ref`` is measured.
    """
    ref = np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    r32 = np.abs(ref).astype(np.float32)
    spacing = np.spacing(r32).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.abs(got - ref) / spacing
    out = np.where(np.isfinite(got), out, np.inf)
    return np.where(r32 >= F32_FLOOR, out, np.nan)
