"""The demo's last step: its fixed-vs-scheduled comparison again, over many seeds, with the
schedule arena.

One seed says little about whether a schedule beats the fixed lr (the digits demo's training
at lr 0.1 is noisy enough that single runs disagree). So the demo trains the same schedules
— fixed lr 0.1, the article's 0.1·0.95^epoch and cosine, plain SGD, as in
``fixed_vs_scheduled.png`` — for ``seeds`` seeds each (8; ``--quick``: 3), every seed its own
initial weights (:func:`lrtwin.demo.data.initial_weights`) and its own batch order, to the
demo's budget: in JAX as one vmapped, jitted program (:func:`lrsched_jax.compare`), in torch
through :func:`lrsched_torch.compare`. It writes, per framework, the verdict table into
``summary.md``, every member and verdict into ``arena.json`` and the validation curves
(median over seeds, min–max band) into ``arena_<framework>.png``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lrsched_jax.core.schedule import Schedule
from lrtwin.demo.data import Digits, flax_mlp, initial_weights, torch_mlp_from
from lrtwin.demo.runners import BATCH

__all__ = ["ARENA_SEEDS", "ARENA_SEEDS_QUICK", "run_arena"]

#: Seeds per schedule in a full run, and under ``--quick``.
ARENA_SEEDS, ARENA_SEEDS_QUICK = 8, 3


def _jax(
    data: Digits, schedules: Mapping[str, Schedule], seeds: list[int], epochs: int, target: float, **kw: Any
) -> Any:
    import jax
    import optax

    from lrsched_jax.arena import compare

    platform = kw.pop("platform")
    where = jax.default_device(jax.devices(platform)[0]) if platform else contextlib.nullcontext()
    with where:
        return compare(
            lambda s: flax_mlp(initial_weights(s)),
            lambda lr: optax.sgd(lr),
            (data.x_train, data.y_train),
            (data.x_val, data.y_val),
            dict(schedules),
            seeds,
            epochs,
            batch_size=BATCH,
            target=target,
            **kw,
        )


def _torch(
    data: Digits, schedules: Mapping[str, Schedule], seeds: list[int], epochs: int, target: float, **kw: Any
) -> Any:
    import torch

    from lrsched_torch.arena import compare

    device = kw.pop("device")
    return compare(
        lambda s: torch_mlp_from(initial_weights(s)),
        lambda p: torch.optim.SGD(p, lr=0.1),  # ScheduleLR sets every member's lr
        (torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)),
        (torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)),
        dict(schedules),
        seeds,
        epochs,
        batch_size=BATCH,
        target=target,
        device=device,
        **kw,
    )


def run_arena(
    frameworks: list[str],
    data: Digits,
    schedules: Mapping[str, Schedule],
    seeds: list[int],
    *,
    epochs: int,
    target: float,
    baseline: str,
    out: Path,
    claim: Callable[[Path], Path],
    platform: str | None,
    device: str,
) -> tuple[dict[str, Any], str, list[Path]]:
    """Train every (schedule, seed) member in each of ``frameworks``; write
    ``arena_<framework>.png``. Returns the ``arena.json`` document (per framework: how the
    members ran, the times, every member, the verdicts), the verdict tables as markdown, and
    the pictures written."""
    from lrtwin.compare import arena_document, plot_arena

    doc: dict[str, Any] = {}
    tables: list[str] = []
    pictures: list[Path] = []
    for fw in frameworks:
        t0 = time.perf_counter()
        if fw == "jax":
            res = _jax(data, schedules, seeds, epochs, target, baseline=baseline, platform=platform)
        else:
            res = _torch(data, schedules, seeds, epochs, target, baseline=baseline, device=device)
        wall = time.perf_counter() - t0
        doc[fw] = arena_document(res, {"wall_s": wall, "optimizer": "sgd", "batch_size": BATCH})
        # Only JAX compiles; torch's population is one eager torch.func loop.
        took = f"of it compiling {res.compile_s:.1f} s" if fw == "jax" else f"{res.how}, nothing compiled"
        tables.append(f"{res.table()}\n\n{fw}: {wall:.1f} s in all, {took}.")
        picture = claim(out / f"arena_{fw}.png")
        plot_arena(res, picture)
        pictures.append(picture)
    return doc, "\n\n".join(tables), pictures
