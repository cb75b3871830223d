"""Worker of ``test_data_parallel_torch.py``: one rank of a 2-process gloo group on loopback.

    python dp_torch_worker.py RANK WORLD PORT OUT_DIR

Every rank runs the same scenarios with a ``DistributedDataParallel`` model and its share of
each global batch, and writes what it saw to ``OUT_DIR/rank{RANK}.json``; rank 0 then also
runs the 1-process references (a plain model, the whole global batches) into
``OUT_DIR/reference.json``. Collectives time out after 30 s, so a hang fails instead of
blocking.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
import traceback
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from processes import finder_summary
from torch.nn.parallel import DistributedDataParallel as DDP

import lrsched_jax as lrs
from lrsched_torch import ScheduleLR, attach, find_lr
from lrsched_torch.train import evaluate, train_epoch

N, D, C = 512, 8, 3
GLOBAL = 64
FINDER = dict(num_iter=60, end_lr=100.0, skip_start=5, skip_end=3)


class Net(torch.nn.Module):
    """Two layers and a constant buffer (so that DDP broadcasts buffers in every forward pass)."""

    def __init__(self) -> None:
        super().__init__()
        self.l1 = torch.nn.Linear(D, 32)
        self.l2 = torch.nn.Linear(32, C)
        self.register_buffer("scale", torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l2(torch.relu(self.l1(x))) * self.scale


def make_data(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, D))
    y = (x @ rng.normal(size=(D, C))).argmax(1)
    return torch.tensor(x, dtype=dtype), torch.tensor(y)


def fresh(dtype: torch.dtype) -> Net:
    torch.manual_seed(0)
    return Net().to(dtype)


def share(x: torch.Tensor, y: torch.Tensor, rank: int, world: int, size: int = GLOBAL) -> list[Any]:
    """This rank's contiguous share of every global batch of ``size`` samples."""
    part = size // world
    return [
        (x[i + rank * part : i + (rank + 1) * part], y[i + rank * part : i + (rank + 1) * part])
        for i in range(0, len(x) - size + 1, size)
    ]


def state_of(model: torch.nn.Module, opt: torch.optim.Optimizer) -> list[np.ndarray]:
    out = [t.detach().clone().numpy() for t in model.state_dict().values()]
    for s in opt.state.values():
        out += [v.detach().clone().numpy() for v in s.values() if isinstance(v, torch.Tensor)]
    out.append(torch.get_rng_state().numpy())
    return out


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(u.tobytes() == v.tobytes() for u, v in zip(a, b))


def finder_runs(rank: int, world: int, distributed: bool) -> dict[str, Any]:
    """The finder in float64 and float32, with accumulation and in validation mode."""
    out: dict[str, Any] = {}
    for name, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        x, y = make_data(dtype)
        model = fresh(dtype)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        net = DDP(model) if distributed else model
        data = share(x, y, rank, world) if distributed else share(x, y, 0, 1)
        if name == "f64":
            # Optimizer state that the sweep must leave alone: a few updates first.
            for xb, yb in data[:3]:
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(xb), yb).backward()
                opt.step()
        before = state_of(model, opt)
        out[name] = finder_summary(find_lr(net, opt, data, criterion=torch.nn.CrossEntropyLoss(), **FINDER))
        out[f"{name}_restored"] = same(before, state_of(model, opt))
    x, y = make_data(torch.float64)
    model = fresh(torch.float64)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    net = DDP(model) if distributed else model
    # Accumulation: micro-batches of half a global batch (DDP reduces at the last one only).
    micro = share(x, y, rank, world, GLOBAL // 2) if distributed else share(x, y, 0, 1, GLOBAL // 2)
    out["accumulation"] = finder_summary(
        find_lr(net, opt, micro, criterion=torch.nn.CrossEntropyLoss(), accumulation_steps=2, **FINDER)
    )
    val = share(x[:256], y[:256], rank, world) if distributed else share(x[:256], y[:256], 0, 1)
    out["validation"] = finder_summary(
        find_lr(
            net,
            opt,
            share(x, y, rank, world) if distributed else share(x, y, 0, 1),
            criterion=torch.nn.CrossEntropyLoss(),
            val_data=val,
            num_iter=25,
            end_lr=10.0,
            skip_start=2,
            skip_end=1,
        )
    )
    return out


def training_runs(rank: int, world: int, distributed: bool) -> dict[str, Any]:
    """ScheduleLR and attach: two epochs, a rank-0 checkpoint, a resumed third epoch."""
    out: dict[str, Any] = {}
    x, y = make_data(torch.float64)
    schedule = lrs.warmup_cosine(0.1, 5, 3 * (N // GLOBAL))

    def setup(kind: str) -> tuple[Any, Any, Any, Any]:
        model = fresh(torch.float64)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = ScheduleLR(opt, schedule) if kind == "schedule_lr" else None
        handle = attach(opt, schedule) if kind == "attach" else None
        return model, (DDP(model) if distributed else model), opt, (sched, handle)

    for kind in ("schedule_lr", "attach"):
        model, net, opt, (sched, handle) = setup(kind)
        losses, applied = [], []
        for epoch in range(2):
            g = torch.Generator().manual_seed(epoch)
            lo, lr = train_epoch(net, opt, (x, y), batch_size=GLOBAL, generator=g, scheduler=sched)
            losses += lo.tolist()
            applied += lr.tolist()
        path = os.path.join(os.environ["DP_OUT"], f"{kind}.pt")
        if rank == 0:
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": None if sched is None else sched.state_dict(),
                },
                path,
            )
        if distributed:
            dist.barrier()
        if handle is not None:
            handle.detach()
        # Resume every rank from rank 0's checkpoint, into fresh objects.
        model, net, opt, (sched, handle) = setup(kind)
        ck = torch.load(path, weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        if sched is not None:
            sched.load_state_dict(ck["scheduler"])
        g = torch.Generator().manual_seed(2)
        lo, lr = train_epoch(net, opt, (x, y), batch_size=GLOBAL, generator=g, scheduler=sched)
        losses += lo.tolist()
        applied += lr.tolist()
        out[kind] = {
            "losses": losses,
            "lrs": applied,
            "params": [p.detach().numpy().ravel().tolist() for p in model.parameters()],
            "evaluate": evaluate(net, (x[:250], y[:250])),
        }
        if handle is not None:
            handle.detach()
    return out


def error_runs(rank: int, world: int) -> dict[str, Any]:
    """A rank that raises mid-sweep: every rank fails cleanly (and quickly), state restored."""
    out: dict[str, Any] = {}
    x, y = make_data(torch.float32)

    def scenario(name: str, bad_rank: int, where: str) -> None:
        model = fresh(torch.float32)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        net = DDP(model)
        before = state_of(model, opt)
        calls = {"n": 0}

        def loss_fn(m: Any, batch: Any) -> torch.Tensor:
            calls["n"] += 1
            if where == "loss" and rank == bad_rank and calls["n"] == 6:
                raise ValueError(f"boom in the loss on rank {rank}")
            return torch.nn.functional.cross_entropy(m(batch[0]), batch[1])

        def data() -> Any:
            for i, b in enumerate(share(x, y, rank, world)):
                if where == "data" and rank == bad_rank and i == 3:
                    raise OSError(f"boom in the data on rank {rank}")
                yield b

        steps = {"n": 0}

        def step_hook(*_: Any) -> None:
            steps["n"] += 1
            if where == "step" and rank == bad_rank and steps["n"] == 4:
                raise RuntimeError(f"boom in the update on rank {rank}")

        hook = opt.register_step_pre_hook(step_hook)

        start = time.perf_counter()
        try:
            find_lr(net, opt, data(), loss_fn=loss_fn, **FINDER)
            outcome = "no error"
        except Exception as e:
            outcome = f"{type(e).__name__}: {e}"
        hook.remove()
        out[name] = {
            "error": outcome,
            "seconds": time.perf_counter() - start,
            "restored": same(before, state_of(model, opt)),
        }

    scenario("loss_on_rank_1", 1, "loss")
    scenario("data_on_rank_0", 0, "data")
    scenario("step_on_rank_1", 1, "step")
    # The group still works afterwards: every rank left the failed sweeps at the same point.
    model = fresh(torch.float32)
    res = find_lr(
        DDP(model),
        torch.optim.Adam(model.parameters()),
        share(x, y, rank, world),
        criterion=torch.nn.CrossEntropyLoss(),
        **FINDER,
    )
    out["after_errors"] = finder_summary(res)
    # Boundary cases of the training helper.
    model = fresh(torch.float32)
    net = DDP(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    try:
        train_epoch(net, opt, (x, y), batch_size=63)
        out["batch_size_63"] = "no error"
    except ValueError as e:
        out["batch_size_63"] = f"ValueError: {e}"
    calls = {"n": 0}

    def criterion(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if rank == 1 and calls["n"] == 3:
            raise ValueError("boom in train_epoch on rank 1")
        return torch.nn.functional.cross_entropy(out, target)

    try:
        train_epoch(net, opt, (x, y), batch_size=GLOBAL, criterion=criterion)
        out["train_epoch_error"] = "no error"
    except Exception as e:
        out["train_epoch_error"] = f"{type(e).__name__}: {e}"
    uneven = share(x, y, rank, world)[: 4 if rank == 0 else 5]
    try:
        train_epoch(net, opt, [(a, b) for a, b in uneven])
        out["uneven_batches"] = "no error"
    except ValueError as e:
        out["uneven_batches"] = f"ValueError: {e}"
    return out


def main() -> None:
    rank, world, port, out_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port, DP_OUT=out_dir)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=30))
    results: dict[str, Any] = {"rank": rank, "world": world}
    results["finder"] = finder_runs(rank, world, True)
    results["training"] = training_runs(rank, world, True)
    results["errors"] = error_runs(rank, world)
    dist.barrier()
    dist.destroy_process_group()
    # The torch side never starts JAX, distributed or not.
    results["jax_imported"] = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib", "flax"))
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(results, f)
    if rank == 0:
        # The 1-process references: a plain model on the whole global batches.
        ref = {"finder": finder_runs(0, 1, False), "training": training_runs(0, 1, False)}
        with open(os.path.join(out_dir, "reference.json"), "w") as f:
            json.dump(ref, f)


if __name__ == "__main__":
    try:
        main()
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
    else:
        # The results are written: skip interpreter teardown, where torch 2.13's gloo can
        # abort in its static destructors ("terminate called without an active exception";
        # seen in the accelerate client test's workers, 1 run in 25).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
