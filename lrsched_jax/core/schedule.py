"""The :class:`Schedule` base class, the registry of schedule kinds and the config format."""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np
from typing_extensions import dataclass_transform

from lrsched_jax.core import _math
from lrsched_jax.core._math import Ctx

__all__ = ["Schedule", "from_config", "registered_names", "MAX_CHANGE_POINTS"]

#: How many change points one call may list before it asks for a smaller ``until``.
MAX_CHANGE_POINTS = 1_000_000

_REGISTRY: dict[str, type[Schedule]] = {}

#: Host (NumPy) evaluations longer than this run in pieces of this many steps.
_CHUNK = 1 << 16

S = TypeVar("S", bound="type[Schedule]")


class Schedule(abc.ABC):
    """A learning-rate schedule: a pure, immutable function ``step -> lr``.

    Call it with a step (Python number, NumPy array, JAX array or tracer); it computes
    with the array namespace of the step and never branches on its value, so it traces
    under ``jax.jit``, ``jax.vmap`` and ``jax.lax.scan`` and passes as ``learning_rate=``
    to any Optax optimizer. NumPy (and Python-number) steps evaluate in float64 on the
    host; JAX steps in float32 (float64 under x64). Negative steps count as step 0.

    Every schedule is a frozen dataclass: hashable, picklable, comparable with ``==``,
    with a ``repr`` that shows its hyperparameters, and round-trips through
    :meth:`to_config` / :func:`from_config`.
    """

    #: The name of this kind in configs, the CLI and :func:`from_config`.
    config_name: ClassVar[str] = ""

    def __call__(self, step: Any) -> Any:
        ctx, t, scalar = _math.prepare(step)
        if ctx.xp is np and t.size > _CHUNK:
            # Long host curves in cache-sized pieces: every elementwise temporary stays in
            # cache instead of streaming through memory (about twice as fast for 10**6 steps).
            flat = t.reshape(-1)
            out = np.empty(flat.shape, dtype=ctx.dtype)
            for i in range(0, flat.size, _CHUNK):
                out[i : i + _CHUNK] = self._eval(ctx, flat[i : i + _CHUNK])
            return out.reshape(t.shape)
        return _math.finish(ctx, self._eval(ctx, t), scalar)

    @abc.abstractmethod
    def _eval(self, ctx: Ctx, t: Any) -> Any:
        """The learning rate at steps ``t >= 0`` (integer or float array) in ``ctx``."""

    def _points(self, until: float) -> Iterable[float]:
        """Change points, possibly unsorted and beyond ``until`` (filtered by the caller)."""
        return ()

    def change_points(self, until: float) -> tuple[int | float, ...]:
        """Steps in ``(0, until]`` where a phase begins or the lr jumps, sorted.

        A training loop can save a checkpoint just before each of them ("save before a
        major lr change"). Periodic schedules list every period up to ``until``.
        """
        if isinstance(until, bool) or not isinstance(until, (int, float, np.integer, np.floating)):
            raise TypeError(f"until must be a number of steps, got {until!r}")
        if not math.isfinite(float(until)) or until < 0:
            raise ValueError(f"until must be a finite number of steps >= 0, got {until!r}")
        pts = np.unique(np.asarray(list(self._points(float(until))), dtype=np.float64))
        pts = pts[(pts > 0) & (pts <= until)]
        return tuple(int(p) if p.is_integer() else p for p in pts.tolist())

    def curve(self, num_steps: int, start: int = 0) -> np.ndarray:
        """The float64 values at steps ``start, ..., start + num_steps - 1`` (NumPy, host)."""
        return np.asarray(self(np.arange(start, start + int(num_steps), dtype=np.int64)))

    def to_config(self) -> dict[str, Any]:
        """A plain JSON-able dict; :func:`from_config` rebuilds an equal schedule."""
        out: dict[str, Any] = {"name": self.config_name}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _jsonable(getattr(self, f.name))
        return out

    @property
    def _where(self) -> str:
        return self.config_name

    def _set(self, **values: Any) -> None:
        """Store normalised constructor arguments on the frozen instance."""
        for k, v in values.items():
            object.__setattr__(self, k, v)


@dataclass_transform(frozen_default=True)
def register(name: str) -> Callable[[S], S]:
    """Make ``cls`` a frozen dataclass registered under ``name`` (type checkers see the
    dataclass constructor, thanks to ``dataclass_transform``)."""

    def deco(cls: S) -> S:
        if name in _REGISTRY:
            raise RuntimeError(f"schedule name {name!r} registered twice")
        cls.config_name = name
        dc = dataclasses.dataclass(frozen=True)(cls)
        _REGISTRY[name] = dc
        return dc  # type: ignore[return-value]  # the same class, made a dataclass

    return deco


def registered_names() -> tuple[str, ...]:
    """Every schedule kind :func:`from_config` knows, sorted."""
    return tuple(sorted(_REGISTRY))


def schedule_class(name: str) -> type[Schedule]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown schedule name {name!r}; valid names: {', '.join(registered_names())}"
        ) from None


def field_names(cls: type[Schedule]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]


def _jsonable(v: Any) -> Any:
    if isinstance(v, Schedule):
        return v.to_config()
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    return v


def _from_jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return from_config(v)
    if isinstance(v, (list, tuple)):
        return tuple(_from_jsonable(x) for x in v)
    return v


def from_config(config: Mapping[str, Any]) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_config` output (nested configs included).

    Raises ``ValueError`` for an unknown name (listing the valid names), unknown or
    missing fields (listing the valid fields) and invalid values.
    """
    if isinstance(config, Schedule):
        return config
    if not isinstance(config, Mapping):
        raise TypeError(f"a schedule config must be a mapping, got {type(config).__name__}")
    if "name" not in config:
        raise ValueError(
            "a schedule config needs a 'name' field; valid names: " + ", ".join(registered_names())
        )
    cls = schedule_class(config["name"])
    valid = field_names(cls)
    given = {k: v for k, v in config.items() if k != "name"}
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ValueError(
            f"{cls.config_name}: unknown field(s) {', '.join(unknown)}; valid fields: {', '.join(valid)}"
        )
    required = [
        f.name
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [k for k in required if k not in given]
    if missing:
        raise ValueError(
            f"{cls.config_name}: missing field(s) {', '.join(missing)}; valid fields: {', '.join(valid)}"
        )
    return cls(**{k: _from_jsonable(v) for k, v in given.items()})


def multiples(period: float, until: float, offset: float = 0.0) -> list[float]:
    """``offset + k*period`` for ``k >= 0`` up to ``until`` (change points of periodic kinds)."""
    if until < offset:
        return []
    n = math.floor((until - offset) / period) + 1
    if n > MAX_CHANGE_POINTS:
        raise ValueError(
            f"more than {MAX_CHANGE_POINTS} change points up to step {until:g}; ask for a smaller until"
        )
    return (offset + period * np.arange(n, dtype=np.float64)).tolist()
