r"""Reduce-on-plateau as a pure state machine ``(state, metric) -> state``.

torch's ``ReduceLROnPlateau`` is not a function of the step: it reacts to a metric reported
once per epoch. Here it is written once as an immutable config (:class:`ReduceOnPlateau`;
the factory ``reduce_on_plateau`` is the class itself) with a pure ``init(lr) -> state`` and
``update(state, metric) -> state``, in the array-namespace style of the schedules: the state
is a :class:`PlateauState` of arrays, every decision is an ``xp.where`` (no Python branch
on a value), so the same code runs in NumPy float64 on the host and traced under
``jax.jit`` / ``jax.lax.scan``. This module does not import JAX; the Optax gradient
transformation built on it lives in :mod:`lrsched_jax.plateau_optax`.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np

from lrsched_jax.core import _math, validate
from lrsched_jax.core.validate import arg, here, place
from lrsched_jax.core.xp import namespace as _namespace

__all__ = ["PlateauState", "ReduceOnPlateau", "reduce_on_plateau"]


class PlateauState(NamedTuple):
    """The plateau state machine's state: arrays only, so it is a JAX pytree as it stands.

    Field names follow the attributes of torch's ``ReduceLROnPlateau``.
    """

    #: The current learning rate of each parameter group, 1-D (torch: ``get_last_lr()``).
    lr: Any
    #: The best metric so far; ``+inf`` (mode ``"min"``) or ``-inf`` (``"max"``) before any.
    best: Any
    #: Reports in a row that were not an improvement (reset by a reduction and in cooldown).
    num_bad_epochs: Any
    #: Reports left in the cooldown that follows a reduction.
    cooldown_counter: Any
    #: How many metrics have been reported.
    last_epoch: Any


def _min_lr(name: str, value: Any) -> float | tuple[float, ...]:
    """One lr for every group, or a non-empty list of them (one per group)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return validate.lr(name, value)
    if isinstance(value, np.ndarray) and value.ndim > 0:
        value = value.tolist()
    items = validate.lr_list(name, value)
    if not items:
        raise ValueError(f"{here()}: {name} must be a number or a non-empty list (one per group), got []")
    return items


@validate.checked
class ReduceOnPlateau(validate.Checked):
    r"""torch's ``ReduceLROnPlateau`` as an immutable config with a pure state machine.

    One :meth:`update` is one ``scheduler.step(metric)``. With ``a`` the metric and ``best``
    the best metric so far (``+inf`` / ``-inf`` at the start), ``a`` is an improvement when

    ============  ======================================  =============================
    mode          ``threshold_mode="rel"``                ``threshold_mode="abs"``
    ============  ======================================  =============================
    ``"min"``     ``a < best * (1 - threshold)``          ``a < best - threshold``
    ``"max"``     ``a > best * (threshold + 1)``          ``a > best + threshold``
    ============  ======================================  =============================

    then, exactly in torch's order:

    1. an improvement sets ``best = a`` and ``num_bad_epochs = 0``, anything else adds 1 to
       ``num_bad_epochs``;
    2. in cooldown (``cooldown_counter > 0``): ``cooldown_counter -= 1`` and
       ``num_bad_epochs = 0`` (bad epochs in cooldown are ignored);
    3. if ``num_bad_epochs > patience``: each group's lr becomes
       ``new = max(lr * factor, min_lr[g])``, applied only where ``lr - new > eps``; then
       ``cooldown_counter = cooldown`` and ``num_bad_epochs = 0`` (also when no group
       changed, e.g. every group already at its ``min_lr``).

    So with ``patience=p`` the lr drops at the ``(p+1)``-th bad report in a row, and with
    ``patience=0`` at every report that is not an improvement.

    Boundary behaviour (identical to torch, decided by IEEE comparisons, not special cases):

    * a NaN metric is never an improvement: it counts as a bad epoch and never becomes
      ``best``;
    * in mode ``"min"``, ``+inf`` is never an improvement and ``-inf`` improves on any
      finite ``best`` — after which nothing improves any more, so every later report is a
      bad epoch (mode ``"max"`` mirrors this);
    * the relative threshold scales ``best`` itself, so for a *negative* ``best`` in mode
      ``"min"`` the bar ``best * (1 - threshold)`` lies above ``best``: a value slightly
      *worse* than ``best`` counts as an improvement (torch does the same). Use
      ``threshold_mode="abs"`` for metrics that can be negative;
    * ``threshold >= 1`` with ``"rel"``/``"min"`` makes the first bar ``inf * (1 -
      threshold)`` NaN or ``-inf``: no report ever improves (as in torch).

    Precision: NumPy states compute in float64 and make torch's decisions bit for bit
    (torch compares Python floats). JAX states compute in the lr's dtype — float32 unless
    x64 is enabled — so a float32 decision can differ from torch only for a metric within
    float32 rounding of the bar (``best * (1 - threshold)`` etc.) or an lr within rounding
    of ``min_lr + eps``. XLA (JAX on CPU and accelerators) flushes subnormal numbers to
    zero, so under JAX a subnormal metric or ``best`` (``|x| <`` 2.2e-308 in float64,
    1.2e-38 in float32) acts as 0 where torch and NumPy keep it. Counters are the
    namespace's default integer (int32 in JAX without x64); ``patience`` and ``cooldown``
    above its range act as its largest value.

    torch: ``torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode, factor, patience,
    threshold, threshold_mode, cooldown, min_lr, eps)`` — same arguments, same defaults;
    torch's state maps to :class:`PlateauState` (``best``, ``num_bad_epochs``,
    ``cooldown_counter``, ``last_epoch``, ``get_last_lr()`` is ``lr``). Optax: see
    :func:`lrsched_jax.plateau_optax.scale_by_plateau`, which puts this state machine in an
    optimizer, and how it differs from ``optax.contrib.reduce_on_plateau``.

    Validation (``ValueError``/``TypeError`` naming the argument): ``mode`` in
    ``{"min", "max"}``, ``threshold_mode`` in ``{"rel", "abs"}``, ``0 < factor < 1``,
    ``patience`` and ``cooldown`` whole numbers of epochs in ``[0, 2**53]``, ``threshold`` and
    ``eps`` finite and ``>= 0``, ``min_lr`` an lr in ``[0, 1e30]`` or a non-empty list of them
    (one per group, checked against the number of groups by :meth:`init`, as torch checks it
    against the optimizer's param groups). The checks are declared on the fields, as for the
    schedules (:mod:`lrsched_jax.core.validate`), and :meth:`to_config` /
    :meth:`from_config` are the schedules' config mechanism. One spelling: the factory
    ``reduce_on_plateau`` is this class, and the ``repr`` is the factory call.

    >>> from lrsched_jax.core.plateau import reduce_on_plateau
    >>> reduce_on_plateau is ReduceOnPlateau
    True
    >>> p = reduce_on_plateau(factor=0.5, patience=1)
    >>> state = p.init(0.1)
    >>> for loss in [1.0, 0.9, 0.95, 0.93, 0.97, 0.8]:
    ...     state = p.update(state, loss)
    ...     print(float(state.lr[0]), int(state.num_bad_epochs))
    0.1 0
    0.1 0
    0.1 1
    0.05 0
    0.05 1
    0.05 0
    """

    mode: str = arg(validate.choice, default="min", options=("min", "max"))
    factor: float = arg(validate.real, default=0.1, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    patience: int = arg(validate.steps, default=10, minimum=0, unit="epochs")
    threshold: float = arg(validate.real, default=1e-4, lo=0.0)
    threshold_mode: str = arg(validate.choice, default="rel", options=("rel", "abs"))
    cooldown: int = arg(validate.steps, default=0, minimum=0, unit="epochs")
    min_lr: float | Sequence[float] = arg(_min_lr, default=0.0)
    eps: float = arg(validate.real, default=1e-8, lo=0.0)

    #: The ``name`` field of :meth:`to_config` (and the ``where`` of its error messages).
    config_name: ClassVar[str] = "reduce_on_plateau"

    # -- the state machine -------------------------------------------------------------

    def init(self, lr: Any) -> PlateauState:
        """The state before the first report, for initial lr(s) ``lr``.

        ``lr`` is one lr (one parameter group) or one per group (a list or 1-D array); the
        state's ``lr`` is always 1-D. Python numbers, lists and NumPy arrays give a NumPy
        float64 state; a JAX array gives a JAX state in its float dtype (float32 unless x64;
        integer arrays use the default float), as does calling ``init`` under ``jax.jit``.
        Concrete values must be finite lrs ``>= 0`` (a traced ``lr`` is not checked).
        """
        xp = _namespace(lr)
        if xp is np:
            arr = np.asarray(lr)
            if arr.dtype == np.bool_ or not (
                np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
            ):
                raise TypeError(f"{self._where}: lr must be a number or a list of numbers, got {lr!r}")
            arr = arr.astype(np.float64)
        else:
            arr = lr
            if xp.isdtype(arr.dtype, "bool") or not xp.isdtype(arr.dtype, ("integral", "real floating")):
                raise TypeError(
                    f"{self._where}: lr must have an integer or real floating dtype, got {arr.dtype}"
                )
            dtype = arr.dtype if arr.dtype in (xp.float32, xp.float64) else xp.asarray(0.0).dtype
            # An explicit dtype also drops JAX's weak type, so a jitted update keeps one signature.
            arr = xp.asarray(arr, dtype=dtype)
        if arr.ndim > 1:
            raise ValueError(
                f"{self._where}: lr must be a number or a 1-D list (one per group), got shape {arr.shape}"
            )
        arr = xp.reshape(arr, (-1,))
        groups = arr.shape[0]
        if groups == 0:
            raise ValueError(
                f"{self._where}: lr must hold at least one learning rate (one per group), got none"
            )
        if isinstance(self.min_lr, tuple) and len(self.min_lr) != groups:
            raise ValueError(
                f"{self._where}: expected {groups} min_lr values (one per group), got {len(self.min_lr)}"
            )
        if not _is_tracer(arr):
            for i, v in enumerate(np.asarray(arr).tolist()):
                with place(self._where):
                    validate.lr("lr" if groups == 1 else f"lr[{i}]", v)
        count = xp.zeros((), dtype=xp.asarray(0).dtype)  # the namespace's default integer
        return PlateauState(
            lr=arr,
            best=xp.full((), math.inf if self.mode == "min" else -math.inf, dtype=arr.dtype),
            num_bad_epochs=count,
            cooldown_counter=count,
            last_epoch=count,
        )

    def update(self, state: PlateauState, metric: Any) -> PlateauState:
        """One report of ``metric`` (torch: ``scheduler.step(metric)``): the next state.

        ``metric`` is a number, a 0-d (or one-element) array or a tracer; it is compared in
        the state's float dtype. The computation runs in the state's namespace (a JAX
        ``metric`` with a NumPy state runs in JAX, so a traced metric works too). Pure:
        ``state`` is not modified.
        """
        xp = _namespace(metric)
        if xp is np:
            xp = _namespace(state.lr)
        lr = xp.asarray(state.lr)
        dtype = lr.dtype
        best = xp.asarray(state.best, dtype=dtype)
        nb = xp.asarray(state.num_bad_epochs)
        cd = xp.asarray(state.cooldown_counter)
        a = xp.asarray(metric)
        if not xp.isdtype(a.dtype, ("bool", "integral", "real floating")):
            raise TypeError(f"{self._where}: metric must be a real number, got {metric!r}")
        if a.ndim != 0:
            if math.prod(a.shape) != 1:
                raise ValueError(f"{self._where}: metric must be a single number, got shape {a.shape}")
            a = xp.reshape(a, ())
        a = xp.astype(a, dtype)
        imax = int(np.iinfo(np.dtype(str(nb.dtype))).max)

        with _math.quiet(xp):  # inf * 0 (threshold 1, rel) is NaN in torch too; no warning
            better = self._is_better(a, best)
            best = xp.where(better, a, best)
            nb = xp.where(better, xp.zeros_like(nb), nb + 1)
            in_cooldown = cd > 0
            cd = xp.where(in_cooldown, cd - 1, cd)
            nb = xp.where(in_cooldown, xp.zeros_like(nb), nb)
            # nb never exceeds patience + 1 (it is reset on reduction), so clipping the
            # constant to the counter's range changes nothing that the counter can reach.
            reduce = nb > min(self.patience, imax)
            min_lr = xp.asarray(self.min_lr, dtype=dtype)
            new_lr = xp.maximum(lr * self.factor, min_lr)
            lr = xp.where(reduce & (lr - new_lr > self.eps), new_lr, lr)
            cd = xp.where(reduce, xp.zeros_like(cd) + min(self.cooldown, imax), cd)
            nb = xp.where(reduce, xp.zeros_like(nb), nb)
        return PlateauState(
            lr=lr,
            best=best,
            num_bad_epochs=nb,
            cooldown_counter=cd,
            last_epoch=xp.asarray(xp.asarray(state.last_epoch) + 1),
        )

    def _is_better(self, a: Any, best: Any) -> Any:
        # The constants are formed in Python floats exactly as torch forms them
        # (``1.0 - threshold``, ``threshold + 1.0``), so float64 decisions are torch's.
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return a < best * (1.0 - self.threshold)
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def lr_history(self, lr: Any, metrics: Iterable[Any]) -> np.ndarray:
        """The lr of every group after each report of ``metrics``, NumPy float64.

        Shape ``(len(metrics), groups)``: row ``i`` is torch's ``get_last_lr()`` after the
        ``i``-th ``scheduler.step(metric)`` — handy for plotting the lr of a logged run.

        >>> from lrsched_jax.core.plateau import reduce_on_plateau
        >>> reduce_on_plateau(patience=0, factor=0.5).lr_history([1.0, 0.1], [3, 3, 2, 2]).tolist()
        [[1.0, 0.1], [0.5, 0.05], [0.5, 0.05], [0.25, 0.025]]
        """
        state = self.init(lr if _namespace(lr) is np else np.asarray(lr))
        rows = []
        for a in metrics:
            state = self.update(state, np.asarray(a))
            rows.append(state.lr)
        if not rows:
            return np.zeros((0, state.lr.shape[0]))
        return np.stack(rows)

    # -- config (to_config is the shared one of every checked object) -------------------

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ReduceOnPlateau:
        """Rebuild from :meth:`to_config` output (the ``name`` may be left out);
        ``ValueError`` for a wrong name or unknown fields, as :func:`~lrsched_jax.from_config`.

        >>> from lrsched_jax.core.plateau import reduce_on_plateau
        >>> p = reduce_on_plateau(mode="max", min_lr=[0.0, 1e-5])
        >>> p
        reduce_on_plateau(mode='max', min_lr=(0.0, 1e-05))
        >>> reduce_on_plateau.from_config(p.to_config()) == p
        True
        """
        if isinstance(config, ReduceOnPlateau):
            return config
        if not isinstance(config, Mapping):
            raise TypeError(f"a {cls.config_name} config must be a mapping, got {type(config).__name__}")
        name = config.get("name", cls.config_name)
        if name != cls.config_name:
            raise ValueError(f"expected a config named {cls.config_name!r}, got {name!r}")
        return validate.from_fields(cls, config)


#: The factory is the class (one spelling): ``reduce_on_plateau(patience=2)``.
reduce_on_plateau = ReduceOnPlateau


def _is_tracer(x: Any) -> bool:
    """Whether ``x`` is a JAX tracer (JAX is only consulted when something imported it)."""
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(x, jax.core.Tracer)
