"""``lrsched_torch.compare``: in float64 every member makes the same decisions as
``lrsched_jax.compare`` (JAX x64 in a subprocess) from the same weights and batches, with
losses equal to 1e-9 relative; the torch.func population equals the member-by-member run;
a member equals torch's own scheduler driving torch's own optimizer; bad input is refused."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lrsched_jax as lrs
from lrsched_jax.core.arena import batch_order
from lrsched_torch.arena import compare
from lrtwin.compare import numpy_weights
from lrtwin.models import torch_mlp_from

EPOCHS, BATCH, N_TRAIN, N_VAL = 3, 16, 160, 64
SIZES = (8, 16, 3)
STEPS = N_TRAIN // BATCH
T = EPOCHS * STEPS
SEEDS = [0, 5]
TARGET = 0.6


def data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N_TRAIN + N_VAL, 8))
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64) + (x[:, 3] > 0.5)
    return (x[:N_TRAIN], y[:N_TRAIN]), (x[N_TRAIN:], y[N_TRAIN:])


def schedules():
    return {
        "fixed": lrs.constant(0.05),
        "cosine": lrs.cosine(0.1, T),
        "one-cycle": lrs.one_cycle(0.2, T),
        "step": lrs.multistep(0.1, [T // 2], 0.1),
    }


def run_torch(sequential, dtype=torch.float64, **kw):
    (xt, yt), (xv, yv) = data()
    return compare(
        lambda s: torch_mlp_from(numpy_weights(s, SIZES), dtype=dtype),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        (torch.from_numpy(xt).to(dtype), torch.from_numpy(yt)),
        (torch.from_numpy(xv).to(dtype), torch.from_numpy(yv)),
        schedules(),
        SEEDS,
        EPOCHS,
        batch_size=BATCH,
        target=TARGET,
        sequential=sequential,
        **kw,
    )


JAX_X64 = textwrap.dedent(
    f"""
    import json, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp, numpy as np, optax
    sys.path.insert(0, {str(__import__("pathlib").Path(__file__).parent)!r})
    from test_compare_torch import SEEDS, SIZES, EPOCHS, BATCH, TARGET, data, schedules
    from lrsched_jax.arena import compare
    from lrtwin.compare import numpy_weights
    from lrtwin.models import flax_mlp_from
    train, val = data()
    res = compare(
        lambda s: flax_mlp_from(numpy_weights(s, SIZES), dtype=jnp.float64),
        lambda lr: optax.sgd(lr, momentum=0.9),
        train, val, schedules(), SEEDS, EPOCHS, batch_size=BATCH, target=TARGET,
    )
    assert res.step_losses.dtype == np.float64
    np.save(sys.argv[1], res.step_losses)
    print(json.dumps(res.to_dict()))
    """
)


@pytest.fixture(scope="module")
def jax_x64(tmp_path_factory):
    path = tmp_path_factory.mktemp("x64") / "losses.npy"
    out = subprocess.run(
        [sys.executable, "-c", JAX_X64, str(path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return np.load(path), json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("sequential", [True, False], ids=["sequential", "torch.func"])
def test_float64_members_match_jax_decision_for_decision(jax_x64, sequential):
    jax_losses, jax_doc = jax_x64
    res = run_torch(sequential)
    assert res.step_losses.shape == jax_losses.shape
    np.testing.assert_allclose(res.step_losses, jax_losses, rtol=1e-9, atol=0)
    for a, b in zip(res.members, jax_doc["members"]):
        assert (a.schedule, a.seed) == (b["schedule"], b["seed"])
        assert a.val_metric == b["val_metric"]  # accuracies: counts of equal argmaxes
        np.testing.assert_allclose(a.val_loss, b["val_loss"], rtol=1e-9)
        # Every evaluation, several per epoch (the default interval: 64 / 16 = every 4 updates).
        assert a.eval_metric == b["eval_metric"]
        np.testing.assert_allclose(a.eval_loss, b["eval_loss"], rtol=1e-9)
        assert a.steps_to_target == b["steps_to_target"]
    assert res.eval_steps == jax_doc["eval_steps"] == [4, 8, 10, 14, 18, 20, 24, 28, 30]
    # Resolved to the evaluation, not the epoch: half the members reach the target between epoch ends.
    between = [m.steps_to_target % STEPS != 0 for m in res.members if m.steps_to_target is not None]
    assert sum(between) >= len(between) / 2
    assert res.verdicts.keys() == jax_doc["verdicts"].keys()
    for name, v in res.verdicts.items():
        for key in ("reached", "steps_to_target", "speedup_vs_baseline"):
            assert v[key] == jax_doc["verdicts"][name][key]


def test_population_equals_member_by_member_in_float32():
    one, seq = run_torch(False, torch.float32), run_torch(True, torch.float32)
    np.testing.assert_allclose(one.step_losses, seq.step_losses, rtol=1e-5, atol=1e-6)
    for a, b in zip(one.members, seq.members):
        np.testing.assert_allclose(a.val_metric, b.val_metric, atol=1.5 / N_VAL)
    assert (one.how, seq.how) == ("one torch.func loop", "sequential")
    assert one.compile_s == 0 and one.processes == 1


def test_a_member_is_torch_multisteplr_driving_torch_sgd():
    res = run_torch(True)
    (xt, yt), _ = data()
    xt, yt = torch.from_numpy(xt), torch.from_numpy(yt)
    for seed in SEEDS:
        net = torch_mlp_from(numpy_weights(seed, SIZES), dtype=torch.float64)
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, [T // 2], 0.1)
        losses = []
        for e in range(EPOCHS):
            for b in torch.from_numpy(batch_order(seed, e, N_TRAIN, BATCH)):
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(net(xt[b]), yt[b])
                loss.backward()
                opt.step()
                sched.step()
                losses.append(loss.item())
        m = next(i for i, mm in enumerate(res.members) if (mm.schedule, mm.seed) == ("step", seed))
        np.testing.assert_allclose(res.step_losses[m], losses, rtol=1e-12)


@pytest.mark.parametrize("sequential", [True, False], ids=["sequential", "torch.func"])
def test_one_loss_convention_and_the_old_spelling_warns(sequential):
    """``criterion(output, y)``, ``loss_fn(model, (x, y))`` (under ``torch.func`` each member's
    parameters stand in for the model's) and the deprecated ``loss=`` train the same members."""
    base = run_torch(sequential)
    runs = [
        run_torch(sequential, criterion=lambda out, y: F.cross_entropy(out, y)),
        run_torch(sequential, loss_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1])),
    ]
    with pytest.warns(DeprecationWarning, match=r"compare\(loss=f\) is deprecated.*criterion="):
        runs.append(run_torch(sequential, loss=F.cross_entropy))
    for res in runs:
        np.testing.assert_allclose(res.step_losses, base.step_losses, rtol=1e-12)
        for a, b in zip(res.members, base.members):
            np.testing.assert_allclose(a.eval_loss, b.eval_loss, rtol=1e-12)
            assert a.eval_metric == b.eval_metric
    # A loss the output alone cannot give: an L2 penalty on the model's weights.
    l2 = run_torch(
        sequential,
        loss_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1]) + sum((p**2).sum() for p in m.parameters()),
    )
    assert not np.allclose(l2.step_losses, base.step_losses)
    if not sequential:
        seq = run_torch(
            True,
            loss_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1]) + sum((p**2).sum() for p in m.parameters()),
        )
        np.testing.assert_allclose(l2.step_losses, seq.step_losses, rtol=1e-10)


def _call(**over):
    (xt, yt), (xv, yv) = data()
    train = (torch.from_numpy(xt).float(), torch.from_numpy(yt))
    val = (torch.from_numpy(xv).float(), torch.from_numpy(yv))
    model = lambda s: torch_mlp_from(numpy_weights(s, SIZES))  # noqa: E731
    kw = dict(model=model, optimizer=lambda p: torch.optim.SGD(p, lr=0.1), train=train, val=val, seeds=SEEDS)
    return compare(**{**kw, "schedules": schedules(), "epochs": 1, "batch_size": BATCH, **over})


@pytest.mark.parametrize(
    "over,error,match",
    [
        ({"schedules": {}}, ValueError, "schedules is empty"),
        ({"schedules": "cosine"}, TypeError, "schedules"),
        ({"seeds": [2, 2]}, ValueError, "distinct"),
        ({"epochs": 1.5}, ValueError, "epochs"),
        ({"baseline": "nope"}, ValueError, "baseline"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"eval_every": -1}, ValueError, "eval_every"),
        ({"baseline": "fixd"}, ValueError, "did you mean 'fixed'"),
        ({"memory_budget": 1000}, ValueError, "memory budget"),
        ({"train": (torch.zeros(4, 8), torch.zeros(3))}, ValueError, "train"),
        ({"model": lambda s: "net"}, TypeError, "model"),
        ({"optimizer": None}, TypeError, "optimizer"),
        ({"model": lambda s: torch.nn.BatchNorm1d(8), "sequential": False}, ValueError, "buffers"),
        ({"criterion": F.cross_entropy, "loss_fn": lambda m, b: 0.0}, TypeError, "not both"),
        ({"loss": F.cross_entropy, "loss_fn": lambda m, b: 0.0}, TypeError, "deprecated name"),
        ({"loss_fn": F.cross_entropy}, TypeError, "pass it as criterion="),
        ({"metric": 0.5}, TypeError, "metric"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(over, error, match):
    with pytest.raises(error, match=match):
        _call(**over)


@pytest.mark.parametrize(
    "sequential", [pytest.param(True, marks=pytest.mark.slow), False], ids=["sequential", "torch.func"]
)
def test_a_diverging_member_is_marked_and_the_others_train_on(sequential):
    (xt, yt), (xv, yv) = data()
    kw = dict(batch_size=BATCH, target=TARGET, sequential=sequential)
    args = (
        lambda s: torch_mlp_from(numpy_weights(s, SIZES), dtype=torch.float64),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        (torch.from_numpy(xt), torch.from_numpy(yt)),
        (torch.from_numpy(xv), torch.from_numpy(yv)),
    )
    fixed = {"fixed": schedules()["fixed"]}
    # float64 survives lr 1e4 for these 30 updates (losses ~1e206); 1e30 (the largest lr a
    # schedule takes) overflows within a few.
    res = compare(*args, {**fixed, "too large": lrs.constant(1e30)}, SEEDS, EPOCHS, **kw)
    alone = compare(*args, fixed, SEEDS, EPOCHS, **kw)
    np.testing.assert_allclose(res.step_losses[: len(SEEDS)], alone.step_losses, rtol=1e-12)
    for seed in SEEDS:
        bad = res.member("too large", seed)
        assert bad.diverged_at is not None and "null" in bad.note and bad.steps_to_target is None
        assert res.member("fixed", seed).diverged_at is None
    assert res.verdicts["too large"]["diverged"] == len(SEEDS)
    doc = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert doc["members"][-1]["final_val_metric"] is None


GLOO = textwrap.dedent(
    f"""
    import json, os, sys
    import torch, torch.distributed as dist
    sys.path.insert(0, {str(__import__("pathlib").Path(__file__).parent)!r})
    from test_compare_torch import run_torch
    from lrsched_torch.arena import compare
    dist.init_process_group("gloo")
    res = run_torch(False, process_group=dist.group.WORLD)
    if dist.get_rank() == 0:
        with open(sys.argv[1], "w") as f:
            json.dump({{"losses": res.step_losses.tolist(), "doc": res.to_dict()}}, f)
    dist.barrier()
    dist.destroy_process_group()
    """
)


def test_members_split_over_two_gloo_ranks_are_the_same_members(tmp_path):
    from processes import free_port, run_together

    port = free_port()
    cmds, out = [], tmp_path / "rank0.json"
    for rank in range(2):
        env = {"RANK": str(rank), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        cmds.append(["env", *(f"{k}={v}" for k, v in env.items()), sys.executable, "-c", GLOO, str(out)])
    assert run_together(cmds, timeout=240) == []
    got = json.loads(out.read_text())
    one = run_torch(False)
    np.testing.assert_allclose(np.asarray(got["losses"]), one.step_losses, rtol=1e-12)
    assert got["doc"]["processes"] == 2
    assert [m["steps_to_target"] for m in got["doc"]["members"]] == [m.steps_to_target for m in one.members]
