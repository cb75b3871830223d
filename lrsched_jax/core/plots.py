"""Plotting schedules (matplotlib, from the ``plot`` extra; imported on first use).

Curves are computed by the library itself, on the host in float64.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from lrsched_jax.core.schedule import Schedule

__all__ = ["default_horizon", "label", "plot_schedules"]


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


def default_horizon(schedules: Sequence[Schedule], minimum: int = 100, changes: int = 6) -> int:
    """Enough steps to show every schedule's phases, at least ``minimum``: 10% past the last
    change point in the first 10**7 steps — or, for a schedule that keeps changing (change
    points still appear between steps 10**6 and 10**7: cyclic, warm restarts, periodic
    cosine, step decay), 10% past its ``changes``-th change point, a few periods (3 cycles
    of a cyclic schedule, whose half-cycles are change points), so that a periodic curve
    stays readable instead of filling millions of steps."""
    last = 0.0
    for s in schedules:
        tiny_period = _too_many(s)  # then a few periods lie within the first 10**4 steps
        pts = s.change_points(10_000 if tiny_period else 10_000_000)
        if len(pts) > changes and (tiny_period or float(pts[-1]) > 1_000_000):
            pts = pts[:changes]
        if pts:
            last = max(last, float(pts[-1]))
    return max(minimum, int(np.ceil(last * 11 / 10)))  # not * 1.1: 180 * 1.1 rounds up to 199


def _too_many(s: Schedule) -> bool:
    return len(s.change_points(10_000)) > 1000


def plot_schedules(
    schedules: Sequence[Schedule],
    steps: int | None = None,
    *,
    ax: Any = None,
    log: bool = False,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Any:
    """Plot each schedule's lr over steps ``0..steps-1`` on ``ax`` (a new figure if None).

    ``log=True`` puts the lr on a log axis (use it when the lrs span decades). Returns the
    axes.
    """
    plt = pyplot()
    if steps is None:
        steps = default_horizon(schedules)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    t = np.arange(int(steps))
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
