r"""Keras 3 learning-rate schedules as lrsched schedules, from their serialised config.

:func:`from_keras` takes exactly what ``keras.optimizers.schedules.serialize(schedule)``
returns — ``{"module": "keras.optimizers.schedules", "class_name": ..., "config": {...}}``
(or the bare ``{"class_name", "config"}`` of older Keras) — and needs no Keras import.

What is exact: the curve at every whole step ``k >= 0`` (Keras' ``step`` is the optimizer's
iteration count, like Optax's), with Keras' conventions translated: ``alpha`` is relative to
the initial lr (lrsched's ``min_lr`` is absolute); ``PiecewiseConstantDecay`` switches at
``step > boundary`` (lrsched's ``piecewise_constant`` at ``t >= b``, so the boundaries move
by one); ``CosineDecay`` with ``warmup_target`` warms up linearly from
``initial_learning_rate`` and then decays from ``warmup_target``; ``CosineDecay`` holds its
final value after ``decay_steps`` (+ ``warmup_steps``), ``CosineDecayRestarts`` and the
exponential schedules have no horizon. Keras computes in float32; lrsched's float64 values
are the exact ones, and its float32 ones within a few ulps of those (Keras' own float32
drift — ``decay_rate ** p`` with a rounded rate, a restart index from a float32 logarithm —
is Keras').

Refused (``ValueError`` naming the argument): growth (``decay_rate > 1`` in
``ExponentialDecay``, ``m_mul > 1`` or ``t_mul < 1`` in ``CosineDecayRestarts``), negative
values, ``alpha`` outside ``[0, 1]`` (a negative or above-initial floor), non-whole or
unsorted ``PiecewiseConstantDecay`` boundaries, and classes other than the six of
``keras.optimizers.schedules`` (``TypeError``: a custom schedule is arbitrary code).
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Mapping
from typing import Any

from lrsched_jax.core import families as F
from lrsched_jax.core import validate as V
from lrsched_jax.core.combinators import Join
from lrsched_jax.core.schedule import Schedule

__all__ = ["from_keras", "KERAS_CLASSES"]

#: The ``class_name`` values :func:`from_keras` converts.
KERAS_CLASSES = (
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
)


def _num(where: str, cfg: Mapping[str, Any], name: str, default: Any = None) -> float:
    value = cfg.get(name, default)
    if value is None:
        raise ValueError(f"{where}: config needs {name!r}")
    return V.number(where, name, value)


def _unit(where: str, name: str, v: float) -> float:
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{where}: {name} must be in [0, 1] (relative to initial_learning_rate), got {v!r}")
    return v


def _exponential(where: str, c: Mapping[str, Any]) -> Schedule:
    rate = _num(where, c, "decay_rate")
    if not 0 < rate <= 1:
        raise ValueError(
            f"{where}: decay_rate must be in (0, 1] (growth has no lrsched family), got {rate!r}"
        )
    return F.Exponential(
        _num(where, c, "initial_learning_rate"),
        rate,
        every=_num(where, c, "decay_steps"),
        staircase=bool(c.get("staircase", False)),
    )


def _piecewise(where: str, c: Mapping[str, Any]) -> Schedule:
    bounds, values = list(c.get("boundaries", ())), list(c.get("values", ()))
    if len(values) != len(bounds) + 1:
        raise ValueError(
            f"{where}: values needs len(boundaries) + 1 entries, got {len(values)} for {len(bounds)}"
        )
    if not bounds:
        raise ValueError(f"{where}: boundaries must not be empty (Keras indexes boundaries[0])")
    whole = []
    for b in bounds:
        if isinstance(b, bool) or not isinstance(b, numbers.Real) or not float(b).is_integer():
            raise ValueError(f"{where}: boundaries must be whole steps, got {bounds!r}")
        whole.append(int(float(b)))
    # Keras: values[i+1] once step > boundaries[i]; for whole steps that is step >= b + 1.
    # Boundaries below 0 are passed by step 0 already.
    shifted = [b + 1 for b in whole]
    if any(b1 <= b0 for b0, b1 in itertools.pairwise(shifted)):
        raise ValueError(f"{where}: boundaries must be strictly increasing, got {bounds!r}")
    while shifted and shifted[0] <= 0:
        shifted, values = shifted[1:], values[1:]
    return F.PiecewiseConstant(shifted, [float(v) for v in values])


def _polynomial(where: str, c: Mapping[str, Any]) -> Schedule:
    init = _num(where, c, "initial_learning_rate")
    T = _num(where, c, "decay_steps")
    if not T.is_integer():
        raise ValueError(f"{where}: decay_steps must be a whole number of steps, got {T!r}")
    end = _num(where, c, "end_learning_rate", 0.0001)
    power = _num(where, c, "power", 1.0)
    if c.get("cycle", False):
        return F.PolynomialCycle(init, int(T), end_lr=end, power=power)
    return F.Polynomial(init, int(T), end_lr=end, power=power)


def _inverse_time(where: str, c: Mapping[str, Any]) -> Schedule:
    return F.InverseTime(
        _num(where, c, "initial_learning_rate"),
        _num(where, c, "decay_rate"),
        every=_num(where, c, "decay_steps"),
        staircase=bool(c.get("staircase", False)),
    )


def _cosine(where: str, c: Mapping[str, Any]) -> Schedule:
    init = _num(where, c, "initial_learning_rate")
    D = _num(where, c, "decay_steps")
    alpha = _unit(where, "alpha", _num(where, c, "alpha", 0.0))
    target = c.get("warmup_target")
    if target is None:
        return F.Cosine(init, D, min_lr=init * alpha)
    peak = _num(where, c, "warmup_target")
    W = _num(where, c, "warmup_steps", 0)
    decay = F.Cosine(peak, D, min_lr=peak * alpha)
    if W == 0:
        return decay
    if not W.is_integer() or W < 0:
        raise ValueError(f"{where}: warmup_steps must be a whole number of steps >= 0, got {W!r}")
    return Join([F.Linear(init, peak, int(W)), decay], [int(W)])


def _restarts(where: str, c: Mapping[str, Any]) -> Schedule:
    init = _num(where, c, "initial_learning_rate")
    alpha = _unit(where, "alpha", _num(where, c, "alpha", 0.0))
    t_mul, m_mul = _num(where, c, "t_mul", 2.0), _num(where, c, "m_mul", 1.0)
    if t_mul < 1:
        raise ValueError(f"{where}: t_mul must be >= 1 (shrinking periods are not supported), got {t_mul!r}")
    if not 0 < m_mul <= 1:
        raise ValueError(f"{where}: m_mul must be in (0, 1] (growing peaks are not supported), got {m_mul!r}")
    # Keras: init * ((1 - alpha) * m_mul**i * c + alpha), i.e. floor init*alpha, peak decay m_mul
    return F.WarmRestarts(
        init, _num(where, c, "first_decay_steps"), t_mul, min_lr=init * alpha, peak_decay=m_mul
    )


_CONVERTERS = {
    "ExponentialDecay": _exponential,
    "PiecewiseConstantDecay": _piecewise,
    "PolynomialDecay": _polynomial,
    "InverseTimeDecay": _inverse_time,
    "CosineDecay": _cosine,
    "CosineDecayRestarts": _restarts,
}


def from_keras(config: Mapping[str, Any]) -> Schedule:
    r"""The lrsched schedule of a Keras 3 learning-rate schedule, from ``serialize(schedule)``.

    ``from_keras(keras.optimizers.schedules.serialize(s))(k)`` is ``s(k)`` at every whole
    step ``k >= 0`` (see :mod:`lrsched_jax.core.keras` for the conventions translated and
    what is refused). Classes: :data:`KERAS_CLASSES`.

    >>> import lrsched_jax as lrs
    >>> cfg = {"module": "keras.optimizers.schedules", "class_name": "PiecewiseConstantDecay",
    ...        "config": {"boundaries": [2, 4], "values": [1.0, 0.5, 0.1], "name": None},
    ...        "registered_name": None}
    >>> [float(lrs.from_keras(cfg)(k)) for k in range(6)]
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.1]
    """
    if not isinstance(config, Mapping) or "class_name" not in config:
        raise TypeError(
            "from_keras: config must be the dict keras.optimizers.schedules.serialize(schedule) returns "
            f"(with 'class_name' and 'config'), got {config!r}"
        )
    name = config["class_name"]
    module = config.get("module", "keras.optimizers.schedules")
    if name not in _CONVERTERS or module not in ("keras.optimizers.schedules", None):
        raise TypeError(
            f"from_keras: {module}.{name} is not one of keras.optimizers.schedules' {KERAS_CLASSES} "
            "(a custom schedule is arbitrary code; write it as an lrsched schedule)"
        )
    inner = config.get("config")
    if not isinstance(inner, Mapping):
        raise TypeError(f"from_keras({name}): config['config'] must be a dict, got {inner!r}")
    where = f"from_keras({name})"
    try:
        return _CONVERTERS[name](where, inner)
    except ValueError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(where) else f"{where}: {msg}") from None
