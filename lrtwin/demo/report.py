"""The demo's pictures and summary table (matplotlib, Markdown, JSON)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from lrsched_jax.core.plots import plot_schedules, pyplot
from lrtwin.demo.runners import History

#: The summary's fields, in order (documented in the README).
SUMMARY_FIELDS = (
    "framework",
    "schedule",
    "optimizer",
    "final_val_loss",
    "final_val_acc",
    "best_val_acc",
    "steps_to_target",
    "wall_time_s",
    "first_epoch_s",
    "suggested_lr",
)


def zoo_figure(schedules: dict[str, Any], steps: int, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 5.5))
    plot_schedules(
        list(schedules.values()),
        steps,
        ax=ax,
        log=True,
        labels=list(schedules),
        title=f"The schedule zoo over {steps} updates (computed by lrtwin)",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def fixed_vs_scheduled_figure(
    runs: dict[str, list[History]], path: Path, title: str = "fixed vs scheduled learning rate (SGD)"
) -> Path:
    """One panel per framework, titled ``"<framework>: <title>"``: train (solid) and validation
    (dashed) loss per epoch."""
    plt = pyplot()
    fws = list(runs)
    fig, axes = plt.subplots(1, len(fws), figsize=(6.5 * len(fws), 4.5), squeeze=False, sharey=True)
    for ax, fw in zip(axes[0], fws):
        for i, h in enumerate(runs[fw]):
            color = f"C{i}"
            epochs = np.arange(1, len(h.train_loss) + 1)
            ax.plot(epochs, h.train_loss, color=color, label=f"{h.name} (train)")
            ax.plot(epochs, h.val_loss, color=color, linestyle="--", label=f"{h.name} (validation)")
        ax.set_title(f"{fw}: {title}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def finder_figure(results: dict[str, Any], path: Path) -> Path:
    """The LR finder's curve per framework, every rule's suggestion and the divergence point
    marked; all panels on one loss range (the union of the results' ``y_range()``), so the
    frameworks' curves compare by eye."""
    plt = pyplot()
    fws = list(results)
    ranges = [r for r in (results[fw].y_range() for fw in fws) if r is not None]
    ylim = (min(r[0] for r in ranges), max(r[1] for r in ranges)) if ranges else None
    fig, axes = plt.subplots(
        1, len(fws), figsize=(6.5 * len(fws), 4.5), squeeze=False, sharey=True, layout="constrained"
    )
    for ax, fw in zip(axes[0], fws):
        results[fw].plot(ax=ax, ylim=ylim)
        ax.set_title(f"{fw}: LR range test (AdamW)")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def pipeline_figure(
    runs: dict[str, History],
    path: Path,
    schedule: str = "one-cycle",
    suptitle: str = "Pipeline: finder → AdamW + one-cycle per batch → best checkpoint",
) -> Path:
    """Validation loss, validation accuracy and lr per epoch of the full pipeline (``schedule``
    names its lr panel, ``suptitle`` heads the figure)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for i, (fw, h) in enumerate(runs.items()):
        epochs = np.arange(1, len(h.val_loss) + 1)
        style = {"color": f"C{i}", "label": fw, "linestyle": "-" if i == 0 else "--"}
        axes[0].plot(epochs, h.val_loss, **style)
        axes[1].plot(epochs, h.val_acc, **style)
        steps = np.arange(len(h.step_lrs)) / h.steps_per_epoch
        axes[2].plot(steps, h.step_lrs, **style)
        if h.best_epoch is not None:
            axes[0].plot(
                [h.best_epoch + 1], [h.val_loss[h.best_epoch]], marker="*", markersize=12, color=f"C{i}"
            )
    starred = any(h.best_epoch is not None for h in runs.values())  # runs with checkpoints
    axes[0].set(
        title="validation loss" + (" (★ best checkpoint)" if starred else ""),
        xlabel="epoch",
        ylabel="cross-entropy loss",
        yscale="log",
    )
    axes[1].set(title="validation accuracy", xlabel="epoch", ylabel="accuracy")
    axes[2].set(
        title=f"learning rate ({schedule}, per update)", xlabel="epoch", ylabel="learning rate", yscale="log"
    )
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(suptitle)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


#: The run at the lr ``tune_lr`` chose (the pipeline's recipe otherwise).
TUNED = "one-cycle (tuned lr)"


def summary_rows(
    histories: list[History],
    optimizers: dict[str, str],
    suggested: dict[str, float],
    target: float,
    tuned: dict[str, float | None] | None = None,
) -> list[dict[str, Any]]:
    """One row per run; ``suggested_lr``: the lr an AdamW run peaked at — the finder's
    suggestion, or for the :data:`TUNED` run the tuner's choice (``tuned``, per framework)."""
    rows = []
    for h in histories:
        picked = (tuned or {}) if h.name == TUNED else suggested
        rows.append(
            {
                "framework": h.framework,
                "schedule": h.name,
                "optimizer": optimizers[h.name],
                "final_val_loss": h.val_loss[-1],
                "final_val_acc": h.val_acc[-1],
                "best_val_acc": max(h.val_acc),
                "steps_to_target": h.steps_to(target),
                "wall_time_s": h.wall_time,
                "first_epoch_s": h.first_epoch_time,
                "suggested_lr": picked.get(h.framework) if optimizers[h.name] == "adamw" else None,
            }
        )
    return rows


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.4g}"
    return str(v)


def markdown_table(rows: list[dict[str, Any]], target: float) -> str:
    head = [
        "framework",
        "schedule",
        "optimizer",
        "final val loss",
        "final val acc",
        "best val acc",
        f"steps to {target:.0%} acc",
        "wall time (s)",
        "of which epoch 1 (s)",
        "suggested lr",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r[k]) for k in SUMMARY_FIELDS) + " |")
    return "\n".join(lines)


def write_summary(
    out: Path, rows: list[dict[str, Any]], meta: dict[str, Any], target: float
) -> tuple[Path, Path]:
    md = out / "summary.md"
    md.write_text(
        "# lrtwin demo summary\n\n"
        f"Digits (8×8, {meta['n_train']} train / {meta['n_val']} validation), MLP 64-128-10, batch "
        f"{meta['batch']}, {meta['epochs']} epochs ({meta['steps_per_epoch']} updates each), "
        f"seed {meta['seed']}."
        + (
            f" Data parallel: {'; '.join(meta['data_parallel'])} (the same global batches)."
            if meta.get("data_parallel")
            else ""
        )
        + "\n\n"
        + markdown_table(rows, target)
        + "\n\nBoth frameworks start from the same weights and see the same batches. Wall time "
        "covers training and per-epoch evaluation; JAX's first epoch includes compiling the "
        "jitted epoch (once per schedule); torch runs one CPU thread. Steps to target: updates "
        "done when validation accuracy first reached it (checked after each epoch; — never). "
        "The one-cycle runs schedule the lr only: AdamW's β1 stays 0.9 in both frameworks, "
        "as in the article's recipe (torch's `OneCycleLR` would also cycle β1 0.95→0.85→0.95; "
        "`ScheduleLR(opt, lr, momentum=m)` and `optax.inject_hyperparams` with "
        '`from_torch(s, field="momentum")` do that). The suggested lr of "one-cycle (pipeline)" '
        'is the finder\'s; that of "one-cycle (tuned lr)" is what `tune_lr` chose by training short '
        "probes of the same recipe (its trials and cost: `summary.json`, `meta.tune`).\n"
    )
    js = out / "summary.json"
    js.write_text(json.dumps({"meta": meta, "target_accuracy": target, "rows": rows}, indent=2))
    return md, js
