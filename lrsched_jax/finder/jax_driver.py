r"""The JAX driver of the LR finder: Flax NNX models (or params pytrees) and Optax optimizers.

With in-memory arrays the whole sweep — optimizer init, batching, shuffling, every
training step, the smoothing and the stop rule — is **one jitted program** (a
``lax.while_loop`` that exits at the stop step): one compilation, no host round-trip per
step. An iterable of batches runs the same step function, jitted, from a host loop that
keeps one step in flight (it reads step ``k-1``'s stop code after dispatching step ``k``),
so the same batches give the same result, bit for bit.

Nothing of the caller's is ever modified: the model is split into arrays
(``nnx.split``), trained functionally on those (``nnx.merge`` inside the trace), and the
results are dropped. JAX arrays are immutable and no input buffer is donated, so the
model's parameters, batch statistics, RNG state and any optimizer state are bitwise what
they were — also when the loss function (or the data) raises part-way.

**Data parallel** (``mesh=``; :mod:`lrsched_jax.parallel`): the same program runs SPMD over
the mesh. In-memory data is regrouped once into ``(batches, batch_size, ...)`` with the
batch dimension split over the data axis, so step ``k``'s batch is a slice that is already
distributed (with ``shuffle_key`` the data is kept whole on every device and each epoch's
permutation is regrouped in-program, once per epoch — a local gather). The training state is
replicated (arrays already on the mesh stay as placed), the loss is the global mean, and the
smoothing and the stop rule run inside the program on that replicated loss: every device —
and every host of a multi-host mesh — takes the same decision at the same step. The curve is
returned replicated, so the suggestion rules run on identical float64 host copies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Unpack

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh

from lrsched_jax.core.finder import (
    RUNNING,
    Cycle,
    FinderResult,
    RunOptions,
    SweepConfig,
    SweepOptions,
    Tracker,
    build_result,
    progress_bar,
    sweep_signature,
    tracker_init,
    tracker_step,
)
from lrsched_jax.core.finder.loop import host_loop
from lrsched_jax.core.losses import legacy_positional, resolve_loss
from lrsched_jax.core.validate import here, place
from lrsched_jax.optax_glue import INJECT_STATE_TYPES
from lrsched_jax.parallel import DataParallel, infer, resolve

__all__ = ["cross_entropy", "find_lr", "find_lr_pure"]

_WHERE = "find_lr"

# ---------------------------------------------------------------------------------------
# The optimizer: a factory ``lr -> GradientTransformation`` or an injected transformation.


def _visit_lrs(state: Any, fn: Callable[[int, Any], Any]) -> Any:
    """``state`` with injected ``learning_rate`` number ``g`` replaced by ``fn(g, value)``.

    The injected lrs are numbered in JAX's pytree order (dict keys sorted: for an
    ``optax.multi_transform``, its labels in sorted order), the outer before the nested."""
    count = 0

    def visit(node: Any) -> Any:
        nonlocal count
        if isinstance(node, INJECT_STATE_TYPES) and "learning_rate" in getattr(node, "hyperparams", {}):
            injected: Any = node
            if "learning_rate" in getattr(node, "hyperparams_states", {}):
                raise TypeError(
                    f"{here()}: optimizer: its injected learning_rate is a schedule, which would override "
                    "the sweep; build it with a number (optax.inject_hyperparams(optax.adam)(learning_rate="
                    "1e-3)) or pass a factory such as `lambda lr: optax.adam(lr)`"
                )
            hp = dict(injected.hyperparams)
            g, count = count, count + 1
            hp["learning_rate"] = fn(g, hp["learning_rate"])
            return injected._replace(hyperparams=hp, inner_state=visit(injected.inner_state))
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            return type(node)(*[visit(c) for c in node])
        if isinstance(node, (tuple, list)):
            return type(node)(visit(c) for c in node)
        if isinstance(node, dict):
            return {k: visit(node[k]) for k in sorted(node)}
        return node

    out = visit(state)
    if not count:
        raise TypeError(
            f"{here()}: optimizer: its state has no injected learning_rate to sweep; pass a factory such as "
            "`lambda lr: optax.adamw(lr)`, or build the transformation with optax.inject_hyperparams"
        )
    return out


def _set_lr(state: Any, lr: Any, scales: tuple[float, ...] = (1.0,)) -> Any:
    """``state`` with injected lr ``g`` set to ``lr * scales[g]`` (in its own dtype; one
    scale: every injected lr follows the sweep)."""

    def put(g: int, old: Any) -> Any:
        value = lr if len(scales) == 1 else lr * scales[g]
        return jnp.asarray(value, dtype=jnp.result_type(old))

    return _visit_lrs(state, put)


def _injected_lrs(state: Any) -> list[Any]:
    found: list[Any] = []

    def keep(g: int, old: Any) -> Any:
        found.append(old)
        return old

    _visit_lrs(state, keep)
    return found


@dataclasses.dataclass(frozen=True)
class _Tx:
    """How the sweep's lr reaches the optimizer (hashable: part of the static jit spec)."""

    factory: Callable[[Any], optax.GradientTransformation] | None
    transformation: optax.GradientTransformation | None
    #: Each param group's lr over the first's (an injected transformation with several
    #: injected lrs, e.g. an ``optax.multi_transform``): swept in proportion.
    scales: tuple[float, ...] = (1.0,)

    def build(self, lr0: Any) -> optax.GradientTransformation:
        if self.factory is None:
            assert self.transformation is not None
            return self.transformation
        factory = self.factory

        # inject_hyperparams calls the inner factory with the current lr (a traced scalar) at
        # every update, so a factory may compute with its lr (``optax.sgd(lr * 0.5)``).
        def inner(learning_rate: Any) -> optax.GradientTransformation:
            tx = factory(learning_rate)
            if not isinstance(tx, optax.GradientTransformation):
                raise TypeError(
                    f"{_WHERE}: optimizer: the factory must return an optax.GradientTransformation "
                    f"(e.g. `lambda lr: optax.sgd(lr)`), got "
                    # The lr is a tracer here, so a factory that computes a number returns one.
                    + ("an array" if isinstance(tx, jax.Array) else type(tx).__name__)
                )
            return tx

        return optax.inject_hyperparams(inner)(learning_rate=lr0)

    def update(self, tx: optax.GradientTransformation, grads: Any, opt_state: Any, params: Any, lr: Any):
        opt_state = _set_lr(opt_state, lr, self.scales)
        return tx.update(grads, opt_state, params)

    def with_scales(self, params: Any) -> _Tx:
        """This optimizer with its group scales: for a transformation, its injected lrs at
        ``init`` over the first (computed once, jitted: only the lrs are kept), as torch's
        ``lr_g / lr_0``; a factory has one group."""
        if self.transformation is None:
            return self
        tx = self.transformation
        values = jax.jit(lambda p: _injected_lrs(tx.init(p)))(params)
        lrs0 = [float(v) for v in jax.device_get(values)]
        if len(lrs0) == 1:
            return self
        if not lrs0[0] > 0:
            raise ValueError(
                f"{here()}: optimizer: the first param group's injected learning_rate must be > 0 (the other "
                f"groups are swept in proportion to it), got {lrs0[0]!r}"
            )
        return dataclasses.replace(self, scales=tuple(lr / lrs0[0] for lr in lrs0))


def _as_tx(optimizer: Any) -> _Tx:
    if isinstance(optimizer, nnx.Optimizer):
        optimizer = optimizer.tx
    if isinstance(optimizer, optax.GradientTransformation):
        return _Tx(None, optimizer)
    if callable(optimizer):
        return _Tx(optimizer, None)
    raise TypeError(
        f"{here()}: optimizer must be a factory `lr -> optax.GradientTransformation` (e.g. `lambda lr: "
        f"optax.sgd(lr)`), a transformation built with optax.inject_hyperparams, or an nnx.Optimizer "
        f"over one; got {type(optimizer).__name__}"
    )


# ---------------------------------------------------------------------------------------
# Steppers: ``init(model_state, lr0) -> state`` and ``step(state, batch, lr) -> (state, loss)``.


def _check_loss(loss: Any) -> Any:
    loss = jnp.asarray(loss)
    if loss.shape != ():
        raise ValueError(
            f"{here()}: the loss must be a scalar, got shape {loss.shape} (reduce it, e.g. with .mean())"
        )
    if not jnp.issubdtype(loss.dtype, jnp.floating):
        raise TypeError(f"{here()}: the loss must be floating-point, got dtype {loss.dtype}")
    return loss


def _sum_dtype() -> Any:
    """The accumulators' dtype: float64 where JAX has it (x64), as the torch driver's float64
    Python sums; float32 otherwise."""
    return jax.dtypes.canonicalize_dtype(np.float64)


def _mean_in_order(losses: list[Any]) -> Any:
    """The mean as torch takes it: float64 values summed in order, then divided."""
    total = losses[0].astype(_sum_dtype())
    for x in losses[1:]:
        total = total + x.astype(_sum_dtype())
    return (total / len(losses)).astype(losses[0].dtype)


def _validation_mean(val: Any, one: Callable[[Any], Any]) -> Any:
    """The mean of ``one(batch)`` over the validation batches (``val``: groups of equally
    shaped batches, stacked), summed in order, as the torch driver sums them."""
    total: Any = None
    count = 0
    dtype: Any = jnp.float32
    for group in val:
        count += jax.tree.leaves(group)[0].shape[0]
        dtype = jax.eval_shape(one, jax.tree.map(lambda a: a[0], group)).dtype

        def add(t: Any, batch: Any) -> tuple[Any, None]:
            return t + one(batch).astype(_sum_dtype()), None

        # 0 + x is x exactly: the same running sum as torch's, started at the first loss.
        total, _ = jax.lax.scan(add, jnp.zeros((), _sum_dtype()) if total is None else total, group)
    return (total / count).astype(dtype)


@dataclasses.dataclass(frozen=True)
class _ModelStep:
    """An NNX model (``graphdef`` set) or a params pytree (``graphdef`` None) with Optax.

    One step: the gradients of every micro-batch (``batches``: ``accumulation_steps`` of
    them) of ``loss / accumulation_steps``, summed in order (torch's ``.grad``
    accumulation), one optimizer update; the recorded loss is the micro-batches' mean loss
    before the update — or, with ``val`` (validation mode), the mean of the per-batch losses
    over the validation batches after the update, in eval mode (``model.eval()``)."""

    graphdef: Any
    loss_fn: Callable[..., Any]
    tx: _Tx

    def init(self, model_state: Any, lr0: Any) -> Any:
        params = model_state[0]
        return (*model_state, self.tx.build(lr0).init(params))

    def _model(self, params: Any, rest: Any) -> Any:
        # Fresh Variable objects at this trace level: NNX refuses to update (batch
        # statistics, RNG counts) a Variable created outside the gradient trace.
        return nnx.merge(self.graphdef, params, jax.tree.map(lambda a: a, rest))

    def step(self, state: Any, batches: tuple[Any, ...], lr: Any, val: Any = None) -> tuple[Any, Any]:
        params, rest, opt_state = state
        acc = len(batches)

        def objective(p: Any, rest: Any, batch: Any) -> tuple[Any, Any]:
            if self.graphdef is None:
                loss = _check_loss(self.loss_fn(p, batch))
                return (loss / acc if acc > 1 else loss), (loss, rest)
            model = self._model(p, rest)
            loss = _check_loss(self.loss_fn(model, batch))
            # Batch statistics, RNG counters and other non-Param state the call updated.
            parts: tuple[Any, ...] = nnx.split(model, nnx.Param, ...)
            return (loss / acc if acc > 1 else loss), (loss, parts[2])

        grads: Any = None
        losses = []
        for batch in batches:
            (_, (loss, rest)), g = jax.value_and_grad(objective, has_aux=True)(params, rest, batch)
            grads = g if grads is None else jax.tree.map(jnp.add, grads, g)
            losses.append(loss)
        loss = _mean_in_order(losses) if acc > 1 else losses[0]
        tx = self.tx.build(lr)
        updates, opt_state = self.tx.update(tx, grads, opt_state, params, lr)
        params = optax.apply_updates(params, updates)
        if val is not None:
            loss = _validation_mean(val, lambda batch: self._eval_loss(params, rest, batch))
        return (params, rest, opt_state), loss

    def _eval_loss(self, params: Any, rest: Any, batch: Any) -> Any:
        """One validation batch's loss in eval mode; no state kept."""
        if self.graphdef is None:
            return _check_loss(self.loss_fn(params, batch))
        model = self._model(params, rest)
        model.eval()
        return _check_loss(self.loss_fn(model, batch))


@dataclasses.dataclass(frozen=True)
class _PureStep:
    """A user's pure ``train_step(state, batch, lr) -> (state, loss)``: one update a step, on
    the step's batch — or, with ``accumulation_steps > 1``, on the tuple of its micro-batches.
    In validation mode the recorded loss is the mean of ``loss_fn(state, batch)`` over the
    validation batches after the update."""

    train_step: Callable[[Any, Any, Any], tuple[Any, Any]]
    loss_fn: Callable[[Any, Any], Any] | None = None

    def init(self, model_state: Any, lr0: Any) -> Any:
        return model_state

    def step(self, state: Any, batches: tuple[Any, ...], lr: Any, val: Any = None) -> tuple[Any, Any]:
        out = self.train_step(state, batches[0] if len(batches) == 1 else batches, lr)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(f"{here()}: train_step must return (state, loss), got {type(out).__name__}")
        new_state, loss = out
        loss = _check_loss(loss)
        if val is not None:
            assert self.loss_fn is not None  # checked by find_lr_pure
            fn = self.loss_fn
            loss = _validation_mean(val, lambda batch: _check_loss(fn(new_state, batch)))
        return new_state, loss


# ---------------------------------------------------------------------------------------
# The static description of one sweep, and the two ways to run it.


@dataclasses.dataclass(frozen=True)
class _Spec:
    stepper: Any
    config: SweepConfig
    #: Micro-batches per step (their gradients summed, one update).
    accumulation_steps: int = 1
    batch_size: int = 0
    n_batches: int = 0
    shuffle: bool = False
    progress_every: int = 0
    # Data parallel (in-memory data only; the host loop places each batch itself).
    dp: DataParallel | None = None


class _Tables(NamedTuple):
    """The sweep's per-step tables on the device: the lr and the EMA divisor (or ``None``)."""

    lrs: Any
    divisors: Any


def _advance(spec: _Spec, carry: tuple[Any, Tracker], batches: Any, k: Any, tables: _Tables, val: Any):
    """Step ``k`` (``batches``: its micro-batches) from ``carry = (state, tracker)``: train,
    then smoothing and the stop rule (shared by both paths)."""
    state, tracker = carry
    state, loss = spec.stepper.step(state, batches, tables.lrs[k], val)
    dt = tracker.smoothed.dtype
    loss = loss.astype(dt)
    divisor = None if tables.divisors is None else tables.divisors[k].astype(dt)
    tracker, code = tracker_step(tracker, loss, divisor, spec.config.diverge_factor)
    return state, tracker, loss, code


def _start(spec: _Spec, model_state: Any, batches: Any, lr0: Any, val: Any) -> tuple[Any, Tracker]:
    """The training state and the tracker before step 0.

    The tracker computes in the loss's precision (float64 losses in float64, anything
    narrower in float32, as the torch driver does); the loss dtype comes from tracing one
    step abstractly — at trace time only, so a cached program pays nothing for it. The
    same trace checks the loss (scalar, floating) and the optimizer before any compilation.
    """
    state = spec.stepper.init(model_state, lr0)
    loss = jax.eval_shape(lambda st, b, lr, v: spec.stepper.step(st, b, lr, v)[1], state, batches, lr0, val)
    dt = jnp.float64 if loss.dtype == jnp.float64 else jnp.float32
    return state, tracker_init(jnp, dt)


def _batch(spec: _Spec, data: Any, k: Any, perm: Any, key: Any) -> tuple[Any, Any]:
    """Batch ``k``: batches in order, cycled; with a key, each epoch in its own permutation."""
    pos = k % spec.n_batches
    dp = spec.dp
    if dp is not None:
        # ``data`` is pre-batched ``(n_batches, batch_size, ...)`` (in order), or whole on every
        # device with a key; then ``perm`` is the current epoch, pre-batched the same way.
        if spec.shuffle:
            nb, bs = spec.n_batches, spec.batch_size

            def regroup() -> Any:
                n = jax.tree.leaves(data)[0].shape[0]
                p = jax.random.permutation(jax.random.fold_in(key, k // nb), n).astype(jnp.int32)
                p = p[: nb * bs]
                return jax.tree.map(
                    lambda a: dp.constrain(
                        jnp.take(a, p, axis=0).reshape(nb, bs, *a.shape[1:]), dp.batch_sharding(1)
                    ),
                    data,
                )

            perm = jax.lax.cond(pos == 0, regroup, lambda: perm)
            source = perm
        else:
            source = data
        batch = jax.tree.map(lambda a: jax.lax.dynamic_index_in_dim(a, pos, 0, keepdims=False), source)
        return dp.constrain(batch, dp.batch_sharding(0)), perm
    start = pos * spec.batch_size
    if not spec.shuffle:
        return jax.tree.map(lambda a: jax.lax.dynamic_slice_in_dim(a, start, spec.batch_size, 0), data), perm
    n = perm.shape[0]
    epoch = k // spec.n_batches
    perm = jax.lax.cond(
        pos == 0,
        lambda: jax.random.permutation(jax.random.fold_in(key, epoch), n).astype(jnp.int32),
        lambda: perm,
    )
    idx = jax.lax.dynamic_slice_in_dim(perm, start, spec.batch_size, 0)
    return jax.tree.map(lambda a: jnp.take(a, idx, axis=0), data), perm


# The bar the jitted program reports to (set by find_lr around the call; one sweep at a time
# per process reports progress).
_BAR: dict[str, Any] = {}
_BAR_LOCK = threading.Lock()


def _tick(done: Any) -> None:
    bar = _BAR.get("bar")
    if bar is not None:
        done = int(done)
        if done > bar.n:
            bar.update(done - bar.n)


class _Inputs(NamedTuple):
    """The in-memory program's arrays (a pytree: ``None`` where absent)."""

    model_state: Any
    data: Any
    tables: _Tables
    key: Any
    val: Any


def _first_batch(spec: _Spec, data: Any) -> tuple[Any, Any]:
    """``(the shape of one batch, the initial permutation carry)`` for in-memory ``data``."""
    dp = spec.dp
    if dp is None:
        n_data = jax.tree.leaves(data)[0].shape[0]
        perm = jnp.arange(n_data, dtype=jnp.int32) if spec.shuffle else jnp.zeros((0,), jnp.int32)
        first = jax.tree.map(lambda a: jax.ShapeDtypeStruct((spec.batch_size, *a.shape[1:]), a.dtype), data)
        return first, perm
    # Sample dimensions after the leading one (whole data) or two (pre-batched data).
    skip = 1 if spec.shuffle else 2
    first = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(
            (spec.batch_size, *a.shape[skip:]), a.dtype, sharding=dp.batch_sharding(0)
        ),
        data,
    )
    perm = jnp.zeros((0,), jnp.int32)
    if spec.shuffle:
        # The current epoch's batches; regrouped at the first step of every epoch.
        perm = jax.tree.map(
            lambda a: dp.constrain(
                jnp.zeros((spec.n_batches, spec.batch_size, *a.shape[1:]), a.dtype), dp.batch_sharding(1)
            ),
            data,
        )
    return first, perm


def _program(spec: _Spec, inputs: _Inputs):
    """The whole sweep over in-memory data, as one traced program."""
    model_state, data, tables, key, val = inputs
    n = spec.config.num_iter
    dp = spec.dp
    first, perm = _first_batch(spec, data)
    acc = spec.accumulation_steps
    state, tracker = _start(spec, model_state, (first,) * acc, tables.lrs[0], val)
    layout = None if dp is None else dp.layout(state)
    dt = tracker.smoothed.dtype
    carry = (
        jnp.asarray(0, jnp.int32),
        state,
        tracker,
        jnp.asarray(RUNNING, jnp.int32),
        jnp.full((n,), jnp.nan, dt),
        jnp.full((n,), jnp.nan, dt),
        perm,
    )

    def cond(c: Any) -> Any:
        return (c[0] < n) & (c[3] == RUNNING)

    def body(c: Any) -> Any:
        k, state, tracker, _, raw, smoothed, perm = c
        batches = []
        for i in range(acc):
            batch, perm = _batch(spec, data, k * acc + i, perm, key)
            batches.append(batch)
        new, tracker, loss, code = _advance(spec, (state, tracker), tuple(batches), k, tables, val)
        state = new if dp is None else dp.keep_layout(new, layout)
        raw = raw.at[k].set(loss)
        smoothed = smoothed.at[k].set(tracker.smoothed)
        if spec.progress_every:
            jax.lax.cond(
                ((k + 1) % spec.progress_every == 0) | (code != RUNNING),
                lambda: jax.debug.callback(_tick, k + 1),
                lambda: None,
            )
        return k + 1, state, tracker, code, raw, smoothed, perm

    k, _, _, code, raw, smoothed, _ = jax.lax.while_loop(cond, body, carry)
    out = raw, smoothed, k, code
    # Replicated, so that every host can read the whole curve (and reads the same one).
    return out if dp is None else dp.constrain(out, dp.replicated)


_run_program = jax.jit(_program, static_argnames=("spec",))
_run_start = jax.jit(_start, static_argnames=("spec",))


def _host_advance(spec: _Spec, tree: Any, leaves: list[Any], batches: Any, tables: _Tables, val: Any) -> Any:
    """The host loop's step on the carry ``(state, tracker, k, raw, smoothed)`` as its flat
    list of arrays (``tree`` its structure): passing plain arrays spares the per-call Python
    flattening of NNX variables; the step number travels on the device, so a step sends
    nothing but its batch; and the curve stays there, read once at the end. Returns the new
    carry's arrays and the step's stop code."""
    state, tracker, k, raw, smoothed = jax.tree.unflatten(tree, leaves)
    state, tracker, loss, code = _advance(spec, (state, tracker), batches, k, tables, val)
    raw, smoothed = raw.at[k].set(loss), smoothed.at[k].set(tracker.smoothed)
    return jax.tree.leaves((state, tracker, k + 1, raw, smoothed)), code


@functools.lru_cache(maxsize=16)
def _host_step(spec: _Spec, tree: Any) -> Callable[..., Any]:
    """The host loop's jitted step for ``spec``, bound once per sweep: the static ``spec``
    (model structure, loss, optimizer, settings) is hashed here, not at every step."""
    return jax.jit(functools.partial(_host_advance, spec, tree))


# ---------------------------------------------------------------------------------------
# The two ways to run a sweep.


@dataclasses.dataclass(frozen=True)
class _Run:
    """One call's checked arguments, as the runners take them."""

    stepper: Any
    model_state: Any
    options: RunOptions
    group_scales: tuple[float, ...] = (1.0,)

    def spec(self, **layout: Any) -> _Spec:
        return _Spec(self.stepper, self.options.sweep, self.options.accumulation_steps, **layout)

    @functools.cached_property
    def tables(self) -> _Tables:
        return _tables(self.options.sweep)

    @functools.cached_property
    def val(self) -> Any:
        return _val_groups(self.options.val_data)


@dataclasses.dataclass(frozen=True)
class _Source:
    """Where the batches come from — in-memory arrays (with their batching) or an iterable —
    and the mesh they are split over."""

    data: Any
    batch_size: Any = None
    shuffle_key: Any = None
    mesh: Any = None
    data_axis: Any = None


def _in_program(run: _Run, source: _Source) -> tuple[np.ndarray, np.ndarray, int]:
    """The in-memory sweep: one jitted while-loop; returns ``(raw, smoothed, stop code)``."""
    model_state, val, data = run.model_state, run.val, source.data
    # With mesh=None: data already sharded over a mesh brings its mesh.
    dp = resolve(source.mesh, source.data_axis, data)
    bs, nb = _check_arrays(data, source.batch_size)
    key = _check_key(source.shuffle_key)
    if dp is not None:
        dp.check("batch_size", bs)
        data = dp.replicate_data(data) if key is not None else dp.prebatch(data, nb, bs)
        model_state = dp.place_state(model_state)
        val = None if val is None else dp.replicate_data(val)
    progress = run.options.progress
    every = max(1, run.options.sweep.num_iter // 50) if progress else 0
    spec = run.spec(batch_size=bs, n_batches=nb, shuffle=key is not None, progress_every=every, dp=dp)
    inputs = _Inputs(model_state, data, run.tables, key, val)
    bar = progress_bar(progress, spec.config.num_iter, here())
    with _BAR_LOCK if bar is not None else contextlib.nullcontext():
        if bar is not None:
            _BAR["bar"] = bar
        try:
            raw_d, smoothed_d, k_d, code_d = _run_program(spec, inputs)
            steps, code = int(k_d), int(code_d)
            if bar is not None:
                jax.effects_barrier()  # the last progress callbacks, before the bar closes
        finally:
            if bar is not None:
                _BAR.pop("bar", None)
                bar.close()
    return np.asarray(raw_d)[:steps], np.asarray(smoothed_d)[:steps], code


class _HostLoop:
    """An iterable's sweep: the jitted step (:func:`_host_advance`) driven by the shared host
    loop with one step in flight (step ``k`` is dispatched before step ``k-1``'s code is
    read: the one host sync per step)."""

    def __init__(self, run: _Run, given: _Source) -> None:
        self.run, self.given = run, given
        self.spec = run.spec()
        # The mesh: given, or the first batch's (mesh=None).
        self.dp = resolve(given.mesh, given.data_axis, None)
        self.source = Cycle("data", given.data)
        self.step: Any = None
        self.carry: Any = None
        self.tree: Any = None
        self.val: Any = None

    def sweep(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Returns ``(raw, smoothed, stop code)``."""
        options = self.run.options
        stop, code = host_loop(options.sweep.num_iter, self.one, int, options.progress, lag=1)
        *_, raw, smoothed = jax.tree.unflatten(self.tree, self.carry)
        raw, smoothed = jax.device_get((raw, smoothed))
        return np.asarray(raw[: stop + 1], np.float64), np.asarray(smoothed[: stop + 1], np.float64), code

    def one(self, k: int) -> Any:
        batches = tuple(next(self.source) for _ in range(self.run.options.accumulation_steps))
        if k == 0:
            self.start(batches)
        if self.dp is not None:
            batches = tuple(self.dp.place_batch("data", b) for b in batches)
        self.carry, code = self.step(self.carry, batches, self.run.tables, self.val)
        return code

    def start(self, batches: tuple[Any, ...]) -> None:
        """Before step 0: the mesh, the placed state and validation data, the tracker, the
        curve's buffers and the jitted step (bound to the carry's structure)."""
        run, dp = self.run, self.dp
        if dp is None and self.given.mesh is None:
            self.dp = dp = infer(batches[0])
        model_state, self.val = run.model_state, run.val
        if dp is not None:
            model_state = dp.place_state(model_state)
            self.val = None if self.val is None else dp.replicate_data(self.val)
        lr0 = np.asarray(run.options.sweep.lr_table()[0], dtype=jax.dtypes.canonicalize_dtype(np.float64))
        state, tracker = _run_start(self.spec, model_state, batches, lr0, self.val)
        # device_put, not jnp: no program to compile for the buffers.
        blank = np.full(run.options.sweep.num_iter, np.nan, dtype=tracker.smoothed.dtype)
        buffers = (jax.device_put(np.int32(0)), jax.device_put(blank), jax.device_put(blank))
        self.carry, self.tree = jax.tree.flatten((state, tracker, *buffers))
        self.step = _host_step(self.spec, self.tree)


# ---------------------------------------------------------------------------------------
# Argument handling.


def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, jax.Array))


def _in_memory(data: Any) -> bool:
    """Arrays (one, or a tuple/dict of them) are a dataset; anything else is a batch source."""
    if _is_array(data):
        return True
    if isinstance(data, tuple) and data and all(_is_array(a) for a in data):
        return True
    return isinstance(data, dict) and bool(data) and all(_is_array(a) for a in data.values())


def _check_arrays(data: Any, batch_size: Any) -> tuple[int, int]:
    """``(batch_size, n_batches)`` for in-memory ``data``."""
    sizes: set[int | None] = {a.shape[0] if a.ndim else None for a in jax.tree.leaves(data)}
    if None in sizes or len(sizes) != 1:
        raise ValueError(
            f"{here()}: data arrays must share their leading (sample) dimension, got sizes {sizes}"
        )
    n = int(sizes.pop())  # type: ignore[arg-type]  # not None: checked above
    if n == 0:
        raise ValueError(f"{here()}: data is empty (0 samples)")
    if batch_size is None:
        return n, 1
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"{here()}: batch_size must be an int or None, got {batch_size!r}")
    bs = int(batch_size)
    if not 1 <= bs <= n:
        raise ValueError(
            f"{here()}: batch_size must be in [1, {n}] (the number of samples), got {batch_size!r}"
        )
    return bs, n // bs


def _check_key(key: Any) -> Any:
    if key is None:
        return None
    if not isinstance(key, (jax.Array, np.ndarray)):
        raise TypeError(
            f"{here()}: shuffle_key must be a JAX PRNG key (jax.random.key(0)) or None, got {key!r}"
        )
    return key


def _tables(config: SweepConfig) -> _Tables:
    """The lr and divisor tables, float64 where JAX has it (the program rounds them to the
    tracker's dtype, as NumPy would), on the device once."""
    dt = jax.dtypes.canonicalize_dtype(np.float64)
    divisors = config.divisors()
    # device_put, not jnp.asarray: no program to compile for a copy.
    return _Tables(
        jax.device_put(config.lr_table().astype(dt)),
        None if divisors is None else jax.device_put(divisors.astype(dt)),
    )


def _sweep(run: _Run, source: _Source) -> FinderResult:
    """Run the in-memory program or the host loop, and read the curve's result."""
    _ = run.val  # val_data checked (and stacked) before anything runs
    if _in_memory(source.data):
        raw, smoothed, code = _in_program(run, source)
    else:
        if source.batch_size is not None or source.shuffle_key is not None:
            raise ValueError(
                f"{here()}: batch_size and shuffle_key apply to in-memory arrays; an iterable of batches "
                "is used as it comes"
            )
        raw, smoothed, code = _HostLoop(run, source).sweep()
    return build_result(
        run.options.sweep, raw, smoothed, len(raw) - 1, code, group_scales=run.group_scales, framework="jax"
    )


def _val_groups(val_data: Any) -> tuple[Any, ...] | None:
    """``val_data`` as groups of consecutive, equally shaped batches, each group stacked
    along a new leading axis (the program scans over it), in order."""
    if val_data is None:
        return None
    if _in_memory(val_data):
        raise TypeError(
            f"{here()}: val_data must be a re-iterable collection of batches (a list such as "
            f"[(x_val, y_val)], a data loader), got {type(val_data).__name__}"
        )
    batches = list(val_data)
    if not batches:
        raise ValueError(f"{here()}: val_data yielded no batches")
    groups: list[list[Any]] = []
    sig_prev: Any = None
    for b in batches:
        leaves, tree = jax.tree.flatten(b)
        if not leaves or not all(_is_array(a) or isinstance(a, (int, float)) for a in leaves):
            raise TypeError(
                f"{here()}: val_data batches must be arrays or pytrees of arrays, got {type(b).__name__}"
            )
        sig = (tree, tuple((np.shape(a), np.result_type(a)) for a in leaves))
        if sig != sig_prev:
            groups.append([])
            sig_prev = sig
        groups[-1].append(b)
    return tuple(jax.tree.map(lambda *a: jnp.stack([jnp.asarray(x) for x in a]), *g) for g in groups)


def _model_state(model: Any) -> tuple[Any, Any]:
    """``(graphdef or None, (params, rest))`` of an NNX model or a params pytree, checked."""
    if isinstance(model, nnx.Module):
        graphdef, params, *more = nnx.split(model, nnx.Param, ...)
        (rest,) = more
        if not jax.tree.leaves(params):
            raise ValueError(
                f"{_WHERE}: model has no trainable parameters (no nnx.Param variables), so the sweep would "
                "train nothing; give it nnx.Param variables (or pass the parameters as a pytree)"
            )
        return graphdef, (params, rest)
    leaves = jax.tree.leaves(model)
    if not leaves and isinstance(model, (dict, list, tuple)):
        raise ValueError(
            f"{_WHERE}: model has no trainable parameters (an empty {type(model).__name__}), so the "
            "sweep would train nothing"
        )
    if not leaves or not all(_is_array(x) and jnp.issubdtype(x.dtype, jnp.inexact) for x in leaves):
        raise TypeError(
            f"{_WHERE}: model must be an nnx.Module or a non-empty pytree of floating-point parameter "
            f"arrays, got {type(model).__name__}"
        )
    return None, (model, None)


def cross_entropy(output: Any, y: Any) -> Any:
    """Mean softmax cross-entropy of ``output`` (logits) against integer labels ``y``: the
    default ``criterion`` of every JAX helper that trains."""
    return optax.softmax_cross_entropy_with_integer_labels(output, y).mean()


#: Functions of these modules are criteria of ``(output, y)``, never ``(model, batch)`` losses.
CRITERION_MODULES = ("optax", "jax.nn", "jax.numpy")


@sweep_signature
@place(_WHERE)
def find_lr(
    model: Any,
    optimizer: Any,
    data: Any,
    *legacy: Any,
    criterion: Callable[[Any, Any], Any] | None = None,
    loss_fn: Callable[[Any, Any], Any] | None = None,
    batch_size: int | None = None,
    shuffle_key: Any = None,
    progress: bool = False,
    accumulation_steps: int = 1,
    val_data: Any = None,
    mesh: Mesh | None = None,
    data_axis: str | Sequence[str] | None = None,
    **sweep: Unpack[SweepOptions],
) -> FinderResult:
    r"""LR range test for a Flax NNX model (or a params pytree) with an Optax optimizer.

    Step ``k`` (0-based) trains on batch ``k`` with lr ``lr_range(start_lr, end_lr,
    num_iter, mode)(k)`` — ``start_lr`` at step 0, ``end_lr`` at step ``num_iter - 1`` —
    records the loss of the batch (before the step's update), smooths it and stops at the
    first step whose smoothed loss exceeds ``diverge_factor`` × the best smoothed loss (a
    margin of ``(diverge_factor - 1) * |best|`` above the best for negative losses) or
    whose loss is not finite. The suggestion rules then read the curve:
    :mod:`lrsched_jax.finder` explains them and the defaults.

    The model is never modified: training runs on a functional copy (``nnx.split`` /
    ``nnx.merge``) whose results are dropped, so parameters, batch statistics, RNG state
    and the optimizer are bitwise what they were, also when the loss or ``data`` raises.
    The sweep always starts from a fresh optimizer state (``tx.init(params)``).

    **Param groups** are swept in proportion, as in the torch driver: pass a transformation
    with several injected lrs — typically ``optax.multi_transform({"a": optax.inject_hyperparams(
    optax.adam)(learning_rate=1e-3), "b": optax.inject_hyperparams(optax.adam)(learning_rate=
    1e-4)}, labels)`` — and group ``g`` runs at ``lr_g / lr_0 * sweep(k)``, ``lr_g`` being the
    injected lrs at ``init``, numbered in JAX's pytree order (a ``multi_transform``'s labels
    sorted). ``result.lrs`` are the first group's, ``result.group_scales`` the ratios; set
    group ``g`` to ``lr * result.group_scales[g]`` afterwards. The first group's lr must be > 0.

    Args:
        model: an ``nnx.Module`` (its ``nnx.Param`` variables are trained; batch statistics,
            RNG streams and other state are carried through the steps), or a pytree of
            parameter arrays (a ``loss_fn`` then receives the pytree).
        optimizer: a factory ``lr -> optax.GradientTransformation`` (``lambda lr:
            optax.sgd(lr)``, ``lambda lr: optax.adamw(lr, weight_decay=1e-2)``; it may
            compute with ``lr``), a transformation built with ``optax.inject_hyperparams``
            with a *number* as ``learning_rate`` (the sweep overwrites it every step), or an
            ``nnx.Optimizer`` over such a transformation.
        data: in-memory arrays — one array, or a tuple or dict of arrays sharing the leading
            dimension — split into ``batch_size`` batches in order (the last incomplete
            batch is dropped: shapes are static under ``jit``), cycled, each epoch in a new
            permutation when ``shuffle_key`` is given; the whole sweep is then one jitted
            program. Or any other iterable of batches (list, generator, data loader),
            cycled when exhausted (a generator is replayed from the batches it gave), run
            by a host loop over the same jitted step: the same batches give the same result.
        criterion: the loss as a function of ``(output, y)``, applied as ``criterion(model(x), y)``
            to ``(x, y, ...)`` batches (default: :func:`cross_entropy`, softmax cross-entropy on
            integer labels).
        loss_fn: the loss as a function of ``(model, batch) -> scalar`` (``model`` as described
            above), for any other batch or loss; give ``criterion`` or ``loss_fn``, not both
            (``TypeError``). The old ``find_lr(model, optimizer, loss_fn, data)`` still works for
            one release, with a ``DeprecationWarning``.
        batch_size: samples per batch for in-memory data (default: all of them, one batch).
        shuffle_key: a JAX PRNG key: epoch ``e`` uses ``permutation(fold_in(key, e), N)``.
        start_lr, end_lr, num_iter, mode, smooth, diverge_factor, skip_start, skip_end, suggestion:
            the sweep's settings, the same in both drivers: their meaning, ranges and
            defaults are documented once, on :class:`lrsched_jax.core.finder.SweepConfig`.
        progress: show a tqdm bar (the jitted program reports about 50 times per sweep).
        accumulation_steps: micro-batches per step (as in the torch driver): each step takes
            the next ``accumulation_steps`` batches, sums the gradients of each micro-batch's
            ``loss / accumulation_steps`` in order, makes one update and records their mean
            loss. Whole, ``>= 1``.
        val_data: validation mode (as in the torch driver): after each step's update, the
            recorded loss is the mean of the per-batch losses over this re-iterable of
            batches (a list such as ``[(x_val, y_val)]``), computed in eval mode
            (``model.eval()`` on the step's copy) without gradients, inside the program.
        mesh: run data-parallel over this ``jax.sharding.Mesh``: each global batch of
            ``batch_size`` samples (or each batch of an iterable) is split over the mesh's data
            axis, the model and optimizer state are replicated (arrays already on the mesh
            stay as placed) and the loss is the global mean — the same sweep, stop step and
            suggestion as on one device with the same batches, up to float rounding in the
            reductions. Default ``None``: one device, unless ``data`` is already sharded over
            a mesh along its leading dimension, which is then used. See
            :mod:`lrsched_jax.parallel` (several hosts included).
        data_axis: the mesh axis (or axes) the batch is split over; default: the mesh's only
            axis, else its ``"data"`` axis.

    Returns:
        a :class:`~lrsched_jax.finder.FinderResult` (``lrs`` are the float64 sweep values;
        in float32 the optimizer applies their float32 rounding).

    Raises ``ValueError``/``TypeError`` naming the argument for bad settings, a non-scalar
    or non-floating loss, empty data, a model without trainable parameters (no
    ``nnx.Param``, an empty pytree: the curve would be flat) or an optimizer whose lr cannot
    be swept — before anything is compiled; with a mesh, ``ValueError`` naming ``batch_size`` (or ``data`` for
    an iterable's batch) when the global batch does not split evenly over the data axis.

    Example:

    >>> import jax, jax.numpy as jnp, optax
    >>> from flax import nnx
    >>> import lrsched_jax as lrs
    >>> model = nnx.Linear(3, 1, rngs=nnx.Rngs(0))
    >>> x = jax.random.normal(jax.random.key(1), (256, 3))
    >>> y = x @ jnp.array([[1.0], [-2.0], [0.5]])
    >>> def mse(output, y):
    ...     return jnp.mean((output - y) ** 2)
    >>> res = lrs.find_lr(model, lambda lr: optax.sgd(lr), (x, y), criterion=mse, batch_size=32)
    >>> res.stop_reason, res.framework
    ('diverged', 'jax')
    >>> 1e-4 < res.suggestion < 1.0
    True
    """
    data, legacy_loss = legacy_positional(data, legacy, criterion, loss_fn)
    if legacy_loss is not None:
        loss_fn = legacy_loss
    options = RunOptions.make(sweep, progress, accumulation_steps, val_data)
    loss = resolve_loss(criterion, loss_fn, cross_entropy, CRITERION_MODULES)
    tx = _as_tx(optimizer)
    graphdef, model_state = _model_state(model)
    tx = tx.with_scales(model_state[0])
    run = _Run(_ModelStep(graphdef, loss, tx), model_state, options, tx.scales)
    return _sweep(run, _Source(data, batch_size, shuffle_key, mesh, data_axis))


@sweep_signature
@place("find_lr_pure")
def find_lr_pure(
    train_step: Callable[[Any, Any, Any], tuple[Any, Any]],
    state: Any,
    data: Any,
    *,
    loss_fn: Callable[[Any, Any], Any] | None = None,
    batch_size: int | None = None,
    shuffle_key: Any = None,
    progress: bool = False,
    accumulation_steps: int = 1,
    val_data: Any = None,
    mesh: Mesh | None = None,
    data_axis: str | Sequence[str] | None = None,
    **sweep: Unpack[SweepOptions],
) -> FinderResult:
    r"""LR range test for any pure, jit-able ``train_step(state, batch, lr) -> (state, loss)``.

    For training code that is not NNX + Optax (Flax linen, Equinox, hand-written updates):
    ``state`` is any pytree (parameters, optimizer state, batch statistics, keys ...);
    ``train_step`` applies one update with learning rate ``lr`` (a scalar array) and
    returns the new state and the batch's loss (computed before the update). Everything
    else — data handling, the sweep, smoothing, the stop rule, the suggestions, the single
    jitted program for in-memory arrays — is :func:`find_lr`'s, with the same arguments
    (the sweep's settings are documented on :class:`lrsched_jax.core.finder.SweepConfig`).
    With ``accumulation_steps = a > 1`` each step's ``batch`` is the tuple of its ``a``
    micro-batches (``train_step`` makes one update from them). ``val_data`` (validation mode)
    records, after each update, the mean of ``loss_fn(state, batch)`` over its batches:
    ``loss_fn`` — a function of ``(state, batch)`` — is needed then, and only then.
    ``state`` is never modified (no buffer is donated); ``train_step`` must be hashable
    (a function or ``functools.partial``): it is a static argument of the jitted program.
    With ``mesh`` the state is replicated over the mesh (arrays already on it stay as
    placed) and the batches are split over its data axis, as in :func:`find_lr`.

    Example — plain SGD on a linear model written by hand:

    >>> import jax, jax.numpy as jnp
    >>> import lrsched_jax as lrs
    >>> x = jax.random.normal(jax.random.key(1), (256, 3))
    >>> y = x @ jnp.array([1.0, -2.0, 0.5])
    >>> def train_step(w, batch, lr):
    ...     xb, yb = batch
    ...     loss, g = jax.value_and_grad(lambda w: jnp.mean((xb @ w - yb) ** 2))(w)
    ...     return w - lr * g, loss
    >>> res = lrs.find_lr_pure(train_step, jnp.zeros(3), (x, y), batch_size=32)
    >>> res.stop_reason
    'diverged'
    """
    options = RunOptions.make(sweep, progress, accumulation_steps, val_data)
    if not callable(train_step):
        raise TypeError(f"{here()}: train_step must be callable, got {type(train_step).__name__}")
    if (loss_fn is None) != (val_data is None):
        raise TypeError(
            f"{here()}: loss_fn (a function of (state, batch)) computes the validation loss: give it with "
            "val_data, and only then"
        )
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"{here()}: loss_fn must be callable, got {type(loss_fn).__name__}")
    run = _Run(_PureStep(train_step, loss_fn), state, options)
    return _sweep(run, _Source(data, batch_size, shuffle_key, mesh, data_axis))
