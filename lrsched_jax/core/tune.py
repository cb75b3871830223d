r"""The lr tuner's framework-neutral half: candidates, rungs, survivors and the result type.

:func:`lrsched_jax.tune_lr` (each rung one vmapped, jitted program: the arena's) and
:func:`lrsched_torch.tune_lr` (each rung one ``torch.func`` loop) only train what
:func:`search` asks for; every decision is made here, by the same code, so from the same
weights and batches both frameworks choose the same lr.

The default search (measured on the suggestions benchmark, docs/tune.md has the figures):

* **Candidates** lie on the lattice ``10 ** (k * spacing)`` (``spacing`` = half a decade), from
  ``anchor / 10**1.5`` to ``anchor * 10`` — ``anchor`` being the lr at the lowest point of the
  finder sweep's *raw* loss under a centred running interquartile mean of 11 steps. The sweep's own EMA
  (0.98) lags the raw loss by tens of steps (at 0.08 decade per step, a decade and more), so a
  range read off the smoothed curve sits too high; the centred window has no lag. On the 28
  cells of the suggestions benchmark (its stored sweeps) every lr within 1 point (5 %) of the
  full-budget grid's best lay −2.5 … +1.3 decades from this anchor, and each cell had one
  within −1.5 … +0.7 (from the finder's ``halfway`` the grid's best lay −0.98 … +1.31).
* **Rung 0** trains every candidate for ``first`` of a full run (whole epochs, at least one),
  each probe the user's schedule compressed in time to the probe's length
  (:class:`compress`), so a one-cycle probe warms up and anneals too.
* **The edges.** Where rung 0's best probe is the highest (lowest) candidate, the next lr of
  the lattice above (below) is probed too, up to twice: the sweep's anchor moves with the
  order of the data, and the best lr can lie just outside a range read off one sweep.
* **The last rung** trains two survivors for the full run, so the choice is made on what the
  user will train, not on a short probe (short probes at a fixed lr favour lrs 3–10× too
  high). The first is the best probe — with two or more seeds, the lowest lr whose probes
  lie within one standard error of the best probe's (:func:`lowest_within_se`: where the
  seeds cannot tell them apart, the lower, because short probes lean high); what its full
  run does picks the second (``pick="adaptive"``): where the full run ends *worse* than the
  probe did — the lr is too high for a run that long: it overfits or does not settle — the
  lr lower by the probe's share of the run (⅛: a decade), at which the full run travels as
  far as the probe did; otherwise the next best probe. ``pick="top"`` (the two best probes)
  and ``pick="below"`` (the best probe and the candidate just below it) measured worse;
  docs/tune.md has the figures.

Costs are counted in member-updates (every seed of every candidate, the sweep's steps
included) and reported in full runs: ``cost = member-updates / (full-run updates × seeds)``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from lrsched_jax.core import _math as m
from lrsched_jax.core import validate as V
from lrsched_jax.core._math import Ctx
from lrsched_jax.core.arena import check_seeds, strict_json
from lrsched_jax.core.schedule import Schedule, register
from lrsched_jax.core.validate import arg, here, place

__all__ = [
    "DEFAULT_POLICY",
    "FINDER_STEPS",
    "Policy",
    "Trial",
    "TuneResult",
    "anchor",
    "check_budget",
    "check_candidates",
    "check_room",
    "compress",
    "from_compare",
    "lattice",
    "lowest_within_se",
    "peak_schedules",
    "search",
    "step_down",
    "sweep_candidates",
    "sweep_order",
]


#: The finder sweep the tuner runs when no candidates are given: the finder's default
#: ``num_iter`` (the sweep's batches are cut for it).
FINDER_STEPS = 100


def _schedule_arg(name: str, value: Any) -> Schedule:
    if not isinstance(value, Schedule):
        raise TypeError(f"{here()}: {name} must be an lrsched schedule, got {type(value).__name__}")
    return value


@register("compress")
class compress(Schedule):  # noqa: N801  (the snake_case factory is the class, as for every schedule)
    r"""A schedule run ``factor`` times faster: ``lr(t) = schedule(t * factor)``.

    The tuner's probes: a full run's schedule over ``T`` updates, compressed to a probe of
    ``T / factor`` updates, keeps its shape (warm-up, peak, annealing) in the probe. The
    wrapped schedule is evaluated at fractional steps, which every built-in family allows.
    No torch counterpart (``LambdaLR(lambda k: f(k * factor))``). Past the compressed horizon
    the wrapped schedule's own boundary behaviour applies. The step ``t * factor`` is formed in
    the evaluation's float dtype, so in float32 it is exact up to ``2**24`` (the probes' steps
    are far below); the tuner's probes are its use, not long runs.

    Ranges: ``factor`` a real number in ``[1, 1e9]``.

    >>> import lrsched_jax as lrs
    >>> from lrsched_jax.core.tune import compress
    >>> s = compress(lrs.linear(1.0, 0.0, 100), factor=10)
    >>> [round(float(s(t)), 6) for t in (0, 5, 10)]
    [1.0, 0.5, 0.0]
    """

    schedule: Schedule = arg(_schedule_arg)
    factor: float = arg(V.real, lo=1.0, hi=1e9)

    def upper_bound(self) -> float:
        return self.schedule.upper_bound()

    def _eval(self, ctx: Ctx, t: Any) -> Any:
        return self.schedule._eval(ctx, ctx.to_float(t) * self.factor)

    def _periodic(self) -> tuple[int, int] | None:
        return None

    def _flat_from(self) -> float | None:
        flat = m.flat_of(self.schedule)
        return None if flat is None else flat / self.factor

    def _points(self, until: float) -> Any:
        return [p / self.factor for p in self.schedule.change_points(until * self.factor)]


@dataclass(frozen=True)
class Policy:
    """How the search spends its budget (the defaults: :data:`DEFAULT_POLICY`).

    ``spacing``: decades between candidates; ``below`` / ``above``: decades of the candidate
    range under / over the sweep's anchor; ``first``: rung 0's length as a fraction of the
    full run; ``final``: the last rung's length (1: the full run); ``keep``: survivors of rung
    0; ``pick``: ``"adaptive"`` (the best probe, then the second-best probe or — where the
    best probe's full run ended worse than its probe — the lr lower by the probes' share of
    the run), ``"top"`` (the best probes) or ``"below"`` (the best probe and the candidates
    just below it); ``extend``: how many candidates rung 0 may add, one ``spacing`` beyond
    the range, while its best probe lies at an edge of the range (candidates read off a
    sweep only); ``se``: with ``pick="adaptive"`` and two or more seeds, the last rung starts
    from the lowest candidate whose probe is within ``se`` standard errors of the best probe's
    (the difference paired by seed; 0: from the best probe itself)."""

    spacing: float = 0.5
    below: float = 1.5
    above: float = 1.0
    first: float = 0.125
    final: float = 1.0
    keep: int = 2
    pick: Literal["adaptive", "below", "top"] = "adaptive"
    extend: int = 2
    se: float = 1.0

    def __post_init__(self) -> None:
        if self.pick not in ("adaptive", "below", "top"):
            raise ValueError(f"Policy: pick must be 'adaptive', 'below' or 'top', got {self.pick!r}")
        for name in ("spacing", "below", "above", "first", "final"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                raise ValueError(f"Policy: {name} must be a positive number, got {v!r}")
        if self.first > 1 or self.final > 1:
            raise ValueError(
                f"Policy: first and final are fractions of the run (<= 1), got {self.first}, {self.final}"
            )
        if isinstance(self.se, bool) or not isinstance(self.se, (int, float)) or not 0 <= self.se < math.inf:
            raise ValueError(f"Policy: se must be a number >= 0, got {self.se!r}")
        for name, lo in (("keep", 1), ("extend", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"Policy: {name} must be an int >= {lo}, got {v!r}")


DEFAULT_POLICY = Policy()


@dataclass
class Trial:
    """One candidate lr trained from one seed: ``metrics[r]`` its validation metric at the end
    of rung ``r`` (None: not trained in that rung, or diverged there), ``updates`` the updates
    it trained in all, ``diverged`` the rung it diverged in (None: never)."""

    lr: float
    seed: int
    updates: int
    metrics: list[float | None]
    diverged: int | None = None


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"


@dataclass
class TuneResult:
    """What :func:`lrsched_jax.tune_lr` and :func:`lrsched_torch.tune_lr` return.

    ``lr``: the choice (None when every candidate diverged: ``notes`` says so); ``trials``:
    every (candidate, seed) with its metric at each rung; ``rungs``: per rung its epochs,
    updates and candidates; ``cost``: member-updates spent ÷ one full run's (per seed), the
    sweep included; ``sweep``: the :class:`~lrsched_jax.core.finder.FinderResult` the
    candidates came from (None when ``lrs=`` was given); ``full_updates``: one full run's
    updates; ``wall_s``: seconds in all."""

    framework: str
    lr: float | None
    mode: str
    seeds: list[int]
    candidates: list[float]
    trials: list[Trial]
    rungs: list[dict[str, Any]]
    cost: float
    full_updates: int
    sweep_updates: int
    policy: dict[str, Any]
    schedule: dict[str, Any] | None
    wall_s: float = 0.0
    sweep: Any = field(default=None, repr=False)
    anchor: float | None = None
    notes: list[str] = field(default_factory=list)

    def score(self, lr: float, rung: int) -> float | None:
        """The candidate's mean metric over the seeds at the end of ``rung`` (None: not
        trained there, or diverged)."""
        vals = [t.metrics[rung] for t in self.trials if t.lr == lr]
        if not vals or any(v is None for v in vals):
            return None
        return float(np.mean([float(v) for v in vals if v is not None]))

    def to_dict(self) -> dict[str, Any]:
        """Strict JSON (``json.dumps(..., allow_nan=False)`` accepts it); the sweep as its own
        ``to_dict()``."""
        out = {k: v for k, v in asdict(self).items() if k != "sweep"}
        out["trials"] = [asdict(t) for t in self.trials]
        out["sweep"] = None if self.sweep is None else self.sweep.to_dict()
        return strict_json(out)

    def table(self) -> str:
        """The choice, its cost and every candidate's mean metric per rung, as Markdown."""
        head = (
            f"{self.framework}: lr {_fmt(self.lr)} ({self.mode} metric), cost {self.cost:.2f} full runs "
            f"(sweep {self.sweep_updates} updates), {len(self.seeds)} seed(s), full run "
            f"{self.full_updates} updates"
        )
        cols = [f"rung {i} ({r['epochs']} ep)" for i, r in enumerate(self.rungs)]
        lines = [head, *self.notes, "", "| lr | " + " | ".join(cols) + " |", "|---:" * (len(cols) + 1) + "|"]
        for lr in self.candidates:
            mark = " ←" if lr == self.lr else ""
            cells = []
            for i, r in enumerate(self.rungs):
                div = any(t.lr == lr and t.diverged == i for t in self.trials)
                v = self.score(lr, i)
                cells.append("diverged" if div else ("" if lr not in r["lrs"] else _fmt(v)))
            lines.append(f"| {lr:.4g}{mark} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Any:
        """The mean metric against the lr per rung (log lr axis), the choice and the sweep's
        suggestion marked; returns the axes."""
        from lrsched_jax.core.plots import pyplot

        if ax is None:
            _, ax = pyplot().subplots(figsize=(7, 4.5))
        for i, r in enumerate(self.rungs):
            pts = [(lr, self.score(lr, i)) for lr in r["lrs"]]
            pts = [(x, y) for x, y in pts if y is not None]
            if pts:
                ax.plot(*zip(*pts), "o-", label=f"rung {i}: {r['epochs']} epoch(s)", ms=4)
        if self.lr is not None:
            ax.axvline(self.lr, color="k", ls="--", lw=1, label=f"choice {self.lr:.3g}")
        sug = None if self.sweep is None else self.sweep.suggestion
        if sug is not None:
            ax.axvline(sug, color="tab:red", ls=":", lw=1, label=f"sweep's suggestion {sug:.3g}")
        ax.set_xscale("log")
        ax.set_xlabel("lr (peak of the schedule)")
        ax.set_ylabel(f"validation metric ({self.mode})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        return ax


def lattice(lo: float, hi: float, spacing: float) -> list[float]:
    """The lrs ``10 ** (k * spacing)`` in ``[lo, hi]`` (at least the one nearest ``sqrt(lo*hi)``)."""
    k0 = math.ceil(math.log10(lo) / spacing - 1e-9)
    k1 = math.floor(math.log10(hi) / spacing + 1e-9)
    if k1 < k0:
        k0 = k1 = round(math.log10(math.sqrt(lo * hi)) / spacing)
    return [float(10 ** (k * spacing)) for k in range(k0, k1 + 1)]


def anchor(lrs: Any, losses: Any, half_window: int = 5) -> float | None:
    """The lr at the lowest point of the raw sweep losses under a centred running interquartile
    mean of ``2 * half_window + 1`` steps (a non-finite loss counts as +inf: the run diverged
    there; only whole windows where the sweep is that long, a truncated window being biased);
    None where no loss is finite."""
    lr, loss = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    if not np.isfinite(loss).any():
        return None
    loss = np.where(np.isfinite(loss), loss, np.inf)
    h = half_window if len(loss) >= 2 * half_window + 1 else 0
    q = (2 * h + 1) // 4
    # The interquartile mean: a median's robustness to single spikes, without a median's flat
    # bottom (every centre near a V's vertex has the same median).
    mid = [np.sort(loss[i - h : i + h + 1])[q : 2 * h + 1 - q] for i in range(h, len(loss) - h)]
    level = [float(np.mean(w)) if np.isfinite(w).all() else np.inf for w in mid]
    return float(lr[h + int(np.argmin(level))])


def check_candidates(lrs: Any) -> list[float]:
    """``lrs=`` validated: a non-empty sequence of positive finite numbers, sorted, each once."""
    if isinstance(lrs, (str, bytes)) or not isinstance(lrs, Sequence | np.ndarray):
        raise TypeError(f"{here()}: lrs must be a sequence of candidate lrs, got {type(lrs).__name__}")
    if len(lrs) == 0:
        raise ValueError(
            f"{here()}: lrs is empty; give at least one candidate lr (or leave lrs out: a sweep)"
        )
    out = []
    for v in lrs:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not (0 < v < math.inf):
            raise ValueError(f"{here()}: lrs: every candidate must be a positive finite number, got {v!r}")
        out.append(float(v))
    return sorted(set(out))


def check_budget(budget: Any) -> float:
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not (0 < budget < math.inf):
        raise ValueError(f"{here()}: budget must be a positive number of full runs, got {budget!r}")
    return float(budget)


def peak_schedules(schedule: Callable[[float], Any], lrs: Sequence[float]) -> list[Schedule]:
    """``schedule(lr)`` for every candidate, each checked to be an lrsched schedule."""
    if not callable(schedule):
        raise TypeError(f"{here()}: schedule must be a callable peak lr -> Schedule, got {schedule!r}")
    out = []
    for lr in lrs:
        s = schedule(lr)
        if not isinstance(s, Schedule):
            raise TypeError(
                f"{here()}: schedule({lr:g}) must return an lrsched schedule (e.g. lambda peak: "
                f"lrs.one_cycle(peak, total)), got {type(s).__name__}"
            )
        out.append(s)
    return out


Probe = Callable[[list[Schedule], int], tuple[np.ndarray, np.ndarray]]


@dataclass
class _Plan:
    first_epochs: int
    final_epochs: int
    candidates: list[float]
    keep: int
    #: whether the survivors train the full run (False: the choice is rung 0's best)
    full_rung: bool = True


def _plan(cands: list[float], epochs: int, left: float, policy: Policy, anchor_lr: float | None) -> _Plan:
    """Rung lengths (whole epochs) and how many candidates fit ``left`` full runs: candidates
    are dropped farthest from the anchor first (from the ends where there is none); where the
    full-length rung does not fit two candidates of rung 0 beside it, rung 0 decides."""
    final = max(1, round(policy.final * epochs))
    first = min(final, max(1, round(policy.first * epochs)))
    if len(cands) == 1:
        return _Plan(final, final, cands, 1, False)
    keep = min(policy.keep, len(cands)) if first < final else 0
    fits = int((left - keep * final / epochs) * epochs // first)
    full_rung = first < final and fits >= 2
    if not full_rung:
        keep, fits = 0, int(left * epochs // first)
    if fits < 2:
        raise ValueError(
            f"{here()}: budget leaves {left:.2f} full runs after the sweep, below one rung of two "
            f"candidates ({2 * first / epochs:.2f} full runs: {first} epoch(s) each); raise budget, "
            "or train more epochs"
        )
    if fits < len(cands):
        centre = math.log10(anchor_lr) if anchor_lr else float(np.mean(np.log10(cands)))
        near = sorted(range(len(cands)), key=lambda i: (abs(math.log10(cands[i]) - centre), -i))[:fits]
        cands = [cands[i] for i in sorted(near)]
    return _Plan(first, final, cands, min(keep, len(cands)), full_rung)


def check_room(
    budget: float,
    epochs: int,
    steps_per_epoch: int,
    sweep_updates: int,
    policy: Policy = DEFAULT_POLICY,
) -> None:
    """Refuse, before anything trains, a budget below one rung of two candidates after a sweep of
    ``sweep_updates`` (the most it may take; 0 with ``lrs=``) — the error :func:`search` would
    raise after the sweep."""
    left = budget - sweep_updates / (epochs * steps_per_epoch)
    first = min(max(1, round(policy.final * epochs)), max(1, round(policy.first * epochs)))
    if left * epochs < 2 * first:
        raise ValueError(
            f"{here()}: budget leaves {left:.2f} full runs after the sweep ({sweep_updates} updates), "
            f"below one rung of two candidates ({2 * first / epochs:.2f} full runs: {first} epoch(s) "
            "each); raise budget, or train more epochs"
        )


def _scores(metrics: np.ndarray, diverged: np.ndarray, mode: str) -> np.ndarray:
    """Mean over seeds, a candidate with any diverged (or non-finite) seed scoring worst."""
    bad = diverged.any(axis=1) | ~np.isfinite(metrics).all(axis=1)
    mean = np.where(bad, np.nan, np.nanmean(np.where(np.isfinite(metrics), metrics, 0.0), axis=1))
    return mean if mode == "max" else -mean


def _survivors(scores: np.ndarray, keep: int, pick: str) -> list[int]:
    """Indices of the candidates that continue (``scores``: higher is better, NaN worst)."""
    ok = np.flatnonzero(np.isfinite(scores))
    if len(ok) == 0:
        return []
    best = int(ok[np.argmax(scores[ok])])
    if pick == "top":
        order = ok[np.argsort(-scores[ok], kind="stable")]
        return sorted(int(i) for i in order[:keep])
    # The best probe and the candidates just below it (short probes favour high lrs), filled
    # from above where the lattice ends.
    below = [i for i in range(best - 1, -1, -1) if np.isfinite(scores[i])][: keep - 1]
    above = [i for i in range(best + 1, len(scores)) if np.isfinite(scores[i])]
    chosen = [best, *below, *above[: keep - 1 - len(below)]]
    return sorted(chosen)


def from_compare(result: Any, n_candidates: int, n_seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """``(final metric, diverged)``, each ``(candidates, seeds)``, of an arena result whose
    schedules were the candidates in order (its members are schedule-major)."""
    metric = np.asarray([mr.final_val_metric for mr in result.members], dtype=float)
    div = np.asarray([mr.diverged_at is not None for mr in result.members])
    return metric.reshape(n_candidates, n_seeds), div.reshape(n_candidates, n_seeds)


def _probe_schedules(scheds: list[Schedule], factor: float) -> list[Schedule]:
    return [s if factor == 1 else compress(s, factor) for s in scheds]


@dataclass
class _Book:
    """The search's records: every (candidate, seed)'s metric per rung and its updates."""

    cands: list[float]
    seeds: list[int]
    n_rungs: int
    metrics: np.ndarray = field(init=False)
    updates: np.ndarray = field(init=False)
    diverged: np.ndarray = field(init=False)
    spent: int = 0

    def __post_init__(self) -> None:
        shape = (len(self.cands), len(self.seeds))
        self.metrics = np.full((*shape, self.n_rungs), np.nan)
        self.updates = np.zeros(shape, dtype=np.int64)
        self.diverged = np.full(shape, -1)

    def add(self, rung: int, rows: list[int], metric: np.ndarray, div: np.ndarray, updates: int) -> None:
        for j, i in enumerate(rows):
            self.metrics[i, :, rung] = np.where(div[j], np.nan, metric[j])
            self.updates[i] += updates
            self.diverged[i] = np.where(div[j] & (self.diverged[i] < 0), rung, self.diverged[i])
        self.spent += updates * len(rows) * len(self.seeds)

    def insert(self, lr: float) -> int:
        """A new candidate in its place among the others (sorted), untrained; its index."""
        i = bisect.bisect(self.cands, lr)
        self.cands.insert(i, lr)
        self.metrics = np.insert(self.metrics, i, np.nan, axis=0)
        self.updates = np.insert(self.updates, i, 0, axis=0)
        self.diverged = np.insert(self.diverged, i, -1, axis=0)
        return i

    def trials(self) -> list[Trial]:
        return [
            Trial(
                lr=lr,
                seed=s,
                updates=int(self.updates[i, j]),
                metrics=[None if not math.isfinite(v) else float(v) for v in self.metrics[i, j]],
                diverged=None if self.diverged[i, j] < 0 else int(self.diverged[i, j]),
            )
            for i, lr in enumerate(self.cands)
            for j, s in enumerate(self.seeds)
        ]


@dataclass
class _Rungs:
    """What the rungs share: the records, the candidates' schedules (in the records' order), the
    user's ``peak -> Schedule``, the trainer, rung 0's epochs, the run's sizes and the policy."""

    book: _Book
    scheds: list[Schedule]
    schedule: Callable[[float], Any]
    probe: Probe
    ep0: int
    steps: int
    epochs: int
    mode: str
    policy: Policy

    def scores(self, rung: int, rows: Any = slice(None)) -> np.ndarray:
        """The candidates' (``rows``) scores at the end of ``rung`` (higher is better; NaN where a
        seed diverged in that rung: a lower lr that diverged in rung 0 may still train in full)."""
        book = self.book
        return _scores(book.metrics[rows, :, rung], book.diverged[rows] == rung, self.mode)

    def insert(self, lr: float) -> None:
        """A new candidate in its place, untrained, with its schedule."""
        new = peak_schedules(self.schedule, [lr])[0]
        self.scheds.insert(self.book.insert(lr), new)

    def train(self, lrs: list[float], ep: int, rung: int) -> None:
        """The candidates ``lrs`` trained for ``ep`` epochs (compressed below the full run) and
        recorded as ``rung``."""
        rows = [self.book.cands.index(lr) for lr in lrs]
        metric, div = self.probe(_probe_schedules([self.scheds[i] for i in rows], self.epochs / ep), ep)
        self.book.add(rung, rows, metric, div, ep * self.steps)


def _extend(r: _Rungs, room: int) -> int:
    """While rung 0's best probe lies at an edge of the candidates, probe the lattice's next lr
    beyond it (the sweep's range can miss the best: its anchor moves with the data's order),
    at most ``policy.extend`` times and within ``room`` member-updates; returns the
    member-updates spent."""
    cands, spacing = r.book.cands, r.policy.spacing
    cost, spent = r.ep0 * r.steps * len(r.book.seeds), 0
    for _ in range(r.policy.extend):
        scores = r.scores(0)
        ok = np.flatnonzero(np.isfinite(scores))
        if len(ok) == 0 or spent + cost > room:
            break
        best = int(ok[np.argmax(scores[ok])])
        if best not in (0, len(scores) - 1):
            break
        front = best == 0
        edge = math.log10(cands[0] if front else cands[-1]) / spacing
        lr = float(10 ** ((round(edge) + (-1 if front else 1)) * spacing))  # on the lattice
        r.insert(lr)
        r.train([lr], r.ep0, 0)
        spent += cost
    return spent


def step_down(best: float, first: int, final: int, spacing: float) -> float:
    """The lr below ``best`` by the probes' share of the run (``first`` of ``final`` epochs) in
    whole lattice steps, at least one (⅛ of the run: 0.9 decades, two half-decade steps): where
    a run ``final / first`` times longer travels as far as the probe did. On the lattice where
    ``best`` is."""
    steps = max(1, round(math.log10(final / first) / spacing))
    k = math.log10(best) / spacing
    if abs(k - round(k)) < 1e-9:
        return float(10 ** ((round(k) - steps) * spacing))
    return best * 10 ** (-steps * spacing)


def lowest_within_se(probes: np.ndarray, se: float) -> int | None:
    """The row of the lowest lr whose probes are within ``se`` standard errors of the best
    mean probe's — the one-standard-error rule (Breiman et al., 1984), leaning to the lower
    lr because short probes favour high ones. ``probes``: ``(candidates by increasing lr,
    seeds)``, higher is better, NaN for a diverged seed (such a row never counts). The error
    is that of the mean difference, paired by seed (a seed is one initialisation and one
    order of batches for every candidate). With one seed or ``se=0``: the best row. None:
    no row is finite.

    >>> lowest_within_se(np.array([[0.50, 0.70], [0.61, 0.79], [0.60, 0.80]]), 1.0)
    1
    """
    probes = np.asarray(probes, dtype=float)
    ok = np.flatnonzero(np.isfinite(probes).all(axis=1))
    if len(ok) == 0:
        return None
    top = int(ok[np.argmax(probes[ok].mean(axis=1))])
    n = probes.shape[1]
    if n < 2 or se == 0:
        return top
    for i in ok[ok < top]:
        d = probes[top] - probes[i]
        if d.mean() <= se * d.std(ddof=1) / math.sqrt(n):
            return int(i)
    return top


def _users_below(cands: list[float], best: float, target: float) -> float | None:
    """The candidate below ``best`` nearest ``target`` on a log scale (None: none below)."""
    below = [c for c in cands if c < best]
    return min(below, key=lambda c: abs(math.log10(c / target))) if below else None


def _first_survivor(r: _Rungs, ranked: list[float], notes: list[str]) -> float:
    """The adaptive last rung's first survivor: the best probe, or the lowest lr whose probes
    are within ``policy.se`` standard errors of its (:func:`lowest_within_se`)."""
    sign = 1.0 if r.mode == "max" else -1.0
    row = lowest_within_se(sign * r.book.metrics[:, :, 0], r.policy.se)
    first = ranked[0] if row is None else r.book.cands[row]
    if first != ranked[0]:
        notes.append(
            f"the probes of {first:.3g} lie within {r.policy.se:g} standard error(s) over the seeds "
            f"of the best probe's ({ranked[0]:.3g}): the last rung starts from the lower lr"
        )
    return first


def _last_rung(r: _Rungs, plan: _Plan, extend: bool, notes: list[str]) -> tuple[float, dict[str, Any]]:
    """Rung 0's survivors (``plan.keep``) trained for ``plan.final_epochs``; returns the choice
    and the rung's record.

    ``pick="adaptive"``: the first survivor alone — the best probe, or the lowest lr
    indistinguishable from it over the seeds (:func:`_first_survivor`) — then the others in
    one program: the next best probes, or — where the first survivor's run ended worse than
    its own short probe (the lr is too high for a run that long) — first the lr lower by the
    probes' share of the run (``ep0 / ep1``, on the lattice: a decade for ⅛), where a
    full-length run has travelled as far as the short probe did."""
    cands, policy, ep1, keep = r.book.cands, r.policy, plan.final_epochs, plan.keep
    scores = r.scores(0)
    ok = np.flatnonzero(np.isfinite(scores))
    ranked = [cands[i] for i in ok[np.argsort(-scores[ok], kind="stable")]]
    if policy.pick != "adaptive":
        alive = [cands[i] for i in _survivors(scores, keep, policy.pick)]
        r.train(alive, ep1, 1)
    else:
        best = _first_survivor(r, ranked, notes)
        others = [lr for lr in ranked if lr != best][: keep - 1]
        r.train([best], ep1, 1)
        i = cands.index(best)
        worse = not r.scores(1, [i])[0] >= scores[i]  # diverged (NaN) counts as worse
        target = step_down(best, r.ep0, ep1, policy.spacing)
        # A sweep's lattice gains the lr; the user's lrs= keep to their own candidates.
        down = (target if extend else _users_below(cands, best, target)) if keep > 1 and worse else None
        if down is not None:
            if down not in cands:
                r.insert(down)
            others = [down, *[lr for lr in others if lr != down]][: keep - 1]
            notes.append(
                f"the first survivor ({best:.3g}) ended its full run worse than its short probe: "
                f"the second survivor is {down:.3g}, lower by the probe's share of the run"
            )
        if others:
            r.train(others, ep1, 1)
        alive = [best, *others]
    alive.sort()
    last = r.scores(1, [cands.index(lr) for lr in alive])
    if np.isfinite(last).any():
        choice = alive[int(np.nanargmax(last))]
    else:
        choice = ranked[0]
        notes.append("every survivor diverged in the last rung: the choice is rung 0's best")
    return choice, {"epochs": ep1, "updates": ep1 * r.steps, "lrs": alive}


def search(
    *,
    framework: str,
    candidates: list[float],
    schedule: Callable[[float], Any],
    epochs: int,
    steps_per_epoch: int,
    seeds: list[int],
    budget: float,
    mode: str,
    probe: Probe,
    sweep: Any = None,
    sweep_updates: int = 0,
    anchor_lr: float | None = None,
    policy: Policy = DEFAULT_POLICY,
    extend: bool = False,
) -> TuneResult:
    """Successive halving over ``candidates`` (see the module docstring); ``probe(schedules,
    epochs)`` trains every (schedule, seed) member and returns ``(final metric, diverged)``,
    each ``(schedules, seeds)``; ``extend``: the candidates came from a sweep, and rung 0 may
    add some beyond them (:class:`Policy`). Returns the :class:`TuneResult`."""
    import time

    t0 = time.perf_counter()
    full = epochs * steps_per_epoch
    per_run = full * len(seeds)
    plan = _plan(candidates, epochs, budget - sweep_updates / per_run, policy, anchor_lr)
    cands = plan.candidates
    scheds = peak_schedules(schedule, cands)
    two = plan.full_rung
    book = _Book(list(cands), seeds, 2 if two else 1)
    notes: list[str] = []
    rungs: list[dict[str, Any]] = []
    if len(cands) == 1:
        notes.append("one candidate: nothing to decide, nothing trained")
        choice: float | None = cands[0]
    else:
        ep0 = plan.first_epochs
        r = _Rungs(book, scheds, schedule, probe, ep0, steps_per_epoch, epochs, mode, policy)
        r.train(list(cands), ep0, 0)
        if extend:
            last_rung = plan.keep * plan.final_epochs * steps_per_epoch * len(seeds) if two else 0
            room = int(budget * per_run) - sweep_updates - book.spent - last_rung
            if _extend(r, room):
                notes.append("rung 0's best probe lay at an edge of the range: probed the lattice beyond it")
        cands = book.cands
        rungs.append({"epochs": ep0, "updates": ep0 * steps_per_epoch, "lrs": list(cands)})
        scores = r.scores(0)
        if two and np.isfinite(scores).any():
            choice, last = _last_rung(r, plan, extend, notes)
            rungs.append(last)
        elif np.isfinite(scores).any():
            choice = cands[int(np.nanargmax(scores))]
            if plan.first_epochs < epochs:
                notes.append(
                    "the budget leaves no full-length rung: the choice is the best short probe's, "
                    "which tends to be too high for a fixed lr"
                )
        else:
            choice = None
            notes.append(
                f"every candidate diverged (lrs {cands[0]:.3g} … {cands[-1]:.3g}): no lr chosen; "
                "try lower lrs= or check the model and loss"
            )
    dropped = len(candidates) - len(plan.candidates)
    if dropped:
        notes.append(f"{dropped} candidate(s) farthest from the sweep's anchor left out to fit the budget")
    return TuneResult(
        framework=framework,
        lr=choice,
        mode=mode,
        seeds=list(seeds),
        candidates=cands,
        trials=book.trials(),
        rungs=rungs,
        cost=(book.spent + sweep_updates) / per_run,
        full_updates=full,
        sweep_updates=int(sweep_updates),
        policy=asdict(policy),
        schedule=None if choice is None else schedule(choice).to_config(),
        wall_s=time.perf_counter() - t0,
        sweep=sweep,
        anchor=anchor_lr,
        notes=notes,
    )


def sweep_order(seed: int, n: int, batch_size: int, steps: int) -> np.ndarray:
    """Sample indices whose batches, in order, are the arena's batches of ``seed`` (epochs 0,
    1, ...) for at least ``steps`` steps: the sweep sees what the probes see, in both
    frameworks."""
    from lrsched_jax.core.arena import batch_order

    per = n // batch_size
    return np.concatenate([batch_order(seed, e, n, batch_size).ravel() for e in range(-(-steps // per))])


def sweep_candidates(sweep: Any, policy: Policy = DEFAULT_POLICY) -> tuple[list[float], float]:
    """The candidates read off a finder sweep: the lattice around its :func:`anchor` (see the
    module docstring); ``ValueError`` when no loss of the sweep was finite."""
    a = anchor(sweep.lrs, sweep.losses)
    if a is None:
        raise ValueError("tune_lr: every loss of the finder sweep was non-finite; give lrs= candidates")
    return lattice(a / 10**policy.below, a * 10**policy.above, policy.spacing), a


#: A front end's trainer: ``(named schedules, epochs, seeds, steps_per_epoch, progress)`` ->
#: its arena's result (every (schedule, seed) member, evaluated at every epoch's end).
Trainer = Callable[[dict[str, Schedule], int, list[int], int, Any], Any]


def sweep_rows(seed: int, n: int, batch_size: int) -> np.ndarray:
    """The sample indices of the tuner's finder sweep, ``(FINDER_STEPS * batch_size,)``: the
    first epochs' batches of ``seed`` in the arena's order (:func:`sweep_order`)."""
    return sweep_order(seed, n, batch_size, FINDER_STEPS)


@place("tune_lr")  # the front ends are tune_lr too; here for a direct call of the core
def run_tuner(
    framework: str,
    *,
    lrs: Any,
    schedule: Callable[[float], Any],
    epochs: Any,
    n_train: int,
    batch_size: Any,
    seeds: Any,
    budget: Any,
    mode: Any,
    metric: Any,
    policy: Policy,
    progress: Callable[[str, int, int], None] | None,
    train: Trainer,
    sweep: Callable[[int], Any],
) -> TuneResult:
    """Both ``tune_lr``\\ s past their loss: every argument checked before anything trains, the
    finder sweep (``sweep(seed)``, on seed ``seeds[0]``'s model) where ``lrs`` is None, then
    :func:`search` with ``train`` running each rung."""
    import time

    t0 = time.perf_counter()
    if metric is not None and not callable(metric):
        raise TypeError(f"{here()}: metric must be callable, got {metric!r}")
    cands = None if lrs is None else check_candidates(lrs)
    budget = check_budget(budget)
    if mode not in ("max", "min"):
        raise ValueError(f"{here()}: mode must be 'max' (higher is better) or 'min', got {mode!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"{here()}: epochs must be an int >= 1 (the full run), got {epochs!r}")
    seed_list = check_seeds(seeds)
    peak_schedules(schedule, [cands[0] if cands else 1e-2])
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= n_train:
        raise ValueError(f"{here()}: batch_size must be an int in [1, {n_train}], got {batch_size!r}")
    steps = n_train // batch_size
    check_room(budget, int(epochs), steps, 0 if cands is not None else FINDER_STEPS, policy)
    found, used, anchor_lr = None, 0, None
    if cands is None:
        if progress is not None:
            progress("sweep", 0, 1)
        found = sweep(seed_list[0])
        used = int(found.stop_step) + 1
        cands, anchor_lr = sweep_candidates(found, policy)
        if progress is not None:
            progress("sweep", 1, 1)

    def probe(scheds: list[Schedule], ep: int) -> tuple[np.ndarray, np.ndarray]:
        tick = None if progress is None else (lambda d, t: progress(f"{ep} epoch(s)", d, t))
        named = {f"candidate {i}": s for i, s in enumerate(scheds)}
        return from_compare(train(named, ep, seed_list, steps, tick), len(scheds), len(seed_list))

    result = search(
        framework=framework, candidates=cands, schedule=schedule, epochs=int(epochs),
        steps_per_epoch=steps, seeds=seed_list, budget=budget, mode=mode, probe=probe, sweep=found,
        sweep_updates=used, anchor_lr=anchor_lr, policy=policy, extend=found is not None,
    )  # fmt: skip
    result.wall_s = time.perf_counter() - t0
    return result
