"""lrsched's framework-neutral core: schedules, combinators, configs, the plateau machine and
the LR finder's math. It imports neither JAX nor torch.

Everything here is NumPy on the host and traces under JAX when it is handed JAX values
(each schedule computes with the array namespace of its step). ``lrsched_torch`` and the JAX
glue in ``lrsched_jax`` are built on the public names of this package only.
"""

from __future__ import annotations

from lrsched_jax.core.combinators import PerEpoch, Product, Scale, Sequence, Shift, Warmup
from lrsched_jax.core.config import from_spec, parse_short_spec
from lrsched_jax.core.families import (
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
from lrsched_jax.core.plateau import PlateauState, ReduceOnPlateau, reduce_on_plateau
from lrsched_jax.core.schedule import Schedule, from_config, register, registered_names

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

__all__ = [
    "Schedule",
    "register",
    "from_config",
    "from_spec",
    "parse_short_spec",
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
    "reduce_on_plateau",
    "ReduceOnPlateau",
    "PlateauState",
]
