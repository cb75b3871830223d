"""``ScheduleLR``: an lrsched schedule driving a torch optimizer, as a real ``LambdaLR``."""

from __future__ import annotations

import functools
import warnings
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR

from lrsched_jax.core import Schedule
from lrsched_jax.core.validate import here, place
from lrsched_torch._common import (
    Curve,
    Field,
    as_float,
    check_mode,
    check_optimizer,
    check_step,
    fields_json,
    from_json,
    group_fields,
    group_schedules,
    to_json,
)

__all__ = ["ScheduleLR"]

#: The key under which :meth:`ScheduleLR.state_dict` keeps what identifies the curve.
STATE_KEY = "lrsched"
_FORMAT = 1
# Attributes of ours that are rebuilt from the constructor, never saved.
_PRIVATE = ("optimizer", "lr_lambdas", "_schedules", "_mode", "_curve", "_fast", "_fields", "_shared")


class ScheduleLR(LambdaLR):
    r"""Drive a torch optimizer's learning rate with an lrsched schedule.

    A subclass of :class:`torch.optim.lr_scheduler.LambdaLR`, so Lightning, Hugging Face
    ``Trainer``, accelerate and plain loops accept it unchanged. Step semantics are
    torch's: the lr of step 0 is set at construction, and after the ``k``-th
    :meth:`step` every param group's lr is the value of step ``k`` — so update ``k``
    (0-based, ``optimizer.step()`` then ``scheduler.step()``) uses ``lr(k)``, exactly as
    Optax applies the same schedule at its count ``k``. :meth:`get_last_lr`, torch's
    call-order warnings and ``step(epoch)`` (fractional epochs allowed) behave as in any
    torch scheduler.

    Args:
        optimizer: the torch optimizer.
        schedule: an ``lrsched_jax`` schedule for every param group, or a list/tuple with
            one schedule per param group.
        mode: ``"absolute"`` (default): the group's lr *is* ``schedule(k)``.
            ``"multiplier"``: the group's lr is ``initial_lr * schedule(k)`` — ``LambdaLR``'s
            convention, ``initial_lr`` being the group's lr when the scheduler was built
            (kept in ``base_lrs``).
        last_epoch: as in torch: ``-1`` starts at step 0; a value ``>= 0`` resumes (the
            optimizer's groups must then hold ``initial_lr``, as torch requires).
        momentum: a schedule (or one per param group) for the momentum, set where torch's
            ``OneCycleLR``/``CyclicLR`` set it: ``betas[0]`` when the optimizer has ``betas``
            (Adam, AdamW, ...), else ``momentum`` (SGD, RMSprop). Same step semantics as the
            lr: update ``k`` uses ``momentum(k)``, as
            ``optax.inject_hyperparams(optax.sgd)(learning_rate=lr, momentum=m)`` does.
        fields: ``{entry: schedule or one per group}`` for any other numeric param-group
            entry (``{"weight_decay": s}``); ``"momentum"`` here means the same as
            ``momentum=`` (give it one way, not both). Field schedules give the value itself
            in either ``mode``. An entry that no group has, a group without it, or a
            non-numeric entry (``nesterov``, ``betas`` itself, ``lr``) raises ``ValueError``
            or ``TypeError`` at construction.

    The values are the schedule's float64 values exactly (evaluated with NumPy, never
    through JAX), served from chunks of 4096 steps evaluated ahead in one vectorised call,
    so :meth:`step` costs no more than a native torch scheduler's. ``lr_lambdas[i]`` is
    the group's schedule (in absolute mode it returns the lr itself, not a factor).

    Param groups added later with ``optimizer.add_param_group`` follow the curves given
    once for all groups, from the moment they are added, by the rule that built the others:
    in absolute mode the new group's lr is ``schedule(k)``; in multiplier mode it is
    ``initial_lr * schedule(k)``, ``initial_lr`` being the lr the group was added with (set
    as its ``initial_lr`` unless it has one, as torch's schedulers do at construction, and
    appended to ``base_lrs``); a field given as one schedule drives it too (the group must
    have that entry). Where a curve was given as one schedule per group (a list), the one an
    added group should follow is not defined: the next :meth:`step` raises ``RuntimeError``
    saying to build a new ``ScheduleLR`` with one schedule per group (``last_epoch=`` the
    current step continues the run). :meth:`state_dict` then covers every group, so a run
    resumed on the optimizer with the added group (or one built first and extended with
    ``add_param_group``) loads it.

    :meth:`state_dict` holds only plain types (it survives ``torch.save`` /
    ``torch.load(weights_only=True)``), including each group's schedule config; a run
    resumed with :meth:`load_state_dict` at any step continues the identical curve (the
    groups get the restored step's lr — and fields — at once, so the optimizer's state need
    not be loaded for them to be right), and a state saved for another schedule, field
    schedule, mode or number of param groups raises ``ValueError``. A step that is not a
    finite number (``step(float("nan"))``) raises before anything changes.

    Absolute mode — the schedule gives the lr:

    >>> import torch, lrsched_jax as lrs
    >>> from lrsched_torch import ScheduleLR
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=123.0)
    >>> sched = ScheduleLR(opt, lrs.linear(init_lr=0.0, end_lr=1.0, total_steps=4))
    >>> lrs_seen = [opt.param_groups[0]["lr"]]
    >>> for _ in range(5):
    ...     opt.step()  # update k uses lr(k)
    ...     sched.step()
    ...     lrs_seen.append(opt.param_groups[0]["lr"])
    >>> lrs_seen
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]

    Multiplier mode — ``LambdaLR``'s convention, one schedule per param group here:

    >>> opt = torch.optim.SGD(
    ...     [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.1},
    ...      {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.01}], lr=0.1)
    >>> sched = ScheduleLR(opt, [lrs.step_decay(1.0, step_size=2, gamma=0.5), lrs.constant(1.0)],
    ...                    mode="multiplier")
    >>> for _ in range(2):
    ...     opt.step()
    ...     sched.step()
    >>> sched.get_last_lr()
    [0.05, 0.01]

    The momentum too — torch's one-cycle recipe (``OneCycleLR`` cycles ``betas[0]`` of
    AdamW between 0.95 and 0.85), driven from its converted curves:

    >>> from lrsched_torch import from_torch
    >>> opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    >>> torch_sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=100)
    >>> lr, m = from_torch(torch_sched, field="lr"), from_torch(torch_sched, field="momentum")
    >>> opt2 = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    >>> sched = ScheduleLR(opt2, lr, momentum=m)
    >>> opt2.param_groups[0]["betas"]
    (0.95, 0.999)
    >>> for _ in range(29):  # pct_start=0.3: the momentum is lowest at step 0.3 * 100 - 1
    ...     opt2.step()
    ...     sched.step()
    >>> round(opt2.param_groups[0]["betas"][0], 6)
    0.85
    """

    @place("ScheduleLR")
    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: Schedule | Sequence[Schedule],
        mode: str = "absolute",
        last_epoch: int = -1,
        *,
        momentum: Schedule | Sequence[Schedule] | None = None,
        fields: Mapping[str, Schedule | Sequence[Schedule]] | None = None,
    ) -> None:
        check_optimizer(optimizer)
        schedules = group_schedules(schedule, len(optimizer.param_groups))
        self._fields: tuple[Field, ...] = group_fields(optimizer, momentum, fields)
        # Which curves were given once for every group (a group added later follows those).
        given = {"momentum": momentum, **(fields or {})} if momentum is not None else dict(fields or {})
        self._shared = {"lr": isinstance(schedule, Schedule)} | {
            name: isinstance(value, Schedule) for name, value in given.items()
        }
        self._mode = check_mode(mode)
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int):
            raise TypeError(f"{here()}: last_epoch must be an int, got {last_epoch!r}")
        if last_epoch < -1:
            raise ValueError(f"{here()}: last_epoch must be -1 (start) or a step >= 0, got {last_epoch}")
        self._schedules = schedules
        # A subclass overriding get_lr gets torch's own _update_lr, which calls it.
        self._fast = type(self).get_lr is ScheduleLR.get_lr
        # Built before LambdaLR's constructor, which sets lr(0) through get_lr().
        self._curve = Curve(schedules, fields=self._fields) if self._mode == "absolute" else None
        super().__init__(optimizer, lr_lambda=list(schedules), last_epoch=last_epoch)
        self._watch_groups()

    def _watch_groups(self) -> None:
        """Follow ``optimizer.add_param_group`` (torch has no hook for it; torch's schedulers
        wrap ``optimizer.step`` the same way): the added group gets its values at once."""
        opt = self.optimizer
        add = opt.add_param_group
        sched_ref, opt_ref = weakref.ref(self), weakref.ref(opt)

        @functools.wraps(add)
        def add_param_group(param_group: dict[str, Any]) -> None:
            add(param_group)
            sched = sched_ref()
            if sched is not None and sched.optimizer is opt_ref():
                sched._sync_groups(strict=False)

        opt.add_param_group = add_param_group  # type: ignore[method-assign]

    @place("ScheduleLR")
    def _sync_groups(self, strict: bool) -> None:
        """Extend the curves to param groups added since construction: each follows the
        curves given once for all groups. ``strict``: raise where that is not defined."""
        groups = self.optimizer.param_groups
        n, have = len(groups), len(self._schedules)
        if n == have:
            return
        added = groups[have:]
        for group in added:
            # torch's bookkeeping, also what a new ScheduleLR(..., last_epoch=k) needs
            lr = group["lr"]
            group.setdefault("initial_lr", lr.clone() if isinstance(lr, torch.Tensor) else lr)
        per_group = [name for name, shared in self._shared.items() if not shared]
        if n < have or per_group:
            if strict:
                what = (
                    f"fewer than the {have} it was built for"
                    if n < have
                    else f"the {n - have} added after it was built with one schedule per group for "
                    f"{', '.join(per_group)}, so which schedule they follow is not defined"
                )
                raise RuntimeError(
                    f"{here()}: the optimizer now has {n} param group(s), {what}; build a new "
                    f"ScheduleLR(optimizer, [one schedule per group], last_epoch={self.last_epoch}) "
                    "to continue at this step (or give one schedule for all groups, which added "
                    "groups then follow)"
                )
            return
        extra = n - have
        fields = {f.name: f.schedules[0] for f in self._fields}
        self._fields = group_fields(self.optimizer, None, fields) if fields else ()
        self._schedules = self._schedules + (self._schedules[0],) * extra
        self.lr_lambdas = list(self._schedules)
        self.base_lrs = [*self.base_lrs, *(g["initial_lr"] for g in added)]
        if self._mode == "multiplier":
            self._rebuild_curve()
        else:
            self._curve = Curve(self._schedules, fields=self._fields)
        if self.last_epoch >= 0:
            # the added groups only: the others already hold this step's values
            scales = None
            if self._mode == "multiplier":
                scales = [as_float("initial_lr", g["initial_lr"]) for g in added]
            new = [f._replace(schedules=f.schedules[have:]) for f in self._fields]
            Curve(self._schedules[have:], scales, new).apply(added, self.last_epoch)
            self._last_lr = [
                lr.clone() if isinstance(lr, torch.Tensor) else lr for lr in (g["lr"] for g in groups)
            ]

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        """The schedule of each param group."""
        return self._schedules

    @property
    def fields(self) -> dict[str, tuple[Schedule, ...]]:
        """The schedules of the other hyperparameters, ``{name: one per param group}``
        (``"momentum"`` for ``momentum=``; empty when only the lr is driven)."""
        return {f.name: f.schedules for f in self._fields}

    @property
    def mode(self) -> str:
        """``"absolute"`` or ``"multiplier"``."""
        return self._mode

    @place("ScheduleLR")
    def _rebuild_curve(self) -> Curve:
        scales = None
        if self._mode == "multiplier":
            scales = [as_float(f"base_lrs[{i}]", b) for i, b in enumerate(self.base_lrs)]
        self._curve = Curve(self._schedules, scales, self._fields)
        return self._curve

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The lr of every param group at step ``last_epoch`` (absolute mode: ``schedule(k)``;
        multiplier mode: ``initial_lr * schedule(k)``).

        Warns, like every torch scheduler, when called outside :meth:`step`; to read the
        current lr use :meth:`get_last_lr`.
        """
        if not self._get_lr_called_within_step:
            warnings.warn(
                "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                UserWarning,
                stacklevel=2,
            )
        curve = self._curve
        if curve is None:
            curve = self._rebuild_curve()
        return curve.row(self.last_epoch)

    def step(self, epoch: Any = None) -> None:
        """torch's ``LRScheduler.step``: the next step (or step ``epoch``, torch's deprecated
        form; fractional epochs allowed), then every group's lr is that step's value.

        Raises ``TypeError``/``ValueError`` naming ``epoch`` for a step that is not a finite
        real number (NaN, ±inf, a string, a bool) before anything changes — torch itself would
        write the NaN into the optimizer.
        """
        if epoch is not None:
            with place("ScheduleLR.step"):  # not around the whole step: it is on every update's path
                epoch = check_step("epoch", epoch)
        super().step(epoch)

    def _update_lr(self, epoch: Any = None) -> None:
        # torch's LRScheduler._update_lr without its per-step overhead (a context manager,
        # helper calls, the get_lr warning check): Curve.apply, the hot path shared with
        # attach(). step() itself — with torch's call-order and epoch-deprecation warnings —
        # is torch's own. A subclass overriding get_lr, and an optimizer whose param groups
        # changed, take torch's path; the fields are then written after torch's lr update, as
        # torch's OneCycleLR writes the momentum while it computes the lr.
        groups = self.optimizer.param_groups
        if len(groups) != len(self._schedules):
            self._sync_groups(strict=True)
        curve = self._curve
        if curve is None:
            # Multiplier mode: LRScheduler.__init__ has set base_lrs before the first step.
            curve = self._rebuild_curve()
        if not self._fast or len(groups) != len(curve.schedules):
            super()._update_lr(epoch)
            if self._fields:
                if len(groups) != len(curve.schedules):
                    raise RuntimeError(
                        f"ScheduleLR: the optimizer now has {len(groups)} param group(s) but the field "
                        f"schedules cover {len(curve.schedules)}; build a new ScheduleLR after "
                        "add_param_group"
                    )
                curve.apply(groups, self.last_epoch, lr=False)
            return
        k = self.last_epoch + 1 if epoch is None else epoch
        self._last_lr = curve.apply(groups, k)
        self.last_epoch = k

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state, plain types only (``torch.load(weights_only=True)`` reads it).

        torch's own entries (``last_epoch``, ``base_lrs``, ``_last_lr``, ``_step_count``, ...)
        plus ``"lrsched"``: ``{"format": 1, "mode": ..., "schedules": [<JSON config per
        group>], "fields": {name: [<JSON config per group>]}}``, which :meth:`load_state_dict`
        checks against this scheduler (a state without ``"fields"``, saved before fields
        existed, drove the lr only).
        """
        self._sync_groups(strict=False)
        state = {k: v for k, v in self.__dict__.items() if k not in _PRIVATE}
        state[STATE_KEY] = {
            "format": _FORMAT,
            "mode": self._mode,
            "schedules": [to_json(s) for s in self._schedules],
            "fields": fields_json(self._fields),
        }
        return state

    def _check_fields(self, saved: Any) -> None:
        mine = {f.name: f.schedules for f in self._fields}
        if not isinstance(saved, dict) or set(saved) != set(mine):
            names = sorted(saved) if isinstance(saved, dict) else saved
            raise ValueError(
                f"{here()}: the state was saved driving the fields {names!r} beside the lr, this "
                f"scheduler drives {sorted(mine)!r}"
            )
        for name, ours in mine.items():
            texts = saved[name]
            if not isinstance(texts, list) or len(texts) != len(ours):
                raise ValueError(
                    f"{here()}: field {name!r}: the state holds {texts!r}, not one config per group"
                )
            for i, (text, schedule) in enumerate(zip(texts, ours)):
                try:
                    theirs = from_json(text) if isinstance(text, str) else None
                except (TypeError, ValueError) as e:
                    raise ValueError(
                        f"{here()}: field {name!r}, param group {i}: unreadable config: {e}"
                    ) from e
                if theirs != schedule:
                    raise ValueError(
                        f"{here()}: field {name!r}, param group {i}: the state was saved for a different "
                        f"schedule.\n  saved: {theirs!r}\n  this scheduler: {schedule!r}"
                    )

    @place("ScheduleLR.load_state_dict")
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict` output: the curve continues exactly where it was saved.

        Every param group's lr is set to the restored step's value (``lr(last_epoch)``, times
        ``base_lrs`` in multiplier mode), and every field to its value there, so the next
        update applies what the uninterrupted run would — whether or not the optimizer's state
        is loaded too, and in either order.

        Raises ``ValueError`` when the state was saved for a different schedule, field
        schedules (a field more, fewer or another curve), mode or number of param groups
        (instead of silently following another curve), or is not a ``ScheduleLR`` state at
        all (e.g. a plain ``LambdaLR``'s). The dict is not modified.
        """
        self._sync_groups(strict=False)
        if not isinstance(state_dict, dict):
            raise TypeError(f"{here()}: state_dict must be a dict, got {type(state_dict).__name__}")
        meta = state_dict.get(STATE_KEY)
        if not isinstance(meta, dict) or "schedules" not in meta or "mode" not in meta:
            raise ValueError(
                f"{here()}: not a ScheduleLR state (no '{STATE_KEY}' entry); it was saved by another "
                "scheduler class"
            )
        if meta.get("format") != _FORMAT:
            raise ValueError(
                f"{here()}: unsupported state format {meta.get('format')!r} (expected {_FORMAT})"
            )
        if meta["mode"] != self._mode:
            raise ValueError(
                f"{here()}: the state was saved in mode {meta['mode']!r}, this scheduler uses "
                f"mode {self._mode!r}"
            )
        saved = meta["schedules"]
        if not isinstance(saved, list) or len(saved) != len(self._schedules):
            n = len(saved) if isinstance(saved, list) else "?"
            raise ValueError(
                f"{here()}: the state was saved for {n} param group(s), this scheduler has "
                f"{len(self._schedules)}"
            )
        for i, (text, mine) in enumerate(zip(saved, self._schedules)):
            try:
                theirs = from_json(text) if isinstance(text, str) else None
            except (TypeError, ValueError) as e:
                raise ValueError(f"{here()}: param group {i}: unreadable schedule config: {e}") from e
            if theirs != mine:
                raise ValueError(
                    f"{here()}: param group {i}: the state was saved for a different schedule.\n"
                    f"  saved: {theirs!r}\n  this scheduler: {mine!r}\n"
                    "Build the ScheduleLR with the saved schedule to resume that run."
                )
        self._check_fields(meta.get("fields", {}))
        if "last_epoch" not in state_dict:
            raise ValueError(f"{here()}: the state has no 'last_epoch' (the step to resume at)")
        step = check_step("state_dict['last_epoch']", state_dict["last_epoch"])
        if step < 0:
            raise ValueError(f"{here()}: state_dict['last_epoch'] must be >= 0, got {step!r}")
        restored = {k: v for k, v in state_dict.items() if k != STATE_KEY and k not in _PRIVATE}
        restored["last_epoch"] = step
        self.__dict__.update(restored)
        # base_lrs may have changed (multiplier mode), and the step certainly has.
        if self._mode == "multiplier":
            self._rebuild_curve()
        # The groups get the restored step's lr now, so the next update uses it even when the
        # optimizer's own state is not loaded (or is loaded first, then this): torch's
        # LambdaLR leaves the constructor's lr(0) there. Through _update_lr, so that a
        # subclass overriding get_lr is asked as on every step.
        self._update_lr(step)
