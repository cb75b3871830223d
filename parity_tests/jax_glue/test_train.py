"""``lrsched_jax.train``'s argument checks on one device: the sample counts of ``x`` and ``y``
agree before anything is gathered, and a mean over no samples is refused."""

from __future__ import annotations

import numpy as np
import optax
import pytest
from flax import nnx

import lrsched_jax as lrs
from lrsched_jax.train import evaluate, make_optimizer, train_epoch, train_step

X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
Y = np.arange(64) % 3


def _model_and_opt():
    model = nnx.Linear(4, 3, rngs=nnx.Rngs(0))
    return model, make_optimizer(model, lrs.constant(0.1), optax.sgd)


def _params(model):
    return [np.array(a) for a in (model.kernel[...], model.bias[...])]


@pytest.mark.parametrize("n_y", [48, 80])
def test_train_epoch_refuses_labels_of_another_length(n_y):
    model, opt = _model_and_opt()
    before = _params(model)
    y = np.arange(n_y) % 3
    with pytest.raises(
        ValueError, match=f"train_epoch: x and y must have the same number of samples, got 64 and {n_y}"
    ):
        train_epoch(model, opt, X, y, batch_size=16)
    for a, b in zip(before, _params(model)):
        np.testing.assert_array_equal(a, b)  # nothing was trained


def test_train_step_refuses_labels_of_another_length():
    model, opt = _model_and_opt()
    with pytest.raises(ValueError, match="train_step: x and y"):
        train_step(model, opt, X[:16], Y[:8])


def test_evaluate_refuses_no_samples_and_mismatched_lengths():
    model, _ = _model_and_opt()
    with pytest.raises(ValueError, match="evaluate: x and y hold no samples"):
        evaluate(model, X[:0], Y[:0])
    with pytest.raises(ValueError, match="evaluate: x and y must have the same number"):
        evaluate(model, X, Y[:10])


def test_matching_lengths_still_train_and_evaluate():
    model, opt = _model_and_opt()
    losses, lrs_ = train_epoch(model, opt, X, Y, batch_size=16)
    assert losses.shape == (4,) and np.all(lrs_ == np.float32(0.1))
    ev = evaluate(model, X, Y)
    assert np.isfinite(ev["loss"]) and 0.0 <= ev["accuracy"] <= 1.0
