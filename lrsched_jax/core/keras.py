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

Growing peaks convert: ``CosineDecayRestarts(m_mul > 1)`` is ``warm_restarts`` with
``peak_decay=m_mul``, accepted where every value up to step 2**63 stays a finite lr — with
``t_mul > 1`` (finitely many cycles before 2**63; equal cycles would grow without bound)
and the last of those peaks at most ``1e30`` (for ``t_mul=2``, ``first_decay_steps=1000``
and ``initial_learning_rate=0.1``: ``m_mul <= 3.68``); ``m_mul = 0`` is one cosine decay
holding ``alpha * initial_learning_rate``.

Refused (``ValueError`` naming the Keras argument): config keys the class does not take
(Keras' own ``deserialize`` refuses them too; a misspelt ``staircse`` would otherwise be a
smooth decay), growth (``decay_rate > 1`` in ``ExponentialDecay``, ``m_mul > 1`` beyond
the bound above, ``t_mul < 1`` in ``CosineDecayRestarts``), negative values (a negative
``m_mul`` makes every other cycle negative), ``alpha`` outside ``[0, 1]`` (a negative or
above-initial floor), non-whole or unsorted ``PiecewiseConstantDecay`` boundaries. Refused
with ``TypeError``: anything that is not one of Keras' own six classes of
``keras.optimizers.schedules`` — another module, ``module: None`` (a class defined in
``__main__``) or a ``registered_name`` (a ``register_keras_serializable`` subclass, even one
named like a built-in: its ``__call__`` is arbitrary code, the config only its base's).
The bare ``{"class_name", "config"}`` of older Keras (no ``module`` key) names the
built-in, as Keras' ``deserialize`` reads it.
"""

from __future__ import annotations

import difflib
import itertools
import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

from lrsched_jax.core import families, validate
from lrsched_jax.core.combinators import Join
from lrsched_jax.core.schedule import Schedule
from lrsched_jax.core.validate import here, place

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


#: The config keys each class takes (its ``get_config()``, i.e. its constructor's arguments).
_KEYS = {
    "ExponentialDecay": ("initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name"),
    "PiecewiseConstantDecay": ("boundaries", "values", "name"),
    "PolynomialDecay": (
        "initial_learning_rate",
        "decay_steps",
        "end_learning_rate",
        "power",
        "cycle",
        "name",
    ),
    "InverseTimeDecay": ("initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name"),
    "CosineDecay": ("initial_learning_rate", "decay_steps", "alpha", "warmup_target", "warmup_steps", "name"),
    "CosineDecayRestarts": ("initial_learning_rate", "first_decay_steps", "t_mul", "m_mul", "alpha", "name"),
}


def _known_keys(name: str, cfg: Mapping[str, Any]) -> None:
    for key in cfg:
        if key not in _KEYS[name]:
            close = difflib.get_close_matches(str(key), _KEYS[name], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"{here()}: unknown config key {key!r}{hint}; Keras' {name} takes {', '.join(_KEYS[name])} "
                "(and its deserialize refuses any other)"
            )


def _make(family: Callable[..., Schedule], names: Mapping[str, str], *args: Any, **kwargs: Any) -> Schedule:
    """``family(*args, **kwargs)``, its ``ValueError`` reworded with the Keras argument names
    (``names``: lrsched's -> Keras') in place of the family's own."""
    try:
        return family(*args, **kwargs)
    except ValueError as e:
        msg = re.sub(r"^\w+: ", "", str(e))
        for ours, theirs in names.items():
            msg = re.sub(rf"\b{ours}\b", theirs, msg)
        raise ValueError(f"{here()}: {msg}") from None


_DECAY_NAMES = {
    "base_lr": "initial_learning_rate",
    "gamma": "decay_rate",
    "rate": "decay_rate",
    "every": "decay_steps",
}


def _num(cfg: Mapping[str, Any], name: str, default: Any = None) -> float:
    value = cfg.get(name, default)
    if value is None:
        raise ValueError(f"{here()}: config needs {name!r}")
    return validate.number(name, value)


def _unit(name: str, v: float) -> float:
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{here()}: {name} must be in [0, 1] (relative to initial_learning_rate), got {v!r}")
    return v


def _exponential(c: Mapping[str, Any]) -> Schedule:
    rate = _num(c, "decay_rate")
    if not 0 < rate <= 1:
        raise ValueError(
            f"{here()}: decay_rate must be in (0, 1] (growth has no lrsched family), got {rate!r}"
        )
    return _make(
        families.Exponential,
        _DECAY_NAMES,
        _num(c, "initial_learning_rate"),
        rate,
        every=_num(c, "decay_steps"),
        staircase=bool(c.get("staircase", False)),
    )


def _piecewise(c: Mapping[str, Any]) -> Schedule:
    bounds, values = list(c.get("boundaries", ())), list(c.get("values", ()))
    if len(values) != len(bounds) + 1:
        raise ValueError(
            f"{here()}: values needs len(boundaries) + 1 entries, got {len(values)} for {len(bounds)}"
        )
    if not bounds:
        raise ValueError(f"{here()}: boundaries must not be empty (Keras indexes boundaries[0])")
    whole = []
    for b in bounds:
        if isinstance(b, bool) or not isinstance(b, numbers.Real) or not float(b).is_integer():
            raise ValueError(f"{here()}: boundaries must be whole steps, got {bounds!r}")
        whole.append(int(float(b)))
    # Keras: values[i+1] once step > boundaries[i]; for whole steps that is step >= b + 1.
    # Boundaries below 0 are passed by step 0 already.
    shifted = [b + 1 for b in whole]
    if any(b1 <= b0 for b0, b1 in itertools.pairwise(shifted)):
        raise ValueError(f"{here()}: boundaries must be strictly increasing, got {bounds!r}")
    while shifted and shifted[0] <= 0:
        shifted, values = shifted[1:], values[1:]
    return _make(families.PiecewiseConstant, {}, shifted, [float(v) for v in values])


def _polynomial(c: Mapping[str, Any]) -> Schedule:
    init = _num(c, "initial_learning_rate")
    T = _num(c, "decay_steps")
    if not T.is_integer():
        raise ValueError(f"{here()}: decay_steps must be a whole number of steps, got {T!r}")
    end = _num(c, "end_learning_rate", 0.0001)
    power = _num(c, "power", 1.0)
    family = families.PolynomialCycle if c.get("cycle", False) else families.Polynomial
    names = {"init_lr": "initial_learning_rate", "total_steps": "decay_steps", "end_lr": "end_learning_rate"}
    return _make(family, names, init, T, end_lr=end, power=power)


def _inverse_time(c: Mapping[str, Any]) -> Schedule:
    return _make(
        families.InverseTime,
        _DECAY_NAMES,
        _num(c, "initial_learning_rate"),
        _num(c, "decay_rate"),
        every=_num(c, "decay_steps"),
        staircase=bool(c.get("staircase", False)),
    )


def _cosine(c: Mapping[str, Any]) -> Schedule:
    init = _num(c, "initial_learning_rate")
    D = _num(c, "decay_steps")
    alpha = _unit("alpha", _num(c, "alpha", 0.0))
    target = c.get("warmup_target")
    names = {"init_lr": "initial_learning_rate", "total_steps": "decay_steps", "min_lr": "alpha"}
    if target is None:
        return _make(families.Cosine, names, init, D, min_lr=init * alpha)
    peak = _num(c, "warmup_target")
    W = _num(c, "warmup_steps", 0)
    decay = _make(families.Cosine, names | {"init_lr": "warmup_target"}, peak, D, min_lr=peak * alpha)
    if W == 0:
        return decay
    if not W.is_integer() or W < 0:
        raise ValueError(f"{here()}: warmup_steps must be a whole number of steps >= 0, got {W!r}")
    names = {"init_lr": "initial_learning_rate", "end_lr": "warmup_target", "total_steps": "warmup_steps"}
    return Join([_make(families.Linear, names, init, peak, int(W)), decay], [int(W)])


def _restarts(c: Mapping[str, Any]) -> Schedule:
    init = _num(c, "initial_learning_rate")
    D = _num(c, "first_decay_steps")
    alpha = _unit("alpha", _num(c, "alpha", 0.0))
    t_mul, m_mul = _num(c, "t_mul", 2.0), _num(c, "m_mul", 1.0)
    if t_mul < 1:
        raise ValueError(f"{here()}: t_mul must be >= 1 (shrinking periods are not supported), got {t_mul!r}")
    if m_mul < 0:
        raise ValueError(
            f"{here()}: m_mul must be >= 0 (a negative one makes every other cycle < 0), got {m_mul!r}"
        )
    names = {"init_lr": "initial_learning_rate", "total_steps": "first_decay_steps", "min_lr": "alpha"}
    if m_mul == 0:
        # Keras' m_mul**0 = 1 for the first cycle, then 0: one cosine, holding init*alpha
        return _make(families.Cosine, names, init, D, min_lr=init * alpha)
    # Keras: init * ((1 - alpha) * m_mul**i * c + alpha), i.e. floor init*alpha, peak factor m_mul
    names = {"base_lr": "initial_learning_rate", "first_period": "first_decay_steps", "min_lr": "alpha"}
    names |= {"period_mult": "t_mul", "peak_decay": "m_mul"}
    return _make(families.WarmRestarts, names, init, D, t_mul, min_lr=init * alpha, peak_decay=m_mul)


_CONVERTERS = {
    "ExponentialDecay": _exponential,
    "PiecewiseConstantDecay": _piecewise,
    "PolynomialDecay": _polynomial,
    "InverseTimeDecay": _inverse_time,
    "CosineDecay": _cosine,
    "CosineDecayRestarts": _restarts,
}


def _keras_own(config: Mapping[str, Any]) -> None:
    """Refuse (``TypeError``) any class that is not Keras' own: Keras writes ``module``
    ``"keras.optimizers.schedules"`` and ``registered_name`` ``None`` for those; a user's
    class gets its own module (``None`` from ``__main__``) and a registered name."""
    name = config["class_name"]
    module = config.get("module", "keras.optimizers.schedules")
    registered = config.get("registered_name")
    if name in _CONVERTERS and module == "keras.optimizers.schedules" and registered is None:
        return
    if name in _CONVERTERS:
        off = [f"module {module!r}"] if module != "keras.optimizers.schedules" else []
        why = " and ".join(off + ([f"registered_name {registered!r}"] if registered is not None else []))
        raise TypeError(
            f"from_keras: {name!r} with {why} is a user's class, not Keras' own "
            f"keras.optimizers.schedules.{name}: a subclass (registered or not) may override "
            "__call__, which its config does not carry; write it as an lrsched schedule"
        )
    raise TypeError(
        f"from_keras: {module}.{name} is not one of keras.optimizers.schedules' {KERAS_CLASSES} "
        "(a custom schedule is arbitrary code; write it as an lrsched schedule)"
    )


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
    _keras_own(config)
    inner = config.get("config")
    if not isinstance(inner, Mapping):
        raise TypeError(f"from_keras({name}): config['config'] must be a dict, got {inner!r}")
    with place(f"from_keras({name})"):
        try:
            _known_keys(name, inner)
            return _CONVERTERS[name](inner)
        except ValueError as e:
            msg = str(e)
            raise ValueError(msg if msg.startswith(here()) else f"{here()}: {msg}") from None
