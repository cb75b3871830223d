"""The schedule arena's speed: all (schedule, seed) members as one JAX program, measured side
by side with the other ways of training the same members.

    python -m benchmarks.arena [--quick] [--device cpu|gpu|auto]

(a) **Whole commands**, at the default size (8 schedules × 8 seeds, 30 epochs of the digits
MLP; ``--quick``: 8 × 3, 5 epochs), each a fresh process, interleaved repeats:
``lrtwin compare`` (JAX, one program) against ``lrtwin compare --framework torch
--sequential`` (torch eager, one member after another: the article's way and
``benchmarks/claims.py``'s before the arena), and ``--framework torch`` (torch.func, all
members in one eager loop). Start-up, data loading, JAX's compilation and the outputs
included; the commands' own split (compile / training) is read from their output.

(b) **The fairest JAX sequential**: in one process, the same members trained one at a time
by one compiled single-member program reused for all of them, against the one-program run
(``scan`` over each epoch) and against the one-program run dispatching one update at a time
(``path="steps"``). The figure of merit is ``one program (compile + training) / (sequential
training + its one compilation)``.

(c) **Scaling**: 1 to 64 members (the eight schedules, then more seeds), each size in its own
process: compilation, training, the compiled epoch program's bytes (XLA's memory analysis)
and the process's peak RSS.

(d) **Members sharded over devices**: in one process with 4 forced host devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``), the same members on 1 device and
sharded over 4 (``devices=4``), interleaved: the split gains only where there are idle cores
or accelerators to give the devices.

(e) **The evaluation's cost**: ``--quick``'s 24 members (15 epochs), the validation set
evaluated every ``eval_every`` updates (1, 4, the default 12, 22 and 44 = once per epoch),
interleaved; an epoch's CPU and wall time, and how many members' updates-to-target fall
between epoch ends.

(f) **On a GPU**, where one is present (JAX and torch each): ``lrtwin compare`` and
``lrtwin compare --framework torch`` with ``--device gpu`` beside the CPU commands of (a);
otherwise skipped, with the commands' own message saying why.

The machine's load average is recorded before and after: ratios are measured side by side,
times are only as good as the load allows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import section_command, spread

ROOT = Path(__file__).resolve().parents[1]

SCALING = [1, 2, 4, 8, 16, 32, 64]

_WORKER = """
import json, sys, time
import optax
from lrsched_jax.arena import compare
from lrtwin.compare import BATCH, default_schedules, flax_mlp, numpy_weights
from lrtwin.demo.data import load_digits
members, epochs = int(sys.argv[1]), int(sys.argv[2])
data = load_digits()
steps = len(data.x_train) // BATCH
sched = default_schedules(0.05, epochs * steps)
names = list(sched)[: min(members, len(sched))]
seeds = list(range(max(1, members // len(names))))
assert len(names) * len(seeds) == members

def rss_mb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field)) / 1024

before = rss_mb("VmRSS:")
res = compare(
    lambda s: flax_mlp(numpy_weights(s)), lambda lr: optax.sgd(lr, momentum=0.9),
    (data.x_train, data.y_train), (data.x_val, data.y_val), {n: sched[n] for n in names}, seeds, epochs,
    batch_size=BATCH, target=0.97,
)
print(json.dumps({"members": members, "compile_s": res.compile_s, "train_s": res.train_s,
                  "program_bytes": res.program_bytes,
                  "rss_before_mb": before, "peak_rss_mb": rss_mb("VmHWM:")}))
"""


_SHARDED = """
import json, sys
import jax, optax
from lrsched_jax.arena import compare
from lrtwin.compare import BATCH, default_schedules, flax_mlp, numpy_weights
from lrtwin.demo.data import load_digits
seeds, epochs, repeats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
assert jax.device_count() == 4, jax.devices()
data = load_digits()
sched = default_schedules(0.05, epochs * (len(data.x_train) // BATCH))
weights = {s: numpy_weights(s) for s in range(seeds)}
out = {"1": [], "4": []}
for r in range(repeats):
    for n in (["1", "4"] if r % 2 == 0 else ["4", "1"]):
        res = compare(
            lambda s: flax_mlp(weights[s]), lambda lr: optax.sgd(lr, momentum=0.9),
            (data.x_train, data.y_train), (data.x_val, data.y_val), sched, list(range(seeds)), epochs,
            batch_size=BATCH, target=0.97, devices=None if n == "1" else 4,
        )
        out[n].append({"compile_s": res.compile_s, "train_s": res.train_s, "devices": res.devices,
                       "steps": [m.steps_to_target for m in res.members]})
print(json.dumps(out))
"""


def sharded(quick: bool, repeats: int) -> dict[str, Any]:
    """(d): the members on 1 device and over 4 forced host devices, in one process."""
    seeds, epochs = (3, 5) if quick else (8, 30)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4".strip()
    proc = subprocess.run(
        [sys.executable, "-c", _SHARDED, str(seeds), str(epochs), str(repeats)],
        cwd=ROOT, capture_output=True, text=True, timeout=3600, env=env,
    )  # fmt: skip
    if proc.returncode:
        raise RuntimeError(f"sharded worker failed: {proc.stderr[-2000:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    one, four = got["1"], got["4"]
    return {
        "members": 8 * seeds,
        "epochs": epochs,
        "rows": {
            n: {
                "compile_s": spread([x["compile_s"] for x in rs]),
                "train_s": spread([x["train_s"] for x in rs]),
            }
            for n, rs in got.items()
        },
        "speedup_train": spread([a["train_s"] / b["train_s"] for a, b in zip(one, four)]),
        "same_decisions": all(a["steps"] == b["steps"] for a, b in zip(one, four)),
    }


def _digits_compare(data: Any, weights: dict[int, Any], sched: Any, epochs: int, **kw: Any) -> Any:
    """The JAX arena on the digits MLP with SGD-momentum 0.9, batches of 32: a member per
    schedule and seed (``weights``: each seed's initial weights)."""
    import optax

    from lrsched_jax.arena import compare
    from lrtwin.compare import BATCH, flax_mlp

    seeds = list(weights)
    return compare(
        lambda s: flax_mlp(weights[s]), lambda lr: optax.sgd(lr, momentum=0.9), (data.x_train, data.y_train),
        (data.x_val, data.y_val), sched, seeds, epochs, batch_size=BATCH, **kw,
    )  # fmt: skip


def eval_cost(quick: bool, repeats: int) -> dict[str, Any]:
    """(e): the time of an epoch against the evaluation interval (``--quick``'s members), as
    wall time and as this process's CPU time, read at the progress callback after every epoch
    (the epochs after the first: compilation and warm-up left out). CPU time is what the work
    costs; wall time adds waiting for the cores when other processes share them."""

    from lrtwin.compare import BATCH, default_schedules, numpy_weights
    from lrtwin.demo.data import load_digits

    seeds, epochs, target = [0, 1, 2], 5 if quick else 15, 0.9
    values = [12, 44] if quick else [1, 4, 12, 22, 44]
    data = load_digits()
    steps = len(data.x_train) // BATCH
    sched = default_schedules(0.05, epochs * steps)
    weights = {s: numpy_weights(s) for s in seeds}
    runs: dict[int, list[tuple[float, float, Any]]] = {v: [] for v in values}
    for r in range(repeats):
        for v in values[r % len(values) :] + values[: r % len(values)]:
            marks: list[tuple[float, float]] = []

            def mark(done: int, total: int, marks: list[tuple[float, float]] = marks) -> None:
                marks.append((time.perf_counter(), time.process_time()))

            res = _digits_compare(data, weights, sched, epochs, target=target, eval_every=v, progress=mark)
            n = len(marks) - 1
            runs[v].append(((marks[-1][0] - marks[0][0]) / n, (marks[-1][1] - marks[0][1]) / n, res))
    once = runs[44]
    rows = {}
    for v, rs in runs.items():
        first = [m.steps_to_target for m in rs[0][2].members]
        rows[str(v)] = {
            "evals_per_epoch": len(rs[0][2].eval_steps) // epochs,
            "epoch_wall_ms": spread([1e3 * x[0] for x in rs]),
            "epoch_cpu_ms": spread([1e3 * x[1] for x in rs]),
            "cpu_vs_once_per_epoch": spread([x[1] / o[1] for x, o in zip(rs, once)]),
            "wall_vs_once_per_epoch": spread([x[0] / o[0] for x, o in zip(rs, once)]),
            "between_epoch_ends": sum(s is not None and s % steps != 0 for s in first),
            "reached": sum(s is not None for s in first),
        }
    # One evaluation's CPU time: the slope between the most and the fewest evaluations.
    lo, hi = rows[str(values[-1])], rows[str(values[0])]
    per_eval = (hi["epoch_cpu_ms"]["median"] - lo["epoch_cpu_ms"]["median"]) / (
        hi["evals_per_epoch"] - lo["evals_per_epoch"]
    )
    return {
        "members": 8 * len(seeds),
        "epochs": epochs,
        "target": target,
        "rows": rows,
        "eval_cpu_ms": per_eval,
    }


def gpu(quick: bool, repeats: int) -> dict[str, Any]:
    """(f): the commands of (a) on a GPU where JAX or torch has one; else why not."""
    size = ["--quick"] if quick else []
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    out: dict[str, Any] = {"rows": {}, "skipped": {}}
    for name, args in (("jax one program", []), ("torch.func one loop", ["--framework", "torch"])):
        try:
            rs = [_command([*size, *args], "gpu", env) for _ in range(repeats)]
        except _RefusedError as e:
            out["skipped"][name] = str(e)
            continue
        out["rows"][name] = {k: spread([x[k] for x in rs]) for k in ("wall_s", "compile_s", "train_s")}
    return out


class _RefusedError(RuntimeError):
    """The command refused the device (exit 2): the message says why."""


def _cli_device(torch_device: str) -> str:
    return "gpu" if torch_device.startswith("cuda") else "cpu"


def _command(args: list[str], device: str, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run one ``lrtwin compare`` in a fresh process; its wall time and its own split
    (``_RefusedError`` with its message where it refuses the device)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "lrtwin.cli", "compare", "--no-progress", "--device", device]
        cmd += [*args, "--out", str(Path(tmp) / "out")]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600, env=env)
        wall = time.perf_counter() - t0
    if proc.returncode == 2 and "--device" in proc.stderr:
        raise _RefusedError(proc.stderr.strip().splitlines()[-1])
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    m = re.search(r"(?:compile ([\d.]+) s, )?training ([\d.]+) s.*?, in all ([\d.]+) s", proc.stdout)
    assert m, proc.stdout[-2000:]
    compile_s, train_s, inside = (float(v or 0.0) for v in m.groups())
    return {"wall_s": wall, "compile_s": compile_s, "train_s": train_s, "outside_s": wall - inside}


def whole_commands(quick: bool, device: str, repeats: int) -> dict[str, Any]:
    size = ["--quick"] if quick else []
    contenders = {
        "jax one program": [*size],
        "torch sequential (eager)": [*size, "--framework", "torch", "--sequential"],
        "torch.func one loop": [*size, "--framework", "torch"],
    }
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in contenders}
    names = list(contenders)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            runs[name].append(_command(contenders[name], device))
    base = runs["jax one program"]
    out: dict[str, Any] = {"members": 24 if quick else 64, "epochs": 5 if quick else 30, "rows": {}}
    for name, rs in runs.items():
        out["rows"][name] = {
            key: spread([x[key] for x in rs]) for key in ("wall_s", "compile_s", "train_s", "outside_s")
        }
        out["rows"][name]["vs_jax_wall"] = spread([x["wall_s"] / b["wall_s"] for x, b in zip(rs, base)])
    return out


def fair_sequential(quick: bool, repeats: int) -> dict[str, Any]:

    from lrtwin.compare import BATCH, default_schedules, numpy_weights
    from lrtwin.demo.data import load_digits

    seeds, epochs = (list(range(3)), 5) if quick else (list(range(8)), 30)
    data = load_digits()
    sched = default_schedules(0.05, epochs * (len(data.x_train) // BATCH))
    weights = {s: numpy_weights(s) for s in seeds}

    def go(**kw: Any) -> Any:
        return _digits_compare(data, weights, sched, epochs, target=0.97, **kw)

    contenders: dict[str, dict[str, Any]] = {
        "one program (scan)": {},
        "one program (per-step dispatch)": {"path": "steps"},
        "sequential (one compiled program reused)": {"sequential": True},
    }
    runs: dict[str, list[Any]] = {k: [] for k in contenders}
    names = list(contenders)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            runs[name].append(go(**contenders[name]))
    one, seq = runs["one program (scan)"], runs["sequential (one compiled program reused)"]
    rows = {
        name: {
            "compile_s": spread([x.compile_s for x in rs]),
            "train_s": spread([x.train_s for x in rs]),
        }
        for name, rs in runs.items()
    }
    # Same members: the decisions of the one program and of the sequential run.
    same = sum(a.steps_to_target == b.steps_to_target for a, b in zip(one[0].members, seq[0].members)) / len(
        one[0].members
    )
    return {
        "members": len(one[0].members),
        "epochs": epochs,
        "rows": rows,
        "one_vs_seq_total": spread(
            [(a.compile_s + a.train_s) / (b.compile_s + b.train_s) for a, b in zip(one, seq)]
        ),
        "one_vs_seq_train": spread([a.train_s / b.train_s for a, b in zip(one, seq)]),
        "steps_vs_scan_train": spread(
            [a.train_s / b.train_s for a, b in zip(runs["one program (per-step dispatch)"], one)]
        ),
        "same_decisions_fraction": same,
    }


def scaling(quick: bool, repeats: int) -> dict[str, Any]:
    sizes = [1, 8, 24] if quick else SCALING
    epochs = 5 if quick else 30
    rows = []
    for m in sizes:
        got = []
        for _ in range(repeats):
            proc = subprocess.run(
                [sys.executable, "-c", _WORKER, str(m), str(epochs)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=1800,
                env={**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")},
            )
            if proc.returncode:
                raise RuntimeError(f"scaling worker ({m} members) failed: {proc.stderr[-2000:]}")
            got.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        rows.append(
            {
                "members": m,
                "compile_s": spread([g["compile_s"] for g in got]),
                "train_s": spread([g["train_s"] for g in got]),
                "train_per_member_s": spread([g["train_s"] / m for g in got]),
                "program_mb": got[0]["program_bytes"] / 2**20 if got[0]["program_bytes"] else None,
                "peak_rss_mb": spread([g["peak_rss_mb"] for g in got]),
                # the peak over what the process held when compare started (JAX, data, models)
                "rss_growth_mb": spread([g["peak_rss_mb"] - g["rss_before_mb"] for g in got]),
            }
        )
    return {"epochs": epochs, "rows": rows}


def run(quick: bool = False, device: str = "cpu") -> dict[str, Any]:
    load_before = os.getloadavg()
    cli_device = _cli_device(device)
    if cli_device == "cpu":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    out: dict[str, Any] = {
        "device": cli_device,
        "cpu_count": os.cpu_count(),
        "whole_commands": whole_commands(quick, cli_device, 1 if quick else 3),
        "fair_sequential": fair_sequential(quick, 1 if quick else 3),
        "scaling": scaling(quick, 1 if quick else 2),
        "sharded": sharded(quick, 1 if quick else 3),
        "eval_cost": eval_cost(quick, 1 if quick else 3),
        "gpu": gpu(quick, 1 if quick else 3),
    }
    out["load_before"] = list(load_before)
    out["load_after"] = list(os.getloadavg())
    return out


def _t(s: dict[str, float]) -> str:
    return f"{s['median']:.2f} ({s['min']:.2f}–{s['max']:.2f})"


def table(result: dict[str, Any]) -> str:
    a, b, c = result["whole_commands"], result["fair_sequential"], result["scaling"]
    lb, la = result["load_before"], result["load_after"]
    lines = [
        f"Device {result['device']}, {result['cpu_count']} cores; load average (1, 5, 15 min) "
        f"{lb[0]:.1f}/{lb[1]:.1f}/{lb[2]:.1f} before, {la[0]:.1f}/{la[1]:.1f}/{la[2]:.1f} after. "
        "Seconds, median (min–max) over interleaved repeats.",
        "",
        f"**(a) Whole commands**, {a['members']} members × {a['epochs']} epochs (start-up, data, "
        "compilation and outputs included):",
        "",
        "| command | wall (s) | compile (s) | training (s) | start-up + outputs (s) "
        "| wall ÷ JAX one program |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in a["rows"].items():
        lines.append(
            f"| {name} | {_t(r['wall_s'])} | {_t(r['compile_s'])} | {_t(r['train_s'])} | "
            f"{_t(r['outside_s'])} | {_t(r['vs_jax_wall'])}× |"
        )
    lines += [
        "",
        f"**(b) Against the fairest JAX sequential**, {b['members']} members × {b['epochs']} epochs, "
        "one process:",
        "",
        "| run | compile (s) | training (s) |",
        "| --- | ---: | ---: |",
    ]
    for name, r in b["rows"].items():
        lines.append(f"| {name} | {_t(r['compile_s'])} | {_t(r['train_s'])} |")
    lines += [
        "",
        f"- one program (compile + training) ÷ sequential (compile + training): "
        f"{_t(b['one_vs_seq_total'])} (target ≤ 1.2)",
        f"- training alone, one program ÷ sequential: {_t(b['one_vs_seq_train'])}; per-step dispatch ÷ "
        f"scan: {_t(b['steps_vs_scan_train'])}",
        f"- members with the same steps to target in both runs: {b['same_decisions_fraction']:.0%}",
        "",
        f"**(c) Scaling**, {c['epochs']} epochs, one process per size:",
        "",
        "| members | compile (s) | training (s) | training per member (s) | epoch program (MiB) "
        "| peak RSS (MiB) | peak RSS − RSS before compare (MiB) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in c["rows"]:
        mb = "—" if r["program_mb"] is None else f"{r['program_mb']:.1f}"
        lines.append(
            f"| {r['members']} | {_t(r['compile_s'])} | {_t(r['train_s'])} | "
            f"{r['train_per_member_s']['median']:.3f} | {mb} | {r['peak_rss_mb']['median']:.0f} | "
            f"{r['rss_growth_mb']['median']:.0f} |"
        )
    return "\n".join(lines + _more_tables(result))


def _more_tables(result: dict[str, Any]) -> list[str]:
    """(d)–(f), where the result has them."""
    lines: list[str] = []
    late = result.get("added_later")
    if late:
        # Parts run by themselves after the section's committed run (benchmarks.arena's
        # sharded, eval_cost and gpu), with their own date and load.
        lb, la = late["load_before"], late["load_after"]
        lines += [
            "",
            f"(d)–(f) were measured by themselves on {late['date']} ({late['seconds']:.0f} s; load average "
            f"{lb[0]:.1f}/{lb[1]:.1f}/{lb[2]:.1f} before, {la[0]:.1f}/{la[1]:.1f}/{la[2]:.1f} after: wall "
            "times there are inflated by other work, CPU times are not), not in the run above.",
        ]
    d = result.get("sharded")
    if d:
        lines += [
            "",
            f"**(d) Members sharded over devices**, {d['members']} members × {d['epochs']} epochs, one "
            f"process with 4 forced host devices on {result['cpu_count']} cores:",
            "",
            "| devices | compile (s) | training (s) |",
            "| ---: | ---: | ---: |",
            *(f"| {n} | {_t(r['compile_s'])} | {_t(r['train_s'])} |" for n, r in d["rows"].items()),
            "",
            f"- training on 1 device ÷ on 4: {_t(d['speedup_train'])}× — the 4 host devices share the "
            f"{result['cpu_count']} cores, which one device's kernels already used; "
            f"same updates to target: {'yes' if d['same_decisions'] else 'no'}",
        ]
    e = result.get("eval_cost")
    if e:
        lines += [
            "",
            f"**(e) The evaluation's cost**, {e['members']} members × {e['epochs']} epochs (target "
            f"{e['target']}):",
            "",
            "| eval_every | evaluations per epoch | epoch, CPU (ms) | ÷ once per epoch | epoch, wall (ms) "
            "| ÷ once per epoch | reached | updates to target between epoch ends |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *(
                f"| {v} | {r['evals_per_epoch']} | {_t(r['epoch_cpu_ms'])} | "
                f"{_t(r['cpu_vs_once_per_epoch'])}× | "
                f"{_t(r['epoch_wall_ms'])} | {_t(r['wall_vs_once_per_epoch'])}× | "
                f"{r['reached']}/{e['members']} | {r['between_epoch_ends']}/{e['members']} |"
                for v, r in e["rows"].items()
            ),
            "",
            f"- one evaluation of the validation set for the {e['members']} members: "
            f"{e['eval_cpu_ms']:.1f} ms of CPU (the slope between the most and the fewest evaluations "
            "per epoch); an epoch's time after its first, read at the progress callback",
        ]
    g = result.get("gpu")
    if g:
        lines += ["", "**(f) On a GPU**:", ""]
        if g["rows"]:
            lines += [
                "| command (--device gpu) | wall (s) | compile (s) | training (s) |",
                "| --- | ---: | ---: | ---: |",
            ]
            lines += [
                f"| {n} | {_t(r['wall_s'])} | {_t(r['compile_s'])} | {_t(r['train_s'])} |"
                for n, r in g["rows"].items()
            ]
        lines += [f"- {n}: skipped — {why}" for n, why in g["skipped"].items()]
    return lines


#: ``python -m benchmarks.arena``: this section alone.
main = section_command(__doc__, run, table, device=True)


if __name__ == "__main__":
    sys.exit(main())
