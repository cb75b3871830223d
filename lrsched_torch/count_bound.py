"""Count-bound mode: the lr follows the optimizer's own update count (Optax's semantics, in torch)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import torch

from lrsched_jax.core import Schedule
from lrsched_torch._common import Curve, as_float, check_mode, check_optimizer, group_schedules

__all__ = ["attach", "AttachHandle", "COUNT_KEY"]

#: The param-group key holding the number of ``optimizer.step()`` calls done while attached.
COUNT_KEY = "lrsched_count"

# optimizer -> its live handle; weak keys, so an attachment never keeps an optimizer alive.
_ATTACHED: weakref.WeakKeyDictionary[torch.optim.Optimizer, AttachHandle] = weakref.WeakKeyDictionary()


class AttachHandle:
    """The attachment made by :func:`attach`; :meth:`detach` removes it.

    ``count`` reads (and, for a manual resume, sets) the update count kept in every param
    group under :data:`COUNT_KEY`.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedules: tuple[Schedule, ...], mode: str) -> None:
        self._opt_ref = weakref.ref(optimizer)
        self._schedules = schedules
        self._mode = mode
        self._curve = Curve(schedules)
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
        """Set every group's lr for the update about to happen (its count)."""
        groups = opt.param_groups
        if len(groups) != len(self._schedules):
            raise RuntimeError(
                f"attach: the optimizer now has {len(groups)} param group(s) but the attachment has "
                f"{len(self._schedules)} schedule(s); detach and attach again after add_param_group"
            )
        curve = self._curve
        multiplier = self._mode == "multiplier"
        for i, group in enumerate(groups):
            k = group.get(COUNT_KEY)
            j = k - curve.start if type(k) is int else -1
            if 0 <= j < curve.size:
                value = curve.cols[i][j]
            else:
                value = self._lookup(i, k)
            if multiplier:
                value = as_float("attach", "initial_lr", group["initial_lr"]) * value
            lr = group["lr"]
            # type() first: isinstance(x, torch.Tensor) goes through torch's metaclass (slow).
            if type(lr) is not float and isinstance(lr, torch.Tensor):
                lr.fill_(value)
            else:
                group["lr"] = value

    def _lookup(self, i: int, k: Any) -> float:
        if k is None:
            raise RuntimeError(
                f"attach: param group {i} has no {COUNT_KEY!r} (an optimizer state saved without the "
                "attachment was loaded?); set handle.count to the number of updates done"
            )
        j = self._curve.index(k)
        return self._curve.cols[i][j] if j >= 0 else self._curve.row(k)[i]

    def _pre_hook(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self._apply(opt)

    def _post_hook(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        for group in opt.param_groups:
            group[COUNT_KEY] = group[COUNT_KEY] + 1
        # So that group["lr"] shows the lr of the next update, like after scheduler.step().
        self._apply(opt)

    def _load_hook(self, opt: torch.optim.Optimizer) -> None:
        # A loaded state without the count is reported by the next step's pre-hook.
        if all(COUNT_KEY in g for g in opt.param_groups):
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
        return f"AttachHandle({state}, mode={self._mode!r}, schedules={self._schedules!r})"


def attach(
    optimizer: torch.optim.Optimizer,
    schedule: Schedule | Sequence[Schedule],
    mode: str = "absolute",
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

    Args:
        optimizer: the torch optimizer (not already attached: a second :func:`attach`
            raises ``RuntimeError`` until the first handle is detached).
        schedule: one ``lrsched_jax`` schedule for every group, or one per group.
        mode: ``"absolute"`` (the lr is ``schedule(k)``) or ``"multiplier"`` (the lr is
            ``initial_lr * schedule(k)``; ``initial_lr`` is the group's lr at the first
            attachment or torch scheduler, kept in the group like torch does).

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
    where = "attach"
    check_optimizer(where, optimizer)
    if optimizer in _ATTACHED:
        raise RuntimeError(
            "attach: this optimizer already has a schedule attached; call .detach() on its handle first"
        )
    schedules = group_schedules(where, schedule, len(optimizer.param_groups))
    mode = check_mode(where, mode)
    for group in optimizer.param_groups:
        existing = group.get(COUNT_KEY, 0)
        if isinstance(existing, bool) or not isinstance(existing, int) or existing < 0:
            raise ValueError(f"attach: param group has an invalid {COUNT_KEY!r}: {existing!r}")
        group[COUNT_KEY] = existing
        if mode == "multiplier":
            lr = group["lr"]
            group.setdefault("initial_lr", lr.clone() if isinstance(lr, torch.Tensor) else lr)
    handle = AttachHandle(optimizer, schedules, mode)
    handle._apply(optimizer)
    handle._hooks = [
        optimizer.register_step_pre_hook(handle._pre_hook),
        optimizer.register_step_post_hook(handle._post_hook),
        optimizer.register_load_state_dict_post_hook(handle._load_hook),
    ]
    _ATTACHED[optimizer] = handle
    return handle
