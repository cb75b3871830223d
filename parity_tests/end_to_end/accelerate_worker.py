"""One process of the accelerate client test (``test_client_accelerate.py``).

    python accelerate_worker.py OUT.json CKPT_DIR

Run alone it is a single-process run; with ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/
``MASTER_ADDR``/``MASTER_PORT`` set, ``Accelerator(cpu=True)`` makes it one rank of a
multi-CPU (gloo) run. It trains a linear model with a ``ScheduleLR`` passed through
``Accelerator.prepare`` three ways and writes, per way, the lr the optimizer applied at every
update (read in a pre-hook of the torch optimizer) and the final parameters:

* ``default`` — ``Accelerator()``: ``AcceleratedScheduler`` steps the wrapped scheduler
  ``num_processes`` times per update (it assumes ``split_batches=False`` means
  ``num_processes``× fewer updates than the schedule was written for);
* ``per_update`` — ``Accelerator(step_scheduler_with_optimizer=False)``: one scheduler step
  per ``scheduler.step()`` call, i.e. per update;
* ``resumed`` — ``per_update`` again, saved with ``accelerator.save_state`` after
  ``SAVE_AT`` updates, then rebuilt from scratch, ``load_state``, and continued past the
  batches already seen (``skip_first_batches``).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
from accelerate import Accelerator

import lrsched_jax as lrs
from lrsched_torch import ScheduleLR

STEPS, SAVE_AT, BATCH = 8, 4, 4


def schedule(num_processes: int) -> lrs.Schedule:
    """The recipe's schedule, over ``num_processes``× the updates (what ``default`` steps)."""
    n = STEPS * num_processes
    return lrs.warmup_cosine(peak_lr=0.05, warmup_steps=2 * num_processes, total_steps=n, min_lr=1e-3)


def data(num_processes: int) -> torch.utils.data.DataLoader:
    # STEPS updates of num_processes x BATCH samples (each process gets its BATCH).
    g = np.random.default_rng(0)
    x = g.normal(size=(STEPS * BATCH * num_processes, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32)).astype(np.float32)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    return torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=False)


def build(accelerator: Accelerator, s: lrs.Schedule, applied: list[float]):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=123.0, momentum=0.9)  # the scheduler sets lr(0)
    opt.register_step_pre_hook(lambda o, *_: applied.append(o.param_groups[0]["lr"]))
    sched = ScheduleLR(opt, s)
    return accelerator.prepare(model, opt, data(accelerator.num_processes), sched)


def train(accelerator: Accelerator, model, opt, loader, sched, updates: int) -> None:
    for k, (x, y) in enumerate(loader):
        if k == updates:
            break
        loss = torch.nn.functional.mse_loss(model(x).squeeze(-1), y)
        accelerator.backward(loss)
        opt.step()
        sched.step()
        opt.zero_grad()


def params(accelerator: Accelerator, model) -> list[list[float]]:
    return [p.detach().cpu().numpy().ravel().tolist() for p in accelerator.unwrap_model(model).parameters()]


def main(out: str, ckpt: str) -> None:
    result: dict = {}

    acc = Accelerator(cpu=True)
    n = acc.num_processes
    result["num_processes"] = n
    applied: list[float] = []
    objs = build(acc, schedule(n), applied)
    train(acc, *objs, STEPS)
    result["default"] = {"lrs": applied, "params": params(acc, objs[0])}

    acc = Accelerator(cpu=True, step_scheduler_with_optimizer=False)
    applied = []
    objs = build(acc, schedule(1), applied)
    train(acc, *objs, STEPS)
    result["per_update"] = {"lrs": applied, "params": params(acc, objs[0])}

    acc = Accelerator(cpu=True, step_scheduler_with_optimizer=False)
    first: list[float] = []
    objs = build(acc, schedule(1), first)
    train(acc, *objs, SAVE_AT)
    acc.save_state(ckpt)
    acc.wait_for_everyone()

    acc = Accelerator(cpu=True, step_scheduler_with_optimizer=False)
    rest: list[float] = []
    model, opt, loader, sched = build(acc, schedule(1), rest)
    acc.load_state(ckpt)
    train(acc, model, opt, acc.skip_first_batches(loader, SAVE_AT), sched, STEPS - SAVE_AT)
    result["resumed"] = {
        "lrs_before_save": first,
        "lrs_after_load": rest,
        "last_epoch": sched.scheduler.last_epoch,
        "params": params(acc, model),
    }
    with open(out, "w") as f:
        json.dump(result, f)
    # Every rank done before any tears down (a rank leaving while its peer still talks to it
    # can abort gloo's threads), then no interpreter teardown at all: torch 2.13's gloo can
    # still abort in its static destructors ("terminate called without an active exception",
    # ~1 run in 25 here), after the results are written. That is torch's, not the scheduler's.
    acc.wait_for_everyone()
    acc.end_training()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
