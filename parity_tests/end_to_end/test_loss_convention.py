"""One loss convention in both frameworks (DESIGN.md, "One convention for everything that
trains"): ``criterion=(output, y)`` or ``loss_fn=(model, batch)``, exactly one, the data
positional after model and optimizer; the old spellings warn and still compute the same."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
import torch.nn.functional as F

import lrsched_jax as lrs
import lrsched_torch
from lrsched_jax import train as jax_train
from lrsched_torch import train as torch_train
from lrtwin import models

RNG = np.random.default_rng(3)
X = RNG.normal(size=(96, 6)).astype(np.float32)
Y = (X @ RNG.normal(size=(6, 3))).argmax(axis=1).astype(np.int32)
SWEEP = {"num_iter": 24, "skip_start": 2, "skip_end": 1, "end_lr": 3.0}
BS = 16


def torch_net(seed=0):
    torch.manual_seed(seed)
    return models.torch_mlp((6, 16, 3))


def jax_net(seed=0):
    return models.flax_mlp_from(models.mlp_weights(torch_net(seed)))


def loader():
    xt, yt = torch.from_numpy(X), torch.from_numpy(Y.astype(np.int64))
    return [(xt[i : i + BS], yt[i : i + BS]) for i in range(0, len(X), BS)]


# --- torch find_lr ----------------------------------------------------------------------


def torch_sweep(**kw):
    model = torch_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return lrsched_torch.find_lr(model, opt, loader(), **SWEEP, **kw)


def test_torch_criterion_function_module_loss_fn_and_default_agree():
    by_module = torch_sweep(criterion=torch.nn.CrossEntropyLoss())
    assert torch_sweep(criterion=F.cross_entropy) == by_module
    assert torch_sweep() == by_module  # the default: F.cross_entropy on (x, y) batches
    assert torch_sweep(loss_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1])) == by_module


def test_torch_functional_criterion_passed_positionally_is_a_criterion():
    """The issue's bug: ``find_lr(model, opt, F.cross_entropy, data)`` called it as
    ``(model, batch)``. The old spelling now warns and calls it as ``(output, y)``."""
    model = torch_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.warns(DeprecationWarning, match="find_lr.*deprecated"):
        old = lrsched_torch.find_lr(model, opt, F.cross_entropy, loader(), **SWEEP)
    assert old == torch_sweep(criterion=F.cross_entropy)


def test_torch_refuses_both_and_a_criterion_as_loss_fn():
    with pytest.raises(TypeError, match=r"criterion=.*loss_fn=.*not both"):
        torch_sweep(criterion=F.cross_entropy, loss_fn=lambda m, b: m(b[0]).sum())
    with pytest.raises(TypeError, match="is a criterion of \\(output, y\\); pass it as criterion="):
        torch_sweep(loss_fn=torch.nn.CrossEntropyLoss())
    with pytest.raises(TypeError, match="cross_entropy is a criterion"):
        torch_sweep(loss_fn=F.cross_entropy)


def test_numpy_integers_are_accepted_in_both_drivers():
    assert torch_sweep(accumulation_steps=np.int64(2)) == torch_sweep(accumulation_steps=2)
    batches = [(X[i : i + BS], Y[i : i + BS]) for i in range(0, len(X), BS)]
    a = lrs.find_lr(jax_net(), optax.sgd, batches, accumulation_steps=np.int32(2), **SWEEP)
    assert a == lrs.find_lr(jax_net(), optax.sgd, batches, accumulation_steps=2, **SWEEP)


# --- JAX find_lr / find_lr_pure ----------------------------------------------------------


def jax_sweep(*args, **kw):
    return lrs.find_lr(jax_net(), optax.sgd, *args, batch_size=BS, **SWEEP, **kw)


def test_jax_criterion_loss_fn_default_and_old_spelling_agree():
    def ce(output, y):
        return optax.softmax_cross_entropy_with_integer_labels(output, y).mean()

    def ce_loss(m, batch):
        return ce(m(batch[0]), batch[1])

    ref = jax_sweep((X, Y), criterion=ce)
    assert jax_sweep((X, Y)) == ref  # the default criterion is optax's cross-entropy
    assert jax_sweep((X, Y), loss_fn=ce_loss) == ref
    with pytest.warns(DeprecationWarning, match="deprecated"):
        assert jax_sweep(ce_loss, (X, Y)) == ref


def test_jax_refuses_both_a_criterion_as_loss_fn_and_unknown_settings():
    with pytest.raises(TypeError, match="not both"):
        jax_sweep((X, Y), criterion=jax_train.cross_entropy, loss_fn=lambda m, b: 0.0)
    with pytest.raises(TypeError, match="pass it as criterion="):
        jax_sweep((X, Y), loss_fn=optax.softmax_cross_entropy_with_integer_labels)
    with pytest.raises(TypeError, match="unexpected keyword argument 'num_iters'"):
        lrs.find_lr(jax_net(), optax.sgd, (X, Y), num_iters=10)
    with pytest.raises(TypeError, match=r"\(x, y, \.\.\.\) batches"):
        lrs.find_lr(jax_net(), optax.sgd, [{"x": X[:BS]}], **SWEEP)


def test_find_lr_pure_shows_find_lr_options():
    pure = inspect.signature(lrs.find_lr_pure).parameters
    assert {"accumulation_steps", "val_data", "loss_fn", "start_lr"} <= set(pure)


def test_find_lr_pure_takes_accumulation_and_validation_like_find_lr():
    """``find_lr_pure`` with a hand-written step that accumulates the micro-batches'
    gradients as ``find_lr`` does, and the validation loss via ``loss_fn(state, batch)``:
    the same sweep as ``find_lr`` on the params pytree."""
    w0 = jnp.zeros((6, 3))

    def loss_fn(w, batch):
        return optax.softmax_cross_entropy_with_integer_labels(batch[0] @ w, batch[1]).mean()

    def train_step(w, micro, lr):
        grads = [jax.grad(loss_fn)(w, b) for b in micro]
        losses = [loss_fn(w, b) for b in micro]
        g = grads[0] / 2 + grads[1] / 2
        return w - lr * g, (losses[0] + losses[1]) / 2

    val = [(X[:32], Y[:32]), (X[32:48], Y[32:48])]
    kw = dict(batch_size=BS, accumulation_steps=2, val_data=val, **SWEEP)
    pure = lrs.find_lr_pure(train_step, w0, (X, Y), loss_fn=loss_fn, **kw)
    ref = lrs.find_lr(w0, optax.sgd, (X, Y), loss_fn=loss_fn, **kw)
    assert pure.stop_step == ref.stop_step
    np.testing.assert_allclose(pure.losses, ref.losses, rtol=1e-5)
    with pytest.raises(TypeError, match=r"loss_fn.*val_data"):
        lrs.find_lr_pure(train_step, w0, (X, Y), batch_size=BS, val_data=val)


# --- the training helpers ------------------------------------------------------------------


def test_jax_train_epoch_criterion_loss_fn_and_old_three_argument_loss_agree():
    def run(**kw):
        model = jax_net()
        opt = jax_train.make_optimizer(model, lrs.constant(0.1), optax.sgd)
        return jax_train.train_epoch(model, opt, X, Y, BS, **kw)[0]

    ref = run()
    np.testing.assert_array_equal(run(criterion=jax_train.cross_entropy), ref)
    np.testing.assert_array_equal(run(loss_fn=lambda m, b: jax_train.cross_entropy(m(b[0]), b[1])), ref)
    with pytest.warns(DeprecationWarning, match=r"loss_fn\(model, x, y\) is deprecated"):
        old = run(loss_fn=lambda m, x, y: jax_train.cross_entropy(m(x), y))
    np.testing.assert_array_equal(old, ref)
    with pytest.raises(TypeError, match="not both"):
        run(criterion=jax_train.cross_entropy, loss_fn=lambda m, b: 0.0)


def test_jax_evaluate_metric_and_default_match_optax():
    model = jax_net()
    ev = jax_train.evaluate(model, X, Y)
    logits = model(jnp.asarray(X))
    ce = float(optax.softmax_cross_entropy_with_integer_labels(logits, Y).mean())
    assert ev["loss"] == pytest.approx(ce, rel=1e-6)
    top2 = jax_train.evaluate(model, X, Y, metric=lambda out, y: jnp.mean(jnp.argsort(out, -1)[:, -2] == y))
    assert set(top2) == {"loss", "metric"} and 0.0 <= top2["metric"] <= 1.0


def test_torch_train_epoch_and_evaluate_take_the_same_keywords():
    def run(**kw):
        model = torch_net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        xt, yt = torch.from_numpy(X), torch.from_numpy(Y.astype(np.int64))
        return torch_train.train_epoch(model, opt, (xt, yt), batch_size=BS, **kw)[0]

    ref = run()
    np.testing.assert_array_equal(run(criterion=torch.nn.CrossEntropyLoss()), ref)
    np.testing.assert_array_equal(run(loss_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1])), ref)
    with pytest.raises(TypeError, match="pass it as criterion="):
        run(loss_fn=F.cross_entropy)  # the old meaning of loss_fn: refused, never called wrongly
    model = torch_net()
    xt, yt = torch.from_numpy(X), torch.from_numpy(Y.astype(np.int64))
    ev = torch_train.evaluate(model, (xt, yt))
    with torch.no_grad():
        assert ev["loss"] == pytest.approx(float(F.cross_entropy(model(xt), yt)), rel=1e-6)
    m = torch_train.evaluate(model, (xt, yt), metric=lambda out, y: (out.argmax(-1) == y).double().mean())
    assert m["metric"] == pytest.approx(ev["accuracy"])


def test_torch_train_step_matches_jax_train_step_and_train_epoch():
    """``train_step`` in both frameworks: the same arguments, ``(loss before, lr applied)``."""
    xt, yt = torch.from_numpy(X[:BS]), torch.from_numpy(Y[:BS].astype(np.int64))
    model = torch_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss, lr = torch_train.train_step(model, opt, xt, yt, criterion=torch.nn.CrossEntropyLoss())
    ref_model = torch_net()
    ref = torch_train.train_epoch(ref_model, torch.optim.SGD(ref_model.parameters(), lr=0.1), [(xt, yt)])
    assert (float(loss), lr) == (ref[0][0], ref[1][0])
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), ref_model.parameters()))
    jm = jax_net()
    jopt = jax_train.make_optimizer(jm, lrs.constant(0.1), optax.sgd)
    jloss, jlr = jax_train.train_step(jm, jopt, X[:BS], Y[:BS])
    assert float(jloss) == pytest.approx(float(loss), rel=1e-5) and float(jlr) == pytest.approx(lr)
