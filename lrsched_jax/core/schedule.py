"""The :class:`Schedule` base class, the registry of schedule kinds and the config format.

:func:`register` is the extension point: a :class:`Schedule` subclass with an ``_eval(ctx,
t)`` method, decorated with ``@register("name")``, is a schedule like the built-in ones (under
``jax.jit``, on NumPy, in ``lrsched_torch.ScheduleLR``, in configs and the CLI).
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import math
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import numpy as np
from typing_extensions import dataclass_transform

from lrsched_jax.core import _math, validate
from lrsched_jax.core._math import Ctx
from lrsched_jax.core.validate import here

__all__ = [
    "Schedule",
    "register",
    "from_config",
    "registered_names",
    "factory_names",
    "schedule_class",
    "MAX_CHANGE_POINTS",
    "MAX_DEPTH",
]

#: How many change points one call may list before it asks for a smaller ``until``.
MAX_CHANGE_POINTS = 1_000_000

#: The deepest nesting of schedules in schedules (combinators, nested configs) accepted:
#: far beyond any real recipe, and shallow enough that evaluation, ``to_config`` and pickle
#: stay far from Python's recursion limit.
MAX_DEPTH = validate.MAX_DEPTH

_REGISTRY: dict[str, type[Schedule]] = {}

#: Host (NumPy) evaluations longer than this run in pieces of this many steps.
_CHUNK = 1 << 16

S = TypeVar("S", bound="type[Schedule]")


class Schedule(validate.Checked, abc.ABC):
    """A learning-rate schedule: a pure, immutable function ``step -> lr``.

    Call it with a step (Python number, NumPy array, JAX array or tracer); it computes
    with the array namespace of the step and never branches on its value, so it traces
    under ``jax.jit``, ``jax.vmap`` and ``jax.lax.scan`` and passes as ``learning_rate=``
    to any Optax optimizer. NumPy (and Python-number) steps evaluate in float64 on the
    host; JAX steps in float32 (float64 under x64). Negative steps count as step 0.

    Every schedule is a frozen dataclass: hashable, picklable, comparable with ``==``,
    and round-trips through :meth:`to_config` / :func:`from_config`. Its hyperparameters
    are checked at construction (each field declares its check with
    :func:`~lrsched_jax.core.validate.arg`; see :mod:`lrsched_jax.core.validate` for the
    ranges), so whatever constructs evaluates finitely at every step.

    One spelling per schedule: the snake_case factory *is* the class — ``lrs.cosine is
    lrsched_jax.core.families.Cosine`` — so ``isinstance(s, lrs.cosine)`` works and the
    ``repr`` is the factory call, ``cosine(init_lr=1.0, total_steps=4)`` (the arguments
    that differ from their defaults), which ``eval`` rebuilds in the namespace of ``import
    lrsched_jax as lrs``. The classes stay importable from :mod:`lrsched_jax.core.families`
    and :mod:`lrsched_jax.core.combinators` for subclassing; a new kind is a subclass
    registered with :func:`register`.
    """

    def __call__(self, step: Any) -> Any:
        ctx, t, scalar, over = _math.prepare(step)
        if over is not None:
            # uint32 steps >= 2**31 in JAX without x64 (no int64 to widen to): those lanes
            # hold step - 2**31 and take the schedule shifted by 2**31.
            high = _math.eval_shifted(self, ctx, t, 2**31)
            return _math.finish(ctx, ctx.xp.where(over, high, self._eval(ctx, t)), scalar)
        if ctx.xp is np and t.size > _CHUNK:
            # Long host curves in cache-sized pieces: every elementwise temporary stays in
            # cache instead of streaming through memory (docs/benchmarks.md, whole curves).
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

    # The two hooks below are what ``shift`` (and ``per_epoch``, ``sequence``, ... through
    # it) rely on to stay exact where ``t + steps`` passes the step's integer range (int32 in
    # JAX without x64): :func:`~lrsched_jax.core._math.eval_shifted` reduces the step by the
    # period, or clamps it where the value stops changing. ``None`` (the default) claims
    # neither: the shifted step is then rounded to float past the range.

    def _periodic(self) -> tuple[int, int] | None:
        """``(a, P)``, whole numbers, when ``lr(t + P) == lr(t)`` for every ``t >= a``."""
        return None

    def _flat_from(self) -> float | None:
        """A step ``F`` with ``lr(t) == lr(F)`` for every ``t >= F``."""
        return None

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

    def upper_bound(self) -> float:
        """A float64 bound that no value of the schedule exceeds (not necessarily reached).

        By default the largest learning-rate argument (the fields checked with
        :func:`~lrsched_jax.core.validate.lr` or :func:`~lrsched_jax.core.validate.lr_list`),
        or ``inf`` (unknown) when there is none. A schedule whose values can exceed its
        lr arguments overrides it. ``scale`` and ``product`` refuse, at construction,
        results whose bound exceeds :data:`~lrsched_jax.core.validate.MAX_LR`.
        """
        bound = -math.inf
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            check = f.metadata.get("check")
            value = getattr(self, f.name)
            if check is validate.lr and value is not None:
                bound = max(bound, float(value))
            elif check is validate.lr_list and value:
                bound = max(bound, *map(float, value))
        return math.inf if bound == -math.inf else bound

    @functools.cached_property
    def _depth(self) -> int:
        """How deeply schedules nest in this one: 1 for a family, 1 + the deepest inner
        schedule for a combinator (at most :data:`MAX_DEPTH`)."""
        inner = 0
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            for v in value if isinstance(value, tuple) else (value,):
                if isinstance(v, Schedule):
                    inner = max(inner, v._depth)
        return 1 + inner

    def _validate(self) -> None:
        super()._validate()
        if self._depth > MAX_DEPTH:
            raise ValueError(
                f"{here()}: schedules nest {self._depth} levels deep here; at most {MAX_DEPTH} are supported"
            )
        bound = self.upper_bound()
        if math.isfinite(bound) and bound > validate.MAX_LR:
            raise ValueError(f"{here()}: {self._over_bound(bound)}")

    def _over_bound(self, bound: float) -> str:
        """Why a bound above :data:`~lrsched_jax.core.validate.MAX_LR` is refused (a
        combinator names the arguments that multiply up to it)."""
        return (
            f"its values can reach {bound:g}, more than the largest learning rate "
            f"accepted ({validate.MAX_LR:g}); lower its arguments"
        )


@dataclass_transform(frozen_default=True, field_specifiers=(validate.arg, dataclasses.field))
def register(name: str) -> Callable[[S], S]:
    """Make a :class:`Schedule` subclass a frozen, checked dataclass registered under
    ``name``: the extension point for schedules of your own.

    The class declares its hyperparameters as fields — checked at construction when
    declared with :func:`~lrsched_jax.core.validate.arg` (cross-field rules go in a
    ``_check(self)`` method, whose messages start with ``validate.here()``, the schedule's
    name) — and computes the lr in ``_eval(ctx, t)``: ``t`` is an
    array of steps ``>= 0`` (integer or float) and ``ctx`` a :class:`~lrsched_jax.core.Ctx`
    whose ``xp`` is the array namespace to compute with (``jax.numpy`` when traced, NumPy
    on the host) and whose ``to_float(x)`` casts to the evaluation's float dtype. Write it
    without Python branches on the step's value, and it works everywhere a built-in
    schedule does: under ``jax.jit`` and in Optax, on NumPy, in
    ``lrsched_torch.ScheduleLR``, in :meth:`~Schedule.to_config` / :func:`from_config`
    and :func:`~lrsched_jax.core.from_spec` (``"name:key=value"``), and in the CLI
    (``lrtwin --import your_module plot name:...``). To pickle it (and to rebuild it from a
    config in another process) the class must live in an importable module. The
    ``repr`` is ``name(...)``: bind the class to ``name`` too (as the built-ins are) so that
    ``eval(repr(s))`` rebuilds it.

    What ``_eval`` must also respect, as the built-ins do:

    * integer steps may arrive as int32 (JAX without x64): a Python int constant combined with
      ``t`` that may not fit int32 goes through ``ctx.const(v)`` (a float where it would not
      fit), and a product or sum of ``t`` that may pass ``2**31 - 1`` is formed in float
      (``ctx.to_float(t)``), so nothing wraps around;
    * float32 evaluation within 8 ulps of float64: avoid cancellations such as
      ``1 + cos(x)`` near ``x = pi`` (:mod:`lrsched_jax.core._math` has the exact helpers the
      built-ins use);
    * optionally, the hooks :meth:`Schedule._periodic` / :meth:`Schedule._flat_from`:
      declaring the period, or the step from which the value is constant, keeps ``shift``
      exact past the int32 range; :meth:`Schedule._points` lists change points and
      :meth:`Schedule.upper_bound` bounds the values (defaults: none / the largest lr field).

    ``name`` must be a Python identifier not registered yet (re-registering the same
    class, e.g. when its module is reloaded, replaces it).

    >>> import numpy as np
    >>> import lrsched_jax as lrs
    >>> from lrsched_jax.core import Ctx, arg, validate
    >>> @lrs.register("halving")
    ... class Halving(lrs.Schedule):
    ...     \"\"\"``base_lr * 0.5 ** (t / half_life)``.\"\"\"
    ...
    ...     base_lr: float = arg(validate.lr)
    ...     half_life: float = arg(validate.duration, default=100)
    ...
    ...     def _eval(self, ctx: Ctx, t):
    ...         return self.base_lr * ctx.xp.exp2(-ctx.to_float(t) / self.half_life)
    >>> s = lrs.from_spec("halving:base_lr=0.1,half_life=10")
    >>> s
    halving(base_lr=0.1, half_life=10)
    >>> s(np.array([0, 10, 20])).tolist()
    [0.1, 0.05, 0.025]
    >>> lrs.from_config(s.to_config()) == s
    True
    >>> Halving(base_lr=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: halving: base_lr must be a finite learning rate >= 0 (and <= 1e+30), got -1.0
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"register: name must be a Python identifier (as configs spell it), got {name!r}")

    def deco(cls: S) -> S:
        if not (isinstance(cls, type) and issubclass(cls, Schedule)):
            raise TypeError(f"register({name!r}): {cls!r} is not a subclass of lrsched_jax.Schedule")
        old = _REGISTRY.get(name)
        if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(
                f"register({name!r}): the name is already registered for "
                f"{old.__module__}.{old.__qualname__}; pick another name"
            )
        cls.config_name = name
        dc = validate.checked(cls)
        if getattr(dc, "__abstractmethods__", None):
            missing = ", ".join(sorted(dc.__abstractmethods__))
            raise TypeError(f"register({name!r}): {cls.__qualname__} does not define {missing}")
        _REGISTRY[name] = dc
        return dc  # type: ignore[return-value]  # the same class, made a dataclass

    return deco


def factory_names(module: str) -> list[str]:
    """The names registered by the classes of ``module``, in registration order: its
    snake_case factories, and so its ``__all__`` (``lrsched_jax.core``'s docstring).

    Each class must be bound to its registered name in its module (``cosine = Cosine``, the
    line that gives the factory its static type); a missing binding is an error at import.
    """
    names = [name for name, cls in _REGISTRY.items() if cls.__module__ == module]
    namespace = sys.modules[module].__dict__
    for name in names:
        if namespace.get(name) is not _REGISTRY[name]:
            raise TypeError(
                f"{module}: bind the class registered as {name!r} to its factory name "
                f"({name} = {_REGISTRY[name].__qualname__}) after its definition"
            )
    return names


def registered_names() -> tuple[str, ...]:
    """Every schedule kind :func:`from_config` knows (built-in and registered), sorted."""
    return tuple(sorted(_REGISTRY))


def schedule_class(name: str) -> type[Schedule]:
    """The class registered under ``name`` (``ValueError`` listing the valid names)."""
    if not isinstance(name, str):
        raise TypeError(
            f"a schedule config's 'name' must be a string, got {name!r} ({type(name).__name__}); "
            f"valid names: {', '.join(registered_names())}"
        )
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown schedule name {name!r}; {_name_hint(name)}") from None


#: Where a spec names a family by its torch, Optax, Hugging Face or Keras name: the lrtwin
#: family that draws that curve (its importer converts the source object itself exactly).
FOREIGN_NAMES = {
    "StepLR": "step_decay",
    "MultiStepLR": "multistep",
    "ExponentialLR": "exponential",
    "LinearLR": "linear",
    "PolynomialLR": "polynomial",
    "CosineAnnealingLR": "cosine",
    "CosineAnnealingWarmRestarts": "warm_restarts",
    "OneCycleLR": "one_cycle",
    "CyclicLR": "cyclic",
    "SequentialLR": "sequence",
    "ChainedScheduler": "product",
    "constant_schedule": "constant",
    "linear_schedule": "linear",
    "polynomial_schedule": "polynomial",
    "exponential_decay": "exponential",
    "cosine_decay_schedule": "cosine",
    "warmup_cosine_decay_schedule": "warmup_cosine",
    "piecewise_constant_schedule": "piecewise_constant",
    "piecewise_interpolate_schedule": "piecewise_linear",
    "linear_onecycle_schedule": "one_cycle",
    "cosine_onecycle_schedule": "one_cycle",
    "sgdr_schedule": "warm_restarts",
    "join_schedules": "sequence",
    "get_constant_schedule": "constant",
    "get_linear_schedule_with_warmup": "warmup",
    "get_cosine_schedule_with_warmup": "warmup_cosine",
    "get_cosine_with_hard_restarts_schedule_with_warmup": "warm_restarts",
    "get_polynomial_decay_schedule_with_warmup": "polynomial",
    "get_inverse_sqrt_schedule": "inverse_sqrt",
    "get_wsd_schedule": "warmup_stable_decay",
    "CosineDecay": "cosine",
    "CosineDecayRestarts": "warm_restarts",
    "ExponentialDecay": "exponential",
    "InverseTimeDecay": "inverse_time",
    "PiecewiseConstantDecay": "piecewise_constant",
    "PolynomialDecay": "polynomial",
}

_IMPORTERS = {
    "torch": "lrsched_torch.from_torch(scheduler)",
    "Optax": "lrsched_jax.optax_schedules",
    "Hugging Face": "lrs.from_hf(name, ...)",
    "Keras": "lrs.from_keras(keras.optimizers.schedules.serialize(s))",
}


def _source(foreign: str) -> str:
    if foreign.endswith("LR") or foreign == "ChainedScheduler":
        return "torch"
    if foreign.startswith("get_"):
        return "Hugging Face"
    return "Optax" if foreign[0].islower() else "Keras"


def _name_hint(name: str) -> str:
    """What to write instead of an unknown schedule name: the lrtwin family (and its fields)
    where it is another library's name, the closest registered names otherwise."""
    import difflib

    family = FOREIGN_NAMES.get(name)
    if family is not None and family in _REGISTRY:
        lib = _source(name)
        fields = ", ".join(f.name for f in dataclasses.fields(_REGISTRY[family]) if f.init)  # type: ignore[arg-type]
        return (
            f"that is {lib}'s name: lrtwin's family is {family}({fields}); to convert {lib}'s "
            f"own object use {_IMPORTERS[lib]} (docs/porting.md)"
        )
    close = difflib.get_close_matches(name, registered_names(), n=3, cutoff=0.6)
    if not close:
        lowered = {n.lower().replace("_", ""): n for n in registered_names()}
        close = difflib.get_close_matches(name.lower().replace("_", ""), list(lowered), n=3, cutoff=0.6)
        close = [lowered[c] for c in close]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return f"{hint}valid names: {', '.join(registered_names())}"


def from_config(config: Mapping[str, Any]) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_config` output (nested configs included).

    Raises ``ValueError`` for an unknown name (listing the valid names), unknown or
    missing fields (listing the valid fields), invalid values and configs nested more
    than :data:`MAX_DEPTH` levels deep; ``TypeError`` for a config that is not a mapping, a
    ``name`` that is not a string and keys that are not strings.
    """
    return _from_config(config, 1)


def _from_config(config: Any, depth: int) -> Schedule:
    if isinstance(config, Schedule):
        return config
    if not isinstance(config, Mapping):
        raise TypeError(f"a schedule config must be a mapping, got {type(config).__name__}")
    if depth > MAX_DEPTH:
        raise ValueError(
            f"schedule configs nest more than {MAX_DEPTH} levels deep; at most {MAX_DEPTH} are supported"
        )
    if "name" not in config:
        raise ValueError(
            "a schedule config needs a 'name' field; valid names: " + ", ".join(registered_names())
        )
    cls = schedule_class(config["name"])
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    def convert(key: str, path: str, v: Any) -> Any:
        if isinstance(v, Mapping):
            if "name" in v:
                return _from_config(v, depth + 1)
            if "Schedule" in types[key]:
                raise ValueError(
                    f"{cls.config_name}: {path} is a schedule config without a 'name' field; valid "
                    f"names: {', '.join(registered_names())}"
                )
            return v  # not a schedule config: the field's own check names it and its expected type
        if isinstance(v, (list, tuple)):
            return tuple(convert(key, f"{path}[{i}]", x) for i, x in enumerate(v))
        return v

    # Known fields are converted here, where their names are known (to name them in errors);
    # unknown ones pass unchanged for from_fields to list.
    fields = {k: convert(k, k, v) if k in types and k != "name" else v for k, v in config.items()}
    return validate.from_fields(cls, fields)


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
