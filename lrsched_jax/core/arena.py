"""The schedule arena's framework-neutral half: the member grid, the batches every member
sees, the target rule and the verdict table. :func:`lrsched_jax.compare` (one vmapped, jitted
program) and :func:`lrsched_torch.compare` (torch) both build on it, so both frameworks make
their decisions by the same code.

* **Members.** Every ``(schedule, seed)`` pair, schedule-major: member ``m`` trains schedule
  ``m // len(seeds)`` from seed ``seeds[m % len(seeds)]``. Members with the same seed start
  from the same initial weights and see the same batches, so a schedule is the only thing
  that differs between them.
* **Batches.** Epoch ``e`` of seed ``s`` visits the training samples in the order
  ``numpy.random.default_rng([s, e]).permutation(n)`` (the demo's order), cut into
  ``n // batch_size`` full batches; the remainder is dropped.
* **Target.** The validation metric is checked after every epoch; a member reaches the
  target after the first epoch ``e`` (0-based) whose metric is ``>= target`` (``mode="max"``)
  or ``<= target`` (``mode="min"``): ``steps_to_target = (e + 1) * steps_per_epoch``.
* **Verdicts.** Per schedule: how many seeds reached the target, the updates needed
  (median, min–max; the median only when every seed got there — an unreached run is
  censored, not a number), the final metric (median, min–max), and the speed-up against
  the baseline (the fixed lr): ``baseline steps / schedule steps`` per seed, reported only
  when every seed reached the target with both schedules.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from lrsched_jax.core.plots import label
from lrsched_jax.core.schedule import Schedule

__all__ = [
    "CompareResult",
    "MemberResult",
    "Mode",
    "batch_order",
    "check_arena",
    "collect",
    "epochs_to_target",
    "member_grid",
    "verdicts",
]

Mode = Literal["max", "min"]

Progress = Callable[[int, int], None]


def _name_schedules(where: str, schedules: Any) -> list[tuple[str, Schedule]]:
    if isinstance(schedules, Mapping):
        pairs = list(schedules.items())
    elif isinstance(schedules, (str, bytes)) or not isinstance(schedules, Sequence):
        raise TypeError(
            f"{where}: schedules must be a sequence of schedules or a mapping name -> schedule, "
            f"got {type(schedules).__name__}"
        )
    else:
        pairs = [(None, s) for s in schedules]
    if not pairs:
        raise ValueError(f"{where}: schedules is empty; give at least one schedule")
    out: list[tuple[str, Schedule]] = []
    for name, s in pairs:
        if not isinstance(s, Schedule):
            raise TypeError(f"{where}: schedules: every entry must be an lrsched schedule, got {s!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"{where}: schedules: names must be non-empty strings, got {name!r}")
        out.append((label(s, width=10**9) if name is None else name, s))
    names = [n for n, _ in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{where}: schedules: the names {dup} appear more than once (each schedule once)")
    return out


def check_arena(
    where: str,
    schedules: Any,
    seeds: Any,
    epochs: Any,
    target: Any,
    mode: Any,
    baseline: Any,
) -> tuple[list[tuple[str, Schedule]], list[int], str | None]:
    """Validate the arena's arguments; return ``(named schedules, seeds, baseline name)``.

    ``schedules``: a non-empty sequence of schedules (named by their label) or a mapping
    name -> schedule; ``seeds``: distinct ints >= 0; ``epochs``: an int >= 1; ``target``: a
    finite number or None; ``mode``: ``"max"`` or ``"min"``; ``baseline``: a schedule's name,
    or None for the first constant schedule (none: no speed-ups). ``TypeError`` /
    ``ValueError`` name the argument.
    """
    named = _name_schedules(where, schedules)
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"{where}: seeds must be a non-empty sequence of ints >= 0, got {seeds!r}")
    for s in seeds:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"{where}: seeds must be ints >= 0, got {s!r}")
    seed_list = [int(s) for s in seeds]
    if len(set(seed_list)) != len(seed_list):
        raise ValueError(f"{where}: seeds must be distinct, got {seed_list}")
    if isinstance(epochs, (bool, np.bool_)) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"{where}: epochs must be an int >= 1, got {epochs!r}")
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target)
    ):
        raise ValueError(f"{where}: target must be a finite number or None, got {target!r}")
    if mode not in ("max", "min"):
        raise ValueError(f"{where}: mode must be 'max' (higher is better) or 'min', got {mode!r}")
    names = [n for n, _ in named]
    if baseline is None:
        from lrsched_jax.core.families import Constant

        baseline = next((n for n, s in named if type(s) is Constant), None)
    elif baseline not in names:
        raise ValueError(f"{where}: baseline {baseline!r} is not one of the schedules' names {names}")
    return named, seed_list, baseline


def member_grid(n_schedules: int, seeds: Sequence[int]) -> list[tuple[int, int]]:
    """``(schedule index, seed)`` of every member, schedule-major."""
    return [(i, s) for i in range(n_schedules) for s in seeds]


def batch_order(seed: int, epoch: int, n: int, batch_size: int) -> np.ndarray:
    """Sample indices of epoch ``epoch`` for ``seed``, shape ``(n // batch_size, batch_size)``:
    ``default_rng([seed, epoch]).permutation(n)``, the remainder dropped."""
    if batch_size < 1 or batch_size > n:
        raise ValueError(f"batch_size must be in [1, {n}] (the number of training samples), got {batch_size}")
    steps = n // batch_size
    return (
        np.random.default_rng([seed, epoch]).permutation(n)[: steps * batch_size].reshape(steps, batch_size)
    )


def epochs_to_target(metrics: Sequence[float], target: float | None, mode: Mode) -> int | None:
    """The first epoch (0-based) whose metric reached ``target`` (None: never, or no target)."""
    if target is None:
        return None
    for e, v in enumerate(metrics):
        if (v >= target) if mode == "max" else (v <= target):
            return e
    return None


@dataclass
class MemberResult:
    """One member's run. ``seconds_to_target``: wall time from the start of training (after
    compilation) to the end of the epoch that reached the target; in a one-program run all
    members train together, so it is the population's time."""

    schedule: str
    seed: int
    config: dict[str, Any]
    val_metric: list[float]
    val_loss: list[float]
    train_loss: list[float]  # mean over each epoch's updates
    final_val_metric: float
    steps_to_target: int | None
    seconds_to_target: float | None


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def verdicts(
    members: Sequence[MemberResult], names: Sequence[str], seeds: Sequence[int], baseline: str | None
) -> dict[str, dict[str, Any]]:
    """The verdict row of every schedule (see the module docstring)."""
    by = {(m.schedule, m.seed): m for m in members}
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        rows = [by[name, s] for s in seeds]
        steps = [r.steps_to_target for r in rows]
        reached = [s for s in steps if s is not None]
        all_reached = len(reached) == len(steps)
        speedup: list[float] = []
        if baseline is not None:
            base = [by[baseline, s].steps_to_target for s in seeds]
            if all_reached and None not in base:
                speedup = [b / s for b, s in zip(base, steps)]  # type: ignore[operator]
        secs = [r.seconds_to_target for r in rows]
        out[name] = {
            "reached": f"{len(reached)}/{len(steps)}",
            "steps_to_target": _spread([float(s) for s in reached]) if all_reached else None,
            "steps_to_target_reached": _spread([float(s) for s in reached]),
            "seconds_to_target_median": statistics.median(secs) if None not in secs else None,  # type: ignore[type-var]
            "final_val_metric": _spread([r.final_val_metric for r in rows]),
            "speedup_vs_baseline": _spread(speedup),
        }
    return out


@dataclass
class CompareResult:
    """What :func:`lrsched_jax.compare` / :func:`lrsched_torch.compare` return.

    ``members``: one :class:`MemberResult` per ``(schedule, seed)``, schedule-major;
    ``verdicts``: :func:`verdicts`; ``step_losses``: every member's loss before each update,
    shape ``(members, epochs * steps_per_epoch)``; ``compile_s``: compiling the program
    (0 for torch eager), ``train_s``: training and evaluation after it.
    """

    framework: str
    how: str  # "one program" (all members at once) or "sequential"
    schedules: list[str]
    seeds: list[int]
    epochs: int
    steps_per_epoch: int
    target: float | None
    mode: str
    baseline: str | None
    members: list[MemberResult]
    verdicts: dict[str, dict[str, Any]]
    compile_s: float
    train_s: float
    step_losses: np.ndarray = field(repr=False)
    #: JAX: the compiled epoch (or update) program's argument + output + scratch bytes
    #: (XLA's memory analysis; None where the backend does not report it, and for torch).
    program_bytes: int | None = None

    def member(self, schedule: str, seed: int) -> MemberResult:
        """The member that trained ``schedule`` from ``seed`` (``KeyError`` if none did)."""
        for m in self.members:
            if m.schedule == schedule and m.seed == seed:
                return m
        raise KeyError((schedule, seed))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (every member and the verdicts; the per-step losses left out)."""
        return {k: v for k, v in asdict(self).items() if k != "step_losses"}

    def table(self) -> str:
        """The verdicts as a Markdown table."""
        lines = [
            f"{self.framework} ({self.how}), {len(self.members)} members, {self.epochs} epochs of "
            f"{self.steps_per_epoch} updates, target {self.target} ({self.mode}), baseline {self.baseline}",
            "",
            "| schedule | reached | updates to target, median (min–max) | speed-up vs baseline, median "
            "(min–max) | final metric, median (min–max) |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, v in self.verdicts.items():
            st, sp, fm = v["steps_to_target"], v["speedup_vs_baseline"], v["final_val_metric"]
            steps = "—" if st is None else f"{st['median']:.0f} ({st['min']:.0f}–{st['max']:.0f})"
            speed = "—" if sp is None else f"{sp['median']:.2f}× ({sp['min']:.2f}–{sp['max']:.2f})"
            lines.append(
                f"| {name} | {v['reached']} | {steps} | {speed} | "
                f"{fm['median']:.4f} ({fm['min']:.4f}–{fm['max']:.4f}) |"
            )
        return "\n".join(lines)


def collect(
    framework: str,
    how: str,
    named: Sequence[tuple[str, Schedule]],
    seeds: Sequence[int],
    target: float | None,
    mode: Mode,
    baseline: str | None,
    val_metric: np.ndarray,
    val_loss: np.ndarray,
    step_losses: np.ndarray,
    epoch_ends: np.ndarray,
    compile_s: float,
    train_s: float,
    program_bytes: int | None = None,
) -> CompareResult:
    """The result of a run from its per-member arrays (members in :func:`member_grid` order):
    ``val_metric``, ``val_loss`` and ``epoch_ends`` (seconds) of shape ``(members, epochs)``,
    ``step_losses`` of shape ``(members, epochs * steps_per_epoch)``."""
    epochs = val_metric.shape[1]
    steps = step_losses.shape[1] // epochs
    members = []
    for m, (i, s) in enumerate(member_grid(len(named), seeds)):
        name, sch = named[i]
        metrics = [float(v) for v in val_metric[m]]
        e = epochs_to_target(metrics, target, mode)
        members.append(
            MemberResult(
                schedule=name,
                seed=int(s),
                config=sch.to_config(),
                val_metric=metrics,
                val_loss=[float(v) for v in val_loss[m]],
                train_loss=[float(v) for v in step_losses[m].reshape(epochs, steps).mean(axis=1)],
                final_val_metric=metrics[-1],
                steps_to_target=None if e is None else (e + 1) * steps,
                seconds_to_target=None if e is None else float(epoch_ends[m, e]),
            )
        )
    names = [nm for nm, _ in named]
    return CompareResult(
        framework=framework,
        how=how,
        schedules=names,
        seeds=[int(s) for s in seeds],
        epochs=int(epochs),
        steps_per_epoch=int(steps),
        target=None if target is None else float(target),
        mode=mode,
        baseline=baseline,
        members=members,
        verdicts=verdicts(members, names, seeds, baseline),
        compile_s=float(compile_s),
        train_s=float(train_s),
        step_losses=step_losses,
        program_bytes=program_bytes,
    )
