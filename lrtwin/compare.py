"""``lrtwin compare``: the schedule arena on the digits — every (schedule, seed) member trained
to the same budget, the verdict per schedule, in one JAX program (or in torch).

The network is the demo's MLP (64 → 128 → 10, ReLU), each seed's initial weights drawn with
NumPy (``Linear``'s distribution: weights and biases uniform in ``±1/sqrt(fan_in)``) so that
both frameworks start from the same numbers and neither command imports the other framework.
Batches of 32 in the arena's order (:mod:`lrsched_jax.core.arena`), SGD with momentum 0.9
by default, the validation accuracy checked every 12 updates and at each epoch's end.

Outputs, in ``--out``: ``compare.json`` (every member — ``schedule``, ``seed``,
``final_val_acc``, ``steps_to_target``, ``seconds_to_target``, the per-epoch curves — and
the verdicts) and ``compare.png`` (validation accuracy and loss per schedule: the median over
seeds, the min–max band). The folder must be new, empty, or one an earlier ``lrtwin compare``
wrote (its manifest ``.lrtwin-compare.json`` lists what it wrote): nothing else is replaced.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrsched_jax.core.arena import strict_json
from lrsched_jax.core.schedule import Schedule
from lrsched_jax.core.validate import place
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


def _run(framework: str, data: Digits, schedules: dict[str, Schedule], seeds: list[int], **kw: Any) -> Any:
    """Train the members in ``framework``; ``kw``: the arena's arguments, ``optimizer`` (a
    name), ``device`` and ``devices``."""
    weights = {s: numpy_weights(s) for s in seeds}
    optimizer, device, devices = kw.pop("optimizer"), kw.pop("device"), kw.pop("devices")
    kw["batch_size"] = BATCH
    epochs = kw.pop("epochs")
    if framework == "jax":
        import jax

        from lrsched_jax.arena import compare
        from lrtwin.devices import jax_platform

        have = jax.devices(jax_platform(device))
        with jax.default_device(have[0]):
            return compare(
                lambda s: flax_mlp(weights[s]),
                _optimizers(optimizer, "jax"),
                (data.x_train, data.y_train),
                (data.x_val, data.y_val),
                schedules,
                seeds,
                epochs,
                devices=None if devices == 1 else have[:devices],
                **kw,
            )
    import torch

    from lrsched_torch.arena import compare as torch_compare
    from lrtwin.devices import torch_device
    from lrtwin.models import torch_mlp_from

    where = torch_device(device)
    import torch.distributed as dist

    distributed = dist.is_available() and dist.is_initialized()
    if distributed and where == "cuda":
        # One GPU per rank (NCCL): LOCAL_RANK's, set before any collective uses the device.
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        where = f"cuda:{local}"
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
        process_group=dist.group.WORLD if distributed else None,
        **kw,
    )


@place("lrtwin compare")
def check_fits(n_schedules: int, seeds: int, epochs: int, eval_every: int, budget: int | None) -> int:
    """The digits run's memory estimate checked against ``budget`` bytes before anything is
    built or written (what :func:`lrsched_jax.compare` checks again): the members trained at
    once; ``ValueError`` naming the sizes where the run cannot fit."""
    from lrsched_jax.core.arena import Footprint, eval_points

    params = sum((a + 1) * b for a, b in itertools.pairwise(SIZES)) * 4
    steps = 1437 // BATCH  # the digits' training split
    fp = Footprint.estimate(
        param_bytes=params,
        opt_state_bytes=2 * params,  # AdamW's two moments: the most of the three, as torch's estimate
        n_updates=epochs * steps,
        n_evals=epochs * len(eval_points(steps, eval_every)),
        steps_per_epoch=steps,
        batch_size=BATCH,
        data_bytes=(1437 + 359) * (64 * 4 + 8),
        n_schedules=n_schedules,
        itemsize=4,
    )
    return fp.plan(n_schedules * seeds, budget)


def plot_arena(result: Any, path: Path) -> None:
    """``compare.png``: validation accuracy and loss per schedule of an arena result at every
    evaluation, the median over seeds with the min–max band. Only finite values are drawn: a
    diverged member's evaluations after its divergence (NaN) are left out of the median and
    band, and a schedule whose members all diverged is named in the legend."""
    from matplotlib.ticker import MaxNLocator

    from lrsched_jax.core.plots import pyplot

    plt = pyplot()
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(13, 5))
    x = np.asarray(result.eval_steps, dtype=float) / result.steps_per_epoch
    colors = plt.get_cmap("tab10")
    lows: list[float] = []
    for i, name in enumerate(result.schedules):
        mine = [m for m in result.members if m.schedule == name]
        div = sum(m.diverged_at is not None for m in mine)
        tag = f"{name} ({div}/{len(mine)} diverged)" if div else name
        for ax, key in ((ax_acc, "eval_metric"), (ax_loss, "eval_loss")):
            curves = np.asarray([getattr(m, key) for m in mine], dtype=float)
            if key == "eval_loss":
                curves[~(curves > 0)] = np.nan  # a log axis: nothing <= 0
            curves[~np.isfinite(curves)] = np.nan
            seen = ~np.isnan(curves).all(axis=0)
            c = colors(i % 10)
            if not seen.any():
                ax.plot([], [], color=c, label=tag, lw=1.6)
                continue
            xs, cs = x[seen], curves[:, seen]
            ax.plot(xs, np.nanmedian(cs, axis=0), color=c, label=tag, lw=1.6)
            ax.fill_between(xs, np.nanmin(cs, axis=0), np.nanmax(cs, axis=0), color=c, alpha=0.18, lw=0)
            if key == "eval_metric":
                lows.append(float(np.nanmedian(cs[:, min(len(xs) - 1, len(xs) // result.epochs)])))
    if result.target is not None:
        ax_acc.axhline(result.target, color="k", ls=":", lw=1, label=f"target {result.target:g}")
    ax_acc.set_ylim(max(0.0, min(lows, default=0.0) - 0.02), 1.0)
    ax_acc.set_ylabel(f"validation accuracy (every {result.eval_every} updates)")
    if np.isfinite([v for m in result.members for v in m.eval_loss]).any():
        ax_loss.set_yscale("log")
    ax_loss.set_ylabel("validation loss")
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
    """``compare.json``: ``meta``, then every member of an arena result and the verdicts; strict
    JSON (a diverged member's non-finite values are null, its ``note`` says why)."""
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
            "eval_acc": m.eval_metric,
            "eval_loss": m.eval_loss,
            "diverged_at": m.diverged_at,
            "note": m.note,
            "config": m.config,
        }
        for m in result.members
    ]
    return strict_json(
        {
            **meta,
            "framework": result.framework,
            "how": result.how,
            "devices": result.devices,
            "processes": result.processes,
            "chunks": result.chunks,
            "epochs": result.epochs,
            "steps_per_epoch": result.steps_per_epoch,
            "eval_every": result.eval_every,
            "eval_steps": result.eval_steps,
            "seeds": result.seeds,
            "target_val_acc": result.target,
            "baseline": result.baseline,
            "compile_s": result.compile_s,
            "train_s": result.train_s,
            "schedules": result.schedules,
            "members": members,
            "verdicts": result.verdicts,
        }
    )


def _check_baseline(baseline: str | None, names: list[str]) -> None:
    if baseline is not None and baseline not in names:
        import difflib

        near = difflib.get_close_matches(baseline, names, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"--baseline {baseline!r} is not one of the schedules ({', '.join(names)}){hint}")


def _schedules(specs: Sequence[str] | None, lr: float, total: int) -> dict[str, Schedule]:
    from lrsched_jax.core.config import from_spec

    if not specs:
        return default_schedules(lr, total)
    schedules: dict[str, Schedule] = {}
    for text in specs:
        try:
            schedules[text] = from_spec(text)
        except (ValueError, TypeError) as e:
            raise ValueError(f"--schedules {text!r}: {e}") from None
    return schedules


def _bar(total: int, desc: str, progress: bool) -> Any:
    """A tqdm bar counting member-epochs; off with ``progress=False``, and off by itself where
    stderr is not a terminal (``disable=None``), so a log file gets no bar lines."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="member-epoch", disable=None if progress else True)


def _check_placement(framework: str, devices: int, device: str) -> int:
    """``--devices`` against torchrun's ``WORLD_SIZE`` and JAX's devices; returns the number of
    torch ranks already started (1 outside torchrun)."""
    world = int(os.environ.get("WORLD_SIZE", "1")) if framework == "torch" else 1
    if world > 1 and devices not in (1, world):
        raise ValueError(
            f"--devices {devices}: under torchrun the members are split over its {world} ranks "
            "(WORLD_SIZE); leave --devices out or give the same number"
        )
    if framework == "jax" and devices > 1:
        _check_jax_devices(devices, device)
    return world


def _check_args(
    *,
    framework: str,
    optimizer: str,
    lr: float,
    seeds: int | None,
    epochs: int | None,
    devices: int,
    quick: bool,
    target: float | None,
) -> tuple[int, int, float]:
    """The command's scalar arguments checked (``ValueError`` naming the flag); returns
    ``(seeds, epochs, target)`` with the defaults filled in."""
    if framework not in ("jax", "torch"):
        raise ValueError(f"--framework must be jax or torch, got {framework!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if not (isinstance(lr, float | int) and lr > 0 and np.isfinite(lr)):
        raise ValueError(f"--lr must be a positive number, got {lr!r}")
    seeds = seeds if seeds is not None else (3 if quick else 8)
    epochs = epochs if epochs is not None else (5 if quick else 30)
    for value, flag in ((seeds, "--seeds"), (epochs, "--epochs"), (devices, "--devices")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{flag} must be a whole number >= 1, got {value!r}")
    target = target if target is not None else (0.9 if quick else 0.97)
    if not 0 < target <= 1:
        raise ValueError(f"--target must be a validation accuracy in (0, 1], got {target}")
    return seeds, epochs, target


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
    devices: int = 1,
    baseline: str | None = None,
    eval_every: int | None = None,
    memory_budget: int | None = None,
    progress: bool = True,
) -> int:
    """The command: train the members, print the verdict table, write the outputs; returns 0.

    Defaults: the eight :func:`default_schedules` at ``lr``, 8 seeds, 30 epochs, target
    validation accuracy 0.97; ``quick``: 3 seeds, 5 epochs, target 0.9. ``specs`` replaces
    the default schedules (each a spec for :func:`lrsched_jax.from_spec`, named by its text).
    ``baseline``: the schedule the speed-ups are against (default: the first constant one);
    ``eval_every``: updates between evaluations (default: every 12, four per epoch);
    ``devices``: JAX shards the members over that many devices; torch splits them over that many
    ``torch.distributed`` ranks, started here (one process each: gloo on the CPU, NCCL on GPUs)
    unless ``torchrun`` started them (``WORLD_SIZE``); ``memory_budget``:
    bytes (default half the available memory). ``ValueError`` for bad arguments or a run that
    cannot fit, before anything is trained or written.
    """
    settings = dict(locals())  # the arguments, as given: what every started rank runs with
    from lrsched_jax.core.arena import check_eval_every
    from lrtwin.devices import check_device

    seeds, epochs, target = _check_args(
        framework=framework,
        optimizer=optimizer,
        lr=lr,
        seeds=seeds,
        epochs=epochs,
        devices=devices,
        quick=quick,
        target=target,
    )
    check_device(device, (framework,))
    steps = 1437 // BATCH
    try:
        with place("--eval-every"):
            every = check_eval_every(eval_every, steps, 359, BATCH)
    except TypeError as e:
        raise ValueError(str(e)) from None
    schedules = _schedules(specs, lr, epochs * steps)
    _check_baseline(baseline, list(schedules))
    check_fits(len(schedules), seeds, epochs, every, memory_budget)
    if framework == "jax" and epochs * steps >= 2**31:
        raise ValueError(f"--epochs {epochs}: {epochs * steps} updates, more than Optax's int32 count allows")
    world = _check_placement(framework, devices, device)
    if framework == "torch" and devices > 1 and world == 1:
        _check_ranks(devices, device)
        # The folder is checked and created here, before any rank starts; rank 0 writes into it.
        root = _Folder.open(out).root
        return _spawn_ranks(devices, {**settings, "out": root})
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if _on_gpu(device) else "gloo")
    rank = int(os.environ.get("RANK", "0")) if world > 1 else 0
    data = load_digits()
    folder = _Folder.open(out) if rank == 0 else None
    if (
        baseline is None
        and not any(s.to_config()["name"] == "constant" for s in schedules.values())
        and rank == 0
    ):
        print("note: no constant schedule among the schedules, so no speed-ups; name one with --baseline")
    n = len(schedules) * seeds
    how = "one member at a time" if sequential else "all members in one program"
    bar = _bar(n * epochs, f"{framework}: {n} members, {how}", progress and rank == 0)

    def tick(done: int, total: int) -> None:
        bar.update(done - bar.n)

    t0 = time.perf_counter()
    try:
        result = _run(
            framework, data, schedules, list(range(seeds)), epochs=epochs, target=target, optimizer=optimizer,
            sequential=sequential, device=device, devices=devices, progress=tick, baseline=baseline,
            eval_every=every, memory_budget=memory_budget,
        )  # fmt: skip
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    if folder is None:
        return 0
    _report(result, wall)
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
    text = json.dumps(arena_document(result, meta), indent=1, allow_nan=False)
    folder.write("compare.json", lambda p: _write_text(p, text + "\n"))
    folder.write("compare.png", lambda p: plot_arena(result, p))
    print(f"wrote {folder.root / 'compare.json'} and {folder.root / 'compare.png'}")
    return 0


def _on_gpu(device: str) -> bool:
    from lrtwin.devices import torch_device

    return torch_device(device) == "cuda"


def _check_jax_devices(n: int, device: str) -> None:
    import jax

    from lrtwin.devices import jax_platform

    have = jax.devices(jax_platform(device))
    if n > len(have):
        hint = " (on a CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N before JAX starts)"
        where = have[0].platform
        raise ValueError(f"--devices {n}: JAX sees {len(have)} {where} device(s)" + hint * (where == "cpu"))


def _check_ranks(n: int, device: str) -> None:
    """``--devices N`` for torch on one host: one process per GPU (NCCL), or N gloo processes
    on the CPU (they share its cores)."""
    if _on_gpu(device):
        import torch

        have = torch.cuda.device_count()
        if n > have:
            raise ValueError(
                f"--devices {n}: torch sees {have} GPU(s); one process per GPU, so at most {have}"
            )


def _rank_main() -> None:
    """One rank started by :func:`_spawn_ranks` (``python -c``; its settings as JSON in
    ``argv[1]``, torchrun's variables in its environment), leaving without the interpreter's
    teardown once its part is done: torch's gloo can abort a finished process there
    ("terminate called without an active exception")."""
    import sys

    code = 1
    try:
        code = run_compare(**json.loads(sys.argv[1]))
    except Exception as e:  # one line; the parent stops the other ranks
        rank, world = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
        print(f"lrtwin compare: rank {rank} of {world}: {type(e).__name__}: {e}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _spawn_ranks(n: int, settings: dict[str, Any]) -> int:
    """``--framework torch --devices N`` without torchrun: start N processes on this host, each
    running the command as one rank under torchrun's variables (a free loopback port for the
    rendezvous; rank 0 prints and writes the outputs), and wait for all. When one fails, the
    others are stopped at once and ``ChildProcessError`` names it; Ctrl-C stops them all."""
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in settings.items()})
    procs = []
    try:
        for rank in range(n):
            env = dict(
                os.environ,
                RANK=str(rank),
                LOCAL_RANK=str(rank),
                WORLD_SIZE=str(n),
                LOCAL_WORLD_SIZE=str(n),
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=str(port),
            )
            program = "from lrtwin.compare import _rank_main; _rank_main()"
            procs.append(subprocess.Popen([sys.executable, "-c", program, text], env=env))
        while True:
            codes = [p.poll() for p in procs]
            failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                r, c = failed[0]
                raise ChildProcessError(
                    f"--devices {n}: rank {r} stopped (exit code {c}); the other ranks were stopped too"
                )
            if all(c == 0 for c in codes):
                return 0
            time.sleep(0.05)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _report(result: Any, wall: float) -> None:
    print(result.table())
    spread = ""
    if result.devices > 1 or result.processes > 1:
        spread = f", members over {max(result.devices, result.processes)} " + (
            "devices" if result.devices > 1 else "processes"
        )
    if result.chunks > 1:
        spread += f", in {result.chunks} chunks to fit the memory budget"
    if result.framework == "jax":
        print(
            f"compile {result.compile_s:.2f} s, training {result.train_s:.2f} s, in all {wall:.2f} s{spread}"
        )
    else:
        print(
            f"training {result.train_s:.2f} s ({result.how}; nothing compiled), in all {wall:.2f} s{spread}"
        )
