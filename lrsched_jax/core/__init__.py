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

Where the names come from (one list: the registry). A built-in family is one class in
:mod:`~lrsched_jax.core.families` (or :mod:`~lrsched_jax.core.combinators`), decorated with
``@register("name")`` and bound to that name on the line after it (``cosine = Cosine``: the
binding gives ``lrs.cosine`` its static type). Each of those modules builds its ``__all__``
from the registry (:func:`~lrsched_jax.core.schedule.factory_names`, which refuses a class
left unbound), this package star-imports them and builds its own ``__all__`` from theirs
plus the non-schedule names below. The computed ``__all__`` is hidden from type checkers
(``if not TYPE_CHECKING``): mypy reads only literal lists, and a computed one would make it
export nothing, where without one it follows the star imports to the typed bindings (and
also sees a few helper names that do not exist at run time: harmless for type checking).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrsched_jax.core import combinators, families, validate
from lrsched_jax.core._math import Ctx
from lrsched_jax.core.combinators import *  # noqa: F403  (the combinator factories, from the registry)
from lrsched_jax.core.config import from_spec, parse_short_spec
from lrsched_jax.core.families import *  # noqa: F403  (the family factories, from the registry)
from lrsched_jax.core.hf import from_hf, from_hf_lambda
from lrsched_jax.core.keras import from_keras
from lrsched_jax.core.plateau import PlateauState, reduce_on_plateau
from lrsched_jax.core.schedule import MAX_DEPTH, Schedule, from_config, register, registered_names
from lrsched_jax.core.validate import arg

if not TYPE_CHECKING:  # computed: see the docstring
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
        *families.__all__,
        *combinators.__all__,
        "reduce_on_plateau",
        "from_hf",
        "from_hf_lambda",
        "from_keras",
        "PlateauState",
    ]

    def __dir__() -> list[str]:
        return sorted(__all__)
