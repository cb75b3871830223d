"""``lrtwin tune``: which lr? :func:`lrsched_jax.tune_lr` (or :func:`lrsched_torch.tune_lr`) on
the digits — the demo's MLP (64 → 128 → 10), each seed's initial weights drawn with NumPy
(:func:`lrtwin.compare.numpy_weights`, the same numbers in both frameworks), batches of 32 in
the arena's order, 44 updates per epoch.

It prints the choice, its cost in full runs and every trial (each candidate's validation
accuracy after each rung); ``--grid`` also trains the half-decade grid (1e-5 … 10) to the
full run from the same seeds and prints the tuned lr's regret against the grid's best.

Outputs, in ``--out``: ``tune.json`` (the result's ``to_dict()``, and the grid with
``--grid``) and ``tune.png`` (the accuracy against the lr per rung, the choice and the
sweep's suggestion marked). The folder must be new, empty, or one an earlier ``lrtwin tune``
wrote (its manifest ``.lrtwin-tune.json`` lists what it wrote): nothing else is replaced.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrsched_jax.core.arena import strict_json
from lrsched_jax.core.schedule import Schedule
from lrsched_jax.core.validate import place
from lrtwin.compare import BATCH, OPTIMIZERS, _bar, _optimizers, flax_mlp, numpy_weights
from lrtwin.demo.data import load_digits
from lrtwin.demo.outputs import OutputDir

__all__ = ["GRID", "MANIFEST", "OUTPUTS", "SCHEDULES", "run_tune"]

MANIFEST = ".lrtwin-tune.json"
OUTPUTS = ("tune.json", "tune.png")
GRID = [10 ** (k / 2) for k in range(-10, 3)]  # 1e-5 ... 10, half a decade apart
SCHEDULES = ("fixed", "one-cycle", "cosine", "warmup-cosine")


class _Folder(OutputDir):
    """The command's output folder (see the module docstring)."""

    command = "lrtwin tune"
    manifest = MANIFEST
    prefix = "lrtwin-tune"
    top_level = OUTPUTS


def schedule_factory(name: str, total: int) -> Callable[[float], Schedule]:
    """``peak -> Schedule`` for ``--schedule name`` over ``total`` updates."""
    import lrsched_jax.core as core

    if name == "fixed":
        return core.constant
    if name == "one-cycle":
        return lambda p: core.one_cycle(p, total)
    if name == "cosine":
        return lambda p: core.cosine(p, total)
    return lambda p: core.warmup_cosine(p, max(1, total // 10), total)


def _tuner(framework: str, optimizer: str, seeds: list[int], device: str) -> tuple[Any, dict[str, Any]]:
    """The framework's ``tune_lr``, ``compare`` and their digits keyword arguments."""
    data = load_digits()
    weights = {s: numpy_weights(s) for s in seeds}
    if framework == "jax":
        import lrsched_jax as lrs

        kw = {
            "model": lambda s: flax_mlp(weights[s]),
            "train": (data.x_train, data.y_train),
            "val": (data.x_val, data.y_val),
        }
        return lrs, {**kw, "optimizer": _optimizers(optimizer, "jax")}
    import torch

    import lrsched_torch as lt
    from lrtwin.devices import torch_device
    from lrtwin.models import torch_mlp_from

    where = torch_device(device)
    if where == "cpu":
        torch.set_num_threads(1)  # a small network: one thread is the fastest (as compare)
    kw = {
        "model": lambda s: torch_mlp_from(weights[s]),
        "train": (torch.from_numpy(data.x_train), torch.from_numpy(data.y_train).long()),
        "val": (torch.from_numpy(data.x_val), torch.from_numpy(data.y_val).long()),
    }
    return lt, {**kw, "optimizer": _optimizers(optimizer, "torch")}


def _grid(
    mod: Any, kw: dict[str, Any], make: Callable[[float], Schedule], epochs: int, seeds: list[int]
) -> Any:
    """Every grid lr trained to the full run: the mean final validation accuracy per lr."""
    args = {k: kw[k] for k in ("model", "optimizer", "train", "val")}
    scheds = {f"{lr:.3g}": make(lr) for lr in GRID}
    res = mod.compare(
        args["model"], args["optimizer"], args["train"], args["val"], scheds, seeds, epochs,
        batch_size=BATCH, eval_every=1437 // BATCH, **({"device": kw["device"]} if "device" in kw else {}),
    )  # fmt: skip
    acc = np.asarray([m.final_val_metric for m in res.members], dtype=float).reshape(len(GRID), len(seeds))
    # A diverged run scores what knowing nothing scores on the ten digits' classes.
    return np.where(np.isfinite(acc), acc, 0.1).mean(axis=1)


def _check(framework: str, optimizer: str, schedule: str, budget: float, epochs: int, seeds: int) -> None:
    if framework not in ("jax", "torch"):
        raise ValueError(f"--framework must be jax or torch, got {framework!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if not (isinstance(budget, float | int) and 0 < budget < math.inf):
        raise ValueError(f"--budget must be a positive number of full runs, got {budget!r}")
    for value, flag in ((epochs, "--epochs"), (seeds, "--seeds")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{flag} must be a whole number >= 1, got {value!r}")


def run_tune(
    *,
    out: str | Path | None = None,
    framework: str = "jax",
    schedule: str = "fixed",
    optimizer: str = "momentum",
    budget: float = 3.0,
    epochs: int = 10,
    seeds: int = 1,
    lrs: Sequence[float] | None = None,
    grid: bool = False,
    device: str = "cpu",
    progress: bool = True,
) -> int:
    """The command: tune, print the result (and the grid's regret), write the outputs; 0."""
    from lrsched_jax.core.tune import check_candidates, check_room
    from lrtwin.devices import check_device

    _check(framework, optimizer, schedule, budget, epochs, seeds)
    if lrs is not None:
        with place("--lrs"):
            lrs = check_candidates(lrs)
    check_device(device, (framework,))
    with place("lrtwin tune: --budget"):
        check_room(float(budget), epochs, 1437 // BATCH, 0 if lrs else 100)
    seed_list = list(range(seeds))
    make = schedule_factory(schedule, epochs * (1437 // BATCH))
    folder = _Folder.open(out)
    mod, kw = _tuner(framework, optimizer, seed_list, device)
    if framework == "torch":
        from lrtwin.devices import torch_device

        kw["device"] = torch_device(device)
    bar = _bar(0, f"{framework}: tune_lr", progress)

    def tick(stage: str, done: int, total: int) -> None:
        bar.set_description(f"{framework}: {stage}")
        bar.total = total
        bar.n = done
        bar.refresh()

    t0 = time.perf_counter()
    try:
        res = mod.tune_lr(
            **kw, epochs=epochs, batch_size=BATCH, seeds=seed_list, schedule=make, budget=budget, lrs=lrs,
            progress=tick,
        )  # fmt: skip
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    print(res.table())
    if len(seed_list) > 1:
        for t in res.trials:
            ms = ", ".join("—" if v is None else f"{v:.4f}" for v in t.metrics)
            print(f"  trial lr {t.lr:.4g} seed {t.seed}: {t.updates} updates, val acc per rung [{ms}]")
    print(f"chosen lr: {res.lr}; cost {res.cost:.2f} full runs of {res.full_updates} updates; {wall:.1f} s")
    doc: dict[str, Any] = {"command": "lrtwin tune", "optimizer": optimizer, "schedule_kind": schedule}
    doc.update(res.to_dict())
    if grid:
        doc["grid"] = _report_grid(mod, kw, make, epochs, seed_list, res)
    text = json.dumps(strict_json(doc), indent=1, allow_nan=False)
    folder.write("tune.json", lambda p: _write_text(p, text + "\n"))
    folder.write("tune.png", lambda p: _plot(res, p))
    print(f"wrote {folder.root / 'tune.json'} and {folder.root / 'tune.png'}")
    return 0


def _report_grid(
    mod: Any, kw: dict[str, Any], make: Callable[[float], Schedule], epochs: int, seeds: list[int], res: Any
) -> dict[str, Any]:
    """Train the grid, print it with the tuned lr's regret; the grid's record for tune.json."""
    t0 = time.perf_counter()
    acc = _grid(mod, kw, make, epochs, seeds)
    best = int(np.argmax(acc))
    print("\ngrid (full run, mean over seeds):")
    for g, a in zip(GRID, acc):
        print(f"  lr {g:<8.3g} val acc {a:.4f}" + ("  ← best" if g == GRID[best] else ""))
    got = None
    last = len(res.rungs) - 1
    if (
        res.lr is not None
        and last >= 0
        and res.rungs[last]["epochs"] == epochs
        and res.lr in res.rungs[last]["lrs"]
    ):
        got = res.score(res.lr, last)  # its own full run: the same seeds, batches and schedule
    elif res.lr is not None:
        near = min(range(len(GRID)), key=lambda i: abs(math.log10(GRID[i] / res.lr)))
        got = float(acc[near]) if abs(math.log10(GRID[near] / res.lr)) < 1e-9 else None
    regret = None if got is None else 100 * (float(acc[best]) - got)
    if regret is not None:
        print(f"regret of the tuned lr against the grid's best ({GRID[best]:.3g}): {regret:.2f} points")
    else:
        print("the tuned lr was not trained to the full run and is not on the grid: no regret figure")
    cost = len(GRID)
    print(f"the grid cost {cost} full runs per seed ({time.perf_counter() - t0:.1f} s)")
    return {"lrs": GRID, "val_acc": acc.tolist(), "best_lr": GRID[best], "regret_points": regret}


def _write_text(path: Path, text: str) -> None:
    path.write_text(text)


def _plot(res: Any, path: Path) -> None:
    from lrsched_jax.core.plots import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    res.plot(ax)
    ax.set_title(f"tune_lr ({res.framework}): lr {res.lr if res.lr is None else f'{res.lr:.3g}'}")
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
