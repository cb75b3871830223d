r"""``from_timm``: a timm scheduler's learning-rate curve as an lrsched schedule.

timm's schedulers (``timm.scheduler``) are stateless functions of a count ``t``, given
explicitly: ``scheduler.step(epoch)`` when ``t_in_epochs`` (the default), else
``scheduler.step_update(num_updates)``; each sets every param group's lr to
``scheduler._get_lr(t)`` (times the group's ``lr_scale``, when it has one). The schedule
:func:`from_timm` returns is that function of ``t``: ``s(t) == _get_lr(t)[g] * lr_scale``
for every whole ``t >= 0``, to ``1e-12 * base_lr`` in float64 (and within the float32
contract when traced in JAX). Step mapping: lrsched's step ``k`` is timm's ``t = k``.

* ``t_in_epochs=True``: timm's training loop calls ``step(epoch + 1)`` after each epoch
  (the constructor set ``_get_lr(0)``), so epoch ``e`` trains with ``s(e)``. To drive a
  per-update count (Optax's) with it, pass ``steps_per_epoch=N``: the result is
  ``per_epoch(s, N)``, constant within each epoch.
* ``t_in_epochs=False``: the loop calls ``step_update(num_updates)`` after each update
  (``num_updates`` counting it), so update ``k`` (0-based) uses ``s(k)``: lrsched's own
  convention.

This module never imports timm: it recognises timm's classes by module and class name (and
refuses a subclass that overrides the lr formula), and reads the hyperparameters timm keeps
on the scheduler.
"""

from __future__ import annotations

import math
from typing import Any

import lrsched_jax.core as lrs
from lrsched_jax.core import Schedule, validate
from lrsched_jax.core.validate import place
from lrsched_torch._common import check_group

__all__ = ["from_timm"]

#: timm's classes this importer reads, by name; each is looked up in ``timm.scheduler.*``.
_CYCLIC = ("CosineLRScheduler", "TanhLRScheduler", "PolyLRScheduler")
_KNOWN = (*_CYCLIC, "StepLRScheduler", "MultiStepLRScheduler", "WSDLRScheduler", "PlateauLRScheduler")
#: The method whose definition must be timm's own (a subclass may not change the curve).
_FORMULA = {name: "_get_lr" for name in _KNOWN} | {"PlateauLRScheduler": "step"}


def _timm_class(scheduler: Any) -> type:
    """timm's own class among the scheduler's bases (module ``timm.scheduler...``)."""
    for cls in type(scheduler).__mro__:
        if cls.__name__ in _KNOWN and cls.__module__.split(".")[:2] == ["timm", "scheduler"]:
            return cls
    raise TypeError(
        f"from_timm: expected one of timm's schedulers ({', '.join(_KNOWN)}), got "
        f"{type(scheduler).__module__}.{type(scheduler).__qualname__}; torch's own schedulers go "
        "through lrsched_torch.from_torch"
    )


def _refuse_noise(name: str, scheduler: Any) -> None:
    noise = getattr(scheduler, "noise_range_t", None)
    if noise is not None:
        raise ValueError(
            f"from_timm({name}): lr noise (noise_range_t={noise!r}) is not reproduced: timm draws it "
            "from a torch.Generator seeded with noise_seed + t at every step (resampled until it is "
            "within noise_pct), which is not a formula of the step that runs traced in JAX; build "
            "the scheduler with noise_range_t=None (the default) to convert its curve"
        )


def _whole(name: str, attr: str, value: Any, minimum: int = 0) -> int:
    with place(f"from_timm({name})"):
        return validate.whole(attr, value, minimum)


def _held_cycles(name: str, s: Any, base: float) -> Schedule:
    """``PolyLRScheduler(power=0)``: ``(1 - t_curr**k / t_i**k) ** 0 == 1``, so each cycle holds
    its peak ``base * cycle_decay**i`` (``lr_min`` from cycle ``cycle_limit`` on)."""
    mult, T0, decay = float(s.cycle_mul), float(s.t_initial), float(s.cycle_decay)
    limit = _whole(name, "cycle_limit", s.cycle_limit)
    if limit == 0:
        return lrs.constant(float(s.lr_min))
    if mult == 1.0 and (decay <= 1.0 or limit > 10_000):
        # (growing peaks over few cycles are listed below: step_decay's growth must stay
        # bounded up to step 2**63, past the cycle limit)
        peaks = lrs.step_decay(base, int(T0) if T0.is_integer() else T0, decay)
        if limit * T0 >= 2.0**53:
            return peaks  # the cycles never end
        return lrs.sequence([peaks, lrs.constant(float(s.lr_min))], [math.ceil(limit * T0)], restart=False)
    starts: list[float] = []
    start, length = 0.0, T0
    while len(starts) < limit and start < 2.0**53:
        starts.append(start)
        start, length = start + length, length * mult
    values = [base * decay**i for i in range(len(starts))]
    if len(starts) == limit:
        values.append(float(s.lr_min))
    else:
        start = math.inf  # the cycles go on past every step drawn
    # a whole step t is in cycle n from ceil(start_n) on
    bounds = [math.ceil(b) for b in (*starts[1:], start) if math.isfinite(b)]
    return lrs.piecewise_constant(bounds, values) if bounds else lrs.constant(values[0])


def _wsd(name: str, s: Any, base: float) -> Schedule:
    """``WSDLRScheduler`` after its warm-up (always a prefix): ``warmup_stable_decay`` with
    timm's stable and decay shapes (``lr_min + (max(base*stable, lr_min) - lr_min) * decay``),
    ``lr_min`` from ``t_initial`` on."""
    fn = s.decay_fn
    if callable(fn):
        raise TypeError(
            f"from_timm({name}): decay_fn={fn!r} is arbitrary Python code, which from_timm cannot "
            "read; use decay_fn='linear', '1-sqrt', 'cosine', 'power' or 'exp', or write the curve "
            "as an lrsched schedule (e.g. lrs.warmup_stable_decay)"
        )
    total = _whole(name, "t_initial", s.t_initial, 1)
    D = _whole(name, "decay_t", s.decay_t, 1)
    low = float(s.lr_min)
    if low >= base:
        return lrs.constant(low)  # timm's max(base * stable, lr_min): nothing left to decay
    kw: dict[str, Any] = {"decay": fn, "min_lr": low}
    if fn == "power":
        kw["decay_power"] = float(s.decay_power)
    elif fn == "exp":
        kw["decay_ratio"] = float(s.decay_ratio)
    if s.stable_fn != "constant":
        # timm resolved its default (warmup_t) at construction; the warm-up is a prefix here
        kw.update(stable=s.stable_fn, stable_timescale=float(s.stable_timescale))
        if s.stable_fn == "power":
            kw["stable_power"] = float(s.stable_power)
    return lrs.warmup_stable_decay(base, total, 0, D, **kw)


def _check_cycle_decay(name: str, s: Any, base: float, mult: float) -> None:
    """``cycle_decay > 1`` grows the cycle peaks (``base * cycle_decay**i``): converted where the
    last drawn peak before step 2**63 stays at most 1e30 (``decay_cycles.peak_decay_limit``)."""
    with place(f"from_timm({name})"):
        decay = validate.number("cycle_decay", s.cycle_decay)
    if decay <= 0:
        raise ValueError(
            f"from_timm({name}): cycle_decay must be > 0 (lrsched's peak_decay is a factor whose "
            f"logarithm is taken), got {s.cycle_decay!r}"
        )
    if decay <= 1:
        return
    cycles = min(_whole(name, "cycle_limit", s.cycle_limit), 2**53)
    T0 = float(s.t_initial)
    limit = lrs.decay_cycles.peak_decay_limit(base, int(T0) if T0.is_integer() else T0, mult, cycles)
    if decay > limit:
        more = f"; with these t_initial, cycle_mul and cycle_limit at most {limit!r}" if limit > 1 else ""
        raise ValueError(
            f"from_timm({name}): cycle_decay={s.cycle_decay!r} grows the cycle peaks past "
            f"{validate.MAX_LR:g} before step 2**63 (a learning rate must stay finite at every "
            f"step){more}; lower cycle_decay or set cycle_limit"
        )


def _decay(name: str, s: Any, base: float) -> Schedule:
    """The curve after the warm-up (timm's ``_get_lr`` past ``warmup_t``), for one base lr."""
    if name == "WSDLRScheduler":
        return _wsd(name, s, base)
    if name in _CYCLIC:
        mult = float(s.cycle_mul)
        if not (mult == 1.0 or mult >= 1.001):
            why = (
                "below 1 the cycles shrink and timm's log formula fails after t_initial / (1 - cycle_mul)"
                if mult < 1
                else "between 1 and 1.001 the restart table to step 2**63 would exceed ~37,000 cycles"
            )
            raise ValueError(f"from_timm({name}): cycle_mul must be 1 or >= 1.001 ({why}), got {mult!r}")
        if s.cycle_limit < 0:
            raise ValueError(f"from_timm({name}): cycle_limit must be >= 0, got {s.cycle_limit!r}")
        _check_cycle_decay(name, s, base, mult)
        if name == "PolyLRScheduler" and s.power == 0:
            return _held_cycles(name, s, base)
        shape = {"CosineLRScheduler": "cosine", "TanhLRScheduler": "tanh", "PolyLRScheduler": "polynomial"}[
            name
        ]
        extra: dict[str, Any] = {}
        if shape == "tanh":
            extra.update(lb=s.lb, ub=s.ub)
        else:
            extra["k"] = s.k_decay
            if shape == "polynomial":
                extra["power"] = s.power
        return lrs.decay_cycles(
            base,
            s.t_initial,
            shape,
            min_lr=s.lr_min,
            period_mult=mult,
            peak_decay=s.cycle_decay,
            # timm's cycle_limit is an int; a huge one never ends (2**53 steps at least)
            cycles=min(_whole(name, "cycle_limit", s.cycle_limit), 2**53),
            **extra,
        )
    why = " (a negative one makes every other decayed lr negative)"
    with place(f"from_timm({name})"):
        rate = validate.at_least("decay_rate", s.decay_rate, why=why)
    if name == "StepLRScheduler":
        if rate > 1:
            limit = lrs.step_decay.gamma_limit(base, float(s.decay_t))
            if rate > limit:
                k = math.floor(2.0**63 / float(s.decay_t))
                raise ValueError(
                    f"from_timm({name}): decay_rate={s.decay_rate!r} grows the lr past "
                    f"{validate.MAX_LR:g} before step 2**63 (base_lr * decay_rate**{k} there); a "
                    f"growth must stay a finite learning rate at every step: decay_rate <= 1"
                    + (f", or <= {limit!r} with this decay_t and base lr" if limit > 1 else "")
                )
        if rate == 0:
            return lrs.piecewise_constant([math.ceil(float(s.decay_t))], [base, 0.0])
        # timm floors t / decay_t exactly (Python's float //); so does lrsched's staircase
        # (an exact remainder), also for a period such as 2.4 that float64 cannot hold
        return lrs.step_decay(base, float(s.decay_t), rate)
    # MultiStepLRScheduler: decay_rate ** bisect_right(decay_t, t + 1), i.e. each milestone
    # m counts from step m - 1 (timm's convention, one step before torch's MultiStepLR)
    ms = [float(m) for m in s.decay_t]
    if ms != sorted(ms):
        raise ValueError(f"from_timm({name}): decay_t must be sorted (timm bisects it), got {s.decay_t!r}")
    shifted = [math.ceil(m) - 1 for m in ms]  # m <= t + 1 <=> ceil(m) - 1 <= t for whole t
    early = sum(1 for m in shifted if m < 0)  # milestones at or below 0 apply from step 0
    start = base * rate**early
    rest = [m for m in shifted if m >= 0]
    if rate == 0 and rest and start:
        return lrs.piecewise_constant([rest[0]], [start, 0.0]) if rest[0] > 0 else lrs.constant(0.0)
    return lrs.multistep(start, rest, rate) if rest and start else lrs.constant(start)


def _group(name: str, s: Any, g: int) -> Schedule:
    base = float(s.base_values[g])
    decay = _decay(name, s, base)
    W = s.warmup_t
    if W:
        W = _whole(name, "warmup_t", W, 1)
        # timm's ramp warmup_lr_init + t * warmup_steps[g] ends where it aims: base_values[g],
        # or (TanhLRScheduler without warmup_prefix) its own value at t = warmup_t
        target = s.warmup_lr_init + W * s.warmup_steps[g]
        ramp = lrs.linear(s.warmup_lr_init, target, W)
        # warmup_prefix: the decay starts after the ramp (local time); else it runs in global t
        # WSDLRScheduler's warm-up is always a prefix
        decay = lrs.sequence([ramp, decay], [W], restart=bool(getattr(s, "warmup_prefix", True)))
    scale = s.optimizer.param_groups[g].get("lr_scale")
    return decay if scale is None else lrs.scale(decay, float(scale))


def _plateau(s: Any) -> lrs.reduce_on_plateau:
    if s.warmup_t:
        raise ValueError(
            f"from_timm(PlateauLRScheduler): warmup_t={s.warmup_t!r} is not reproduced: during the "
            "warm-up timm sets a per-epoch ramp and ignores the metrics, which the plateau state "
            "machine (lrsched_jax.reduce_on_plateau) has no phase for; build it with warmup_t=0, or "
            "put the ramp in front yourself"
        )
    inner = s.lr_scheduler
    if inner.last_epoch != 0:
        raise ValueError(
            f"from_timm(PlateauLRScheduler): the scheduler has already seen {inner.last_epoch} "
            "metrics; convert it before training (the machine's state starts fresh: init(lr))"
        )
    mins = [float(v) for v in inner.min_lrs]
    return lrs.reduce_on_plateau(
        mode=inner.mode,
        factor=inner.factor,
        patience=inner.patience,
        threshold=inner.threshold,
        threshold_mode=inner.threshold_mode,
        cooldown=inner.cooldown,
        min_lr=mins[0] if len(set(mins)) == 1 else mins,
        eps=inner.eps,
    )


@place("from_timm")
def from_timm(
    scheduler: Any, *, group: int | None = None, steps_per_epoch: int | None = None
) -> Schedule | tuple[Schedule, ...] | lrs.reduce_on_plateau:
    r"""The lrsched schedule with a timm scheduler's exact lr curve.

    ``s = from_timm(scheduler)`` satisfies ``s(t) == scheduler._get_lr(t)[g]`` (times the
    group's ``lr_scale``) for every whole ``t >= 0`` to ``1e-12 * base_lr`` in float64,
    where ``t`` is the epoch (``t_in_epochs=True``) or the update count (see the module
    docstring for how timm's training loop maps to lrsched's steps). One schedule, or a
    tuple with one per param group (``group=g`` picks one).

    * ``CosineLRScheduler``, ``TanhLRScheduler``, ``PolyLRScheduler`` →
      :func:`~lrsched_jax.decay_cycles` (``t_initial``, ``cycle_mul``, ``cycle_decay``,
      ``cycle_limit``, ``k_decay``, ``lr_min``, ``lb``/``ub``, ``power``);
    * ``PolyLRScheduler(power=0)``: ``x ** 0 == 1``, each cycle holds its peak →
      ``step_decay`` (``cycle_mul=1``) or ``piecewise_constant``, then ``lr_min``;
    * ``WSDLRScheduler`` → ``warmup_stable_decay`` after its warm-up prefix, every
      ``stable_fn`` (``'constant'``, ``'rsqrt'``, ``'power'``: ``stable_timescale``,
      ``stable_power``) and ``decay_fn`` (``'linear'``, ``'1-sqrt'``, ``'cosine'``, ``'power'``,
      ``'exp'``: ``decay_power``, ``decay_ratio``); a callable ``decay_fn`` raises ``TypeError``;
    * ``StepLRScheduler`` → ``step_decay``; ``MultiStepLRScheduler`` → ``multistep`` with each
      milestone ``m`` at step ``m - 1`` (timm compares milestones with ``t + 1``);
    * the warm-up (``warmup_t``, ``warmup_lr_init``) → ``sequence([linear(...), decay])``,
      with the decay in local time when ``warmup_prefix`` and in global ``t`` otherwise
      (timm's ramp ends at the base lr, or, for ``TanhLRScheduler`` without prefix, at the
      tanh value at ``warmup_t``);
    * ``PlateauLRScheduler`` (``warmup_t=0``) → :func:`~lrsched_jax.reduce_on_plateau` with
      the wrapped ``ReduceLROnPlateau``'s settings: update ``k`` of the machine is timm's
      ``step(k + 1, metric)`` (its training loop's call; ``step(0, ...)`` would set
      ``warmup_lr_init``). Its lr is a function of the metrics, so ``group`` and
      ``steps_per_epoch`` do not apply.

    The one place timm differs from the exact curve with ``cycle_mul != 1``: its cycle
    index is ``floor(log(1 - t/t_initial*(1 - cycle_mul), cycle_mul))``, and Python's
    ``math.log`` lands just below the whole number at some restarts (``cycle_mul=3``,
    ``t_initial=1``, ``t=121``: ``log(243, 3) = 4.999...``), where timm gives the previous
    cycle's last value instead of the new peak; this schedule restarts there.

    Refused (``ValueError`` naming timm's argument): lr noise (``noise_range_t`` — drawn
    from a torch generator seeded per step, not a formula of the step), ``cycle_mul`` below 1
    or in ``(1, 1.001)``, ``cycle_decay <= 0``, a growing ``cycle_decay > 1`` (or
    ``StepLRScheduler``'s ``decay_rate > 1``) whose lr would pass ``1e30`` before step 2**63
    (growth within it converts: ``decay_cycles(peak_decay > 1)``, ``step_decay(gamma > 1)``),
    negative ``cycle_limit``, unsorted ``decay_t``, ``decay_rate < 0`` (``0`` converts), a
    fractional ``warmup_t``, the plateau scheduler's warm-up, and a plateau scheduler that
    has already seen metrics. A subclass that overrides the lr formula raises ``TypeError``.

    >>> import torch
    >>> from lrsched_torch import from_timm
    >>> from timm.scheduler import CosineLRScheduler  # doctest: +SKIP
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # doctest: +SKIP
    >>> s = from_timm(CosineLRScheduler(opt, t_initial=10, warmup_t=2))  # doctest: +SKIP
    >>> float(s(0)), float(s(2)), float(s(10))  # doctest: +SKIP
    (0.0, 0.09045084971874737, 0.0)
    """
    cls = _timm_class(scheduler)
    name = cls.__name__
    method = _FORMULA[name]
    if getattr(type(scheduler), method) is not getattr(cls, method):
        raise TypeError(
            f"from_timm: {type(scheduler).__qualname__} overrides timm's {name}.{method}, so its "
            "curve is not timm's; convert a schedule written with lrsched instead"
        )
    _refuse_noise(name, scheduler)
    if name == "PlateauLRScheduler":
        if group is not None or steps_per_epoch is not None:
            raise ValueError("from_timm(PlateauLRScheduler): group and steps_per_epoch do not apply")
        return _plateau(scheduler)
    n = len(scheduler.base_values)
    check_group(group, n)
    if steps_per_epoch is not None and not scheduler.t_in_epochs:
        raise ValueError(
            "from_timm: steps_per_epoch applies to a scheduler with t_in_epochs=True; this one "
            "counts updates already (t_in_epochs=False)"
        )
    try:
        out = [_group(name, scheduler, g) for g in (range(n) if group is None else (group,))]
        if steps_per_epoch is not None:
            out = [lrs.per_epoch(s, steps_per_epoch) for s in out]
    except ValueError as e:
        msg = str(e)
        if not msg.startswith("from_timm"):
            msg = f"from_timm({name}): no exact lrsched equivalent: {msg}"
        raise ValueError(msg) from e
    return out[0] if len(out) == 1 else tuple(out)
