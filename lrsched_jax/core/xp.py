"""The array namespace a computation runs in: the one place that decides it.

Python numbers and NumPy values compute in NumPy (float64 on the host); anything else with
``__array_namespace__`` (JAX arrays and tracers) in its own namespace. Nothing here imports
JAX at import, so the torch adapter, plots and the CLI never start a JAX backend; the two loop
helpers reach for ``jax.lax`` / ``.at[]`` only when handed JAX values (JAX is then already
imported). This is the only module of the core that names JAX at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["namespace", "is_numpy", "quiet", "fori_loop", "put"]


def namespace(x: Any) -> Any:
    """The array namespace of ``x``: NumPy for Python and NumPy values, else
    ``x.__array_namespace__()`` (``jax.numpy`` for JAX arrays and tracers)."""
    if isinstance(x, (np.ndarray, np.generic)) or not hasattr(x, "__array_namespace__"):
        return np
    return x.__array_namespace__()


def is_numpy(xp: Any) -> bool:
    """Whether ``xp`` is NumPy (host evaluation) rather than a traced namespace."""
    return xp is np


@contextlib.contextmanager
def quiet(xp: Any) -> Iterator[None]:
    """Silence NumPy's floating-point warnings for values a ``where`` discards or that are
    expected (``log(0)``, ``0/0`` in masked-out lanes, an overflowing threshold); XLA produces
    the same values without warning, so only NumPy needs it."""
    if xp is np:
        with np.errstate(all="ignore"):
            yield
    else:
        yield


def fori_loop(xp: Any, lower: Any, upper: Any, body: Callable[[Any, Any], Any], init: Any) -> Any:
    """``body(i, carry)`` for ``i`` in ``[lower, upper)``: a Python loop for NumPy, ``jax.lax.fori_loop``
    for ``jax.numpy`` (one traced body instead of ``upper - lower`` unrolled copies)."""
    if not is_numpy(xp):
        import jax  # only reached with JAX values, so JAX is already imported

        return jax.lax.fori_loop(lower, upper, body, init)
    carry = init
    for i in range(lower, upper):
        carry = body(i, carry)
    return carry


def put(xp: Any, arr: Any, i: Any, value: Any) -> Any:
    """``arr`` with element ``i`` set to ``value``: in place for NumPy (the callers own the
    buffer), ``arr.at[i].set(value)`` for JAX."""
    if not is_numpy(xp):
        return arr.at[i].set(value)
    arr[i] = value
    return arr
