"""Suggestion quality: does the finder's lr train well? Each rule against a half-decade grid.

    python -m benchmarks.suggestions [--quick]

Seven tasks of different kinds, all in JAX (the finder's decisions are framework-neutral: the
float64 parity tests show the torch driver stops at the same step with the same suggestion
under every rule):

* ``digits-mlp`` — the demo's MLP 64-128-10 on scikit-learn's 8×8 digits, validation accuracy;
* ``digits-cnn`` — two 3×3 convolutions and a dense layer on the same digits, accuracy;
* ``diabetes`` — an MLP 10-64-1 regressing scikit-learn's diabetes progression (features and
  target standardised), validation MSE;
* ``char-lm`` — a character-level language model (an MLP over the one-hot previous 8
  characters) on Python's own ``argparse.py`` source, validation cross-entropy;
* ``cancer-logreg`` — logistic regression on scikit-learn's breast-cancer data, accuracy;
* held out — added after the default was chosen on the five above, to check it on data it
  never saw: ``synthetic-4class`` (an MLP 20-64-64-4 on ``make_classification``, 4 classes,
  accuracy) and ``friedman1`` (an MLP 10-64-64-1 regressing ``make_friedman1``, MSE). They
  are summarised apart.

Each task × optimizer (SGD with momentum 0.9, AdamW with weight decay 1e-2) runs the finder
(defaults: 1e-7 → 10 over 100 steps, the training batches shuffled) once per seed on that
seed's initialisation, then trains — with each rule's suggestion, and with every lr of a
half-decade grid (1e-5 … 10) — for the same number of updates, the lr used as a **fixed** lr
and as the peak of a **one-cycle** schedule; 3 seeds (``--quick``: 2, shorter training and
5 shuffles: 5 minutes on 2 shared CPU cores; the full run 11). All runs of a task ×
optimizer × schedule are one jitted program, vmapped over (lr, seed). The *grid's best* is
the grid lr with the best mean validation metric; per rule the table gives the suggestion
(geometric mean over seeds), its distance in decades from the grid's best, the **regret**
(the grid's best metric minus the rule's mean: accuracy points, or the relative excess loss
for the loss tasks) and the **spread**: max/min of the suggestion over 10 data shuffles of the
finder on one initialisation. A run that diverges scores what knowing nothing scores (the
majority class; the constant predictor's loss), so every figure stays finite. Two
``suggest-fixed`` is ``res.suggest("fixed")`` (the default rule's lr / √10), trained beside
the rules. The default *as documented* is ``res.suggest("fixed")`` for a fixed lr and
``res.suggest("one_cycle")`` (the default rule's lr itself) for a one-cycle peak.

Targets per task (✓/✗, on the default as documented): within 0.5 decade of the grid's best,
regret ≤ 1 point of accuracy (≤ 5 % relative loss), spread ≤ 2×.
"""

from __future__ import annotations

import functools
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import lrsched_jax as lrs
from benchmarks._common import section_command
from lrsched_jax.core.finder import RULES
from lrtwin import models

#: Trained beside the rules: ``res.suggest("fixed")`` (the default rule's lr / √10).
CANDIDATES = ("suggest-fixed",)
#: The default as documented: ``res.suggest(usage)`` for each schedule.
USAGE = {"fixed": "suggest-fixed", "one-cycle": "halfway"}
GRID = [10 ** (k / 2) for k in range(-10, 3)]  # 1e-5 ... 10, half a decade apart
SHUFFLES = 10  # --quick: QUICK_SHUFFLES
QUICK_SHUFFLES = 5
WEIGHT_DECAY = 1e-2
MOMENTUM = 0.9
TARGET_DECADES, TARGET_POINTS, TARGET_REL, TARGET_SPREAD = 0.5, 1.0, 0.05, 2.0


@dataclass(frozen=True)
class Task:
    name: str
    kind: str  # "accuracy" (higher is better) or "loss" (lower is better)
    data: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    model: Callable[[int], Any]
    loss: Callable[[Any, Any], Any]  # (model, (x, y)) -> scalar
    metric: Callable[[Any, Any, Any], Any]  # (model, x, y) -> scalar
    batch: int
    steps: int
    quick_steps: int
    what: str
    #: Not among the tasks the default was chosen on: a check of it on data it never saw.
    held_out: bool = False


def _ce(m: Any, b: Any) -> Any:
    return optax.softmax_cross_entropy_with_integer_labels(m(b[0]), b[1]).mean()


def _acc(m: Any, x: Any, y: Any) -> Any:
    return jnp.mean(jnp.argmax(m(x), axis=-1) == y)


def _mse(m: Any, b: Any) -> Any:
    return jnp.mean((m(b[0])[:, 0] - b[1]) ** 2)


def _mse_metric(m: Any, x: Any, y: Any) -> Any:
    return _mse(m, (x, y))


def _ce_metric(m: Any, x: Any, y: Any) -> Any:
    return _ce(m, (x, y))


@functools.cache
def _digits() -> tuple[np.ndarray, ...]:
    from lrtwin.demo.data import load_digits

    d = load_digits()
    return d.x_train, d.y_train.astype(np.int32), d.x_val, d.y_val.astype(np.int32)


def _split(x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, ...]:
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = round(0.2 * len(x))
    va, tr = order[:n_val], order[n_val:]
    mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-8
    return ((x[tr] - mu) / sd).astype(np.float32), y[tr], ((x[va] - mu) / sd).astype(np.float32), y[va]


@functools.cache
def _diabetes() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    xt, yt, xv, yv = _split(d.data, d.target)
    mu, sd = yt.mean(), yt.std()
    return xt, ((yt - mu) / sd).astype(np.float32), xv, ((yv - mu) / sd).astype(np.float32)


@functools.cache
def _cancer() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    xt, yt, xv, yv = _split(d.data, d.target)
    return xt, yt.astype(np.int32), xv, yv.astype(np.int32)


@functools.cache
def _blobs() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=3000,
        n_features=20,
        n_informative=8,
        n_redundant=4,
        n_classes=4,
        n_clusters_per_class=2,
        class_sep=1.0,
        flip_y=0.02,
        random_state=0,
    )
    xt, yt, xv, yv = _split(x, y)
    return xt, yt.astype(np.int32), xv, yv.astype(np.int32)


@functools.cache
def _friedman() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
    xt, yt, xv, yv = _split(x, y)
    mu, sd = yt.mean(), yt.std()
    return xt, ((yt - mu) / sd).astype(np.float32), xv, ((yv - mu) / sd).astype(np.float32)


CONTEXT, VOCAB = 8, 97  # printable ASCII (95) + newline + "other"


@functools.cache
def _chars() -> tuple[np.ndarray, ...]:
    import argparse

    text = Path(argparse.__file__).read_text(encoding="utf-8")[:60000]
    codes = np.array([ord(c) for c in text])
    ids = np.where((codes >= 32) & (codes < 127), codes - 32, np.where(codes == 10, 95, 96)).astype(np.int32)
    win = np.lib.stride_tricks.sliding_window_view(ids, CONTEXT + 1)
    cut = int(0.8 * len(win))
    # Validation windows do not overlap the training text.
    tr, va = win[:cut], win[cut + CONTEXT :][::4]
    return tr[:, :CONTEXT], tr[:, CONTEXT], va[:, :CONTEXT], va[:, CONTEXT]


class _OneHot(nnx.Module):
    """The previous characters, one-hot and concatenated, into an MLP."""

    def __init__(self, seed: int) -> None:
        self.mlp = models.flax_mlp((CONTEXT * VOCAB, 128, VOCAB), rngs=seed)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.mlp(jax.nn.one_hot(x, VOCAB).reshape(x.shape[0], -1))


def _patches(h: jax.Array) -> jax.Array:
    """The 3×3 "same"-padded neighbourhoods of every pixel, ``(n, 8, 8, 9 * channels)``."""
    p = jnp.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return jnp.concatenate([p[:, i : i + 8, j : j + 8, :] for i in range(3) for j in range(3)], axis=-1)


class _CNN(nnx.Module):
    """:func:`lrtwin.models.flax_cnn`'s network (3×3 convolutions to 16 and 32 channels, ReLU,
    a dense layer to 10 classes), each convolution written as a dense layer over the pixel's
    3×3 patch: the same function, and under ``vmap`` a batched matrix product (XLA's CPU
    convolution does not batch over many parameter sets well: 11× slower at 8 sets)."""

    def __init__(self, seed: int) -> None:
        rngs = nnx.Rngs(seed)
        self.c1 = nnx.Linear(9, 16, rngs=rngs)
        self.c2 = nnx.Linear(9 * 16, 32, rngs=rngs)
        self.out = nnx.Linear(32 * 64, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = x.reshape(x.shape[0], 8, 8, 1)
        h = jax.nn.relu(self.c2(_patches(jax.nn.relu(self.c1(_patches(h))))))
        return self.out(h.reshape(h.shape[0], -1))


TASKS = [
    Task(
        "digits-mlp",
        "accuracy",
        _digits,
        lambda s: models.flax_mlp((64, 128, 10), rngs=s),
        _ce,
        _acc,
        32,
        450,
        180,
        "MLP 64-128-10, digits",
    ),
    Task(
        "digits-cnn",
        "accuracy",
        _digits,
        _CNN,
        _ce,
        _acc,
        32,
        225,
        90,
        "2 conv + dense, digits",
    ),
    Task(
        "diabetes",
        "loss",
        _diabetes,
        lambda s: models.flax_mlp((10, 64, 1), rngs=s),
        _mse,
        _mse_metric,
        32,
        330,
        165,
        "MLP 10-64-1, diabetes (MSE)",
    ),
    Task(
        "char-lm",
        "loss",
        _chars,
        _OneHot,
        _ce,
        _ce_metric,
        64,
        400,
        160,
        "char MLP LM, argparse.py (CE)",
    ),
    Task(
        "cancer-logreg",
        "accuracy",
        _cancer,
        lambda s: models.flax_mlp((30, 2), rngs=s),
        _ce,
        _acc,
        32,
        280,
        140,
        "logistic regression, breast cancer",
    ),
    Task(
        "synthetic-4class",
        "accuracy",
        _blobs,
        lambda s: models.flax_mlp((20, 64, 64, 4), rngs=s),
        _ce,
        _acc,
        32,
        300,
        150,
        "MLP 20-64-64-4, scikit-learn make_classification (held out)",
        held_out=True,
    ),
    Task(
        "friedman1",
        "loss",
        _friedman,
        lambda s: models.flax_mlp((10, 64, 64, 1), rngs=s),
        _mse,
        _mse_metric,
        32,
        300,
        150,
        "MLP 10-64-64-1, scikit-learn make_friedman1 (MSE, held out)",
        held_out=True,
    ),
]

OPTIMIZERS: dict[str, tuple[Callable[[Any], optax.GradientTransformation], optax.GradientTransformation]] = {
    # (the finder's factory, the same update without its final ``-lr`` scaling)
    "sgd-momentum": (
        lambda lr: optax.sgd(lr, momentum=MOMENTUM),
        optax.trace(decay=MOMENTUM),
    ),
    "adamw": (
        lambda lr: optax.adamw(lr, weight_decay=WEIGHT_DECAY),
        optax.chain(optax.scale_by_adam(), optax.add_decayed_weights(WEIGHT_DECAY)),
    ),
}


def _trivial(task: Task, y_train: np.ndarray, y_val: np.ndarray) -> float:
    """What knowing nothing scores: the majority class's accuracy, the constant predictor's loss."""
    if task.kind == "accuracy":
        return float(np.mean(y_val == np.bincount(y_train).argmax()))
    if task.metric is _mse_metric:
        return float(np.mean((y_val - y_train.mean()) ** 2))
    p = np.bincount(y_train, minlength=VOCAB) + 1.0
    p /= p.sum()
    return float(-np.mean(np.log(p[y_val])))


def _train_program(graphdef: Any, task: Task, core: optax.GradientTransformation, steps: int) -> Any:
    """One jitted program: train every (params, lr, seed) config for ``steps`` updates at
    ``lr * shape[t]`` on the seed's batches and return its validation metric."""

    def one(params: Any, lr: Any, seed: Any, shape: Any, index: Any, data: Any) -> Any:
        x, y, xv, yv = data
        opt_state = core.init(params)

        def step(carry: Any, t: Any) -> Any:
            p, st = carry
            b = index[seed, t]
            grads = jax.grad(lambda q: task.loss(nnx.merge(graphdef, q), (x[b], y[b])))(p)
            upd, st = core.update(grads, st, p)
            rate = lr * shape[t]
            return (jax.tree.map(lambda a, u: a - rate * u, p, upd), st), None

        (params, _), _ = jax.lax.scan(step, (params, opt_state), jnp.arange(steps))
        return task.metric(nnx.merge(graphdef, params), xv, yv)

    return jax.jit(jax.vmap(one, in_axes=(0, 0, 0, None, None, None)))


def _batches(n: int, batch: int, steps: int, seed: int) -> np.ndarray:
    """``(steps, batch)`` sample indices: epochs in fresh permutations (incomplete batches dropped)."""
    rng = np.random.default_rng(10_000 + seed)
    per = n // batch
    epochs = [rng.permutation(n)[: per * batch].reshape(per, batch) for _ in range(-(-steps // per))]
    return np.concatenate(epochs)[:steps].astype(np.int32)


def _choices(res: Any) -> dict[str, float]:
    """Every rule's suggestion and the candidates' lrs, from one finder result."""
    out = {r: float(v) for r, v in res.suggestions.items() if v is not None}
    fixed = res.suggest("fixed")
    if fixed is not None:
        out["suggest-fixed"] = float(fixed)
    return out


def _geomean(values: list[float]) -> float:
    return float(math.exp(statistics.fmean(math.log(v) for v in values)))


def run_task(task: Task, quick: bool) -> dict[str, Any]:
    x, y, xv, yv = task.data()
    seeds = [0, 1] if quick else [0, 1, 2]
    steps = task.quick_steps if quick else task.steps
    trivial = _trivial(task, y, yv)
    data = tuple(jnp.asarray(a) for a in (x, y, xv, yv))
    index = jnp.asarray(np.stack([_batches(len(x), task.batch, steps, s) for s in seeds]))
    shapes = {"fixed": np.ones(steps), "one-cycle": lrs.one_cycle(1.0, steps).curve(steps)}
    out: dict[str, Any] = {
        "task": task.name,
        "what": task.what,
        "kind": task.kind,
        "steps": steps,
        "held_out": task.held_out,
    }
    for opt_name, (factory, core) in OPTIMIZERS.items():
        t0 = time.perf_counter()
        # The finder: once per training seed (its own init and shuffle), and over SHUFFLES
        # data orders on seed 0's initialisation for the spread.
        per_seed, curves = [], []
        for s in seeds:
            res = lrs.find_lr(
                task.model(s),
                factory,
                task.loss,
                (x, y),
                batch_size=task.batch,
                shuffle_key=jax.random.key(s),
            )
            per_seed.append(_choices(res))
            curves.append(res.to_dict())
        shuffled = [
            lrs.find_lr(
                task.model(0),
                factory,
                task.loss,
                (x, y),
                batch_size=task.batch,
                shuffle_key=jax.random.key(100 + r),
            )
            for r in range(1, QUICK_SHUFFLES if quick else SHUFFLES)
        ]
        spread_runs = [per_seed[0]] + [_choices(res) for res in shuffled]
        names = [n for n in (*RULES, *CANDIDATES) if all(n in c for c in per_seed)]
        spread = {
            n: max(c[n] for c in spread_runs) / min(c[n] for c in spread_runs)
            for n in names
            if all(n in c for c in spread_runs)
        }
        t_find = time.perf_counter() - t0
        # Every config of this task × optimizer: the grid, then each rule per seed.
        configs = [(lr, i) for lr in GRID for i in range(len(seeds))]
        configs += [(per_seed[i][n], i) for n in names for i in range(len(seeds))]
        graphdef, _ = nnx.split(task.model(0))
        inits = [nnx.split(task.model(s))[1] for s in seeds]
        params = jax.tree.map(lambda *a: jnp.stack(a), *[inits[i] for _, i in configs])
        lr_arr = jnp.asarray([lr for lr, _ in configs], jnp.float32)
        seed_arr = jnp.asarray([i for _, i in configs], jnp.int32)
        program = _train_program(graphdef, task, core, steps)
        by_sched: dict[str, Any] = {}
        t1 = time.perf_counter()
        for sched, shape in shapes.items():
            metric = np.asarray(
                program(params, lr_arr, seed_arr, jnp.asarray(shape, jnp.float32), index, data)
            )
            worse = (metric < trivial) if task.kind == "accuracy" else ~(metric < trivial)
            metric = np.where(~np.isfinite(metric) | worse, trivial, metric).astype(float)
            ns = len(seeds)
            grid_mean = [float(np.mean(metric[g * ns : (g + 1) * ns])) for g in range(len(GRID))]
            pick = int(np.argmax(grid_mean) if task.kind == "accuracy" else np.argmin(grid_mean))
            best = grid_mean[pick]
            rules: dict[str, Any] = {}
            base = len(GRID) * ns
            for j, n in enumerate(names):
                got = float(np.mean(metric[base + j * ns : base + (j + 1) * ns]))
                lr = _geomean([per_seed[i][n] for i in range(ns)])
                regret = 100 * (best - got) if task.kind == "accuracy" else (got - best) / best
                rules[n] = {
                    "lr": lr,
                    "lrs": [per_seed[i][n] for i in range(ns)],
                    "decades": math.log10(lr / GRID[pick]),
                    "metric": got,
                    "regret": regret,
                    "spread": spread.get(n),
                }
            by_sched[sched] = {
                "grid": grid_mean,
                "best_lr": GRID[pick],
                "best": best,
                "trivial": trivial,
                "rules": rules,
            }
        out[opt_name] = {
            # The sweeps themselves (FinderResult.to_dict): a rule can be re-scored offline.
            "finder_runs": {"seeds": curves, "shuffles": [res.to_dict() for res in shuffled]},
            "finder_s": t_find,
            "train_s": time.perf_counter() - t1,
            "configs": len(configs),
            **by_sched,
        }
        print(
            f"  {task.name} / {opt_name}: finder {t_find:.0f} s, training {len(configs)} configs × 2 "
            f"schedules {time.perf_counter() - t1:.0f} s",
            flush=True,
        )
    return out


def meets(kind: str, r: dict[str, Any]) -> dict[str, bool]:
    """The three targets for one rule's row."""
    limit = TARGET_POINTS if kind == "accuracy" else TARGET_REL
    return {
        "decades": abs(r["decades"]) <= TARGET_DECADES,
        "regret": r["regret"] <= limit,
        "spread": r["spread"] is not None and r["spread"] <= TARGET_SPREAD,
    }


def summary(tasks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per rule (and per schedule): how many cells meet all targets, the mean |decades|,
    the worst regret and the worst spread."""
    out: dict[str, dict[str, Any]] = {}
    for sched in ("fixed", "one-cycle"):
        rows: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for t in tasks:
            for opt in OPTIMIZERS:
                rules = t[opt][sched]["rules"]
                for n, r in rules.items():
                    rows.setdefault(n, []).append((t["kind"], r))
                if USAGE[sched] in rules:
                    rows.setdefault("default as documented", []).append((t["kind"], rules[USAGE[sched]]))
        out[sched] = {
            n: {
                "all_targets": sum(all(meets(k, r).values()) for k, r in rs),
                "cells": len(rs),
                "mean_abs_decades": statistics.fmean(abs(r["decades"]) for _, r in rs),
                "acc_regret_max": max((r["regret"] for k, r in rs if k == "accuracy"), default=0.0),
                "loss_regret_max": max((r["regret"] for k, r in rs if k == "loss"), default=0.0),
                "spread_max": max((r["spread"] or math.inf) for _, r in rs),
            }
            for n, rs in rows.items()
        }
    return out


def run(quick: bool = False) -> dict[str, Any]:
    t0 = time.perf_counter()
    tasks = [run_task(t, quick) for t in TASKS]
    return {
        "tasks": tasks,
        "summary": summary([t for t in tasks if not t["held_out"]]),
        "held_out_summary": summary([t for t in tasks if t["held_out"]]),
        "default": _default(),
        "shuffles": QUICK_SHUFFLES if quick else SHUFFLES,
        "seconds": time.perf_counter() - t0,
    }


def _default() -> str:
    from lrsched_jax.core.finder import DEFAULTS

    return str(DEFAULTS["suggestion"])


def regret_text(kind: str, v: float | None) -> str:
    """A regret as the tables print it: accuracy points, or percent of the loss ("—": none)."""
    if v is None:
        return "—"
    return f"{v:+.1f} pt" if kind == "accuracy" else f"{100 * v:+.1f} %"


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def table(result: dict[str, Any]) -> str:
    default = result["default"]
    lines = [
        f'Default rule: `{default}`, used as documented: `res.suggest("one_cycle")` (its lr) as a '
        'one-cycle peak, `res.suggest("fixed")` (its lr / √10, the `suggest-fixed` column) as a '
        f"fixed lr. Targets for it per task: within {TARGET_DECADES} decade of the "
        f"grid's best, regret ≤ {TARGET_POINTS:g} point of accuracy (≤ {100 * TARGET_REL:g} % "
        f"relative loss), spread ≤ {TARGET_SPREAD:g}× over {result['shuffles']} shuffles. lr: geometric mean "
        "over seeds; Δ: decades from the grid's best; regret: grid's best − the rule's mean.",
        "",
        "| task | optimizer | schedule | grid best (lr → metric) | "
        + " | ".join(f"`{n}` lr / Δ / regret / spread" for n in (*RULES, *CANDIDATES))
        + " | default as documented ✓/✗ (Δ, regret, spread) |",
        "|" + "---|" * (5 + len(RULES) + len(CANDIDATES)),
    ]
    for t in result["tasks"]:
        for opt in OPTIMIZERS:
            for sched in ("fixed", "one-cycle"):
                cell = t[opt][sched]
                name = t["task"] + (" (held out)" if t["held_out"] else "")
                row = [name, opt, sched, f"{cell['best_lr']:.3g} → {cell['best']:.4g}"]
                for n in (*RULES, *CANDIDATES):
                    r = cell["rules"].get(n)
                    if r is None:
                        row.append("—")
                        continue
                    sp = "—" if r["spread"] is None else f"{r['spread']:.2f}×"
                    row.append(
                        f"{r['lr']:.2g} / {r['decades']:+.1f} / {regret_text(t['kind'], r['regret'])} / {sp}"
                    )
                d = cell["rules"].get(USAGE[sched])
                row.append(" ".join(_mark(v) for v in meets(t["kind"], d).values()) if d else "—")
                lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "Per rule over all task × optimizer cells: cells meeting all three targets, mean |Δ| "
        "(decades), worst accuracy regret (points), worst relative loss regret, worst spread.",
        "",
        "| rule | schedule | all targets | mean abs Δ | worst acc regret | worst loss regret "
        "| worst spread |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, which in (("summary", "the tasks the default was chosen on"), ("held_out_summary", "held out")):
        for sched, rules in result[key].items():
            for n, s in rules.items():
                lines.append(
                    f"| `{n}` ({which}) | {sched} | {s['all_targets']}/{s['cells']} | "
                    f"{s['mean_abs_decades']:.2f} | {s['acc_regret_max']:.1f} | "
                    f"{100 * s['loss_regret_max']:.1f} % | {s['spread_max']:.2f}× |"
                )
    lines.append(f"\n({result['seconds']:.0f} s)")
    return "\n".join(lines)


#: ``python -m benchmarks.suggestions``: this section alone.
main = section_command(__doc__, run, table, quick_help="2 seeds and shorter training (else 3 seeds)")


if __name__ == "__main__":
    sys.exit(main())
