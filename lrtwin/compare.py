"""``lrtwin compare``: the schedule arena on the digits — every (schedule, seed) member trained
to the same budget, the verdict per schedule, in one JAX program (or in torch).

The network is the demo's MLP (64 → 128 → 10, ReLU), each seed's initial weights drawn with
NumPy (``Linear``'s distribution: weights and biases uniform in ``±1/sqrt(fan_in)``) so that
both frameworks start from the same numbers and neither command imports the other framework.
Batches of 32 in the arena's order (:mod:`lrsched_jax.core.arena`), SGD with momentum 0.9
by default, the validation accuracy checked after every epoch.

Outputs, in ``--out``: ``compare.json`` (every member — ``schedule``, ``seed``,
``final_val_acc``, ``steps_to_target``, ``seconds_to_target``, the per-epoch curves — and
the verdicts) and ``compare.png`` (validation accuracy and loss per schedule: the median over
seeds, the min–max band). The folder must be new, empty, or one an earlier ``lrtwin compare``
wrote (its manifest ``.lrtwin-compare.json`` lists what it wrote): nothing else is replaced.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrsched_jax.core.schedule import Schedule
from lrtwin.demo.data import SIZES, Digits, load_digits
from lrtwin.demo.outputs import OutputDir
from lrtwin.models import Weights

__all__ = [
    "MANIFEST",
    "OUTPUTS",
    "arena_document",
    "default_schedules",
    "flax_mlp",
    "numpy_weights",
    "plot_arena",
    "run_compare",
]

MANIFEST = ".lrtwin-compare.json"
OUTPUTS = ("compare.json", "compare.png")
BATCH = 32
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-2  # AdamW's, in both frameworks (their defaults differ)
OPTIMIZERS = ("momentum", "sgd", "adamw")


def numpy_weights(seed: int, sizes: Sequence[int] = SIZES) -> Weights:
    """The MLP's initial weights for ``seed`` in torch's layout (``(out, in)``, bias), float32:
    uniform in ``±1/sqrt(fan_in)`` from ``numpy.random.default_rng(seed)``, layer by layer."""
    rng = np.random.default_rng(seed)
    out: Weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, (fan_out,)).astype(np.float32)
        out.append((w, b))
    return out


def flax_mlp(weights: Weights) -> Any:
    """The Flax MLP with ``weights``, built abstractly first (``nnx.eval_shape``): Flax's own
    initialisers, whose values would be overwritten, are never compiled or run (2 s of a
    short command's start-up)."""
    import jax.numpy as jnp
    from flax import nnx

    from lrtwin.models import flax_mlp as build

    sizes = (weights[0][0].shape[1], *(w.shape[0] for w, _ in weights))
    model = nnx.eval_shape(lambda: build(sizes))
    for layer, (w, b) in zip(model.layers, weights):
        layer.kernel.set_value(jnp.asarray(w.T))
        layer.bias.set_value(jnp.asarray(b))
    return model


def default_schedules(lr: float, total: int) -> dict[str, Schedule]:
    """The eight families the arena compares by default, all with peak ``lr`` over ``total``
    updates: the fixed lr (the baseline), step decay (×0.1 at 50% and 75%), exponential (to
    1/100), linear decay (to 1/100), cosine, warm-up + cosine (10% warm-up), one-cycle, and
    warm-up–stable–decay (10% warm-up, 20% linear decay)."""
    import lrsched_jax as lrs

    return {
        "fixed": lrs.constant(lr),
        "step decay": lrs.multistep(lr, [total // 2, total * 3 // 4], 0.1),
        "exponential": lrs.exponential(lr, 0.01 ** (1.0 / total)),
        "linear": lrs.linear(lr, lr / 100, total),
        "cosine": lrs.cosine(lr, total),
        "warm-up + cosine": lrs.warmup_cosine(lr, max(1, total // 10), total),
        "one-cycle": lrs.one_cycle(lr, total),
        "warm-up-stable-decay": lrs.warmup_stable_decay(lr, total, max(1, total // 10), max(1, total // 5)),
    }


def _write_text(path: Path, text: str) -> None:
    path.write_text(text)


class _Folder(OutputDir):
    """The command's output folder (see the module docstring): the demo's rules, its own names."""

    command = "lrtwin compare"
    manifest = MANIFEST
    prefix = "lrtwin-compare"
    top_level = OUTPUTS


def _optimizers(name: str, framework: str) -> Any:
    if framework == "jax":
        import optax

        if name == "sgd":
            return lambda lr: optax.sgd(lr)
        if name == "momentum":
            return lambda lr: optax.sgd(lr, momentum=MOMENTUM)
        return lambda lr: optax.adamw(lr, weight_decay=WEIGHT_DECAY)
    import torch

    # The lr given here is replaced by ScheduleLR before the first update.
    if name == "sgd":
        return lambda p: torch.optim.SGD(p, lr=0.1)
    if name == "momentum":
        return lambda p: torch.optim.SGD(p, lr=0.1, momentum=MOMENTUM)
    return lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=WEIGHT_DECAY)


def _run(
    framework: str,
    data: Digits,
    schedules: dict[str, Schedule],
    seeds: list[int],
    epochs: int,
    target: float,
    optimizer: str,
    sequential: bool,
    device: str,
    progress: Callable[[int, int], None],
) -> Any:
    weights = {s: numpy_weights(s) for s in seeds}
    args = dict(target=target, sequential=sequential, batch_size=BATCH, progress=progress)
    if framework == "jax":
        import jax

        from lrsched_jax.arena import compare
        from lrtwin.devices import jax_platform

        with jax.default_device(jax.devices(jax_platform(device))[0]):
            return compare(
                lambda s: flax_mlp(weights[s]),
                _optimizers(optimizer, "jax"),
                (data.x_train, data.y_train),
                (data.x_val, data.y_val),
                schedules,
                seeds,
                epochs,
                **args,  # type: ignore[arg-type]
            )
    import torch

    from lrsched_torch.arena import compare as torch_compare
    from lrtwin.devices import torch_device
    from lrtwin.models import torch_mlp_from

    where = torch_device(device)
    if where == "cpu":
        # A 64-128-10 network on batches of 32: one thread is the fastest, and it keeps the
        # times stable when other processes share the cores (as the demo's torch runner).
        torch.set_num_threads(1)
    return torch_compare(
        lambda s: torch_mlp_from(weights[s]),
        _optimizers(optimizer, "torch"),
        (torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)),
        (torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)),
        schedules,
        seeds,
        epochs,
        device=where,
        **args,  # type: ignore[arg-type]
    )


def plot_arena(result: Any, path: Path) -> None:
    """``compare.png``: validation accuracy and loss per schedule of an arena result, the median
    over seeds with the min–max band."""
    from lrsched_jax.core.plots import pyplot

    plt = pyplot()
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(13, 5))
    epochs = np.arange(1, result.epochs + 1)
    colors = plt.get_cmap("tab10")
    lows = []
    for i, name in enumerate(result.schedules):
        mine = [m for m in result.members if m.schedule == name]
        for ax, key in ((ax_acc, "val_metric"), (ax_loss, "val_loss")):
            curves = np.asarray([getattr(m, key) for m in mine])
            c = colors(i % 10)
            ax.plot(epochs, np.median(curves, axis=0), color=c, label=name, lw=1.6)
            ax.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), color=c, alpha=0.18, lw=0)
            if key == "val_metric":
                lows.append(float(np.median(curves[:, min(1, result.epochs - 1)])))
    if result.target is not None:
        ax_acc.axhline(result.target, color="k", ls=":", lw=1, label=f"target {result.target:g}")
    ax_acc.set_ylim(max(0.0, min(lows) - 0.02), 1.0)
    ax_acc.set_ylabel("validation accuracy")
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("validation loss")
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_acc, ax_loss):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=8, loc="lower right")
    fig.suptitle(
        f"{result.framework} ({result.how}): {len(result.schedules)} schedules × {len(result.seeds)} seeds, "
        "median over seeds, band min–max"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")  # the temporary name has no .png suffix
    plt.close(fig)


def arena_document(result: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """``compare.json``: ``meta``, then every member of an arena result and the verdicts."""
    members = [
        {
            "schedule": m.schedule,
            "seed": m.seed,
            "final_val_acc": m.final_val_metric,
            "steps_to_target": m.steps_to_target,
            "seconds_to_target": m.seconds_to_target,
            "val_acc": m.val_metric,
            "val_loss": m.val_loss,
            "train_loss": m.train_loss,
            "config": m.config,
        }
        for m in result.members
    ]
    return {
        **meta,
        "framework": result.framework,
        "how": result.how,
        "epochs": result.epochs,
        "steps_per_epoch": result.steps_per_epoch,
        "seeds": result.seeds,
        "target_val_acc": result.target,
        "baseline": result.baseline,
        "compile_s": result.compile_s,
        "train_s": result.train_s,
        "schedules": result.schedules,
        "members": members,
        "verdicts": result.verdicts,
    }


def run_compare(
    *,
    out: str | Path | None = None,
    framework: str = "jax",
    specs: Sequence[str] | None = None,
    seeds: int | None = None,
    epochs: int | None = None,
    lr: float = 0.05,
    target: float | None = None,
    optimizer: str = "momentum",
    quick: bool = False,
    sequential: bool = False,
    device: str = "cpu",
    progress: bool = True,
) -> int:
    """The command: train the members, print the verdict table, write the outputs; returns 0.

    Defaults: the eight :func:`default_schedules` at ``lr``, 8 seeds, 30 epochs, target
    validation accuracy 0.97; ``quick``: 3 seeds, 5 epochs, target 0.9. ``specs`` replaces
    the default schedules (each a spec for :func:`lrsched_jax.from_spec`, named by its text).
    ``ValueError`` for bad arguments, before anything is trained or written.
    """
    from lrsched_jax.core.config import from_spec
    from lrtwin.devices import check_device

    if framework not in ("jax", "torch"):
        raise ValueError(f"--framework must be jax or torch, got {framework!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if not (isinstance(lr, float | int) and lr > 0 and np.isfinite(lr)):
        raise ValueError(f"--lr must be a positive number, got {lr!r}")
    seeds = seeds if seeds is not None else (3 if quick else 8)
    epochs = epochs if epochs is not None else (5 if quick else 30)
    for value, flag in ((seeds, "--seeds"), (epochs, "--epochs")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{flag} must be a whole number >= 1, got {value!r}")
    target = target if target is not None else (0.9 if quick else 0.97)
    if not 0 < target <= 1:
        raise ValueError(f"--target must be a validation accuracy in (0, 1], got {target}")
    check_device(device, (framework,))
    data = load_digits()
    steps = len(data.x_train) // BATCH
    if specs:
        schedules: dict[str, Schedule] = {}
        for text in specs:
            try:
                schedules[text] = from_spec(text)
            except (ValueError, TypeError) as e:
                raise ValueError(f"--schedules {text!r}: {e}") from None
    else:
        schedules = default_schedules(lr, epochs * steps)
    folder = _Folder.open(out)
    from tqdm.auto import tqdm

    n = len(schedules) * seeds
    how = "one member at a time" if sequential else "all members in one program"
    bar = tqdm(
        total=n * epochs, desc=f"{framework}: {n} members, {how}", unit="member-epoch", disable=not progress
    )

    def tick(done: int, total: int) -> None:
        bar.update(done - bar.n)

    t0 = time.perf_counter()
    try:
        result = _run(
            framework,
            data,
            schedules,
            list(range(seeds)),
            epochs,
            target,
            optimizer,
            sequential,
            device,
            tick,
        )
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    print(result.table())
    print(f"compile {result.compile_s:.2f} s, training {result.train_s:.2f} s, in all {wall:.2f} s")
    meta = {
        "command": "lrtwin compare",
        "data": "digits (scikit-learn 8x8), 80/20 split",
        "network": "MLP 64-128-10 (ReLU), NumPy initial weights per seed",
        "optimizer": optimizer,
        "lr": float(lr),
        "batch_size": BATCH,
        "device": device,
        "wall_s": wall,
    }
    doc = arena_document(result, meta)
    text = json.dumps(doc, indent=1)
    folder.write("compare.json", lambda p: _write_text(p, text + "\n"))
    folder.write("compare.png", lambda p: plot_arena(result, p))
    print(f"wrote {folder.root / 'compare.json'} and {folder.root / 'compare.png'}")
    return 0
