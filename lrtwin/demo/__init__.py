"""``lrtwin demo``: the article, end to end, in JAX and torch on real data.

On scikit-learn's 8×8 digits, with one small MLP that starts from the same weights and sees
the same batches in both frameworks:

1. fixed vs scheduled: SGD at a fixed lr 0.1 vs the article's ``0.1 * 0.95**epoch`` and a
   cosine decay — loss curves on one plot;
2. the schedule zoo on a log-lr axis, computed by the library;
3. the LR finder (AdamW) in both frameworks, side by side, the suggestion marked;
4. the full pipeline: finder → AdamW with one-cycle stepped per batch at the suggested lr
   (the finder's default rule, "halfway"; the article's own rule — the lr of the steepest
   decline of the raw loss ÷ 10 — is printed beside it, and on this data it lands far too
   high, in the diverging part of the curve) → per-epoch train and
   validation loss, validation accuracy and lr logged → the best model checkpointed (Orbax
   for JAX, ``torch.save`` for torch) and a checkpoint saved before each major lr change →
   the best checkpoint reloaded and evaluated;
5. across seeds: step 1's schedules again for 8 seeds each (``--quick``: 3), every
   (schedule, seed) member trained by the schedule arena — in JAX as one vmapped, jitted
   program (:func:`lrsched_jax.compare`) — with the verdict per schedule (median and spread of
   the updates to the target, speed-up against the fixed lr; :mod:`lrtwin.demo.arena`);
6. a summary table (terminal, ``summary.md``, ``summary.json``, ``arena.json``) and every
   picture as PNG.

The output folder is the demo's own: ``--out`` must be new, empty or written by an earlier
demo run, and checkpoints are replaced only once their successor is complete
(:mod:`lrtwin.demo.outputs`). ``device`` is ``cpu``, ``gpu`` or ``auto`` for both frameworks
(:mod:`lrtwin.devices`), checked before anything is written.

Data parallel, with the same global batches (so the same curves, up to float rounding):
``--devices N`` runs JAX over N devices (simulated CPU devices on a machine without
accelerators; see :func:`lrtwin.cli.simulate_cpu_devices`), and ``torchrun
--nproc-per-node N --no-python lrtwin demo --framework torch`` runs torch with ``DistributedDataParallel``
over N ranks, each with its share of every batch; rank 0 prints and writes the outputs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lrtwin.demo.arena import ARENA_SEEDS, ARENA_SEEDS_QUICK, run_arena
from lrtwin.demo.data import load_digits
from lrtwin.demo.outputs import OutputDir
from lrtwin.demo.runners import BATCH, History, JaxRunner, Runner, TorchRunner
from lrtwin.devices import check_device

__all__ = ["run_demo"]

TARGET_ACC = 0.9


#: Progress bars on (``lrtwin demo --no-progress`` turns them off for the run).
_BARS = {"show": True}


def _progress(total: int, desc: str, show: bool = True) -> tuple[Any, Any]:
    from tqdm.auto import tqdm

    # disable=None: no bar where stderr is not a terminal (a log file would get a line per update).
    bar = tqdm(
        total=total, desc=desc, unit="epoch", leave=True, disable=None if show and _BARS["show"] else True
    )

    def update(h: History) -> None:
        bar.update(1)
        bar.set_postfix(
            train=f"{h.train_loss[-1]:.3f}",
            val=f"{h.val_loss[-1]:.3f}",
            acc=f"{h.val_acc[-1]:.3f}",
            lr=f"{h.lr[-1]:.2e}",
        )

    return bar, update


def _train(runner: Runner, name: str, optimizer: str, schedule: Any, epochs: int, **kw: Any) -> History:
    bar, update = _progress(epochs, f"{runner.framework:>5} {name}", getattr(runner, "rank", 0) == 0)
    try:
        return runner.train(name, optimizer, schedule, epochs, progress=update, **kw)
    finally:
        bar.close()


def _world() -> int:
    """The number of torchrun processes (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def _torchrun(device: str) -> tuple[int, int, str, bool]:
    """Under ``torchrun`` (``WORLD_SIZE`` > 1): join the process group (gloo on CPU, NCCL on
    CUDA, each rank on its local GPU). Returns ``(rank, world, torch device, joined_here)``."""
    world = _world()
    if world == 1:
        return 0, 1, device, False
    import datetime

    import torch
    import torch.distributed as dist

    cuda = torch.device(device).type == "cuda"
    if cuda:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    joined = not dist.is_initialized()
    if joined:
        dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(minutes=5))
    return dist.get_rank(), dist.get_world_size(), device, joined


def run_demo(
    out: str | Path | None = None,
    framework: str = "both",
    quick: bool = False,
    seed: int = 0,
    device: str = "cpu",
    devices: int = 1,
    task: str = "digits",
    progress: bool = True,
) -> int:
    """Run the demo; write PNGs, ``summary.md``, ``summary.json`` and ``history.json`` to ``out``.

    ``out``: a new, empty or demo-written folder (default: a new ``lrtwin-demo-*`` folder in
    the current one); ``ValueError`` otherwise, and for an empty path. ``device``: ``cpu``,
    ``gpu`` or ``auto`` for both frameworks (``ValueError`` when ``gpu`` is asked for and a
    framework that runs sees none). ``devices``: JAX data parallel over that many devices
    (the batch of 32 must split evenly over them). Under ``torchrun`` the torch runs are
    data-parallel over the ranks and rank 0 prints and writes the outputs. Every check runs
    before the folder is created.

    ``task``: ``"digits"`` (the default: the MLP on the digits, as above) or ``"lm"`` (a
    byte-level transformer on Python's standard-library sources, :mod:`lrtwin.demo.lm`; one
    device, no torchrun). ``progress``: progress bars (never where stderr is not a terminal).
    """
    _BARS["show"] = progress
    if task not in ("digits", "lm"):
        raise ValueError(f"task must be 'digits' or 'lm', got {task!r}")
    if framework not in ("jax", "torch", "both"):
        raise ValueError(f"framework must be 'jax', 'torch' or 'both', got {framework!r}")
    if devices > 1 and framework == "torch":
        raise ValueError(
            "--devices applies to JAX; for torch data parallel run "
            "`torchrun --nproc-per-node N --no-python lrtwin demo --framework torch`"
        )
    world = _world()
    if task == "lm":
        if devices > 1 or world > 1:
            raise ValueError("--task lm runs on one device (no --devices N, no torchrun)")
        placed_lm = check_device(device, [fw for fw in ("jax", "torch") if framework in (fw, "both")])
        from lrtwin.demo.lm import run_lm

        store = OutputDir.open(out)
        return run_lm(
            store.root,
            store.claim,
            [fw for fw in ("jax", "torch") if framework in (fw, "both")],
            quick,
            seed,
            placed_lm.get("torch", "cpu"),
            placed_lm.get("jax"),
        )
    if world > 1 and framework != "torch":
        raise ValueError(
            "under torchrun the demo runs --framework torch (JAX runs data-parallel in one process: "
            "lrtwin demo --framework jax --devices N)"
        )
    for n, what in ((devices, "--devices"), (world, "the number of torchrun processes")):
        if BATCH % n:
            raise ValueError(f"{what} ({n}) must divide the batch of {BATCH}")
    # The device first: a one-line error, before any folder exists or anything trains.
    placed = check_device(device, [fw for fw in ("jax", "torch") if framework in (fw, "both")])
    rank, world, torch_device, joined = _torchrun(placed.get("torch", "cpu"))
    finished = False
    try:
        code = _run(out, framework, quick, seed, torch_device, placed.get("jax"), devices, rank, world)
        finished = True
        return code
    finally:
        if joined:
            import torch.distributed as dist

            if finished:
                # Every rank done before any tears down: a rank leaving while another still
                # talks to it can abort gloo's threads ("terminate called without an active
                # exception"). After a failure the others may never arrive: no barrier then.
                dist.barrier()
            dist.destroy_process_group()


def _open_out(
    out: str | Path | None, frameworks: list[str], rank: int, world: int
) -> tuple[Path, OutputDir | None]:
    """The output folder and its ``checkpoints/<framework>`` folders, checked and created by
    rank 0 (which alone writes; it gets the :class:`OutputDir`) before any other rank can
    create them; every rank learns the path, or rank 0's ``ValueError``."""

    def create() -> OutputDir:
        store = OutputDir.open(out)
        for fw in frameworks:
            store.claim(store / "checkpoints")
            store.claim(store / "checkpoints" / fw).mkdir(parents=True, exist_ok=True)
        return store

    if world == 1:
        single = create()
        return single.root, single
    import torch.distributed as dist

    store: OutputDir | None = None
    box: list[Any] = [None]
    if rank == 0:
        try:
            store = create()
            box = [("ok", str(store.root))]
        except ValueError as e:
            box = [("error", str(e))]
    dist.broadcast_object_list(box, src=0)
    kind, text = box[0]
    if kind == "error":
        raise ValueError(text)
    return Path(text), store


def _run(
    out_arg: str | Path | None,
    framework: str,
    quick: bool,
    seed: int,
    device: str,
    platform: str | None,
    devices: int,
    rank: int,
    world: int,
) -> int:
    import lrsched_jax as lrs
    from lrtwin.demo import report
    from lrtwin.demo.data import initial_weights
    from lrtwin.demo.finder import run_finder

    frameworks = [fw for fw in ("jax", "torch") if framework in (fw, "both")]
    out, store = _open_out(out_arg, frameworks, rank, world)

    def claim(path: Path) -> Path:
        return path if store is None else store.claim(path)

    say = print if rank == 0 else (lambda *a, **k: None)
    epochs = 6 if quick else 30
    data = load_digits()
    weights = initial_weights(seed)
    runners: list[Runner] = []
    if framework in ("jax", "both"):
        runners.append(JaxRunner(data, weights, seed, devices=devices, platform=platform))
    if framework in ("torch", "both"):
        runners.append(TorchRunner(data, weights, seed, device=device))
    spe = runners[0].steps_per_epoch
    total = epochs * spe
    parallel = []
    if devices > 1:
        parallel.append(f"JAX over {devices} devices")
    if world > 1:
        parallel.append(f"torch DDP over {world} ranks")
    say(
        f"lrtwin demo → {out}  ({len(data.x_train)} train / {len(data.x_val)} validation digits, "
        f"{epochs} epochs × {spe} updates, seed {seed}"
        + (f"; data parallel: {', '.join(parallel)}" if parallel else "")
        + ")"
    )

    zoo = {
        "step (×0.1 every 30% of training)": lrs.step_decay(0.1, max(total * 3 // 10, 1), 0.1),
        "exponential (×0.95 per epoch)": lrs.per_epoch(lrs.exponential(0.1, 0.95), spe),
        "cosine (to 1e-6)": lrs.cosine(0.1, total, min_lr=1e-6),
        "warm-up + cosine (10%)": lrs.warmup_cosine(0.1, total // 10, total, min_lr=1e-6),
        "one-cycle": lrs.one_cycle(0.1, total),
        "cyclic (triangular2)": lrs.cyclic(1e-3, 0.1, max(total // 8, 1), mode="triangular2"),
        "warm restarts (×2)": lrs.warm_restarts(0.1, max(total // 7, 1), 2, min_lr=1e-5),
        "warmup-stable-decay (1-sqrt)": lrs.warmup_stable_decay(
            0.1, total, total // 20, total // 5, "1-sqrt", 1e-5
        ),
    }
    pictures = [report.zoo_figure(zoo, total, claim(out / "schedule_zoo.png"))] if rank == 0 else []

    compare = {
        "fixed lr 0.1": lrs.constant(0.1),
        "0.1·0.95^epoch": lrs.per_epoch(lrs.article_decay(), spe),
        "cosine": lrs.cosine(0.1, total),
    }
    optimizers = {name: "sgd" for name in compare}
    optimizers["one-cycle (pipeline)"] = "adamw"
    histories: list[History] = []
    by_fw: dict[str, list[History]] = {}
    finders: dict[str, Any] = {}
    suggested: dict[str, float] = {}
    pipeline: dict[str, History] = {}
    for r in runners:
        fw = r.framework
        by_fw[fw] = [_train(r, name, "sgd", s, epochs) for name, s in compare.items()]
        finders[fw] = run_finder(r, num_iter=60 if quick else 100)
        suggested[fw] = float(finders[fw].suggestion)
        say(
            f"{fw:>5} LR finder: suggestions "
            + ", ".join(f"{k}={v:.3g}" for k, v in finders[fw].suggestions.items() if v is not None)
            + f"; pipeline max lr ({finders[fw].rule}) = {suggested[fw]:.3g}"
        )
        one_cycle = lrs.one_cycle(suggested[fw], total)
        pipeline[fw] = _train(
            r,
            "one-cycle (pipeline)",
            "adamw",
            one_cycle,
            epochs,
            checkpoint_dir=out / "checkpoints" / fw,
            claim=None if store is None else claim,
        )
        h = pipeline[fw]
        assert h.best_epoch is not None  # set by every run with checkpoints
        say(
            f"{fw:>5} best checkpoint: epoch {h.best_epoch + 1}, val loss {h.best_val_loss:.4f}; reloaded: "
            f"val loss {h.reloaded_val_loss:.4f}, accuracy {h.reloaded_val_acc:.3f}"
        )
        histories += by_fw[fw] + [h]

    if rank != 0:
        return 0  # rank 0 writes the pictures and the summary
    pictures.append(report.fixed_vs_scheduled_figure(by_fw, claim(out / "fixed_vs_scheduled.png")))
    pictures.append(report.finder_figure(finders, claim(out / "finder.png")))
    pictures.append(report.pipeline_figure(pipeline, claim(out / "pipeline.png")))

    # Across seeds: the fixed-vs-scheduled comparison again, every (schedule, seed) member in
    # the arena (lrtwin/demo/arena.py), on this process only (the other ranks are done).
    seeds = list(range(seed, seed + (ARENA_SEEDS_QUICK if quick else ARENA_SEEDS)))
    say(f"arena: {len(compare)} schedules × {len(seeds)} seeds, {epochs} epochs, in {', '.join(frameworks)}")
    arena_doc, arena_md, arena_pictures = run_arena(
        frameworks,
        data,
        compare,
        seeds,
        epochs,
        TARGET_ACC,
        "fixed lr 0.1",
        out,
        claim,
        platform=platform,
        device=device,
    )
    pictures += arena_pictures
    claim(out / "arena.json").write_text(json.dumps(arena_doc, indent=1, default=float) + "\n")

    rows = report.summary_rows(histories, optimizers, suggested, TARGET_ACC)
    meta = {
        "seed": seed,
        "epochs": epochs,
        "batch": BATCH,
        "steps_per_epoch": spe,
        "quick": quick,
        "n_train": len(data.x_train),
        "n_val": len(data.x_val),
        "frameworks": [r.framework for r in runners],
        "jax_devices": devices if framework != "torch" else None,
        "torch_ranks": world if framework != "jax" else None,
        "data_parallel": parallel,
        "finder": {fw: res.to_dict() for fw, res in finders.items()},
    }
    claim(out / "summary.md")
    claim(out / "summary.json")
    md, js = report.write_summary(out, rows, meta, TARGET_ACC)
    md.write_text(
        md.read_text()
        + f"\n## Across {len(seeds)} seeds (the schedule arena)\n\nThe first three rows again, SGD at "
        f"the same budget, seeds {seeds[0]}–{seeds[-1]} (initial weights and batch order per seed); "
        f"updates to {TARGET_ACC:.0%} validation accuracy and the speed-up against the fixed lr are "
        "given as the median (min–max) over the seeds that reached it ("
        "`arena.json` has every member).\n\n" + arena_md + "\n"
    )
    claim(out / "history.json").write_text(
        json.dumps([h.__dict__ for h in histories], default=float, indent=1)
    )
    print()
    print(report.markdown_table(rows, TARGET_ACC))
    print()
    print()
    print(arena_md)
    print()
    for p in [*pictures, md, js, out / "history.json", out / "arena.json"]:
        print(f"wrote {p}")
    return 0
