"""The schedule arena in torch: the members of :func:`lrsched_jax.compare`, trained by torch's
own optimizers and :class:`lrsched_torch.ScheduleLR`.

The members, their batches, the target rule and the verdicts are those of
:mod:`lrsched_jax.core.arena` — the same code as the JAX side — so from the same initial
weights and batches both frameworks make the same decisions (in float64 the losses agree to
~1e-12 relative; the parity tests hold them to 1e-9).

Two ways to run them:

* ``sequential=True`` — one member after another, each a plain eager loop
  (``zero_grad → loss → backward → step → scheduler.step()``): the article's way.
* ``sequential=False`` (default) — all members in one eager loop with ``torch.func`` (``how``:
  "one torch.func loop"; nothing is compiled, so there is no compilation time): every
  member's parameters are separate leaf tensors, stacked for a
  ``vmap(functional_call(...))`` forward over the members' batches; one backward of the
  sum of the members' losses gives each member exactly its own gradient; one optimizer
  from the factory holds one param group per member, and one :class:`ScheduleLR` sets each
  group's lr from its member's schedule. Same arithmetic, fewer kernel launches.

With ``process_group=`` (e.g. ``torch.distributed.group.WORLD`` under ``torchrun``) the
members are split over the group's ranks in contiguous blocks, each rank trains its block,
and the records are gathered so that every rank returns the whole result. A run whose
estimated memory exceeds the budget trains its members in chunks that fit, or is refused.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lrsched_jax.core import arena as shared
from lrsched_jax.core.losses import CriterionLoss, deprecated_loss, resolve_loss
from lrsched_jax.core.schedule import Schedule
from lrsched_jax.core.validate import here, place
from lrsched_torch._common import CRITERION_MODULES, cross_entropy
from lrsched_torch.schedule_lr import ScheduleLR

__all__ = ["accuracy", "compare"]

OutputLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LossFn = Callable[[torch.nn.Module, Any], torch.Tensor]


def accuracy(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The fraction of samples whose largest logit is the label's, in the output's dtype (as
    the JAX arena's: in float32 both round ``k / n`` alike, so targets are reached alike)."""
    return (output.argmax(dim=-1) == y).to(output.dtype).mean()


class _LossOf(torch.nn.Module):
    """``loss_fn(net, (x, y))`` as a module's forward, so that ``functional_call`` can run it
    with a member's parameters in place of the net's (under ``vmap``, every member's)."""

    def __init__(self, net: torch.nn.Module, loss_fn: LossFn) -> None:
        super().__init__()
        self.net, self.loss_fn = net, loss_fn

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(self.net, (x, y))


def _pair(name: str, data: Any, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(
            f"{here()}: {name} must be an (x, y) pair of tensors or arrays, got {type(data).__name__}"
        )
    x, y = (v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v)) for v in data)
    if x.ndim < 1 or y.ndim < 1 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"{here()}: {name}: x and y must have the same, non-zero number of samples")
    return (x, y) if device is None else (x.to(device), y.to(device))


@dataclasses.dataclass
class _Arena:
    """One run's pieces and record arrays (rows: members in :func:`member_grid` order)."""

    named: list[tuple[str, Schedule]]
    grid: list[tuple[int, int]]
    fresh: Callable[[int], torch.nn.Module]
    optimizer: Callable[[Iterable[Any]], torch.optim.Optimizer]
    criterion: OutputLoss | None  # the loss as a function of (output, y), or
    loss_fn: LossFn | None  # of (model, batch): exactly one is given
    metric: OutputLoss
    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    batch_size: int
    steps: int
    epochs: int
    eval_every: int
    progress: shared.Progress | None
    total: int
    records: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    done: int = 0

    def __post_init__(self) -> None:
        k = self.epochs * len(shared.eval_points(self.steps, self.eval_every))
        m = len(self.grid)
        self.records = {
            "losses": np.zeros((m, self.epochs * self.steps)),
            "vm": np.zeros((m, k)),
            "vl": np.zeros((m, k)),
            "ends": np.zeros((m, k)),
        }

    def order(self, seeds: Sequence[int], epoch: int) -> torch.Tensor:
        """The epoch's batch orders, one per member, made when the epoch starts."""
        n = len(self.train[0])
        mine = {s: shared.batch_order(s, epoch, n, self.batch_size) for s in set(seeds)}
        return torch.from_numpy(np.stack([mine[s] for s in seeds])).to(self.train[0].device)

    def tick(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)

    def train_loss(self, net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.criterion is not None:
            return self.criterion(net(x), y)
        assert self.loss_fn is not None
        return self.loss_fn(net, (x, y))

    def evaluate(self, net: torch.nn.Module) -> tuple[float, float]:
        was = net.training
        net.eval()
        with torch.no_grad():
            xv, yv = self.val
            out = net(xv)
            value = self.criterion(out, yv) if self.criterion is not None else self.train_loss(net, xv, yv)
            res = float(value), float(self.metric(out, yv))
        net.train(was)
        return res

    def sequential(self, rows: Sequence[int]) -> None:
        """``rows`` one after another, each a plain eager loop."""
        xt, yt = self.train
        at = set(shared.eval_points(self.steps, self.eval_every))
        r = self.records
        for m in rows:
            i, s = self.grid[m]
            mine = time.perf_counter()
            net = self.fresh(s)
            opt = self.optimizer(net.parameters())
            sched = ScheduleLR(opt, self.named[i][1])
            j = 0
            for e in range(self.epochs):
                order = self.order([s], e)[0]
                out = []
                for k in range(self.steps):
                    b = order[k]
                    opt.zero_grad()
                    value = self.train_loss(net, xt[b], yt[b])
                    value.backward()
                    opt.step()
                    sched.step()
                    out.append(value.detach())
                    if k + 1 in at:
                        r["vl"][m, j], r["vm"][m, j] = self.evaluate(net)
                        r["ends"][m, j] = time.perf_counter() - mine
                        j += 1
                r["losses"][m, e * self.steps : (e + 1) * self.steps] = torch.stack(out).cpu().numpy()
                self.tick(1)

    def population(self, rows: Sequence[int]) -> None:
        """``rows`` together in one ``torch.func`` loop (see the module docstring)."""
        from torch.func import functional_call

        seeds = [self.grid[m][1] for m in rows]
        nets = {s: self.fresh(s) for s in dict.fromkeys(seeds)}
        template = nets[seeds[0]]
        names = [k for k, _ in template.named_parameters()]
        # Each member's own leaf tensors: its optimizer state and lr are its param group's.
        params = [
            {k: p.detach().clone().requires_grad_(True) for k, p in nets[s].named_parameters()} for s in seeds
        ]
        opt = self.optimizer([{"params": list(p.values())} for p in params])
        if len(opt.param_groups) != len(rows):
            raise ValueError(f"compare: optimizer(groups) must keep the {len(rows)} param groups it is given")
        sched = ScheduleLR(opt, [self.named[self.grid[m][0]][1] for m in rows])

        def forward(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
            return functional_call(template, p, (x,))

        def stacked() -> dict[str, torch.Tensor]:
            return {k: torch.stack([p[k] for p in params]) for k in names}

        if self.criterion is not None:
            crit = self.criterion

            def loss_of(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                return crit(forward(p, x), y)
        else:
            assert self.loss_fn is not None
            holder = _LossOf(template, self.loss_fn)

            def loss_of(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                return functional_call(holder, {f"net.{k}": v for k, v in p.items()}, (x, y))

        member_loss = torch.func.vmap(loss_of)
        (xt, yt), (xv, yv) = self.train, self.val
        at, r, j, start = (
            set(shared.eval_points(self.steps, self.eval_every)),
            self.records,
            0,
            time.perf_counter(),
        )
        for e in range(self.epochs):
            order, out = self.order(seeds, e), []
            for k in range(self.steps):
                b = order[:, k]
                opt.zero_grad()
                values = member_loss(stacked(), xt[b], yt[b])
                values.sum().backward()
                opt.step()
                sched.step()
                out.append(values.detach())
                if k + 1 in at:
                    template.eval()
                    with torch.no_grad():
                        outs = torch.func.vmap(forward, in_dims=(0, None))(stacked(), xv)
                        if self.criterion is None:
                            vals = torch.func.vmap(loss_of, in_dims=(0, None, None))(stacked(), xv, yv)
                        for i, (row, o) in enumerate(zip(rows, outs)):
                            value = self.criterion(o, yv) if self.criterion is not None else vals[i]
                            r["vl"][row, j], r["vm"][row, j] = float(value), float(self.metric(o, yv))
                    template.train()
                    r["ends"][rows, j] = time.perf_counter() - start
                    j += 1
            r["losses"][rows, e * self.steps : (e + 1) * self.steps] = torch.stack(out, dim=1).cpu().numpy()
            self.tick(len(rows))


def _gather(run: _Arena, rows: list[int], group: Any) -> None:
    """Every rank's records of its own rows, gathered into every rank's arrays."""
    import torch.distributed as dist

    mine = {k: v[rows] for k, v in run.records.items()}
    got: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(got, (rows, mine), group=group)
    for their_rows, theirs in got:
        for k, v in theirs.items():
            run.records[k][their_rows] = v


@place("compare")
def compare(
    model: Callable[[int], torch.nn.Module],
    optimizer: Callable[[Iterable[Any]], torch.optim.Optimizer],
    train: tuple[Any, Any],
    val: tuple[Any, Any],
    schedules: Sequence[Schedule] | Mapping[str, Schedule],
    seeds: Sequence[int],
    epochs: int,
    *,
    criterion: OutputLoss | None = None,
    loss_fn: LossFn | None = None,
    metric: OutputLoss = accuracy,
    loss: Any = None,
    batch_size: int = 32,
    target: float | None = None,
    mode: shared.Mode = "max",
    baseline: str | None = None,
    eval_every: int | None = None,
    sequential: bool = False,
    device: torch.device | str | None = None,
    process_group: Any = None,
    memory_budget: int | None = None,
    progress: shared.Progress | None = None,
) -> shared.CompareResult:
    """Train every ``(schedule, seed)`` member for ``epochs`` epochs; the torch counterpart of
    :func:`lrsched_jax.compare`, with the same result.

    * ``model(seed)`` builds the ``nn.Module`` a member with that seed starts from (moved to
      ``device`` when given; the data too).
    * ``optimizer(params)`` builds the torch optimizer over ``params`` (parameters, or one
      param group per member when ``sequential=False``), e.g.
      ``lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)``; a :class:`ScheduleLR` then sets
      the lr of update ``k`` to the member's ``schedule(k)`` (the factory's lr is replaced).
    * The loss minimised, as every helper that trains takes it: ``criterion(output, y)``
      (default ``F.cross_entropy``) or ``loss_fn(model, (x, y))`` — exactly one (a
      ``loss_fn`` runs under ``torch.func`` with each member's parameters in place of the
      model's when ``sequential=False``). ``metric(output, y)`` (default :func:`accuracy`) and
      the loss are evaluated on the whole of ``val`` after every ``eval_every`` updates of an
      epoch and at its end, in ``eval()`` mode under ``torch.no_grad()``. Deprecated:
      ``loss=`` (now ``criterion=``); it warns.
    * ``process_group``: split the members over its ranks (every rank calls ``compare`` with
      the same arguments and returns the whole result).
    * ``target``, ``mode``, ``baseline``, ``eval_every``, ``memory_budget``, ``progress``: as in
      :func:`lrsched_jax.compare`.

    ``compile_s`` is 0 (nothing is compiled). ``TypeError`` / ``ValueError`` name the bad argument.
    """
    named, seed_list, base = shared.check_arena(
        schedules, seeds, epochs, target=target, mode=mode, baseline=baseline
    )
    criterion, loss_fn = deprecated_loss(loss, criterion, loss_fn, takes_model=False)
    resolved = resolve_loss(criterion, loss_fn, cross_entropy, CRITERION_MODULES)
    crit = resolved.criterion if isinstance(resolved, CriterionLoss) else None
    for fn, name in ((model, "model"), (optimizer, "optimizer"), (metric, "metric")):
        if not callable(fn):
            raise TypeError(f"{here()}: {name} must be callable, got {fn!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"{here()}: batch_size must be an int, got {batch_size!r}")
    xt, yt = _pair("train", train, device)
    xv, yv = _pair("val", val, device)
    n = len(xt)
    if not 1 <= batch_size <= n:
        raise ValueError(f"{here()}: batch_size must be in [1, {n}] (the training samples), got {batch_size}")
    steps = n // int(batch_size)
    every = shared.check_eval_every(eval_every, steps, len(xv), int(batch_size))
    grid = shared.member_grid(len(named), seed_list)

    def fresh(seed: int) -> torch.nn.Module:
        net = model(seed)
        if not isinstance(net, torch.nn.Module):
            raise TypeError(
                f"{here()}: model({seed}) must return a torch.nn.Module, got {type(net).__name__}"
            )
        return net if device is None else net.to(device)

    first = fresh(seed_list[0])
    if not sequential and dict(first.named_buffers()):
        raise ValueError(
            f"{here()}: sequential=False needs a model without buffers (found "
            f"{sorted(dict(first.named_buffers()))}); pass sequential=True"
        )
    param_bytes = sum(p.numel() * p.element_size() for p in first.parameters())
    fp = shared.Footprint.estimate(
        param_bytes=param_bytes,
        opt_state_bytes=2 * param_bytes,  # Adam's two moments: the most a torch optimizer keeps
        n_updates=int(epochs) * steps,
        n_evals=int(epochs) * len(shared.eval_points(steps, every)),
        steps_per_epoch=steps,
        batch_size=int(batch_size),
        data_bytes=sum(t.numel() * t.element_size() for t in (xt, yt, xv, yv)),
        n_schedules=0,
        itemsize=0,
    )
    ranks, rank = 1, 0
    if process_group is not None:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise ValueError(f"{here()}: process_group is given but torch.distributed is not initialised")
        ranks, rank = dist.get_world_size(process_group), dist.get_rank(process_group)
    mine = [int(m) for m in np.array_split(np.arange(len(grid)), ranks)[rank]]
    chunk = 1 if sequential else fp.plan(len(grid), memory_budget)
    run = _Arena(
        named=named, grid=grid, fresh=fresh, optimizer=optimizer, criterion=crit,
        loss_fn=None if crit is not None else resolved, metric=metric, train=(xt, yt), val=(xv, yv),
        batch_size=int(batch_size), steps=steps, epochs=int(epochs), eval_every=every, progress=progress,
        total=len(mine) * int(epochs),
    )  # fmt: skip
    start = time.perf_counter()
    for i in range(0, len(mine), max(1, chunk)):
        (run.sequential if sequential else run.population)(mine[i : i + chunk])
    train_s = time.perf_counter() - start
    if ranks > 1:
        _gather(run, mine, process_group)
    how = "sequential" if sequential else "one torch.func loop"
    return shared.collect(
        "torch", how, named, seed_list, run.records, target=target, mode=mode, baseline=base, compile_s=0.0,
        train_s=train_s, epochs=int(epochs), eval_every=every,
        chunks=1 if sequential else -(-max(1, len(mine)) // chunk), processes=ranks,
    )  # fmt: skip
