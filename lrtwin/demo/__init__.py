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
   the best checkpoint reloaded and evaluated; then the same recipe at the peak lr
   :func:`lrsched_jax.tune_lr` chooses by training short probes of it (:mod:`lrtwin.demo.tuned`),
   so the summary shows what the finder's suggestion and the tuned lr each train to;
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

import dataclasses
import json
import os
from collections.abc import Callable
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
            quick=quick,
            seed=seed,
            device=placed_lm.get("torch", "cpu"),
            platform=placed_lm.get("jax"),
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
        plan = _Plan(
            out=out, framework=framework, quick=quick, seed=seed, device=torch_device,
            platform=placed.get("jax"), devices=devices, rank=rank, world=world,
        )  # fmt: skip
        code = _run(plan)
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


@dataclasses.dataclass(frozen=True)
class _Plan:
    """One demo run as the command line asked for it, placed (devices, ranks)."""

    out: str | Path | None
    framework: str
    quick: bool
    seed: int
    device: str  # torch's
    platform: str | None  # JAX's
    devices: int
    rank: int
    world: int

    @property
    def frameworks(self) -> list[str]:
        return [fw for fw in ("jax", "torch") if self.framework in (fw, "both")]

    @property
    def epochs(self) -> int:
        return 6 if self.quick else 30


@dataclasses.dataclass
class _Trained:
    """What step 1, 3 and 4 trained, per framework."""

    histories: list[History] = dataclasses.field(default_factory=list)
    by_fw: dict[str, list[History]] = dataclasses.field(default_factory=dict)
    finders: dict[str, Any] = dataclasses.field(default_factory=dict)
    suggested: dict[str, float] = dataclasses.field(default_factory=dict)
    pipeline: dict[str, History] = dataclasses.field(default_factory=dict)
    tuned: dict[str, float | None] = dataclasses.field(default_factory=dict)
    tune_docs: dict[str, Any] = dataclasses.field(default_factory=dict)


def _zoo(total: int, spe: int) -> dict[str, Any]:
    import lrsched_jax as lrs

    return {
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


def _fixed_vs_scheduled(total: int, spe: int) -> dict[str, Any]:
    import lrsched_jax as lrs

    return {
        "fixed lr 0.1": lrs.constant(0.1),
        "0.1·0.95^epoch": lrs.per_epoch(lrs.article_decay(), spe),
        "cosine": lrs.cosine(0.1, total),
    }


def _train_all(
    plan: _Plan,
    runners: list[Runner],
    compare: dict[str, Any],
    out: Path,
    claim: Callable[[Path], Path] | None,
) -> _Trained:
    """Steps 1, 3 and 4 in each framework: the fixed-vs-scheduled runs, the finder, and the
    pipeline (AdamW + one-cycle at the finder's suggestion, with checkpoints)."""
    import lrsched_jax as lrs
    from lrtwin.demo.finder import run_finder

    say = print if plan.rank == 0 else (lambda *a, **k: None)
    total = plan.epochs * runners[0].steps_per_epoch
    done = _Trained()
    for r in runners:
        fw = r.framework
        done.by_fw[fw] = [_train(r, name, "sgd", s, plan.epochs) for name, s in compare.items()]
        bars = _BARS["show"] and plan.rank == 0
        done.finders[fw] = finder = run_finder(r, num_iter=60 if plan.quick else 100, progress=bars)
        if finder.suggestion is None:  # the loss never fell: no lr to train the pipeline at
            raise RuntimeError(f"{fw} LR finder: no suggestion ({'; '.join(finder.notes)})")
        done.suggested[fw] = float(finder.suggestion)
        say(
            f"{fw:>5} LR finder: suggestions "
            + ", ".join(f"{k}={v:.3g}" for k, v in finder.suggestions.items() if v is not None)
            + f"; pipeline max lr ({finder.rule}) = {done.suggested[fw]:.3g}"
        )
        one_cycle = lrs.one_cycle(done.suggested[fw], total)
        h = _train(
            r, "one-cycle (pipeline)", "adamw", one_cycle, plan.epochs,
            checkpoint_dir=out / "checkpoints" / fw, claim=claim,
        )  # fmt: skip
        done.pipeline[fw] = h
        assert h.best_epoch is not None  # set by every run with checkpoints
        say(
            f"{fw:>5} best checkpoint: epoch {h.best_epoch + 1}, val loss {h.best_val_loss:.4f}; reloaded: "
            f"val loss {h.reloaded_val_loss:.4f}, accuracy {h.reloaded_val_acc:.3f}"
        )
        done.histories += [*done.by_fw[fw], h, *_tuned_run(plan, r, done, total)]
    return done


def _tuned_run(plan: _Plan, r: Runner, done: _Trained, total: int) -> list[History]:
    """Step 4b: the pipeline's peak lr chosen by ``tune_lr``, and the pipeline's recipe trained
    at it (no checkpoints), beside the run at the finder's suggestion."""
    import lrsched_jax as lrs
    from lrtwin.demo.report import TUNED
    from lrtwin.demo.tuned import tune_pipeline_lr

    say = print if plan.rank == 0 else (lambda *a, **k: None)
    fw = r.framework
    done.tuned[fw], doc = tune_pipeline_lr(r, plan.epochs)
    if doc is not None:
        done.tune_docs[fw] = doc
    lr = done.tuned[fw]
    if lr is None:
        say(f"{fw:>5} tune_lr: no lr ({'; '.join(doc['notes'] if doc else [])}); the tuned run is left out")
        return []
    cost = f", cost {doc['cost']:.2f} runs" if doc else ""
    finder = done.suggested[fw]
    say(f"{fw:>5} tune_lr: peak lr {lr:.3g} chosen by training (the finder's: {finder:.3g}){cost}")
    return [_train(r, TUNED, "adamw", lrs.one_cycle(lr, total), plan.epochs)]


def _run(plan: _Plan) -> int:
    from lrtwin.demo import report
    from lrtwin.demo.data import initial_weights

    out, store = _open_out(plan.out, plan.frameworks, plan.rank, plan.world)

    def claim(path: Path) -> Path:
        return path if store is None else store.claim(path)

    say = print if plan.rank == 0 else (lambda *a, **k: None)
    data = load_digits()
    weights = initial_weights(plan.seed)
    runners: list[Runner] = []
    if "jax" in plan.frameworks:
        runners.append(JaxRunner(data, weights, plan.seed, devices=plan.devices, platform=plan.platform))
    if "torch" in plan.frameworks:
        runners.append(TorchRunner(data, weights, plan.seed, device=plan.device))
    spe = runners[0].steps_per_epoch
    total = plan.epochs * spe
    parallel = []
    if plan.devices > 1:
        parallel.append(f"JAX over {plan.devices} devices")
    if plan.world > 1:
        parallel.append(f"torch DDP over {plan.world} ranks")
    say(
        f"lrtwin demo → {out}  ({len(data.x_train)} train / {len(data.x_val)} validation digits, "
        f"{plan.epochs} epochs × {spe} updates, seed {plan.seed}"
        + (f"; data parallel: {', '.join(parallel)}" if parallel else "")
        + ")"
    )
    zoo = _zoo(total, spe)
    pictures = [report.zoo_figure(zoo, total, claim(out / "schedule_zoo.png"))] if plan.rank == 0 else []
    compare = _fixed_vs_scheduled(total, spe)
    done = _train_all(plan, runners, compare, out, None if store is None else claim)
    if plan.rank != 0:
        return 0  # rank 0 writes the pictures and the summary
    pictures.append(report.fixed_vs_scheduled_figure(done.by_fw, claim(out / "fixed_vs_scheduled.png")))
    pictures.append(report.finder_figure(done.finders, claim(out / "finder.png")))
    pictures.append(report.pipeline_figure(done.pipeline, claim(out / "pipeline.png")))

    # Across seeds: the fixed-vs-scheduled comparison again, every (schedule, seed) member in
    # the arena (lrtwin/demo/arena.py), on this process only (the other ranks are done).
    seeds = list(range(plan.seed, plan.seed + (ARENA_SEEDS_QUICK if plan.quick else ARENA_SEEDS)))
    say(
        f"arena: {len(compare)} schedules × {len(seeds)} seeds, {plan.epochs} epochs, "
        f"in {', '.join(plan.frameworks)}"
    )
    arena_doc, arena_md, arena_pictures = run_arena(
        plan.frameworks, data, compare, seeds, epochs=plan.epochs, target=TARGET_ACC, baseline="fixed lr 0.1",
        out=out, claim=claim, platform=plan.platform, device=plan.device,
    )  # fmt: skip
    pictures += arena_pictures
    claim(out / "arena.json").write_text(json.dumps(arena_doc, indent=1, default=float) + "\n")
    meta = {
        "seed": plan.seed,
        "epochs": plan.epochs,
        "batch": BATCH,
        "steps_per_epoch": spe,
        "quick": plan.quick,
        "n_train": len(data.x_train),
        "n_val": len(data.x_val),
        "frameworks": [r.framework for r in runners],
        "jax_devices": plan.devices if plan.framework != "torch" else None,
        "torch_ranks": plan.world if plan.framework != "jax" else None,
        "data_parallel": parallel,
        "finder": {fw: res.to_dict() for fw, res in done.finders.items()},
        "tune": done.tune_docs,
    }
    written = _write_summary(out, claim, done, meta, seeds, arena_md)
    for p in [*pictures, *written, out / "arena.json"]:
        print(f"wrote {p}")
    return 0


def _write_summary(
    out: Path,
    claim: Callable[[Path], Path],
    done: _Trained,
    meta: dict[str, Any],
    seeds: list[int],
    arena_md: str,
) -> list[Path]:
    """summary.md / summary.json / history.json, and the tables on the terminal."""
    from lrtwin.demo import report

    optimizers = {h.name: "sgd" for h in next(iter(done.by_fw.values()))}
    optimizers["one-cycle (pipeline)"] = optimizers[report.TUNED] = "adamw"
    rows = report.summary_rows(done.histories, optimizers, done.suggested, TARGET_ACC, done.tuned)
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
        json.dumps([h.__dict__ for h in done.histories], default=float, indent=1)
    )
    print()
    print(report.markdown_table(rows, TARGET_ACC))
    print()
    print()
    print(arena_md)
    print()
    return [md, js, out / "history.json"]
