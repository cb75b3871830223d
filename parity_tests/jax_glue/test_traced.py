"""The same code traced: jit, vmap, scan, inside Optax, under x64 — against the host values."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import f32_ulps
from strategies import representative

import lrsched_jax as lrs

STEPS = np.concatenate([np.arange(0, 4096), np.linspace(4096, 1_000_000, 4096).astype(np.int64)])
SCHEDULES = representative()


def ids(s):
    return type(s).__name__


@pytest.mark.parametrize("s", SCHEDULES, ids=ids)
def test_jit_float32_contract(s):
    got = np.asarray(jax.jit(s)(jnp.asarray(STEPS, dtype=jnp.int32)))
    assert got.dtype == np.float32
    assert np.nanmax(f32_ulps(got, s(STEPS))) <= 8


@pytest.mark.slow
@pytest.mark.parametrize("s", SCHEDULES, ids=ids)
def test_jit_float32_contract_every_step(s):
    steps = np.arange(1_000_001)
    got = np.asarray(jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32)))
    assert np.nanmax(f32_ulps(got, s(steps))) <= 8


@pytest.mark.parametrize("s", SCHEDULES, ids=ids)
def test_vmap_and_scan_match_vectorised(s):
    steps = jnp.asarray(STEPS[::16], dtype=jnp.int32)
    whole = np.asarray(jax.jit(s)(steps))
    mapped = np.asarray(jax.jit(jax.vmap(s))(steps))

    def body(carry, t):
        return carry, s(t)

    _, scanned = jax.jit(lambda ts: jax.lax.scan(body, 0, ts))(steps)
    ref = s(np.asarray(steps))
    for got in (mapped, np.asarray(scanned)):
        assert got.shape == whole.shape
        assert np.nanmax(f32_ulps(got, ref)) <= 8


def test_float_steps_keep_their_dtype_and_python_steps_give_numpy_scalars():
    s = lrs.warm_restarts(1.0, 4)
    assert isinstance(s(3), np.float64)
    assert isinstance(s(2.5), np.float64)
    assert s(np.arange(3)).dtype == np.float64
    assert s(np.arange(3, dtype=np.float32)).dtype == np.float32
    assert s(jnp.arange(3)).dtype == jnp.float32
    assert s(jnp.arange(3, dtype=jnp.bfloat16)).dtype == jnp.float32
    # fractional steps (torch's step(epoch=2.5)) follow the formula continuously
    assert s(2.5) == pytest.approx((1 + np.cos(np.pi * 2.5 / 4)) / 2, rel=1e-15)
    with pytest.raises(TypeError, match="step"):
        s(True)
    with pytest.raises(TypeError, match="dtype"):
        s(np.array([1 + 2j]))


def test_negative_steps_count_as_step_zero():
    s = lrs.warmup_cosine(1.0, 10, 100, init_lr=0.1)
    assert s(-5) == s(0) == pytest.approx(0.1)
    assert float(s(jnp.int32(-5))) == pytest.approx(0.1)


@pytest.mark.parametrize("s", SCHEDULES[::3], ids=ids)
def test_x64_matches_numpy_float64(s):
    with jax.enable_x64(True):
        got = jax.jit(s)(jnp.asarray(STEPS, dtype=jnp.int64))
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(got), s(STEPS), rtol=1e-13, atol=0)


@pytest.mark.parametrize("s", SCHEDULES[:6], ids=ids)
def test_schedule_is_an_optax_schedule(s):
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=s)
    params = {"w": jnp.zeros(3)}
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        updates, state = opt.update({"w": jnp.ones(3)}, state, params)
        return optax.apply_updates(params, updates), state

    seen = []
    for _ in range(5):
        params, state = step(params, state)
        seen.append(float(lrs.applied_lr(state)))
    np.testing.assert_allclose(seen, s(np.arange(5)), rtol=1e-6)
    # plain optax.sgd(learning_rate=s): read the lr back through the schedule
    plain = optax.sgd(s)
    pstate = plain.init(params)
    for _ in range(3):
        _, pstate = plain.update({"w": jnp.ones(3)}, pstate, params)
    assert float(lrs.applied_lr(pstate, s)) == pytest.approx(float(s(2)), rel=1e-6)


def test_applied_lr_errors():
    with pytest.raises(ValueError, match="inject_hyperparams"):
        lrs.applied_lr(optax.sgd(0.1).init({"w": jnp.zeros(1)}))
    with pytest.raises(ValueError, match="ScaleByScheduleState"):
        lrs.applied_lr(optax.sgd(0.1).init({"w": jnp.zeros(1)}), lrs.constant(0.1))


def test_schedule_of_an_nnx_optimizer_step_is_right():
    """nnx.Optimizer counts its steps in uint32 (Flax 0.12): logging ``schedule(opt.step[...])``
    must give the lr of that step, also past int32 (where no int64 exists without x64)."""
    from flax import nnx

    s = lrs.one_cycle(0.1, 1000)
    model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    opt = nnx.Optimizer(model, optax.sgd(s), wrt=nnx.Param)
    step = opt.step[...]
    assert step.dtype == jnp.uint32
    assert float(s(step)) == pytest.approx(float(s(0)), rel=1e-6)
    opt.step[...] = jnp.asarray(100, dtype=step.dtype)
    assert float(jax.jit(s)(opt.step[...])) == pytest.approx(float(s(100)), rel=1e-6)
    cyc = lrs.cyclic(1e-4, 1e-2, 2000)
    far = np.asarray([2**31 + 777, 2**32 - 1], dtype=np.uint32)
    np.testing.assert_allclose(
        np.asarray(jax.jit(cyc)(jnp.asarray(far))), cyc(far.astype(np.int64)), rtol=1e-6
    )


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: jax.vmap(lambda p: lrs.cosine(p, 100)(5))(jnp.ones(3)), id="vmap-init_lr"),
        pytest.param(lambda: jax.grad(lambda p: lrs.warmup_cosine(p, 10, 100)(50))(0.1), id="grad-peak_lr"),
        pytest.param(lambda: jax.jit(lambda T: lrs.cosine(1.0, T)(5))(100), id="jit-total_steps"),
        pytest.param(lambda: jax.jit(lambda m: lrs.multistep(0.1, [m]))(10), id="jit-milestone"),
    ],
)
def test_traced_hyperparameters_are_refused_with_the_way_out(build):
    """Regression: a traced hyperparameter was refused as "must be a real number, got
    Traced<...>", with no word on why or what to do instead."""
    with pytest.raises(TypeError, match=r"is a traced JAX value .*hyperparameters are static") as info:
        build()
    assert "lrsched_jax.compare" in str(info.value) and "unit lr" in str(info.value)


def test_the_suggested_way_to_differentiate_an_lr_scale_works():
    """What the message suggests: a unit-lr schedule times the traced factor."""
    unit = lrs.warmup_cosine(1.0, 10, 100)
    grad = jax.grad(lambda p: p * unit(50))(0.1)
    assert float(grad) == pytest.approx(float(unit(50)), rel=1e-6)
    scaled = jax.vmap(lambda p: p * unit(50))(jnp.array([0.1, 0.2]))
    np.testing.assert_allclose(np.asarray(scaled), [0.1 * unit(50), 0.2 * unit(50)], rtol=1e-6)
