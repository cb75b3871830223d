"""Plotting schedules (matplotlib, from the ``plot`` extra; imported on first use).

Curves are computed by the library itself, on the host in float64.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lrsched_jax.core.schedule import Schedule
from lrsched_jax.core.validate import MAX_STEPS

__all__ = [
    "FULL_RESOLUTION",
    "MAX_POINTS",
    "default_horizon",
    "describe_sampling",
    "label",
    "plot_schedules",
    "sample_steps",
]


def pyplot() -> Any:
    try:
        import matplotlib

        if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'lrtwin[plot]'") from e
    return plt


def label(s: Schedule, width: int = 60) -> str:
    """A short legend label: the schedule's name and the hyperparameters not at their default.

    >>> import lrsched_jax as lrs
    >>> label(lrs.cosine(0.1, 1000))
    'cosine(init_lr=0.1, total_steps=1000)'
    """
    cfg = s.to_config()
    name = cfg.pop("name")
    defaults = {f.name: f.default for f in dataclasses.fields(s)}  # type: ignore[arg-type]
    parts = [
        f"{k}={v}"
        for k, v in cfg.items()
        if not isinstance(v, (dict, list)) and not (k in defaults and defaults[k] == v)
    ]
    text = f"{name}({', '.join(parts)})"
    return text if len(text) <= width else text[: width - 1] + "…"


#: Horizons up to this many steps are drawn (and written to CSV) at every step.
FULL_RESOLUTION = 100_000
#: Beyond :data:`FULL_RESOLUTION`: this many evenly spaced steps, ...
SAMPLES = 10_000
#: ... plus up to ``2 * DENSE + 5`` steps around each change point (the steps either side
#: of a jump, and ``DENSE`` more each side within one grid spacing: a short warm-up keeps its shape) ...
DENSE = 32
#: ... around at most this many change points in all (each schedule's first ones).
MAX_DENSE = 200
#: The most steps :func:`sample_steps` returns.
MAX_POINTS = SAMPLES + MAX_DENSE * (2 * DENSE + 5)

#: The horizons at which :func:`default_horizon` looks for change points.
_LEVELS = (10**4, 10**7, 10**10, 10**13, MAX_STEPS)


def default_horizon(schedules: Sequence[Schedule], minimum: int = 100, changes: int = 6) -> int:
    """Enough steps to show every schedule's phases, at least ``minimum``: 10% past the last
    change point (looked for up to step 2**53, so a 20M-step warm-up + cosine shows its whole
    decay) — or, for a schedule that keeps changing (cyclic, warm restarts, periodic cosine,
    step decay: its change points keep growing in number as the horizon grows 1000-fold, twice
    in a row), 10% past its ``changes``-th change point, a few periods (3 cycles of a cyclic
    schedule, whose half-cycles are change points), so that a periodic curve stays readable
    instead of filling millions of steps. At most 2**53."""
    last = 0.0
    for s in schedules:
        pts = _horizon_points(s, changes)
        if pts:
            last = max(last, float(pts[-1]))
    return min(MAX_STEPS, max(minimum, int(np.ceil(last * 11 / 10))))  # not * 1.1: 180 * 1.1 -> 199


def _horizon_points(s: Schedule, changes: int) -> tuple[float, ...]:
    counts: list[int] = []
    pts: tuple[float, ...] = ()
    for until in _LEVELS:
        try:
            found = s.change_points(until)
        except ValueError:  # more than MAX_CHANGE_POINTS: it keeps changing
            return pts[:changes]
        # More than 1000 in the first 10**4 steps: a tiny period (old pts suffice).
        periodic = (not counts and len(found) > 1000) or (
            len(counts) >= 2 and counts[-2] < counts[-1] < len(found) and len(found) > changes
        )
        pts = found
        if periodic:
            return pts[:changes]
        counts.append(len(found))
    return pts


def _first_change_points(s: Schedule, until: float, limit: int) -> tuple[float, ...]:
    """The first ``limit`` change points in ``(0, until]``. Listed up to growing horizons, so
    a short period over a long horizon (more than
    :data:`~lrsched_jax.core.schedule.MAX_CHANGE_POINTS` of them) lists a few thousand, not
    a million."""
    pts: tuple[float, ...] = ()
    for u in (*(level for level in _LEVELS if level < until), until):
        try:
            pts = s.change_points(u)
        except ValueError:  # more than MAX_CHANGE_POINTS up to u: the first ones are listed
            break
        if len(pts) >= limit:
            break
    return pts[:limit]


def sample_steps(schedules: Sequence[Schedule], steps: int) -> np.ndarray:
    """The integer steps (int64, sorted) at which a plot of ``0..steps-1`` evaluates the
    schedules: every step when ``steps <= FULL_RESOLUTION`` (100,000); beyond, at most
    :data:`MAX_POINTS` (23,800) steps whose values still draw each curve's whole shape:
    :data:`SAMPLES` evenly spaced steps (the first and last included), and around each change
    point ``c`` (the first :data:`MAX_DENSE` in all, shared among the schedules) the steps
    either side of it (``floor(c) - 1 .. ceil(c) + 1``, so a jump is drawn as one) and
    :data:`DENSE` more each side, evenly spaced within one grid spacing (a 2,000-step warm-up
    of a 20M-step schedule keeps its shape). A schedule that changes more often than that (a
    short period over a long horizon) is drawn exactly only over its first change points
    and aliased beyond; pass fewer steps to see each period.
    """
    steps = int(steps)
    if steps < 1 or steps > MAX_STEPS:
        raise ValueError(f"steps must be a whole number in [1, 2**53], got {steps}")
    if steps <= FULL_RESOLUTION:
        return np.arange(steps, dtype=np.int64)
    last = steps - 1
    parts = [np.round(np.linspace(0, last, SAMPLES)).astype(np.int64)]
    reach = last / (SAMPLES - 1)
    each = MAX_DENSE // max(1, len(schedules))
    for s in schedules:
        for c in _first_change_points(s, last, each):
            lo, hi = math.floor(c), math.ceil(c)
            parts.append(np.arange(lo - 1, hi + 2, dtype=np.int64))
            parts.append(np.round(np.linspace(c - reach, c + reach, 2 * DENSE + 1)).astype(np.int64))
    t = np.unique(np.concatenate(parts))
    return t[(t >= 0) & (t <= last)]


def describe_sampling(steps: int, t: np.ndarray) -> str:
    """One line saying which of the steps ``0..steps-1`` the values ``t`` are (what
    ``lrtwin plot --csv`` writes first, as a ``#`` comment)."""
    if len(t) == steps:
        return f"every step 0..{steps - 1:,} ({steps:,} rows; horizons up to {FULL_RESOLUTION:,} steps)"
    return (
        f"{len(t):,} of the steps 0..{steps - 1:,}, sampled (horizons over {FULL_RESOLUTION:,} steps): "
        f"{SAMPLES:,} evenly spaced steps plus up to {DENSE} either side of each change point "
        f"(the first {MAX_DENSE}); each value exact at its integer step"
    )


def plot_schedules(
    schedules: Sequence[Schedule],
    steps: int | None = None,
    *,
    ax: Any = None,
    log: bool = False,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Any:
    """Plot each schedule's lr over steps ``0..steps-1`` on ``ax`` (a new figure if None):
    at every step up to :data:`FULL_RESOLUTION` (100,000) steps, at the steps
    :func:`sample_steps` picks beyond (at most :data:`MAX_POINTS`, dense around change
    points), each point the exact float64 value at its integer step. ``steps`` defaults to
    :func:`default_horizon`.

    ``log=True`` puts the lr on a log axis (use it when the lrs span decades). Returns the
    axes.
    """
    plt = pyplot()
    if steps is None:
        steps = default_horizon(schedules)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    t = sample_steps(schedules, int(steps))
    for i, s in enumerate(schedules):
        lab = labels[i] if labels is not None else label(s)
        y = s(t)
        if log:
            y = np.where(y > 0, y, np.nan)
        ax.plot(t, y, label=lab, linewidth=1.5)
    ax.set_xlabel("step (update number)")
    ax.set_ylabel("learning rate")
    if log:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax
