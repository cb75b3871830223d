"""End to end: the torch and the JAX finder on the same MLP (weights copied from torch to
Flax), the same data in the same order, plain SGD.

float64 (torch ``.double()``, JAX under a scoped ``jax.enable_x64(True)``): identical lr
sequences — also the lrs the torch optimizer actually applied —, the same stop step and
reason, the same suggestion under every rule, losses within 1e-12 while training is stable
(1e-9 through the divergence). float32: identical lrs, losses within training tolerance
(discrete decisions may then legitimately differ).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from flax import nnx

import lrsched_jax as lrs
import lrsched_torch

RNG = np.random.default_rng(42)
XS = RNG.normal(size=(320, 10))
YS = XS @ RNG.normal(size=(10, 1)) + 0.1 * RNG.normal(size=(320, 1))
BS = 32


def torch_mlp(seed: int, dtype: torch.dtype) -> torch.nn.Sequential:
    """The article's MLP: 10 -> 50 -> 1."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(10, 50), torch.nn.ReLU(), torch.nn.Linear(50, 1)).to(dtype)


class FlaxMLP(nnx.Module):
    def __init__(self, tm: torch.nn.Sequential, dtype):
        rngs = nnx.Rngs(0)
        self.l1 = nnx.Linear(10, 50, rngs=rngs, dtype=dtype, param_dtype=dtype)
        self.l2 = nnx.Linear(50, 1, rngs=rngs, dtype=dtype, param_dtype=dtype)
        for layer, t in ((self.l1, tm[0]), (self.l2, tm[2])):
            layer.kernel[...] = jnp.asarray(t.weight.detach().numpy().T, dtype=dtype)
            layer.bias[...] = jnp.asarray(t.bias.detach().numpy(), dtype=dtype)

    def __call__(self, x):
        return self.l2(nnx.relu(self.l1(x)))


def run_both(seed, dtype, *, offset=0.0, jax_data="arrays", **kw):
    tdt, ndt = (torch.float64, np.float64) if dtype == "float64" else (torch.float32, np.float32)
    xs, ys = XS.astype(ndt), YS.astype(ndt)
    tm = torch_mlp(seed, tdt)
    opt = torch.optim.SGD(tm.parameters(), lr=0.1)
    applied: list[float] = []
    opt.register_step_pre_hook(lambda o, a, k: applied.append(o.param_groups[0]["lr"]))
    data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(xs), torch.from_numpy(ys)), batch_size=BS
    )

    def torch_loss(model, batch):
        return torch.nn.functional.mse_loss(model(batch[0]), batch[1]) - offset

    rt = lrsched_torch.find_lr(tm, opt, torch_loss, data, **kw)

    def jax_loss(model, batch):
        return jnp.mean((model(batch[0]) - batch[1]) ** 2) - offset

    with jax.enable_x64(dtype == "float64"):
        jm = FlaxMLP(tm, jnp.float64 if dtype == "float64" else jnp.float32)
        if jax_data == "arrays":
            rj = lrs.find_lr(jm, optax.sgd, jax_loss, (xs, ys), batch_size=BS, **kw)
        else:
            batches = [(x.numpy(), y.numpy()) for x, y in data]
            rj = lrs.find_lr(jm, optax.sgd, jax_loss, batches, **kw)
    return rt, rj, applied


CASES = [
    pytest.param(0, {}, id="defaults"),
    pytest.param(1, {"mode": "linear", "end_lr": 1.0}, id="linear"),
    pytest.param(2, {"smooth": 0.0, "num_iter": 60, "suggestion": "steepest"}, id="unsmoothed"),
    pytest.param(3, {"offset": 5.0, "end_lr": 3.0}, id="negative-losses"),
    pytest.param(4, {"jax_data": "batches", "num_iter": 50, "skip_start": 5}, id="jax-host-loop"),
]


@pytest.mark.parametrize(("seed", "kw"), CASES)
def test_float64_identical_decisions(seed, kw):
    rt, rj, applied = run_both(seed, "float64", **kw)
    assert rt.framework == "torch" and rj.framework == "jax"
    # Identical lr sequences: the table, and what torch's optimizer actually applied.
    np.testing.assert_array_equal(rt.lrs, rj.lrs)
    assert applied == list(rt.lrs[: len(applied)]) and len(applied) >= rt.stop_step
    assert rt.stop_step == rj.stop_step and rt.stop_reason == rj.stop_reason
    assert rt.stop_reason in ("diverged", "completed")
    assert rt.suggestions == rj.suggestions  # every rule, exactly
    assert rt.suggestion == rj.suggestion is not None
    # While training is stable (up to the best smoothed loss) the two agree to ~1e-14; past it
    # the growing lr amplifies the kernels' rounding differences step by step.
    b = int(np.argmin(rt.smoothed_losses)) + 1
    np.testing.assert_allclose(rj.losses[:b], rt.losses[:b], rtol=1e-12)
    np.testing.assert_allclose(rj.smoothed_losses[:b], rt.smoothed_losses[:b], rtol=1e-12)
    np.testing.assert_allclose(rj.losses, rt.losses, rtol=1e-9)
    if kw.get("offset"):
        assert rt.losses.min() < 0 < rt.losses.max() or rt.losses.max() < 0


@pytest.mark.parametrize(("seed", "kw"), CASES[:2])
def test_float32_losses_agree_to_training_tolerance(seed, kw):
    rt, rj, _ = run_both(seed, "float32", **kw)
    np.testing.assert_array_equal(rt.lrs[: len(rj.lrs)], rj.lrs[: len(rt.lrs)])
    n = min(len(rt.losses), len(rj.losses))
    assert abs(rt.stop_step - rj.stop_step) <= 2
    b = min(int(np.argmin(rt.smoothed_losses)) + 1, n)
    np.testing.assert_allclose(rj.losses[:b], rt.losses[:b], rtol=1e-4)
    np.testing.assert_allclose(rj.smoothed_losses[:b], rt.smoothed_losses[:b], rtol=1e-4)
    np.testing.assert_allclose(rj.losses[:n], rt.losses[:n], rtol=5e-2)  # the unstable tail
    assert rt.losses.dtype == rj.losses.dtype == np.float64  # float32 values, exactly
    assert np.array_equal(rt.losses.astype(np.float32), rt.losses)


def test_same_parameters_and_defaults_in_both_drivers():
    import inspect

    jax_sig = inspect.signature(lrs.find_lr).parameters
    torch_sig = inspect.signature(lrsched_torch.find_lr).parameters
    shared = [
        "model",
        "optimizer",
        "loss_fn",
        "data",
        "start_lr",
        "end_lr",
        "num_iter",
        "mode",
        "smooth",
        "diverge_factor",
        "skip_start",
        "skip_end",
        "suggestion",
        "progress",
    ]
    for name in shared:
        assert jax_sig[name].default == torch_sig[name].default, name
        assert jax_sig[name].kind == torch_sig[name].kind, name
    assert list(jax_sig)[:4] == list(torch_sig)[:4] == shared[:4]
    assert (jax_sig["start_lr"].default, jax_sig["end_lr"].default, jax_sig["num_iter"].default) == (
        1e-7,
        10.0,
        100,
    )
    assert (jax_sig["mode"].default, jax_sig["smooth"].default, jax_sig["diverge_factor"].default) == (
        "exp",
        0.98,
        4.0,
    )
