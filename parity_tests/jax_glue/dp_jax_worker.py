"""Worker of ``test_data_parallel_jax.py``: run in a subprocess, because the number of (simulated)
CPU devices is fixed when JAX starts.

    python dp_jax_worker.py single OUT.json          # one process, XLA_FLAGS with 4 devices
    python dp_jax_worker.py host PID PORT OUT.json   # one of 2 processes x 2 devices (multi-host)

Each run writes what it measured (finder curves and decisions, epoch losses and lrs, error
messages) to JSON; the test compares the runs.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

import numpy as np
from processes import finder_summary

N, D, C = 512, 8, 3
BATCH = 64
KW = dict(num_iter=60, end_lr=100.0, skip_start=5, skip_end=3)  # diverges at step 54


def make_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, D)).astype(np.float32)
    y = (x @ rng.normal(size=(D, C))).argmax(1).astype(np.int32)
    return x, y


def jax_modules() -> dict[str, Any]:
    import jax
    import optax
    from flax import nnx

    class Net(nnx.Module):
        """Batch norm (statistics over the global batch), dropout (an RNG stream) and two layers."""

        def __init__(self, seed: int = 0, dropout: float = 0.1) -> None:
            rngs = nnx.Rngs(seed, dropout=seed + 1)
            self.l1 = nnx.Linear(D, 32, rngs=rngs)
            self.bn = nnx.BatchNorm(32, rngs=rngs)
            self.drop = nnx.Dropout(dropout, rngs=rngs)
            self.l2 = nnx.Linear(32, C, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            return self.l2(self.drop(nnx.relu(self.bn(self.l1(x)))))

    def ce(model: Any, batch: Any) -> jax.Array:
        xb, yb = batch
        return optax.softmax_cross_entropy_with_integer_labels(model(xb), yb).mean()

    return {"Net": Net, "ce": ce}


def snapshot(tree: Any) -> list[np.ndarray]:
    import jax
    import jax.numpy as jnp

    def leaf(a: Any) -> np.ndarray:
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a = jax.random.key_data(a)
        return np.array(a)

    return [leaf(a) for a in jax.tree.leaves(tree)]


def bitwise_equal(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(
        x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in zip(a, b)
    )


def error_of(fn: Any) -> str:
    try:
        fn()
    except (ValueError, TypeError) as e:
        return f"{type(e).__name__}: {e}"
    return "no error"


def train_epochs(
    mesh: Any, x: Any, y: Any, epochs: int = 2, **kw: Any
) -> tuple[dict[str, Any], Any, Any, dict[str, float]]:
    import jax
    import optax

    import lrsched_jax as lrs
    from lrsched_jax.train import evaluate, make_optimizer, train_epoch

    m = jax_modules()
    model = m["Net"](1)
    opt = make_optimizer(model, lrs.warmup_cosine(0.05, 4, 20), optax.sgd, momentum=0.9)
    losses, applied = [], []
    for e in range(epochs):
        lo, lr = train_epoch(model, opt, x, y, BATCH, key=jax.random.key(e), loss_fn=m["ce"], mesh=mesh, **kw)
        losses += lo.tolist()
        applied += lr.tolist()
    model.eval()
    ev = evaluate(model, x, y, loss_fn=m["ce"], mesh=mesh, **kw)
    return {"losses": losses, "lrs": applied}, model, opt, ev


def run_single(out: str) -> None:
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx
    from jax.sharding import AxisType, NamedSharding
    from jax.sharding import PartitionSpec as P

    import lrsched_jax as lrs
    from lrsched_jax.train import evaluate, train_epoch, train_step

    assert jax.device_count() == 4, jax.devices()
    m = jax_modules()
    Net, ce = m["Net"], m["ce"]
    x, y = make_data()
    results: dict[str, Any] = {"devices": jax.device_count()}
    explicit = jax.make_mesh((4,), ("data",), axis_types=(AxisType.Explicit,))
    auto = jax.make_mesh((4,), ("data",), axis_types=(AxisType.Auto,))
    one = jax.make_mesh((1,), ("data",), devices=jax.devices()[:1])
    grid = jax.make_mesh((2, 2), ("data", "model"), axis_types=(AxisType.Explicit,) * 2)
    adam = optax.adam

    def finder(mesh: Any, data: Any = (x, y), **kw: Any) -> dict[str, Any]:
        bs = None if not isinstance(data, tuple) else BATCH
        return finder_summary(
            lrs.find_lr(Net(0), adam, data, loss_fn=ce, batch_size=bs, mesh=mesh, **KW, **kw)
        )

    # The finder on in-memory arrays: one device, 4 devices (both axis types), a 1-device mesh,
    # a 2-D mesh split over "data", and inputs that were sharded beforehand (no mesh argument).
    results["finder"] = {
        "1": finder(None),
        "4-explicit": finder(explicit),
        "4-auto": finder(auto),
        "mesh-of-1": finder(one),
        "2x2": finder(grid),
    }
    sharded = tuple(jax.device_put(a, NamedSharding(explicit, P("data"))) for a in (x, y))
    results["finder"]["presharded"] = finder_summary(
        lrs.find_lr(Net(0), adam, sharded, loss_fn=ce, batch_size=BATCH, **KW)
    )
    key = jax.random.key(7)
    results["finder_shuffled"] = {"1": finder(None, shuffle_key=key), "4": finder(explicit, shuffle_key=key)}
    batches = [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, N, BATCH)]
    results["finder_iterable"] = {
        "1": finder(None, data=batches),
        "4": finder(explicit, data=batches),
        "presharded": finder(
            None,
            data=[tuple(jax.device_put(a, NamedSharding(auto, P("data"))) for a in b) for b in batches],
        ),
    }

    def pure_step(state: Any, batch: Any, lr: Any) -> Any:
        xb, yb = batch
        w = state

        def loss(w: Any) -> Any:
            return optax.softmax_cross_entropy_with_integer_labels(xb @ w, yb).mean()

        value, g = jax.value_and_grad(loss)(w)
        return w - lr * g, value

    w0 = jnp.zeros((D, C), jnp.float32)
    results["finder_pure"] = {
        str(n): finder_summary(lrs.find_lr_pure(pure_step, w0, (x, y), batch_size=BATCH, mesh=mesh, **KW))
        for n, mesh in ((1, None), (4, explicit))
    }

    # The model is left bitwise as it was (parameters, batch statistics, RNG state).
    model = Net(5)
    before = snapshot(nnx.state(model))
    lrs.find_lr(model, adam, (x, y), loss_fn=ce, batch_size=BATCH, mesh=explicit, **KW)
    results["model_untouched"] = bitwise_equal(before, snapshot(nnx.state(model)))
    results["model_still_on_one_device"] = all(
        len(a.sharding.device_set) == 1 for a in jax.tree.leaves(nnx.state(model))
    )

    # Training epochs: one device vs 4 (the same global batches), then evaluation.
    t1, _, _, ev1 = train_epochs(None, x, y)
    t4, model4, opt4, ev4 = train_epochs(explicit, x, y)
    ta, _, _, eva = train_epochs(auto, x, y)
    results["epochs"] = {"1": t1, "4-explicit": t4, "4-auto": ta}
    results["evaluate"] = {"1": ev1, "4-explicit": ev4, "4-auto": eva}
    leaves = jax.tree.leaves(nnx.state((model4, opt4)))
    results["trained_state_replicated"] = all(
        a.sharding.is_fully_replicated and len(a.sharding.device_set) == 4 for a in leaves
    )
    # One jitted step on a sharded batch agrees with the single-device step.
    m1, m4 = Net(2), Net(2)
    from lrsched_jax.train import make_optimizer

    o1 = make_optimizer(m1, lrs.constant(0.1), optax.sgd)
    o4 = make_optimizer(m4, lrs.constant(0.1), optax.sgd)
    s1 = [float(v) for v in train_step(m1, o1, x[:BATCH], y[:BATCH], loss_fn=m["ce"])]
    s4 = [float(v) for v in train_step(m4, o4, x[:BATCH], y[:BATCH], loss_fn=m["ce"], mesh=explicit)]
    results["train_step"] = {"1": s1, "4": s4}

    # Weights the user sharded over the "model" axis stay as placed; the rest is replicated.
    mg = Net(3)
    og = make_optimizer(mg, lrs.constant(0.05), optax.sgd)
    mg.l1.kernel.set_value(jax.device_put(mg.l1.kernel[...], NamedSharding(grid, P(None, "model"))))
    train_epoch(mg, og, x, y, BATCH, loss_fn=m["ce"], mesh=grid)
    results["user_placement_kept"] = str(mg.l1.kernel[...].sharding.spec)
    results["others_replicated"] = str(mg.l2.kernel[...].sharding.spec)

    # Evaluation of a number of samples that does not split over 4 devices (510 = 508 + 2).
    ev_model = Net(4)
    ev_model.eval()
    results["evaluate_uneven"] = {
        "1": evaluate(ev_model, x[:510], y[:510], loss_fn=m["ce"]),
        "4": evaluate(ev_model, x[:510], y[:510], loss_fn=m["ce"], mesh=explicit),
        "4-few": evaluate(ev_model, x[:3], y[:3], loss_fn=m["ce"], mesh=explicit),
        "1-few": evaluate(ev_model, x[:3], y[:3], loss_fn=m["ce"]),
    }

    # Boundary cases: clear errors naming the argument.
    results["errors"] = {
        "finder_batch_size": error_of(
            lambda: lrs.find_lr(Net(0), adam, (x, y), loss_fn=ce, batch_size=30, mesh=explicit, **KW)
        ),
        "finder_all_samples": error_of(
            lambda: lrs.find_lr(Net(0), adam, (x[:510], y[:510]), loss_fn=ce, mesh=explicit)
        ),
        "finder_iterable_batch": error_of(
            lambda: lrs.find_lr(Net(0), adam, [(x[:30], y[:30])], loss_fn=ce, mesh=explicit, **KW)
        ),
        "epoch_batch_size": error_of(
            lambda: train_epoch(Net(0), make_optimizer(Net(0), lrs.constant(0.1)), x, y, 30, mesh=explicit)
        ),
        "train_step_x": error_of(
            lambda: train_step(Net(0), make_optimizer(Net(0), lrs.constant(0.1)), x[:6], y[:6], mesh=explicit)
        ),
        "data_axis_unknown": error_of(
            lambda: lrs.find_lr(
                Net(0), adam, (x, y), loss_fn=ce, batch_size=BATCH, mesh=explicit, data_axis="batch"
            )
        ),
        "data_axis_needed": error_of(
            lambda: lrs.find_lr(
                Net(0), adam, (x, y), loss_fn=ce, batch_size=BATCH, mesh=jax.make_mesh((2, 2), ("a", "b"))
            )
        ),
        "data_axis_without_mesh": error_of(
            lambda: lrs.find_lr(Net(0), adam, (x, y), loss_fn=ce, batch_size=BATCH, data_axis="data")
        ),
        "mesh_type": error_of(
            lambda: lrs.find_lr(Net(0), adam, (x, y), loss_fn=ce, batch_size=BATCH, mesh="data")
        ),
    }
    with open(out, "w") as f:
        json.dump(results, f)


def run_host(pid: int, port: int, out: str) -> None:
    """One host of two, each with 2 CPU devices: global arrays built from each host's part."""
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=pid)
    import optax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    import lrsched_jax as lrs

    assert jax.device_count() == 4 and jax.local_device_count() == 2
    m = jax_modules()
    x, y = make_data()
    mesh = jax.make_mesh((4,), ("data",))
    split = NamedSharding(mesh, P("data"))
    half = N // 2
    # The data set: each host holds its half; one global array of N samples.
    xg, yg = (jax.make_array_from_process_local_data(split, a[pid * half : (pid + 1) * half]) for a in (x, y))
    res = lrs.find_lr(m["Net"](0), optax.adam, (xg, yg), loss_fn=m["ce"], batch_size=BATCH, **KW)
    # A stream of global batches: each host yields its half of every batch.
    h = BATCH // 2

    def stream() -> Any:
        for i in range(0, N, BATCH):
            lo = i + pid * h
            yield tuple(jax.make_array_from_process_local_data(split, a[lo : lo + h]) for a in (x, y))

    res_it = lrs.find_lr(m["Net"](0), optax.adam, stream(), loss_fn=m["ce"], mesh=mesh, **KW)
    epochs, _, _, ev = train_epochs(mesh, xg, yg)
    with open(out, "w") as f:
        json.dump(
            {
                "finder": finder_summary(res),
                "finder_iterable": finder_summary(res_it),
                "epochs": epochs,
                "evaluate": ev,
            },
            f,
        )


if __name__ == "__main__":
    try:
        if sys.argv[1] == "single":
            run_single(sys.argv[2])
        else:
            run_host(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
