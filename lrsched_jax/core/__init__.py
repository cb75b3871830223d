"""lrsched's framework-neutral core: schedules, combinators, configs, the plateau machine and
the LR finder's math. It imports neither JAX nor torch.

Everything here is NumPy on the host and traces under JAX when it is handed JAX values
(each schedule computes with the array namespace of its step). ``lrsched_torch`` and the JAX
glue in ``lrsched_jax`` are built on the public names of this package only.

One spelling per schedule: each snake_case factory (``cosine``, ``one_cycle``, ``sequence``,
``reduce_on_plateau``, ...) *is* its class, so ``isinstance(s, cosine)`` works and there is no
second, CamelCase name here; the classes stay importable from
:mod:`lrsched_jax.core.families`, :mod:`lrsched_jax.core.combinators` and
:mod:`lrsched_jax.core.plateau` for subclassing.

Schedules of your own: subclass :class:`Schedule`, declare the hyperparameters with
:func:`arg` and the checks of :mod:`validate`, compute in ``_eval(ctx, t)`` with the
namespace of the :class:`Ctx`, and decorate with :func:`register` (its docstring has the
example). Schedules nest at most :data:`MAX_DEPTH` levels deep.
"""

from __future__ import annotations

from lrsched_jax.core import validate
from lrsched_jax.core._math import Ctx
from lrsched_jax.core.combinators import Join, PerEpoch, Product, Scale, Shift, Warmup
from lrsched_jax.core.config import from_spec, parse_short_spec
from lrsched_jax.core.families import (
    ArticleOneCycle,
    ArticleWarmupCosine,
    Constant,
    Cosine,
    Cyclic,
    DecayCycles,
    Exponential,
    InverseSqrt,
    InverseTime,
    Linear,
    LrRange,
    MultiStep,
    OneCycle,
    PiecewiseConstant,
    PiecewiseLinear,
    Polynomial,
    PolynomialCycle,
    StepDecay,
    WarmRestarts,
    WarmupCosine,
    WarmupStableDecay,
    article_decay,
)
from lrsched_jax.core.hf import from_hf, from_hf_lambda
from lrsched_jax.core.keras import from_keras
from lrsched_jax.core.plateau import PlateauState, reduce_on_plateau
from lrsched_jax.core.schedule import MAX_DEPTH, Schedule, from_config, register, registered_names
from lrsched_jax.core.validate import arg

# One spelling per schedule: the snake_case factory is the class itself
# (``lrs.cosine(...)`` is a ``Cosine``, ``isinstance(s, lrs.cosine)`` works).
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
inverse_time = InverseTime
polynomial_cycle = PolynomialCycle
decay_cycles = DecayCycles
warmup_stable_decay = WarmupStableDecay
piecewise_constant = PiecewiseConstant
piecewise_linear = PiecewiseLinear
lr_range = LrRange
article_warmup_cosine = ArticleWarmupCosine
article_one_cycle = ArticleOneCycle
sequence = Join
product = Product
warmup = Warmup
scale = Scale
per_epoch = PerEpoch
shift = Shift

__all__ = [
    "Schedule",
    "register",
    "Ctx",
    "arg",
    "validate",
    "MAX_DEPTH",
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
    "inverse_time",
    "polynomial_cycle",
    "decay_cycles",
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
    "from_hf",
    "from_hf_lambda",
    "from_keras",
    "PlateauState",
]


def __dir__() -> list[str]:
    return sorted(__all__)
