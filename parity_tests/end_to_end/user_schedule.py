"""A schedule of a user's own, written as the ``register`` docstring says: imported by
``test_extension.py`` in a subprocess (a registration is global to its process) and by the
CLI through ``lrtwin --import user_schedule``."""

from __future__ import annotations

from typing import Any

import lrsched_jax as lrs
from lrsched_jax.core import Ctx, arg, validate


@lrs.register("user_halving")
class UserHalving(lrs.Schedule):
    """``max(base_lr * 0.5 ** (t / half_life), min_lr)``."""

    base_lr: float = arg(validate.lr)
    half_life: float = arg(validate.duration, default=100)
    min_lr: float = arg(validate.lr, default=0.0)

    def _check(self) -> None:
        if self.min_lr > self.base_lr:
            raise ValueError(
                f"{validate.here()}: min_lr must be <= base_lr ({self.base_lr!r}), got {self.min_lr!r}"
            )

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        xp = ctx.xp
        return xp.maximum(self.base_lr * xp.exp2(-ctx.to_float(t) / self.half_life), self.min_lr)


#: The documented spelling, as for the built-in kinds.
user_halving = UserHalving
