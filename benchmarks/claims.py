"""The article's claims, measured in both frameworks with the schedule arena, on two tasks:
the digits MLP (SGD with momentum 0.9) and the LM demo's byte-level transformer (AdamW).

    python -m benchmarks.claims [--quick]

Per task and framework, the LR finder runs on every seed (digits ≥ 8 seeds, the LM 3;
``--quick``: 3 and 2) and the median of its suggestions is the lr. A fixed lr at that value
is compared with schedules that all peak at it — digits: step decay (×0.1 at 50% and 75% of
training), exponential decay (to 1/100 over training, per update), cosine, warm-up + cosine
(10% warm-up) and one-cycle; the LM: cosine, warm-up + cosine, warmup-stable-decay (1-sqrt
cool-down), inverse square root (10% warm-up each) and one-cycle — on the same network,
weights and batches, for a fixed budget of epochs: every (schedule, seed) member trained by
the arena — JAX: all members as one vmapped, jitted program (:func:`lrsched_jax.compare`);
torch: one member after another, torch's own optimizer driven by ``ScheduleLR``
(:func:`lrsched_torch.compare`, the article's way). Reported: updates until the validation
accuracy (next-byte accuracy for the LM; checked every ``eval_every`` updates, the arena's
default, several times per epoch) first reaches the target, median and spread over seeds,
and the speed-up against the fixed lr — then, plainly, whether "scheduling reduces training
time by 30–50%" and "one-cycle trains 2–3× faster" hold here — and the wall time each
framework took for all its members.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lrsched_jax as lrs
from benchmarks._common import section_command
from lrtwin.demo.data import initial_weights, load_digits
from lrtwin.demo.finder import run_finder
from lrtwin.demo.runners import BATCH, MOMENTUM, WEIGHT_DECAY, JaxRunner, Runner, TorchRunner

FIXED = "fixed (finder lr)"


def schedules(lr: float, total: int) -> dict[str, lrs.Schedule]:
    """The digits task's schedules, every one peaking at ``lr``."""
    return {
        FIXED: lrs.constant(lr),
        "step decay": lrs.multistep(lr, [total // 2, total * 3 // 4], 0.1),
        "exponential": lrs.exponential(lr, 0.01 ** (1.0 / total)),
        "cosine": lrs.cosine(lr, total),
        "warm-up + cosine": lrs.warmup_cosine(lr, total // 10, total),
        "one-cycle": lrs.one_cycle(lr, total),
    }


def lm_schedules(lr: float, total: int) -> dict[str, lrs.Schedule]:
    """The language model's: the fixed lr against the schedules transformers are trained
    with (10% warm-up each, as in the LM demo) and one-cycle, every one peaking at ``lr``."""
    warm = max(total // 10, 1)
    return {
        FIXED: lrs.constant(lr),
        "cosine": lrs.cosine(lr, total),
        "warm-up + cosine": lrs.warmup_cosine(lr, warm, total, min_lr=lr / 100),
        "warmup-stable-decay (1-sqrt)": lrs.warmup_stable_decay(
            lr, total, warm, max(total // 5, 1), "1-sqrt", lr / 100
        ),
        "inverse sqrt": lrs.inverse_sqrt(lr, warm),
        "one-cycle": lrs.one_cycle(lr, total),
    }


@dataclass(frozen=True)
class Task:
    """One workload of this section: its data, model, optimizer and finder in both
    frameworks, and its budget and target (``--quick``: the smaller of each pair)."""

    name: str
    describe: str
    data: Any
    epochs: int
    target: float
    make_schedules: Callable[[float, int], dict[str, lrs.Schedule]]
    jax_model: Callable[[int], Any]
    jax_optimizer: Callable[[float], Callable[[Any], Any]]
    jax_criterion: Any  # of (output, y); None: the arena's default cross-entropy
    torch_model: Callable[[int, Any], Any]
    torch_optimizer: Callable[[float], Callable[[Any], Any]]
    torch_criterion: Any
    finder: Callable[[str, int, str], float]


def _suggested(res: Any) -> float:
    """The finder's suggestion; a clear error when its loss never fell (no suggestion)."""
    if res.suggestion is None:
        raise RuntimeError(f"LR finder: no suggestion ({'; '.join(res.notes)})")
    return float(res.suggestion)


def digits_task(quick: bool) -> Task:
    import optax
    import torch

    from lrtwin.demo.data import flax_mlp, torch_mlp_from

    data = load_digits()

    def finder(fw: str, seed: int, device: str) -> float:
        weights = initial_weights(seed)
        runner: Runner = (
            JaxRunner(data, weights, seed) if fw == "jax" else TorchRunner(data, weights, seed, device=device)
        )
        return _suggested(run_finder(runner, num_iter=100, optimizer="momentum", progress=False))

    return Task(
        name="digits",
        describe="Digits MLP, SGD momentum 0.9",
        data=data,
        epochs=5 if quick else 20,
        target=0.9 if quick else 0.95,
        make_schedules=schedules,
        jax_model=lambda s: flax_mlp(initial_weights(s)),
        jax_optimizer=lambda lr: lambda sched: optax.sgd(sched, momentum=MOMENTUM),
        jax_criterion=None,
        torch_model=lambda s, dev: torch_mlp_from(initial_weights(s)),
        torch_optimizer=lambda lr: lambda p: torch.optim.SGD(p, lr=lr, momentum=MOMENTUM),
        torch_criterion=None,
        finder=finder,
    )


def lm_task(quick: bool) -> Task:
    """The LM demo's byte-level transformer on the standard library's text, AdamW.
    ``--quick``: the first 8 batches of windows, 2 epochs."""
    import dataclasses

    import optax
    import torch

    from lrtwin.demo import lm

    cfg = lm.LMConfig()
    data = lm.load_text(cfg.context)
    if quick:
        n = 8 * BATCH
        data = dataclasses.replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n])

    def finder(fw: str, seed: int, device: str) -> float:
        weights = lm.lm_weights(cfg, seed)
        runner: Runner = (
            lm.JaxLMRunner(data, weights, seed, cfg)
            if fw == "jax"
            else lm.TorchLMRunner(data, weights, seed, cfg, device=device)
        )
        return _suggested(lm.lm_finder(runner, num_iter=20 if quick else 100, progress=False))

    return Task(
        name="lm",
        describe=f"Byte-level transformer ({cfg.layers} layers, d_model {cfg.d_model}), AdamW",
        data=data,
        epochs=2 if quick else 3,
        target=0.2 if quick else 0.35,
        make_schedules=lm_schedules,
        jax_model=lambda s: lm.flax_lm_from(lm.lm_weights(cfg, s), cfg),
        jax_optimizer=lambda lr: lambda sched: optax.adamw(sched, weight_decay=WEIGHT_DECAY),
        jax_criterion=None,  # optax's cross-entropy is per position: the default is the LM's
        torch_model=lambda s, dev: lm.torch_lm_from(lm.lm_weights(cfg, s), cfg, dev),
        torch_optimizer=lambda lr: lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=WEIGHT_DECAY),
        torch_criterion=lm.torch_lm_loss,  # F.cross_entropy wants the classes on dim 1
        finder=finder,
    )


def _arena(task: Task, framework: str, lr: float, seeds: list[int], device: str) -> Any:
    """Every (schedule, seed) member of one framework, trained by the arena."""
    data = task.data
    steps = len(data.x_train) // BATCH
    sched = task.make_schedules(lr, task.epochs * steps)
    kw: dict[str, Any] = {"batch_size": BATCH, "target": task.target, "baseline": FIXED}
    if framework == "jax":
        if task.jax_criterion is not None:
            kw["criterion"] = task.jax_criterion
        return lrs.compare(
            task.jax_model,
            task.jax_optimizer(lr),
            (data.x_train, data.y_train),
            (data.x_val, data.y_val),
            sched,
            seeds,
            task.epochs,
            **kw,
        )
    import torch

    from lrsched_torch import compare

    if task.torch_criterion is not None:
        kw["criterion"] = task.torch_criterion
    dev = torch.device(device)
    return compare(
        lambda s: task.torch_model(s, dev),
        task.torch_optimizer(lr),
        (torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)),
        (torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)),
        sched,
        seeds,
        task.epochs,
        sequential=True,
        device=dev,
        **kw,
    )


def run_task(task: Task, seeds: list[int], device: str) -> dict[str, Any]:
    """Per framework: the finder on every seed, its median as the lr, then the arena."""
    runs: list[dict[str, Any]] = []
    arena: dict[str, Any] = {}
    for fw in ("jax", "torch"):
        suggestions = [task.finder(fw, seed, device) for seed in seeds]
        lr = statistics.median(suggestions)
        t0 = time.perf_counter()
        res = _arena(task, fw, lr, seeds, device)
        arena[fw] = {
            "lr": lr,
            "finder_suggestions": suggestions,
            "how": res.how,
            "members": len(res.members),
            "wall_s": time.perf_counter() - t0,
            "compile_s": res.compile_s,
            "train_s": res.train_s,
            "eval_every": res.eval_every,
        }
        for m in res.members:
            runs.append(
                {
                    "seed": m.seed,
                    "framework": fw,
                    "schedule": m.schedule,
                    "lr": lr,
                    "steps_to_target": m.steps_to_target,
                    # a member's own time only where members train one after another
                    "time_to_target_s": m.seconds_to_target if res.how == "sequential" else None,
                    "final_val_acc": m.final_val_metric,
                    "best_val_acc": max(m.val_metric),
                    "val_acc": list(m.val_metric),
                }
            )
        arena[fw]["verdicts"] = res.verdicts
    return {
        "describe": task.describe,
        "seeds": seeds,
        "epochs": task.epochs,
        "steps_per_epoch": len(task.data.x_train) // BATCH,
        "target_accuracy": task.target,
        "arena": arena,
        "runs": runs,
        "summary": summarise(arena),
    }


def run(quick: bool = False, device: str = "cpu") -> dict[str, Any]:
    """Both tasks: the digits (≥ 8 seeds; ``--quick`` 3) and the language model (3 seeds;
    ``--quick`` 2)."""
    return {
        "digits": run_task(digits_task(quick), list(range(3 if quick else 8)), device),
        "lm": run_task(lm_task(quick), list(range(2 if quick else 3)), device),
    }


def summarise(arena: dict[str, Any]) -> dict[str, Any]:
    """The arena's verdict rows, per framework, in this table's terms (a run that never
    reached the target is censored: no median and no speed-up unless every seed got there)."""
    out: dict[str, Any] = {}
    for fw, a in arena.items():
        rows = {}
        for name, v in a["verdicts"].items():
            st, sp, fm = v["steps_to_target"], v["speedup_vs_baseline"], v["final_val_metric"]
            reached = v["steps_to_target_reached"]
            rows[name] = {
                "reached": v["reached"],
                "steps_median": None if st is None else st["median"],
                "steps_min": None if reached is None else int(reached["min"]),
                "steps_max": None if reached is None else int(reached["max"]),
                "final_acc_median": fm["median"],
                "speedup_vs_fixed_median": None if sp is None else sp["median"],
                "speedup_vs_fixed_min": None if sp is None else sp["min"],
                "speedup_vs_fixed_max": None if sp is None else sp["max"],
            }
        out[fw] = rows
    out["verdict"] = verdict(out)
    return out


def verdict(summary: dict[str, Any]) -> list[str]:
    lines = []
    for fw, rows in summary.items():
        if fw == "verdict":
            continue
        sched = {k: v for k, v in rows.items() if k != FIXED}
        cuts = {
            k: 1 - 1 / v["speedup_vs_fixed_median"] for k, v in sched.items() if v["speedup_vs_fixed_median"]
        }
        if cuts:
            lo, hi = min(cuts.values()), max(cuts.values())
            inside = [k for k, c in cuts.items() if 0.3 <= c <= 0.5]
            lines.append(
                f"{fw}: scheduling changes the updates needed to reach the target by "
                f"{-hi:+.0%} to {-lo:+.0%} against the fixed lr (negative = fewer); the claimed 30–50% cut "
                + (f"holds for {', '.join(inside)}." if inside else "holds for none of the schedules.")
            )
        oc = rows.get("one-cycle", {}).get("speedup_vs_fixed_median")
        if oc is not None:
            holds = "holds" if 2 <= oc <= 3 else ("is exceeded" if oc > 3 else "does not hold")
            lines.append(
                f"{fw}: one-cycle reaches the target {oc:.2f}× as fast as the fixed lr; "
                f"'2–3× faster' {holds}."
            )
        else:
            lines.append(f"{fw}: one-cycle or the fixed lr did not reach the target in every seed.")
    return lines


def table(result: dict[str, Any]) -> str:
    return "\n\n".join(task_table(name, t) for name, t in result.items())


def _checked(arena: dict[str, Any], steps: int) -> str:
    """How often the target was checked (results written before ``eval_every`` was recorded
    were checked once per epoch)."""
    every = arena.get("eval_every", steps)
    if every >= steps:
        return f"checked after every epoch of {steps} updates"
    return f"checked every {every} updates and at the end of every epoch of {steps}"


def task_table(name: str, result: dict[str, Any]) -> str:
    a = result["arena"]
    accuracy = "validation accuracy" if name == "digits" else "next-byte validation accuracy"
    lines = [
        f"**{name}** — {result['describe']}, {result['epochs']} epochs, seeds {result['seeds']}, target "
        f"{accuracy} {result['target_accuracy']:.0%} ({_checked(a['jax'], result['steps_per_epoch'])}); "
        "lr = the median of the finder's suggestions over the "
        f"seeds (jax {a['jax']['lr']:.3g}, torch {a['torch']['lr']:.3g}). "
        "A speed-up is given only when every seed reached the target with both schedules.",
        "",
        f"All {a['jax']['members']} members: JAX one program {a['jax']['wall_s']:.1f} s (compilation "
        f"{a['jax']['compile_s']:.1f} s), torch one member after another {a['torch']['wall_s']:.1f} s.",
        "",
        "| framework | schedule | reached | updates to target, median (min–max) "
        "| speed-up vs fixed, median (min–max) | final acc |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for fw, rows in result["summary"].items():
        if fw == "verdict":
            continue
        for name, r in rows.items():
            steps = (
                "—"
                if r["steps_median"] is None
                else f"{r['steps_median']:.0f} ({r['steps_min']}–{r['steps_max']})"
            )
            sp = (
                "—"
                if r["speedup_vs_fixed_median"] is None
                else f"{r['speedup_vs_fixed_median']:.2f}× "
                f"({r['speedup_vs_fixed_min']:.2f}–{r['speedup_vs_fixed_max']:.2f})"
            )
            lines.append(f"| {fw} | {name} | {r['reached']} | {steps} | {sp} | {r['final_acc_median']:.3f} |")
    lines.append("")
    lines += [f"- {v}" for v in result["summary"]["verdict"]]
    return "\n".join(lines)


#: ``python -m benchmarks.claims``: this section alone.
main = section_command(__doc__, run, table)


if __name__ == "__main__":
    sys.exit(main())
