"""Count-bound mode: the lr follows the optimizer's own update count (Optax's semantics, in torch)."""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from lrsched_jax.core import Schedule, from_config
from lrsched_jax.core.validate import here, place
from lrsched_torch._common import (
    Curve,
    Field,
    as_float,
    check_mode,
    check_optimizer,
    group_fields,
    group_schedules,
)

__all__ = ["attach", "AttachHandle", "COUNT_KEY", "SCHEDULE_KEY"]

#: The param-group key holding the number of ``optimizer.step()`` calls done while attached.
COUNT_KEY = "lrsched_count"

#: The param-group key recording the attached schedule, mode and field schedules (a JSON
#: string), checked when a state is loaded into an attached optimizer or an optimizer is
#: attached.
SCHEDULE_KEY = "lrsched_schedule"

# optimizer -> its live handle; weak keys, so an attachment never keeps an optimizer alive.
_ATTACHED: weakref.WeakKeyDictionary[torch.optim.Optimizer, AttachHandle] = weakref.WeakKeyDictionary()


def _common_count(groups: Sequence[dict[str, Any]]) -> int:
    """The update count all groups hold, or a ``RuntimeError`` saying what is wrong with it."""
    counts: list[Any] = [g.get(COUNT_KEY) for g in groups]
    for i, k in enumerate(counts):
        if k is None:
            raise RuntimeError(
                f"attach: param group {i} has no {COUNT_KEY!r} (an optimizer state saved without the "
                "attachment was loaded?); set handle.count to the number of updates done"
            )
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise RuntimeError(
                f"attach: param group {i} has an invalid {COUNT_KEY!r}: {k!r} (the number of updates "
                "done, an int >= 0); set handle.count to the number of updates done"
            )
    if len(set(counts)) > 1:
        raise RuntimeError(
            f"attach: the param groups hold different {COUNT_KEY!r} values {counts}; every group "
            "counts the same updates: set handle.count to the number of updates done"
        )
    return int(counts[0])


def _group_fields(fields: Sequence[Field], i: int) -> dict[str, Schedule]:
    return {f.name: f.schedules[i] for f in fields}


def _record_text(schedule: Schedule, mode: str, fields: Mapping[str, Schedule]) -> str:
    record: dict[str, Any] = {"mode": mode, "schedule": schedule.to_config()}
    if fields:
        record["fields"] = {name: s.to_config() for name, s in fields.items()}
    return json.dumps(record, sort_keys=True, allow_nan=False)


def _record(
    groups: Sequence[dict[str, Any]], schedules: Sequence[Schedule], mode: str, fields: Sequence[Field]
) -> None:
    for i, (group, schedule) in enumerate(zip(groups, schedules)):
        group[SCHEDULE_KEY] = _record_text(schedule, mode, _group_fields(fields, i))


def check_recorded(
    groups: Sequence[dict[str, Any]],
    schedules: Sequence[Schedule],
    mode: str,
    fields: Sequence[Field] = (),
) -> None:
    """``ValueError`` naming both schedules when a group holding a count of updates (> 0) was
    recorded under another schedule, mode or field schedules than ``schedules``/``mode``/
    ``fields``. A group without updates starts afresh; a count without a record (a checkpoint
    of an older version) cannot be checked and is accepted; a record without ``"fields"``
    drove the lr only."""
    for i, (group, mine) in enumerate(zip(groups, schedules)):
        if not isinstance(group, dict) or SCHEDULE_KEY not in group or not group.get(COUNT_KEY):
            continue
        text = group[SCHEDULE_KEY]
        try:
            saved: Any = json.loads(text) if isinstance(text, str) else None
            theirs, their_mode = from_config(saved["schedule"]), saved["mode"]
            their_fields = {name: from_config(c) for name, c in saved.get("fields", {}).items()}
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            raise ValueError(f"{here()}: param group {i}: unreadable {SCHEDULE_KEY!r}: {text!r}") from e
        my_fields = _group_fields(fields, i)
        if theirs != mine or their_mode != mode or their_fields != my_fields:
            saved_f = f", fields {their_fields!r}" if their_fields else ""
            mine_f = f", fields {my_fields!r}" if my_fields else ""
            raise ValueError(
                f"{here()}: param group {i}: its update count ({group[COUNT_KEY]!r}) was saved under "
                f"another schedule.\n  saved: {theirs!r} (mode {their_mode!r}{saved_f})\n  attached: "
                f"{mine!r} (mode {mode!r}{mine_f})\nAttach the saved schedules to resume that run, or "
                f"remove {COUNT_KEY!r} from the param groups to start this schedule at update 0."
            )


class AttachHandle:
    """The attachment made by :func:`attach`; :meth:`detach` removes it.

    ``count`` reads (and, for a manual resume, sets) the update count kept in every param
    group under :data:`COUNT_KEY`.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedules: tuple[Schedule, ...],
        mode: str,
        fields: tuple[Field, ...] = (),
    ) -> None:
        self._opt_ref = weakref.ref(optimizer)
        self._schedules = schedules
        self._mode = mode
        self._fields = fields
        self._curve = Curve(schedules, fields=fields)
        self._n = len(schedules)
        self._multiplier = mode == "multiplier"
        self._hooks: list[Any] = []

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        """The schedule of each param group."""
        return self._schedules

    @property
    def mode(self) -> str:
        """``"absolute"`` or ``"multiplier"``."""
        return self._mode

    @property
    def fields(self) -> dict[str, tuple[Schedule, ...]]:
        """The schedules of the other hyperparameters, ``{name: one per param group}``."""
        return {f.name: f.schedules for f in self._fields}

    @property
    def attached(self) -> bool:
        """Whether the hooks are still in place."""
        return bool(self._hooks)

    def _optimizer(self) -> torch.optim.Optimizer:
        opt = self._opt_ref()
        if opt is None:
            raise RuntimeError("attach: the optimizer no longer exists")
        return opt

    @property
    def count(self) -> int:
        """Updates done so far: the next ``optimizer.step()`` uses ``schedule(count)``."""
        return int(self._optimizer().param_groups[0][COUNT_KEY])

    @count.setter
    def count(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"attach: count must be an int, got {value!r}")
        if value < 0:
            raise ValueError(f"attach: count must be >= 0, got {value}")
        opt = self._optimizer()
        for group in opt.param_groups:
            group[COUNT_KEY] = value
        self._apply(opt)

    def _apply(self, opt: torch.optim.Optimizer) -> None:
        """Set every group's lr (and fields) for the update about to happen (its count)."""
        groups = opt.param_groups
        n = len(groups)
        k = groups[0].get(COUNT_KEY)
        if (
            n != self._n
            or type(k) is not int
            or k < 0
            or (n > 1 and any(g.get(COUNT_KEY) != k for g in groups))
        ):
            k = self._checked_count(groups)
        if self._multiplier:
            with place("attach"):  # only here: the hook runs before every update
                factors = [as_float("initial_lr", g["initial_lr"]) for g in groups]
            self._curve.apply(groups, k, factors)
        else:
            self._curve.apply(groups, k)

    def _checked_count(self, groups: Sequence[dict[str, Any]]) -> int:
        if len(groups) != self._n:
            raise RuntimeError(
                f"attach: the optimizer now has {len(groups)} param group(s) but the attachment has "
                f"{self._n} schedule(s); detach and attach again after add_param_group"
            )
        return _common_count(groups)

    def _pre_hook(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self._apply(opt)

    def _post_hook(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        for group in opt.param_groups:
            group[COUNT_KEY] = group[COUNT_KEY] + 1
        # So that group["lr"] shows the lr of the next update, like after scheduler.step().
        self._apply(opt)

    @place("optimizer.load_state_dict")
    def _check_loaded(self, opt: torch.optim.Optimizer, state_dict: dict[str, Any]) -> None:
        # A load_state_dict pre-hook: a state saved under another schedule is refused before
        # torch loads anything into the optimizer.
        groups = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        if not isinstance(groups, list):
            return  # torch reports a malformed state itself
        for i, group in enumerate(groups):
            k = group.get(COUNT_KEY, 0) if isinstance(group, dict) else 0
            if isinstance(k, bool) or not isinstance(k, int) or k < 0:
                raise ValueError(
                    f"{here()}: param group {i}: {COUNT_KEY!r} must be the number of updates done "
                    f"(an int >= 0), got {k!r}"
                )
        check_recorded(groups, self._schedules, self._mode, self._fields)

    def _load_hook(self, opt: torch.optim.Optimizer) -> None:
        # A loaded state without the count is reported by the next step's pre-hook.
        if all(COUNT_KEY in g for g in opt.param_groups):
            _record(opt.param_groups, self._schedules, self._mode, self._fields)
            self._apply(opt)

    def detach(self) -> None:
        """Remove the hooks: ``optimizer.step()`` no longer sets the lr.

        The lr stays at its current value and the count stays in the param groups (a later
        :func:`attach` continues from it). Calling it again does nothing.
        """
        for h in self._hooks:
            h.remove()
        self._hooks = []
        opt = self._opt_ref()
        if opt is not None and _ATTACHED.get(opt) is self:
            del _ATTACHED[opt]

    def __repr__(self) -> str:
        state = "attached" if self.attached else "detached"
        fields = f", fields={self.fields!r}" if self._fields else ""
        return f"AttachHandle({state}, mode={self._mode!r}, schedules={self._schedules!r}{fields})"


@place("attach")
def attach(
    optimizer: torch.optim.Optimizer,
    schedule: Schedule | Sequence[Schedule],
    mode: str = "absolute",
    *,
    momentum: Schedule | Sequence[Schedule] | None = None,
    fields: Mapping[str, Schedule | Sequence[Schedule]] | None = None,
) -> AttachHandle:
    r"""Bind a schedule to the optimizer's own update count: update ``k`` uses ``schedule(k)``.

    A step pre-hook sets every param group's lr from the group's update count before each
    ``optimizer.step()``, and a post-hook increments the count (and sets the lr of the next
    update, so ``group["lr"]`` always shows the lr the next update will use). This is
    Optax's semantics in torch: no ``scheduler.step()`` is needed, and a forgotten or
    doubled ``scheduler.step()`` of any scheduler on the same optimizer cannot
    desynchronise the curve (the pre-hook overrides whatever it set). A step whose closure
    raises is not counted.

    The count is stored in each param group under ``"lrsched_count"`` (:data:`COUNT_KEY`),
    so it is part of ``optimizer.state_dict()`` and comes back with
    ``optimizer.load_state_dict()`` (also through ``torch.save`` /
    ``torch.load(weights_only=True)``): load the checkpoint into the attached optimizer,
    or attach after loading — either way the curve continues at the saved count. A count
    already present in the groups when attaching is continued, otherwise it starts at 0.

    Beside the count each group records its schedule, mode and field schedules
    (``"lrsched_schedule"``, :data:`SCHEDULE_KEY`, a JSON string), so a count saved under
    another schedule (or another momentum/field schedule) is refused
    as :class:`~lrsched_torch.ScheduleLR` refuses another schedule's state: loading such a
    state into the attached optimizer (checked before torch loads anything), or attaching to
    groups that hold one, raises ``ValueError`` naming both schedules (a count of 0 is not
    checked: no update used the old schedule). To start a new schedule on an optimizer that
    was attached before, remove ``"lrsched_count"`` from its groups.

    Args:
        optimizer: the torch optimizer (not already attached: a second :func:`attach`
            raises ``RuntimeError`` until the first handle is detached).
        schedule: one ``lrsched_jax`` schedule for every group, or one per group.
        mode: ``"absolute"`` (the lr is ``schedule(k)``) or ``"multiplier"`` (the lr is
            ``initial_lr * schedule(k)``; ``initial_lr`` is the group's lr at the first
            attachment or torch scheduler, kept in the group like torch does).
        momentum: a schedule (or one per group) for the momentum, written before update
            ``k`` as ``momentum(k)`` where torch's ``OneCycleLR`` writes it: ``betas[0]``
            when the optimizer has ``betas``, else ``momentum``.
        fields: ``{entry: schedule or one per group}`` for other numeric param-group
            entries (``{"weight_decay": s}``; ``"momentum"`` = ``momentum=``, not both), as
            in :class:`~lrsched_torch.ScheduleLR`. Field schedules give the value itself in
            either mode, and are recorded and checked beside the lr's schedule.

    Returns:
        an :class:`AttachHandle`; ``handle.detach()`` removes the hooks.

    Example — ``scheduler.step()`` is never called, the count drives the lr:

    >>> import torch, lrsched_jax as lrs
    >>> from lrsched_torch import attach
    >>> p = torch.nn.Parameter(torch.zeros(1))
    >>> opt = torch.optim.SGD([p], lr=0.1)
    >>> handle = attach(opt, lrs.piecewise_constant([2], [1.0, 0.5]), mode="multiplier")
    >>> seen = []
    >>> for _ in range(4):
    ...     seen.append(opt.param_groups[0]["lr"])  # the lr this update uses
    ...     opt.step()
    >>> seen, opt.param_groups[0]["lrsched_count"]
    ([0.1, 0.1, 0.05, 0.05], 4)
    >>> handle.detach()
    """
    check_optimizer(optimizer)
    if optimizer in _ATTACHED:
        raise RuntimeError(
            "attach: this optimizer already has a schedule attached; call .detach() on its handle first"
        )
    schedules = group_schedules(schedule, len(optimizer.param_groups))
    mode = check_mode(mode)
    resolved = group_fields(optimizer, momentum, fields)
    for group in optimizer.param_groups:
        existing = group.get(COUNT_KEY, 0)
        if isinstance(existing, bool) or not isinstance(existing, int) or existing < 0:
            raise ValueError(f"attach: param group has an invalid {COUNT_KEY!r}: {existing!r}")
    check_recorded(optimizer.param_groups, schedules, mode, resolved)
    for group in optimizer.param_groups:
        group[COUNT_KEY] = group.get(COUNT_KEY, 0)
        if mode == "multiplier":
            lr = group["lr"]
            group.setdefault("initial_lr", lr.clone() if isinstance(lr, torch.Tensor) else lr)
    _record(optimizer.param_groups, schedules, mode, resolved)
    handle = AttachHandle(optimizer, schedules, mode, resolved)
    handle._apply(optimizer)
    handle._hooks = [
        optimizer.register_step_pre_hook(handle._pre_hook),
        optimizer.register_step_post_hook(handle._post_hook),
        optimizer.register_load_state_dict_pre_hook(handle._check_loaded),
        optimizer.register_load_state_dict_post_hook(handle._load_hook),
    ]
    _ATTACHED[optimizer] = handle
    return handle
