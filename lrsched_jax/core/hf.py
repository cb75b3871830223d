r"""Hugging Face ``transformers`` schedules as lrsched schedules.

:func:`from_hf` takes what ``transformers.get_scheduler(name, optimizer, num_warmup_steps,
num_training_steps, scheduler_specific_kwargs)`` takes (and what ``TrainingArguments``'
``lr_scheduler_type`` / ``lr_scheduler_kwargs`` pass to it), with the optimizer's lr as
``base_lr``, and returns the schedule whose value at step ``k`` is the lr that Hugging
Face's ``LambdaLR`` gives after ``k`` calls of ``scheduler.step()``: ``base_lr *
lr_lambda(k)``. :func:`from_hf_lambda` reads one of those ``lr_lambda`` objects (a
``functools.partial`` of a named function of ``transformers.optimization``) — the part
``lrsched_torch.from_torch`` uses to convert a ``LambdaLR`` that Hugging Face built.

What is exact: every step ``k >= 0`` that Hugging Face defines, *including past*
``num_training_steps``, where Hugging Face's formulas keep going and lrsched follows them
instead of its own hold rule: ``cosine``/``cosine_with_min_lr``/``cosine_warmup_with_min_lr``
continue the cosine (the lr climbs back up: a periodic cosine), ``linear`` and
``cosine_with_restarts`` stay at 0, ``polynomial`` at ``lr_end``, ``warmup_stable_decay``
at ``min_lr_ratio * base_lr``, ``inverse_sqrt`` decays for ever. Float64 values agree with
``transformers`` to ``1e-12 * base_lr`` (they are the same formulas, rounded differently);
the restarts of ``cosine_with_restarts`` are placed on the step where Hugging Face's own
float arithmetic places them (``(num_cycles * progress) % 1`` can round just below a
whole number and restart one step late), read off on the host when converting. A negative
``num_cycles`` there is converted too: Python's ``%`` makes the phase ``1 - frac(|num_cycles| *
progress)``, so each of its windows *rises* from 0 to ``base_lr`` (a whole ``|num_cycles| *
progress`` has phase 0: ``base_lr``).

Refused, with ``ValueError``: arguments Hugging Face itself rejects or divides by zero on
(``polynomial`` with ``num_training_steps == num_warmup_steps``, ``lr_end >= base_lr``),
negative step counts, ``min_lr_rate``/``min_lr_ratio``/``warmup_lr_rate < 0`` (a negative
factor is clipped to 0 by Hugging Face, a curve no lrsched family draws),
``power < 0`` (Hugging Face divides
by zero at ``num_training_steps``; ``power=0`` holds the lr up to that step, then
``lr_end``), more than 1000 hard restarts. ``greedy`` (``GreedyLR``)
raises ``TypeError``: its lr follows the metric, with rules lrsched does not model.
``reduce_lr_on_plateau`` returns :func:`~lrsched_jax.core.reduce_on_plateau` (torch's
``ReduceLROnPlateau``, which Hugging Face builds, as a state machine), not a schedule.
"""

from __future__ import annotations

import functools
import itertools
import math
import sys
from collections.abc import Callable
from typing import Any

from lrsched_jax.core import families, validate
from lrsched_jax.core.combinators import Join, Scale, Shift
from lrsched_jax.core.plateau import ReduceOnPlateau
from lrsched_jax.core.schedule import Schedule
from lrsched_jax.core.validate import here, place

__all__ = ["from_hf", "from_hf_lambda", "HF_NAMES"]

#: The names ``transformers.get_scheduler`` accepts that :func:`from_hf` converts.
HF_NAMES = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "reduce_lr_on_plateau",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
    "warmup_stable_decay",
)

#: At most this many hard restarts (one cosine window each) in ``cosine_with_restarts``.
MAX_RESTARTS = 1000

_HF_MODULE = "transformers.optimization"


def _count(name: str, value: Any) -> int:
    return validate.whole(name, value, unit="steps")


def _nonneg(name: str, value: Any) -> float:
    why = " (Hugging Face clips the negative lr factor this gives to 0, a curve no lrsched family draws)"
    return validate.at_least(name, value, why=why)


def _after_ramp(base: float, warm: int, rest: Schedule, ramp: Schedule | None = None) -> Schedule:
    """Hugging Face's warm-up ``base * t / max(1, W)`` for ``t < W``, then ``rest(t - W)``."""
    if warm == 0:
        return rest
    return Join([ramp if ramp is not None else families.Linear(0.0, base, warm), rest], [warm])


def _cos_factor(base: float, low: float, span: float, cycles: float) -> Schedule:
    """``low + (base - low) * (1 + cos(2*pi*cycles*u/span)) / 2`` for every ``u >= 0``."""
    # cos is even: Hugging Face's cos(2*pi*num_cycles*progress) is the same for -num_cycles
    cycles = abs(validate.number("num_cycles", cycles))
    if cycles == 0.0:
        return families.Constant(base)
    return families.Cosine(base, span / (2.0 * cycles), min_lr=low, periodic=True)


# --- one builder per Hugging Face lr_lambda, taking its keyword arguments ----------------------


def _constant(base: float) -> Schedule:
    return families.Constant(base)


@place("from_hf('constant_with_warmup')")
def _constant_with_warmup(base: float, *, num_warmup_steps: int) -> Schedule:
    W = _count("num_warmup_steps", num_warmup_steps)
    return _after_ramp(base, W, families.Constant(base))


@place("from_hf('linear')")
def _linear(base: float, *, num_warmup_steps: int, num_training_steps: int) -> Schedule:
    W = _count("num_warmup_steps", num_warmup_steps)
    T = _count("num_training_steps", num_training_steps)
    if T <= W:
        # (T - t) / max(1, T - W) <= 0 from the first step after the warm-up: clipped to 0
        return _after_ramp(base, W, families.Constant(0.0))
    if W == 0:
        return families.PiecewiseLinear([0, T], [base, 0.0])
    return families.PiecewiseLinear([0, W, T], [0.0, base, 0.0])


def _cosine(
    base: float,
    *,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    min_lr_rate: float = 0.0,
) -> Schedule:
    with place("from_hf('cosine')" if not min_lr_rate else "from_hf('cosine_with_min_lr')"):
        W = _count("num_warmup_steps", num_warmup_steps)
        T = _count("num_training_steps", num_training_steps)
        rate = _nonneg("min_lr_rate", min_lr_rate)
        rest = _cos_factor(base, base * rate, max(1, T - W), num_cycles)
        return _after_ramp(base, W, rest)


@place("from_hf('cosine_warmup_with_min_lr')")
def _cosine_warmup_min_lr(
    base: float,
    *,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float,
    min_lr_rate: float = 0.0,
    warmup_lr_rate: float | None = None,
) -> Schedule:
    W = _count("num_warmup_steps", num_warmup_steps)
    T = _count("num_training_steps", num_training_steps)
    rate = _nonneg("min_lr_rate", min_lr_rate)
    # the cosine is one step ahead: progress = (t - W + 1) / max(1, T - W)
    rest = Shift(_cos_factor(base, base * rate, max(1, T - W), num_cycles), 1)
    if W == 0:
        return rest
    if warmup_lr_rate is None:
        # (t + 1) / max(1, W): base / W at step 0, base at step W - 1
        first = base / W
    else:
        first = base * _nonneg("warmup_lr_rate", warmup_lr_rate)
    ramp = families.Constant(first) if W == 1 else families.PiecewiseLinear([0, W - 1], [first, base])
    return _after_ramp(base, W, rest, ramp)


def _hf_cycle(nc: float, m: int, D: int) -> int:
    """Hugging Face's cycle index at ``m`` steps after the warm-up, in its float arithmetic."""
    return math.floor(nc * (float(m) / float(D)))


@place("from_hf('cosine_with_restarts')")
def _cosine_restarts(
    base: float, *, num_warmup_steps: int, num_training_steps: int, num_cycles: float = 1
) -> Schedule:
    W = _count("num_warmup_steps", num_warmup_steps)
    T = _count("num_training_steps", num_training_steps)
    nc = validate.number("num_cycles", num_cycles)
    D = max(1, T - W)
    if nc < 0:
        if math.ceil(-nc) > MAX_RESTARTS:
            raise ValueError(f"{here()}: num_cycles must be at least -{MAX_RESTARTS}, got {num_cycles!r}")
        return _after_ramp(base, W, _rising_restarts(base, -nc, D))
    if nc == 0.0:
        # (0 * progress) % 1 = 0: the factor is 1 until progress reaches 1
        return _after_ramp(base, W, Join([families.Constant(base), families.Constant(0.0)], [D]))
    n = math.ceil(nc)
    if n > MAX_RESTARTS:
        raise ValueError(f"{here()}: num_cycles must be at most {MAX_RESTARTS}, got {num_cycles!r}")
    length = D / nc
    # cycle j's window starts at the first step whose Hugging Face cycle index reaches j (the
    # index is monotone in the step); a cycle shorter than a step may share its first step
    # with later ones, and the last of them is the one in force there
    first: dict[int, float] = {0: 0.0}
    for j in range(1, n):
        anchor = j * D / nc
        m = max(math.floor(anchor) - 2, 0)
        while _hf_cycle(nc, m, D) < j:
            m += 1
        if m >= D:
            break
        first[m] = anchor
    starts = sorted(first)[1:]
    parts: list[Schedule] = []
    for m in (0, *starts):
        # the window keeps its exact phase (t - anchor) / length from the step it takes over
        shift = max(m - first[m], 0.0)
        window = families.Cosine(base, length)
        parts.append(Shift(window, shift) if shift else window)
    parts.append(families.Constant(0.0))  # progress >= 1: 0
    return _after_ramp(base, W, Join(parts, [*starts, D]))


def _rising_restarts(base: float, nc: float, D: int) -> Schedule:
    """``cosine_with_restarts`` with ``num_cycles = -nc < 0`` after the warm-up: Hugging Face's
    phase ``(-nc*progress) % 1`` is ``1 - frac(a)`` with ``a = nc*progress``, so each of the
    ``nc`` windows *rises* ``base * (1 - cos(pi*frac(a)))/2`` from 0 to ``base``, and a step
    where ``a`` is a whole number (step 0, an exact restart) has phase 0: ``base``, the end of
    the window before. Window ``j`` holds the steps with ``j < a <= j + 1`` in Hugging Face's
    float arithmetic (read off on the host), at its exact phase; 0 from ``progress >= 1``."""
    length = D / nc
    first: dict[int, float] = {}
    for j in range(math.ceil(nc)):
        anchor = j * D / nc
        m = max(math.floor(anchor) - 2, 1)
        while nc * (float(m) / float(D)) <= j:
            m += 1
        if m >= D:
            break
        first[m] = anchor  # a window shorter than a step: the last one starting here is in force
    starts = sorted(first)
    # Cosine(0 -> base) held at base past its length: the end of a window, phase 1
    parts: list[Schedule] = [families.Constant(base)]
    for m in starts:
        shift = max(m - first[m], 0.0)
        window = families.Cosine(0.0, length, min_lr=base)
        parts.append(Shift(window, shift) if shift else window)
    parts.append(families.Constant(0.0))  # progress >= 1: 0
    return Join(parts, [*starts, D])


@place("from_hf('polynomial')")
def _polynomial(
    base: float,
    *,
    num_warmup_steps: int,
    num_training_steps: int,
    lr_end: float = 1e-7,
    power: float = 1.0,
    lr_init: float,
) -> Schedule:
    W = _count("num_warmup_steps", num_warmup_steps)
    T = _count("num_training_steps", num_training_steps)
    end = _nonneg("lr_end", lr_end)
    init = validate.number("lr_init", lr_init)
    p = validate.number("power", power)
    if not init > end:
        raise ValueError(
            f"{here()}: lr_end ({end!r}) must be smaller than base_lr, the optimizer's lr ({init!r}), "
            "as Hugging Face requires"
        )
    if p < 0:
        raise ValueError(
            f"{here()}: power must be >= 0, got {power!r} (Hugging Face raises 0.0 to it at "
            "num_training_steps: ZeroDivisionError)"
        )
    if T == W:
        raise ValueError(
            f"{here()}: num_training_steps == num_warmup_steps ({T}) makes Hugging Face divide by zero "
            "at that step"
        )
    rest: Schedule
    if T < W:
        rest = families.Constant(end)
    elif p == 0:
        # pct_remaining ** 0 == 1 up to num_training_steps itself (0.0 ** 0 == 1 in Python)
        rest = Join([families.Constant(init), families.Constant(end)], [T - W + 1])
    else:
        rest = families.Polynomial(init, T - W, end_lr=end, power=p)
    sched = _after_ramp(init, W, rest)
    # LambdaLR multiplies the group's lr by (decay / lr_init)
    return sched if base == init else Scale(sched, base / init)


@place("from_hf('inverse_sqrt')")
def _inverse_sqrt(base: float, *, num_warmup_steps: int, timescale: float | None = None) -> Schedule:
    W = _count("num_warmup_steps", num_warmup_steps)
    if timescale is None:
        raise ValueError(f"{here()}: timescale must be given (get_inverse_sqrt_schedule sets it)")
    ts = validate.number("timescale", timescale)
    if ts <= 0:
        raise ValueError(f"{here()}: timescale must be > 0, got {timescale!r}")
    return families.InverseSqrt(base, W, timescale=ts)


_SHAPES = ("linear", "cosine", "1-sqrt")


@place("from_hf('warmup_stable_decay')")
def _wsd(
    base: float,
    *,
    num_warmup_steps: int,
    num_stable_steps: int,
    num_decay_steps: int,
    warmup_type: str = "linear",
    decay_type: str = "cosine",
    min_lr_ratio: float = 0.0,
    num_cycles: float = 0.5,
) -> Schedule:
    W = _count("num_warmup_steps", num_warmup_steps)
    S = validate.number("num_stable_steps", num_stable_steps)
    if not S.is_integer():
        raise ValueError(f"{here()}: num_stable_steps must be a whole number, got {num_stable_steps!r}")
    S = int(S)  # negative when num_warmup_steps + num_decay_steps exceed num_training_steps
    Dd = _count("num_decay_steps", num_decay_steps)
    r = _nonneg("min_lr_ratio", min_lr_ratio)
    for name, kind in (("warmup_type", warmup_type), ("decay_type", decay_type)):
        if kind not in _SHAPES:
            raise ValueError(f"{here()}: {name} must be one of {_SHAPES}, got {kind!r}")
    low = base * r
    phases: list[tuple[int, Schedule]] = []
    if W:
        if warmup_type == "linear":
            warm: Schedule = families.Linear(low, base, W)
        elif warmup_type == "cosine":
            warm = families.Cosine(low, W, min_lr=base)  # r + (1 - r) * (1 - cos(pi*p)) / 2
        else:
            warm = families.Polynomial(low, W, end_lr=base, power=0.5)  # 1 - (1 - r) * sqrt(1 - p)
        phases.append((W, warm))
    if S > 0:
        phases.append((S, families.Constant(base)))
    # Hugging Face's decay runs while t < W + S + D with progress (t - W - S) / D: with S < 0
    # it starts -S steps into the decay at step W, and is over by W + S + D
    skipped = max(-S, 0)
    if Dd > skipped:
        if decay_type == "linear":
            dec: Schedule = families.Linear(base, low, Dd)
        elif decay_type == "cosine":
            dec = _cos_factor(base, low, Dd, num_cycles)
        else:
            dec = families.WarmupStableDecay(base, Dd, 0, Dd, decay="1-sqrt", min_lr=low)
        phases.append((Dd - skipped, Shift(dec, skipped) if skipped else dec))
    schedules = [s for _, s in phases] + [families.Constant(low)]
    bounds = list(itertools.accumulate(n for n, _ in phases))
    return schedules[0] if not bounds else Join(schedules, bounds)


# lr_lambda function name in transformers.optimization -> builder (same keyword arguments)
_BUILDERS: dict[str, Callable[..., Schedule]] = {
    "_get_constant_lambda": lambda base, *a: _constant(base),
    "_get_constant_schedule_with_warmup_lr_lambda": _constant_with_warmup,
    "_get_linear_schedule_with_warmup_lr_lambda": _linear,
    "_get_cosine_schedule_with_warmup_lr_lambda": _cosine,
    "_get_cosine_with_hard_restarts_schedule_with_warmup_lr_lambda": _cosine_restarts,
    "_get_polynomial_decay_schedule_with_warmup_lr_lambda": _polynomial,
    "_get_inverse_sqrt_schedule_lr_lambda": _inverse_sqrt,
    "_get_cosine_with_min_lr_schedule_with_warmup_lr_rate_lambda": _cosine_warmup_min_lr,
    "_get_wsd_scheduler_lambda": _wsd,
}


def from_hf_lambda(fn: Any, base_lr: float) -> Schedule | None:
    """The schedule ``base_lr * fn(k)`` for an ``lr_lambda`` that ``transformers`` built, else ``None``.

    Recognised: the ``functools.partial`` objects (and the plain constant function) that the
    schedule functions of ``transformers.optimization`` pass to ``LambdaLR``; the function
    must be that module's own (the module must be imported — it is, if it built ``fn``).
    Any other callable gives ``None`` (arbitrary code has no readable curve). Keyword
    arguments Hugging Face would reject raise ``TypeError``/``ValueError``.
    """
    mod = sys.modules.get(_HF_MODULE)
    if mod is None:
        return None
    func, kwargs = (fn.func, dict(fn.keywords)) if isinstance(fn, functools.partial) else (fn, {})
    if isinstance(fn, functools.partial) and fn.args:
        return None
    name = getattr(func, "__name__", None)
    if getattr(func, "__module__", None) != _HF_MODULE or name not in _BUILDERS:
        return None
    if getattr(mod, name, None) is not func:
        return None
    base = float(base_lr)
    try:
        return _BUILDERS[name](base, **kwargs)
    except TypeError as e:
        raise TypeError(f"from_hf_lambda: {name} with keywords {sorted(kwargs)}: {e}") from None


def _kwargs(given: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    extra = sorted(set(given) - set(allowed))
    if extra:
        raise TypeError(
            f"{here()}: unexpected scheduler_specific_kwargs {extra} (accepted: {list(allowed) or 'none'})"
        )
    return dict(given)


def _wsd_of(base: float, W: int, num_training_steps: int | None, kw: dict[str, Any]) -> Schedule:
    """``warmup_stable_decay`` from ``get_scheduler``'s arguments: ``num_stable_steps``, or
    what ``num_training_steps`` leaves after the warm-up and the decay."""
    allowed = (
        "num_decay_steps",
        "num_stable_steps",
        "warmup_type",
        "decay_type",
        "min_lr_ratio",
        "num_cycles",
    )
    kw = _kwargs(kw, allowed)
    if "num_decay_steps" not in kw:
        raise TypeError(f"{here()}: num_decay_steps is required (in scheduler_specific_kwargs)")
    stable = kw.pop("num_stable_steps", None)
    if stable is None:
        if num_training_steps is None:
            raise ValueError(f"{here()}: either num_training_steps or num_stable_steps must be specified")
        # negative when the warm-up and decay exceed num_training_steps: Hugging Face then
        # starts the decay part-way (and may skip it), which _wsd follows
        stable = (
            _count("num_training_steps", num_training_steps)
            - _count("num_warmup_steps", W)
            - _count("num_decay_steps", kw["num_decay_steps"])
        )
    return _wsd(base, num_warmup_steps=W, num_stable_steps=stable, **kw)


def _min_lr_rate(base: float, kw: dict[str, Any]) -> float:
    """The cosines' floor relative to ``base``: ``min_lr / base`` or ``min_lr_rate``, exactly
    one of them (taken out of ``kw``)."""
    min_lr, rate = kw.pop("min_lr", None), kw.pop("min_lr_rate", None)
    if min_lr is not None and rate is not None:
        raise ValueError(f"{here()}: only one of min_lr or min_lr_rate should be set")
    if min_lr is not None:
        if base == 0:
            raise ValueError(f"{here()}: min_lr needs base_lr > 0 (Hugging Face divides by it)")
        return validate.number("min_lr", min_lr) / base
    if rate is None:
        raise ValueError(f"{here()}: one of min_lr or min_lr_rate must be set")
    return rate


def from_hf(
    name: str,
    *,
    base_lr: float,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    **scheduler_specific_kwargs: Any,
) -> Schedule | ReduceOnPlateau:
    r"""The lrsched schedule of ``transformers.get_scheduler(name, ...)`` on an optimizer with lr ``base_lr``.

    ``from_hf(name, base_lr=lr, num_warmup_steps=W, num_training_steps=T, **kw)`` has, at
    every step ``k >= 0``, the lr of ``get_scheduler(name, opt, W, T,
    scheduler_specific_kwargs=kw)`` after ``k`` calls of ``step()`` (float64 within
    ``1e-12 * base_lr``), past ``T`` too: Hugging Face's own continuation (see
    :mod:`lrsched_jax.core.hf`). ``name`` is one of :data:`HF_NAMES` (a
    ``SchedulerType``'s value); the arguments are ``get_scheduler``'s and mean the same
    (``cosine_with_min_lr``'s ``min_lr`` is absolute, ``min_lr_rate`` relative to
    ``base_lr``). ``reduce_lr_on_plateau`` returns
    :func:`~lrsched_jax.core.reduce_on_plateau` with ``kw``.

    >>> import lrsched_jax as lrs
    >>> s = lrs.from_hf("linear", base_lr=1.0, num_warmup_steps=2, num_training_steps=6)
    >>> [float(s(k)) for k in range(8)]
    [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """
    kind = getattr(name, "value", name)  # a SchedulerType is a str enum
    if not isinstance(kind, str):
        raise TypeError(f"from_hf: name must be a scheduler name (str), got {name!r}")
    with place(f"from_hf({kind!r})"):
        if kind == "greedy":
            raise TypeError(
                f"{here()}: GreedyLR raises and lowers the lr from the metric passed to step(), with "
                "rules of its own; it is no function of the step, and lrsched has no model of it"
            )
        if kind not in HF_NAMES:
            raise ValueError(f"from_hf: unknown scheduler name {kind!r}; one of {HF_NAMES}")
        base = validate.number("base_lr", base_lr)
        kw = scheduler_specific_kwargs
        if kind == "constant":
            return _constant(base)
        if kind == "reduce_lr_on_plateau":
            return ReduceOnPlateau(**kw)
        if num_warmup_steps is None:
            raise ValueError(f"{here()} requires num_warmup_steps, as get_scheduler does")
        W = num_warmup_steps
        if kind == "constant_with_warmup":
            return _constant_with_warmup(base, num_warmup_steps=W)  # get_scheduler passes no kwargs
        if kind == "inverse_sqrt":
            kw = _kwargs(kw, ("timescale",))
            ts = kw.get("timescale")
            if ts is None:
                ts = _count("num_warmup_steps", W) or 10_000
            return _inverse_sqrt(base, num_warmup_steps=W, timescale=ts)
        if kind == "warmup_stable_decay":
            return _wsd_of(base, W, num_training_steps, kw)
        if num_training_steps is None:
            raise ValueError(f"{here()} requires num_training_steps, as get_scheduler does")
        T = num_training_steps
        if kind == "linear":
            _kwargs(kw, ())
            return _linear(base, num_warmup_steps=W, num_training_steps=T)
        if kind == "cosine":
            kw = _kwargs(kw, ("num_cycles",))
            return _cosine(base, num_warmup_steps=W, num_training_steps=T, **kw)
        if kind == "cosine_with_restarts":
            kw = _kwargs(kw, ("num_cycles",))
            return _cosine_restarts(base, num_warmup_steps=W, num_training_steps=T, **kw)
        if kind == "polynomial":
            kw = _kwargs(kw, ("lr_end", "power"))
            return _polynomial(base, num_warmup_steps=W, num_training_steps=T, lr_init=base, **kw)
        # cosine_with_min_lr, cosine_warmup_with_min_lr: min_lr (absolute) or min_lr_rate
        extra = ("warmup_lr_rate",) if kind == "cosine_warmup_with_min_lr" else ()
        kw = _kwargs(kw, ("num_cycles", "min_lr", "min_lr_rate", *extra))
        rate = _min_lr_rate(base, kw)
        if kind == "cosine_with_min_lr":
            return _cosine(base, num_warmup_steps=W, num_training_steps=T, min_lr_rate=rate, **kw)
        kw.setdefault("num_cycles", 0.5)
        return _cosine_warmup_min_lr(base, num_warmup_steps=W, num_training_steps=T, min_lr_rate=rate, **kw)
