"""The article's claims, measured on the digits data in both frameworks, with the schedule arena.

    python -m benchmarks.claims [--quick]

Per framework, the LR finder (SGD with momentum 0.9) runs on every seed (≥ 8; ``--quick``:
3) and the median of its suggestions is the lr. A fixed lr at that value is compared with
step decay (×0.1 at 50% and 75% of training), exponential decay (to 1/100 over training, per
update), cosine, warm-up + cosine (10% warm-up) and one-cycle, all with that lr as their peak,
on the same network, weights and batches, for a fixed budget of epochs: every
(schedule, seed) member trained by the arena — JAX: all members as one vmapped, jitted
program (:func:`lrsched_jax.compare`); torch: one member after another, torch's own SGD
driven by ``ScheduleLR`` (:func:`lrsched_torch.compare`, the article's way). Reported:
updates until the validation accuracy (checked after every epoch) first reaches the target,
median and spread over seeds, and the speed-up against the fixed lr — then, plainly,
whether "scheduling reduces training time by 30–50%" and "one-cycle trains 2–3× faster"
hold here — and the wall time each framework took for all its members.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import lrsched_jax as lrs
from benchmarks._common import section_main
from lrtwin.demo.data import initial_weights, load_digits
from lrtwin.demo.finder import run_finder
from lrtwin.demo.runners import BATCH, MOMENTUM, JaxRunner, Runner, TorchRunner

FIXED = "fixed (finder lr)"


def schedules(lr: float, total: int) -> dict[str, lrs.Schedule]:
    return {
        FIXED: lrs.constant(lr),
        "step decay": lrs.multistep(lr, [total // 2, total * 3 // 4], 0.1),
        "exponential": lrs.exponential(lr, 0.01 ** (1.0 / total)),
        "cosine": lrs.cosine(lr, total),
        "warm-up + cosine": lrs.warmup_cosine(lr, total // 10, total),
        "one-cycle": lrs.one_cycle(lr, total),
    }


def _arena(
    framework: str, data: Any, lr: float, seeds: list[int], epochs: int, target: float, device: str
) -> Any:
    """Every (schedule, seed) member of one framework, trained by the arena."""
    steps = len(data.x_train) // BATCH
    sched = schedules(lr, epochs * steps)
    weights = {s: initial_weights(s) for s in seeds}
    kw: dict[str, Any] = {"batch_size": BATCH, "target": target, "baseline": FIXED}
    if framework == "jax":
        import optax

        from lrtwin.demo.data import flax_mlp

        return lrs.compare(
            lambda s: flax_mlp(weights[s]),
            lambda lr_: optax.sgd(lr_, momentum=MOMENTUM),
            (data.x_train, data.y_train),
            (data.x_val, data.y_val),
            sched,
            seeds,
            epochs,
            **kw,
        )
    import torch

    from lrsched_torch import compare
    from lrtwin.demo.data import torch_mlp_from

    dev = torch.device(device)
    return compare(
        lambda s: torch_mlp_from(weights[s]),
        lambda p: torch.optim.SGD(p, lr=lr, momentum=MOMENTUM),
        (torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)),
        (torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)),
        sched,
        seeds,
        epochs,
        sequential=True,
        device=dev,
        **kw,
    )


def run(quick: bool = False, device: str = "cpu") -> dict[str, Any]:
    seeds = list(range(3)) if quick else list(range(8))
    epochs = 5 if quick else 20
    target = 0.9 if quick else 0.95
    data = load_digits()
    runs: list[dict[str, Any]] = []
    arena: dict[str, Any] = {}
    for fw in ("jax", "torch"):
        suggestions = []
        for seed in seeds:
            weights = initial_weights(seed)
            runner: Runner = (
                JaxRunner(data, weights, seed)
                if fw == "jax"
                else TorchRunner(data, weights, seed, device=device)
            )
            found = run_finder(runner, num_iter=100, optimizer="momentum", progress=False)
            suggestions.append(float(found.suggestion))
        lr = statistics.median(suggestions)
        t0 = time.perf_counter()
        res = _arena(fw, data, lr, seeds, epochs, target, device)
        arena[fw] = {
            "lr": lr,
            "finder_suggestions": suggestions,
            "how": res.how,
            "members": len(res.members),
            "wall_s": time.perf_counter() - t0,
            "compile_s": res.compile_s,
            "train_s": res.train_s,
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
                }
            )
        arena[fw]["verdicts"] = res.verdicts
    return {
        "seeds": seeds,
        "epochs": epochs,
        "target_accuracy": target,
        "arena": arena,
        "runs": runs,
        "summary": summarise(arena),
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
    a = result["arena"]
    lines = [
        f"Digits, SGD momentum 0.9, {result['epochs']} epochs, seeds {result['seeds']}, target validation "
        f"accuracy {result['target_accuracy']:.0%} (checked after every epoch of 44 updates); lr = the "
        "median of the finder's suggestions over the seeds "
        f"(jax {a['jax']['lr']:.3g}, torch {a['torch']['lr']:.3g}). "
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


def main(argv: list[str] | None = None) -> int:
    return section_main(__doc__, run, table, argv)


if __name__ == "__main__":
    sys.exit(main())
