"""``lrsched demo``: the article, end to end, in JAX and torch on real data.

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
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from lrsched_jax.demo.data import load_digits
from lrsched_jax.demo.runners import BATCH, History, JaxRunner, Runner, TorchRunner

__all__ = ["run_demo"]

TARGET_ACC = 0.9


def _out_dir(out: Path | None) -> Path:
    if out is None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path.cwd() / f"lrsched-demo-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _progress(total: int, desc: str) -> tuple[Any, Any]:
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="epoch", leave=True)

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
    bar, update = _progress(epochs, f"{runner.framework:>5} {name}")
    try:
        return runner.train(name, optimizer, schedule, epochs, progress=update, **kw)
    finally:
        bar.close()


def run_demo(
    out: Path | None = None, framework: str = "both", quick: bool = False, seed: int = 0, device: str = "cpu"
) -> int:
    """Run the demo; write PNGs, ``summary.md``, ``summary.json`` and ``history.json`` to ``out``."""

    import lrsched_jax as lrs
    from lrsched_jax.demo import report
    from lrsched_jax.demo.data import initial_weights
    from lrsched_jax.demo.finder import run_finder

    if framework not in ("jax", "torch", "both"):
        raise ValueError(f"framework must be 'jax', 'torch' or 'both', got {framework!r}")
    out = _out_dir(out)
    epochs = 6 if quick else 30
    data = load_digits()
    weights = initial_weights(seed)
    runners: list[Runner] = []
    if framework in ("jax", "both"):
        runners.append(JaxRunner(data, weights, seed))
    if framework in ("torch", "both"):
        runners.append(TorchRunner(data, weights, seed, device=device))
    spe = runners[0].steps_per_epoch
    total = epochs * spe
    print(
        f"lrsched demo → {out}  ({len(data.x_train)} train / {len(data.x_val)} validation digits, "
        f"{epochs} epochs × {spe} updates, seed {seed})"
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
    pictures = [report.zoo_figure(zoo, total, out / "schedule_zoo.png")]

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
        print(
            f"{fw:>5} LR finder: suggestions "
            + ", ".join(f"{k}={v:.3g}" for k, v in finders[fw].suggestions.items() if v is not None)
            + f"; pipeline max lr ({finders[fw].rule}) = {suggested[fw]:.3g}"
        )
        one_cycle = lrs.one_cycle(suggested[fw], total)
        pipeline[fw] = _train(
            r, "one-cycle (pipeline)", "adamw", one_cycle, epochs, checkpoint_dir=(out / "checkpoints" / fw)
        )
        h = pipeline[fw]
        print(
            f"{fw:>5} best checkpoint: epoch {h.best_epoch + 1}, val loss {h.best_val_loss:.4f}; reloaded: "
            f"val loss {h.reloaded_val_loss:.4f}, accuracy {h.reloaded_val_acc:.3f}"
        )
        histories += by_fw[fw] + [h]

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
