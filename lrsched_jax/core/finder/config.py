"""The finder's arguments, checked once for both drivers, and the tables derived from them."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from lrsched_jax.core import validate as V
from lrsched_jax.core.families import LrRange
from lrsched_jax.core.finder.sweep import RULES, ema_divisors

__all__ = ["SweepConfig", "MIN_WINDOW", "DEFAULTS"]

#: The suggestion rules need at least this many points between the skipped ends.
MIN_WINDOW = 3

#: The defaults shared by both drivers (the article's sweep, fastai's smoothing and rule).
DEFAULTS: dict[str, Any] = {
    "start_lr": 1e-7,
    "end_lr": 10.0,
    "num_iter": 100,
    "mode": "exp",
    "smooth": 0.98,
    "diverge_factor": 4.0,
    "skip_start": 10,
    "skip_end": 5,
    "suggestion": "valley",
}


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """Validated finder settings (hashable: the JAX driver uses it as a static jit argument).

    Build it with :meth:`make`, which raises ``ValueError``/``TypeError`` naming the
    offending argument before anything is touched.
    """

    start_lr: float
    end_lr: float
    num_iter: int
    mode: str
    smooth: float
    diverge_factor: float
    skip_start: int
    skip_end: int
    suggestion: str

    @classmethod
    def make(
        cls,
        where: str,
        *,
        start_lr: Any,
        end_lr: Any,
        num_iter: Any,
        mode: Any,
        smooth: Any,
        diverge_factor: Any,
        skip_start: Any,
        skip_end: Any,
        suggestion: Any,
    ) -> SweepConfig:
        start = V.positive(where, "start_lr", start_lr)
        end = V.positive(where, "end_lr", end_lr)
        if end <= start:
            raise ValueError(f"{where}: end_lr must be > start_lr ({start!r}), got {end_lr!r}")
        s0 = V.steps(where, "skip_start", skip_start, minimum=0)
        s1 = V.steps(where, "skip_end", skip_end, minimum=0)
        n = V.steps(where, "num_iter", num_iter, minimum=2)
        need = s0 + s1 + MIN_WINDOW
        if n < need:
            raise ValueError(
                f"{where}: num_iter must be >= skip_start + skip_end + {MIN_WINDOW} = {need} for the "
                f"suggestion rules, got {num_iter!r} (raise num_iter or lower skip_start/skip_end)"
            )
        return cls(
            start_lr=start,
            end_lr=end,
            num_iter=n,
            mode=V.choice(where, "mode", mode, ("exp", "linear")),
            smooth=V.real(where, "smooth", smooth, lo=0.0, hi=1.0, hi_open=True),
            diverge_factor=V.real(where, "diverge_factor", diverge_factor, lo=1.0, lo_open=True),
            skip_start=s0,
            skip_end=s1,
            suggestion=V.choice(where, "suggestion", suggestion, RULES),
        )

    def sweep(self) -> LrRange:
        """The sweep as a schedule: ``start_lr`` at step 0 to ``end_lr`` at step ``num_iter - 1``."""
        return LrRange(self.start_lr, self.end_lr, self.num_iter, self.mode)

    def lr_table(self) -> np.ndarray:
        """The float64 lr of every step (NumPy, host): what both drivers apply."""
        return self.sweep().curve(self.num_iter)

    def divisors(self) -> np.ndarray | None:
        """The float64 bias-correction divisors of every step (``None`` without smoothing)."""
        return ema_divisors(self.num_iter, self.smooth)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
