"""Small training helpers for Flax NNX + Optax, parameterised by a schedule.

They are what the demo and the benchmarks use, and a starting point for users' scripts:

* :func:`make_optimizer` — an ``nnx.Optimizer`` whose learning rate is a schedule, built
  with ``optax.inject_hyperparams`` so the applied lr can be read back;
* :func:`train_step` — one jitted update, returning the loss and the lr it applied;
* :func:`train_epoch` — a whole epoch, returning the loss and the applied lr of every step:
  one jitted ``lax.scan`` over the batches, or one jitted call per update where XLA runs the
  update faster outside a loop (convolutions on the CPU; :func:`epoch_path` says which);
* :func:`evaluate` — mean loss and accuracy over arrays.

Everything runs on JAX's default device (a GPU when JAX sees one) — or data-parallel over a
device mesh: pass ``mesh=`` (a :class:`jax.sharding.Mesh`; ``data_axis=`` names the axis the
batch is split over when the mesh has several), or pass inputs already sharded over a mesh.
Each global batch is then split over the data axis, the model and optimizer state are
replicated (arrays already on the mesh stay as the user placed them), the loss is the global
mean and the schedule is evaluated in-graph from the replicated update count — the same
updates as on one device with the same global batches, up to float rounding in the
reductions. A global batch that does not split evenly over the data axis raises
``ValueError`` naming the argument. :mod:`lrsched_jax.parallel` has the details and the
multi-host recipe.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh

from lrsched_jax.core.losses import BOTH, UnpackedLoss, old_style, resolve_loss
from lrsched_jax.core.validate import here, place
from lrsched_jax.finder.jax_driver import CRITERION_MODULES, cross_entropy
from lrsched_jax.optax_glue import applied_lr
from lrsched_jax.parallel import DataParallel, resolve

__all__ = [
    "accuracy",
    "batches",
    "cross_entropy",
    "epoch_path",
    "evaluate",
    "make_optimizer",
    "replicate",
    "train_epoch",
    "train_step",
]

DataAxis = str | Sequence[str] | None

#: A loss as every helper here runs it: a function of ``(model, batch)``, ``batch = (x, y)``.
LossFn = Callable[[nnx.Module, Any], jax.Array]
Criterion = Callable[[jax.Array, jax.Array], jax.Array]


def _loss(criterion: Any, loss_fn: Any, legacy: tuple[Any, ...] = ()) -> LossFn:
    """The ``(model, batch)`` loss that ``criterion=`` / ``loss_fn=`` ask for (default:
    :func:`cross_entropy` as the criterion). The old spellings — the loss positional after
    the data, and ``loss_fn(model, x, y)`` — still work for one release, with a
    ``DeprecationWarning``."""
    if legacy:
        if len(legacy) != 1:
            raise TypeError(
                f"{here()}: too many positional arguments; pass the loss as criterion= or loss_fn="
            )
        if criterion is not None or loss_fn is not None:
            raise TypeError(f"{here()}: the loss is given positionally and by keyword; {BOTH}")
        loss_fn = legacy[0]
        warnings.warn(
            f"{here()}: a positional loss is deprecated and will be removed in the next release; pass it "
            "as criterion= (a function of (output, y)) or loss_fn= (a function of (model, batch))",
            DeprecationWarning,
            stacklevel=3,
        )
    if loss_fn is not None and callable(loss_fn) and old_style(loss_fn):
        warnings.warn(
            f"{here()}: loss_fn(model, x, y) is deprecated and will be removed in the next release; pass "
            "loss_fn(model, batch) with batch = (x, y), or criterion(output, y)",
            DeprecationWarning,
            stacklevel=3,
        )
        loss_fn = UnpackedLoss(loss_fn)
    return resolve_loss(criterion, loss_fn, cross_entropy, CRITERION_MODULES)


def make_optimizer(
    model: nnx.Module,
    schedule: Callable[[Any], Any],
    tx: Callable[..., optax.GradientTransformation] = optax.adamw,
    **kwargs: Any,
) -> nnx.Optimizer:
    """``nnx.Optimizer(model, optax.inject_hyperparams(tx)(learning_rate=schedule, **kwargs))``.

    Update ``k`` (0-based) uses ``schedule(k)``; :func:`lrsched_jax.applied_lr` on
    ``optimizer.opt_state`` reads the lr the last update applied.

    >>> import optax, lrsched_jax as lrs
    >>> from flax import nnx
    >>> from lrsched_jax.train import make_optimizer
    >>> model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    >>> opt = make_optimizer(model, lrs.cosine(1e-2, 100), optax.sgd)
    >>> round(float(lrs.applied_lr(opt.opt_state)), 6)  # before any update: lr(0)
    0.01
    """
    return nnx.Optimizer(model, optax.inject_hyperparams(tx)(learning_rate=schedule, **kwargs), wrt=nnx.Param)


def _place_nodes(dp: DataParallel, *nodes: Any) -> None:
    state = nnx.state(nodes)
    placed = dp.place_state(state)
    # Only the first call moves anything; later calls find every array on the mesh already.
    if any(a is not b for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(placed))):
        nnx.update(nodes, placed)


def replicate(mesh: Mesh, *nodes: Any) -> None:
    """Place the arrays of NNX objects (models, optimizers) replicated over ``mesh``, in place.

    Arrays already on the mesh's devices are left as they are (e.g. weights the user
    sharded over a ``"model"`` axis). The data-parallel helpers do this themselves on every
    call; calling it once up front only moves the work out of the first step.
    """
    if not isinstance(mesh, Mesh):
        raise TypeError(f"replicate: mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    _place_nodes(DataParallel(mesh, tuple(mesh.axis_names)), *nodes)


def _samples(x: Any, y: Any) -> int:
    """The number of samples of ``x`` and ``y``; ``ValueError`` unless they agree."""
    n, m = int(np.shape(x)[0]), int(np.shape(y)[0])
    if n != m:
        raise ValueError(f"{here()}: x and y must have the same number of samples, got {n} and {m}")
    return n


def _batch_args(dp: DataParallel, x: Any, y: Any) -> tuple[Any, Any]:
    _samples(x, y)
    return dp.place_batch("x", x), dp.place_batch("y", y)


@place("train_step")
def train_step(
    model: nnx.Module,
    optimizer: nnx.Optimizer,
    x: jax.Array | np.ndarray,
    y: jax.Array | np.ndarray,
    *legacy: Any,
    criterion: Criterion | None = None,
    loss_fn: LossFn | None = None,
    mesh: Mesh | None = None,
    data_axis: DataAxis = None,
) -> tuple[jax.Array, jax.Array]:
    """One jitted update on the batch ``(x, y)``; returns ``(loss before the update, lr applied)``.

    The loss: ``criterion(model(x), y)`` (default: softmax cross-entropy on integer labels) or
    ``loss_fn(model, (x, y))`` — exactly one (``TypeError`` for both).

    With ``mesh`` (or ``x``/``y`` already sharded over a mesh) the batch is split over the
    data axis and ``model``/``optimizer`` are placed replicated on the mesh (in place, once;
    arrays already on it are left alone); ``ValueError`` naming ``x`` when the batch does not
    split evenly.
    """
    loss = _loss(criterion, loss_fn, legacy)
    _samples(x, y)
    dp = resolve(mesh, data_axis, (x, y))
    if dp is not None:
        x, y = _batch_args(dp, x, y)
        _place_nodes(dp, model, optimizer)
    return _train_step(model, optimizer, jnp.asarray(x), jnp.asarray(y), loss)


@nnx.jit(static_argnames=("loss_fn",))
def _train_step(
    model: nnx.Module, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array, loss_fn: LossFn
) -> tuple[jax.Array, jax.Array]:
    loss, grads = nnx.value_and_grad(loss_fn)(model, (x, y))
    optimizer.update(model, grads)
    return loss, applied_lr(optimizer.opt_state)


def batches(n: int, batch_size: int, key: jax.Array | None = None) -> np.ndarray:
    """Indices of ``n // batch_size`` full batches, shape ``(steps, batch_size)``; shuffled
    with ``key`` if given. The remainder is dropped so every step has the same shape."""
    if batch_size < 1 or batch_size > n:
        raise ValueError(f"batch_size must be in [1, {n}], got {batch_size}")
    order = np.arange(n) if key is None else np.asarray(jax.random.permutation(key, n))
    steps = n // batch_size
    return order[: steps * batch_size].reshape(steps, batch_size)


EpochPath = Literal["auto", "scan", "steps"]

_PATHS = ("auto", "scan", "steps")


@place("train_epoch")
def train_epoch(
    model: nnx.Module,
    optimizer: nnx.Optimizer,
    x: jax.Array | np.ndarray,
    y: jax.Array | np.ndarray,
    batch_size: int,
    *,
    key: jax.Array | None = None,
    criterion: Criterion | None = None,
    loss_fn: LossFn | None = None,
    mesh: Mesh | None = None,
    data_axis: DataAxis = None,
    path: EpochPath = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch over ``(x, y)``: the batches gathered once, then every update jitted.

    Updates ``model`` and ``optimizer`` in place; returns the per-step losses (before each
    update) and the lr each update applied (``schedule(k)`` for global update ``k``).
    ``key`` shuffles the epoch; the last partial batch is dropped. The loss:
    ``criterion(model(x), y)`` (default: softmax cross-entropy on integer labels) or
    ``loss_fn(model, (x, y))`` — exactly one (``TypeError`` for both).

    ``path`` chooses how the updates run; both paths run the same update on the same
    batches in the same order, so they give the same parameters (up to the float rounding
    of different kernels: XLA may pick another convolution algorithm in a loop):

    * ``"scan"`` — the whole epoch as one jitted ``lax.scan``: no host round-trip per
      update, by far the fastest for small dense networks;
    * ``"steps"`` — one jitted call per update on the pre-gathered epoch (the batch is
      sliced inside the call, the results come to the host once, at the end);
    * ``"auto"`` (default) — :func:`epoch_path`: ``"steps"`` when the update contains a
      convolution and runs on the CPU, else ``"scan"``. XLA:CPU rewrites convolutions into
      the form its fast (Eigen) kernels take only at the top level of a program, not inside
      a loop body, so in a scan the gradient convolutions fall back to a generic loop
      emitter (the 3×3 kernel gradient of the digits CNN: ~21× slower).

    Data parallel (``mesh``, or ``x``/``y`` already sharded over a mesh): ``batch_size`` is
    the global batch. The epoch is gathered once into ``(steps, batch_size, ...)`` with the
    batch dimension split over the data axis, so each step's batch is already
    distributed; ``model`` and ``optimizer`` are placed replicated on the mesh (in place;
    arrays already on it are left alone). The losses are global means and the lrs come from
    the replicated count: the same numbers as on one device, up to float rounding in the
    reductions. ``ValueError`` naming ``batch_size`` when it does not split evenly, naming
    ``x`` and ``y`` when their sample counts differ (on one device too: a gather would clamp
    the missing labels' indices), and naming ``path`` when it is not one of the three.
    """
    if path not in _PATHS:
        raise ValueError(f"train_epoch: path must be one of {', '.join(_PATHS)}, got {path!r}")
    loss = _loss(criterion, loss_fn)
    # Before any indexing: a gather clamps out-of-range indices, so a short ``y`` would
    # otherwise train on repeated labels without a word.
    idx = batches(_samples(x, y), batch_size, key)
    dp = resolve(mesh, data_axis, (x, y))
    if dp is None:
        xb, yb = jnp.asarray(x)[idx], jnp.asarray(y)[idx]
    else:
        dp.check("batch_size", batch_size)
        xb, yb = (_epoch_batches(dp, a, idx) for a in (x, y))
        _place_nodes(dp, model, optimizer)
    if path == "auto":
        path = _choose_path(model, optimizer, xb, yb, loss, dp)
    if path == "scan":
        losses, lrs = _scan_epoch(model, optimizer, xb, yb, loss, dp)
        return np.asarray(losses), np.asarray(lrs)
    graphdef, state = nnx.split((model, optimizer))
    out = []
    for k in range(int(idx.shape[0])):
        state, loss_lr = _epoch_step(graphdef, state, (xb, yb), k, loss, dp)
        out.append(loss_lr)
    nnx.update((model, optimizer), state)
    step_losses, step_lrs = zip(*out)
    return np.asarray(jnp.stack(step_losses)), np.asarray(jnp.stack(step_lrs))


@place("epoch_path")
def epoch_path(
    model: nnx.Module,
    optimizer: nnx.Optimizer,
    x: jax.Array | np.ndarray,
    y: jax.Array | np.ndarray,
    batch_size: int,
    *,
    criterion: Criterion | None = None,
    loss_fn: LossFn | None = None,
    mesh: Mesh | None = None,
    data_axis: DataAxis = None,
) -> Literal["scan", "steps"]:
    """The path ``train_epoch(..., path="auto")`` takes for these arguments.

    ``"steps"`` when the update (``loss_fn``'s value and gradient, traced once on a
    ``batch_size`` batch, nested calls and custom derivatives included) contains a
    convolution and the model's state (or the mesh) is on CPU devices; ``"scan"``
    otherwise. Nothing is trained or compiled.
    """
    _samples(x, y)
    if batch_size < 1:
        raise ValueError(f"epoch_path: batch_size must be >= 1, got {batch_size}")
    dp = resolve(mesh, data_axis, (x, y))
    # The epoch's shapes: (steps, batch_size, ...), in the dtypes the update will see.
    xb, yb = (
        jax.ShapeDtypeStruct((1, batch_size, *np.shape(a)[1:]), jnp.asarray(a[:1]).dtype) for a in (x, y)
    )
    return _choose_path(model, optimizer, xb, yb, _loss(criterion, loss_fn), dp)


def _update(
    graphdef: Any, state: Any, batch: tuple[Any, Any], loss_fn: LossFn, dp: DataParallel | None, layout: Any
) -> tuple[Any, tuple[jax.Array, jax.Array]]:
    """One update from the split ``state``: the body of both epoch paths."""
    if dp is not None:
        # Keep the step's slice split over the data axis (the partitioner would be free
        # to choose another layout for a slice under automatic sharding).
        batch = dp.constrain(batch, dp.batch_sharding(0))
    m, opt = nnx.merge(graphdef, state)
    loss, grads = nnx.value_and_grad(loss_fn)(m, tuple(batch))
    opt.update(m, grads)
    lr = applied_lr(opt.opt_state)
    new = nnx.state((m, opt))
    return (new if dp is None else dp.keep_layout(new, layout)), (loss, lr)


def _primitive_names(jaxpr: Any) -> Iterator[str]:
    """Every primitive of ``jaxpr``, including those of the jaxprs nested in its equations'
    parameters (``pjit``, ``custom_vjp_call``, ``cond`` branches, loops, ...)."""
    for eqn in jaxpr.eqns:
        yield eqn.primitive.name
        for param in eqn.params.values():
            for sub in param if isinstance(param, (tuple, list)) else (param,):
                inner = getattr(sub, "jaxpr", sub)  # a ClosedJaxpr holds its Jaxpr
                if hasattr(inner, "eqns"):
                    yield from _primitive_names(inner)


def _platforms(leaves: list[Any], dp: DataParallel | None) -> frozenset[str]:
    if dp is not None:
        return frozenset(d.platform for d in dp.mesh.devices.flat)
    arrays = [a for a in leaves if isinstance(a, jax.Array)]
    if not arrays:
        return frozenset({jax.default_backend()})
    return frozenset(d.platform for a in arrays for d in a.devices())


def _has_convolution(
    model: nnx.Module, optimizer: nnx.Optimizer, batch: tuple[Any, Any], loss_fn: LossFn
) -> bool:
    graphdef, state = nnx.split((model, optimizer))

    def step(state: Any, x: jax.Array, y: jax.Array) -> Any:
        return _update(graphdef, state, (x, y), loss_fn, None, None)

    jaxpr = jax.make_jaxpr(step)(state, *batch)
    return any(name.startswith("conv_general_dilated") for name in _primitive_names(jaxpr.jaxpr))


# (structure and shapes of model and optimizer, batch shapes, loss_fn, platforms) -> path.
# The key costs a pytree flatten (~0.1 ms); tracing an update costs far more, and so would
# ``nnx.split`` on every epoch of a small network.
_PATH_CACHE: dict[Any, Literal["scan", "steps"]] = {}
_CACHEABLE = (jax.Array, np.ndarray, np.generic, int, float, bool, complex)


def _choose_path(
    model: nnx.Module, optimizer: nnx.Optimizer, xb: Any, yb: Any, loss_fn: LossFn, dp: DataParallel | None
) -> Literal["scan", "steps"]:
    leaves, treedef = jax.tree.flatten((model, optimizer))
    if "cpu" not in _platforms(leaves, dp):
        return "scan"
    # One step's batch: the epoch's leading (step) dimension dropped.
    batch = (
        jax.ShapeDtypeStruct(tuple(xb.shape[1:]), xb.dtype),
        jax.ShapeDtypeStruct(tuple(yb.shape[1:]), yb.dtype),
    )
    key = None
    if all(isinstance(a, _CACHEABLE) for a in leaves):
        shapes = tuple((np.shape(a), getattr(a, "dtype", type(a))) for a in leaves)
        key = (treedef, shapes, tuple((b.shape, b.dtype) for b in batch), loss_fn, _platforms(leaves, dp))
        if key in _PATH_CACHE:
            return _PATH_CACHE[key]
    path: Literal["scan", "steps"] = "steps" if _has_convolution(model, optimizer, batch, loss_fn) else "scan"
    if key is not None:
        if len(_PATH_CACHE) >= 256:
            _PATH_CACHE.clear()
        _PATH_CACHE[key] = path
    return path


def _epoch_batches(dp: DataParallel, a: Any, idx: np.ndarray) -> Any:
    """``a[idx]`` — ``(steps, batch_size, ...)`` — with the batch dimension split over the mesh."""
    if dp.on_mesh(a):
        return _gather_on_mesh(a, jnp.asarray(idx), dp)
    if isinstance(a, jax.Array):
        # On another device (one GPU): gather there, then one device-to-device copy.
        return jax.device_put(a[jnp.asarray(idx)], dp.batch_sharding(1))
    # Host data: gathered on the host, each device receives only its part.
    return jax.device_put(np.asarray(a)[idx], dp.batch_sharding(1))


@functools.partial(jax.jit, static_argnums=(2,))
def _gather_on_mesh(a: jax.Array, idx: jax.Array, dp: DataParallel) -> jax.Array:
    # Whole on every device first: a gather from a sharded operand has no unambiguous
    # layout under explicit sharding. One exchange per epoch.
    return dp.constrain(jnp.take(dp.constrain(a, dp.replicated), idx, axis=0), dp.batch_sharding(1))


@nnx.jit(static_argnames=("loss_fn", "dp"))
def _scan_epoch(
    model: nnx.Module,
    optimizer: nnx.Optimizer,
    xb: jax.Array,
    yb: jax.Array,
    loss_fn: LossFn,
    dp: DataParallel | None = None,
) -> tuple[jax.Array, jax.Array]:
    graphdef, state = nnx.split((model, optimizer))
    # The carry's layout, read before the body runs (merged modules share the state's
    # variables, so the body's input is updated in place).
    layout = None if dp is None else dp.layout(state)

    def body(state: Any, batch: tuple[jax.Array, jax.Array]) -> tuple[Any, tuple[jax.Array, jax.Array]]:
        return _update(graphdef, state, batch, loss_fn, dp, layout)

    state, out = jax.lax.scan(body, state, (xb, yb))
    nnx.update((model, optimizer), state)
    return out if dp is None else dp.constrain(out, dp.replicated)


@functools.partial(jax.jit, static_argnames=("graphdef", "loss_fn", "dp"))
def _epoch_step(
    graphdef: Any,
    state: Any,
    epoch: tuple[jax.Array, jax.Array],
    k: jax.Array,
    loss_fn: LossFn,
    dp: DataParallel | None,
) -> tuple[Any, tuple[jax.Array, jax.Array]]:
    # The pure state in and out (no NNX graph walk per call) and the batch sliced in the
    # program: per update, one dispatch and no host-side copy. The results stay on the
    # device until the epoch ends.
    layout = None if dp is None else dp.layout(state)
    xb, yb = epoch
    state, out = _update(graphdef, state, (xb[k], yb[k]), loss_fn, dp, layout)
    return state, (out if dp is None else dp.constrain(out, dp.replicated))


def accuracy(output: jax.Array, y: jax.Array) -> jax.Array:
    """The fraction of samples whose largest logit is the label's (NaN unless ``output`` is a
    ``(samples, classes)`` matrix): :func:`evaluate`'s default ``metric``."""
    if output.ndim != 2:
        return jnp.asarray(jnp.nan)
    return jnp.mean(jnp.argmax(output, axis=-1) == y)


@nnx.jit(static_argnames=("loss_fn", "metric"))
def _eval(
    model: nnx.Module, x: jax.Array, y: jax.Array, loss_fn: LossFn, metric: Criterion
) -> tuple[jax.Array, jax.Array]:
    return loss_fn(model, (x, y)), metric(model(x), y)


@place("evaluate")
def evaluate(
    model: nnx.Module,
    x: jax.Array | np.ndarray,
    y: jax.Array | np.ndarray,
    *legacy: Any,
    criterion: Criterion | None = None,
    loss_fn: LossFn | None = None,
    metric: Criterion | None = None,
    mesh: Mesh | None = None,
    data_axis: DataAxis = None,
) -> dict[str, float]:
    """``{"loss": ..., "accuracy": ...}`` of ``model`` on ``(x, y)`` (accuracy for class logits).

    The loss: ``criterion(model(x), y)`` (default: softmax cross-entropy on integer labels) or
    ``loss_fn(model, (x, y))`` — exactly one. ``metric(output, y)`` replaces the accuracy: the
    result is then ``{"loss": ..., "metric": ...}``.

    Data parallel (``mesh``, or ``x``/``y`` already sharded over a mesh): the samples are
    split over the data axis and the means are global; ``model`` is not modified (a
    replicated copy of its state is used). Any number of samples works: when it does not
    split evenly, the largest part that does is evaluated sharded and the few samples left
    over replicated, and the two means are combined by their sample counts — exact for a
    ``loss_fn`` that is a mean over the samples (the default cross-entropy is).

    ``ValueError`` naming ``x`` and ``y`` when their sample counts differ or are 0.
    """
    loss_fn = _loss(criterion, loss_fn, legacy)
    if metric is not None and not callable(metric):
        raise TypeError(f"evaluate: metric must be callable, got {type(metric).__name__}")
    name, metric = ("accuracy", accuracy) if metric is None else ("metric", metric)
    n = _samples(x, y)
    if n == 0:
        raise ValueError("evaluate: x and y hold no samples (a mean over 0 samples is undefined)")
    dp = resolve(mesh, data_axis, (x, y))
    if dp is None:
        loss, value = _eval(model, jnp.asarray(x), jnp.asarray(y), loss_fn, metric)
        return {"loss": float(loss), name: float(value)}
    graphdef, state = nnx.split(model)
    placed = nnx.merge(graphdef, dp.place_state(state))
    # Arrays already on the mesh are evaluated as placed; others split where they divide.
    head = n if dp.on_mesh(x) and dp.on_mesh(y) else n - n % dp.size
    parts: list[tuple[int, tuple[jax.Array, jax.Array]]] = []
    if head:
        xs, ys = _batch_args(dp, *((x[:head], y[:head]) if head < n else (x, y)))
        parts.append((head, _eval(placed, xs, ys, loss_fn, metric)))
    if head < n:
        xr, yr = dp.place_state((x[head:], y[head:]))
        parts.append((n - head, _eval(placed, xr, yr, loss_fn, metric)))
    return {
        "loss": sum(k * float(v[0]) for k, v in parts) / n,
        name: sum(k * float(v[1]) for k, v in parts) / n,
    }
