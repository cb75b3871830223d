"""Flax NNX's own ``nnx.Optimizer`` with an lrsched schedule given straight to Optax
(``optax.sgd(schedule)``, no helper of ours), checkpointed mid-run with Orbax and restored into
fresh objects.

The lr is logged the way a user logs it: ``schedule(opt.step[...])`` before the update (the
optimizer's step counter is ``uint32`` in Flax 0.12). The test checks that this logged value
is the lr the update applied — for plain SGD the update is ``-lr * grad``, read back from the
parameters — that it is ``schedule(k)`` at update ``k`` (float32, within the precision
contract's ulps of the float64 value), and that the restored run continues with the same
lrs and ends with the same parameters, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
ocp = pytest.importorskip("orbax.checkpoint")

import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

import lrsched_jax as lrs  # noqa: E402
from lrsched_jax.core.precision import f32_ulps  # noqa: E402

STEPS, SAVE_AT, BATCH = 8, 4, 4
SCHEDULE = lrs.warmup_cosine(peak_lr=0.05, warmup_steps=3, total_steps=STEPS, min_lr=1e-3)

_g = np.random.default_rng(0)
X = _g.normal(size=(STEPS, BATCH, 4)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5, 3.0], np.float32)).astype(np.float32)


def _fresh(seed: int):
    model = nnx.Linear(4, 1, rngs=nnx.Rngs(seed))
    return model, nnx.Optimizer(model, optax.sgd(SCHEDULE), wrt=nnx.Param)


def _loss(model, x, y):
    return jnp.mean((model(x)[:, 0] - y) ** 2)


@nnx.jit
def _step(model, opt, x, y):
    lr = SCHEDULE(opt.step[...])  # the lr of this update, logged before it
    grads = nnx.grad(_loss)(model, x, y)
    opt.update(model, grads)
    return lr, grads


def _params(model) -> list[np.ndarray]:
    return [np.asarray(model.kernel[...]), np.asarray(model.bias[...])]


def _train(model, opt, ks) -> list[float]:
    logged = []
    for k in ks:
        before = _params(model)
        lr, grads = _step(model, opt, X[k], Y[k])
        after = _params(model)
        for b, a, g in zip(before, after, (grads.kernel[...], grads.bias[...])):
            # The update SGD applied is -lr * grad: the logged lr is the applied one (to the
            # rounding of a float32 parameter difference).
            np.testing.assert_allclose(b - a, float(lr) * np.asarray(g), rtol=2e-4, atol=1e-7)
        logged.append(float(lr))
    return logged


def _pure(model, opt) -> dict:
    return {"model": nnx.to_pure_dict(nnx.state(model)), "opt": nnx.to_pure_dict(nnx.state(opt))}


def test_nnx_optimizer_logs_the_applied_lr_and_resumes_from_orbax(tmp_path):
    model, opt = _fresh(0)
    assert opt.step[...].dtype == jnp.uint32
    logged = _train(model, opt, range(STEPS))
    exact = SCHEDULE(np.arange(STEPS, dtype=np.float64))
    # The contract's ulps where the value is measurable (NaN at the warm-up's exact 0).
    assert np.nanmax(f32_ulps(np.asarray(logged, np.float32), exact)) <= 4
    assert logged[0] == exact[0] == 0.0
    whole = _params(model)

    model, opt = _fresh(0)
    first = _train(model, opt, range(SAVE_AT))
    path = (tmp_path / "ckpt").resolve()
    with ocp.StandardCheckpointer() as ck:
        ck.save(path, _pure(model, opt))
        ck.wait_until_finished()

    model2, opt2 = _fresh(1)  # other weights: only the restore can make the run match
    with ocp.StandardCheckpointer() as ck:
        restored = ck.restore(path, _pure(model2, opt2))
    for obj, key in ((model2, "model"), (opt2, "opt")):
        state = nnx.state(obj)
        nnx.replace_by_pure_dict(state, restored[key])
        nnx.update(obj, state)
    assert int(opt2.step[...]) == SAVE_AT and opt2.step[...].dtype == jnp.uint32
    rest = _train(model2, opt2, range(SAVE_AT, STEPS))
    assert first + rest == logged
    for a, b in zip(whole, _params(model2)):
        np.testing.assert_array_equal(a, b)
