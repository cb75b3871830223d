"""The lr actually applied at each update is the same in torch and in Flax NNX / Optax.

The same tiny model (a 4 -> 1 linear layer, MSE, plain SGD, identical initial weights and
data) is trained in torch with ``ScheduleLR`` (and with ``attach``) and in Flax NNX with
``optax.inject_hyperparams(optax.sgd)(learning_rate=s)``. torch's applied lr is the group lr
when ``optimizer.step()`` runs (read by a step pre-hook); Optax's is the injected
``learning_rate`` after each update (``lrsched_jax.applied_lr``). JAX computes in float32,
so the two agree within the float32 contract; the trained weights agree to training
tolerance, showing the lrs were really applied.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from conftest import f32_ulps
from flax import nnx
from torch.optim import lr_scheduler as tl

import lrsched_jax as lrs
from lrsched_torch import ScheduleLR, attach, from_torch

N_UPDATES = 60


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 4)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32) + 0.1).reshape(-1, 1)
    W = rng.normal(size=(1, 4)).astype(np.float32) * 0.1
    b = np.zeros(1, dtype=np.float32)
    return X, y, W, b


def train_torch(schedule: lrs.Schedule, how: str) -> tuple[list[float], np.ndarray]:
    X, y, W, b = _data()
    model = torch.nn.Linear(4, 1)
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(W))
        model.bias.copy_(torch.from_numpy(b))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    sched = ScheduleLR(opt, schedule) if how == "ScheduleLR" else None
    handle = attach(opt, schedule) if how == "attach" else None
    applied: list[float] = []
    # Registered after ScheduleLR/attach: sees the lr the update is about to use.
    opt.register_step_pre_hook(lambda o, args, kwargs: applied.append(o.param_groups[0]["lr"]))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(N_UPDATES):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(Xt), yt).backward()
        opt.step()
        if sched is not None:
            sched.step()
    if handle is not None:
        handle.detach()
    return applied, model.weight.detach().numpy().copy()


def train_flax(schedule: lrs.Schedule) -> tuple[list[float], np.ndarray]:
    X, y, W, b = _data()
    model = nnx.Linear(4, 1, rngs=nnx.Rngs(0))
    model.kernel[...] = jnp.asarray(W.T)
    model.bias[...] = jnp.asarray(b)
    graphdef, params = nnx.split(model, nnx.Param)
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule)
    opt_state = tx.init(params)

    @jax.jit
    def update(params: Any, opt_state: Any) -> tuple[Any, Any, jax.Array]:
        def loss_fn(p: Any) -> jax.Array:
            return jnp.mean((nnx.merge(graphdef, p)(X) - y) ** 2)

        grads = jax.grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, lrs.applied_lr(opt_state)

    applied = []
    for _ in range(N_UPDATES):
        params, opt_state, lr = update(params, opt_state)
        applied.append(float(lr))
    trained = nnx.merge(graphdef, params)
    return applied, np.asarray(trained.kernel[...]).T


def _one_cycle() -> lrs.Schedule:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    return from_torch(tl.OneCycleLR(opt, max_lr=0.1, total_steps=N_UPDATES, three_phase=True), field="lr")


def _sequential() -> lrs.Schedule:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.08)
    warm = tl.LinearLR(opt, 0.1, 1.0, 8)
    decay = tl.CosineAnnealingWarmRestarts(opt, 10, 2, 1e-3)
    return from_torch(tl.SequentialLR(opt, [warm, decay], [8]))


@pytest.mark.parametrize(
    "make",
    [_one_cycle, _sequential, lambda: lrs.warmup_cosine(0.05, 5, N_UPDATES, min_lr=1e-3)],
    ids=["OneCycleLR", "SequentialLR", "warmup_cosine"],
)
@pytest.mark.parametrize("how", ["ScheduleLR", "attach"])
def test_applied_lr_is_the_same_in_torch_and_optax(make: Any, how: str) -> None:
    schedule = make()
    torch_lrs, torch_w = train_torch(schedule, how)
    jax_lrs, jax_w = train_flax(schedule)
    assert len(torch_lrs) == len(jax_lrs) == N_UPDATES
    # update k used schedule(k) in torch (float64, exactly) and in Optax (float32)
    np.testing.assert_array_equal(torch_lrs, schedule.curve(N_UPDATES))
    assert np.nanmax(f32_ulps(np.asarray(jax_lrs), np.asarray(torch_lrs))) <= 8
    np.testing.assert_allclose(torch_w, jax_w, rtol=1e-4, atol=1e-5)
