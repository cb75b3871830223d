"""Constructor-argument checks: each names the schedule, the argument and the allowed range."""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable
from typing import Any


def _number(where: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{where}: {name} must be finite, got {value!r}")
    return v


def lr(where: str, name: str, value: Any) -> float:
    """A learning rate (or multiplier): finite and >= 0."""
    v = _number(where, name, value)
    if v < 0:
        raise ValueError(f"{where}: {name} must be a finite learning rate >= 0, got {value!r}")
    return v


def positive(where: str, name: str, value: Any) -> float:
    v = _number(where, name, value)
    if v <= 0:
        raise ValueError(f"{where}: {name} must be finite and > 0, got {value!r}")
    return v


def real(
    where: str,
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    v = _number(where, name, value)
    bad = (lo is not None and (v < lo or (lo_open and v == lo))) or (
        hi is not None and (v > hi or (hi_open and v == hi))
    )
    if bad:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        raise ValueError(f"{where}: {name} must be in {left}{lo_s}, {hi_s}{right}, got {value!r}")
    return v


def steps(where: str, name: str, value: Any, minimum: int = 1) -> int:
    """A whole number of steps >= ``minimum`` (integral floats such as ``1e4`` are accepted)."""
    v = _number(where, name, value)
    if not v.is_integer():
        raise ValueError(f"{where}: {name} must be a whole number of steps >= {minimum}, got {value!r}")
    if v < minimum:
        raise ValueError(f"{where}: {name} must be a whole number of steps >= {minimum}, got {value!r}")
    return int(v)


def duration(where: str, name: str, value: Any) -> int | float:
    """A positive length in steps; fractional lengths are allowed (kept as int when whole)."""
    v = positive(where, name, value)
    return int(v) if v.is_integer() else v


def choice(where: str, name: str, value: Any, options: Iterable[str]) -> str:
    opts = tuple(options)
    if value not in opts:
        raise ValueError(f"{where}: {name} must be one of {', '.join(map(repr, opts))}; got {value!r}")
    return str(value)


def flag(where: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")
    return value


def sequence(where: str, name: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{where}: {name} must be a list or tuple, got {value!r}")
    return tuple(value)


def ordered_steps(
    where: str,
    name: str,
    value: Any,
    *,
    strict: bool,
    minimum: float = 0,
    integer: bool = False,
    allow_empty: bool = False,
) -> tuple[Any, ...]:
    """A sorted sequence of step positions (``strict``: no repeats)."""
    items = sequence(where, name, value)
    if not items and not allow_empty:
        raise ValueError(f"{where}: {name} must not be empty")
    out: list[Any] = []
    for i, x in enumerate(items):
        label = f"{name}[{i}]"
        if integer:
            out.append(steps(where, label, x, minimum=math.ceil(minimum)))
        else:
            v = real(where, label, x, lo=minimum)
            out.append(int(v) if v.is_integer() else v)
    for a, b in itertools.pairwise(out):
        if b < a or (strict and b == a):
            kind = "strictly increasing" if strict else "sorted (non-decreasing)"
            raise ValueError(f"{where}: {name} must be {kind}, got {list(items)!r}")
    return tuple(out)
