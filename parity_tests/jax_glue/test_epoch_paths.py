"""``train_epoch``'s two paths — one ``lax.scan`` per epoch, or one jitted call per update —
run the same updates: the same lrs, and the same parameters (bit for bit for a dense network;
to float32 rounding for a CNN, whose convolutions XLA:CPU runs with another kernel inside a
loop). ``path="auto"`` takes the per-update path exactly where the update has a convolution
and runs on the CPU, and ``epoch_path`` says so without training. No wall-clock asserts: the
speed is measured in ``benchmarks/throughput.py``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import jax
import numpy as np
import optax
import pytest
from flax import nnx
from processes import worker_env

import lrsched_jax as lrs
from lrsched_jax.train import epoch_path, make_optimizer, train_epoch
from lrtwin.models import flax_cnn, flax_mlp

_g = np.random.default_rng(0)
X = _g.normal(size=(96, 64)).astype(np.float32)
Y = _g.integers(0, 10, size=96)
SCHEDULE = lrs.one_cycle(3e-3, 12)


def _run(make, path: str, epochs: int = 2):
    model = make()
    opt = make_optimizer(model, SCHEDULE, optax.adamw, weight_decay=1e-2)
    out = [train_epoch(model, opt, X, Y, 16, key=jax.random.key(e), path=path) for e in range(epochs)]
    losses = np.concatenate([o[0] for o in out])
    lrs_ = np.concatenate([o[1] for o in out])
    return losses, lrs_, [np.asarray(a) for a in jax.tree.leaves(nnx.state((model, opt)))]


def _mlp():
    return flax_mlp((64, 32, 10), rngs=0)


def _cnn():
    return flax_cnn(rngs=0)


def test_dense_network_scans_and_both_paths_agree_bit_for_bit():
    model = _mlp()
    assert epoch_path(model, make_optimizer(model, SCHEDULE), X, Y, 16) == "scan"
    scan, steps, auto = (_run(_mlp, p) for p in ("scan", "steps", "auto"))
    for other in (steps, auto):
        np.testing.assert_array_equal(scan[0], other[0])
        np.testing.assert_array_equal(scan[1], other[1])
        for a, b in zip(scan[2], other[2]):
            np.testing.assert_array_equal(a, b)
    # lr(k) at global update k, across the two epochs (6 updates each).
    np.testing.assert_allclose(scan[1], SCHEDULE(np.arange(12)), rtol=1e-6)


def test_cnn_on_cpu_takes_the_per_update_path_with_the_scans_results():
    model = _cnn()
    assert jax.default_backend() == "cpu"
    assert epoch_path(model, make_optimizer(model, SCHEDULE), X, Y, 16) == "steps"
    scan, steps, auto = (_run(_cnn, p, epochs=1) for p in ("scan", "steps", "auto"))
    np.testing.assert_array_equal(steps[0], auto[0])  # auto is the per-update path, exactly
    for a, b in zip(steps[2], auto[2]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(scan[1], steps[1])  # the same lr at every update
    np.testing.assert_allclose(scan[0], steps[0], rtol=1e-5)
    for a, b in zip(scan[2], steps[2]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_convolution_nested_in_a_jitted_call_or_custom_vjp_is_found():
    class Wrapped(nnx.Module):
        def __init__(self) -> None:
            self.conv = nnx.Conv(1, 2, (3, 3), rngs=nnx.Rngs(0))
            self.out = nnx.Linear(2 * 64, 10, rngs=nnx.Rngs(1))

        def __call__(self, x):
            @jax.custom_vjp
            def ident(h):
                return h

            ident.defvjp(lambda h: (h, None), lambda _, g: (g,))
            h = jax.jit(lambda v: self.conv(v))(x.reshape(-1, 8, 8, 1))
            return self.out(ident(h).reshape(x.shape[0], -1))

    model = Wrapped()
    assert epoch_path(model, make_optimizer(model, SCHEDULE), X, Y, 16) == "steps"


def test_unknown_path_is_refused_before_any_update():
    model = _mlp()
    opt = make_optimizer(model, SCHEDULE)
    before = [np.asarray(a) for a in jax.tree.leaves(nnx.state(model))]
    with pytest.raises(ValueError, match="train_epoch: path must be one of auto, scan, steps, got 'loop'"):
        train_epoch(model, opt, X, Y, 16, path="loop")  # type: ignore[arg-type]
    for a, b in zip(before, jax.tree.leaves(nnx.state(model))):
        np.testing.assert_array_equal(a, np.asarray(b))


_MESH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np, optax
    from flax import nnx
    import lrsched_jax as lrs
    from lrsched_jax.train import epoch_path, make_optimizer, train_epoch
    from lrtwin.models import flax_cnn

    g = np.random.default_rng(0)
    x = g.normal(size=(64, 64)).astype(np.float32)
    y = g.integers(0, 10, size=64)
    out = {}
    for name, mesh in (("one", None), ("explicit", jax.make_mesh((2,), ("data",)))):
        for path in ("auto",) if mesh is None else ("scan", "auto"):
            model = flax_cnn(rngs=0)
            opt = make_optimizer(model, lrs.cosine(1e-3, 8), optax.adamw)
            if path == "auto":
                out[name + "_path"] = epoch_path(model, opt, x, y, 16, mesh=mesh)
            lo, lr = train_epoch(model, opt, x, y, 16, mesh=mesh, path=path)
            out[name + "_" + path] = {
                "losses": lo.tolist(),
                "lrs": lr.tolist(),
                "params": [np.asarray(a).ravel().tolist() for a in jax.tree.leaves(nnx.state(model))],
            }
    json.dump(out, open(sys.argv[1], "w"))
    """
)


@pytest.mark.slow  # 8 s; the data-parallel worker covers train_epoch on a mesh by default
def test_per_update_path_on_a_mesh_matches_one_device(tmp_path):
    env = worker_env()
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2".strip()
    env["JAX_PLATFORMS"] = "cpu"
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-c", _MESH_SCRIPT, str(out)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    import json

    r = json.loads(out.read_text())
    assert r["one_path"] == r["explicit_path"] == "steps"
    ref = r["one_auto"]
    for key in ("explicit_scan", "explicit_auto"):
        assert r[key]["lrs"] == ref["lrs"]
        np.testing.assert_allclose(r[key]["losses"], ref["losses"], rtol=1e-5)
        # Adam divides by the root of tiny second moments: reductions split over two
        # devices move a few weights by up to ~1% of one update (lr 1e-3).
        for a, b in zip(r[key]["params"], ref["params"]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
