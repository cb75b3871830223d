"""Training throughput: the same networks on the same data, JAX's ``train_epoch`` (on the path
it chooses, and forced onto one ``lax.scan`` per epoch), a plain loop of jitted
``train_step`` calls, and torch eager (and ``torch.compile`` where it works on the machine).

    python -m benchmarks.throughput [--quick] [--device cpu|gpu|auto]

The digits data (1,437 training images, batch 32, 44 updates per epoch), AdamW with a
one-cycle schedule stepped per update in both frameworks (:mod:`lrsched_jax.train`,
:mod:`lrsched_torch.train`). Two networks: the demo's MLP (64-128-10) and a small CNN on
the 8×8 images. Updates per second over whole epochs, after a warm-up epoch that compiles.
``train_epoch`` picks its path per model (:func:`lrsched_jax.train.epoch_path`): a scan,
or one jitted call per update where XLA runs the update faster outside a loop (convolutions
on the CPU); the table names the path and shows the forced scan beside it.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import jax.numpy as jnp
import numpy as np
import optax
import torch
from flax import nnx

import lrsched_jax as lrs
from benchmarks._common import fmt_ratio, interleaved, paired_ratio, section_command, spread, timed
from lrsched_jax.train import batches, epoch_path, make_optimizer, train_step
from lrsched_jax.train import train_epoch as jax_epoch
from lrsched_torch import ScheduleLR
from lrsched_torch.train import train_epoch as torch_epoch
from lrtwin.demo.data import load_digits
from lrtwin.models import flax_cnn, flax_mlp, torch_cnn, torch_mlp

BATCH = 32


MLP = (64, 128, 10)


def _jax_runner(make: Any, x: np.ndarray, y: np.ndarray, schedule: lrs.Schedule, path: str) -> Any:
    """An epoch of ``train_epoch(path=path)``, or (``path="train_step"``) a Python loop of
    jitted ``train_step`` calls over the same batches."""
    model = make(rngs=nnx.Rngs(0))
    opt = make_optimizer(model, schedule, optax.adamw, weight_decay=1e-2)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    idx = batches(len(x), BATCH)
    xb, yb = [xj[i] for i in idx], [yj[i] for i in idx]

    def epoch() -> None:
        if path == "train_step":
            for xs, ys in zip(xb, yb):
                loss, _ = train_step(model, opt, xs, ys)
            float(loss)
        else:
            losses, _ = jax_epoch(model, opt, xj, yj, BATCH, path=path)
            float(losses[-1])  # results on the host: the epoch is done

    epoch()  # compile
    return epoch


def _auto_path(make: Any, x: np.ndarray, y: np.ndarray, schedule: lrs.Schedule) -> str:
    model = make(rngs=nnx.Rngs(0))
    return epoch_path(model, make_optimizer(model, schedule, optax.adamw), x, y, BATCH)


def _torch_runner(
    make: Any, x: np.ndarray, y: np.ndarray, schedule: lrs.Schedule, device: str, compiled: bool
) -> Any:
    torch.manual_seed(0)
    model = make().to(device)
    if compiled:
        model = torch.compile(model)
    opt = torch.optim.AdamW(model.parameters(), lr=float(schedule(0)), weight_decay=1e-2)
    sched = ScheduleLR(opt, schedule)
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

    def epoch() -> None:
        torch_epoch(model, opt, (xt, yt), batch_size=BATCH, scheduler=sched)

    epoch()  # warm up (and compile)
    return epoch


def run(quick: bool = False, device: str = "cpu") -> dict[str, Any]:
    d = load_digits()
    x, y = d.x_train, d.y_train
    steps = len(x) // BATCH
    repeats, epochs = (2, 1) if quick else (7, 5)
    schedule = lrs.one_cycle(3e-3, steps * (epochs * repeats + 10))
    nets = {
        "MLP 64-128-10": (functools.partial(flax_mlp, MLP), functools.partial(torch_mlp, MLP)),
        "CNN 2 conv 8×8": (flax_cnn, torch_cnn),
    }
    rows = []
    for name, (jmake, tmake) in nets.items():
        runners = {
            "train_epoch": _jax_runner(jmake, x, y, schedule, "auto"),
            "train_epoch scan": _jax_runner(jmake, x, y, schedule, "scan"),
            "train_step loop": _jax_runner(jmake, x, y, schedule, "train_step"),
            "torch eager": _torch_runner(tmake, x, y, schedule, device, compiled=False),
        }
        compile_error = None
        if not quick:
            try:
                runners["torch.compile"] = _torch_runner(tmake, x, y, schedule, device, compiled=True)
            except Exception as e:  # whatever the machine's compiler toolchain lacks
                compile_error = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"

        def per_step(run: Any) -> float:
            return timed(lambda: [run() for _ in range(epochs)]) / (epochs * steps)

        times = interleaved({k: (lambda r=r: per_step(r)) for k, r in runners.items()}, repeats)
        row: dict[str, Any] = {
            "network": name,
            "path": _auto_path(jmake, x, y, schedule),
            "updates_per_s": {k: spread([1.0 / t for t in v]) for k, v in times.items()},
            # Step time of the jitted-step loop over train_epoch's: > 1 means train_epoch is faster.
            "step_loop_vs_train_epoch": paired_ratio(times, "train_step loop", "train_epoch"),
            "torch_eager_vs_jax": paired_ratio(times, "torch eager", "train_epoch"),
            "torch_compile": compile_error or "measured",
        }
        if "torch.compile" in times:
            row["torch_compile_vs_jax"] = paired_ratio(times, "torch.compile", "train_epoch")
        rows.append(row)
    return {
        "batch": BATCH,
        "steps_per_epoch": steps,
        "epochs_per_timing": epochs,
        "repeats": repeats,
        "device": device,
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| network | `train_epoch` path | `train_epoch` upd/s | forced scan upd/s | `train_step` loop upd/s "
        "| torch eager upd/s | torch.compile upd/s | step time `train_step` loop / `train_epoch` "
        "| step time torch eager / `train_epoch` |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        u = r["updates_per_s"]

        def cell(k: str, u: dict[str, Any] = u) -> str:
            return f"{u[k]['median']:,.0f} ({u[k]['min']:,.0f}–{u[k]['max']:,.0f})" if k in u else "—"

        compiled = (
            cell("torch.compile")
            if "torch.compile" in u
            else ("not run (--quick)" if r["torch_compile"] == "measured" else r["torch_compile"])
        )
        lines.append(
            f"| {r['network']} | {r['path']} | {cell('train_epoch')} | {cell('train_epoch scan')} | "
            f"{cell('train_step loop')} | {cell('torch eager')} | {compiled} | "
            f"{fmt_ratio(r['step_loop_vs_train_epoch'])} | {fmt_ratio(r['torch_eager_vs_jax'])} |"
        )
    lines.append("")
    lines.append(
        "`train_epoch` path: `scan` = the whole epoch in one jitted `lax.scan`; `steps` = one "
        "jitted call per update, chosen automatically where the update contains a convolution "
        "and runs on the CPU (XLA:CPU hands convolutions to its fast kernels only outside loop "
        "bodies). The forced-scan column is what `train_epoch` did before it chose."
    )
    return "\n".join(lines)


#: ``python -m benchmarks.throughput``: this section alone.
main = section_command(__doc__, run, table, device=True)


if __name__ == "__main__":
    sys.exit(main())
