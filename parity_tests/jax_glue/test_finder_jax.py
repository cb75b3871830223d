"""The JAX finder driver: one jitted program, data handling, the optimizer forms, state left
untouched (bitwise, also after an exception mid-sweep), and every bad-input rule."""

from __future__ import annotations

import logging

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import assert_never_fell
from flax import nnx

import lrsched_jax as lrs
from lrsched_jax.core.validate import place
from lrsched_jax.finder import FinderResult

X = np.random.default_rng(0).normal(size=(256, 8)).astype(np.float32)
Y = (X @ np.linspace(-1.0, 1.0, 8)[:, None]).astype(np.float32)
BATCHES = [(X[i : i + 32], Y[i : i + 32]) for i in range(0, 256, 32)]
KW = dict(num_iter=40, skip_start=4, skip_end=2)  # short sweeps keep the tests fast


class Net(nnx.Module):
    """Batch norm (statistics), dropout (an RNG stream) and two dense layers."""

    def __init__(self, seed: int = 0):
        rngs = nnx.Rngs(seed, dropout=seed + 1)
        self.l1 = nnx.Linear(8, 16, rngs=rngs)
        self.bn = nnx.BatchNorm(16, rngs=rngs)
        self.drop = nnx.Dropout(0.1, rngs=rngs)
        self.l2 = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.l2(self.drop(nnx.relu(self.bn(self.l1(x)))))


def mse(model, batch):
    x, y = batch
    return jnp.mean((model(x) - y) ** 2)


# One factory object reused everywhere: equal static arguments reuse the compiled program.
sgd = optax.sgd


def adam(lr):
    return optax.adam(lr)


def snapshot(tree):
    """Every leaf as a NumPy array (PRNG keys as their key data)."""

    def leaf(a):
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a = jax.random.key_data(a)
        return np.array(a)

    return jax.tree.map(leaf, tree)


def assert_bitwise(before, after):
    la, ta = jax.tree.flatten(before)
    lb, tb = jax.tree.flatten(after)
    assert ta == tb
    for a, b in zip(la, lb):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8))


def model_state(model):
    return snapshot(nnx.state(model))


# --- the jitted program ----------------------------------------------------------------


def count_compiles(fn):
    msgs: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record):
            msgs.append(record.getMessage())

    log = logging.getLogger("jax")
    handler, level = Grab(), log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles(True):
            out = fn()
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    return out, [m for m in msgs if m.startswith("Finished XLA compilation")]


def test_in_memory_sweep_is_one_compiled_program_and_reused():
    model = Net(3)
    res, compiled = count_compiles(lambda: lrs.find_lr(model, sgd, (X, Y), loss_fn=mse, batch_size=32, **KW))
    assert len(compiled) == 1 and "_program" in compiled[0]
    assert isinstance(res, FinderResult) and res.framework == "jax"
    # Same model structure, optimizer and loss: no compilation at all the second time.
    res2, compiled2 = count_compiles(
        lambda: lrs.find_lr(Net(3), sgd, (X, Y), loss_fn=mse, batch_size=32, **KW)
    )
    assert compiled2 == []
    assert res2 == res


def test_model_bitwise_untouched_and_paths_agree():
    model = Net(1)
    before = model_state(model)
    r_mem = lrs.find_lr(model, sgd, (X, Y), loss_fn=mse, batch_size=32, **KW)
    r_list = lrs.find_lr(model, sgd, BATCHES, loss_fn=mse, **KW)
    r_gen = lrs.find_lr(model, sgd, (b for b in BATCHES), loss_fn=mse, **KW)  # replayed when exhausted
    assert_bitwise(before, model_state(model))
    # The iterator path runs the same step function: identical results, bit for bit.
    assert r_mem == r_list == r_gen
    assert len(r_mem.lrs) == r_mem.stop_step + 1 > len(BATCHES)  # the data was cycled
    np.testing.assert_array_equal(r_mem.lrs, lrs.lr_range(1e-7, 10.0, 40).curve(40)[: len(r_mem.lrs)])


def test_lrs_applied_are_the_sweep():
    """The factory sees the lr of every update: exactly the sweep's values (float32 rounding)."""
    seen: list[float] = []

    def recording_sgd(lr):
        jax.debug.callback(lambda v: seen.append(float(v)), lr)
        return optax.sgd(lr)

    res = lrs.find_lr(
        Net(0), recording_sgd, (X, Y), loss_fn=mse, batch_size=32, mode="linear", end_lr=2.0, **KW
    )
    jax.effects_barrier()
    table = lrs.lr_range(1e-7, 2.0, 40, "linear").curve(40)
    np.testing.assert_array_equal(res.lrs, table[: res.stop_step + 1])
    # seen[0]: the optimizer's init (at the first lr); then one entry per update, the
    # stopping step's included (the jitted loop computes it, then exits).
    np.testing.assert_array_equal(seen[1:], table[: res.stop_step + 1].astype(np.float32))
    assert seen[0] == np.float32(table[0])


def test_matches_a_hand_written_optax_loop_float64():
    with jax.enable_x64(True):
        w0 = {"w": jnp.zeros((8, 1), jnp.float64), "b": jnp.zeros((1,), jnp.float64)}
        xs, ys = X.astype(np.float64), Y.astype(np.float64)

        def loss_fn(p, batch):
            return jnp.mean((batch[0] @ p["w"] + p["b"] - batch[1]) ** 2)

        res = lrs.find_lr(w0, sgd, (xs, ys), loss_fn=loss_fn, batch_size=32, end_lr=100.0, **KW)
        table = lrs.lr_range(1e-7, 100.0, 40).curve(40)

        @jax.jit
        def step(p, batch, lr):
            loss, g = jax.value_and_grad(loss_fn)(p, batch)
            return jax.tree.map(lambda a, b: a - lr * b, p, g), loss

        p, losses = w0, []
        for k in range(res.stop_step + 1):
            i = (k % 8) * 32
            p, loss = step(p, (xs[i : i + 32], ys[i : i + 32]), table[k])
            losses.append(float(loss))
        # XLA may fuse ``p - lr*g`` into one FMA in one program and not in the other.
        np.testing.assert_allclose(res.losses, losses, rtol=1e-12)
        assert res.stop_reason == "diverged"


def test_data_order_cycling_and_shuffle():
    """batch_size=1 and loss = the sample's value: the raw losses spell out the data order."""
    data = np.arange(1.0, 11.0, dtype=np.float32)

    def train_step(state, batch, lr):
        return state + lr, batch[0]

    kw = dict(num_iter=25, skip_start=0, skip_end=0, smooth=0.0, diverge_factor=1e6)
    plain = lrs.find_lr_pure(train_step, jnp.zeros(()), data, batch_size=1, **kw)
    np.testing.assert_array_equal(plain.losses, np.r_[data, data, data[:5]])
    two = lrs.find_lr_pure(train_step, jnp.zeros(()), data, batch_size=2, **kw)
    assert two.stop_step == 24  # 5 batches of 2, cycled
    key = jax.random.key(7)
    shuf = lrs.find_lr_pure(train_step, jnp.zeros(()), data, batch_size=1, shuffle_key=key, **kw)
    order = shuf.losses
    for e in range(2):  # every epoch a permutation, each with its own key
        assert sorted(order[10 * e : 10 * e + 10]) == list(data)
        expect = np.asarray(jax.random.permutation(jax.random.fold_in(key, e), 10)) + 1.0
        np.testing.assert_array_equal(order[10 * e : 10 * e + 10], expect)
    assert not np.array_equal(order[:10], order[10:20])
    again = lrs.find_lr_pure(train_step, jnp.zeros(()), data, batch_size=1, shuffle_key=key, **kw)
    assert again == shuf
    # Dict datasets and the last incomplete batch (dropped).
    res = lrs.find_lr_pure(lambda s, b, lr: (s, b["v"][0]), jnp.zeros(()), {"v": data}, batch_size=3, **kw)
    np.testing.assert_array_equal(res.losses[:4], [1.0, 4.0, 7.0, 1.0])


def test_optimizer_forms():
    model = Net(2)
    before = model_state(model)
    r_factory = lrs.find_lr(model, sgd, (X, Y), loss_fn=mse, batch_size=32, **KW)
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.123)
    r_inject = lrs.find_lr(model, tx, (X, Y), loss_fn=mse, batch_size=32, **KW)
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
    opt_before = snapshot(nnx.state(opt))
    r_nnx_opt = lrs.find_lr(model, opt, (X, Y), loss_fn=mse, batch_size=32, **KW)
    assert r_factory == r_inject == r_nnx_opt
    assert_bitwise(before, model_state(model))
    assert_bitwise(opt_before, snapshot(nnx.state(opt)))
    # Adam: inject_hyperparams also turns b1, b2, eps into float32 arrays, so the numbers
    # differ in the last bits from the factory's Python floats (Adam then amplifies them).
    r_adam = lrs.find_lr(model, adam, (X, Y), loss_fn=mse, batch_size=32, **KW)
    r_adam_inj = lrs.find_lr(
        model,
        optax.inject_hyperparams(optax.adam)(learning_rate=1.0),
        (X, Y),
        loss_fn=mse,
        batch_size=32,
        **KW,
    )
    np.testing.assert_allclose(r_adam.losses[:8], r_adam_inj.losses[:8], rtol=1e-5)
    chained = optax.chain(
        optax.clip_by_global_norm(1.0), optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    )
    assert lrs.find_lr(model, chained, (X, Y), loss_fn=mse, batch_size=32, **KW).stop_step >= 0


def test_pure_train_step_form_matches_the_model_form():
    params = {"w": jnp.zeros((8, 1)), "b": jnp.zeros((1,))}

    def loss_fn(p, batch):
        return jnp.mean((batch[0] @ p["w"] + p["b"] - batch[1]) ** 2)

    def train_step(state, batch, lr):
        loss, g = jax.value_and_grad(loss_fn)(state, batch)
        return jax.tree.map(lambda a, b: a - lr * b, state, g), loss

    r_tree = lrs.find_lr(params, sgd, (X, Y), loss_fn=loss_fn, batch_size=32, **KW)
    r_pure = lrs.find_lr_pure(train_step, params, (X, Y), batch_size=32, **KW)
    np.testing.assert_allclose(r_pure.losses, r_tree.losses, rtol=1e-5)
    assert r_pure.stop_step == r_tree.stop_step and r_pure.stop_reason == r_tree.stop_reason


def test_float64_under_scoped_x64():
    with jax.enable_x64(True):
        model = Net(4)
        model = jax.tree.map(
            lambda a: a.astype(jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a, model
        )
        res = lrs.find_lr(
            model, sgd, (X.astype(np.float64), Y.astype(np.float64)), loss_fn=mse, batch_size=32, **KW
        )
    assert res.losses.dtype == np.float64
    assert not jax.config.jax_enable_x64


def test_progress_bar_both_paths():
    model = Net(0)
    r1 = lrs.find_lr(model, sgd, (X, Y), loss_fn=mse, batch_size=32, progress=True, **KW)
    r2 = lrs.find_lr(model, sgd, BATCHES, loss_fn=mse, progress=True, **KW)
    assert r1 == r2


# --- exceptions mid-sweep ----------------------------------------------------------------


def test_untouched_when_loss_fn_raises_mid_sweep_in_the_jitted_program():
    model = Net(5)
    before = model_state(model)
    calls = []

    def explode(loss):
        calls.append(1)
        if len(calls) == 6:
            raise RuntimeError("loss function failed at step 5")

    def bad_loss(m, batch):
        loss = mse(m, batch)
        jax.debug.callback(explode, loss)
        return loss

    with pytest.raises(Exception, match="step 5"):
        lrs.find_lr(model, sgd, (X, Y), loss_fn=bad_loss, batch_size=32, **KW)
    assert len(calls) == 6
    assert_bitwise(before, model_state(model))


def test_untouched_when_loss_fn_or_data_raise_mid_sweep_on_the_host_loop():
    model = Net(6)
    before = model_state(model)

    def bad_loss(m, batch):
        if batch[0].shape[0] != 32:  # traced again for the odd batch: raises mid-sweep
            raise RuntimeError("unexpected batch shape")
        return mse(m, batch)

    odd = [*BATCHES[:4], (X[:7], Y[:7])]
    with pytest.raises(RuntimeError, match="unexpected batch shape"):
        lrs.find_lr(model, sgd, odd, loss_fn=bad_loss, **KW)

    def stream():
        yield from BATCHES[:3]
        raise OSError("data source died")

    with pytest.raises(OSError, match="data source died"):
        lrs.find_lr(model, sgd, stream(), loss_fn=mse, **KW)
    assert_bitwise(before, model_state(model))


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"start_lr": 1.0, "end_lr": 0.5}, ValueError, "end_lr"),
        ({"start_lr": 0.0}, ValueError, "start_lr"),
        ({"end_lr": -1.0}, ValueError, "end_lr"),
        ({"num_iter": 10}, ValueError, "num_iter"),
        ({"smooth": 1.5}, ValueError, "smooth"),
        ({"diverge_factor": 0.5}, ValueError, "diverge_factor"),
        ({"suggestion": "best"}, ValueError, "suggestion"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 1000}, ValueError, "batch_size"),
        ({"batch_size": 2.0}, TypeError, "batch_size"),
        ({"shuffle_key": 3}, TypeError, "shuffle_key"),
        ({"progress": "yes"}, TypeError, "progress"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    model = Net(0)
    before = model_state(model)
    args = {"batch_size": 32, **kwargs}
    with pytest.raises(exc, match=match):
        lrs.find_lr(model, sgd, (X, Y), loss_fn=mse, **args)
    assert_bitwise(before, model_state(model))


def test_bad_data_model_optimizer_and_loss():
    model = Net(0)
    before = model_state(model)
    with pytest.raises(ValueError, match="data is empty"):
        lrs.find_lr(model, sgd, (X[:0], Y[:0]), loss_fn=mse, batch_size=1)
    with pytest.raises(ValueError, match="data yielded no batches"):
        lrs.find_lr(model, sgd, [], loss_fn=mse)
    with pytest.raises(ValueError, match="data yielded no batches"):
        lrs.find_lr(model, sgd, iter([]), loss_fn=mse)
    with pytest.raises(ValueError, match="leading"):
        lrs.find_lr(model, sgd, (X, Y[:10]), loss_fn=mse, batch_size=2)
    with pytest.raises(ValueError, match="batch_size and shuffle_key"):
        lrs.find_lr(model, sgd, BATCHES, loss_fn=mse, batch_size=32)
    with pytest.raises(TypeError, match="data must be an iterable"):
        lrs.find_lr(model, sgd, 3, loss_fn=mse)
    with pytest.raises(ValueError, match="the loss must be a scalar"):
        lrs.find_lr(model, sgd, (X, Y), loss_fn=lambda m, b: (m(b[0]) - b[1]) ** 2, batch_size=32)
    with pytest.raises(TypeError, match="the loss must be floating"):
        lrs.find_lr(model, sgd, (X, Y), loss_fn=lambda m, b: jnp.sum(b[1] > 0), batch_size=32)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        lrs.find_lr(model, sgd, (X, Y), loss_fn="mse", batch_size=32)
    with pytest.raises(TypeError, match="optimizer"):
        lrs.find_lr(model, 0.1, (X, Y), loss_fn=mse, batch_size=32)
    with pytest.raises(TypeError, match="no injected learning_rate"):
        lrs.find_lr(model, optax.adam(1e-3), (X, Y), loss_fn=mse, batch_size=32)
    with pytest.raises(
        TypeError, match=r"optimizer: the factory must return an optax.GradientTransformation.*got an array"
    ):
        lrs.find_lr(model, lambda lr: lr * 2.0, (X, Y), loss_fn=mse, batch_size=32)
    with pytest.raises(TypeError, match=r"factory must return.*function"):
        lrs.find_lr(model, lambda lr: optax.sgd, BATCHES, loss_fn=mse)
    scheduled = optax.inject_hyperparams(optax.sgd)(learning_rate=optax.linear_schedule(0.0, 1.0, 10))
    with pytest.raises(TypeError, match="is a schedule"):
        lrs.find_lr(model, scheduled, (X, Y), loss_fn=mse, batch_size=32)
    with pytest.raises(TypeError, match="model must be"):
        lrs.find_lr("net", sgd, (X, Y), loss_fn=mse, batch_size=32)
    with pytest.raises(TypeError, match="train_step must return"):
        lrs.find_lr_pure(lambda s, b, lr: s, jnp.zeros(()), (X, Y), batch_size=32)
    assert_bitwise(before, model_state(model))


def test_issue_reproducer_no_suggestion_past_the_divergence():
    """The issue's case: Adam, a sweep from 1e-3 to 1e4 over 40 steps on the digits MLP.
    fastai's valley picked a point past the smoothed loss's minimum (the loss is already
    rising there), and the cap moved it below. The descent, though, lies before
    ``skip_start`` (steps 4-11): in the rules' window (steps 10-18) the loss only rises, so
    no rule has a descent to read — no suggestion at all, past the divergence or not, and a
    note saying so (the cap itself: ``test_a_candidate_past_the_minimum_is_replaced_and_noted``)."""
    from lrsched_jax.train import cross_entropy
    from lrtwin.demo.data import flax_mlp, initial_weights, load_digits

    d = load_digits()
    res = lrs.find_lr(
        flax_mlp(initial_weights(0)),
        adam,
        (d.x_train, d.y_train),
        criterion=cross_entropy,
        batch_size=32,
        shuffle_key=jax.random.key(2),
        start_lr=1e-3,
        end_lr=1e4,
        num_iter=40,
    )
    s = res.smoothed_losses[: res.num_points]
    skip = res.config.skip_start
    lr_min = res.lrs[skip + int(np.argmin(s[skip:]))]
    assert all(v < lr_min for v in res.suggestions.values() if v is not None)
    assert set(res.suggestions.values()) == {None}
    (note,) = res.notes
    assert note.startswith("the loss never fell: in the rules' window (steps 10-") and "start_lr" in note
    assert float(np.min(res.losses[:12])) < 0.5 * float(res.losses[0])  # it fell, up to the window


def test_accumulation_and_validation_arguments_are_checked():
    model = Net()
    for bad, err in ((0, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(err, match="accumulation_steps"):
            lrs.find_lr(model, sgd, (X, Y), loss_fn=mse, batch_size=32, accumulation_steps=bad, **KW)
    for bad in ((X, Y), iter(BATCHES), "xy"):
        with pytest.raises(TypeError, match="val_data must be a re-iterable"):
            lrs.find_lr(model, sgd, (X, Y), loss_fn=mse, batch_size=32, val_data=bad, **KW)
    with pytest.raises(ValueError, match="val_data yielded no batches"):
        lrs.find_lr(model, sgd, (X, Y), loss_fn=mse, batch_size=32, val_data=[], **KW)


def test_validation_mode_evaluates_in_eval_mode_and_leaves_the_model_alone():
    model = Net()
    before = snapshot(nnx.state(model))
    res = lrs.find_lr(model, sgd, (X, Y), loss_fn=mse, batch_size=32, val_data=BATCHES[:2], **KW)
    jax.tree.map(np.testing.assert_array_equal, snapshot(nnx.state(model)), before)
    # Step 0's recorded loss is the validation loss after the first update, in eval mode
    # (dropout off, batch norm on its running statistics): recompute it by hand.
    g, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.sgd(res.lrs[0])

    def loss_of(p, r, batch):
        m = nnx.merge(g, p, jax.tree.map(lambda a: a, r))  # fresh Variables in the trace
        return mse(m, batch), nnx.state(m, nnx.Not(nnx.Param))

    (_, rest2), grads = jax.value_and_grad(loss_of, has_aux=True)(params, rest, (X[:32], Y[:32]))
    upd, _ = tx.update(grads, tx.init(params), params)
    m = nnx.merge(g, optax.apply_updates(params, upd), rest2)
    m.eval()
    want = np.mean([float(mse(m, b)) for b in BATCHES[:2]])
    np.testing.assert_allclose(res.losses[0], want, rtol=1e-6)


def test_param_groups_of_a_multi_transform_are_swept_in_proportion():
    inj = optax.inject_hyperparams(optax.sgd)

    def labels(params):
        return jax.tree_util.tree_map_with_path(
            lambda path, _: "a_head" if "l2" in str(path) else "b_body", params
        )

    tx = optax.multi_transform({"a_head": inj(learning_rate=0.5), "b_body": inj(learning_rate=0.05)}, labels)
    res = lrs.find_lr(Net(), tx, (X, Y), loss_fn=mse, batch_size=32, **KW)
    assert res.group_scales == pytest.approx((1.0, 0.1))
    bad = optax.multi_transform({"a_head": inj(learning_rate=0.0), "b_body": inj(learning_rate=0.05)}, labels)
    with pytest.raises(ValueError, match="first param group's injected learning_rate must be > 0"):
        lrs.find_lr(Net(), bad, (X, Y), loss_fn=mse, batch_size=32, **KW)


# --- a loss that never fell; nothing to train ------------------------------------------


def _noise_batches(seed, n=40):
    rng = np.random.default_rng(seed)
    return [(X[:4], Y[:4], np.float32(2.0 + rng.normal(0.0, 0.1))) for _ in range(n)]


def _noise_loss(model, batch):
    # Depends on the parameters without changing with them: the recorded loss is the noise.
    params = nnx.state(model, nnx.Param)
    return batch[2] + 0.0 * sum(jnp.sum(p) for p in jax.tree.leaves(params))


@pytest.mark.parametrize("seed", range(4))
def test_a_pure_noise_loss_never_fell_and_suggests_nothing(seed):
    # Before: "completed" and a suggestion read off the noise, with no word.
    res = lrs.find_lr(Net(0), sgd, _noise_batches(seed), loss_fn=_noise_loss, **KW)
    assert_never_fell(res)
    # The torch driver builds its result with the same core code from the same losses.
    from lrsched_jax.core.finder import SweepConfig, build_result
    from lrsched_jax.core.finder.sweep import scan

    with place("find_lr"):
        config = SweepConfig.make(**KW)
    raw = np.asarray([b[2] for b in _noise_batches(seed)], dtype=np.float32)
    s, stop, code = scan(raw, config.divisors().astype(np.float32), 4.0)
    assert build_result(config, raw.astype(np.float64), s, int(stop), int(code)).notes == res.notes


def test_a_real_sweep_still_suggests():
    res = lrs.find_lr(Net(0), sgd, (X, Y), loss_fn=mse, batch_size=32, shuffle_key=jax.random.key(0))
    assert res.suggestion is not None and not any(n.startswith("the loss never") for n in res.notes)


class _NoParams(nnx.Module):
    def __init__(self):
        self.count = nnx.BatchStat(jnp.zeros(()))

    def __call__(self, x):
        return jnp.sum(x, axis=-1, keepdims=True)


def test_nothing_to_train_is_refused_up_front():
    # Before: the sweep ran and suggested 0.003 off a loss that cannot change.
    model = _NoParams()
    before = model_state(model)
    with pytest.raises(ValueError, match="find_lr: model has no trainable parameters"):
        lrs.find_lr(model, sgd, (X, Y), loss_fn=mse, batch_size=32, **KW)
    assert_bitwise(before, model_state(model))
    for empty in ({}, [], ()):
        with pytest.raises(ValueError, match="model has no trainable parameters"):
            lrs.find_lr(empty, sgd, (X, Y), loss_fn=lambda p, b: jnp.float32(1.0), batch_size=32, **KW)
