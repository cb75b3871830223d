"""The finder's arguments, checked once for both drivers, and the tables derived from them."""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

import numpy as np

from lrsched_jax.core import validate as V
from lrsched_jax.core.families import LrRange
from lrsched_jax.core.finder.sweep import RULES, ema_divisors
from lrsched_jax.core.validate import arg, here

__all__ = ["SweepConfig", "SweepOptions", "RunOptions", "MIN_WINDOW", "DEFAULTS", "sweep_signature"]

#: The suggestion rules need at least this many points between the skipped ends.
MIN_WINDOW = 3


@V.checked
class SweepConfig(V.Checked):
    """The finder's settings, checked once for both drivers (:func:`lrsched_jax.find_lr`,
    :func:`lrsched_jax.find_lr_pure`, :func:`lrsched_torch.find_lr`), which take exactly
    these arguments, with these defaults, meaning the same thing:

    ``start_lr=1e-7``, ``end_lr=10.0``
        The sweep's first and last lr: ``start_lr`` at step 0, ``end_lr`` reached at the
        last of the ``num_iter`` steps (:meth:`sweep`, an ``lr_range`` schedule). Finite,
        ``1e-30 <= start_lr < end_lr <= 1e30`` and
        ``end_lr / start_lr <= 1e30``.
    ``num_iter=100``
        Steps in the sweep (one batch each), whole, ``>= skip_start + skip_end + 3`` so that
        the suggestion rules see at least :data:`MIN_WINDOW` points.
    ``mode="exp"``
        ``"exp"`` (every decade gets the same number of steps: the article's sweep) or
        ``"linear"``.
    ``smooth=0.98``
        The EMA factor ``beta`` of the smoothed loss, in ``[0, 1)`` (fastai's
        bias-corrected EMA, so the first smoothed point is the first loss; ``0``: none).
    ``diverge_factor=4.0``
        Stop once the smoothed loss exceeds ``diverge_factor`` times its best (as the
        article and torch-lr-finder do), ``> 1``; a non-finite loss stops it at once.
    ``skip_start=10``, ``skip_end=5``
        Points left out at each end by the suggestion rules (and the plot), whole,
        ``>= 0``: the first are noise at a negligible lr, the last already diverge.
    ``suggestion="halfway"``
        The rule whose lr is the result's ``suggestion``: one of ``"halfway"`` (the lr where
        the smoothed loss has first made half of its descent; the default, chosen by the
        suggestion benchmark: least regret and spread over its tasks), ``"valley"``
        (fastai's: the middle of the longest decreasing stretch of the smoothed curve),
        ``"steepest"``, ``"minimum"`` (its lr / 10), ``"article"``
        (``argmin(np.gradient(raw)) / 10``) or ``"slide"`` (fastai's interval slide);
        every rule's value is in the result.

    Frozen and hashable (the JAX driver uses it as a static jit argument). Build it with
    :meth:`make` (or the constructor), which raises ``ValueError``/``TypeError`` naming the
    offending argument before anything is touched.
    """

    start_lr: float = arg(V.positive_lr, default=1e-7)
    end_lr: float = arg(V.positive_lr, default=10.0)
    num_iter: int = arg(V.steps, default=100, minimum=2)
    mode: str = arg(V.choice, default="exp", options=("exp", "linear"))
    smooth: float = arg(V.real, default=0.98, lo=0.0, hi=1.0, hi_open=True)
    diverge_factor: float = arg(V.real, default=4.0, lo=1.0, lo_open=True)
    skip_start: int = arg(V.steps, default=10, minimum=0)
    skip_end: int = arg(V.steps, default=5, minimum=0)
    suggestion: str = arg(V.choice, default="halfway", options=RULES)

    def _check(self) -> None:
        V.sweep_ends(self.start_lr, self.end_lr)
        need = self.skip_start + self.skip_end + MIN_WINDOW
        if self.num_iter < need:
            raise ValueError(
                f"{here()}: num_iter must be >= skip_start + skip_end + {MIN_WINDOW} = {need} for the "
                f"suggestion rules, got {self.num_iter!r} (raise num_iter or lower skip_start/skip_end)"
            )

    @classmethod
    def make(cls, **settings: Any) -> SweepConfig:
        """The checked settings; errors name the entry point running them
        (:func:`~lrsched_jax.core.validate.place`): ``"find_lr: <argument> must ..."``."""
        unknown = sorted(set(settings) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"{here()}() got an unexpected keyword argument {unknown[0]!r}")
        return cls(**settings)

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


#: The defaults shared by both drivers, read off :class:`SweepConfig`'s fields.
DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(SweepConfig)}


class SweepOptions(TypedDict, total=False):
    """The sweep's settings as keyword arguments (``**sweep``) of the drivers: the fields of
    :class:`SweepConfig`, which gives each one's meaning, range and default."""

    start_lr: float
    end_lr: float
    num_iter: int
    mode: str
    smooth: float
    diverge_factor: float
    skip_start: int
    skip_end: int
    suggestion: str


_F = TypeVar("_F", bound=Callable[..., Any])


def sweep_signature(fn: _F) -> _F:
    """Show ``fn``'s ``**sweep`` as the keyword arguments it stands for (:class:`SweepConfig`'s
    fields with their defaults), for ``help()``, ``inspect.signature`` and IDEs; the function
    itself is unchanged."""
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    hints = SweepOptions.__annotations__
    params += [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=DEFAULTS[name], annotation=hints[name]
        )
        for name in DEFAULTS
    ]
    fn.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    return fn


def _count(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{here()}: {name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{here()}: {name} must be >= 1, got {value!r}")
    return int(value)


@dataclasses.dataclass(frozen=True, eq=False)
class RunOptions:
    """The drivers' settings beside the sweep's, checked once (:meth:`make`) for both:
    ``progress`` (``True``/``False``), ``accumulation_steps`` (a whole number ``>= 1``, Python
    or NumPy) and ``val_data`` (``None`` or a re-iterable collection of batches)."""

    sweep: SweepConfig
    progress: bool = False
    accumulation_steps: int = 1
    val_data: Any = None

    @classmethod
    def make(
        cls,
        sweep: SweepOptions,
        progress: Any = False,
        accumulation_steps: Any = 1,
        val_data: Any = None,
    ) -> RunOptions:
        config = SweepConfig.make(**sweep)
        if not isinstance(progress, bool):
            raise TypeError(f"{here()}: progress must be True or False, got {progress!r}")
        acc = _count("accumulation_steps", accumulation_steps)
        if val_data is not None and (
            isinstance(val_data, (str, bytes, collections.abc.Iterator))
            or not isinstance(val_data, collections.abc.Iterable)
        ):
            raise TypeError(
                f"{here()}: val_data must be a re-iterable collection of batches (a list such as "
                f"[(x_val, y_val)], a data loader), got {type(val_data).__name__}"
            )
        return cls(config, progress, acc, val_data)
