"""The LR finder for JAX: :func:`find_lr` (Flax NNX models or params pytrees, Optax) and
:func:`find_lr_pure` (any pure ``train_step``), on the framework-neutral sweep of
:mod:`lrsched_jax.core.finder` (whose public names are re-exported here).
"""

from __future__ import annotations

from lrsched_jax.core.finder import *  # noqa: F403
from lrsched_jax.core.finder import __all__ as _core_all
from lrsched_jax.finder.jax_driver import find_lr, find_lr_pure

__all__ = [*_core_all, "find_lr", "find_lr_pure"]
