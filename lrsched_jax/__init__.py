"""lrsched: learning-rate schedules written once, identical in JAX/Optax and torch.

Every schedule is a pure ``step -> lr`` function (an ``optax.Schedule``) that computes with
the array namespace of its input: traced ``jax.numpy`` inside ``jit``, NumPy float64 on the
host (what the torch adapter uses). Importing this package does not import JAX; the
JAX-specific helpers (Optax glue, the finder's JAX driver, training helpers) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lrsched_jax.combinators import PerEpoch, Product, Scale, Sequence, Shift, Warmup
from lrsched_jax.families import (
    ArticleOneCycle,
    ArticleWarmupCosine,
    Constant,
    Cosine,
    Cyclic,
    Exponential,
    InverseSqrt,
    Linear,
    LrRange,
    MultiStep,
    OneCycle,
    PiecewiseConstant,
    PiecewiseLinear,
    Polynomial,
    StepDecay,
    WarmRestarts,
    WarmupCosine,
    WarmupStableDecay,
    article_decay,
)
from lrsched_jax.plateau import PlateauState, ReduceOnPlateau, reduce_on_plateau
from lrsched_jax.schedule import Schedule, from_config, registered_names

__version__ = "0.1.0"

# The snake_case factories are the classes themselves (``lrs.cosine(...)`` is a ``Cosine``).
constant = Constant
step_decay = StepDecay
multistep = MultiStep
exponential = Exponential
linear = Linear
polynomial = Polynomial
cosine = Cosine
warm_restarts = WarmRestarts
warmup_cosine = WarmupCosine
one_cycle = OneCycle
cyclic = Cyclic
inverse_sqrt = InverseSqrt
warmup_stable_decay = WarmupStableDecay
piecewise_constant = PiecewiseConstant
piecewise_linear = PiecewiseLinear
lr_range = LrRange
article_warmup_cosine = ArticleWarmupCosine
article_one_cycle = ArticleOneCycle
sequence = Sequence
product = Product
warmup = Warmup
scale = Scale
per_epoch = PerEpoch
shift = Shift

# name -> module for what needs JAX at import time; loaded on first attribute access.
_LAZY = {
    "applied_lr": "lrsched_jax.optax_glue",
    "scale_by_plateau": "lrsched_jax.plateau_optax",
    "report_plateau": "lrsched_jax.plateau_optax",
    "plateau_lr": "lrsched_jax.plateau_optax",
    "plateau_state": "lrsched_jax.plateau_optax",
    "find_lr": "lrsched_jax.finder.jax_driver",
    "find_lr_pure": "lrsched_jax.finder.jax_driver",
    "FinderResult": "lrsched_jax.finder",
}

if TYPE_CHECKING:
    from lrsched_jax.optax_glue import applied_lr as applied_lr
    from lrsched_jax.plateau_optax import plateau_lr as plateau_lr
    from lrsched_jax.plateau_optax import plateau_state as plateau_state
    from lrsched_jax.plateau_optax import report_plateau as report_plateau
    from lrsched_jax.plateau_optax import scale_by_plateau as scale_by_plateau


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'lrsched_jax' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


__all__ = [
    "Schedule",
    "from_config",
    "registered_names",
    "constant",
    "step_decay",
    "multistep",
    "exponential",
    "linear",
    "polynomial",
    "cosine",
    "warm_restarts",
    "warmup_cosine",
    "one_cycle",
    "cyclic",
    "inverse_sqrt",
    "warmup_stable_decay",
    "piecewise_constant",
    "piecewise_linear",
    "lr_range",
    "article_warmup_cosine",
    "article_one_cycle",
    "article_decay",
    "sequence",
    "product",
    "warmup",
    "scale",
    "per_epoch",
    "shift",
    "Constant",
    "StepDecay",
    "MultiStep",
    "Exponential",
    "Linear",
    "Polynomial",
    "Cosine",
    "WarmRestarts",
    "WarmupCosine",
    "OneCycle",
    "Cyclic",
    "InverseSqrt",
    "WarmupStableDecay",
    "PiecewiseConstant",
    "PiecewiseLinear",
    "LrRange",
    "ArticleWarmupCosine",
    "ArticleOneCycle",
    "Sequence",
    "Product",
    "Warmup",
    "Scale",
    "PerEpoch",
    "Shift",
    "reduce_on_plateau",
    "ReduceOnPlateau",
    "PlateauState",
    *_LAZY,
]
