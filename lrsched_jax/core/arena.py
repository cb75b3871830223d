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
* **Evaluations.** The validation loss and metric are evaluated after every ``eval_every``
  updates of an epoch and at its end (:func:`eval_points`; :func:`default_eval_every` when
  not given), so an epoch of 44 updates with ``eval_every=11`` is evaluated after updates
  11, 22, 33 and 44 of it. The per-epoch curves are the evaluations at epoch ends.
* **Target.** A member reaches the target at the first evaluation whose metric is
  ``>= target`` (``mode="max"``) or ``<= target`` (``mode="min"``); ``steps_to_target``
  is the number of updates done by then, so its resolution is the evaluation interval.
* **Divergence.** A member whose loss (on a batch or on the validation set) becomes
  non-finite is *diverged* from that update on: its later evaluations are NaN (``null`` in
  JSON, with a note), it reaches no target after it, and the other members train on.
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
from lrsched_jax.core.validate import here

__all__ = [
    "CompareResult",
    "Footprint",
    "MemberResult",
    "Mode",
    "batch_order",
    "check_arena",
    "check_eval_every",
    "check_seeds",
    "collect",
    "default_eval_every",
    "default_memory_budget",
    "epochs_to_target",
    "eval_points",
    "member_grid",
    "strict_json",
    "verdicts",
]

Mode = Literal["max", "min"]

Progress = Callable[[int, int], None]


def _name_schedules(schedules: Any) -> list[tuple[str, Schedule]]:
    if isinstance(schedules, Mapping):
        pairs = list(schedules.items())
    elif isinstance(schedules, (str, bytes)) or not isinstance(schedules, Sequence):
        raise TypeError(
            f"{here()}: schedules must be a sequence of schedules or a mapping name -> schedule, "
            f"got {type(schedules).__name__}"
        )
    else:
        pairs = [(None, s) for s in schedules]
    if not pairs:
        raise ValueError(f"{here()}: schedules is empty; give at least one schedule")
    out: list[tuple[str, Schedule]] = []
    for name, s in pairs:
        if not isinstance(s, Schedule):
            raise TypeError(f"{here()}: schedules: every entry must be an lrsched schedule, got {s!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"{here()}: schedules: names must be non-empty strings, got {name!r}")
        out.append((label(s, width=10**9) if name is None else name, s))
    names = [n for n, _ in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{here()}: schedules: the names {dup} appear more than once (each schedule once)")
    return out


def check_seeds(seeds: Any) -> list[int]:
    """``seeds`` validated: a non-empty sequence of distinct ints >= 0."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"{here()}: seeds must be a non-empty sequence of ints >= 0, got {seeds!r}")
    for s in seeds:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"{here()}: seeds must be ints >= 0, got {s!r}")
    out = [int(s) for s in seeds]
    if len(set(out)) != len(out):
        raise ValueError(f"{here()}: seeds must be distinct, got {out}")
    return out


def check_arena(
    schedules: Any,
    seeds: Any,
    epochs: Any,
    *,
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
    named = _name_schedules(schedules)
    seed_list = check_seeds(seeds)
    if isinstance(epochs, (bool, np.bool_)) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"{here()}: epochs must be an int >= 1, got {epochs!r}")
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target)
    ):
        raise ValueError(f"{here()}: target must be a finite number or None, got {target!r}")
    if mode not in ("max", "min"):
        raise ValueError(f"{here()}: mode must be 'max' (higher is better) or 'min', got {mode!r}")
    names = [n for n, _ in named]
    if baseline is None:
        from lrsched_jax.core.families import Constant

        baseline = next((n for n, s in named if type(s) is Constant), None)
    elif baseline not in names:
        import difflib

        near = difflib.get_close_matches(str(baseline), names, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"{here()}: baseline {baseline!r} is not one of the schedules' names {names}{hint}")
    return named, seed_list, baseline


def default_eval_every(steps_per_epoch: int, n_val: int, batch_size: int) -> int:
    """The evaluation interval used when none is given: about as many updates as it takes the
    training to see as many samples as the validation set holds (``ceil(n_val /
    batch_size)``), at least 1, at most an epoch. A forward pass over the validation set then
    costs about a third of the updates between two evaluations (forward, backward and
    optimizer step each), and a small validation set is evaluated several times per epoch.
    On the digits (359 validation images, batches of 32, 44 updates per epoch): every 12
    updates, four evaluations per epoch; docs/compare.md has the measured cost."""
    return max(1, min(int(steps_per_epoch), math.ceil(int(n_val) / int(batch_size))))


def check_eval_every(eval_every: Any, steps_per_epoch: int, n_val: int, batch_size: int) -> int:
    """``eval_every`` validated (an int >= 1; None: :func:`default_eval_every`), at most an epoch."""
    if eval_every is None:
        return default_eval_every(steps_per_epoch, n_val, batch_size)
    if isinstance(eval_every, (bool, np.bool_)) or not isinstance(eval_every, (int, np.integer)):
        raise TypeError(
            f"{here()}: eval_every must be an int (updates between evaluations), got {eval_every!r}"
        )
    if eval_every < 1:
        raise ValueError(f"{here()}: eval_every must be >= 1 (updates between evaluations), got {eval_every}")
    return min(int(eval_every), int(steps_per_epoch))


def eval_points(steps_per_epoch: int, eval_every: int) -> list[int]:
    """The updates done within an epoch at each of its evaluations: ``eval_every``,
    ``2 * eval_every``, ... and the epoch's end (``steps_per_epoch``), each once."""
    points = list(range(eval_every, steps_per_epoch + 1, eval_every))
    if not points or points[-1] != steps_per_epoch:
        points.append(steps_per_epoch)
    return points


def default_memory_budget() -> int:
    """Half the memory available now (``MemAvailable`` of ``/proc/meminfo`` where there is
    one, else free pages by ``os.sysconf``), the bytes an arena run may plan to hold."""
    import os

    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def _size(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


@dataclass
class Footprint:
    """What a run will hold, estimated before anything is trained. ``state``: bytes to train one
    member (parameters, gradients, updates, optimizer state, its batch order of one epoch);
    ``records``: bytes of one member's results (its loss before every update, its
    evaluations as arrays and as Python floats); ``shared``: the data and the lr table."""

    state: int
    records: int
    shared: int

    @classmethod
    def estimate(
        cls,
        *,
        param_bytes: int,
        opt_state_bytes: int,
        n_updates: int,
        n_evals: int,
        steps_per_epoch: int,
        batch_size: int,
        data_bytes: int,
        n_schedules: int,
        itemsize: int,
    ) -> Footprint:
        """The estimate from the sizes (see the class docstring for what each part covers)."""
        state = 3 * param_bytes + opt_state_bytes + steps_per_epoch * batch_size * 8
        # float64 arrays (losses; evaluation metric, loss, time) and the Python floats the
        # result lists hold (~56 bytes each with their list slot and JSON text).
        records = 8 * n_updates + n_evals * (3 * 8 + 2 * 56)
        shared = data_bytes + n_schedules * n_updates * (itemsize + 4)
        return cls(state=int(state), records=int(records), shared=int(shared))

    def plan(self, members: int, budget: int | None) -> int:
        """How many members to train at once so that the run fits ``budget`` bytes (None:
        :func:`default_memory_budget`): all of them where they fit, else the most that do;
        ``ValueError`` naming the sizes where even one member, or the records, do not."""
        budget = default_memory_budget() if budget is None else int(budget)
        fixed = self.shared + members * self.records
        need = fixed + members * self.state
        if need <= budget:
            return members
        left = budget - fixed - 2 * self.state  # at least one member, with room for its temporaries
        if left < 0:
            raise ValueError(
                f"{here()}: this run needs about {_size(need)} ({members} members, each "
                f"{_size(self.records)} of records and {_size(self.state)} to train, plus "
                f"{_size(self.shared)} of data and lr table), more than the memory budget of "
                f"{_size(budget)} (memory_budget; default half the available memory): train fewer "
                "members (seeds, schedules) or fewer epochs, or evaluate less often"
            )
        return max(1, min(members, left // max(1, self.state)))


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
    """The first evaluation (0-based) whose metric reached ``target`` (None: never, or no
    target); NaN (a diverged member's evaluation) never reaches it."""
    if target is None:
        return None
    for e, v in enumerate(metrics):
        if (v >= target) if mode == "max" else (v <= target):
            return e
    return None


def strict_json(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, ±inf; NumPy's too) replaced by None, so that
    ``json.dumps(..., allow_nan=False)`` accepts it."""
    if isinstance(value, Mapping):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict_json(value.tolist())
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


@dataclass
class MemberResult:
    """One member's run. ``val_metric`` / ``val_loss``: at every epoch's end; ``eval_metric`` /
    ``eval_loss``: at every evaluation (:attr:`CompareResult.eval_steps`). ``seconds_to_target``:
    wall time from the start of training (after compilation) to the evaluation that reached
    the target; in a one-program run all members train together, so it is the population's
    time. ``diverged_at``: the updates done when the member's loss was first non-finite (None:
    never); its evaluations from then on are NaN and ``note`` says why."""

    schedule: str
    seed: int
    config: dict[str, Any]
    val_metric: list[float]
    val_loss: list[float]
    train_loss: list[float]  # mean over each epoch's updates
    final_val_metric: float
    steps_to_target: int | None
    seconds_to_target: float | None
    eval_metric: list[float] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    diverged_at: int | None = None
    note: str | None = None


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def verdicts(
    members: Sequence[MemberResult], names: Sequence[str], seeds: Sequence[int], baseline: str | None
) -> dict[str, dict[str, Any]]:
    """The verdict row of every schedule (see the module docstring). A diverged member counts
    as not reached (unless it reached the target before diverging); its final metric is left
    out of the spread, and ``diverged`` counts them."""
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
        finals = [r.final_val_metric for r in rows if math.isfinite(r.final_val_metric)]
        out[name] = {
            "reached": f"{len(reached)}/{len(steps)}",
            "diverged": sum(r.diverged_at is not None for r in rows),
            "steps_to_target": _spread([float(s) for s in reached]) if all_reached else None,
            "steps_to_target_reached": _spread([float(s) for s in reached]),
            "seconds_to_target_median": statistics.median(secs) if None not in secs else None,  # type: ignore[type-var]
            "final_val_metric": _spread(finals),
            "speedup_vs_baseline": _spread(speedup),
        }
    return out


@dataclass
class CompareResult:
    """What :func:`lrsched_jax.compare` / :func:`lrsched_torch.compare` return.

    ``members``: one :class:`MemberResult` per ``(schedule, seed)``, schedule-major;
    ``verdicts``: :func:`verdicts`; ``step_losses``: every member's loss before each update,
    shape ``(members, epochs * steps_per_epoch)``; ``eval_steps``: the updates done at each
    evaluation; ``eval_every``: the evaluation interval within an epoch; ``compile_s``:
    compiling the program (0 where nothing is compiled: torch), ``train_s``: training and
    evaluation after it; ``chunks``: how many groups the members were trained in to fit the
    memory budget (1: all at once); ``devices`` / ``processes``: what the members were
    spread over.
    """

    framework: str
    how: str  # "one program", "one torch.func loop" (all members at once) or "sequential"
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
    eval_every: int = 0
    eval_steps: list[int] = field(default_factory=list)
    chunks: int = 1
    devices: int = 1
    processes: int = 1

    def member(self, schedule: str, seed: int) -> MemberResult:
        """The member that trained ``schedule`` from ``seed`` (``KeyError`` if none did)."""
        for m in self.members:
            if m.schedule == schedule and m.seed == seed:
                return m
        raise KeyError((schedule, seed))

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON-able summary (every member and the verdicts; the per-step losses left
        out; non-finite numbers as None, see :func:`strict_json`)."""
        return strict_json({k: v for k, v in asdict(self).items() if k != "step_losses"})

    def table(self) -> str:
        """The verdicts as a Markdown table."""
        diverged = sum(v["diverged"] for v in self.verdicts.values())
        lines = [
            f"{self.framework} ({self.how}), {len(self.members)} members, {self.epochs} epochs of "
            f"{self.steps_per_epoch} updates, target {self.target} ({self.mode}) checked every "
            f"{self.eval_every} updates, baseline {self.baseline}"
            + (f"; {diverged} members diverged (loss non-finite)" if diverged else ""),
            "",
            "| schedule | reached | updates to target, median (min–max) | speed-up vs baseline, median "
            "(min–max) | final metric, median (min–max) |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, v in self.verdicts.items():
            st, sp, fm = v["steps_to_target"], v["speedup_vs_baseline"], v["final_val_metric"]
            steps = "—" if st is None else f"{st['median']:.0f} ({st['min']:.0f}–{st['max']:.0f})"
            speed = "—" if sp is None else f"{sp['median']:.2f}× ({sp['min']:.2f}–{sp['max']:.2f})"
            final = "—" if fm is None else f"{fm['median']:.4f} ({fm['min']:.4f}–{fm['max']:.4f})"
            reached = v["reached"] + (f", {v['diverged']} diverged" if v["diverged"] else "")
            lines.append(f"| {name} | {reached} | {steps} | {speed} | {final} |")
        return "\n".join(lines)


def _diverged_at(losses: np.ndarray, eval_loss: np.ndarray, eval_steps: np.ndarray) -> int | None:
    """The updates done when the first non-finite loss appeared: the loss before update ``k``
    (``k`` done), or the validation loss after ``eval_steps[i]`` updates."""
    at = [int(np.argmax(~np.isfinite(losses)))] if not np.isfinite(losses).all() else []
    if not np.isfinite(eval_loss).all():
        at.append(int(eval_steps[int(np.argmax(~np.isfinite(eval_loss)))]))
    return min(at) if at else None


def collect(
    framework: str,
    how: str,
    named: Sequence[tuple[str, Schedule]],
    seeds: Sequence[int],
    records: Mapping[str, np.ndarray],
    *,
    target: float | None,
    mode: Mode,
    baseline: str | None,
    compile_s: float,
    train_s: float,
    program_bytes: int | None = None,
    epochs: int,
    eval_every: int,
    **run: int,
) -> CompareResult:
    """The result of a run from its per-member record arrays (members in :func:`member_grid`
    order): ``records["vm"]`` / ``["vl"]`` (the validation metric and loss) and ``["ends"]``
    (seconds) at every evaluation, shape ``(members, evaluations)``; ``["losses"]`` (the loss
    before every update), shape ``(members, epochs * steps_per_epoch)``; ``run``:
    ``chunks``, ``devices``, ``processes``."""
    val_metric, val_loss, step_losses, eval_ends = (records[k] for k in ("vm", "vl", "losses", "ends"))
    steps = step_losses.shape[1] // epochs
    within = eval_points(steps, eval_every)
    eval_steps = np.asarray([e * steps + p for e in range(epochs) for p in within])
    ends_at = np.flatnonzero(eval_steps % steps == 0)  # the evaluations at epochs' ends
    members = []
    for m, (i, s) in enumerate(member_grid(len(named), seeds)):
        name, sch = named[i]
        metric = np.asarray(val_metric[m], dtype=float).copy()
        vloss = np.asarray(val_loss[m], dtype=float).copy()
        div = _diverged_at(step_losses[m], vloss, eval_steps)
        if div is not None:
            metric[eval_steps >= div] = np.nan
            vloss[eval_steps >= div] = np.nan
        e = epochs_to_target(metric.tolist(), target, mode)
        members.append(
            MemberResult(
                schedule=name,
                seed=int(s),
                config=sch.to_config(),
                val_metric=metric[ends_at].tolist(),
                val_loss=vloss[ends_at].tolist(),
                train_loss=step_losses[m].reshape(epochs, steps).mean(axis=1).tolist(),
                final_val_metric=float(metric[-1]),
                steps_to_target=None if e is None else int(eval_steps[e]),
                seconds_to_target=None if e is None else float(eval_ends[m, e]),
                eval_metric=metric.tolist(),
                eval_loss=vloss.tolist(),
                diverged_at=div,
                note=None
                if div is None
                else f"diverged: a loss was non-finite after {div} updates; later values are null",
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
        eval_every=int(eval_every),
        eval_steps=[int(k) for k in eval_steps],
        **run,
    )
