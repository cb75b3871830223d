"""The LR finder's cost, side by side in one run: each finder against a bare training loop on
the same model and data, and the torch finder against ``torch-lr-finder``.

    python -m benchmarks.finder [--quick]

Rows (time per iteration, medians over interleaved repeats with min–max; ratios are formed
per repeat, so a slow spell hits both sides alike):

* JAX finder (in-memory arrays: one jitted while-loop) vs a bare jitted training step
  called from a Python loop on pre-sliced device batches — target ≤ 1.15×; the finder's
  host-loop path, given the same list of device batches as an iterable — target ≤ 1.1×.
* torch finder vs a bare torch loop (``zero_grad``/forward/``backward``/``step`` over the
  same loader) — target ≤ 1.02×.
* torch finder vs itself with the tracker it had before
  (:class:`~lrsched_jax.core.finder.loop.HostTracker` replaced by
  :func:`~lrsched_jax.core.finder.sweep.tracker_step` on NumPy scalars every step) — no
  target: what the float64 shadow saves, measured side by side.
* torch finder vs ``torch-lr-finder`` (``LRFinder(...)``, ``range_test``, ``reset()``: its
  snapshot, sweep and restore, like ours) on the same model and loader — target ≤ 1×.
  ``torch-lr-finder`` is not a dependency (``pip install "lrtwin[bench]"`` or
  ``pip install torch-lr-finder --no-deps``); without it the row says so and is skipped.

Model: an MLP 784-256-256-10 with cross-entropy on synthetic MNIST-sized data (batch 64),
SGD with momentum 0.9; the sweep (1e-5 → 0.1) never diverges, so every contender runs the
same number of updates. Finder timings include everything a call does (argument checks,
state snapshot and restore, the sweep, the suggestions); the JAX finder is timed after one
warm-up call has compiled its program, as the bare step is after its warm-up.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from flax import nnx

import lrsched_jax as lrs
import lrsched_torch
import lrsched_torch.finder as torch_finder
from benchmarks._common import section_command
from lrsched_jax.core.finder.sweep import tracker_init, tracker_step
from lrtwin.models import flax_mlp, torch_mlp

N_SAMPLES, BATCH, SIZES = 4096, 64, (784, 256, 256, 10)
SWEEP = {"start_lr": 1e-5, "end_lr": 0.1}

TARGETS = {
    "jax_vs_bare_step": 1.15,
    "jax_host_loop_vs_bare_step": 1.1,
    "torch_vs_bare_loop": 1.02,
    "torch_vs_torch_lr_finder": 1.0,
}


# --- timing helpers ----------------------------------------------------------------------


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _interleaved(groups: list[dict[str, Callable[[], float]]], repeats: int) -> dict[str, list[float]]:
    """Each contender once per repeat; within a group (what a ratio compares) back to back
    in rotating order, so both sides of a ratio see the same spell of machine load.
    Each contender returns seconds per iteration."""
    out: dict[str, list[float]] = {n: [] for g in groups for n in g}
    for r in range(repeats):
        for group in groups:
            names = list(group)
            for name in names[r % len(names) :] + names[: r % len(names)]:
                gc.collect()
                gc.disable()
                try:
                    out[name].append(group[name]())
                finally:
                    gc.enable()
    return out


def _ratio(times: dict[str, list[float]], num: str, den: str) -> dict[str, float]:
    return _spread([a / b for a, b in zip(times[num], times[den])])


# --- data and models ---------------------------------------------------------------------


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_SAMPLES, SIZES[0])).astype(np.float32)
    w = rng.normal(size=(SIZES[0], SIZES[-1])).astype(np.float32) / np.sqrt(SIZES[0])
    y = np.argmax(x @ w + 0.5 * rng.normal(size=(N_SAMPLES, SIZES[-1])), axis=1).astype(np.int32)
    return x, y


def jax_loss(model: Any, batch: Any) -> jax.Array:
    x, y = batch
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def jax_sgd(lr: Any) -> optax.GradientTransformation:
    return optax.sgd(lr, momentum=0.9)


def torch_loader(x: np.ndarray, y: np.ndarray) -> torch.utils.data.DataLoader:
    """Whole batches by one fancy index each (no per-sample collation), for every contender."""
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)))
    sampler = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(ds), BATCH, drop_last=True)
    return torch.utils.data.DataLoader(ds, sampler=sampler, batch_size=None)


# --- contenders --------------------------------------------------------------------------


def _jax_contenders(num_iter: int) -> dict[str, Callable[[], float]]:
    x, y = _data()
    xd, yd = jnp.asarray(x), jnp.asarray(y)
    model = flax_mlp(SIZES, rngs=0)
    nb = N_SAMPLES // BATCH
    batches = [(xd[i * BATCH : (i + 1) * BATCH], yd[i * BATCH : (i + 1) * BATCH]) for i in range(nb)]
    graphdef, params0, rest0 = nnx.split(model, nnx.Param, ...)
    tx = jax_sgd(0.01)

    @jax.jit
    def step(params: Any, rest: Any, opt_state: Any, batch: Any) -> Any:
        def objective(p: Any) -> Any:
            m = nnx.merge(graphdef, p, jax.tree.map(lambda a: a, rest))
            return jax_loss(m, batch), nnx.split(m, nnx.Param, ...)[2]

        (loss, rest), grads = jax.value_and_grad(objective, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), rest, opt_state, loss

    def bare() -> float:
        params, rest, opt_state = params0, rest0, tx.init(params0)
        t0 = time.perf_counter()
        for k in range(num_iter):
            params, rest, opt_state, loss = step(params, rest, opt_state, batches[k % nb])
        jax.block_until_ready(loss)
        return (time.perf_counter() - t0) / num_iter

    kw = dict(SWEEP, num_iter=num_iter, diverge_factor=1e30)

    def finder() -> float:
        t0 = time.perf_counter()
        res = lrs.find_lr(model, jax_sgd, (xd, yd), loss_fn=jax_loss, batch_size=BATCH, **kw)
        return (time.perf_counter() - t0) / (res.stop_step + 1)

    def finder_host_loop() -> float:
        t0 = time.perf_counter()
        res = lrs.find_lr(model, jax_sgd, batches, loss_fn=jax_loss, **kw)
        return (time.perf_counter() - t0) / (res.stop_step + 1)

    for warm in (bare, finder, finder_host_loop):  # compile everything first
        warm()
    return {"jax_bare_step": bare, "jax_finder": finder, "jax_finder_host_loop": finder_host_loop}


def _torch_lr_finder() -> Any:
    try:
        from torch_lr_finder import LRFinder
    except ImportError:
        return None
    return LRFinder


class _NumpyTracker:
    """The torch finder's tracker before :class:`HostTracker`: :func:`tracker_step` on NumPy
    scalars at every step (the same codes and curves)."""

    def __init__(self, float64: bool, divisors: list[float] | None, factor: float) -> None:
        self.dt = np.float64 if float64 else np.float32
        self.state, self.divisors, self.factor = tracker_init(np, self.dt), divisors, factor
        self.losses: list[Any] = []
        self.smoothed: list[Any] = []

    def advance(self, value: float) -> int:
        dt, k = self.dt, len(self.losses)
        loss = dt(value)
        div = None if self.divisors is None else dt(self.divisors[k])
        self.state, code = tracker_step(self.state, loss, div, self.factor)
        self.losses.append(loss)
        self.smoothed.append(self.state.smoothed)
        return int(code)

    def curves(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.losses, dtype=np.float64), np.asarray(self.smoothed, dtype=np.float64)


def _torch_contenders(num_iter: int) -> tuple[dict[str, Callable[[], float]], str | None]:
    x, y = _data()
    loader = torch_loader(x, y)
    torch.manual_seed(0)
    model = torch_mlp(SIZES)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crit = torch.nn.CrossEntropyLoss()

    def bare() -> float:
        it = iter(loader)
        t0 = time.perf_counter()
        for _ in range(num_iter):
            try:
                xb, yb = next(it)
            except StopIteration:
                it = iter(loader)
                xb, yb = next(it)
            opt.zero_grad(set_to_none=True)
            crit(model(xb), yb).backward()
            opt.step()
        return (time.perf_counter() - t0) / num_iter

    def finder() -> float:
        t0 = time.perf_counter()
        res = lrsched_torch.find_lr(
            model, opt, loader, criterion=crit, num_iter=num_iter, diverge_factor=1e30, **SWEEP
        )
        return (time.perf_counter() - t0) / (res.stop_step + 1)

    def finder_numpy_tracker() -> float:
        ours = torch_finder.HostTracker
        torch_finder.HostTracker = _NumpyTracker  # type: ignore[misc,assignment]
        try:
            return finder()
        finally:
            torch_finder.HostTracker = ours  # type: ignore[misc]

    contenders: dict[str, Callable[[], float]] = {
        "torch_bare_loop": bare,
        "torch_finder": finder,
        "torch_finder_numpy_tracker": finder_numpy_tracker,
    }
    LRFinder = _torch_lr_finder()
    if LRFinder is None:
        return (
            contenders,
            "torch-lr-finder not installed (pip install torch-lr-finder --no-deps): row skipped",
        )

    def theirs() -> float:
        sink = io.StringIO()
        old = os.environ.get("TQDM_DISABLE")
        os.environ["TQDM_DISABLE"] = "1"  # it always shows a bar; ours has none by default
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                t0 = time.perf_counter()
                finder = LRFinder(model, opt, crit, device="cpu")
                finder.range_test(
                    loader, num_iter=num_iter, step_mode="exp", diverge_th=1e30, **SWEEP
                )  # its own snapshot (in memory), sweep ...
                finder.reset()  # ... and restore: what one call of ours does
                elapsed = time.perf_counter() - t0
        finally:
            if old is None:
                os.environ.pop("TQDM_DISABLE", None)
            else:
                os.environ["TQDM_DISABLE"] = old
        return elapsed / len(finder.history["lr"])

    contenders["torch_lr_finder"] = theirs
    return contenders, None


# --- the run -----------------------------------------------------------------------------


def run(quick: bool = False) -> dict[str, Any]:
    """Measure every row; returns per-iteration times, ratios and the targets."""
    num_iter, repeats = (40, 3) if quick else (200, 25)
    jax_side = _jax_contenders(num_iter)
    torch_side, skipped = _torch_contenders(num_iter)
    for fn in torch_side.values():
        fn()  # warm-up
    times = _interleaved([jax_side, torch_side], repeats)
    ratios = {
        "jax_vs_bare_step": _ratio(times, "jax_finder", "jax_bare_step"),
        "jax_host_loop_vs_bare_step": _ratio(times, "jax_finder_host_loop", "jax_bare_step"),
        "torch_vs_bare_loop": _ratio(times, "torch_finder", "torch_bare_loop"),
    }
    ratios["torch_host_tracker_vs_numpy_tracker"] = _ratio(
        times, "torch_finder", "torch_finder_numpy_tracker"
    )
    if "torch_lr_finder" in times:
        ratios["torch_vs_torch_lr_finder"] = _ratio(times, "torch_finder", "torch_lr_finder")
    return {
        "model": f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, SGD momentum 0.9",
        "num_iter": num_iter,
        "repeats": repeats,
        "per_iteration_s": {k: _spread(v) for k, v in times.items()},
        "ratios": ratios,
        "targets": TARGETS,
        "met": {k: ratios[k]["median"] <= t for k, t in TARGETS.items() if k in ratios},
        "skipped": skipped,
        "devices": {"jax": str(jax.devices()[0]), "torch": "cpu", "torch_threads": torch.get_num_threads()},
    }


def table(result: dict[str, Any]) -> str:
    t = result["per_iteration_s"]

    def us(k: str) -> str:
        s = t[k]
        return f"{s['median'] * 1e6:.0f} µs ({s['min'] * 1e6:.0f}–{s['max'] * 1e6:.0f})"

    def ratio(k: str) -> str:
        r = result["ratios"][k]
        target = result["targets"].get(k)
        verdict = ""
        if target is not None:
            verdict = (" ✓" if r["median"] <= target else " ✗") + f" (target ≤ {target}×)"
        return f"{r['median']:.3f}× ({r['min']:.3f}–{r['max']:.3f}){verdict}"

    rows = [
        ("JAX finder, in-memory (one jitted loop)", "jax_finder", "bare jitted step", "jax_vs_bare_step"),
        (
            "JAX finder, iterable (host loop)",
            "jax_finder_host_loop",
            "bare jitted step",
            "jax_host_loop_vs_bare_step",
        ),
        ("torch finder", "torch_finder", "bare torch loop", "torch_vs_bare_loop"),
    ]
    lines = [
        f"{result['model']}; {result['num_iter']} iterations, {result['repeats']} interleaved repeats",
        "",
        "| finder | per iteration | baseline | baseline per iteration | finder / baseline |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    rows.append(
        (
            "torch finder",
            "torch_finder",
            "torch finder, NumPy tracker every step",
            "torch_host_tracker_vs_numpy_tracker",
        )
    )
    base_key = {
        "bare jitted step": "jax_bare_step",
        "bare torch loop": "torch_bare_loop",
        "torch finder, NumPy tracker every step": "torch_finder_numpy_tracker",
    }
    for name, key, base, rkey in rows:
        lines.append(f"| {name} | {us(key)} | {base} | {us(base_key[base])} | {ratio(rkey)} |")
    if "torch_vs_torch_lr_finder" in result["ratios"]:
        lines.append(
            f"| torch finder | {us('torch_finder')} | torch-lr-finder | {us('torch_lr_finder')} | "
            f"{ratio('torch_vs_torch_lr_finder')} |"
        )
    else:
        lines.append(f"| torch finder vs torch-lr-finder | — | — | — | {result['skipped']} |")
    return "\n".join(lines)


#: ``python -m benchmarks.finder``: this section alone.
main = section_command(__doc__, run, table, quick_help="40 iterations, 3 repeats (else 200, 25)")


if __name__ == "__main__":
    sys.exit(main())
