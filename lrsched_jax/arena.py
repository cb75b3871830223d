"""The schedule arena in JAX: every ``(schedule, seed)`` member trained at once, as one
vmapped, jitted program.

:func:`compare` answers the article's question — does a schedule beat a fixed lr here, and
which one? — on the caller's model and data: each member is a copy of the model (the
constructor's weights for its seed) trained with the optimizer the factory builds around
the member's schedule, on the seed's batches (:mod:`lrsched_jax.core.arena`), for the same
budget of epochs, its validation metric checked after every epoch.

How the population runs: the members' parameters and optimizer states are stacked along a
leading member axis, and one epoch is one compiled program — ``jax.vmap`` over the members
of a ``lax.scan`` over the epoch's updates, then the validation pass. Each member computes
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

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

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

__all__ = ["accuracy", "compare", "cross_entropy"]

LossFn = Callable[[nnx.Module, jax.Array, jax.Array], jax.Array]
Schedules = Sequence[Schedule] | Mapping[str, Schedule]


def cross_entropy(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of ``model(x)`` against integer labels ``y``."""
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def accuracy(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    """The fraction of samples whose largest logit is the label's."""
    return jnp.mean(jnp.argmax(model(x), axis=-1) == y)


def _pair(where: str, name: str, data: Any) -> tuple[jax.Array, jax.Array]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{where}: {name} must be an (x, y) pair of arrays, got {type(data).__name__}")
    x, y = data
    if np.ndim(x) < 1 or np.ndim(y) < 1:
        raise ValueError(f"{where}: {name}: x and y must be arrays with a sample axis")
    n, m = int(np.shape(x)[0]), int(np.shape(y)[0])
    if n != m or n == 0:
        raise ValueError(
            f"{where}: {name}: x and y must have the same, non-zero number of samples, got {n} and {m}"
        )
    return jnp.asarray(x), jnp.asarray(y)


def _stack(trees: Sequence[Any], which: np.ndarray) -> Any:
    """The trees' leaves stacked along a new leading axis, entry ``which[m]`` at ``m``. On the
    host: eager ``jnp.stack`` and gathers would each compile a small program."""
    return jax.tree.map(lambda *a: jnp.asarray(np.stack([np.asarray(v) for v in a])[which]), *trees)


def compare(
    model: Callable[[int], nnx.Module],
    optimizer: Callable[[Callable[[Any], Any]], optax.GradientTransformation],
    train: tuple[Any, Any],
    val: tuple[Any, Any],
    schedules: Schedules,
    seeds: Sequence[int],
    epochs: int,
    *,
    loss: LossFn = cross_entropy,
    metric: LossFn = accuracy,
    batch_size: int = 32,
    target: float | None = None,
    mode: Mode = "max",
    baseline: str | None = None,
    sequential: bool = False,
    path: Literal["scan", "steps"] = "scan",
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
    * ``loss(model, x, y)`` is minimised on batches of ``train = (x, y)``; after every epoch
      ``loss`` and ``metric(model, x, y)`` (default: :func:`accuracy`) are evaluated on the
      whole of ``val`` with the model in eval mode.
    * ``target``: the metric value that counts as reached (``mode="max"``: ``>=``;
      ``"min"``: ``<=``); ``baseline``: the schedule the speed-ups are against (default:
      the first ``constant`` schedule).
    * ``sequential``: one member at a time, one compiled program reused;
      ``path``: ``"scan"`` (the epoch as one ``lax.scan``) or ``"steps"`` (one dispatch per
      update). All give the same members, up to float rounding of batched kernels.
    * ``progress(done, total)`` is called after every member-epoch (in a one-program run,
      after every epoch, with all members' epochs counted).

    Compilation happens before the clock of ``seconds_to_target`` starts and is reported as
    ``compile_s``. ``TypeError`` / ``ValueError`` name the bad argument.
    """
    where = "compare"
    named, seed_list, base = check_arena(where, schedules, seeds, epochs, target, mode, baseline)
    if not callable(model):
        raise TypeError(f"{where}: model must be a callable seed -> nnx.Module, got {model!r}")
    if not callable(optimizer):
        raise TypeError(f"{where}: optimizer must be a callable lr -> optax.GradientTransformation")
    for fn, name in ((loss, "loss"), (metric, "metric")):
        if not callable(fn):
            raise TypeError(f"{where}: {name} must be a callable (model, x, y) -> scalar, got {fn!r}")
    if path not in ("scan", "steps"):
        raise ValueError(f"{where}: path must be 'scan' or 'steps', got {path!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"{where}: batch_size must be an int, got {batch_size!r}")
    xt, yt = _pair(where, "train", train)
    xv, yv = _pair(where, "val", val)
    n = int(xt.shape[0])
    if not 1 <= batch_size <= n:
        raise ValueError(f"{where}: batch_size must be in [1, {n}] (the training samples), got {batch_size}")
    steps = n // int(batch_size)
    probe = optimizer(named[0][1])
    if not isinstance(probe, optax.GradientTransformation):
        raise TypeError(
            f"{where}: optimizer(lr) must return an optax.GradientTransformation, got {type(probe).__name__}"
        )

    graphdef: Any = None
    per_seed = []
    for s in seed_list:
        net = model(s)
        if not isinstance(net, nnx.Module):
            raise TypeError(f"{where}: model({s}) must return an nnx.Module, got {type(net).__name__}")
        g, params, rest = nnx.split(net, nnx.Param, ...)  # type: ignore[misc]
        if graphdef is None:
            graphdef = g
        elif g != graphdef:
            raise ValueError(f"{where}: model({s}) has another structure than model({seed_list[0]})")
        per_seed.append((params, rest))

    ftype = jnp.result_type(float)
    n_updates = int(epochs) * steps

    def lr_table(t: jax.Array) -> jax.Array:
        """Every schedule at every update of the budget, ``(schedules, updates)``, in-graph."""
        return jnp.stack([jnp.broadcast_to(jnp.asarray(f(t), dtype=ftype), t.shape) for _, f in named])

    def lr_of(sched_idx: jax.Array, table: jax.Array) -> Callable[[Any], jax.Array]:
        def lr(count: Any) -> jax.Array:
            # The member's schedule at the member's count, read from the table: one program
            # serves every family, and the schedules' code is compiled once, unbatched,
            # outside the member axis (under vmap a switch would be a select evaluating
            # every schedule for every member at every update).
            return table[sched_idx, jnp.clip(count, 0, n_updates - 1)]

        return lr

    def init(params: Any, sched_idx: jax.Array, data: Any) -> Any:
        return optimizer(lr_of(sched_idx, data[4])).init(params)

    def update(carry: Any, bidx: jax.Array, sched_idx: jax.Array, data: Any) -> tuple[Any, jax.Array]:
        params, rest, opt_state = carry
        xt, yt = data[0], data[1]

        def f(p: Any) -> tuple[jax.Array, Any]:
            mod = nnx.merge(graphdef, p, rest)
            value = loss(mod, xt[bidx], yt[bidx])
            return value, nnx.split(mod, nnx.Param, ...)[2]  # type: ignore[misc]

        (value, rest), grads = jax.value_and_grad(f, has_aux=True)(params)
        updates, opt_state = optimizer(lr_of(sched_idx, data[4])).update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), rest, opt_state), value

    def evaluate(params: Any, rest: Any, data: Any) -> tuple[jax.Array, jax.Array]:
        mod = nnx.merge(graphdef, params, rest)
        mod.eval()
        return loss(mod, data[2], data[3]), metric(mod, data[2], data[3])

    def epoch_fn(
        params: Any, rest: Any, opt_state: Any, sched_idx: jax.Array, idx: jax.Array, data: Any
    ) -> Any:
        (params, rest, opt_state), losses = jax.lax.scan(
            lambda c, b: update(c, b, sched_idx, data), (params, rest, opt_state), idx
        )
        return params, rest, opt_state, losses, *evaluate(params, rest, data)

    def step_fn(
        params: Any, rest: Any, opt_state: Any, sched_idx: jax.Array, bidx: jax.Array, data: Any
    ) -> Any:
        (params, rest, opt_state), value = update((params, rest, opt_state), bidx, sched_idx, data)
        return params, rest, opt_state, value

    grid = member_grid(len(named), seed_list)
    M = len(grid)
    seed_pos = {s: i for i, s in enumerate(seed_list)}
    orders = {(s, e): batch_order(s, e, n, int(batch_size)) for s in seed_list for e in range(epochs)}
    total = M * epochs
    done = 0
    losses_all = np.zeros((M, epochs * steps))
    vm = np.zeros((M, epochs))
    vl = np.zeros((M, epochs))
    ends = np.zeros((M, epochs))

    def programs(batched: bool) -> tuple[Any, Any, Any]:
        if not batched:
            return jax.jit(init), jax.jit(epoch_fn if path == "scan" else step_fn), jax.jit(evaluate)
        # Members along axis 0; the data shared by all of them.
        return (
            jax.jit(jax.vmap(init, in_axes=(0, 0, None))),
            jax.jit(jax.vmap(epoch_fn if path == "scan" else step_fn, in_axes=(0, 0, 0, 0, 0, None))),
            jax.jit(jax.vmap(evaluate, in_axes=(0, 0, None))),
        )

    def run_epoch(prog: Any, ev: Any, state: Any, sched: jax.Array, idx: jax.Array) -> Any:
        params, rest, opt_state = state
        if path == "scan":
            params, rest, opt_state, losses, l_, m_ = prog(params, rest, opt_state, sched, idx, data)
            return (params, rest, opt_state), losses, l_, m_
        out = []
        for k in range(steps):
            params, rest, opt_state, value = prog(params, rest, opt_state, sched, idx[..., k, :], data)
            out.append(value)
        l_, m_ = ev(params, rest, data)
        return (params, rest, opt_state), jnp.stack(out, axis=-1), l_, m_

    t0 = time.perf_counter()
    counts = jnp.arange(n_updates, dtype=jnp.int32)  # Optax's update count is an int32
    table = jax.jit(lr_table).lower(counts).compile()(counts)
    # The data (and the lr table) are arguments of the programs, not constants folded into them.
    data = (xt, yt, xv, yv, table)
    if not sequential:
        sched = jnp.asarray([i for i, _ in grid], dtype=jnp.int32)
        which = np.asarray([seed_pos[s] for _, s in grid])
        params = _stack([p for p, _ in per_seed], which)
        rest = _stack([r for _, r in per_seed], which)
        idx_of = lambda e: jnp.asarray(np.stack([orders[s, e] for _, s in grid]))  # noqa: E731
        init_p, prog, ev = programs(True)
        init_c = init_p.lower(params, sched, data).compile()
        opt_state = init_c(params, sched, data)
        prog_c = _compile(prog, path, (params, rest, opt_state, sched), idx_of(0), data)
        ev_c = ev.lower(params, rest, data).compile() if path == "steps" else None
        compile_s = time.perf_counter() - t0
        start = time.perf_counter()
        state = (params, rest, opt_state)
        for e in range(epochs):
            state, losses, l_, m_ = run_epoch(prog_c, ev_c, state, sched, idx_of(e))
            losses_all[:, e * steps : (e + 1) * steps] = np.asarray(losses)
            vl[:, e], vm[:, e] = np.asarray(l_), np.asarray(m_)
            ends[:, e] = time.perf_counter() - start
            done += M
            if progress is not None:
                progress(done, total)
        train_s = time.perf_counter() - start
    else:
        init_p, prog, ev = programs(False)
        p0, r0 = per_seed[0]
        s0 = jnp.asarray(0, dtype=jnp.int32)
        init_c = init_p.lower(p0, s0, data).compile()
        o0 = init_c(p0, s0, data)
        prog_c = _compile(prog, path, (p0, r0, o0, s0), jnp.asarray(orders[seed_list[0], 0]), data)
        ev_c = ev.lower(p0, r0, data).compile() if path == "steps" else None
        compile_s = time.perf_counter() - t0
        start = time.perf_counter()
        for m, (i, s) in enumerate(grid):
            mine = time.perf_counter()
            sched = jnp.asarray(i, dtype=jnp.int32)
            params, rest = per_seed[seed_pos[s]]
            state = (params, rest, init_c(params, sched, data))
            for e in range(epochs):
                state, losses, l_, m_ = run_epoch(prog_c, ev_c, state, sched, jnp.asarray(orders[s, e]))
                losses_all[m, e * steps : (e + 1) * steps] = np.asarray(losses)
                vl[m, e], vm[m, e] = float(l_), float(m_)
                ends[m, e] = time.perf_counter() - mine
                done += 1
                if progress is not None:
                    progress(done, total)
        train_s = time.perf_counter() - start

    how = "sequential" if sequential else "one program"
    return collect(
        "jax",
        how,
        named,
        seed_list,
        target,
        mode,
        base,
        vm,
        vl,
        losses_all,
        ends,
        compile_s,
        train_s,
        _bytes(prog_c),
    )


def _bytes(compiled: Any) -> int | None:
    """Arguments + outputs + scratch of a compiled program, by XLA's memory analysis."""
    try:
        ma = compiled.memory_analysis()
        return int(ma.argument_size_in_bytes + ma.output_size_in_bytes + ma.temp_size_in_bytes)
    except (AttributeError, TypeError, NotImplementedError):
        return None


def _compile(prog: Any, path: str, state: tuple[Any, ...], idx: jax.Array, data: Any) -> Any:
    """The epoch (``path="scan"``) or update (``"steps"``) program, compiled ahead of time."""
    return prog.lower(*state, idx if path == "scan" else idx[..., 0, :], data).compile()
