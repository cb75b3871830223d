"""``lrsched_jax.compare``: every member of the one vmapped program is the run Optax itself
makes with that member's schedule alone; the one-program, sequential and per-step runs agree;
the verdicts follow their rule; bad input is refused with the argument named."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import lrsched_jax as lrs
from lrsched_jax.arena import compare
from lrsched_jax.core.arena import MemberResult, batch_order, verdicts
from lrtwin.models import flax_mlp

EPOCHS, BATCH = 2, 16
TOTAL_SAMPLES = 160


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(TOTAL_SAMPLES + 60, 8)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int32) + (x[:, 3] > 0.5)
    return (x[:TOTAL_SAMPLES], y[:TOTAL_SAMPLES]), (x[TOTAL_SAMPLES:], y[TOTAL_SAMPLES:])


STEPS = TOTAL_SAMPLES // BATCH
T = EPOCHS * STEPS
# Mixed families: the program selects each member's schedule in-graph.
SCHEDULES = {
    "fixed": lrs.constant(0.05),
    "cosine": lrs.cosine(0.1, T),
    "one-cycle": lrs.one_cycle(0.2, T),
    "step": lrs.multistep(0.1, [T // 2], 0.1),
}
SEEDS = [3, 7]


def model(seed):
    return flax_mlp((8, 16, 3), rngs=seed)


def momentum(lr):
    return optax.sgd(lr, momentum=0.9)


@pytest.fixture(scope="module")
def one_program():
    train, val = data()
    return compare(model, momentum, train, val, SCHEDULES, SEEDS, EPOCHS, batch_size=BATCH, target=0.6)


def reference(schedule, seed):
    """The member trained alone by plain Optax with ``schedule`` itself: per-step losses and
    per-epoch validation accuracy."""
    (xt, yt), (xv, yv) = data()
    graphdef, params = nnx.split(model(seed))
    tx = momentum(schedule)
    opt_state = tx.init(params)

    def loss_of(p, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(nnx.merge(graphdef, p)(x), y).mean()

    @jax.jit
    def step(p, s, x, y):
        value, g = jax.value_and_grad(loss_of)(p, x, y)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, value

    losses, accs = [], []
    for e in range(EPOCHS):
        for b in batch_order(seed, e, len(xt), BATCH):
            params, opt_state, value = step(params, opt_state, xt[b], yt[b])
            losses.append(float(value))
        logits = nnx.merge(graphdef, params)(jnp.asarray(xv))
        accs.append(float(jnp.mean(jnp.argmax(logits, -1) == yv)))
    return np.array(losses), accs


def test_every_member_is_optax_alone_with_its_schedule(one_program):
    res = one_program
    assert [(m.schedule, m.seed) for m in res.members] == [(n, s) for n in SCHEDULES for s in SEEDS]
    for i, m in enumerate(res.members):
        losses, accs = reference(SCHEDULES[m.schedule], m.seed)
        np.testing.assert_allclose(res.step_losses[i], losses, rtol=2e-5, atol=1e-6)
        np.testing.assert_allclose(m.val_metric, accs, atol=1.5 / 60)
        assert m.config == SCHEDULES[m.schedule].to_config()
    # The schedules really differ: members of one seed do not train alike.
    assert not np.allclose(res.step_losses[0], res.step_losses[len(SEEDS)])


def test_sequential_and_per_step_runs_are_the_same_members(one_program):
    train, val = data()
    for kw in ({"sequential": True}, {"path": "steps"}, {"sequential": True, "path": "steps"}):
        other = compare(
            model, momentum, train, val, SCHEDULES, SEEDS, EPOCHS, batch_size=BATCH, target=0.6, **kw
        )
        np.testing.assert_allclose(other.step_losses, one_program.step_losses, rtol=2e-5, atol=1e-6)
        for a, b in zip(other.members, one_program.members):
            assert (a.schedule, a.seed) == (b.schedule, b.seed)
            np.testing.assert_allclose(a.eval_metric, b.eval_metric, atol=1.5 / 60)
        assert other.how == ("sequential" if kw.get("sequential") else "one program")


def test_result_fields_and_baseline(one_program):
    res = one_program
    assert res.baseline == "fixed" and res.steps_per_epoch == STEPS and res.epochs == EPOCHS
    assert res.step_losses.shape == (len(SCHEDULES) * len(SEEDS), T)
    assert res.compile_s > 0 and res.train_s > 0
    assert set(res.verdicts) == set(SCHEDULES)
    # The default interval: ceil(60 validation samples / 16) = 4 updates, and each epoch's end.
    assert res.eval_every == 4 and res.eval_steps == [4, 8, 10, 14, 18, 20]
    for m in res.members:
        assert m.final_val_metric == m.val_metric[-1] == m.eval_metric[-1]
        assert m.val_metric == [m.eval_metric[2], m.eval_metric[5]]  # the epochs' ends
        reached = [e for e, v in enumerate(m.eval_metric) if v >= 0.6]
        assert m.steps_to_target == (res.eval_steps[reached[0]] if reached else None)
        assert (m.seconds_to_target is None) == (m.steps_to_target is None)
        assert m.diverged_at is None and m.note is None
    assert res.chunks == 1 and res.devices == 1
    d = res.to_dict()
    assert "step_losses" not in d and len(d["members"]) == len(res.members)
    assert res.member("cosine", 7).seed == 7
    assert "| cosine |" in res.table()


def _member(name, seed, steps, final=0.9):
    return MemberResult(name, seed, {}, [final], [0.1], [0.1], final, steps, None if steps is None else 1.0)


def test_verdict_rules():
    seeds = [0, 1, 2]
    members = [
        _member("fixed", 0, 400),
        _member("fixed", 1, 200),
        _member("fixed", 2, 300),
        _member("fast", 0, 100),
        _member("fast", 1, 100),
        _member("fast", 2, 150),
        _member("censored", 0, 100),
        _member("censored", 1, None),
        _member("censored", 2, 100),
    ]
    v = verdicts(members, ["fixed", "fast", "censored"], seeds, "fixed")
    assert v["fast"]["reached"] == "3/3"
    assert v["fast"]["steps_to_target"] == {"median": 100, "min": 100, "max": 150}
    assert v["fast"]["speedup_vs_baseline"] == {"median": 2.0, "min": 2.0, "max": 4.0}
    # A seed that never reached the target: no median of steps and no speed-up.
    assert v["censored"]["reached"] == "2/3"
    assert v["censored"]["steps_to_target"] is None and v["censored"]["speedup_vs_baseline"] is None
    assert v["censored"]["steps_to_target_reached"]["max"] == 100
    assert verdicts(members, ["fast"], seeds, None)["fast"]["speedup_vs_baseline"] is None


def _ce(out, y):
    return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()


def _call(**over):
    train, val = data()
    kw = dict(model=model, optimizer=momentum, train=train, val=val, schedules=SCHEDULES, seeds=SEEDS)
    return compare(**{**kw, "epochs": 1, "batch_size": BATCH, **over})


@pytest.mark.parametrize(
    "over,error,match",
    [
        ({"schedules": []}, ValueError, "schedules is empty"),
        ({"schedules": [lrs.constant(0.1), 0.1]}, TypeError, "schedules"),
        ({"schedules": [lrs.constant(0.1), lrs.constant(0.1)]}, ValueError, "more than once"),
        ({"seeds": []}, ValueError, "seeds"),
        ({"seeds": [1, 1]}, ValueError, "distinct"),
        ({"seeds": [-1]}, ValueError, "seeds"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"target": float("nan")}, ValueError, "target"),
        ({"mode": "up"}, ValueError, "mode"),
        ({"baseline": "nope"}, ValueError, "baseline"),
        ({"batch_size": 10_000}, ValueError, "batch_size"),
        ({"batch_size": 2.0}, TypeError, "batch_size"),
        ({"path": "loop"}, ValueError, "path"),
        ({"eval_every": 0}, ValueError, "eval_every"),
        ({"eval_every": 2.0}, TypeError, "eval_every"),
        ({"baseline": "cosin"}, ValueError, "did you mean 'cosine'"),
        ({"devices": 10_000}, ValueError, "devices"),
        ({"memory_budget": 10_000}, ValueError, "memory budget"),
        ({"train": (np.zeros((10, 8)), np.zeros(9))}, ValueError, "train"),
        ({"val": np.zeros((10, 8))}, TypeError, "val"),
        ({"optimizer": lambda lr: lr}, TypeError, "optimizer"),
        ({"model": lambda s: object()}, TypeError, "model"),
        ({"model": lambda s: flax_mlp((8, 16 + s, 3))}, ValueError, "structure"),
        ({"criterion": _ce, "loss_fn": lambda m, b: 0.0}, TypeError, "not both"),
        ({"loss": lambda m, x, y: 0.0, "criterion": _ce}, TypeError, "deprecated name"),
        ({"loss_fn": optax.softmax_cross_entropy_with_integer_labels}, TypeError, "pass it as criterion="),
        ({"criterion": "ce"}, TypeError, "criterion must be callable"),
        ({"metric": 0.5}, TypeError, "metric"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(over, error, match):
    with pytest.raises(error, match=match):
        _call(**over)


def test_one_loss_convention_and_the_old_spellings_warn():
    """``criterion(output, y)`` and ``loss_fn(model, (x, y))`` train the same members as the
    default; the old ``loss(model, x, y)`` and ``metric(model, x, y)`` too, with a warning."""
    small = {"schedules": {k: SCHEDULES[k] for k in ("fixed", "cosine")}, "seeds": SEEDS[:1]}
    base = _call(**small)
    acc = lambda out, y: jnp.mean(jnp.argmax(out, -1) == y)  # noqa: E731
    runs = [
        _call(**small, criterion=_ce, metric=acc),
        _call(**small, loss_fn=lambda m, b: _ce(m(b[0]), b[1])),
    ]
    with pytest.warns(DeprecationWarning, match=r"compare\(loss=f\) is deprecated.*loss_fn="):
        runs.append(_call(**small, loss=lambda m, x, y: _ce(m(x), y)))
    with pytest.warns(DeprecationWarning, match=r"metric of \(model, x, y\) is deprecated"):
        runs.append(_call(**small, metric=lambda m, x, y: acc(m(x), y)))
    for res in runs:
        np.testing.assert_allclose(res.step_losses, base.step_losses, rtol=1e-6)
        for a, b in zip(res.members, base.members):
            assert a.eval_metric == pytest.approx(b.eval_metric) and a.eval_loss == pytest.approx(b.eval_loss)
    # A metric that is not the loss: the lowest validation loss when mode="min".
    low = _call(**small, metric=_ce, mode="min")
    for a, b in zip(low.members, base.members):
        np.testing.assert_allclose(a.eval_metric, b.eval_loss, rtol=1e-6)


def test_eval_every_sets_the_resolution_of_updates_to_target(one_program):
    train, val = data()
    res = compare(
        model, momentum, train, val, SCHEDULES, SEEDS, EPOCHS, batch_size=BATCH, target=0.6, eval_every=3
    )
    assert res.eval_steps == [3, 6, 9, 10, 13, 16, 19, 20]
    # The same training whatever the interval: the evaluations are read-only.
    np.testing.assert_allclose(res.step_losses, one_program.step_losses, rtol=2e-5, atol=1e-6)
    for m in res.members:
        assert m.steps_to_target is None or m.steps_to_target in res.eval_steps
    assert "checked every 3 updates" in res.table()


def test_a_diverging_member_is_marked_and_the_others_train_on(one_program, tmp_path):
    import json

    from lrtwin.compare import plot_arena

    train, val = data()
    schedules = {"fixed": SCHEDULES["fixed"], "too large": lrs.constant(1e4)}
    res = compare(model, momentum, train, val, schedules, SEEDS, EPOCHS, batch_size=BATCH, target=0.6)
    for seed in SEEDS:
        bad, good = res.member("too large", seed), res.member("fixed", seed)
        assert bad.diverged_at is not None and "diverged" in bad.note
        assert not np.isfinite(res.step_losses[res.members.index(bad)]).all()
        assert good.diverged_at is None
    # The fixed members train exactly as without the diverging ones beside them.
    np.testing.assert_allclose(
        res.step_losses[: len(SEEDS)], one_program.step_losses[: len(SEEDS)], rtol=2e-5
    )
    assert res.verdicts["too large"]["diverged"] == len(SEEDS) and res.verdicts["fixed"]["diverged"] == 0
    assert res.verdicts["too large"]["final_val_metric"] is None
    assert "2 diverged" in res.table()
    text = json.dumps(res.to_dict(), allow_nan=False)  # strict JSON: NaN became null
    assert json.loads(text)["members"][-1]["eval_metric"][-1] is None
    plot_arena(res, tmp_path / "arena.png")  # finite values drawn, no log-scale failure
    assert (tmp_path / "arena.png").stat().st_size > 10_000


def test_a_run_over_the_memory_budget_trains_in_chunks(one_program):
    from lrsched_jax.core.arena import Footprint

    train, val = data()
    net = nnx.split(model(SEEDS[0]), nnx.Param, ...)
    nbytes = lambda tree: sum(a.size * a.dtype.itemsize for a in jax.tree.leaves(tree))  # noqa: E731
    fp = Footprint.estimate(
        param_bytes=nbytes(net[1]) + nbytes(net[2]),
        opt_state_bytes=nbytes(jax.eval_shape(momentum(SCHEDULES["fixed"]).init, net[1])),
        n_updates=T,
        n_evals=EPOCHS * 3,
        steps_per_epoch=STEPS,
        batch_size=BATCH,
        data_bytes=sum(np.asarray(a).nbytes for a in (*train, *val)),
        n_schedules=len(SCHEDULES),
        itemsize=4,
    )
    members = len(SCHEDULES) * len(SEEDS)
    need = fp.shared + members * (fp.records + fp.state)
    res = compare(
        model,
        momentum,
        train,
        val,
        SCHEDULES,
        SEEDS,
        EPOCHS,
        batch_size=BATCH,
        target=0.6,
        memory_budget=need - 1,
    )
    assert res.chunks == 2  # 8 members: 6 fit beside the records and one member's temporaries
    np.testing.assert_allclose(res.step_losses, one_program.step_losses, rtol=2e-5, atol=1e-6)


SHARDED = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from test_compare import BATCH, EPOCHS, SCHEDULES, SEEDS, compare, data, model, momentum
train, val = data()
three = dict(list(SCHEDULES.items())[:3])  # 6 members: padded to 8 over 4 devices
one = compare(model, momentum, train, val, three, SEEDS, EPOCHS, batch_size=BATCH, target=0.6)
four = compare(model, momentum, train, val, three, SEEDS, EPOCHS, batch_size=BATCH, target=0.6, devices=4)
assert (one.devices, four.devices, four.processes) == (1, 4, 1), (one.devices, four.devices)
np.testing.assert_allclose(four.step_losses, one.step_losses, rtol=2e-5, atol=1e-6)
assert [m.steps_to_target for m in four.members] == [m.steps_to_target for m in one.members]
print("ok")
"""


def test_members_sharded_over_four_host_devices_are_the_same_members():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-c", SHARDED, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


HOST = """
import json, sys
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
pid, port, out, here = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=pid)
assert jax.device_count() == 4 and jax.local_device_count() == 2
sys.path.insert(0, here)
from test_compare import BATCH, EPOCHS, SCHEDULES, SEEDS, compare, data, model, momentum
train, val = data()
three = dict(list(SCHEDULES.items())[:3])  # 6 members: padded to 8 over the 4 global devices
res = compare(model, momentum, train, val, three, SEEDS, EPOCHS, batch_size=BATCH, target=0.6, devices=4)
with open(out, "w") as f:
    json.dump({"losses": res.step_losses.tolist(), "steps": [m.steps_to_target for m in res.members],
               "evals": [m.eval_metric for m in res.members], "devices": res.devices,
               "processes": res.processes}, f)
"""


def test_members_sharded_over_two_hosts_are_the_same_members(one_program, tmp_path):
    """2 processes x 2 CPU devices under ``jax.distributed`` (gloo over loopback): one program
    per host over the global mesh of 4; both hosts return every member, the one-device ones."""
    import sys
    from pathlib import Path

    from processes import free_port, run_together, worker_env

    env = worker_env()
    env.update(XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    port, here = str(free_port()), str(Path(__file__).parent)
    outs = [tmp_path / f"host{pid}.json" for pid in (0, 1)]
    cmds = [[sys.executable, "-c", HOST, str(pid), port, str(outs[pid]), here] for pid in (0, 1)]
    errors = run_together(cmds, timeout=300, env=env)
    assert not errors, "\n\n".join(errors)
    h0, h1 = (json.loads(o.read_text()) for o in outs)
    assert h0 == h1 and (h0["devices"], h0["processes"]) == (4, 2)
    ref = one_program.members[: 3 * len(SEEDS)]
    np.testing.assert_allclose(h0["losses"], one_program.step_losses[: len(ref)], rtol=2e-5, atol=1e-6)
    assert h0["steps"] == [m.steps_to_target for m in ref]


def test_shared_programs_compile_a_run_of_the_same_shape_once(monkeypatch):
    from lrsched_jax import arena

    compiled = []
    real = arena._Arena._compile
    monkeypatch.setattr(arena._Arena, "_compile", lambda self, *a: compiled.append(1) or real(self, *a))
    train, val = data()
    pair = lambda scheds, epochs=EPOCHS: compare(  # noqa: E731
        model, momentum, train, val, scheds, SEEDS, epochs, batch_size=BATCH
    )
    fresh = pair({"b": lrs.cosine(0.1, T)})
    assert len(compiled) == 1
    with arena.shared_programs():
        pair({"a": lrs.constant(0.05)})
        shared = pair({"b": lrs.cosine(0.1, T)})  # another schedule: the lr table is an argument
        assert len(compiled) == 2
        pair({"a": lrs.constant(0.05)}, epochs=1)  # another shape compiles its own
        pair({"a": lrs.constant(0.05)}, epochs=1)
        assert len(compiled) == 3
    np.testing.assert_array_equal(shared.step_losses, fresh.step_losses)
    pair({"a": lrs.constant(0.05)})  # outside the block nothing is shared
    assert len(compiled) == 4


def test_padded_lr_tables_let_runs_of_different_lengths_share_a_program(monkeypatch):
    from lrsched_jax import arena

    compiled = []
    real = arena._Arena._compile
    monkeypatch.setattr(arena._Arena, "_compile", lambda self, *a: compiled.append(1) or real(self, *a))
    train, val = data()
    run = lambda scheds, epochs: compare(  # noqa: E731
        model, momentum, train, val, scheds, SEEDS, epochs, batch_size=BATCH
    )
    fresh = run({"c": lrs.cosine(0.1, STEPS)}, 1)
    with arena.shared_programs(updates=T) as shared:
        assert shared.updates == T
        long = run({"a": lrs.constant(0.05)}, EPOCHS)
        short = run({"c": lrs.cosine(0.1, STEPS)}, 1)  # its table padded to T columns
    assert len(compiled) == 2  # the fresh run's, and one for both runs in the block
    with pytest.raises(ValueError, match="updates must be an int >= 0"), arena.shared_programs(updates=-1):
        pass
    np.testing.assert_array_equal(short.step_losses, fresh.step_losses)
    assert long.step_losses.shape == (len(SEEDS), T)
