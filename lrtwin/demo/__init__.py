"""``lrtwin demo``: the article, end to end, in JAX and torch on real data.

On scikit-learn's 8×8 digits, with one small MLP that starts from the same weights and sees
the same batches in both frameworks:

1. fixed vs scheduled: SGD at a fixed lr 0.1 vs the article's ``0.1 * 0.95**epoch`` and a
   cosine decay — loss curves on one plot;
2. the schedule zoo on a log-lr axis, computed by the library;
3. the LR finder (AdamW) in both frameworks, side by side, the suggestion marked;
4. the full pipeline: finder → AdamW with one-cycle stepped per batch at the suggested lr
   (the finder's default rule, "valley"; the article's own rule — the lr of the steepest
   decline of the raw loss ÷ 10 — is printed beside it, and on this data it lands far too
   high, in the diverging part of the curve) → per-epoch train and
   validation loss, validation accuracy and lr logged → the best model checkpointed (Orbax
   for JAX, ``torch.save`` for torch) and a checkpoint saved before each major lr change →
   the best checkpoint reloaded and evaluated;
5. a summary table (terminal, ``summary.md``, ``summary.json``) and every picture as PNG.

Data parallel, with the same global batches (so the same curves, up to float rounding):
``--devices N`` runs JAX over N devices (simulated CPU devices on a machine without
accelerators; see :func:`lrtwin.cli.simulate_cpu_devices`), and ``torchrun
--nproc-per-node N --no-python lrtwin demo --framework torch`` runs torch with ``DistributedDataParallel``
over N ranks, each with its share of every batch; rank 0 prints and writes the outputs.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

from lrtwin.demo.data import load_digits
from lrtwin.demo.runners import BATCH, History, JaxRunner, Runner, TorchRunner

__all__ = ["run_demo"]

TARGET_ACC = 0.9


def _out_dir(out: Path | None) -> Path:
    if out is None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path.cwd() / f"lrtwin-demo-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _progress(total: int, desc: str, show: bool = True) -> tuple[Any, Any]:
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="epoch", leave=True, disable=not show)

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


def _torchrun(framework: str, devices: int, device: str) -> tuple[int, int, str, bool]:
    """Under ``torchrun`` (``WORLD_SIZE`` > 1): join the process group (gloo on CPU, NCCL on
    CUDA, each rank on its local GPU). Returns ``(rank, world, device, joined_here)``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device, False
    if framework != "torch":
        raise ValueError(
            "under torchrun the demo runs --framework torch (JAX runs data-parallel in one process: "
            "lrtwin demo --framework jax --devices N)"
        )
    if devices > 1:
        raise ValueError("--devices is JAX's; under torchrun the ranks are torch's devices")
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
    out: Path | None = None,
    framework: str = "both",
    quick: bool = False,
    seed: int = 0,
    device: str = "cpu",
    devices: int = 1,
) -> int:
    """Run the demo; write PNGs, ``summary.md``, ``summary.json`` and ``history.json`` to ``out``.

    ``devices``: JAX data parallel over that many devices (the batch of 32 must split evenly
    over them). Under ``torchrun`` the torch runs are data-parallel over the ranks and rank 0
    prints and writes the outputs.
    """
    if framework not in ("jax", "torch", "both"):
        raise ValueError(f"framework must be 'jax', 'torch' or 'both', got {framework!r}")
    if devices > 1 and framework == "torch":
        raise ValueError(
            "--devices applies to JAX; for torch data parallel run "
            "`torchrun --nproc-per-node N --no-python lrtwin demo --framework torch`"
        )
    rank, world, device, joined = _torchrun(framework, devices, device)
    for n, what in ((devices, "--devices"), (world, "the number of torchrun processes")):
        if BATCH % n:
            raise ValueError(f"{what} ({n}) must divide the batch of {BATCH}")
    try:
        return _run(out, framework, quick, seed, device, devices, rank, world)
    finally:
        if joined:
            import torch.distributed as dist

            dist.destroy_process_group()


def _run(
    out: Path | None,
    framework: str,
    quick: bool,
    seed: int,
    device: str,
    devices: int,
    rank: int,
    world: int,
) -> int:
    import lrsched_jax as lrs
    from lrtwin.demo import report
    from lrtwin.demo.data import initial_weights
    from lrtwin.demo.finder import run_finder

    if world > 1:
        import torch.distributed as dist

        # Rank 0 names the folder (a timestamp by default); every rank reads its checkpoints.
        box = [str(_out_dir(out)) if rank == 0 else None]
        dist.broadcast_object_list(box, src=0)
        out = Path(box[0])
    else:
        out = _out_dir(out)
    say = print if rank == 0 else (lambda *a, **k: None)
    epochs = 6 if quick else 30
    data = load_digits()
    weights = initial_weights(seed)
    runners: list[Runner] = []
    if framework in ("jax", "both"):
        runners.append(JaxRunner(data, weights, seed, devices=devices))
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
    pictures = [report.zoo_figure(zoo, total, out / "schedule_zoo.png")] if rank == 0 else []

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
            r, "one-cycle (pipeline)", "adamw", one_cycle, epochs, checkpoint_dir=(out / "checkpoints" / fw)
        )
        h = pipeline[fw]
        say(
            f"{fw:>5} best checkpoint: epoch {h.best_epoch + 1}, val loss {h.best_val_loss:.4f}; reloaded: "
            f"val loss {h.reloaded_val_loss:.4f}, accuracy {h.reloaded_val_acc:.3f}"
        )
        histories += by_fw[fw] + [h]

    if rank != 0:
        return 0  # rank 0 writes the pictures and the summary
    pictures.append(report.fixed_vs_scheduled_figure(by_fw, out / "fixed_vs_scheduled.png"))
    pictures.append(report.finder_figure(finders, out / "finder.png"))
    pictures.append(report.pipeline_figure(pipeline, out / "pipeline.png"))

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
    md, js = report.write_summary(out, rows, meta, TARGET_ACC)
    (out / "history.json").write_text(json.dumps([h.__dict__ for h in histories], default=float, indent=1))
    print()
    print(report.markdown_table(rows, TARGET_ACC))
    print()
    for p in [*pictures, md, js, out / "history.json"]:
        print(f"wrote {p}")
    return 0
