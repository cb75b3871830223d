"""Data-parallel scaling: the LR finder and a training epoch on 1 to N devices — JAX SPMD over a
``("data",)`` mesh, torch ``DistributedDataParallel`` over N processes — with the same global
batches, so every row must also give the 1-device answer.

    python -m benchmarks.scaling [--quick] [--devices N] [--device cpu|gpu|auto]

Rows for 1, 2, 4, ... and N devices (ranks). The network is an MLP 64-512-512-10 on the
digits (1,438 training images), AdamW; the global batch is 256 (rounded to a multiple of
every device count), the finder sweeps 1e-6 → 10 (100 steps; 30 with ``--quick``).

* **JAX** runs in a subprocess started with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``,
  so a machine without accelerators gets N simulated CPU devices (they share its cores: the
  rows then show the correctness and the overhead of the sharded programs, not a speed-up);
  on a GPU/TPU machine the first N real devices are used. The 1-device row runs without a
  mesh. Times are medians of interleaved repeats after one compiling call (its time is shown
  separately), so all device counts see the same spells of machine load.
* **torch** launches N processes (gloo on CPU, NCCL on CUDA; loopback rendezvous), each with
  ``cpu_count // N`` threads on CPU so every row uses the whole machine; the 1-process row
  is a plain model. Each launch is timed on its own (repeats within it).
* **Agreement** with the 1-device row: the finder's stop step (the 1-device one in
  brackets), its suggestion (the default rule; "not every rule" when another rule moved), the
  lrs of the sweep and of an epoch (identical by construction: the schedule runs from the
  update count), and the largest relative difference of the finder's losses over the first
  half of the sweep and of one epoch's losses. Everything runs in float32: the reductions
  round differently on N devices (~1e-7), and where the sweep diverges — chaotically — a
  stop step close to the threshold can move by a step; the test suite checks exact
  agreement in float64, and in float32 where the decision has a margin.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lrtwin.devices import CHOICES, HELP, pin_jax_to_cpu, torch_device
from lrtwin.models import flax_mlp, torch_mlp

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = 512
SIZES = (64, HIDDEN, HIDDEN, 10)
BATCH = 256
LR = {"start_lr": 1e-6, "end_lr": 10.0}


def _counts(devices: int) -> list[int]:
    out, n = [], 1
    while n < devices:
        out.append(n)
        n *= 2
    return [*out, devices]


def _global_batch(counts: list[int]) -> int:
    step = math.lcm(*counts)
    return step * max(1, round(BATCH / step))


def _settings(quick: bool) -> dict[str, int]:
    return (
        {"num_iter": 30, "repeats": 3, "epochs": 1} if quick else {"num_iter": 100, "repeats": 5, "epochs": 3}
    )


def _decisions(got: dict[str, Any], ref: dict[str, Any], rule: str) -> dict[str, Any]:
    """The finder's discrete results against the 1-device run's. In float32 they can move
    when the reductions round differently: the curve diverges chaotically near its end, so a
    stop step close to the threshold may come a step earlier or later (the tests compare
    float64 runs, and float32 runs with a margin, exactly)."""
    n = min(len(got["lrs"]), len(ref["lrs"]))
    return {
        "stop_step": got["stop_step"],
        "stop_step_1": ref["stop_step"],
        "same_suggestion": got["suggestions"][rule] == ref["suggestions"][rule],
        "same_all_rules": got["suggestions"] == ref["suggestions"],
        "same_lrs": got["lrs"][:n] == ref["lrs"][:n],
    }


def _agreement(losses: list[float], ref: list[float]) -> float:
    import numpy as np

    a, b = np.asarray(losses), np.asarray(ref)
    n = min(len(a), len(b)) // 2 or min(len(a), len(b))
    return float(np.max(np.abs(a[:n] - b[:n]) / np.abs(b[:n]))) if n else 0.0


# --- JAX (in a subprocess with N devices) --------------------------------------------------


def _jax_worker(quick: bool, devices: int) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import optax

    import lrsched_jax as lrs
    from benchmarks._common import interleaved, spread, timed
    from lrsched_jax.train import make_optimizer, train_epoch
    from lrtwin.demo.data import load_digits

    cfg = _settings(quick)
    available = jax.devices()
    counts = [n for n in _counts(devices) if n <= len(available)]
    note = None
    if counts[-1] != devices:
        note = f"JAX sees {len(available)} {available[0].platform} device(s): rows up to {counts[-1]}"
    batch = _global_batch(counts)
    d = load_digits()
    x, y = d.x_train, d.y_train.astype("int32")
    meshes = {n: None if n == 1 else jax.make_mesh((n,), ("data",), devices=available[:n]) for n in counts}

    def loss_fn(m: Any, b: Any) -> jax.Array:
        return optax.softmax_cross_entropy_with_integer_labels(m(b[0]), b[1]).mean()

    def ce(m: Any, xb: jax.Array, yb: jax.Array) -> jax.Array:
        return optax.softmax_cross_entropy_with_integer_labels(m(xb), yb).mean()

    tx = optax.adamw
    results: dict[int, Any] = {}
    finder_calls: dict[str, Any] = {}
    epoch_calls: dict[str, Any] = {}
    schedule = lrs.one_cycle(1e-3, 1000)
    for n in counts:
        model = flax_mlp(SIZES)

        def sweep(n: int = n, model: Any = model) -> Any:
            return lrs.find_lr(
                model, tx, loss_fn, (x, y), batch_size=batch, num_iter=cfg["num_iter"], mesh=meshes[n], **LR
            )

        first = [None]
        compile_s = timed(lambda first=first, sweep=sweep: first.__setitem__(0, sweep()))
        res = first[0]
        m = flax_mlp(SIZES)
        opt = make_optimizer(m, schedule, optax.adamw)
        t0 = time.perf_counter()
        losses, lrs_applied = train_epoch(m, opt, x, y, batch, loss_fn=ce, mesh=meshes[n])
        epoch_first_s = time.perf_counter() - t0
        results[n] = {
            "finder": res,
            "epoch_losses": losses.tolist(),
            "epoch_lrs": lrs_applied.tolist(),
            "finder_first_s": compile_s,
            "epoch_first_s": epoch_first_s,
        }
        finder_calls[str(n)] = lambda sweep=sweep: timed(sweep)

        def epochs(m: Any = m, opt: Any = opt, n: int = n) -> float:
            def run() -> None:
                for _ in range(cfg["epochs"]):
                    lo, _ = train_epoch(m, opt, x, y, batch, loss_fn=ce, mesh=meshes[n])
                float(jnp.asarray(lo[-1]))

            return timed(run) / cfg["epochs"]

        epoch_calls[str(n)] = epochs
    finder_t = interleaved(finder_calls, cfg["repeats"])
    epoch_t = interleaved(epoch_calls, cfg["repeats"])
    ref = results[1]
    rows = []
    for n in counts:
        r = results[n]
        f, f1 = r["finder"], ref["finder"]
        rows.append(
            {
                "framework": "jax",
                "devices": n,
                "finder_s": spread(finder_t[str(n)]),
                "finder_first_s": r["finder_first_s"],
                "epoch_s": spread(epoch_t[str(n)]),
                "epoch_first_s": r["epoch_first_s"],
                **_decisions(
                    {"stop_step": f.stop_step, "suggestions": f.suggestions, "lrs": f.lrs.tolist()},
                    {"stop_step": f1.stop_step, "suggestions": f1.suggestions, "lrs": f1.lrs.tolist()},
                    f.rule,
                ),
                "finder_loss_rel_diff": _agreement(f.losses.tolist(), f1.losses.tolist()),
                "epoch_loss_rel_diff": _agreement(r["epoch_losses"], ref["epoch_losses"]),
                "same_epoch_lrs": r["epoch_lrs"] == ref["epoch_lrs"],
            }
        )
    return {"rows": rows, "batch": batch, "platform": available[0].platform, "note": note}


def _run_jax(quick: bool, devices: int) -> dict[str, Any]:
    env = dict(os.environ)
    flag = "--xla_force_host_platform_device_count"
    kept = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith(flag)]
    env["XLA_FLAGS"] = " ".join([*kept, f"{flag}={devices}"])
    cmd = [sys.executable, "-m", "benchmarks.scaling", "--worker", "jax", "--devices", str(devices)]
    proc = subprocess.run(
        [*cmd, *(["--quick"] if quick else [])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scaling: the JAX worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- torch (N processes per row) ------------------------------------------------------------


def _torch_worker(
    quick: bool, rank: int, world: int, port: str, device: str, batch: int
) -> dict[str, Any] | None:
    import datetime

    import numpy as np
    import torch
    import torch.distributed as dist

    import lrsched_jax as lrs
    from benchmarks._common import spread, timed
    from lrsched_torch import ScheduleLR, find_lr
    from lrsched_torch.train import train_epoch
    from lrtwin.demo.data import load_digits

    cfg = _settings(quick)
    cuda = device == "cuda"
    if not cuda:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    dev = torch.device(f"cuda:{rank}" if cuda else "cpu")
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        dist.init_process_group(
            "nccl" if cuda else "gloo", rank=rank, world_size=world, timeout=datetime.timedelta(minutes=5)
        )
    d = load_digits()
    x, y = torch.from_numpy(d.x_train).to(dev), torch.from_numpy(d.y_train).to(dev)
    share = batch // world
    batches = [
        (x[i + rank * share : i + (rank + 1) * share], y[i + rank * share : i + (rank + 1) * share])
        for i in range(0, len(x) - batch + 1, batch)
    ]

    def net() -> Any:
        torch.manual_seed(0)
        m = torch_mlp(SIZES).to(dev)
        if world == 1:
            return m
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(m, device_ids=[rank] if cuda else None)

    def sweep() -> Any:
        m = net()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
        return find_lr(m, opt, torch.nn.CrossEntropyLoss(), batches, num_iter=cfg["num_iter"], **LR)

    res = sweep()
    m = net()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    sched = ScheduleLR(opt, lrs.one_cycle(1e-3, 1000))
    first, applied = train_epoch(m, opt, (x, y), batch_size=batch, scheduler=sched)
    finder_t, epoch_t = [], []
    for _ in range(cfg["repeats"]):
        finder_t.append(timed(sweep))
        epoch_t.append(
            timed(
                lambda: [
                    train_epoch(m, opt, (x, y), batch_size=batch, scheduler=sched)
                    for _ in range(cfg["epochs"])
                ]
            )
            / cfg["epochs"]
        )
    if world > 1:
        # Everyone done before anyone tears down: a rank leaving while another still talks
        # to it can abort gloo's threads at exit ("terminate called without an active exception").
        dist.barrier()
        dist.destroy_process_group()
    if rank:
        return None
    return {
        "finder_s": spread(finder_t),
        "epoch_s": spread(epoch_t),
        "stop_step": res.stop_step,
        "suggestions": res.suggestions,
        "lrs": res.lrs.tolist(),
        "losses": res.losses.tolist(),
        "epoch_losses": np.asarray(first).tolist(),
        "epoch_lrs": np.asarray(applied).tolist(),
    }


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def _run_torch(quick: bool, devices: int, device: str, batch: int) -> dict[str, Any]:
    import torch

    counts = _counts(devices)
    note = None
    if device == "cuda":
        have = torch.cuda.device_count()
        if counts[-1] > have:
            counts = [n for n in counts if n <= have]
            note = f"{have} CUDA device(s): rows up to {counts[-1] if counts else 0}"
    runs: dict[int, Any] = {}
    for n in counts:
        port = _free_port()
        cmd = [sys.executable, "-m", "benchmarks.scaling", "--worker", "torch", "--devices", str(n)]
        cmd += [
            "--port",
            port,
            "--torch-device",
            device,
            "--batch",
            str(batch),
            *(["--quick"] if quick else []),
        ]
        procs = [
            subprocess.Popen(
                [*cmd, "--rank", str(r)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for r in range(n)
        ]
        outs = [p.communicate(timeout=3600) for p in procs]
        for p, (_, err) in zip(procs, outs):
            if p.returncode != 0:
                raise RuntimeError(f"scaling: a torch worker ({n} ranks) failed:\n{err[-3000:]}")
        runs[n] = json.loads(outs[0][0].strip().splitlines()[-1])
    ref = runs[counts[0]] if counts else None
    rows = []
    for n in counts:
        r = runs[n]
        rows.append(
            {
                "framework": "torch",
                "devices": n,
                "finder_s": r["finder_s"],
                "epoch_s": r["epoch_s"],
                **_decisions(r, ref, "valley"),
                "finder_loss_rel_diff": _agreement(r["losses"], ref["losses"]),
                "epoch_loss_rel_diff": _agreement(r["epoch_losses"], ref["epoch_losses"]),
                "same_epoch_lrs": r["epoch_lrs"] == ref["epoch_lrs"],
            }
        )
    return {"rows": rows, "note": note}


# --- the section --------------------------------------------------------------------------


def run(quick: bool = False, device: str = "cpu", devices: int = 2) -> dict[str, Any]:
    if devices < 1:
        raise ValueError(f"devices must be >= 1, got {devices}")
    jax_part = _run_jax(quick, devices)
    torch_part = _run_torch(quick, devices, device, jax_part["batch"])
    notes = [n for n in (jax_part["note"], torch_part["note"]) if n]
    return {
        "devices": devices,
        "batch": jax_part["batch"],
        "jax_platform": jax_part["platform"],
        "torch_device": device,
        "cpu_count": os.cpu_count(),
        "settings": _settings(quick),
        "notes": notes,
        "rows": jax_part["rows"] + torch_part["rows"],
    }


def table(result: dict[str, Any]) -> str:
    def t(s: dict[str, float], k: float = 1.0) -> str:
        return f"{s['median'] * k:.3g} ({s['min'] * k:.3g}–{s['max'] * k:.3g})"

    cfg = result["settings"]
    lines = [
        f"Global batch {result['batch']}, finder {cfg['num_iter']} steps; JAX on {result['jax_platform']} "
        f"devices, torch on {result['torch_device']} ({result['cpu_count']} CPU cores). Speed-up: 1-device "
        "time / N-device time (medians). All in float32: the cross-device reductions round "
        "differently (loss rel. diff: the largest over the first half of the sweep and over one "
        "epoch), and near its end the sweep diverges chaotically, so a stop step close to the "
        "threshold can move by one; the lrs are identical by construction (the tests check the "
        "decisions exactly in float64, and in float32 where they have a margin).",
        "",
        "| framework | devices | finder (s) | speed-up | epoch (ms) | speed-up | stop step (1 device) "
        "| suggestion = 1 device | lrs = 1 device | finder loss rel. diff | epoch loss rel. diff |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | :---: | :---: | ---: | ---: |",
    ]
    base: dict[str, dict[str, float]] = {}
    for r in result["rows"]:
        if r["devices"] == 1:
            base[r["framework"]] = {"f": r["finder_s"]["median"], "e": r["epoch_s"]["median"]}
        b = base.get(r["framework"], {"f": math.nan, "e": math.nan})
        f_up, e_up = b["f"] / r["finder_s"]["median"], b["e"] / r["epoch_s"]["median"]
        rules = "" if r["same_all_rules"] else " (not every rule)"
        lines.append(
            f"| {r['framework']} | {r['devices']} | {t(r['finder_s'])} | {f_up:.2f}× "
            f"| {t(r['epoch_s'], 1e3)} | {e_up:.2f}× "
            f"| {r['stop_step']} ({r['stop_step_1']}) "
            f"| {'yes' if r['same_suggestion'] else 'NO'}{rules} "
            f"| {'yes' if r['same_lrs'] and r['same_epoch_lrs'] else 'NO'} "
            f"| {r['finder_loss_rel_diff']:.1e} | {r['epoch_loss_rel_diff']:.1e} |"
        )
    for note in result["notes"]:
        lines += ["", f"Note: {note}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=CHOICES, help=HELP)
    # Internal: the torch device a worker runs on ("cpu" or "cuda").
    parser.add_argument("--torch-device", default="cpu", help=argparse.SUPPRESS)
    # Internal: the worker processes.
    parser.add_argument("--worker", choices=("jax", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--port", default="", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=BATCH, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "jax":
        print(json.dumps(_jax_worker(args.quick, args.devices)))
    elif args.worker == "torch":
        out = _torch_worker(args.quick, args.rank, args.devices, args.port, args.torch_device, args.batch)
        if out is not None:
            print(json.dumps(out))
        # The figures are out; skip the interpreter's teardown of torch's communication
        # threads, which on a loaded machine now and then aborts a finished worker.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    else:
        pin_jax_to_cpu(args.device)
        try:
            torch_dev = torch_device(args.device)
        except ValueError as e:
            parser.exit(2, f"{parser.prog}: error: {e}\n")
        print(table(run(args.quick, torch_dev, args.devices)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
