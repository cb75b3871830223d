"""``lrsched_torch.tune_lr``: each rung is ``lrsched_torch.compare``'s run (the same metrics on
the compressed or full schedule), the sweep is the torch finder's on the probes' batches, the
loss conventions, diverging candidates and bad input — the JAX tuner's contract in torch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import shared_tuner_tests, tune_helpers, tune_task

import lrsched_torch as lt
from lrsched_jax.core.tune import compress, sweep_order
from lrtwin.compare import numpy_weights
from lrtwin.models import torch_mlp_from

EPOCHS, BATCH = 8, 16
SIZES = (6, 12, 3)


TRAIN, VAL = ((torch.from_numpy(x), torch.from_numpy(y)) for x, y in tune_task())
STEPS = len(TRAIN[0]) // BATCH
ONE_RUNG = 0.3  # no full-length rung fits: one rung of one-epoch probes decides


def model(seed):
    return torch_mlp_from(numpy_weights(seed, SIZES))


def opt(params):
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


tune, final_metric = tune_helpers(
    lt, model=model, optimizer=opt, train=TRAIN, val=VAL, epochs=EPOCHS, batch_size=BATCH
)


def test_rungs_are_the_arenas_runs_and_the_choice_is_the_best_full_run():
    total = EPOCHS * STEPS
    res = tune(lrs=[0.01, 0.1, 1.0], schedule=lambda p: lt.one_cycle(p, total))
    assert res.framework == "torch" and [r["epochs"] for r in res.rungs] == [1, EPOCHS]
    c = res.candidates[1]
    assert res.score(c, 0) == pytest.approx(final_metric(compress(lt.one_cycle(c, total), 8.0), 1))
    assert res.score(res.lr, 1) == pytest.approx(final_metric(lt.one_cycle(res.lr, total), EPOCHS))
    assert res.lr == max(res.rungs[1]["lrs"], key=lambda c: res.score(c, 1))
    assert res.cost == pytest.approx((3 * STEPS + 2 * total) / total)
    json.dumps(res.to_dict(), allow_nan=False)


@pytest.mark.slow
def test_default_candidates_come_from_the_torch_finder_on_the_probes_batches():
    res = tune(budget=10.0)
    idx = torch.from_numpy(sweep_order(0, len(TRAIN[0]), BATCH, 100).reshape(-1, BATCH))
    net = model(0)
    ref = lt.find_lr(
        net, opt(net.parameters()), [(TRAIN[0][b], TRAIN[1][b]) for b in idx], criterion=F.cross_entropy
    )
    np.testing.assert_allclose(res.sweep.losses, ref.losses, rtol=1e-6)
    assert res.sweep_updates == ref.stop_step + 1 and res.sweep.framework == "torch"
    np.testing.assert_allclose(np.diff(np.log10(res.candidates)), 0.5, atol=1e-9)


def test_criterion_metric_and_mode():
    a = tune(lrs=[0.03, 0.3], budget=ONE_RUNG)
    b = tune(lrs=[0.03, 0.3], criterion=F.cross_entropy, budget=ONE_RUNG)
    c = tune(lrs=[0.03, 0.3], loss_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1]), budget=ONE_RUNG)
    for other in (b, c):
        assert a.lr == other.lr and [t.metrics for t in a.trials] == [t.metrics for t in other.trials]
    res = tune(lrs=[1e-4, 0.3], metric=F.cross_entropy, mode="min", budget=ONE_RUNG)
    assert res.lr == 0.3
    with pytest.raises(TypeError, match="not both"):
        tune(lrs=[0.1], criterion=F.cross_entropy, loss_fn=lambda m, b: 0.0)


test_diverging_candidates_are_marked_not_fatal, test_bad_input_is_refused_naming_the_argument = (
    shared_tuner_tests(tune, ONE_RUNG)
)
