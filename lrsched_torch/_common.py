"""Shared pieces of the torch adapters: argument checks, the chunked float64 curve and the one
hot path (:meth:`Curve.apply`) through which :class:`~lrsched_torch.ScheduleLR` and
:func:`~lrsched_torch.attach` write the lr into the param groups.

Nothing here imports JAX: schedules are evaluated on NumPy int64 steps, which the
``lrsched_jax`` schedules compute in NumPy float64 on the host.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from lrsched_jax.core import Schedule, from_config
from lrsched_jax.core.validate import here, place

__all__ = [
    "CRITERION_MODULES",
    "accuracy",
    "cross_entropy",
    "MODES",
    "CHUNK",
    "Curve",
    "check_optimizer",
    "check_mode",
    "check_step",
    "check_group",
    "group_schedules",
    "Field",
    "group_fields",
    "momentum_target",
    "fields_json",
    "to_json",
    "from_json",
]

#: The two ways a schedule can drive a param group's lr.
MODES = ("absolute", "multiplier")

#: Steps evaluated ahead in one vectorised call (one NumPy evaluation per group per chunk).
CHUNK = 4096

_INT64_MAX = int(np.iinfo(np.int64).max)

#: Functions and loss modules of these modules are criteria of ``(output, y)``, never
#: ``(model, batch)`` losses (:func:`lrsched_jax.core.losses.check_not_criterion`).
CRITERION_MODULES = ("torch",)


def cross_entropy(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean softmax cross-entropy of ``output`` (logits) against integer labels ``y``
    (``F.cross_entropy``): the default ``criterion`` of every torch helper that trains."""
    return torch.nn.functional.cross_entropy(output, y)


def accuracy(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The fraction of samples whose largest logit is the label's: the default ``metric``."""
    return (output.argmax(dim=-1) == y).double().mean()


def check_optimizer(optimizer: Any) -> torch.optim.Optimizer:
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"{here()}: optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    if not optimizer.param_groups:
        raise ValueError(f"{here()}: optimizer has no param groups")
    return optimizer


def check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise ValueError(f"{here()}: mode must be 'absolute' or 'multiplier', got {mode!r}")
    return str(mode)


def group_schedules(schedule: Any, n_groups: int) -> tuple[Schedule, ...]:
    """One schedule per param group: ``schedule`` repeated, or a list/tuple of ``n_groups``."""
    if isinstance(schedule, Schedule):
        return (schedule,) * n_groups
    if isinstance(schedule, (list, tuple)):
        if len(schedule) != n_groups:
            raise ValueError(
                f"{here()}: schedule has {len(schedule)} entries but the optimizer has {n_groups} "
                "param group(s); pass one schedule for all groups or exactly one per group"
            )
        for i, s in enumerate(schedule):
            if not isinstance(s, Schedule):
                raise TypeError(
                    f"{here()}: schedule[{i}] must be an lrsched_jax schedule, got {type(s).__name__}"
                )
        return tuple(schedule)
    hint = ""
    if callable(schedule):
        hint = " (write the function as an lrsched schedule, or use torch's LambdaLR)"
    raise TypeError(
        f"{here()}: schedule must be an lrsched_jax schedule or a list/tuple of them (one per param group), "
        f"got {type(schedule).__name__}{hint}"
    )


#: Param-group entries no field schedule drives: the lr has its own argument (``schedule``),
#: ``initial_lr`` is torch's scheduler bookkeeping, ``params`` are the tensors, and ``betas``
#: is a tuple (``momentum=`` drives ``betas[0]``).
_NOT_FIELDS = ("params", "lr", "initial_lr", "betas")


class Field(NamedTuple):
    """One hyperparameter beside the lr that a schedule drives, resolved for an optimizer.

    ``name`` is what the user called it (``"momentum"``, ``"weight_decay"``); ``key`` the
    param-group entry written and ``position`` the index inside it for a tuple entry
    (``momentum`` on an optimizer with ``betas``: ``key="betas"``, ``position=0``), else None;
    ``schedules`` one schedule per param group.
    """

    name: str
    key: str
    position: int | None
    schedules: tuple[Schedule, ...]


def momentum_target(optimizer: torch.optim.Optimizer) -> tuple[str, int | None]:
    """Where torch's ``OneCycleLR``/``CyclicLR`` put the momentum: ``betas[0]`` when the
    optimizer's defaults have ``betas`` (Adam, AdamW, ...), else ``momentum`` (SGD, RMSprop)."""
    defaults = optimizer.defaults
    if "betas" in defaults:
        return "betas", 0
    if "momentum" in defaults:
        return "momentum", None
    raise ValueError(
        f"{here()}: momentum: {type(optimizer).__name__} has neither 'momentum' nor 'betas' among its "
        "hyperparameters (torch's OneCycleLR refuses it with cycle_momentum=True for the same reason)"
    )


def _is_number(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() == 1 and value.is_floating_point()
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def group_fields(optimizer: torch.optim.Optimizer, momentum: Any, fields: Any) -> tuple[Field, ...]:
    """The hyperparameters beside the lr that ``momentum=`` and ``fields=`` ask to drive.

    ``fields`` maps a param-group entry (``"weight_decay"``, ...) to one schedule or one per
    group; ``"momentum"`` in it, like ``momentum=``, means torch's momentum: ``betas[0]``
    where the optimizer has betas (see :func:`momentum_target`). ``ValueError`` for the
    momentum given both ways, an entry no group has, a group without it, and the entries
    that are not numeric hyperparameters; ``TypeError`` for a non-number value.
    """
    if fields is None:
        named: dict[Any, Any] = {}
    elif isinstance(fields, Mapping):
        named = dict(fields)
    else:
        raise TypeError(
            f"{here()}: fields must be a dict mapping a param-group entry to a schedule (or one per "
            f"group), got {type(fields).__name__}"
        )
    labels = {name: f"fields[{name!r}]" for name in named}
    if momentum is not None:
        if "momentum" in named:
            raise ValueError(
                f"{here()}: the momentum schedule is given twice, as momentum= and as "
                "fields={'momentum': ...}; pass it once"
            )
        named = {"momentum": momentum, **named}
        labels["momentum"] = "momentum"
    groups = optimizer.param_groups
    out = []
    for name, value in named.items():
        if not isinstance(name, str):
            raise TypeError(f"{here()}: fields keys must be param-group entry names (str), got {name!r}")
        label = labels[name]
        if name in _NOT_FIELDS:
            use = {
                "lr": "the lr is the schedule argument",
                "betas": "momentum= drives betas[0], the momentum of Adam-type optimizers",
            }.get(name, "torch keeps it for itself")
            raise ValueError(f"{here()}: {label}: {name!r} cannot follow a field schedule ({use})")
        with place(f"{here()}: {label}"):
            schedules = group_schedules(value, len(groups))
        key, index = momentum_target(optimizer) if name == "momentum" else (name, None)
        if not any(key in g for g in groups):
            known = sorted(k for k in groups[0] if k not in _NOT_FIELDS and _is_number(groups[0][k]))
            raise ValueError(
                f"{here()}: {label}: unknown field {key!r}: the param groups of this "
                f"{type(optimizer).__name__} have no such entry (numeric entries: {', '.join(known)})"
            )
        for i, group in enumerate(groups):
            if key not in group:
                raise ValueError(f"{here()}: {label}: param group {i} has no {key!r} entry")
            current = group[key]
            if index is not None:
                if not isinstance(current, (tuple, list)) or len(current) <= index:
                    raise ValueError(
                        f"{here()}: {label}: param group {i}: {key!r} must be a tuple with an entry "
                        f"{index}, got {current!r}"
                    )
                current = current[index]
            if not _is_number(current):
                raise TypeError(
                    f"{here()}: {label}: param group {i}: {key!r} holds {current!r}, not a number; only "
                    "numeric hyperparameters can follow a schedule"
                )
        out.append(Field(name, key, index, schedules))
    return tuple(out)


def fields_json(fields: Sequence[Field]) -> dict[str, list[str]]:
    """``{name: [canonical JSON config per group]}``: what identifies the field curves."""
    return {f.name: [to_json(s) for s in f.schedules] for f in fields}


def as_float(name: str, value: Any) -> float:
    """A torch lr (Python number or one-element tensor) as a Python float."""
    if type(value) is float:
        return value
    if isinstance(value, torch.Tensor):
        return float(value.item())
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{here()}: {name} must be a number, got {value!r}")
    return float(value)


def check_step(name: str, value: Any) -> int | float:
    """A step given by the user (an epoch, a restored ``last_epoch``) as a Python int or float.

    Integers (Python, NumPy, one-element integer tensors) stay exact ints; other real numbers
    become floats (fractional epochs). ``TypeError`` for anything that is not a real number
    (``bool`` included), ``ValueError`` for NaN and infinities — which would otherwise reach
    the optimizer as a NaN lr.
    """
    if type(value) is int:
        return value
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex():
            raise TypeError(f"{here()}: {name}: the step (last_epoch) must be a number, got {value!r}")
        value = value.item()
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating)):
        raise TypeError(f"{here()}: {name}: the step (last_epoch) must be a number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{here()}: {name}: the step (last_epoch) must be finite, got {value!r}")
    return out


def to_json(schedule: Schedule) -> str:
    """A schedule's config as a canonical JSON string (floats round-trip exactly)."""
    return json.dumps(schedule.to_config(), sort_keys=True, allow_nan=False)


def from_json(text: str) -> Schedule:
    return from_config(json.loads(text))


class Curve:
    """The float64 values of one schedule per group, served from chunks evaluated ahead.

    ``row(k)`` is a new list ``[scales[i] * schedules[i](k) for each group]`` of Python
    floats: the lrs. ``fields`` (see :class:`Field`) add the curves of other hyperparameters
    (momentum, weight decay, ...), which :meth:`apply` writes beside the lr; ``scales``
    apply to the lrs only. Integer steps come from a chunk of ``CHUNK`` consecutive steps
    evaluated in one vectorised NumPy call per schedule and kept as one flat list per
    schedule (``cols``: the lr schedules, then each field's; refilled, starting at ``k``,
    whenever ``k`` leaves the chunk — also backwards, after a resume); other steps
    (fractional epochs) are evaluated one at a time. The values are exactly the schedule's
    float64 values (times ``scales``: one IEEE multiplication, the same as multiplying the
    scalar).
    """

    __slots__ = ("_all", "_n", "cols", "fields", "scales", "schedules", "size", "start")

    def __init__(
        self,
        schedules: Sequence[Schedule],
        scales: Sequence[float] | None = None,
        fields: Sequence[Field] = (),
    ) -> None:
        self.schedules = tuple(schedules)
        self.scales = None if scales is None else tuple(float(s) for s in scales)
        self.fields = tuple(fields)
        for f in self.fields:
            if len(f.schedules) != len(self.schedules):
                raise ValueError(
                    f"lrsched_torch: field {f.name!r} has {len(f.schedules)} schedule(s) for "
                    f"{len(self.schedules)} param group(s)"
                )
        self._all = self.schedules + tuple(s for f in self.fields for s in f.schedules)
        self._n = len(self.schedules)
        self.start = 0
        self.cols: list[list[float]] = [[] for _ in self._all]
        self.size = 0

    def index(self, k: Any) -> int:
        """The position of integer step ``k`` in ``cols`` (refilling if needed), or -1 for a
        step that is not an integer."""
        if type(k) is not int:
            if isinstance(k, (numbers.Integral, np.integer)) and not isinstance(k, bool):
                k = int(k)
            else:
                return -1
        j = k - self.start
        if 0 <= j < self.size:
            return j
        self._fill(k)
        return k - self.start

    def row(self, k: Any) -> list[float]:
        """The lr of every group at step ``k``."""
        j = self.index(k)
        if j < 0:
            return self._single(k)[: self._n]
        return [c[j] for c in self.cols[: self._n]]

    def values(self, k: Any) -> list[float]:
        """Every value at step ``k``: the lrs, then each field's value per group."""
        j = self.index(k)
        if j < 0:
            return self._single(k)
        return [c[j] for c in self.cols]

    def _fill(self, k: int) -> None:
        start = max(k, 0)
        stop = min(start + CHUNK, _INT64_MAX)
        steps = np.arange(start, stop, dtype=np.int64)
        cols = [np.asarray(s(steps), dtype=np.float64) for s in self._all]
        if self.scales is not None:
            cols[: self._n] = [c * f for c, f in zip(cols, self.scales)]
        if k < 0:
            # Negative steps count as step 0 (the schedules clip them); keep index arithmetic.
            cols = [np.concatenate([np.full(-k, c[0]), c]) for c in cols]
            start = k
        self.cols = [c.tolist() for c in cols]
        self.start = start
        self.size = len(self.cols[0])

    @place("lrsched_torch")
    def _single(self, k: Any) -> list[float]:
        t = np.float64(check_step("step", k))
        vals = [float(s(t)) for s in self._all]
        if self.scales is not None:
            vals[: self._n] = [v * f for v, f in zip(vals, self.scales)]
        return vals

    def apply(
        self,
        groups: Sequence[dict[str, Any]],
        k: Any,
        factors: Sequence[float] | None = None,
        lr: bool = True,
    ) -> list[Any]:
        """Set every param group's lr (and fields) to their values at step ``k``; return what
        ``_last_lr`` holds.

        The one hot path of :meth:`ScheduleLR.step() <lrsched_torch.ScheduleLR.step>` and of
        :func:`~lrsched_torch.attach`'s step hooks. Group ``i`` gets ``row(k)[i]``, times
        ``factors[i]`` when given (attach's multiplier mode: the group's ``initial_lr``). An
        integer step inside the current chunk is one list lookup per value — no schedule
        evaluation, no NumPy call; any other step goes through :meth:`values`. A tensor lr is
        filled in place (``fill_``), keeping the tensor object the optimizer holds; the return
        value then holds clones of the tensors, as torch's schedulers keep in ``_last_lr``.

        Each field's value goes into ``group[key]`` — or, for a tuple entry (``betas``), into
        its ``position``-th element, the tuple rebuilt as torch's ``OneCycleLR`` does
        (``(m, *betas[1:])``); a tensor there is filled in place too. ``lr=False`` writes
        the fields only (after torch's own lr update, for a subclass overriding ``get_lr``)
        and returns the lrs of step ``k`` without writing them.
        """
        j = k - self.start if type(k) is int else -1
        fields = self.fields
        if 0 <= j < self.size:
            cols = self.cols
            if fields:
                full = [c[j] for c in cols]
                row = full[: self._n]
            else:
                # One group is the common case; a one-element display beats a comprehension's call.
                row = [cols[0][j]] if len(cols) == 1 else [c[j] for c in cols]
        else:
            full = self.values(k)
            row = full[: self._n]
        if fields:
            pos = self._n
            for f in fields:
                key, index = f.key, f.position
                for group, v in zip(groups, full[pos : pos + self._n]):
                    old = group[key]
                    if index is None:
                        if type(old) is not float and isinstance(old, torch.Tensor):
                            old.fill_(v)
                        else:
                            group[key] = v
                    elif isinstance(old[index], torch.Tensor):
                        old[index].fill_(v)
                    else:
                        group[key] = (*old[:index], v, *old[index + 1 :])
                pos += self._n
        if not lr:
            return row
        if factors is not None:
            row = [f * v for f, v in zip(factors, row)]
        tensors = False
        for group, value in zip(groups, row):
            old = group["lr"]
            # type() first: isinstance(x, torch.Tensor) goes through torch's metaclass (slow).
            if type(old) is not float and isinstance(old, torch.Tensor):
                old.fill_(value)
                tensors = True
            else:
                group["lr"] = value
        if tensors:
            return [g["lr"].clone() if isinstance(g["lr"], torch.Tensor) else g["lr"] for g in groups]
        return row


def check_group(group: Any, n_groups: int) -> None:
    """``group`` (when given) a param-group index in ``[0, n_groups)``: the converters' ``group=``."""
    if group is None:
        return
    if isinstance(group, bool) or not isinstance(group, int):
        raise TypeError(f"{here()}: group must be an int param-group index, got {group!r}")
    if not 0 <= group < n_groups:
        raise ValueError(f"{here()}: group must be in [0, {n_groups}) for this optimizer, got {group}")
