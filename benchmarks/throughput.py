"""Training throughput: the same networks on the same data, jitted JAX (one ``lax.scan`` per
epoch, and one jitted step per update) vs torch eager (and ``torch.compile`` where it works
on the machine).

    python -m benchmarks.throughput [--quick] [--device cpu|cuda]

The digits data (1,437 training images, batch 32, 44 updates per epoch), AdamW with a
one-cycle schedule stepped per update in both frameworks (:mod:`lrsched_jax.train`,
:mod:`lrsched_torch.train`). Two networks: the demo's MLP (64-128-10) and a small CNN on
the 8×8 images. Updates per second over whole epochs, after a warm-up epoch that compiles.
"""

from __future__ import annotations

import sys
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from flax import nnx

import lrsched_jax as lrs
from benchmarks._common import fmt_ratio, interleaved, paired_ratio, section_main, spread, timed
from lrsched_jax.train import batches, make_optimizer, train_step
from lrsched_jax.train import train_epoch as jax_epoch
from lrsched_torch import ScheduleLR
from lrsched_torch.train import train_epoch as torch_epoch
from lrtwin.demo.data import load_digits

BATCH = 32


class JaxMLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs) -> None:
        self.l1 = nnx.Linear(64, 128, rngs=rngs)
        self.l2 = nnx.Linear(128, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.l2(jax.nn.relu(self.l1(x)))


class JaxCNN(nnx.Module):
    def __init__(self, rngs: nnx.Rngs) -> None:
        self.c1 = nnx.Conv(1, 16, (3, 3), rngs=rngs)
        self.c2 = nnx.Conv(16, 32, (3, 3), rngs=rngs)
        self.out = nnx.Linear(32 * 64, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = x.reshape(x.shape[0], 8, 8, 1)
        h = jax.nn.relu(self.c2(jax.nn.relu(self.c1(h))))
        return self.out(h.reshape(h.shape[0], -1))


def torch_mlp() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))


def torch_cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 8, 8)),
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 64, 10),
    )


def _jax_runner(make: Any, x: np.ndarray, y: np.ndarray, schedule: lrs.Schedule, scan: bool) -> Any:
    model = make(nnx.Rngs(0))
    opt = make_optimizer(model, schedule, optax.adamw, weight_decay=1e-2)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    idx = batches(len(x), BATCH)
    xb, yb = [xj[i] for i in idx], [yj[i] for i in idx]

    def epoch() -> None:
        if scan:
            losses, _ = jax_epoch(model, opt, xj, yj, BATCH)
            float(losses[-1])  # results on the host: the epoch is done
        else:
            for xs, ys in zip(xb, yb):
                loss, _ = train_step(model, opt, xs, ys)
            float(loss)

    epoch()  # compile
    return epoch


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
    nets = {"MLP 64-128-10": (JaxMLP, torch_mlp), "CNN 2 conv 8×8": (JaxCNN, torch_cnn)}
    rows = []
    for name, (jmake, tmake) in nets.items():
        runners = {
            "JAX (jit, scan)": _jax_runner(jmake, x, y, schedule, scan=True),
            "JAX (jit per step)": _jax_runner(jmake, x, y, schedule, scan=False),
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
            "updates_per_s": {k: spread([1.0 / t for t in v]) for k, v in times.items()},
            "torch_eager_vs_jax": paired_ratio(times, "torch eager", "JAX (jit, scan)"),
            "torch_compile": compile_error or "measured",
        }
        if "torch.compile" in times:
            row["torch_compile_vs_jax"] = paired_ratio(times, "torch.compile", "JAX (jit, scan)")
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
        "| network | JAX (jit, scan) upd/s | JAX (jit per step) upd/s | torch eager upd/s "
        "| torch.compile upd/s | step time torch eager / JAX scan |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
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
            f"| {r['network']} | {cell('JAX (jit, scan)')} | {cell('JAX (jit per step)')} | "
            f"{cell('torch eager')} | {compiled} | "
            f"{fmt_ratio(r['torch_eager_vs_jax'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return section_main(__doc__, run, table, argv, device=True)


if __name__ == "__main__":
    sys.exit(main())
