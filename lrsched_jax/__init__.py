"""lrsched: learning-rate schedules written once, identical in JAX/Optax and torch.

Every schedule is a pure ``step -> lr`` function (an ``optax.Schedule``) that computes with
the array namespace of its input: traced ``jax.numpy`` inside ``jit``, NumPy float64 on the
host (what the torch adapter uses). The framework-neutral part is :mod:`lrsched_jax.core`
(imports neither JAX nor torch); this package adds the JAX glue: Optax helpers, the plateau
transformation, the finder's JAX driver (:mod:`lrsched_jax.finder`), the training helpers
(:mod:`lrsched_jax.train`) and meshes (:mod:`lrsched_jax.parallel`).

``import lrsched_jax`` does not import JAX: the glue names load on first attribute access.
``from lrsched_jax import *`` binds every name in ``__all__``, the glue included, so it
imports JAX, Optax and Flax.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lrsched_jax.core import *  # noqa: F403  (the core's public names are this package's)
from lrsched_jax.core import __all__ as _core_all  # type: ignore[attr-defined]  # computed (core docstring)

__version__ = "0.1.0"

# name -> module for what needs JAX at import time; loaded on first attribute access.
_LAZY = {
    "applied_lr": "lrsched_jax.optax_glue",
    "scale_by_plateau": "lrsched_jax.plateau_optax",
    "report_plateau": "lrsched_jax.plateau_optax",
    "plateau_lr": "lrsched_jax.plateau_optax",
    "plateau_state": "lrsched_jax.plateau_optax",
    "find_lr": "lrsched_jax.finder.jax_driver",
    "find_lr_pure": "lrsched_jax.finder.jax_driver",
    "FinderResult": "lrsched_jax.core.finder",
    "compare": "lrsched_jax.arena",
    "tune_lr": "lrsched_jax.tune",
}

if TYPE_CHECKING:
    from lrsched_jax.arena import compare as compare
    from lrsched_jax.optax_glue import applied_lr as applied_lr
    from lrsched_jax.plateau_optax import plateau_lr as plateau_lr
    from lrsched_jax.plateau_optax import plateau_state as plateau_state
    from lrsched_jax.plateau_optax import report_plateau as report_plateau
    from lrsched_jax.plateau_optax import scale_by_plateau as scale_by_plateau
    from lrsched_jax.tune import tune_lr as tune_lr


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'lrsched_jax' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


__all__ = [*_core_all, *_LAZY]


def __dir__() -> list[str]:
    return sorted(__all__)
