"""``lrsched_jax.tune_lr``: each rung is the arena's run (the same metrics as ``compare`` on the
compressed or full schedule), the sweep is the finder's on the probes' own batches, the
loss conventions (``criterion`` / ``loss_fn``), diverging candidates, and bad input."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import shared_tuner_tests, tune_helpers, tune_task

import lrsched_jax as lrs
from lrsched_jax.core.tune import compress, sweep_order
from lrtwin import models

EPOCHS, BATCH = 8, 16
SIZES = (6, 12, 3)


TRAIN, VAL = ((x, y.astype(np.int32)) for x, y in tune_task())
STEPS = len(TRAIN[0]) // BATCH


def model(seed):
    return models.flax_mlp(SIZES, rngs=seed)


def opt(lr):
    return optax.sgd(lr, momentum=0.9)


def ce(out, y):
    return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()


tune, final_metric = tune_helpers(
    lrs, model=model, optimizer=opt, train=TRAIN, val=VAL, epochs=EPOCHS, batch_size=BATCH
)


def test_rungs_are_the_arenas_runs_and_the_choice_is_the_best_full_run():
    total = EPOCHS * STEPS
    res = tune(lrs=[0.01, 0.1, 1.0], schedule=lambda p: lrs.one_cycle(p, total))
    assert lrs.tune_lr is __import__("lrsched_jax.tune", fromlist=["tune_lr"]).tune_lr
    assert [r["epochs"] for r in res.rungs] == [1, EPOCHS]
    # rung 0: the one-cycle schedule compressed 8× into one epoch, trained by the arena
    c = res.candidates[1]
    assert res.score(c, 0) == pytest.approx(final_metric(compress(lrs.one_cycle(c, total), 8.0), 1))
    survivors = res.rungs[1]["lrs"]
    assert res.score(res.lr, 1) == pytest.approx(final_metric(lrs.one_cycle(res.lr, total), EPOCHS))
    assert res.lr == max(survivors, key=lambda c: res.score(c, 1))
    assert res.cost == pytest.approx((3 * STEPS + 2 * total) / total)
    assert res.schedule == lrs.one_cycle(res.lr, total).to_config()
    json.dumps(res.to_dict(), allow_nan=False)


def test_default_candidates_come_from_a_sweep_on_the_probes_batches():
    res = tune(budget=10.0)
    idx = sweep_order(0, len(TRAIN[0]), BATCH, 100)
    ref = lrs.find_lr(model(0), opt, (TRAIN[0][idx], TRAIN[1][idx]), criterion=ce, batch_size=BATCH)
    np.testing.assert_allclose(res.sweep.losses, ref.losses, rtol=1e-6)
    assert res.sweep_updates == ref.stop_step + 1
    assert res.anchor is not None and res.candidates[0] <= res.anchor <= res.candidates[-1]
    spacing = np.diff(np.log10(res.candidates))
    np.testing.assert_allclose(spacing, 0.5, atol=1e-9)
    assert res.cost <= 10.0


# A budget of 0.3 runs leaves no full-length rung: one rung of one-epoch probes decides.
ONE_RUNG = 0.3


def test_criterion_and_loss_fn_are_the_same_loss():
    a = tune(lrs=[0.03, 0.3], criterion=ce, budget=ONE_RUNG)
    b = tune(lrs=[0.03, 0.3], loss_fn=lambda m, batch: ce(m(batch[0]), batch[1]), budget=ONE_RUNG)
    assert a.lr == b.lr and len(a.rungs) == 1 and "no full-length rung" in a.notes[0]
    assert [t.metrics[0] for t in a.trials] == pytest.approx([t.metrics[0] for t in b.trials])
    with pytest.raises(TypeError, match="not both"):
        tune(lrs=[0.1], criterion=ce, loss_fn=lambda m, b: 0.0)


def test_min_mode_with_a_loss_metric():
    res = tune(lrs=[1e-4, 0.3], metric=ce, mode="min", budget=ONE_RUNG)
    assert res.lr == 0.3  # 1e-4 barely moves the loss


test_diverging_candidates_are_marked_not_fatal, test_bad_input_is_refused_naming_the_argument = (
    shared_tuner_tests(tune, ONE_RUNG)
)


def test_seeds_are_averaged():
    res = tune(lrs=[0.03, 0.3], seeds=(0, 1), budget=ONE_RUNG)
    assert {t.seed for t in res.trials} == {0, 1} and len(res.trials) == 4
    m = [t.metrics[0] for t in res.trials if t.lr == 0.3]
    assert res.score(0.3, 0) == pytest.approx(float(jnp.mean(jnp.asarray(m))))
    assert res.cost == pytest.approx(2 * STEPS / (EPOCHS * STEPS))
