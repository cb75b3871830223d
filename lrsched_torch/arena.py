"""The schedule arena in torch: the members of :func:`lrsched_jax.compare`, trained by torch's
own optimizers and :class:`lrsched_torch.ScheduleLR`.

The members, their batches, the target rule and the verdicts are those of
:mod:`lrsched_jax.core.arena` — the same code as the JAX side — so from the same initial
weights and batches both frameworks make the same decisions (in float64 the losses agree to
~1e-12 relative; the parity tests hold them to 1e-9).

Two ways to run them:

* ``sequential=True`` — one member after another, each a plain eager loop
  (``zero_grad → loss → backward → step → scheduler.step()``): the article's way.
* ``sequential=False`` (default) — all members in one eager loop with ``torch.func``: every
  member's parameters are separate leaf tensors, stacked for a
  ``vmap(functional_call(...))`` forward over the members' batches; one backward of the
  sum of the members' losses gives each member exactly its own gradient; one optimizer
  from the factory holds one param group per member, and one :class:`ScheduleLR` sets each
  group's lr from its member's schedule. Same arithmetic, fewer kernel launches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lrsched_jax.core.arena import (
    CompareResult,
    Mode,
    Progress,
    batch_order,
    check_arena,
    collect,
    member_grid,
)
from lrsched_jax.core.schedule import Schedule
from lrsched_torch.schedule_lr import ScheduleLR

__all__ = ["accuracy", "compare"]

OutputLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def accuracy(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The fraction of samples whose largest logit is the label's."""
    return (output.argmax(dim=-1) == y).to(output.dtype).mean()


def _pair(where: str, name: str, data: Any, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(
            f"{where}: {name} must be an (x, y) pair of tensors or arrays, got {type(data).__name__}"
        )
    x, y = (v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v)) for v in data)
    if x.ndim < 1 or y.ndim < 1 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"{where}: {name}: x and y must have the same, non-zero number of samples")
    return (x, y) if device is None else (x.to(device), y.to(device))


def compare(
    model: Callable[[int], torch.nn.Module],
    optimizer: Callable[[Iterable[Any]], torch.optim.Optimizer],
    train: tuple[Any, Any],
    val: tuple[Any, Any],
    schedules: Sequence[Schedule] | Mapping[str, Schedule],
    seeds: Sequence[int],
    epochs: int,
    *,
    loss: OutputLoss = F.cross_entropy,
    metric: OutputLoss = accuracy,
    batch_size: int = 32,
    target: float | None = None,
    mode: Mode = "max",
    baseline: str | None = None,
    sequential: bool = False,
    device: torch.device | str | None = None,
    progress: Progress | None = None,
) -> CompareResult:
    """Train every ``(schedule, seed)`` member for ``epochs`` epochs; the torch counterpart of
    :func:`lrsched_jax.compare`, with the same result.

    * ``model(seed)`` builds the ``nn.Module`` a member with that seed starts from (moved to
      ``device`` when given; the data too).
    * ``optimizer(params)`` builds the torch optimizer over ``params`` (parameters, or one
      param group per member when ``sequential=False``), e.g.
      ``lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)``; a :class:`ScheduleLR` then sets
      the lr of update ``k`` to the member's ``schedule(k)`` (the factory's lr is replaced).
    * ``loss(output, y)`` is minimised; ``metric(output, y)`` (default :func:`accuracy`) and
      ``loss`` are evaluated on the whole of ``val`` after every epoch, in ``eval()`` mode
      under ``torch.no_grad()``.
    * ``target``, ``mode``, ``baseline``, ``progress``: as in :func:`lrsched_jax.compare`.

    ``compile_s`` is 0 (eager). ``TypeError`` / ``ValueError`` name the bad argument.
    """
    where = "compare"
    named, seed_list, base = check_arena(where, schedules, seeds, epochs, target, mode, baseline)
    for fn, name in ((model, "model"), (optimizer, "optimizer"), (loss, "loss"), (metric, "metric")):
        if not callable(fn):
            raise TypeError(f"{where}: {name} must be callable, got {fn!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"{where}: batch_size must be an int, got {batch_size!r}")
    xt, yt = _pair(where, "train", train, device)
    xv, yv = _pair(where, "val", val, device)
    n = len(xt)
    if not 1 <= batch_size <= n:
        raise ValueError(f"{where}: batch_size must be in [1, {n}] (the training samples), got {batch_size}")
    steps = n // int(batch_size)
    grid = member_grid(len(named), seed_list)
    M = len(grid)

    def fresh(seed: int) -> torch.nn.Module:
        net = model(seed)
        if not isinstance(net, torch.nn.Module):
            raise TypeError(f"{where}: model({seed}) must return a torch.nn.Module, got {type(net).__name__}")
        return net if device is None else net.to(device)

    def evaluate(net: torch.nn.Module) -> tuple[float, float]:
        was = net.training
        net.eval()
        with torch.no_grad():
            out = net(xv)
            res = float(loss(out, yv)), float(metric(out, yv))
        net.train(was)
        return res

    losses_all = np.zeros((M, epochs * steps))
    vm = np.zeros((M, epochs))
    vl = np.zeros((M, epochs))
    ends = np.zeros((M, epochs))
    total, done = M * epochs, 0
    start = time.perf_counter()
    if sequential:
        for m, (i, s) in enumerate(grid):
            mine = time.perf_counter()
            net = fresh(s)
            opt = optimizer(net.parameters())
            sched = ScheduleLR(opt, named[i][1])
            for e in range(epochs):
                order = torch.from_numpy(batch_order(s, e, n, int(batch_size))).to(xt.device)
                out = []
                for k in range(steps):
                    b = order[k]
                    opt.zero_grad()
                    value = loss(net(xt[b]), yt[b])
                    value.backward()
                    opt.step()
                    sched.step()
                    out.append(value.detach())
                losses_all[m, e * steps : (e + 1) * steps] = torch.stack(out).cpu().numpy()
                vl[m, e], vm[m, e] = evaluate(net)
                ends[m, e] = time.perf_counter() - mine
                done += 1
                if progress is not None:
                    progress(done, total)
    else:
        from torch.func import functional_call

        nets = {s: fresh(s) for s in seed_list}
        template = nets[seed_list[0]]
        names = [k for k, _ in template.named_parameters()]
        buffers = dict(template.named_buffers())
        if buffers:
            raise ValueError(
                f"{where}: sequential=False needs a model without buffers (found {sorted(buffers)}); "
                "pass sequential=True"
            )
        # Each member's own leaf tensors: its optimizer state and lr are its param group's.
        params = [
            {k: p.detach().clone().requires_grad_(True) for k, p in nets[s].named_parameters()}
            for _, s in grid
        ]
        opt = optimizer([{"params": list(p.values())} for p in params])
        if len(opt.param_groups) != M:
            raise ValueError(f"{where}: optimizer(groups) must keep the {M} param groups it is given")
        sched = ScheduleLR(opt, [named[i][1] for i, _ in grid])

        def forward(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
            return functional_call(template, p, (x,))

        batched = torch.func.vmap(forward)
        member_loss = torch.func.vmap(loss)
        for e in range(epochs):
            order = torch.from_numpy(np.stack([batch_order(s, e, n, int(batch_size)) for _, s in grid])).to(
                xt.device
            )
            out = []
            for k in range(steps):
                b = order[:, k]
                stacked = {k2: torch.stack([p[k2] for p in params]) for k2 in names}
                opt.zero_grad()
                values = member_loss(batched(stacked, xt[b]), yt[b])
                values.sum().backward()
                opt.step()
                sched.step()
                out.append(values.detach())
            losses_all[:, e * steps : (e + 1) * steps] = torch.stack(out, dim=1).cpu().numpy()
            template.eval()
            with torch.no_grad():
                stacked = {k2: torch.stack([p[k2] for p in params]) for k2 in names}
                outs = torch.func.vmap(forward, in_dims=(0, None))(stacked, xv)
                for m in range(M):
                    vl[m, e], vm[m, e] = float(loss(outs[m], yv)), float(metric(outs[m], yv))
            template.train()
            ends[:, e] = time.perf_counter() - start
            done += M
            if progress is not None:
                progress(done, total)
    train_s = time.perf_counter() - start

    how = "sequential" if sequential else "one program"
    return collect("torch", how, named, seed_list, target, mode, base, vm, vl, losses_all, ends, 0.0, train_s)
