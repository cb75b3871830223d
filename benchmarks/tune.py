"""Tuning the lr by training: ``tune_lr``'s choice against the full half-decade grid.

    python -m benchmarks.tune [--quick]

The tasks of the suggestions benchmark (:mod:`benchmarks.suggestions`: five, and two held out)
× SGD with momentum 0.9 / AdamW × a fixed lr / one-cycle, 3 seeds, in JAX. The full runs are
whole epochs here (the arena's unit; a probe is a whole number of epochs): digits-mlp 10
epochs of 44 updates, digits-cnn 8, diabetes 30 of 11, char-lm 8 of 50 (its first 3,200
training windows), cancer-logreg 20 of 14, synthetic-4class 8 of 75, friedman1 8 of 50.

Per cell, ``tune_lr(..., seeds=(0, 1, 2))`` (default budget 3 full runs, the sweep included)
chooses the lr; the **grid** — every lr ``10 ** (k / 2)`` from 1e-5 to 10, and the finder's
default as documented (``res.suggest("fixed")`` / ``res.suggest("one_cycle")`` of the
tuner's own sweep) — is trained to the full run from the same seeds and batches. Figures:
the **regret** of the tuned lr and of the finder's default (the grid's best mean metric minus
theirs: accuracy points, or relative excess loss), the **cost** in full runs, and the **wall
time** of ``tune_lr`` against one full run of the same 3 seeds (one ``compare`` call,
compilation included), both measured in this process. A diverged run scores what knowing
nothing scores (as in the suggestions benchmark).

Alternatives to the default search, scored on the same runs: rung 0 at ¼ of the run instead
of ⅛ (trained here too), and the survivors of rung 0 — the lowest lr whose probes lie within
one standard error (over the seeds) of the best probe's and then, by what its full run did,
the next best probe or the lr lower by the probe's share of the run (the default,
``adaptive``); the same from the best probe itself (``adaptive se=0``, the default before);
the best probe and the one below it; the two best probes; or the best probe alone (no
full-length rung) — whose full runs are the grid's members (the same seeds, batches and
schedule; a step below the grid's range counts as not run).

Targets per cell: regret ≤ 1 point of accuracy (≤ 5 % relative loss), cost ≤ 3 runs, wall ≤ 4×
one full run. ``--quick``: cancer-logreg, SGD-momentum, a fixed lr, 1 seed, no ¼ alternative
and no torch figure (under a minute).
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from typing import Any

import jax.numpy as jnp
import numpy as np
import optax

import lrsched_jax as lrs
from benchmarks import suggestions as S
from benchmarks._common import fmt_ratio, fmt_time, interleaved, paired_ratio, section_command, spread, timed
from lrsched_jax.core.tune import DEFAULT_POLICY, Policy, compress, lowest_within_se, step_down

#: Whole epochs of each task's full run (and char-lm's training windows kept).
EPOCHS = {
    "digits-mlp": 10,
    "digits-cnn": 8,
    "diabetes": 30,
    "char-lm": 8,
    "cancer-logreg": 20,
    "synthetic-4class": 8,
    "friedman1": 8,
}
CHAR_WINDOWS = 3200
QUICK_TASKS = ("cancer-logreg",)
TARGET_POINTS, TARGET_REL, TARGET_COST, TARGET_WALL = 1.0, 0.05, 3.0, 4.0


def _acc(out: Any, y: Any) -> Any:
    return jnp.mean(jnp.argmax(out, axis=-1) == y)


def _mse(out: Any, y: Any) -> Any:
    return jnp.mean((out[:, 0] - y) ** 2)


def _ce(out: Any, y: Any) -> Any:
    return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()


def _fns(task: S.Task) -> tuple[Any, Any, str]:
    """``(criterion, metric, mode)`` of a task, as functions of ``(output, y)``."""
    if task.kind == "accuracy":
        return _ce, _acc, "max"
    if task.metric is S._mse_metric:
        return _mse, _mse, "min"
    return _ce, _ce, "min"


def _data(task: S.Task) -> tuple[np.ndarray, ...]:
    x, y, xv, yv = task.data()
    if task.name == "char-lm":
        x, y = x[:CHAR_WINDOWS], y[:CHAR_WINDOWS]
    return x, y, xv, yv


def _regret(kind: str, best: float, got: float) -> float:
    return 100 * (best - got) if kind == "accuracy" else (got - best) / best


def _clean(kind: str, trivial: float, v: np.ndarray) -> np.ndarray:
    worse = (v < trivial) if kind == "accuracy" else ~(v < trivial)
    return np.where(~np.isfinite(v) | worse, trivial, v).astype(float)


def _arena(task: S.Task, opt: Any, data: tuple[np.ndarray, ...], seeds: list[int]) -> Any:
    """A ``compare`` runner for this task: ``(schedules, epochs) -> (members' final metric, s)``."""
    x, y, xv, yv = data
    crit, metric, mode = _fns(task)
    steps = len(x) // task.batch

    def run(scheds: list[Any], epochs: int) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        res = lrs.compare(
            task.model, opt, (x, y), (xv, yv), {f"s{i}": s for i, s in enumerate(scheds)}, seeds, epochs,
            criterion=crit, metric=metric, batch_size=task.batch, mode=mode, eval_every=steps,
        )  # fmt: skip
        out = np.asarray([mr.final_val_metric for mr in res.members], dtype=float)
        return out.reshape(len(scheds), len(seeds)), time.perf_counter() - t0

    return run


def _alternatives(
    task: S.Task, res: Any, grid_of: dict[float, float], probe2: dict[float, list[float] | None] | None
) -> dict[str, float | None]:
    """Regret-free scores (the mean full-run metric) of other survivor rules, from rung 0's
    probes per seed (⅛; ``probe2``: ¼ of the run) and the grid's full runs of the same lrs."""
    sign = 1.0 if task.kind == "accuracy" else -1.0
    epochs = EPOCHS[task.name]
    rung0: dict[float, list[Any]] = {}
    for t in res.trials:
        rung0.setdefault(t.lr, []).append(t.metrics[0])
    out: dict[str, float | None] = {}
    for name, frac, probes in (("1/8", 8, rung0), ("1/4", 4, probe2 or {})):
        ok = {
            c: sign * np.asarray(v, dtype=float)
            for c, v in probes.items()
            if v is not None and all(x is not None and math.isfinite(x) for x in v)
        }
        if not ok:
            continue
        ranked = sorted(ok, key=lambda c: -ok[c].mean())
        best, lrs_up = ranked[0], sorted(ok)
        below = [c for c in lrs_up if c < best][-1:]

        # adaptive (lrsched_jax.core.tune): the lowest lr within one standard error of the best
        # probe (se=0: the best probe) trains first; its full run picks the second survivor.
        row = lowest_within_se(np.stack([ok[c] for c in lrs_up]), DEFAULT_POLICY.se)
        rules = {"best+below": [best, *below], "top-2": ranked[:2], "top-1": [best]}
        for rule, first in (("adaptive", best if row is None else lrs_up[row]), ("adaptive se=0", best)):
            full = grid_of.get(_key(first))
            if full is None or sign * full < ok[first].mean():
                second = [step_down(first, max(1, round(epochs / frac)), epochs, DEFAULT_POLICY.spacing)]
            else:
                second = [c for c in ranked if c != first][:1]
            rules[rule] = [first, *second]
        for rule, keep in rules.items():
            full_runs = [grid_of.get(_key(c)) for c in keep]
            known = [float(v) for v in full_runs if v is not None]
            if len(known) < len(keep) and not rule.startswith("adaptive"):
                out[f"{name} {rule}"] = None
                continue
            out[f"{name} {rule}"] = max(known) if sign > 0 else min(known)
    return out


def _key(lr: float) -> float:
    return round(math.log10(lr) * 2) / 2


def run_cell(
    task: S.Task, opt_name: str, sched: str, seeds: list[int], quick: bool = False
) -> dict[str, Any]:
    data = _data(task)
    x, y, xv, yv = data
    epochs = EPOCHS[task.name]
    steps = len(x) // task.batch
    total = epochs * steps
    factory = S.OPTIMIZERS[opt_name][0]
    crit, metric, mode = _fns(task)
    make = lrs.constant if sched == "fixed" else (lambda p: lrs.one_cycle(p, total))
    trivial = S._trivial(task, y, yv)
    arena = _arena(task, factory, data, seeds)
    # One full run of the same seeds, before and after the tuner (the mean): the wall-time
    # yardstick, compilation included, measured side by side with it.
    _, before = arena([make(0.01)], epochs)
    t0 = time.perf_counter()
    res = lrs.tune_lr(
        model=task.model, optimizer=factory, train=(x, y), val=(xv, yv), epochs=epochs,
        batch_size=task.batch, criterion=crit, metric=metric, mode=mode, seeds=seeds, schedule=make,
    )  # fmt: skip
    tune_s = time.perf_counter() - t0
    _, after = arena([make(0.01)], epochs)
    full_s = (before + after) / 2
    default = res.sweep.suggest("fixed" if sched == "fixed" else "one_cycle")
    grid = list(S.GRID) + ([default] if default is not None else [])
    vals, _ = arena([make(lr) for lr in grid], epochs)
    vals = _clean(task.kind, trivial, vals).mean(axis=1)
    grid_mean = vals[: len(S.GRID)]
    pick = int(np.argmax(grid_mean) if task.kind == "accuracy" else np.argmin(grid_mean))
    best = float(grid_mean[pick])
    grid_of = {_key(lr): float(v) for lr, v in zip(S.GRID, grid_mean)}
    if res.lr is None:
        got = trivial
    elif _key(res.lr) in grid_of and abs(math.log10(res.lr) - _key(res.lr)) < 1e-9:
        got = grid_of[_key(res.lr)]
    else:
        got = float(_clean(task.kind, trivial, np.asarray([res.score(res.lr, len(res.rungs) - 1)])).item())
    # The alternatives: rung 0 at a quarter and at half the run, on the same candidates.
    probes: dict[str, dict[float, float | None]] = {}
    for frac in () if quick else (4, 2):
        ep = max(1, round(epochs / frac))
        got_p, _ = arena([compress(make(c), epochs / ep) for c in res.candidates], ep)
        probes[f"1/{frac}"] = {
            c: [float(v) for v in p] if np.isfinite(p).all() else None for c, p in zip(res.candidates, got_p)
        }
    probe2 = probes.get("1/4")
    alts = {
        k: None if v is None else _regret(task.kind, best, v)
        for k, v in _alternatives(task, res, grid_of, probe2).items()
    }
    return {
        "grid_best_lr": S.GRID[pick],
        "grid_best": best,
        "grid": grid_mean.tolist(),
        "tuned_lr": res.lr,
        "tuned": got,
        "regret": _regret(task.kind, best, got),
        "finder_lr": default,
        "finder_regret": None if default is None else _regret(task.kind, best, float(vals[-1])),
        "cost": res.cost,
        "tune_s": tune_s,
        "full_s": full_s,
        "wall_ratio": tune_s / full_s,
        "anchor": res.anchor,
        "candidates": res.candidates,
        "alternatives": alts,
        "probes": {
            k: [[c, None if v is None else float(np.mean(v))] for c, v in d.items()]
            for k, d in probes.items()
        },
        "result": res.to_dict(),
    }


def _torch_wall() -> dict[str, Any]:
    """torch: ``lrsched_torch.tune_lr`` against one full torch run, digits MLP, SGD-momentum,
    fixed lr, 1 seed (the same network and batches as the JAX cell)."""
    import torch

    import lrsched_torch as lt
    from lrtwin.compare import numpy_weights
    from lrtwin.models import torch_mlp_from

    torch.set_num_threads(1)
    x, y, xv, yv = S._digits()
    tr = (torch.from_numpy(x), torch.from_numpy(y).long())
    va = (torch.from_numpy(xv), torch.from_numpy(yv).long())
    epochs = EPOCHS["digits-mlp"]
    model = lambda s: torch_mlp_from(numpy_weights(s))  # noqa: E731
    opt = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)  # noqa: E731

    def full() -> float:
        t0 = time.perf_counter()
        lt.compare(model, opt, tr, va, [lt.constant(0.1)], [0], epochs, eval_every=len(x) // 32)
        return time.perf_counter() - t0

    full()  # warm-up: torch's first calls (kernels, allocator) are not the run's
    before = full()
    t0 = time.perf_counter()
    res = lt.tune_lr(model=model, optimizer=opt, train=tr, val=va, epochs=epochs)
    tune_s = time.perf_counter() - t0
    full_s = (before + full()) / 2
    return {"epochs": epochs, "lr": res.lr, "cost": res.cost, "tune_s": tune_s, "full_s": full_s}


def _one_at_a_time(quick: bool) -> dict[str, Any]:
    """JAX: ``tune_lr`` against tuning the same candidates one member at a time — the same
    sweep, then each rung's (candidate, seed) members by ``compare(sequential=True)`` (one
    compiled single-member program reused for them all) — on one cell (digits MLP,
    SGD-momentum, a fixed lr, the cells' seeds): 3 repeats side by side (the first pair a
    warm-up, not counted), median and spread of the ratio."""
    from lrsched_jax.core.tune import sweep_rows

    task = next(t for t in S.TASKS if t.name == ("cancer-logreg" if quick else "digits-mlp"))
    seeds = [0] if quick else [0, 1, 2]
    x, y, xv, yv = _data(task)
    epochs, steps = EPOCHS[task.name], len(x) // task.batch
    factory = S.OPTIMIZERS["sgd-momentum"][0]
    crit, metric, mode = _fns(task)
    kw = dict(batch_size=task.batch, criterion=crit, metric=metric, mode=mode)
    rungs: list[dict[str, Any]] = []

    def tune() -> None:
        res = lrs.tune_lr(
            model=task.model, optimizer=factory, train=(x, y), val=(xv, yv), epochs=epochs, seeds=seeds, **kw
        )
        rungs[:] = res.rungs

    def one_at_a_time() -> None:
        idx = sweep_rows(seeds[0], len(x), task.batch)
        lrs.find_lr(task.model(seeds[0]), factory, (x[idx], y[idx]), criterion=crit, batch_size=task.batch)
        for rung in rungs:
            ep = rung["epochs"]
            scheds = {f"c{i}": compress(lrs.constant(c), epochs / ep) for i, c in enumerate(rung["lrs"])}
            lrs.compare(
                task.model,
                factory,
                (x, y),
                (xv, yv),
                scheds,
                seeds,
                ep,
                eval_every=steps,
                sequential=True,
                **kw,
            )

    tune()  # warm-up, and the rungs the one-at-a-time runs repeat
    one_at_a_time()
    times = interleaved({"tune": lambda: timed(tune), "one": lambda: timed(one_at_a_time)}, 1 if quick else 3)
    return {
        "task": task.name,
        "seeds": len(seeds),
        "tune_s": spread(times["tune"]),
        "one_at_a_time_s": spread(times["one"]),
        "ratio": paired_ratio(times, "tune", "one"),
    }


def run(quick: bool = False) -> dict[str, Any]:
    t0 = time.perf_counter()
    seeds = [0] if quick else [0, 1, 2]
    cells = []
    for task in S.TASKS:
        if quick and task.name not in QUICK_TASKS:
            continue
        for opt in S.OPTIMIZERS if not quick else ("sgd-momentum",):
            for sched in ("fixed", "one-cycle"):
                if quick and sched == "one-cycle":
                    continue
                cell = run_cell(task, opt, sched, seeds, quick)
                cell.update(
                    task=task.name, kind=task.kind, held_out=task.held_out, optimizer=opt, schedule=sched
                )
                cells.append(cell)
                print(
                    f"  {task.name} / {opt} / {sched}: tuned {cell['tuned_lr']} regret {cell['regret']:.3g}, "
                    f"grid best {cell['grid_best_lr']:.3g}, cost {cell['cost']:.2f}, "
                    f"wall {cell['wall_ratio']:.2f}×",
                    flush=True,
                )
    return {
        "cells": cells,
        "torch": None if quick else _torch_wall(),
        "one_at_a_time": _one_at_a_time(quick),
        "policy": DEFAULT_POLICY.__dict__ if isinstance(DEFAULT_POLICY, Policy) else {},
        "seeds": len(seeds),
        "seconds": time.perf_counter() - t0,
    }


def _ok(c: dict[str, Any]) -> bool:
    limit = TARGET_POINTS if c["kind"] == "accuracy" else TARGET_REL
    return c["regret"] <= limit and c["cost"] <= TARGET_COST and c["wall_ratio"] <= TARGET_WALL


#: What the table's columns mean (after the number of seeds).
LEGEND = (
    "regret: grid's best − the lr's mean full-run metric (accuracy points, or relative excess loss); "
    "cost in full runs (sweep included); wall: tune_lr ÷ one full run of the same seeds. Targets: regret "
    f"≤ {TARGET_POINTS:g} pt (≤ {100 * TARGET_REL:g} %), cost ≤ {TARGET_COST:g}, wall ≤ {TARGET_WALL:g}×."
)


def table(result: dict[str, Any]) -> str:
    cells = result["cells"]
    lines = [
        f"{result['seeds']} seed(s); {LEGEND}",
        "",
        "| task | optimizer | schedule | grid best (lr → metric) | tuned lr / regret | finder default "
        "lr / regret | cost | wall | ✓/✗ |",
        "|---|---|---|---|---|---|---:|---:|---|",
    ]
    for c in cells:
        name = c["task"] + (" (held out)" if c["held_out"] else "")
        tuned = "none" if c["tuned_lr"] is None else f"{c['tuned_lr']:.3g}"
        finder = (
            "—"
            if c["finder_lr"] is None
            else f"{c['finder_lr']:.3g} / {S.regret_text(c['kind'], c['finder_regret'])}"
        )
        lines.append(
            f"| {name} | {c['optimizer']} | {c['schedule']} | "
            f"{c['grid_best_lr']:.3g} → {c['grid_best']:.4g} | "
            f"{tuned} / {S.regret_text(c['kind'], c['regret'])} | {finder} | {c['cost']:.2f} | "
            f"{c['wall_ratio']:.2f}× | "
            f"{'✓' if _ok(c) else '✗'} |"
        )
    lines += ["", f"All targets on {sum(_ok(c) for c in cells)}/{len(cells)} cells.", ""]
    names = sorted({k for c in cells for k in c["alternatives"]})
    lines += [
        "Alternatives (rung 0's length, the survivors), scored on the same runs: cells within the "
        "regret target, worst accuracy regret, worst loss regret.",
        "",
        "| search | within target | worst acc regret | worst loss regret |",
        "|---|---:|---:|---:|",
    ]
    for n in names:
        vals = [(c["kind"], c["alternatives"].get(n)) for c in cells]
        known = [(k, v) for k, v in vals if v is not None]
        ok = sum(v <= (TARGET_POINTS if k == "accuracy" else TARGET_REL) for k, v in known)
        acc = max((v for k, v in known if k == "accuracy"), default=0.0)
        loss = max((v for k, v in known if k == "loss"), default=0.0)
        lines.append(f"| {n} | {ok}/{len(known)} | {acc:.1f} pt | {100 * loss:.1f} % |")
    t = result["torch"]
    lines += [
        "",
        "torch: not measured (--quick)."
        if t is None
        else f"torch (digits MLP, SGD-momentum, fixed, 1 seed, {t['epochs']} epochs): tune_lr "
        f"{t['tune_s']:.1f} s against one full run {t['full_s']:.1f} s = {t['tune_s'] / t['full_s']:.2f}×, "
        f"cost {t['cost']:.2f} runs, lr {t['lr']}.",
        f"Median wall ratio (JAX): {statistics.median(c['wall_ratio'] for c in cells):.2f}×.",
        *_one_line(result.get("one_at_a_time")),
        f"\n({result['seconds']:.0f} s)",
    ]
    return "\n".join(lines)


def _one_line(o: dict[str, Any] | None) -> list[str]:
    if o is None:
        return []
    return [
        f"JAX, {o['task']}, SGD-momentum, fixed, {o['seeds']} seed(s): tune_lr (each rung one vmapped "
        f"program) {fmt_time(o['tune_s'], 's')} against the same sweep and rungs one member at a time "
        f"{fmt_time(o['one_at_a_time_s'], 's')}: {fmt_ratio(o['ratio'])}."
    ]


#: ``python -m benchmarks.tune``: this section alone.
main = section_command(__doc__, run, table, quick_help="one cell, 1 seed (under a minute)")


if __name__ == "__main__":
    sys.exit(main())
