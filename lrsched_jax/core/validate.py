"""Hyperparameter checks, declared on the fields: one mechanism for schedules, the plateau
machine and the finder's settings.

A hyperparameter object is a frozen dataclass whose fields say how they are checked::

    @register("my_decay")
    class MyDecay(Schedule):
        base_lr: float = arg(lr)
        every: float = arg(duration, default=1)
        floor: float | None = arg(lr, default=None, optional=True)

        def _check(self) -> None:  # the rules that involve several fields
            ...

At construction each field's check runs as ``check(name, value, **params)``; it raises
``TypeError``/``ValueError`` naming the place (the schedule), the argument and the allowed
range, or returns the normalised value (``2.0`` steps -> ``2``, a list -> a tuple), which is
stored on the frozen instance. Then :meth:`Checked._check` runs once for the rules that
involve several fields. Every message reads ``"<place>: <name> must ..., got <value>"``.

**The place** is named once, where a public entry point starts: ``@place("find_lr")`` on the
function (or ``with place(...)`` around a part that has a narrower name, such as
``from_torch(SequentialLR)``); a schedule's construction is its own place (its config name).
Checks and messages read it with :func:`here` — no function passes it on as an argument.

The ranges are chosen so that whatever a check accepts evaluates finitely at every step up
to 2**63, in float64 on the host and in float32 under JAX:

* a learning rate (or multiplier) is a finite number in ``[0, MAX_LR]`` (``MAX_LR = 1e30``:
  far above any real lr, and far enough below float32's maximum, 3.4e38, that products and
  intermediates stay finite); one whose logarithm is taken (the ends of an lr sweep) lies
  in ``[MIN_POSITIVE_LR, MAX_LR]`` (``MIN_POSITIVE_LR = 1e-30``); a schedule's
  :meth:`~lrsched_jax.core.Schedule.upper_bound`
  (e.g. a ``scale`` factor times its schedule's bound) must stay within it too;
* a whole number of steps lies in ``[minimum, MAX_STEPS]`` (``MAX_STEPS = 2**53``: every
  whole number up to it is exact in float64, so horizons and boundaries compare exactly on
  the host); a fractional length (a period, a step size) in ``[MIN_DURATION, MAX_STEPS]``
  (``MIN_DURATION = 1e-3``: ``2**63 / 1e-3`` is still far inside float32's range, so
  ``t / length`` never overflows);
* a decay factor of an unbounded family is at most 1 (a factor above 1 grows without bound
  and has no finite value at step 2**63).
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import inspect
import itertools
import math
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from typing_extensions import dataclass_transform

__all__ = [
    "here",
    "place",
    "MAX_LR",
    "MAX_STEPS",
    "MIN_DURATION",
    "MAX_DEPTH",
    "Checked",
    "arg",
    "checked",
    "from_fields",
    "number",
    "at_least",
    "whole",
    "MIN_POSITIVE_LR",
    "lr",
    "positive",
    "positive_lr",
    "real",
    "decay_factor",
    "steps",
    "duration",
    "choice",
    "flag",
    "sequence",
    "ordered_steps",
    "lr_list",
    "sweep_ends",
]

#: The largest learning rate (or multiplier, or schedule value) a check accepts.
MAX_LR = 1e30
#: The smallest learning rate accepted where an lr must be > 0 (the ends of an lr sweep,
#: whose ratio is taken): a normal float32 number, and ``MAX_LR / MIN_POSITIVE_LR`` is finite.
MIN_POSITIVE_LR = 1e-30
#: The largest step count, step position or length a check accepts.
MAX_STEPS = 2**53
#: The shortest fractional length (period, step size, horizon) a check accepts, in steps.
MIN_DURATION = 1e-3
#: The deepest nesting of schedules in schedules (combinators, configs) that is accepted.
MAX_DEPTH = 100

Check = Callable[..., Any]
T = TypeVar("T")


_PLACE: contextvars.ContextVar[str] = contextvars.ContextVar("lrsched_place", default="lrsched")


def here() -> str:
    """The name error messages start with: the innermost :func:`place` running now (``"lrsched"``
    outside any)."""
    return _PLACE.get()


_Fn = TypeVar("_Fn", bound=Callable[..., Any])


class place:  # noqa: N801  (used as a decorator and a context manager, like contextlib's)
    """Name ``name`` in every message of the checks run inside: a context manager, or a
    decorator of a public entry point (``@place("find_lr")``). Nested places replace the outer one
    until they end; each thread and task has its own (a :class:`contextvars.ContextVar`).

    A class rather than :func:`contextlib.contextmanager`: a decorated function sets and
    resets the variable directly, with no context-manager object per call, so an entry point
    on a per-step path (``attach``'s hook, ``ScheduleLR``) pays a fraction of a microsecond."""

    __slots__ = ("_tokens", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._tokens: list[contextvars.Token[str]] = []

    def __enter__(self) -> None:
        self._tokens.append(_PLACE.set(self.name))

    def __exit__(self, *exc: object) -> None:
        _PLACE.reset(self._tokens.pop())

    def __call__(self, fn: _Fn) -> _Fn:
        name = self.name

        @functools.wraps(fn)
        def placed(*args: Any, **kwargs: Any) -> Any:
            token = _PLACE.set(name)
            try:
                return fn(*args, **kwargs)
            finally:
                _PLACE.reset(token)

        return placed  # type: ignore[return-value]


# -- the checks: check(name, value, **params) -> normalised value ----------------------


def _is_tracer(value: Any) -> bool:
    """A JAX tracer (under ``jit``/``vmap``/``grad``), recognised without importing JAX: the
    core imports neither JAX nor torch."""
    return any(c.__name__ == "Tracer" and c.__module__.startswith("jax") for c in type(value).__mro__)


def _traced(name: str, value: Any) -> TypeError:
    return TypeError(
        f"{here()}: {name} is a traced JAX value ({type(value).__name__}): hyperparameters are "
        "static -- checked and fixed when the schedule is built -- so they cannot be arguments "
        "of jit, vmap or grad. To compare several values in one compiled program, pass one "
        "schedule per value to the arena (lrsched_jax.compare); to vary or differentiate an lr "
        "scale, build the schedule with a unit lr and multiply its value by the traced factor "
        "(p * lrs.cosine(1.0, T)(step); lrs.scale takes a concrete factor)"
    )


def _scalar(name: str, value: Any) -> Any:
    """A concrete 0-d array (NumPy, JAX, torch: anything with ``ndim == 0`` and ``item()``)
    as the Python number it holds; other values unchanged. Traced values are refused."""
    if _is_tracer(value):
        raise _traced(name, value)
    if getattr(value, "ndim", None) != 0 or not callable(getattr(value, "item", None)):
        return value
    try:
        return value.item()
    except Exception as exc:
        if type(exc).__module__.startswith("jax"):  # a tracer of a kind not recognised above
            raise _traced(name, value) from exc
        raise


def number(name: str, value: Any) -> float:
    """A finite real number (bools and strings refused), as a float. A concrete 0-d array
    (``np.float32(0.1)``, ``jnp.array(3)``) counts as the number it holds, so the stored value
    is a plain Python number (hashable, picklable, JSON-able); a traced one is refused."""
    held = _scalar(name, value)
    if isinstance(held, bool) or not isinstance(held, numbers.Real):
        raise TypeError(f"{here()}: {name} must be a real number, got {value!r} ({type(value).__name__})")
    v = float(held)
    if not math.isfinite(v):
        raise ValueError(f"{here()}: {name} must be finite, got {value!r}")
    return v


def at_least(name: str, value: Any, minimum: float = 0.0, why: str = "") -> float:
    """A finite number ``>= minimum``. For the importers, whose source library may accept a
    smaller value: ``why`` (appended to the message) says what the source does with it."""
    v = number(name, value)
    if v < minimum:
        raise ValueError(f"{here()}: {name} must be >= {minimum:g}, got {value!r}{why}")
    return v


def whole(name: str, value: Any, minimum: int = 0, unit: str = "") -> int:
    """A whole number ``>= minimum`` (of ``unit``, for the message), as an ``int``. No upper
    bound: for the importers, whose source holds any count (the family built from it checks
    its own range)."""
    v = number(name, value)
    if not v.is_integer() or v < minimum:
        of = f" of {unit}" if unit else ""
        raise ValueError(f"{here()}: {name} must be a whole number{of} >= {minimum}, got {value!r}")
    return int(v)


def lr(name: str, value: Any) -> float:
    """A learning rate (or multiplier): finite, in ``[0, MAX_LR]``."""
    v = number(name, value)
    if v < 0 or v > MAX_LR:
        raise ValueError(
            f"{here()}: {name} must be a finite learning rate >= 0 (and <= {MAX_LR:g}), got {value!r}"
        )
    return v


def positive(name: str, value: Any, minimum: float | None = None, maximum: float | None = None) -> float:
    """A finite number ``> 0`` (and in ``[minimum, maximum]`` when given)."""
    v = number(name, value)
    if v <= 0 or (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        within = ""
        if minimum is not None or maximum is not None:
            left = "(0" if minimum is None else f"[{_show(minimum)}"
            within = f" (in {left}, {'inf)' if maximum is None else _show(maximum) + ']'})"
        raise ValueError(f"{here()}: {name} must be finite and > 0{within}, got {value!r}")
    return v


def positive_lr(name: str, value: Any) -> float:
    """A learning rate ``> 0`` (one whose logarithm is taken): in ``[MIN_POSITIVE_LR, MAX_LR]``,
    so that ratios of two stay finite and each is a normal float32 number."""
    return positive(name, value, minimum=MIN_POSITIVE_LR, maximum=MAX_LR)


def real(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """A finite number in the interval ``lo .. hi`` (each end closed unless ``*_open``)."""
    v = number(name, value)
    bad = (lo is not None and (v < lo or (lo_open and v == lo))) or (
        hi is not None and (v > hi or (hi_open and v == hi))
    )
    if bad:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        lo_s = "-inf" if lo is None else _show(lo)
        hi_s = "inf" if hi is None else _show(hi)
        raise ValueError(f"{here()}: {name} must be in {left}{lo_s}, {hi_s}{right}, got {value!r}")
    return v


def _show(bound: float) -> str:
    return "2**53" if bound == MAX_STEPS else f"{bound:g}"


def decay_factor(name: str, value: Any) -> float:
    """A decay factor in ``(0, 1]``: a factor above 1 grows without bound, so it has no
    finite value at step 2**63."""
    v = number(name, value)
    if not 0 < v <= 1:
        why = " (a factor > 1 grows without bound: no finite value at every step)" if v > 1 else ""
        raise ValueError(f"{here()}: {name} must be in (0, 1]{why}, got {value!r}")
    return v


def steps(name: str, value: Any, minimum: int = 1, unit: str = "steps") -> int:
    """A whole number of ``unit`` in ``[minimum, MAX_STEPS]`` (integral floats such as
    ``1e4`` are accepted and returned as ``int``)."""
    v = number(name, value)
    if not v.is_integer() or v < minimum or v > MAX_STEPS:
        raise ValueError(
            f"{here()}: {name} must be a whole number of {unit} >= {minimum} (and <= 2**53), got {value!r}"
        )
    return int(v)


def duration(name: str, value: Any, zero: bool = False) -> int | float:
    """A length in steps in ``[MIN_DURATION, MAX_STEPS]`` (``0`` too with ``zero``);
    fractional lengths are allowed, kept as ``int`` when whole."""
    v = number(name, value)
    if not ((zero and v == 0) or MIN_DURATION <= v <= MAX_STEPS):
        low = "0 or " if zero else "finite and > 0: "
        raise ValueError(
            f"{here()}: {name} must be {low}a length in steps in [{MIN_DURATION:g}, 2**53], got {value!r}"
        )
    return int(v) if v.is_integer() else v


def choice(name: str, value: Any, options: Iterable[str]) -> str:
    """One of ``options`` (compared with ``==``)."""
    opts = tuple(options)
    if not isinstance(value, str) or value not in opts:
        raise ValueError(f"{here()}: {name} must be one of {', '.join(map(repr, opts))}; got {value!r}")
    return value


def flag(name: str, value: Any) -> bool:
    """``True`` or ``False`` (not ``1``, not ``"yes"``)."""
    if not isinstance(value, bool):
        raise TypeError(f"{here()}: {name} must be True or False, got {value!r}")
    return value


def sequence(name: str, value: Any) -> tuple[Any, ...]:
    """A list, tuple or 1-D array (not a string, a mapping or a 0-d array), as a tuple."""
    if getattr(value, "ndim", None) == 0:
        raise TypeError(
            f"{here()}: {name} must be a list or tuple, got a 0-d array {value!r} (wrap it in a list)"
        )
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{here()}: {name} must be a list or tuple, got {value!r}")
    return tuple(value)


def ordered_steps(
    name: str,
    value: Any,
    *,
    strict: bool,
    minimum: float = 0,
    integer: bool = False,
    allow_empty: bool = False,
) -> tuple[Any, ...]:
    """A sorted sequence of step positions in ``[minimum, MAX_STEPS]`` (``strict``: no
    repeats; ``integer``: whole steps only)."""
    items = sequence(name, value)
    if not items and not allow_empty:
        raise ValueError(f"{here()}: {name} must not be empty")
    out: list[Any] = []
    for i, x in enumerate(items):
        label = f"{name}[{i}]"
        if integer:
            out.append(steps(label, x, minimum=math.ceil(minimum)))
        else:
            v = real(label, x, lo=minimum, hi=MAX_STEPS)
            out.append(int(v) if v.is_integer() else v)
    for a, b in itertools.pairwise(out):
        if b < a or (strict and b == a):
            kind = "strictly increasing" if strict else "sorted (non-decreasing)"
            raise ValueError(f"{here()}: {name} must be {kind}, got {list(items)!r}")
    return tuple(out)


def sweep_ends(start: float, end: float) -> None:
    """The ends of an lr sweep (``start_lr``, ``end_lr``, each a :func:`positive_lr`):
    ``start_lr < end_lr <= start_lr * MAX_LR``, so the sweep's ratio is a finite multiplier
    (``exp(t * log(ratio) / (N - 1))`` stays finite in float32 at every step)."""
    if end <= start:
        raise ValueError(f"{here()}: end_lr must be > start_lr ({start!r}), got {end!r}")
    if end / start > MAX_LR:
        raise ValueError(
            f"{here()}: end_lr / start_lr must be <= {MAX_LR:g} (a sweep over at most 30 decades), "
            f"got {end!r} / {start!r}"
        )


def lr_list(name: str, value: Any) -> tuple[float, ...]:
    """A list of learning rates (each checked by :func:`lr`), as a tuple."""
    return tuple(lr(f"{name}[{i}]", v) for i, v in enumerate(sequence(name, value)))


# -- the mechanism ----------------------------------------------------------------------------


def arg(check: Check, /, *, default: Any = dataclasses.MISSING, optional: bool = False, **params: Any) -> Any:
    """A dataclass field checked at construction by ``check(name, value, **params)``.

    ``default`` makes the argument optional; ``optional=True`` lets ``None`` through
    unchecked (the cross-field hook :meth:`Checked._check` then fills it in or refuses it).
    The field is compared, hashed and shown in ``repr`` like any dataclass field.
    """
    meta = {"check": _without_place(check), "params": params, "optional": optional}
    return dataclasses.field(default=default, metadata=meta)


def _takes_place(fn: Callable[..., Any]) -> bool:
    """Whether ``fn``'s first parameter is the old explicit ``where``."""
    try:
        first = next(iter(inspect.signature(fn).parameters), None)
    except (TypeError, ValueError):
        return False
    return first == "where"


def _without_place(check: Check) -> Check:
    """A check of the old form ``check(where, name, value)`` (user families of earlier releases)
    as ``check(name, value)``, with a ``DeprecationWarning`` once, where it is declared."""
    if not _takes_place(check):
        return check
    warnings.warn(
        f"{getattr(check, '__qualname__', check)!s}: a check taking where first is deprecated and will be "
        "refused in the next release: write check(name, value, ...) and name the place with validate.here()",
        DeprecationWarning,
        stacklevel=3,
    )
    return functools.partial(_placed_call, check)


def _placed_call(check: Callable[..., Any], name: str, value: Any, **params: Any) -> Any:
    return check(here(), name, value, **params)


class Checked:
    """Base of the frozen hyperparameter dataclasses whose fields carry their checks
    (:func:`arg`): the schedules, :class:`~lrsched_jax.core.ReduceOnPlateau` and the finder's
    :class:`~lrsched_jax.core.finder.SweepConfig`.

    ``__post_init__`` runs each field's check with ``(name, value)`` inside
    ``place(<its config name>)``, stores the normalised values, then calls :meth:`_check` once.
    """

    #: The ``name`` of this kind in configs (and the place of its error messages).
    config_name: ClassVar[str] = ""

    @property
    def _where(self) -> str:
        return self.config_name or type(self).__name__

    def __post_init__(self) -> None:
        with place(self._where):
            self._validate()

    def _validate(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            check = f.metadata.get("check")
            if check is None:
                continue
            value = getattr(self, f.name)
            if value is None and f.metadata["optional"]:
                continue
            object.__setattr__(self, f.name, check(f.name, value, **f.metadata["params"]))
        self._check()

    def _check(self) -> None:
        """The rules that involve several fields (each field is already checked and
        normalised); normalise with :meth:`_set`. Nothing by default."""

    def _set(self, **values: Any) -> None:
        """Store normalised values on the frozen instance (from :meth:`_check`)."""
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def __repr__(self) -> str:
        """The documented spelling with the arguments that differ from their defaults, e.g.
        ``cosine(init_lr=1.0, total_steps=4)``: ``eval`` of it in the namespace of
        ``import lrsched_jax as lrs`` (``vars(lrs)``) rebuilds an equal object. A subclass
        that is not registered itself shows its class name instead."""
        cls = type(self)
        name = cls.config_name if "config_name" in vars(cls) and cls.config_name else cls.__name__
        shown = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if not f.repr:
                continue
            value = getattr(self, f.name)
            if f.default is not dataclasses.MISSING and type(value) is type(f.default) and value == f.default:
                continue
            shown.append(f"{f.name}={value!r}")
        return f"{name}({', '.join(shown)})"

    def to_config(self) -> dict[str, Any]:
        """A plain JSON-able dict (``name`` and every field; nested objects as their own
        configs, tuples as lists); ``from_config`` rebuilds an equal object."""
        out: dict[str, Any] = {"name": self.config_name}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _jsonable(getattr(self, f.name))
        return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, Checked):
        return v.to_config()
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    return v


@dataclass_transform(frozen_default=True, field_specifiers=(arg, dataclasses.field))
def checked(cls: type[T]) -> type[T]:
    """Make a :class:`Checked` subclass a frozen dataclass whose fields are checked at
    construction (its ``repr`` is :meth:`Checked.__repr__`). A ``_check(self, where)`` of an
    earlier release still runs, given :func:`here`, with a ``DeprecationWarning``."""
    legacy = vars(cls).get("_check")
    if legacy is not None and _legacy_hook(legacy):
        warnings.warn(
            f"{cls.__qualname__}._check(self, where) is deprecated and will be refused in the next release: "
            "write _check(self) and name the place with validate.here()",
            DeprecationWarning,
            stacklevel=3,
        )
        cls._check = functools.partialmethod(_placed_hook, legacy)  # type: ignore[attr-defined]
    return dataclasses.dataclass(frozen=True, repr=False)(cls)


def _legacy_hook(fn: Callable[..., Any]) -> bool:
    params = list(inspect.signature(fn).parameters)
    return len(params) == 2 and params[1] == "where"


def _placed_hook(self: Any, legacy: Callable[..., Any]) -> None:
    legacy(self, here())


def from_fields(cls: type[T], config: Mapping[str, Any], convert: Callable[[Any], Any] = lambda v: v) -> T:
    """``cls(**fields)`` from a config mapping without its ``name``: unknown or missing
    fields raise ``ValueError`` listing the valid ones; each value passes ``convert`` first
    (nested configs)."""
    with place(getattr(cls, "config_name", "") or cls.__name__):
        bad = [k for k in config if not isinstance(k, str)]
        if bad:
            raise TypeError(
                f"{here()}: config keys must be strings, got {bad[0]!r} ({type(bad[0]).__name__})"
            )
        fields = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
        valid = [f.name for f in fields]
        given = {k: v for k, v in config.items() if k != "name"}
        unknown = sorted(set(given) - set(valid))
        if unknown:
            import difflib

            close = {u: difflib.get_close_matches(u, valid, n=1, cutoff=0.6) for u in unknown}
            hint = "; ".join(f"{u!r}: did you mean {c[0]!r}?" for u, c in close.items() if c)
            raise ValueError(
                f"{here()}: unknown field(s) {', '.join(unknown)}"
                + (f" ({hint})" if hint else "")
                + f"; valid fields: {', '.join(valid)}"
            )
        missing = [
            f.name
            for f in fields
            if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
            and f.name not in given
        ]
        if missing:
            raise ValueError(
                f"{here()}: missing field(s) {', '.join(missing)}; valid fields: {', '.join(valid)}"
            )
        return cls(**{k: convert(v) for k, v in given.items()})
