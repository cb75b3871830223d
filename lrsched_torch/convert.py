"""``from_torch``: a torch scheduler's learning-rate curve as an ``lrsched_jax`` schedule.

The porting path: a torch recipe's scheduler becomes the Optax schedule in one call. The
conversion composes existing ``lrsched_jax`` schedules (families, ``piecewise_constant``,
``sequence``, ``product``, ``scale``, ``shift``); it adds no schedule math of its own.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.optim import lr_scheduler as tl

import lrsched_jax.core as lrs
from lrsched_jax.core import Schedule, validate
from lrsched_jax.core.validate import here, place
from lrsched_torch._common import as_float, check_group, check_step
from lrsched_torch.schedule_lr import ScheduleLR

__all__ = ["from_torch", "UnconvertedFieldWarning"]


class _UnsupportedError(TypeError):
    pass


def _name(s: Any) -> str:
    return type(s).__name__


def _num(name: str, value: Any) -> float:
    if isinstance(value, torch.Tensor):
        value = value.item()
    return validate.number(name, value)


def _whole(name: str, value: Any, minimum: int) -> int:
    return validate.whole(name, value.item() if isinstance(value, torch.Tensor) else value, minimum)


def _positive(name: str, value: Any) -> float:
    v = _num(name, value)
    if v <= 0:
        raise ValueError(f"{here()}: {name} must be > 0, got {value!r}")
    return v


def _base(s: Any, g: int) -> float:
    return as_float(f"base_lrs[{g}]", s.base_lrs[g])


# --- the chainable (recursive, multiplicative) schedulers -------------------------------------
# Each builder gives the curve of one scheduler started at lr ``base``. ``restart=False``:
# started by its constructor's initial step (``lr(0)`` from the group's current lr, then the
# recursive ``get_lr``). ``restart=True``: started by ``SequentialLR`` at a milestone, whose
# ``_update_lr(0)`` sets ``lr(0)`` from the scheduler's closed form at 0 (the two differ only
# in edge cases, handled in the builders).


def _growing(gamma: float, base: float, period: int) -> Schedule | None:
    """torch's ``StepLR``/``ExponentialLR`` with ``gamma > 1`` multiply the lr by ``gamma``
    every ``period`` steps: converted (``step_decay``) where every value up to step 2**63 stays
    a learning rate ``<= 1e30`` (``step_decay.gamma_limit``); refused naming ``gamma`` beyond.
    ``None`` for ``gamma <= 1``. From ``base = 0`` torch's products stay 0."""
    if gamma <= 1:
        return None
    if base == 0:
        return lrs.constant(0.0)
    limit = lrs.step_decay.gamma_limit(base, period)
    if gamma > limit:
        past = period * (math.floor(math.log(validate.MAX_LR / base) / math.log(gamma)) + 1)
        more = f"; with step_size={period} at most {limit!r}" if limit > 1 else ""
        raise ValueError(
            f"{here()}: gamma={gamma!r} > 1 grows the lr without bound: base_lr * gamma**(t // "
            f"{period}) passes {validate.MAX_LR:g} by step {past:,}, before step 2**63 (a schedule "
            f"must stay a finite learning rate at every step){more}"
        )
    return lrs.step_decay(base, period, gamma)


def _step_lr(s: Any, base: float, restart: bool) -> Schedule:
    size, gamma = _whole("step_size", s.step_size, 1), _positive("gamma", s.gamma)
    grown = _growing(gamma, base, size)
    return lrs.step_decay(base, size, gamma) if grown is None else grown


def _multistep_lr(s: Any, base: float, restart: bool) -> Schedule:
    gamma = _positive("gamma", s.gamma)
    ms = [_num("milestones", m) for m in s.milestones.elements()]
    # The recursion only fires at whole steps >= 1 (0 at the initial step); the closed form
    # a restart uses at step 0 counts every milestone <= 0.
    at0 = sum(1 for m in ms if (m <= 0 if restart else m == 0))
    later = sorted(int(m) for m in ms if m >= 1 and m.is_integer())
    if at0 + len(later) == 0:
        return lrs.constant(base)
    return lrs.multistep(base, [0] * at0 + later, gamma)


def _constant_lr(s: Any, base: float, restart: bool) -> Schedule:
    factor = _num("factor", s.factor)
    if not 0 <= factor <= 1:
        raise ValueError(f"{here()}: factor must be in [0, 1], got {s.factor!r}")
    total = _whole("total_iters", s.total_iters, -(2**62))
    if total <= 0:
        # Never undone by the recursion; the closed form at 0 already counts it as done.
        return lrs.constant(base * (factor + (1 - factor)) if restart else base * factor)
    # torch divides by factor at total_iters (ZeroDivisionError when factor == 0, so the
    # value after it is then the closed form's, base).
    after = base * factor * (1.0 / factor) if factor > 0 else base
    return lrs.piecewise_constant([total], [base * factor, after])


def _linear_lr(s: Any, base: float, restart: bool) -> Schedule:
    sf = _num("start_factor", s.start_factor)
    ef = _num("end_factor", s.end_factor)
    total = _whole("total_iters", s.total_iters, 0)
    if total == 0:
        if restart:
            raise ValueError(f"{here()}: total_iters=0 makes torch divide by zero when restarted")
        return lrs.constant(base * sf)
    return lrs.linear(base * sf, base * ef, total)


def _exponential_lr(s: Any, base: float, restart: bool) -> Schedule:
    gamma = _positive("gamma", s.gamma)
    grown = _growing(gamma, base, 1)
    return lrs.exponential(base, gamma) if grown is None else grown


def _polynomial_lr(s: Any, base: float, restart: bool) -> Schedule:
    total = _whole("total_iters", s.total_iters, 0)
    power = _num("power", s.power)
    if power < 0:
        raise ValueError(f"{here()}: power must be >= 0 (torch divides by zero), got {power!r}")
    if total == 0 and restart:
        raise ValueError(f"{here()}: total_iters=0 makes torch divide by zero when restarted")
    if total == 0 or power == 0:
        return lrs.constant(base)
    return lrs.polynomial(base, total, 0.0, power)


def _cosine_lr(s: Any, base: float, restart: bool = False) -> Schedule:
    T = _positive("T_max", s.T_max)
    eta = validate.at_least("eta_min", s.eta_min)
    return lrs.cosine(base, int(T) if T.is_integer() else T, eta, periodic=True)


# The step from which a multiplicative scheduler stops changing the lr with its settled factor
# equal to 1 (0 if it never changes it), or None: what ChainedScheduler with a cosine needs.


def _settles_gamma(s: Any) -> float | None:
    return 0 if s.gamma == 1 else None


def _settles_multistep(s: Any) -> float | None:
    return 0 if s.gamma == 1 or not s.milestones else None


def _settles_constant(s: Any) -> float | None:
    if s.factor == 1:
        return 0
    return s.total_iters if s.total_iters >= 1 and s.factor > 0 else None


def _settles_linear(s: Any) -> float | None:
    if s.start_factor == 1 and (s.end_factor == 1 or s.total_iters == 0):
        return 0
    return s.total_iters if s.end_factor == 1 else None


def _settles_polynomial(s: Any) -> float | None:
    return 0 if s.power == 0 or s.total_iters == 0 else None


# --- the absolute schedulers (they overwrite the lr from their own state) ---------------------
# ``constructed``: step 0's lr is the one the scheduler's own constructor set (not one set by
# SequentialLR, which re-runs the initial step or restarts it after construction).


def _schedule_lr(s: Any, g: int, constructed: bool) -> Schedule:
    sched = s.schedules[g]
    if s.mode == "absolute":
        return sched
    base = _base(s, g)
    return sched if base == 1.0 else lrs.scale(sched, base)


def _lambda_lr(s: Any, g: int, constructed: bool) -> Schedule:
    base = _base(s, g)
    fn = s.lr_lambdas[g]
    if not isinstance(fn, Schedule):
        hf = lrs.from_hf_lambda(fn, base)
        assert hf is not None  # _lambda_readable checked it
        return hf
    return fn if base == 1.0 else lrs.scale(fn, base)


def _lambda_readable(s: Any) -> None:
    # lrsched schedules, or the lr_lambdas Hugging Face's schedule functions build
    if all(isinstance(f, Schedule) or lrs.from_hf_lambda(f, 1.0) is not None for f in s.lr_lambdas):
        return
    raise TypeError(
        "from_torch: LambdaLR with a Python function: from_torch cannot read a curve out of arbitrary "
        "code; write the function as an lrsched schedule (e.g. lrsched_jax.warmup_cosine, "
        "piecewise_linear, sequence, product) and use lrsched_torch.ScheduleLR(optimizer, schedule, "
        "mode='multiplier') — the same curve in torch, and from_torch converts it"
    )


def _warm_restarts_lr(s: Any, g: int, constructed: bool) -> Schedule:
    return lrs.warm_restarts(
        _base(s, g),
        _whole("T_0", s.T_0, 1),
        _whole("T_mult", s.T_mult, 1),
        _num("eta_min", s.eta_min),
    )


def _cyclic_lr(s: Any, g: int, constructed: bool) -> Schedule:
    if s._scale_fn_custom is not None:
        raise TypeError(
            f"{here()}: a custom scale_fn is arbitrary Python code, which from_torch cannot read; use "
            "mode='triangular', 'triangular2' or 'exp_range', or write the curve as an lrsched schedule"
        )
    base = _base(s, g)
    top = as_float(f"max_lrs[{g}]", s.max_lrs[g])
    cyc = _cyclic_wave(s, base, top)
    # CyclicLR's constructor takes its initial step before it sets its own base_lrs, so
    # step 0 gets the group's initial_lr when one was already there (an earlier scheduler).
    first = as_float("initial_lr", s.optimizer.param_groups[g].get("initial_lr", base))
    if constructed and first != base:
        return lrs.sequence([lrs.constant(first), cyc], [1], restart=False)
    return cyc


def _one_cycle_lr(s: Any, g: int, constructed: bool) -> Schedule:
    group = s.optimizer.param_groups[g]
    # torch reads these group entries at every step (it does not keep div factors).
    initial = as_float("initial_lr", group["initial_lr"])
    peak = as_float("max_lr", group["max_lr"])
    final = as_float("min_lr", group["min_lr"])
    shape = _one_cycle_shape(s)
    if peak == 0.0 and initial == 0.0 and final == 0.0:
        return lrs.constant(0.0)
    if not (initial > 0 and final > 0):
        raise ValueError(
            f"{here()}: initial_lr={initial!r}, min_lr={final!r}: the div factors must be finite and > 0"
        )
    return lrs.one_cycle(peak, div_factor=peak / initial, final_div_factor=initial / final, **shape)


def _refuse(message: str) -> Callable[[Any], None]:
    def refuse(s: Any) -> None:
        raise TypeError(message)

    return refuse


@dataclass(frozen=True)
class _TorchClass:
    """How ``from_torch`` reads one torch scheduler class: one entry of :data:`_CLASSES`.

    ``kind`` is how the composites treat it: ``multiplicative`` (chainable: multiplies the
    current lr by per-step ratios; ``build(s, base, restart)``, run inside
    ``place("from_torch(<class>)")``), ``cosine`` (CosineAnnealingLR's affine recursion; the
    same ``build``), ``absolute`` (overwrites the lr from its own state;
    ``build(s, g, constructed)``), ``sequential`` /
    ``chained`` (composites, converted by :func:`_sequential` / :func:`_chained`).
    ``check`` refuses what cannot be read (raising ``TypeError``); ``settles`` is the step
    from which a multiplicative one stops changing the lr with a factor of 1 (``None``:
    never); ``label`` names it in the list of supported classes (empty: not listed).
    """

    kind: str
    build: Callable[..., Schedule] | None = None
    check: Callable[[Any], None] | None = None
    settles: Callable[[Any], float | None] | None = None
    label: str = ""


#: Every torch class from_torch knows, in the order the error message lists them. A torch
#: class is one entry here (and its builder above).
_CLASSES: dict[type, _TorchClass] = {
    tl.StepLR: _TorchClass("multiplicative", _step_lr, settles=_settles_gamma, label="StepLR"),
    tl.MultiStepLR: _TorchClass(
        "multiplicative", _multistep_lr, settles=_settles_multistep, label="MultiStepLR"
    ),
    tl.ConstantLR: _TorchClass("multiplicative", _constant_lr, settles=_settles_constant, label="ConstantLR"),
    tl.LinearLR: _TorchClass("multiplicative", _linear_lr, settles=_settles_linear, label="LinearLR"),
    tl.ExponentialLR: _TorchClass(
        "multiplicative", _exponential_lr, settles=_settles_gamma, label="ExponentialLR"
    ),
    tl.PolynomialLR: _TorchClass(
        "multiplicative", _polynomial_lr, settles=_settles_polynomial, label="PolynomialLR"
    ),
    tl.CosineAnnealingLR: _TorchClass("cosine", _cosine_lr, label="CosineAnnealingLR"),
    tl.CosineAnnealingWarmRestarts: _TorchClass(
        "absolute", _warm_restarts_lr, label="CosineAnnealingWarmRestarts"
    ),
    tl.CyclicLR: _TorchClass("absolute", _cyclic_lr, label="CyclicLR"),
    tl.OneCycleLR: _TorchClass("absolute", _one_cycle_lr, label="OneCycleLR"),
    tl.SequentialLR: _TorchClass("sequential", label="SequentialLR"),
    tl.ChainedScheduler: _TorchClass("chained", label="ChainedScheduler"),
    ScheduleLR: _TorchClass(
        "absolute",
        _schedule_lr,
        label="lrsched_torch.ScheduleLR (and a LambdaLR whose lr_lambdas are lrsched schedules or were "
        "built by Hugging Face's transformers.get_scheduler)",
    ),
    tl.LambdaLR: _TorchClass("absolute", _lambda_lr, check=_lambda_readable),
    tl.ReduceLROnPlateau: _TorchClass(
        "refused",
        check=_refuse(
            "from_torch: ReduceLROnPlateau's lr depends on the metric values passed to step(), not on "
            "the step alone, so it has no step -> lr curve; use lrsched_jax.reduce_on_plateau (torch's "
            "exact decision rules as a jit-able state machine and an Optax transformation) instead"
        ),
    ),
    tl.MultiplicativeLR: _TorchClass(
        "refused",
        check=_refuse(
            "from_torch: MultiplicativeLR multiplies the lr by an arbitrary Python function each step, "
            "which from_torch cannot read; write the resulting curve as an lrsched schedule (e.g. "
            "lrsched_jax.exponential for a constant factor, or piecewise_constant/sequence/product) and "
            "drive torch with lrsched_torch.ScheduleLR(optimizer, schedule)"
        ),
    ),
}

_SUPPORTED = ", ".join(e.label for e in _CLASSES.values() if e.label)

#: Matched by isinstance (their subclasses too): the others only as the classes themselves.
_BY_ISINSTANCE = (ScheduleLR, tl.ReduceLROnPlateau)


def _entry(s: Any) -> _TorchClass:
    """``s``'s entry of :data:`_CLASSES`, checked (``TypeError`` for what cannot be read)."""
    t = next((c for c in _BY_ISINSTANCE if isinstance(s, c)), type(s))
    entry = _CLASSES.get(t)
    if entry is None:
        raise TypeError(
            f"from_torch: {t.__module__}.{t.__qualname__} is not supported (subclasses of torch schedulers "
            f"may change the curve, so only the classes themselves are); supported: {_SUPPORTED}"
        )
    if entry.check is not None:
        entry.check(s)
    return entry


def _kind(s: Any) -> str:
    """``multiplicative``, ``cosine``, ``absolute``, ``sequential`` or ``chained``."""
    return _entry(s).kind


def _multiplicative(s: Any, base: float, restart: bool) -> Schedule:
    """The curve of a multiplicative (or cosine) chainable scheduler started at lr ``base``."""
    build = _entry(s).build
    assert build is not None
    with place(f"from_torch({_name(s)})"):
        return build(s, base, restart)


def _cosine(s: Any, base: float) -> Schedule:
    with place(f"from_torch({_name(s)})"):
        return _cosine_lr(s, base)


def _one_from(s: Any) -> float | None:
    settles = _entry(s).settles
    return None if settles is None else settles(s)


def _absolute(s: Any, g: int, constructed: bool = True) -> Schedule:
    build = _entry(s).build
    assert build is not None
    with place(f"from_torch({_name(s)})"):
        return build(s, g, constructed)


def _one_cycle_shape(s: Any) -> dict[str, Any]:
    """OneCycleLR's phase structure (shared by its lr and momentum): the ``one_cycle``
    arguments ``total_steps``, ``pct_start``, ``anneal``, ``three_phase``."""
    total = _whole("total_steps", s.total_steps, 1)
    phases = s._schedule_phases
    anneal = getattr(s, "_anneal_func_type", None)
    if anneal not in ("cos", "linear"):
        raise TypeError(f"{here()}: unknown anneal strategy {anneal!r} (expected 'cos' or 'linear')")
    pct = (float(phases[0]["end_step"]) + 1) / total
    return {"total_steps": total, "pct_start": pct, "anneal": anneal, "three_phase": len(phases) == 3}


def _one_cycle_at_total(s: Any, g: int, field: str) -> float:
    """What torch's ``OneCycleLR`` gives param group ``g``'s ``field`` at step ``total_steps``
    (its last phase's anneal continued one step past its end), computed by torch's own
    ``get_lr``. No update of a OneCycleLR alone applies it (it is set after the last update,
    and the next ``step()`` raises), but inside a ``SequentialLR`` whose next milestone comes
    one step later the update at that step does."""
    with place(f"from_torch(SequentialLR: {_name(s)} at step total_steps)"):
        groups = s.optimizer.param_groups
        saved_epoch = s.last_epoch
        # get_lr writes the momentum (or betas) into the groups as it computes: put them back.
        saved = [{k: gr[k] for k in ("momentum", "betas") if k in gr} for gr in groups]
        try:
            s.last_epoch = s.total_steps
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "called outside step()"
                lrs_t = s.get_lr()
            value = lrs_t[g] if field == "lr" else _momentum_of(groups[g])
        except ZeroDivisionError:
            raise ValueError(f"{here()}: torch divides by zero there (an empty last phase)") from None
        finally:
            s.last_epoch = saved_epoch
            for gr, kept in zip(groups, saved):
                gr.update(kept)
        return as_float(field, value)


def _momentum_of(group: dict[str, Any]) -> Any:
    return group["betas"][0] if "betas" in group else group["momentum"]


def _through_total(part: Schedule, child: Any, g: int, field: str, length: float) -> Schedule:
    """``part`` (a OneCycleLR's curve, held from ``total_steps - 1`` on) with torch's own
    step-``total_steps`` value there when a SequentialLR runs the child that long."""
    # The last scheduler (length inf) is held as a lone OneCycleLR is: no update applies
    # its step-total_steps value before torch raises.
    if type(child) is not tl.OneCycleLR or length <= child.total_steps or math.isinf(length):
        return part
    total = int(child.total_steps)
    value = _one_cycle_at_total(child, g, field)
    if value < 0:
        raise ValueError(
            f"from_torch(SequentialLR): its OneCycleLR (anneal_strategy='linear') runs to step "
            f"total_steps={total}, where torch applies a negative {field} ({value!r}); no lrsched "
            "schedule gives a negative value. Put the next milestone at total_steps or earlier"
        )
    return lrs.sequence([part, lrs.constant(value)], [total])


def _cyclic_wave(s: Any, start: float, turn: float) -> Schedule:
    """CyclicLR's triangle wave from ``start`` (cycle start) to ``turn`` (after step_size_up)."""
    total = _positive("total_size", s.total_size)
    up = total * float(s.step_ratio)
    # torch keeps total_size and step_ratio = up/total; recover the sizes it was given.
    if abs(up - round(up)) <= 1e-9 * total:
        up = float(round(up))
    down = total - up
    if abs(down - round(down)) <= 1e-9 * total:
        down = float(round(down))
    if up <= 0:
        # torch divides 0 by 0 at the start of every cycle there
        raise TypeError(f"{here()}: step_size_up={up!r}: torch's CyclicLR divides by zero with an empty rise")
    return lrs.cyclic(
        start,
        turn,
        int(up) if up.is_integer() else up,
        int(down) if down.is_integer() else down,
        mode=s.mode,
        gamma=_num("gamma", s.gamma),
    )


# --- the combining schedulers ------------------------------------------------------------------


def _flatten(s: Any) -> list[Any]:
    if type(s) is tl.ChainedScheduler:
        return [c for child in s._schedulers for c in _flatten(child)]
    return [s]


@place("from_torch(ChainedScheduler)")
def _chained(s: Any, g: int) -> Schedule:
    """``ChainedScheduler``: each step calls every child's ``step()`` in order on the same lr.

    Multiplicative children multiply (a product of their factors, from the lr before the
    first child was built); an absolute child (CyclicLR, OneCycleLR, SGDR, ScheduleLR)
    overwrites the lr, so the last one wins — exact only when no chainable child follows it
    (those would apply per-step ratios) and, for step 0, when the children were built in
    list order. CosineAnnealingLR's recursion is affine, not multiplicative: it chains
    exactly with ``eta_min == 0`` when the other children stop changing the lr by ``T_max``
    (torch re-adds the cosine's base lr after each zero, dropping the other factors), or with
    ``eta_min > 0`` when they never change it.
    """
    children = _flatten(s)
    kinds = []
    for c in children:
        k = _kind(c)
        if k == "sequential":
            raise _UnsupportedError(
                f"{here()}: a SequentialLR inside a ChainedScheduler resets the lr at its milestones "
                "(overwriting the other children's factors) — not expressible exactly"
            )
        kinds.append(k)
    if len(children) == 1:
        return _convert(children[0], g)
    absolute = [i for i, k in enumerate(kinds) if k == "absolute"]
    if absolute:
        last = absolute[-1]
        if last != len(children) - 1:
            after = ", ".join(_name(c) for c in children[last + 1 :])
            raise _UnsupportedError(
                f"{here()}: {after} after the non-chainable {_name(children[last])} would multiply its "
                "freshly overwritten lr by per-step ratios, which no lrsched schedule expresses; put the "
                "non-chainable scheduler last (it then defines the lr alone) or use SequentialLR"
            )
        return _absolute(children[last], g)
    base = as_float(f"base_lrs[{g}]", children[0].base_lrs[g])
    cosines = [c for c in children if type(c) is tl.CosineAnnealingLR]
    others = [c for c in children if type(c) is not tl.CosineAnnealingLR]
    if len(cosines) > 1:
        raise _UnsupportedError(f"{here()}: two CosineAnnealingLR in one chain are not expressible exactly")
    factors: list[Schedule] = []
    # The chain's base lr goes into the first factor; the others are pure multipliers.
    if cosines:
        c = cosines[0]
        cbase = as_float(f"base_lrs[{g}]", c.base_lrs[g])
        if cbase != base:
            raise _UnsupportedError(
                f"{here()}: the CosineAnnealingLR's base lr ({cbase!r}) differs from the chain's ({base!r})"
            )
        T = float(c.T_max)
        settle = [_one_from(o) for o in others]
        if c.eta_min != 0:
            if any(x != 0 for x in settle):
                raise _UnsupportedError(
                    f"{here()}: CosineAnnealingLR with eta_min > 0 steps lr -> eta_min + (lr - eta_min) * r, "
                    "which does not multiply with the other children's factors; chain it only with "
                    "schedulers that leave the lr unchanged, or use eta_min=0"
                )
            return _cosine(c, base)
        if T.is_integer() and any(x is None or x > T for x in settle):
            raise _UnsupportedError(
                f"{here()}: after each zero of the CosineAnnealingLR (step T_max, 3*T_max, ...) torch "
                "re-adds its base lr, dropping the other children's factors; that equals the product only "
                "when every other child has stopped changing the lr (with a final factor of 1) by step T_max"
            )
        factors.append(_cosine(c, base))
    for o in others:
        factors.append(_multiplicative(o, 1.0 if factors else base, restart=False))
    return factors[0] if len(factors) == 1 else lrs.product(factors)


@place("from_torch(SequentialLR)")
def _sequential(s: Any, g: int) -> Schedule:
    """``SequentialLR``: scheduler ``i`` runs from milestone ``i-1`` in its own local time.

    The one active at step 0 starts (at construction) from the group's ``initial_lr``,
    which SequentialLR restores; each later one is restarted at its milestone through
    ``_update_lr(0)`` — its closed form at 0 from its own ``base_lrs`` — and then steps
    normally. Schedulers whose range is empty (repeated milestones) never run.
    """
    children = list(s._schedulers)
    ms = [_num("milestones", m) for m in s._milestones]
    for m in ms:
        if not m.is_integer():
            raise ValueError(f"{here()}: milestones must be whole steps (torch compares with ==), got {m!r}")
    if ms != sorted(ms):
        raise ValueError(f"{here()}: milestones must be sorted (torch bisects them), got {s._milestones!r}")
    group = s.optimizer.param_groups[g]
    init = as_float("initial_lr", group["initial_lr"])
    bounds = [-math.inf, *ms, math.inf]
    parts: list[Schedule] = []
    starts: list[int] = []
    for i, child in enumerate(children):
        lo, hi = bounds[i], bounds[i + 1]
        if hi <= max(lo, 0.0):
            continue
        kind = _kind(child)
        if kind in ("sequential", "chained"):
            raise _UnsupportedError(
                f"{here()}: a {_name(child)} inside a SequentialLR is re-stepped at construction and "
                "cannot be restarted at a milestone by torch (no closed form) — not expressible exactly; "
                "flatten the schedulers into one SequentialLR"
            )
        restart = lo > 0
        if kind == "absolute":
            part = _absolute(child, g, constructed=False)
        else:
            cbase = as_float(f"base_lrs[{g}]", child.base_lrs[g])
            if restart:
                base = cbase
            else:
                base = init
                if kind == "cosine" and cbase != init:
                    raise _UnsupportedError(
                        f"{here()}: the CosineAnnealingLR's base lr ({cbase!r}) differs from the group's "
                        f"initial_lr ({init!r}) that SequentialLR starts it from"
                    )
            part = _cosine(child, base) if kind == "cosine" else _multiplicative(child, base, restart)
        start = int(lo) if restart else 0
        parts.append(_through_total(part, child, g, "lr", hi - start))
        starts.append(start)
    return parts[0] if len(parts) == 1 else lrs.sequence(parts, starts[1:])


def _convert(s: Any, g: int) -> Schedule:
    kind = _kind(s)
    if kind == "sequential":
        return _sequential(s, g)
    if kind == "chained":
        return _chained(s, g)
    if kind == "absolute":
        return _absolute(s, g)
    with place(f"from_torch({_name(s)})"):
        base = as_float(f"base_lrs[{g}]", s.base_lrs[g])
    if kind == "cosine":
        return _cosine(s, base)
    return _multiplicative(s, base, restart=False)


# --- hyperparameters beside the lr (momentum) ----------------------------------------------------


class UnconvertedFieldWarning(UserWarning):
    """``from_torch(scheduler)`` converted the lr of a scheduler that also drives another
    hyperparameter — torch's ``OneCycleLR``/``CyclicLR`` cycle the momentum (``betas[0]``) by
    default. The lr curve alone trains a different recipe: convert the other curve too with
    ``from_torch(scheduler, field="momentum")`` (or build the torch scheduler with
    ``cycle_momentum=False``)."""


def _leaves(s: Any) -> list[Any]:
    """Every scheduler inside a SequentialLR / ChainedScheduler (nested ones too), else ``[s]``."""
    if type(s) is tl.ChainedScheduler or type(s) is tl.SequentialLR:
        return [leaf for child in s._schedulers for leaf in _leaves(child)]
    return [s]


def _drives(s: Any, field: str) -> bool:
    """Whether the scheduler itself writes ``field`` into the param groups at each step."""
    if isinstance(s, ScheduleLR):
        return field in s.fields
    if type(s) in (tl.OneCycleLR, tl.CyclicLR):
        return field == "momentum" and bool(getattr(s, "cycle_momentum", False))
    return False


def _driven_fields(s: Any) -> list[str]:
    names: list[str] = []
    for leaf in _leaves(s):
        candidates = list(leaf.fields) if isinstance(leaf, ScheduleLR) else ["momentum"]
        names += [n for n in candidates if n not in names and _drives(leaf, n)]
    return names


def _exact_div(peak: float, initial: float) -> float:
    """A ``div_factor`` with ``peak / div_factor == initial`` exactly (``peak / initial`` is
    off by one ulp for about one pair in eight; a neighbouring float usually is not), so the
    converted momentum starts at torch's value exactly."""
    d = peak / initial
    for _ in range(4):
        if peak / d == initial:
            return d
        d = math.nextafter(d, math.inf if peak / d > initial else -math.inf)
    return peak / initial


def _field_leaf(s: Any, g: int, field: str) -> Schedule:
    """The curve of ``field`` that one (non-combining) scheduler writes."""
    with place(f"from_torch({_name(s)}, field={field!r})"):
        if isinstance(s, ScheduleLR):
            return s.fields[field][g]
        if type(s) is tl.OneCycleLR:
            # torch reads these group entries at every step, like the lr's.
            group = s.optimizer.param_groups[g]
            top = _num("max_momentum", group["max_momentum"])
            low = _num("base_momentum", group["base_momentum"])
            shape = _one_cycle_shape(s)
            if top == low:
                return lrs.constant(top)
            if not (top > 0 and low > 0):
                raise ValueError(
                    f"{here()}: max_momentum={top!r}, base_momentum={low!r}: a zero momentum at one end of "
                    "the cycle has no exact one_cycle form"
                )
            # The momentum runs max -> base -> max (three-phase: max -> base -> max -> max): the lr's
            # phases with initial = max_momentum, peak = base_momentum, final = initial.
            return lrs.one_cycle(low, div_factor=_exact_div(low, top), final_div_factor=1.0, **shape)
        if type(s) is tl.CyclicLR:
            if s._scale_fn_custom is not None:
                raise TypeError(
                    f"{here()}: a custom scale_fn is arbitrary Python code, which from_torch cannot read; "
                    "use mode='triangular', 'triangular2' or 'exp_range', or write the curve as an lrsched "
                    "schedule"
                )
            top = _num(f"max_momentums[{g}]", s.max_momentums[g])
            low = _num(f"base_momentums[{g}]", s.base_momentums[g])
            # torch: max_momentum - (max_momentum - base_momentum) * scale — the lr's wave, inverted.
            return _cyclic_wave(s, top, low)
        raise AssertionError(type(s))


def _initial_field(s: Any, g: int, field: str) -> float:
    """What ``field`` holds in a SequentialLR before the first scheduler that writes it runs:
    the value the last-built writer set at its construction. torch's OneCycleLR and CyclicLR
    also record it as the group's ``max_momentum`` (their step-0 momentum), so it is known
    when every writer is one of them."""
    with place(f"from_torch(SequentialLR, field={field!r})"):
        writers = [c for c in _leaves(s) if _drives(c, field)]
        group = s.optimizer.param_groups[g]
        if (
            field != "momentum"
            or any(isinstance(w, ScheduleLR) for w in writers)
            or "max_momentum" not in group
        ):
            raise ValueError(
                f"{here()}: the first scheduler does not write {field!r}, so it holds whatever the optimizer "
                "had when the SequentialLR was built, which from_torch cannot read; put the scheduler that "
                f"drives {field!r} first, or drive the whole recipe with ScheduleLR"
            )
        return _num("max_momentum", group["max_momentum"])


def _field_sequential(s: Any, g: int, field: str) -> Schedule:
    """A field through ``SequentialLR``: each writer's curve in its own local time (restarted
    at its milestone like the lr); a scheduler that does not write it leaves the value the
    previous one set at the step before its milestone."""
    with place(f"from_torch(SequentialLR, field={field!r})"):
        ms = [_num("milestones", m) for m in s._milestones]
        if any(not m.is_integer() for m in ms) or ms != sorted(ms):
            raise ValueError(f"{here()}: milestones must be sorted whole steps, got {s._milestones!r}")
        bounds = [-math.inf, *ms, math.inf]
        parts: list[Schedule] = []
        starts: list[int] = []
        held = False  # whether parts[-1] is a held constant
        for i, child in enumerate(s._schedulers):
            lo, hi = bounds[i], bounds[i + 1]
            if hi <= max(lo, 0.0):
                continue
            if _kind(child) in ("sequential", "chained"):
                raise _UnsupportedError(
                    f"{here()}: a {_name(child)} inside a SequentialLR is re-stepped at construction and "
                    "cannot be restarted at a milestone by torch — not expressible exactly"
                )
            start = int(lo) if lo > 0 else 0
            if _drives(child, field):
                parts.append(_through_total(_field_leaf(child, g, field), child, g, field, hi - start))
                held = False
            elif held:
                continue
            else:
                if parts:
                    value = float(parts[-1].curve(1, start - 1 - starts[-1])[0])
                else:
                    value = _initial_field(s, g, field)
                parts.append(lrs.constant(value))
                held = True
            starts.append(start)
        return parts[0] if len(parts) == 1 else lrs.sequence(parts, starts[1:])


def _field_convert(s: Any, g: int, field: str) -> Schedule:
    kind = _kind(s)
    if kind == "sequential":
        return _field_sequential(s, g, field)
    if kind == "chained":
        children = _flatten(s)
        if any(_kind(c) == "sequential" for c in children):
            raise _UnsupportedError(
                f"from_torch(ChainedScheduler, field={field!r}): a SequentialLR inside a ChainedScheduler "
                "is not expressible exactly"
            )
        # Every child steps in list order on the same groups: the last writer's value stays.
        return _field_leaf([c for c in children if _drives(c, field)][-1], g, field)
    return _field_leaf(s, g, field)


def _position(s: Any) -> float:
    """The step the scheduler is at: the ``k`` whose lr the optimizer holds now."""
    if type(s) is tl.ChainedScheduler:
        pos = {_position(c) for c in _flatten(s)}
        if len(pos) != 1:
            raise ValueError(
                f"from_torch: the ChainedScheduler's children are at different steps {sorted(pos)}; "
                "cannot tell where it is"
            )
        return pos.pop()
    k = s.last_epoch
    if type(s) is tl.CosineAnnealingWarmRestarts:
        # step(epoch) with a fractional epoch keeps floor(epoch) in last_epoch; cycle starts are
        # whole steps, so the fraction is T_cur's.
        frac = float(s.T_cur) - math.floor(float(s.T_cur))
        return k + frac if frac else k
    return k


# --- from the current step: torch's own continuation ----------------------------------------------


def _shifted(s: Schedule, pos: float) -> Schedule:
    return lrs.shift(s, pos) if pos else s


#: A held lr this close to the curve's value (relative to the base lr) is the curve's own,
#: off by the rounding of torch's recursion (CosineAnnealingLR drifts by up to ~1e-10); a
#: scheduler resumed with ``last_epoch=N`` holds the group's lr, further off than that.
_FRESH = 1e-9


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-13, abs_tol=0.0)


def _held_first(rest: Schedule, now: float) -> Schedule:
    """``rest``, with step 0 at the lr the optimizer holds now where that differs."""
    if _same(float(rest(0)), now):
        return rest
    return lrs.sequence([lrs.constant(now), rest], [1], restart=False)


def _resumed_chainable(s: Any, g: int, conv: Schedule, pos: float, now: float) -> Schedule:
    """A multiplicative scheduler from ``pos`` on: torch multiplies the lr it holds by the
    curve's ratios, so the future is ``now * c(pos + k) / c(pos)`` (``c`` the unit curve)."""
    base = as_float(f"base_lrs[{g}]", s.base_lrs[g])
    unit = _multiplicative(s, 1.0, restart=False)
    c = float(unit(pos))
    # a fresh run: the lr is the curve's own, up to the rounding of torch's recursion
    if abs(base * c - now) <= _FRESH * base:
        return _shifted(conv, pos)
    t = type(s)
    if t in (tl.LinearLR, tl.ConstantLR) and pos >= s.total_iters:
        return lrs.constant(now)  # done: torch keeps whatever the group holds
    if t is tl.ExponentialLR:
        gamma = _positive("gamma", s.gamma)
        grown = _growing(gamma, now, 1)
        return lrs.exponential(now, gamma) if grown is None else grown
    if t is tl.PolynomialLR:
        left = s.total_iters - pos
        # past total_iters torch keeps whatever the group holds
        return lrs.polynomial(now, left, 0.0, s.power) if left > 0 and s.power > 0 else lrs.constant(now)
    if c == 0:
        return _shifted(conv, pos)  # 0 times any ratio: nothing to anchor on
    return _shifted(_multiplicative(s, now / c, restart=False), pos)


def _resumed_cosine(s: Any, g: int, conv: Schedule, pos: float, now: float) -> Schedule:
    """CosineAnnealingLR from ``pos`` on. torch's recursion is affine in the lr it holds,
    ``lr - eta_min`` times ``(1 + cos(pi*j/T)) / (1 + cos(pi*(j-1)/T))``, up to the next zero
    of the cosine (an odd multiple of ``T_max``); the step after it adds its closed form's
    value to the lr held there (``eta_min`` once the recursion reached it), so from there on
    the curve is the closed form again."""
    base = as_float(f"base_lrs[{g}]", s.base_lrs[g])
    T, eta = float(s.T_max), float(s.eta_min)
    if abs(float(conv(pos)) - now) <= _FRESH * max(base, eta):
        return _shifted(conv, pos)
    parts: list[Schedule] = []
    bounds: list[float] = []
    p0, v0 = pos, now
    zero = math.inf
    if T.is_integer():
        m = math.ceil((pos - T) / (2 * T))
        zero = (2 * m + 1) * T
        if zero == pos:
            # resumed at a zero: the next step adds the closed form's step to what is held
            parts.append(lrs.constant(now))
            bounds.append(1)
            p0, v0 = pos + 1, now + (base - eta) * (1 - math.cos(math.pi / T)) / 2
            zero = pos + 2 * T
    half = (v0 - eta) / (1 + math.cos(math.pi * p0 / T))
    seg = lrs.cosine(eta + 2 * half, int(T) if T.is_integer() else T, eta, periodic=True)
    parts.append(_shifted(seg, pos))
    if math.isfinite(zero):
        bounds.append(zero - pos + 1)
        parts.append(_shifted(conv, pos))
    if len(parts) == 1:
        return parts[0]
    return lrs.sequence(parts, [int(b) for b in bounds], restart=False)


def _resumed_warm_restarts(s: Any, g: int, conv: Schedule, pos: float) -> Schedule:
    """CosineAnnealingWarmRestarts from its state: ``T_cur`` steps into a cycle of ``T_i``,
    the next ones ``T_mult`` times longer each. A scheduler built with ``last_epoch=N`` past a
    restart keeps ``T_i`` at the first cycle's length, so its state, not ``last_epoch``, says
    where it is."""
    T0 = _whole("T_0", s.T_0, 1)
    mult = _whole("T_mult", s.T_mult, 1)
    T_i = _whole("T_i", s.T_i, 1)
    cur = float(s.T_cur)
    start, length = 0, T0
    if mult > 1:
        while length < T_i:
            start, length = start + length, length * mult
        fits = length == T_i and start == pos - cur
    else:
        fits = T_i == T0 and (pos - cur) % T0 == 0
    if fits:
        return _shifted(conv, pos)
    base = as_float(f"base_lrs[{g}]", s.base_lrs[g])
    return _shifted(lrs.warm_restarts(base, T_i, mult, _num("eta_min", s.eta_min)), cur)


def _resumed(s: Any, g: int, conv: Schedule, pos: float) -> Schedule:
    """``conv`` continued from step ``pos`` as torch continues it: update 0 uses the lr the
    optimizer holds now. For a scheduler built with ``last_epoch=N`` (torch's resume idiom)
    that lr is the group's own, not the curve's value at ``N + 1``, and the chainable
    schedulers go on from it. Its ``_resumed_*`` helpers run inside its place."""
    kind = _kind(s)
    if kind in ("sequential", "chained"):
        return _shifted(conv, pos)
    with place(f"from_torch({_name(s)})"):
        now = as_float(f"param_groups[{g}]['lr']", _owner(s).param_groups[g]["lr"])
        if kind == "multiplicative":
            return _resumed_chainable(s, g, conv, pos, now)
        if kind == "cosine":
            return _resumed_cosine(s, g, conv, pos, now)
        # the others compute the lr from their own state; only the value held now may differ
        # (CyclicLR's constructor sets it before its own base_lrs)
        if type(s) is tl.CosineAnnealingWarmRestarts:
            return _held_first(_resumed_warm_restarts(s, g, conv, pos), now)
        return _held_first(_shifted(conv, pos), now)


def _owner(s: Any) -> torch.optim.Optimizer:
    opt = getattr(s, "optimizer", None)
    if opt is None and type(s) is tl.ChainedScheduler:
        opt = s._schedulers[0].optimizer
    if not isinstance(opt, torch.optim.Optimizer):
        raise TypeError(f"from_torch: {_name(s)} has no torch optimizer")
    return opt


@place("from_torch")
def from_torch(
    scheduler: Any,
    *,
    group: int | None = None,
    from_current_step: bool = False,
    field: str | None = None,
) -> Schedule | tuple[Schedule, ...]:
    r"""The lrsched schedule with a torch scheduler's exact learning-rate curve.

    ``s = from_torch(scheduler)`` satisfies ``s(k) ==`` the lr torch's scheduler gives its
    param group when its ``last_epoch == k`` (to ``1e-12 * base_lr`` in float64, and within
    the float32 contract when traced in JAX), for every ``k >= 0``; so
    ``optax.sgd(learning_rate=s)`` applies at update ``k`` the lr the torch recipe applies
    at update ``k``. Hyperparameters and base lrs are read from the scheduler (and, for
    OneCycleLR, from the param groups where torch keeps them). The conversion models what
    torch computes when stepped with ``step()`` (its recursive "chainable" formulas) and
    treats the scheduler as the only one driving the optimizer.

    Supported: ``StepLR``, ``MultiStepLR``, ``ConstantLR``, ``LinearLR``, ``ExponentialLR``,
    ``PolynomialLR``, ``CosineAnnealingLR`` (→ ``cosine(..., periodic=True)``, torch's
    continuation past ``T_max``; torch's recursion drifts from this closed form by ~1e-11
    relative), ``CosineAnnealingWarmRestarts``, ``CyclicLR`` (all three modes; a custom
    ``scale_fn`` raises ``TypeError``), ``OneCycleLR`` (cos/linear, two/three phase; from
    step ``total_steps - 1`` on the last value is held: torch sets its own
    step-``total_steps`` value only after the last update and raises at the next
    ``step()``, so no update applies it), ``SequentialLR`` (→ ``sequence``: each scheduler
    in its own local time, as torch restarts it at its milestone; a OneCycleLR whose next
    milestone comes one step after its ``total_steps`` gets torch's step-``total_steps``
    value there, which that update does apply), ``ChainedScheduler`` (→ ``product`` of the
    multiplicative children; a
    non-chainable child overwrites the lr, so it must come last — see below),
    :class:`~lrsched_torch.ScheduleLR` (its schedule; in multiplier mode ``scale``\ d by
    the group's base lr), a ``LambdaLR`` whose ``lr_lambdas`` are lrsched schedules, and a
    ``LambdaLR`` that Hugging Face's ``transformers.get_scheduler`` built (its ``lr_lambda``
    is a ``functools.partial`` of a named function, read by
    :func:`lrsched_jax.from_hf_lambda`; the curve is :func:`lrsched_jax.from_hf`'s).
    Combinations torch computes in ways no lrsched schedule expresses raise ``TypeError``
    saying why: a chainable scheduler after a non-chainable one in a ``ChainedScheduler``;
    ``CosineAnnealingLR`` chained with schedulers still changing the lr after ``T_max``
    (``eta_min == 0``) or at all (``eta_min > 0``); a ``ChainedScheduler`` or
    ``SequentialLR`` nested in a ``SequentialLR``. ``LambdaLR``/``MultiplicativeLR`` with a
    Python function and ``ReduceLROnPlateau`` raise ``TypeError`` naming what to use
    instead. Hyperparameters without an exact equivalent (e.g. a fractional ``step_size``,
    ``gamma <= 0``) raise ``ValueError``.

    The momentum: torch's ``OneCycleLR`` and ``CyclicLR`` cycle it by default
    (``cycle_momentum=True``; the group's ``momentum``, or ``betas[0]`` for optimizers with
    betas). ``from_torch(scheduler, field="momentum")`` returns that curve with the lr's
    step semantics — ``m(k)`` is the momentum torch's optimizer holds at ``last_epoch == k``
    (to ``1e-12`` absolute in float64): OneCycleLR's as a ``one_cycle`` from
    ``max_momentum`` down to ``base_momentum`` and back (a zero momentum at either end raises
    ``ValueError``), CyclicLR's as the inverted ``cyclic`` wave, also inside
    ``SequentialLR`` (a scheduler that does not cycle the momentum leaves the value the
    previous one set; before the first one, the ``max_momentum`` torch recorded in the group)
    and ``ChainedScheduler`` (the last child that cycles it wins, as each step writes it in
    list order); a :class:`~lrsched_torch.ScheduleLR` gives its ``momentum=``/``fields``
    schedules under their names. Optax takes it as
    ``optax.inject_hyperparams(optax.sgd)(learning_rate=lr, momentum=m)`` (or ``b1=m`` for
    ``adamw``); torch as ``ScheduleLR(opt, lr, momentum=m)``. ``from_torch(scheduler)`` on a
    scheduler that also drives the momentum (or another field) warns once with
    :class:`UnconvertedFieldWarning`, naming ``field="momentum"``: the lr alone is not the
    recipe (``field="lr"`` asks for the lr explicitly, without the warning). A scheduler
    without such a curve raises ``ValueError`` for ``field="momentum"``.

    Args:
        scheduler: the torch scheduler.
        group: return only this param group's schedule.
        from_current_step: return the curve from the scheduler's current step ``k`` on
            (``last_epoch``; SGDR's fractional epoch included), so that a fresh Optax count
            continues where torch is: Optax's update 0 uses the lr torch's optimizer holds
            now, and update ``j`` the lr torch's ``j``-th ``step()`` from here sets. In a run
            started fresh that is ``shift(s, k)``. A scheduler built with ``last_epoch=N``
            (torch's resume idiom) holds the group's lr as it found it, not its curve's value
            at ``N + 1``: the chainable schedulers continue from that lr
            (``ExponentialLR``: ``exponential(lr, gamma)``; ``CosineAnnealingLR``: its affine
            recursion up to the cosine's next zero, the closed form after),
            ``CosineAnnealingWarmRestarts`` from its own ``T_cur``/``T_i`` (it keeps
            ``T_i = T_0`` when resumed past a restart), and the others from their step with
            update 0 at the held lr. A held lr within ``1e-9 * base_lr`` of the curve counts
            as the curve's own (torch's recursions round). In a ``SequentialLR`` or
            ``ChainedScheduler`` it is ``shift(s, k)``.
        field: ``"lr"``, ``"momentum"`` (the momentum or ``betas[0]`` curve), or the name
            of another field a :class:`~lrsched_torch.ScheduleLR` drives. Default (None): the
            lr, with :class:`UnconvertedFieldWarning` when the scheduler drives more.

    Returns:
        one schedule when the optimizer has one param group or ``group`` is given, else a
        tuple with one schedule per group.

    >>> import torch, lrsched_jax as lrs
    >>> from lrsched_torch import from_torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> torch_sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    >>> s = from_torch(torch_sched, field="lr")
    >>> s == lrs.one_cycle(max_lr=1.0, total_steps=10)
    True
    >>> m = from_torch(torch_sched, field="momentum")  # SGD's momentum: 0.95 -> 0.85 -> 0.95
    >>> torch_lrs, torch_ms = [], []
    >>> for _ in range(10):
    ...     torch_lrs.append(opt.param_groups[0]["lr"])
    ...     torch_ms.append(opt.param_groups[0]["momentum"])
    ...     opt.step(); torch_sched.step()
    >>> bool(max(abs(a - b) for a, b in zip(torch_lrs, s.curve(10))) < 1e-15)
    True
    >>> bool(max(abs(a - b) for a, b in zip(torch_ms, m.curve(10))) < 1e-15)
    True
    """
    opt = _owner(scheduler)
    _kind(scheduler)
    warn = field is None
    if field is None:
        field = "lr"
    if not isinstance(field, str):
        raise TypeError(f"from_torch: field must be a str ('lr', 'momentum', ...), got {field!r}")
    driven = _driven_fields(scheduler)
    if field != "lr" and field not in driven:
        raise ValueError(
            f"from_torch: this {_name(scheduler)} has no {field!r} curve: it drives "
            f"{', '.join(['lr', *driven])} only (torch's OneCycleLR and CyclicLR cycle the momentum "
            "unless built with cycle_momentum=False; ScheduleLR drives the fields given to it)"
        )
    n = len(opt.param_groups)
    check_group(group, n)
    if not isinstance(from_current_step, bool):
        raise TypeError(f"from_torch: from_current_step must be True or False, got {from_current_step!r}")
    indices = range(n) if group is None else (group,)
    try:
        if field == "lr":
            out = [_convert(scheduler, g) for g in indices]
        else:
            out = [_field_convert(scheduler, g, field) for g in indices]
        if from_current_step:
            pos = check_step("scheduler", _position(scheduler))
            if pos < 0:
                raise ValueError(f"from_torch: the scheduler has not started (last_epoch={pos})")
            if field == "lr":
                out = [_resumed(scheduler, g, s, pos) for g, s in zip(indices, out)]
            else:
                out = [_shifted(s, pos) for s in out]
    except _UnsupportedError as e:
        raise TypeError(str(e)) from None
    except ValueError as e:
        msg = str(e)
        if not msg.startswith("from_torch"):
            msg = f"from_torch({_name(scheduler)}): no exact lrsched equivalent: {msg}"
        raise ValueError(msg) from e
    if warn and driven:
        hint = ", ".join(f"field={name!r}" for name in driven)
        warnings.warn(
            f"from_torch: converted the lr only, but this {_name(scheduler)} also drives "
            f"{', '.join(driven)} (torch's cycle_momentum=True: the momentum, or betas[0], follows a "
            f"curve too); the lr alone trains another recipe — convert it as well with "
            f"from_torch(scheduler, {hint}) and pass it to optax.inject_hyperparams / ScheduleLR(..., "
            "momentum=...); field='lr' asks for the lr alone without this warning",
            UnconvertedFieldWarning,
            stacklevel=2,
        )
    return out[0] if len(out) == 1 else tuple(out)
