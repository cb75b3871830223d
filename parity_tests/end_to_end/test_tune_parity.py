"""``tune_lr`` in both frameworks: in float64, from the same weights and batches, torch and JAX
train the same probes to the same metrics (to 1e-9) and choose the same lr — with the
candidates given, and (slow) with the candidates read off each framework's own sweep."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import lrsched_jax as lrs
import lrsched_torch as lt
from lrtwin.compare import numpy_weights
from lrtwin.models import flax_mlp_from, torch_mlp_from

EPOCHS, BATCH = 4, 16
SIZES = (6, 12, 3)
TOTAL = EPOCHS * (128 // BATCH)


def _data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(160, 6))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return (x[:128], y[:128]), (x[128:], y[128:])


def run_both(epochs=EPOCHS, **kw):
    (xt, yt), (xv, yv) = _data()
    rt = lt.tune_lr(
        model=lambda s: torch_mlp_from(numpy_weights(s, SIZES), dtype=torch.float64),
        optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        train=(torch.from_numpy(xt), torch.from_numpy(yt)), val=(torch.from_numpy(xv), torch.from_numpy(yv)),
        epochs=epochs, batch_size=BATCH, metric=lambda o, y: torch.nn.functional.cross_entropy(o, y),
        mode="min", **kw,
    )  # fmt: skip
    with jax.enable_x64(True):
        rj = lrs.tune_lr(
            model=lambda s: flax_mlp_from(numpy_weights(s, SIZES), dtype=jnp.float64),
            optimizer=lambda lr: optax.sgd(lr, momentum=0.9),
            train=(xt, yt.astype(np.int32)), val=(xv, yv.astype(np.int32)), epochs=epochs, batch_size=BATCH,
            metric=lambda o, y: optax.softmax_cross_entropy_with_integer_labels(o, y).mean(), mode="min",
            **kw,
        )  # fmt: skip
    return rt, rj


def _same(rt, rj):
    assert rt.lr == rj.lr and rt.candidates == rj.candidates
    assert [r["lrs"] for r in rt.rungs] == [r["lrs"] for r in rj.rungs]
    for a, b in zip(rt.trials, rj.trials):
        assert (a.lr, a.seed, a.updates, a.diverged) == (b.lr, b.seed, b.updates, b.diverged)
        np.testing.assert_allclose(
            np.asarray(a.metrics, dtype=float), np.asarray(b.metrics, dtype=float), rtol=1e-9, equal_nan=True
        )
    assert rt.cost == rj.cost


def test_float64_same_choice_from_the_same_candidates():
    rt, rj = run_both(lrs=[0.01, 0.1, 1.0], seeds=(0, 1), schedule=lambda p: lrs.one_cycle(p, TOTAL))
    _same(rt, rj)
    assert len(rt.rungs) == 2


def test_float64_same_step_down():
    # 0.5 is the best one-epoch probe and ends its 8 epochs worse than its probe: both
    # frameworks step down to the user's candidate a decade below it, and choose it.
    rt, rj = run_both(lrs=[0.05, 0.5, 1.0], epochs=8)
    _same(rt, rj)
    assert rt.lr == 0.05 and "the second survivor is 0.05" in rt.notes[0]
    assert rt.rungs[1]["lrs"] == [0.05, 0.5]


@pytest.mark.slow
def test_float64_same_sweep_candidates_and_choice():
    rt, rj = run_both(budget=6.0)
    np.testing.assert_allclose(rt.sweep.losses, rj.sweep.losses, rtol=1e-9)
    _same(rt, rj)
