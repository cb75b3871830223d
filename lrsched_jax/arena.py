"""The schedule arena in JAX: every ``(schedule, seed)`` member trained at once, as one
vmapped, jitted program.

:func:`compare` answers the article's question — does a schedule beat a fixed lr here, and
which one? — on the caller's model and data: each member is a copy of the model (the
constructor's weights for its seed) trained with the optimizer the factory builds around
the member's schedule, on the seed's batches (:mod:`lrsched_jax.core.arena`), for the same
budget of epochs, its validation metric checked after every epoch.

How the population runs: the members' parameters and optimizer states are stacked along a
leading member axis, and one epoch is one compiled program — ``jax.vmap`` over the members
of a ``lax.scan`` over the epoch's segments of ``eval_every`` updates, each followed by the
validation pass (the evaluation stays inside the program). With ``devices=N`` the member axis
is sharded over a one-axis mesh of ``N`` devices (``"members"``; the data and the lr table
replicated), so the same program runs SPMD, each device training its share of the members;
members are padded to a multiple of ``N`` with copies that are dropped afterwards. Under
``jax.distributed`` the mesh may span hosts: every process places its own devices' share (the
same values everywhere), runs the one program, and gathers every member's records. A run whose
estimated memory (:class:`lrsched_jax.core.arena.Footprint`) exceeds the budget trains its
members in chunks that fit, or is refused before anything is built. Each member computes
its own lr in-graph: every schedule is evaluated (jitted, in the run's float dtype) at every
update count of the budget, once, into a table, and at update ``k`` a member reads its
schedule's row (its traced schedule index) at its own count ``k`` — so schedules of
different families share one program, and the schedules are compiled once, not once per
member. ``sequential=True`` trains the same members one at a time with one compiled
single-member program reused for all of them (the schedule index is an argument of the
program, not a constant in it): the reference the one-program run is checked against.
``path="steps"`` dispatches one jitted (vmapped) update per step instead of the scan.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from lrsched_jax.core.arena import (
    CompareResult,
    Footprint,
    Mode,
    Progress,
    batch_order,
    check_arena,
    check_eval_every,
    collect,
    eval_points,
    member_grid,
)
from lrsched_jax.core.losses import deprecated_loss, old_style, resolve_loss
from lrsched_jax.core.schedule import Schedule
from lrsched_jax.core.validate import here, place
from lrsched_jax.finder.jax_driver import CRITERION_MODULES, cross_entropy

__all__ = ["accuracy", "compare", "cross_entropy"]

Criterion = Callable[[Any, Any], jax.Array]
LossFn = Callable[[nnx.Module, Any], jax.Array]
ModelMetric = Callable[[nnx.Module, jax.Array, jax.Array], jax.Array]
Schedules = Sequence[Schedule] | Mapping[str, Schedule]


@dataclasses.dataclass
class _Shared:
    """:func:`shared_programs`' state: the lr tables' length, and the compiled programs by key."""

    updates: int
    cache: dict[Any, Any] = dataclasses.field(default_factory=dict)


_PROGRAMS: contextvars.ContextVar[_Shared | None] = contextvars.ContextVar("programs", default=None)


@contextlib.contextmanager
def shared_programs(updates: int = 0) -> Iterator[_Shared]:
    """Within the block, :func:`compare` calls that would compile the same one-program run —
    the same model structure, optimizer factory, loss and metric objects, data shapes, member
    count and evaluation points — reuse the first call's compiled programs (the lr table is an
    argument of the programs, so the schedules may differ). Runs of at most ``updates``
    updates pad their lr table to that many columns (past a run's end, never read), so runs of
    different lengths share one program too. The tuner's rungs of one member count (its edge
    probes and both halves of its last rung) compile once. Yields the state: its ``updates``
    may be raised inside the block, before the runs it should pad."""
    if isinstance(updates, bool) or not isinstance(updates, (int, np.integer)) or updates < 0:
        raise ValueError(f"shared_programs: updates must be an int >= 0, got {updates!r}")
    shared = _Shared(int(updates))
    token = _PROGRAMS.set(shared)
    try:
        yield shared
    finally:
        _PROGRAMS.reset(token)


def accuracy(output: jax.Array, y: jax.Array) -> jax.Array:
    """The fraction of samples whose largest logit (``output``) is the label ``y``: the
    default ``metric``."""
    return jnp.mean(jnp.argmax(output, axis=-1) == y)


@dataclasses.dataclass(frozen=True)
class _OutputMetric:
    """``metric(model(x), y)``: a metric of ``(output, y)`` as the arena evaluates it."""

    metric: Criterion

    def __call__(self, model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
        return self.metric(model(x), y)


def _model_metric(metric: Any) -> ModelMetric:
    """The arena's ``(model, x, y)`` metric from ``metric(output, y)`` — or, deprecated, from
    the old ``metric(model, x, y)`` (three required positional parameters)."""
    if metric is None:
        return _OutputMetric(accuracy)
    if not callable(metric):
        raise TypeError(f"{here()}: metric must be a callable (output, y) -> scalar, got {metric!r}")
    if old_style(metric):
        import warnings

        warnings.warn(
            f"{here()}: a metric of (model, x, y) is deprecated and will be refused in the next release: "
            "pass metric= as a function of (output, y), as every other helper takes it",
            DeprecationWarning,
            stacklevel=3,
        )
        return metric
    return _OutputMetric(metric)


def _pair(name: str, data: Any) -> tuple[jax.Array, jax.Array]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{here()}: {name} must be an (x, y) pair of arrays, got {type(data).__name__}")
    x, y = data
    if np.ndim(x) < 1 or np.ndim(y) < 1:
        raise ValueError(f"{here()}: {name}: x and y must be arrays with a sample axis")
    n, m = int(np.shape(x)[0]), int(np.shape(y)[0])
    if n != m or n == 0:
        raise ValueError(
            f"{here()}: {name}: x and y must have the same, non-zero number of samples, got {n} and {m}"
        )
    return jnp.asarray(x), jnp.asarray(y)


def _stack(trees: Sequence[Any], which: np.ndarray) -> Any:
    """The trees' leaves stacked along a new leading axis, entry ``which[m]`` at ``m``. On the
    host: eager ``jnp.stack`` and gathers would each compile a small program."""
    return jax.tree.map(lambda *a: jnp.asarray(np.stack([np.asarray(v) for v in a])[which]), *trees)


def _devices(devices: Any) -> list[Any]:
    """The devices the members are sharded over (one: no mesh)."""
    if devices is None:
        return []
    if isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        have = jax.devices()
        if not 1 <= devices <= len(have):
            raise ValueError(
                f"{here()}: devices={devices}, but JAX sees {len(have)} {have[0].platform} device(s) "
                "(on a CPU, set XLA_FLAGS=--xla_force_host_platform_device_count=N before JAX starts)"
            )
        return list(have[: int(devices)])
    if isinstance(devices, Sequence) and devices and all(isinstance(d, jax.Device) for d in devices):
        return list(devices)
    raise TypeError(
        f"{here()}: devices must be a number of devices or a list of jax devices, got {devices!r}"
    )


@dataclasses.dataclass
class _Arena:
    """One run's pieces, its pure functions and its record arrays."""

    named: list[tuple[str, Schedule]]
    seeds: list[int]
    graphdef: Any
    per_seed: dict[int, tuple[Any, Any]]
    optimizer: Callable[[Callable[[Any], Any]], optax.GradientTransformation]
    loss: LossFn
    metric: ModelMetric
    path: str
    n: int
    batch_size: int
    steps: int
    epochs: int
    eval_every: int
    progress: Progress | None
    records: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    done: int = 0
    compile_s: float = 0.0
    program: Any = None
    #: what the compiled programs depend on besides the member count (:func:`shared_programs`)
    key: tuple[Any, ...] | None = None

    @property
    def n_updates(self) -> int:
        return self.epochs * self.steps

    @property
    def within(self) -> list[int]:
        return eval_points(self.steps, self.eval_every)

    def lr_of(self, sched_idx: jax.Array, table: jax.Array) -> Callable[[Any], jax.Array]:
        last = table.shape[1] - 1  # the run's last update, or past it in a padded table

        def lr(count: Any) -> jax.Array:
            # The member's schedule at the member's count, read from the table: one program
            # serves every family, and the schedules' code is compiled once, unbatched,
            # outside the member axis (under vmap a switch would be a select evaluating
            # every schedule for every member at every update).
            return table[sched_idx, jnp.clip(count, 0, last)]

        return lr

    def init(self, params: Any, sched_idx: jax.Array, data: Any) -> Any:
        return self.optimizer(self.lr_of(sched_idx, data[4])).init(params)

    def update(self, carry: Any, bidx: jax.Array, sched_idx: jax.Array, data: Any) -> tuple[Any, jax.Array]:
        params, rest, opt_state = carry

        def f(p: Any) -> tuple[jax.Array, Any]:
            mod = nnx.merge(self.graphdef, p, rest)
            value = self.loss(mod, (data[0][bidx], data[1][bidx]))
            return value, nnx.split(mod, nnx.Param, ...)[2]  # type: ignore[misc]

        (value, rest), grads = jax.value_and_grad(f, has_aux=True)(params)
        updates, opt_state = self.optimizer(self.lr_of(sched_idx, data[4])).update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), rest, opt_state), value

    def evaluate(self, params: Any, rest: Any, data: Any) -> tuple[jax.Array, jax.Array]:
        mod = nnx.merge(self.graphdef, params, rest)
        mod.eval()
        return self.loss(mod, (data[2], data[3])), self.metric(mod, data[2], data[3])

    def epoch(
        self, params: Any, rest: Any, opt_state: Any, sched_idx: jax.Array, idx: jax.Array, data: Any
    ) -> Any:
        """One epoch: segments of ``eval_every`` updates (one ``lax.scan`` of them), each
        followed by the validation pass, and a shorter last segment where the epoch does not
        divide; all inside the one program."""

        def segment(carry: Any, seg: jax.Array) -> tuple[Any, Any]:
            carry, losses = jax.lax.scan(lambda c, b: self.update(c, b, sched_idx, data), carry, seg)
            return carry, (losses, *self.evaluate(carry[0], carry[1], data))

        q, r = divmod(self.steps, self.eval_every)
        carry, parts = (params, rest, opt_state), []
        if q:
            carry, (losses, vl, vm) = jax.lax.scan(
                segment, carry, idx[: q * self.eval_every].reshape(q, self.eval_every, -1)
            )
            parts.append((losses.reshape(-1), vl, vm))
        if r:
            carry, (losses, vl, vm) = segment(carry, idx[q * self.eval_every :])
            parts.append((losses, vl[None], vm[None]))
        return (*carry, *(jnp.concatenate([p[j] for p in parts]) for j in range(3)))

    def step(
        self, params: Any, rest: Any, opt_state: Any, sched_idx: jax.Array, bidx: jax.Array, data: Any
    ) -> Any:
        (params, rest, opt_state), value = self.update((params, rest, opt_state), bidx, sched_idx, data)
        return params, rest, opt_state, value

    def start(self, members: int, n_evals: int) -> None:
        self.records = {
            "losses": np.zeros((members, self.n_updates)),
            "vm": np.zeros((members, n_evals)),
            "vl": np.zeros((members, n_evals)),
            "ends": np.zeros((members, n_evals)),
        }

    def orders(self, seeds: Sequence[int], epoch: int) -> np.ndarray:
        """The epoch's batch orders of ``seeds`` (one per member), made when the epoch starts."""
        mine = {s: batch_order(s, epoch, self.n, self.batch_size) for s in set(seeds)}
        return np.stack([mine[s] for s in seeds])

    def run_epoch(
        self, progs: tuple[Any, Any], state: Any, sched: jax.Array, idx: jax.Array, data: Any
    ) -> Any:
        """One epoch by the compiled programs: ``(state, losses, val losses, val metrics)``."""
        prog, ev = progs
        params, rest, opt_state = state
        if self.path == "scan":
            params, rest, opt_state, losses, l_, m_ = prog(params, rest, opt_state, sched, idx, data)
            return (params, rest, opt_state), losses, l_, m_
        out, ls, ms, at = [], [], [], set(self.within)
        for k in range(self.steps):
            params, rest, opt_state, value = prog(params, rest, opt_state, sched, idx[..., k, :], data)
            out.append(value)
            if k + 1 in at:
                l_, m_ = ev(params, rest, data)
                ls.append(l_)
                ms.append(m_)
        return (params, rest, opt_state), jnp.stack(out, axis=-1), jnp.stack(ls, -1), jnp.stack(ms, -1)

    def record(self, rows: Sequence[int], e: int, out: tuple[Any, Any, Any], t0: float, t1: float) -> None:
        """An epoch's records of members ``rows``; the evaluations' times are interpolated
        within the epoch (by updates done), the program returning once per epoch."""
        losses, l_, m_ = (np.asarray(v).reshape(len(rows), -1) for v in out)
        k = len(self.within)
        r = self.records
        r["losses"][rows, e * self.steps : (e + 1) * self.steps] = losses
        r["vl"][rows, e * k : (e + 1) * k] = l_
        r["vm"][rows, e * k : (e + 1) * k] = m_
        r["ends"][rows, e * k : (e + 1) * k] = t0 + (t1 - t0) * np.asarray(self.within) / self.steps
        self.done += len(rows)
        if self.progress is not None:
            self.progress(self.done, len(self.records["losses"]) * self.epochs)

    def population(
        self, grid: list[tuple[int, int]], rows: list[int], devices: list[Any], data: Any
    ) -> float:
        """Train the members ``rows`` of ``grid`` together, sharded over ``devices`` when there
        are several (padded to a multiple of them); returns the training seconds."""
        pad = (-len(rows)) % max(1, len(devices))
        padded = rows + [rows[-1]] * pad
        seeds = [grid[m][1] for m in padded]
        seed_pos = {s: i for i, s in enumerate(self.seeds)}
        which = np.asarray([seed_pos[s] for s in seeds])
        if len(devices) > 1:
            mesh = Mesh(np.asarray(devices), ("members",))
            put = lambda a: _global(a, NamedSharding(mesh, P("members")))  # noqa: E731
            data = jax.tree.map(lambda a: _global(a, NamedSharding(mesh, P())), data)
        else:
            put = jnp.asarray
        sched = put(np.asarray([grid[m][0] for m in padded], dtype=np.int32))
        params = jax.tree.map(put, _stack([self.per_seed[s][0] for s in self.seeds], which))
        rest = jax.tree.map(put, _stack([self.per_seed[s][1] for s in self.seeds], which))
        t0 = time.perf_counter()
        if self.program is None or self.program[0] != len(padded):
            idx0 = put(self.orders(seeds, 0))
            self.program = self._shared(
                len(padded), lambda: self._compile(True, (params, rest, sched), idx0, data)
            )
        init_c, prog_c, ev_c = self.program[1:]
        state = (params, rest, init_c(params, sched, data))
        self.compile_s += time.perf_counter() - t0
        start = time.perf_counter()
        for e in range(self.epochs):
            t0 = time.perf_counter() - start
            state, *out = self.run_epoch((prog_c, ev_c), state, sched, put(self.orders(seeds, e)), data)
            out = [_host(v)[: len(rows)] for v in out]
            self.record(rows, e, tuple(out), t0, time.perf_counter() - start)
        return time.perf_counter() - start

    def _shared(self, members: int, build: Callable[[], tuple[Any, Any, Any]]) -> tuple[Any, ...]:
        """``(members, *programs)``: compiled by ``build``, or, inside :func:`shared_programs`,
        the programs an earlier run with the same key compiled."""
        shared = _PROGRAMS.get()
        if shared is None or self.key is None:
            return (members, *build())
        key = (*self.key, members)
        if key not in shared.cache:
            shared.cache[key] = (members, *build())
        return shared.cache[key]

    def sequential(self, grid: list[tuple[int, int]], data: Any) -> float:
        """Train the members one at a time with one compiled single-member program."""
        p0, r0 = self.per_seed[self.seeds[0]]
        s0 = jnp.asarray(0, dtype=jnp.int32)
        t0 = time.perf_counter()
        init_c, prog_c, ev_c = self._compile(
            False, (p0, r0, s0), jnp.asarray(self.orders([self.seeds[0]], 0)[0]), data
        )
        self.program = (1, init_c, prog_c, ev_c)
        self.compile_s += time.perf_counter() - t0
        start = time.perf_counter()
        for m, (i, s) in enumerate(grid):
            mine = time.perf_counter()
            sched = jnp.asarray(i, dtype=jnp.int32)
            params, rest = self.per_seed[s]
            state = (params, rest, init_c(params, sched, data))
            for e in range(self.epochs):
                t0 = time.perf_counter() - mine
                state, *out = self.run_epoch(
                    (prog_c, ev_c), state, sched, jnp.asarray(self.orders([s], e)[0]), data
                )
                self.record([m], e, tuple(out), t0, time.perf_counter() - mine)
        return time.perf_counter() - start

    def _compile(
        self, batched: bool, state: tuple[Any, Any, Any], idx: jax.Array, data: Any
    ) -> tuple[Any, Any, Any]:
        """The init, epoch (``path="scan"``) or update (``"steps"``) and evaluation programs,
        compiled ahead of time; batched: ``jax.vmap`` over the members (the data shared)."""
        init, prog, ev = self.init, (self.epoch if self.path == "scan" else self.step), self.evaluate
        if batched:
            init = jax.vmap(init, in_axes=(0, 0, None))
            prog = jax.vmap(prog, in_axes=(0, 0, 0, 0, 0, None))
            ev = jax.vmap(ev, in_axes=(0, 0, None))
        params, rest, sched = state
        init_c = jax.jit(init).lower(params, sched, data).compile()
        opt_state = init_c(params, sched, data)  # concrete: it carries the members' sharding
        arg = idx if self.path == "scan" else idx[..., 0, :]
        prog_c = jax.jit(prog).lower(params, rest, opt_state, sched, arg, data).compile()
        ev_c = jax.jit(ev).lower(params, rest, data).compile() if self.path == "steps" else None
        return init_c, prog_c, ev_c


def _global(a: Any, sharding: NamedSharding) -> jax.Array:
    """``a`` (the same value on every process) as one array over ``sharding``'s devices: each
    process places the pieces its own devices hold, so the mesh may span several hosts
    (``jax.distributed``) as well as this process's devices."""
    a = np.asarray(a)
    return jax.make_array_from_callback(a.shape, sharding, lambda index: a[index])


def _host(a: jax.Array) -> np.ndarray:
    """The whole of ``a`` on this host, gathered from the other processes where a mesh spans
    several (every process then records every member)."""
    if a.is_fully_addressable:
        return np.asarray(a)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(a, tiled=True))


def _nbytes(tree: Any) -> int:
    return int(sum(np.prod(a.shape) * np.dtype(a.dtype).itemsize for a in jax.tree.leaves(tree)))


@place("compare")
def compare(
    model: Callable[[int], nnx.Module],
    optimizer: Callable[[Callable[[Any], Any]], optax.GradientTransformation],
    train: tuple[Any, Any],
    val: tuple[Any, Any],
    schedules: Schedules,
    seeds: Sequence[int],
    epochs: int,
    *,
    criterion: Criterion | None = None,
    loss_fn: LossFn | None = None,
    metric: Criterion | None = None,
    loss: Any = None,
    batch_size: int = 32,
    target: float | None = None,
    mode: Mode = "max",
    baseline: str | None = None,
    eval_every: int | None = None,
    sequential: bool = False,
    path: Literal["scan", "steps"] = "scan",
    devices: int | Sequence[Any] | None = None,
    memory_budget: int | None = None,
    progress: Progress | None = None,
) -> CompareResult:
    """Train every ``(schedule, seed)`` member for ``epochs`` epochs; return their records
    and a verdict per schedule (:class:`lrsched_jax.core.arena.CompareResult`).

    * ``model(seed)`` builds the Flax NNX model a member with that seed starts from (every
      seed's model must have the same structure); its ``nnx.Param`` variables are trained,
      the rest (batch statistics, RNG counters) is carried along.
    * ``optimizer(lr)`` builds the Optax transformation around the lr schedule ``lr`` (a
      function of the update count), e.g. ``lambda lr: optax.sgd(lr, momentum=0.9)``; update
      ``k`` must use ``lr(k)``, as every Optax optimizer does with a schedule.
    * The loss minimised on batches of ``train = (x, y)``, as every helper that trains takes
      it (:mod:`lrsched_jax.core.losses`): ``criterion(output, y)`` (default: softmax
      cross-entropy on integer labels) or ``loss_fn(model, (x, y))`` — exactly one. After every
      ``eval_every`` updates of an epoch and at its end, the loss and ``metric(output, y)``
      (default: :func:`accuracy`) are evaluated on the whole of ``val`` with the model in
      eval mode, inside the compiled program (default ``eval_every``:
      :func:`lrsched_jax.core.arena.default_eval_every`). Deprecated: ``loss=f`` with
      ``f(model, x, y)`` (now ``loss_fn``) and a metric of ``(model, x, y)``; both warn.
    * ``target``: the metric value that counts as reached (``mode="max"``: ``>=``;
      ``"min"``: ``<=``); ``baseline``: the schedule the speed-ups are against (default:
      the first ``constant`` schedule). A member whose loss becomes non-finite is marked
      diverged; the others train on.
    * ``sequential``: one member at a time, one compiled program reused;
      ``path``: ``"scan"`` (the epoch as one ``lax.scan``) or ``"steps"`` (one dispatch per
      update). All give the same members, up to float rounding of batched kernels.
    * ``devices``: shard the members over that many of ``jax.devices()`` (or over the given
      devices): one SPMD program. Under ``jax.distributed`` (one process per host, every
      process calling ``compare`` with the same arguments) ``jax.devices()`` are all hosts'
      devices: the members are sharded over the global mesh, and every process returns the
      whole result (``processes``: the hosts the mesh spans).
    * ``memory_budget``: the bytes the run may plan to hold (default: half the available
      memory); a run that does not fit trains its members in chunks, or is refused with
      ``ValueError`` naming the sizes before anything is built.
    * ``progress(done, total)`` is called after every member-epoch (in a one-program run,
      after every epoch, with all members' epochs counted).

    Compilation happens before the clock of ``seconds_to_target`` starts and is reported as
    ``compile_s``. ``TypeError`` / ``ValueError`` name the bad argument.
    """
    named, seed_list, base = check_arena(
        schedules, seeds, epochs, target=target, mode=mode, baseline=baseline
    )
    criterion, loss_fn = deprecated_loss(loss, criterion, loss_fn, takes_model=True)
    member_loss = resolve_loss(criterion, loss_fn, cross_entropy, CRITERION_MODULES)
    model_metric = _model_metric(metric)
    _check_callables(model, optimizer)
    if path not in ("scan", "steps"):
        raise ValueError(f"{here()}: path must be 'scan' or 'steps', got {path!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"{here()}: batch_size must be an int, got {batch_size!r}")
    xt, yt = _pair("train", train)
    xv, yv = _pair("val", val)
    n = int(xt.shape[0])
    if not 1 <= batch_size <= n:
        raise ValueError(f"{here()}: batch_size must be in [1, {n}] (the training samples), got {batch_size}")
    steps = n // int(batch_size)
    every = check_eval_every(eval_every, steps, int(xv.shape[0]), int(batch_size))
    devs = _devices(devices)
    if sequential and len(devs) > 1:
        raise ValueError(f"{here()}: sequential=True trains one member at a time; leave devices out")
    grid = member_grid(len(named), seed_list)
    ftype = jnp.result_type(float)
    first = _build(model, seed_list[0])
    probe = optimizer(named[0][1])
    if not isinstance(probe, optax.GradientTransformation):
        raise TypeError(
            f"{here()}: optimizer(lr) must return an optax.GradientTransformation, got {type(probe).__name__}"
        )
    fp = Footprint.estimate(
        param_bytes=_nbytes(first[1]) + _nbytes(first[2]),
        opt_state_bytes=_nbytes(jax.eval_shape(probe.init, first[1])),
        n_updates=int(epochs) * steps,
        n_evals=int(epochs) * len(eval_points(steps, every)),
        steps_per_epoch=steps,
        batch_size=int(batch_size),
        data_bytes=_nbytes((xt, yt, xv, yv)),
        n_schedules=len(named),
        itemsize=np.dtype(ftype).itemsize,
    )
    chunk = 1 if sequential else fp.plan(len(grid), memory_budget)
    if int(epochs) * steps >= 2**31:
        raise ValueError(f"{here()}: epochs × updates per epoch must stay below 2**31 (Optax's int32 count)")
    per_seed = _per_seed(model, seed_list, first)
    run = _Arena(
        named=named, seeds=seed_list, graphdef=first[0], per_seed=per_seed, optimizer=optimizer,
        loss=member_loss, metric=model_metric, path=path, n=n, batch_size=int(batch_size), steps=steps,
        epochs=int(epochs), eval_every=every, progress=progress,
    )  # fmt: skip
    shared = _PROGRAMS.get()
    columns = max(run.n_updates, shared.updates if shared is not None else 0)
    run.key = _program_key(
        first[0], optimizer, (criterion, loss_fn, metric), (xt, yt, xv, yv, *jax.tree.leaves(first[1:])),
        (path, n, int(batch_size), steps, columns, every, len(named), str(ftype), tuple(devs)),
    )  # fmt: skip
    run.start(len(grid), int(epochs) * len(run.within))
    t0 = time.perf_counter()
    counts = jnp.arange(columns, dtype=jnp.int32)  # Optax's update count is an int32

    def lr_table(t: jax.Array) -> jax.Array:
        """Every schedule at every update of the budget, ``(schedules, updates)``, in-graph."""
        return jnp.stack([jnp.broadcast_to(jnp.asarray(f(t), dtype=ftype), t.shape) for _, f in named])

    table = jax.jit(lr_table).lower(counts).compile()(counts)
    run.compile_s = time.perf_counter() - t0
    # The data (and the lr table) are arguments of the programs, not constants folded into them.
    data = (xt, yt, xv, yv, table)
    if sequential:
        train_s = run.sequential(grid, data)
    else:
        rows = list(range(len(grid)))
        train_s = sum(
            run.population(grid, rows[i : i + chunk], devs, data) for i in range(0, len(grid), chunk)
        )
    how = "sequential" if sequential else "one program"
    return collect(
        "jax", how, named, seed_list, run.records, target=target, mode=mode, baseline=base,
        compile_s=run.compile_s, train_s=train_s, program_bytes=_bytes(run.program[2]), epochs=int(epochs),
        eval_every=every,
        chunks=1 if sequential else -(-len(grid) // chunk), devices=max(1, len(devs)),
        processes=max(1, len({d.process_index for d in devs})),
    )  # fmt: skip


def _program_key(
    graphdef: Any, optimizer: Any, fns: tuple[Any, ...], arrays: tuple[Any, ...], sizes: tuple[Any, ...]
) -> tuple[Any, ...] | None:
    """What a run's compiled programs depend on besides the member count; None (no reuse) where
    a part cannot be hashed. The callables count by identity, as the programs trace them."""
    key = (graphdef, optimizer, fns, tuple((a.shape, str(a.dtype)) for a in arrays), sizes)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _check_callables(model: Any, optimizer: Any) -> None:
    if not callable(model):
        raise TypeError(f"{here()}: model must be a callable seed -> nnx.Module, got {model!r}")
    if not callable(optimizer):
        raise TypeError(f"{here()}: optimizer must be a callable lr -> optax.GradientTransformation")


def _per_seed(
    model: Callable[[int], nnx.Module], seeds: list[int], first: tuple[Any, Any, Any]
) -> dict[int, tuple[Any, Any]]:
    """Every seed's ``(params, rest)``, ``first`` being seed ``seeds[0]``'s build; every seed's
    model must have the first one's structure."""
    per_seed = {seeds[0]: first[1:]}
    for s in seeds[1:]:
        g, params, rest = _build(model, s)
        if g != first[0]:
            raise ValueError(f"{here()}: model({s}) has another structure than model({seeds[0]})")
        per_seed[s] = (params, rest)
    return per_seed


def _build(model: Callable[[int], nnx.Module], seed: int) -> tuple[Any, Any, Any]:
    """``model(seed)`` split into (graph, trained params, the rest)."""
    net = model(seed)
    if not isinstance(net, nnx.Module):
        raise TypeError(f"{here()}: model({seed}) must return an nnx.Module, got {type(net).__name__}")
    return nnx.split(net, nnx.Param, ...)  # type: ignore[return-value]


def _bytes(compiled: Any) -> int | None:
    """Arguments + outputs + scratch of a compiled program, by XLA's memory analysis."""
    try:
        ma = compiled.memory_analysis()
        return int(ma.argument_size_in_bytes + ma.output_size_in_bytes + ma.temp_size_in_bytes)
    except (AttributeError, TypeError, NotImplementedError):
        return None
