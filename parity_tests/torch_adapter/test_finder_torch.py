"""The torch finder driver: the sweep it applies (param groups in proportion), state restored
bitwise (also after an exception mid-sweep), attached schedulers, gradient accumulation,
validation mode, AMP, data cycling, no JAX import, and every bad-input rule."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import assert_never_fell

import lrsched_jax as lrs
from lrsched_jax.core.validate import place
from lrsched_torch import ScheduleLR, attach, find_lr

KW = dict(num_iter=40, skip_start=4, skip_end=2)
G = torch.Generator().manual_seed(0)
X = torch.randn(256, 8, generator=G)
Y = X @ torch.linspace(-1.0, 1.0, 8)[:, None] + 0.1 * torch.randn(256, 1, generator=G)
DS = torch.utils.data.TensorDataset(X, Y)


def loader(batch_size=32, shuffle=False):
    return torch.utils.data.DataLoader(DS, batch_size=batch_size, shuffle=shuffle)


def net(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(8, 16),
        torch.nn.BatchNorm1d(16),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(16, 1),
    ).to(dtype)


def full_state(model, optimizer, scaler=None):
    """Everything that must come back bitwise, as comparable plain values."""

    def t(x):
        return x.detach().clone() if isinstance(x, torch.Tensor) else x

    return {
        "params": [t(p) for p in model.parameters()],
        "buffers": [t(b) for b in model.buffers()],
        "grads": [t(p.grad) for p in model.parameters()],
        "training": [m.training for m in model.modules()],
        "opt_state": {
            i: {k: t(v) for k, v in s.items()} for i, s in enumerate(optimizer.state_dict()["state"].values())
        },
        "groups": [{k: t(v) for k, v in g.items()} for g in optimizer.state_dict()["param_groups"]],
        "opt_attrs": sorted(vars(optimizer)),
        "hooks": (list(optimizer._optimizer_step_pre_hooks), list(optimizer._optimizer_step_post_hooks)),
        "rng": (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()),
        "scaler": None if scaler is None else scaler.state_dict(),
    }


def assert_same_state(a, b):
    def eq(x, y):
        if isinstance(x, torch.Tensor):
            return isinstance(y, torch.Tensor) and x.dtype == y.dtype and torch.equal(x, y)
        if isinstance(x, np.ndarray):
            return np.array_equal(x, y)
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(eq(x[k], y[k]) for k in x)
        if isinstance(x, (list, tuple)):
            return len(x) == len(y) and all(eq(u, v) for u, v in zip(x, y))
        return x == y

    for key in a:
        assert eq(a[key], b[key]), key


def trained(model, optimizer, steps=3):
    """A model and optimizer mid-training: momentum buffers, grads, BN statistics set."""
    crit = torch.nn.MSELoss()
    for xb, yb in list(loader())[:steps]:
        optimizer.zero_grad()
        crit(model(xb), yb).backward()
        optimizer.step()
    return model, optimizer


def applied_lrs(optimizer):
    """Record every param group's lr at each optimizer.step() (a pre-hook registered last)."""
    seen: list[list[float]] = []
    handle = optimizer.register_step_pre_hook(
        lambda opt, a, k: seen.append([g["lr"] for g in opt.param_groups])
    )
    return seen, handle


# --- the sweep ---------------------------------------------------------------------------


def test_applies_the_sweep_and_restores_everything():
    model = net(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    trained(model, opt)
    random.seed(5)
    np.random.seed(5)
    before = full_state(model, opt)
    res = find_lr(model, opt, loader(), criterion=torch.nn.MSELoss(), **KW)
    assert_same_state(before, full_state(model, opt))
    assert res.framework == "torch" and res.group_scales == (1.0,)
    table = lrs.lr_range(1e-7, 10.0, 40).curve(40)
    np.testing.assert_array_equal(res.lrs, table[: res.stop_step + 1])
    # The optimizer keeps working exactly as before: a twin that never ran the finder agrees.
    twin = net(1)
    twin_opt = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)
    trained(twin, twin_opt)
    for m, o in ((model, opt), (twin, twin_opt)):
        torch.manual_seed(9)
        trained(m, o, steps=2)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)


def test_param_groups_are_swept_in_proportion():
    model = net(2)
    opt = torch.optim.SGD(
        [
            {"params": model[0].parameters(), "lr": 0.01},
            {"params": model[1].parameters(), "lr": 0.001},
            {"params": model[4].parameters(), "lr": 0.0},  # frozen group stays at 0
        ],
        lr=0.5,
    )
    seen, handle = applied_lrs(opt)
    res = find_lr(model, opt, loader(), criterion=torch.nn.MSELoss(), **KW)
    handle.remove()
    table = lrs.lr_range(1e-7, 10.0, 40).curve(40)
    assert res.group_scales == (1.0, 0.001 / 0.01, 0.0)
    steps = len(seen)
    assert steps in (res.stop_step, res.stop_step + 1)  # the stopping step does not update
    for k, row in enumerate(seen):
        assert row[0] == table[k]  # the first group follows the sweep bit for bit
        assert row[1] == (0.001 / 0.01) * table[k]
        assert row[2] == 0.0
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.001, 0.0]
    assert all("initial_lr" not in g for g in opt.param_groups)


def test_works_with_a_scheduler_attached():
    model = net(3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        trained(model, opt, steps=1)
        sched.step()
    before, sched_before = full_state(model, opt), dict(sched.state_dict())
    seen, handle = applied_lrs(opt)
    res = find_lr(model, opt, loader(), criterion=torch.nn.MSELoss(), **KW)
    handle.remove()
    assert_same_state(before, full_state(model, opt))
    assert sched.state_dict() == sched_before
    assert opt.param_groups[0]["initial_lr"] == 0.1 and opt.param_groups[0]["lr"] == 0.05
    table = lrs.lr_range(1e-7, 10.0, 40).curve(40)
    assert [r[0] for r in seen] == list(table[: len(seen)])
    sched.step()  # the user's scheduler goes on as if nothing happened
    assert opt.param_groups[0]["lr"] == 0.025
    assert res.stop_step > 0


def _sweep_sees_the_range_and_restores(model, opt, table):
    seen, hook = applied_lrs(opt)
    before = full_state(model, opt)
    find_lr(model, opt, loader(), criterion=torch.nn.MSELoss(), **KW)
    assert_same_state(before, full_state(model, opt))
    assert [r[0] for r in seen] == list(table[: len(seen)])
    hook.remove()


def test_works_with_a_schedulelr_or_an_attachment():
    s = lrs.cosine(0.1, 100)
    table = lrs.lr_range(1e-7, 10.0, 40).curve(40)
    # A ScheduleLR (a LambdaLR) already driving the optimizer.
    model = net(4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sl = ScheduleLR(opt, s)
    trained(model, opt, steps=1)
    sl.step()
    _sweep_sees_the_range_and_restores(model, opt, table)
    sl.step()
    assert opt.param_groups[0]["lr"] == float(s(2))
    # attach(): its step hooks set the lr before every step; they are suspended for the sweep.
    model = net(5)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    handle = attach(opt, s)
    _sweep_sees_the_range_and_restores(model, opt, table)
    assert handle.attached and handle.count == 0
    trained(model, opt, steps=1)
    assert handle.count == 1 and opt.param_groups[0]["lr"] == float(s(1))


def test_adam_state_amp_and_user_scaler_restored():
    model = net(6)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    trained(model, opt)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    before = full_state(model, opt, scaler)
    res = find_lr(model, opt, loader(), criterion=torch.nn.MSELoss(), amp=True, scaler=scaler, **KW)
    assert_same_state(before, full_state(model, opt, scaler))
    assert scaler._scale is None  # lazily created during the sweep, gone again
    res_bf16 = find_lr(
        model, opt, loader(), criterion=torch.nn.MSELoss(), amp=True, amp_dtype=torch.bfloat16, **KW
    )
    assert_same_state(before, full_state(model, opt, scaler))
    assert res.stop_step > 0 and res_bf16.stop_step > 0


# --- exceptions mid-sweep ----------------------------------------------------------------


@pytest.mark.parametrize("where", ["loss", "data"])
def test_restored_after_an_exception_mid_sweep(where):
    model = net(7)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    trained(model, opt)
    before = full_state(model, opt)
    calls = []

    def loss_fn(m, batch):
        calls.append(1)
        if where == "loss" and len(calls) == 6:
            raise RuntimeError("loss failed at step 5")
        return torch.nn.functional.mse_loss(m(batch[0]), batch[1])

    def stream():
        yield from list(loader())[:5]
        raise OSError("data failed at step 5")

    with pytest.raises((RuntimeError, OSError), match="failed at step 5"):
        find_lr(model, opt, stream() if where == "data" else loader(), loss_fn=loss_fn, **KW)
    assert len(calls) >= 5
    assert_same_state(before, full_state(model, opt))


# --- training variants -------------------------------------------------------------------


def test_criterion_and_loss_fn_agree_and_data_is_cycled():
    # eval mode: no dropout draws, so iterating a DataLoader (which draws a seed from torch's
    # RNG) or a list cannot shift the random stream between the runs
    model = net(8).eval()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    r1 = find_lr(model, opt, loader(), criterion=torch.nn.MSELoss(), **KW)
    r2 = find_lr(model, opt, loader(), loss_fn=lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]), **KW)
    r3 = find_lr(model, opt, iter(list(loader())), criterion=torch.nn.MSELoss(), **KW)  # one-shot, replayed
    assert r1 == r2 == r3
    assert r1.stop_step + 1 > len(loader())


@pytest.mark.parametrize("stop", ["diverged", "non-finite"])
def test_the_plain_step_and_the_general_step_sweep_alike(stop):
    # A sweep with nothing but the sweep asked for runs the one-frame step; a disabled scaler
    # (the same arithmetic: scale(loss) is the loss, step(opt) is opt.step()) takes the step
    # of every mode. Both see the same losses, lrs, stop and state afterwards.
    def criterion(out, y):  # "non-finite": inf once the outputs pass 100
        loss = torch.nn.functional.mse_loss(out, y)
        return loss / (out.abs().max() < 100) if stop == "non-finite" else loss

    kw = dict(KW, end_lr=10.0, diverge_factor=1e30 if stop == "non-finite" else 4.0)
    results, states = [], []
    for scaler in (None, torch.amp.GradScaler("cpu", enabled=False)):
        model = net(3)
        model, opt = trained(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
        torch.manual_seed(5)  # the same dropout draws in both sweeps
        before = full_state(model, opt)
        results.append(find_lr(model, opt, loader(), criterion=criterion, scaler=scaler, **kw))
        assert_same_state(before, full_state(model, opt))
        states.append(before)
    assert results[0].stop_reason == stop
    assert results[0] == results[1]
    assert_same_state(*states)


def test_gradient_accumulation_matches_larger_batches():
    model = net(9, torch.float64).eval()  # no dropout/BN batch effects: micro-batches add up exactly
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ds64 = torch.utils.data.TensorDataset(X.double(), Y.double())
    big = find_lr(
        model, opt, torch.utils.data.DataLoader(ds64, batch_size=32), criterion=torch.nn.MSELoss(), **KW
    )
    acc = find_lr(
        model,
        opt,
        torch.utils.data.DataLoader(ds64, batch_size=16),
        criterion=torch.nn.MSELoss(),
        accumulation_steps=2,
        **KW,
    )
    np.testing.assert_allclose(acc.losses, big.losses, rtol=1e-9)
    assert (acc.stop_step, acc.stop_reason) == (big.stop_step, big.stop_reason)
    assert acc.suggestions == pytest.approx(big.suggestions)


def test_validation_mode_records_the_loss_after_each_update():
    model = net(10, torch.float64)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ds64 = torch.utils.data.TensorDataset(X.double(), Y.double())
    train = torch.utils.data.DataLoader(ds64, batch_size=32)
    val = [(X[:64].double(), Y[:64].double()), (X[64:128].double(), Y[64:128].double())]
    torch.manual_seed(0)
    res = find_lr(model, opt, train, criterion=torch.nn.MSELoss(), val_data=val, **KW)
    assert all(m.training for m in model.modules())
    # Step 0 by hand: one update at lr 1e-7 in train mode, then the eval-mode mean loss.
    ref = net(10, torch.float64)
    ref.load_state_dict(model.state_dict())
    ref_opt = torch.optim.SGD(ref.parameters(), lr=1e-7)
    torch.manual_seed(0)  # the same random stream: the loader's seed, then dropout
    xb, yb = next(iter(train))
    torch.nn.functional.mse_loss(ref(xb), yb).backward()
    ref_opt.step()
    ref.eval()
    with torch.no_grad():
        expect = np.mean([torch.nn.functional.mse_loss(ref(a), b).item() for a, b in val])
    assert res.losses[0] == pytest.approx(expect, rel=1e-12)
    assert res.smoothed_losses[0] == res.losses[0]


def test_progress_bar():
    model = net(11)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    r = find_lr(model, opt, loader(), criterion=torch.nn.MSELoss(), progress=True, **KW)
    assert r == find_lr(model, opt, loader(), criterion=torch.nn.MSELoss(), **KW)


def test_never_imports_jax():
    code = textwrap.dedent(
        """
        import sys, torch
        from lrsched_torch import find_lr
        torch.manual_seed(0)
        m = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        x = torch.randn(64, 3)
        batches = [(x[i:i + 16], x[i:i + 16].sum(1, keepdim=True)) for i in range(0, 64, 16)]
        res = find_lr(m, opt, torch.nn.MSELoss(), batches, num_iter=30)
        res.to_json()
        bad = [k for k in sys.modules if k.split(".")[0] in ("jax", "jaxlib", "optax", "flax")]
        assert not bad, bad
        print("ok", res.stop_reason)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("ok")


# --- bad input ---------------------------------------------------------------------------


#: Arguments find_lr refuses before anything is touched: id -> (arguments, error, match).
BAD_ARGUMENTS = {
    "start_lr=1.0,end_lr=1.0": ({"start_lr": 1.0, "end_lr": 1.0}, ValueError, "end_lr"),
    "start_lr=-1.0": ({"start_lr": -1.0}, ValueError, "start_lr"),
    "end_lr=0.0": ({"end_lr": 0.0}, ValueError, "end_lr"),
    "num_iter=12": ({"num_iter": 12}, ValueError, "num_iter"),
    "mode='log'": ({"mode": "log"}, ValueError, "mode"),
    "smooth=1.0": ({"smooth": 1.0}, ValueError, "smooth"),
    "diverge_factor=1.0": ({"diverge_factor": 1.0}, ValueError, "diverge_factor"),
    "suggestion='max'": ({"suggestion": "max"}, ValueError, "suggestion"),
    "accumulation_steps=0": ({"accumulation_steps": 0}, ValueError, "accumulation_steps"),
    "accumulation_steps=1.0": ({"accumulation_steps": 1.0}, TypeError, "accumulation_steps"),
    "val_data=iter([])": ({"val_data": iter([])}, TypeError, "val_data"),
    "amp=1": ({"amp": 1}, TypeError, "amp"),
    "amp_dtype='float16'": ({"amp_dtype": "float16"}, TypeError, "amp_dtype"),
    "scaler=object()": ({"scaler": object()}, TypeError, "scaler"),
    "device=3.5": ({"device": 3.5}, TypeError, "device"),
}


@pytest.mark.parametrize(("kwargs", "exc", "match"), BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS)
def test_bad_arguments(kwargs, exc, match):
    model = net(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = full_state(model, opt)
    with pytest.raises(exc, match=match):
        find_lr(model, opt, loader(), criterion=torch.nn.MSELoss(), **kwargs)
    assert_same_state(before, full_state(model, opt))


def test_bad_data_loss_model_and_optimizer():
    model = net(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    trained(model, opt, steps=1)
    before = full_state(model, opt)
    mse = torch.nn.MSELoss()
    with pytest.raises(ValueError, match="data yielded no batches"):
        find_lr(model, opt, [], criterion=mse)
    with pytest.raises(ValueError, match="data yielded no batches"):
        find_lr(
            model,
            opt,
            torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[:0], Y[:0])),
            criterion=mse,
        )
    with pytest.raises(TypeError, match="data must be an iterable"):
        find_lr(model, opt, 5, criterion=mse)
    with pytest.raises(ValueError, match="val_data yielded no batches"):
        find_lr(model, opt, loader(), criterion=mse, val_data=[])
    with pytest.raises(ValueError, match="scalar"):
        find_lr(model, opt, loader(), criterion=torch.nn.MSELoss(reduction="none"))
    with pytest.raises(TypeError, match="floating"):
        find_lr(model, opt, loader(), loss_fn=lambda m, b: (b[1] > 0).sum())
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        find_lr(model, opt, loader(), loss_fn=lambda m, b: 1.0)
    with pytest.raises(TypeError, match=r"\(x, y, \.\.\.\) batches"):
        find_lr(model, opt, [X[:8]], criterion=mse)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        find_lr(model, opt, loader(), loss_fn="mse")
    with pytest.raises(TypeError, match="model must be"):
        find_lr(lambda x: x, opt, loader(), criterion=mse)
    with pytest.raises(TypeError, match="optimizer"):
        find_lr(model, "sgd", loader(), criterion=mse)
    zero = torch.optim.SGD(
        [{"params": model[0].parameters(), "lr": 0.0}, {"params": model[4].parameters()}], lr=0.1
    )
    with pytest.raises(ValueError, match="first param group's lr must be > 0"):
        find_lr(model, zero, loader(), criterion=mse)
    assert_same_state(before, full_state(model, opt))


# --- a loss that never fell; nothing to train; closure optimizers (LBFGS) -----------------


def noise_batches(seed, n=40):
    """Batches whose loss is pure noise: each carries its own loss value."""
    rng = np.random.default_rng(seed)
    return [(X[:4], Y[:4], torch.tensor(2.0 + rng.normal(0.0, 0.1))) for _ in range(n)]


def noise_loss(model, batch):
    # Depends on the parameters (so backward works) without changing with them.
    return batch[2] + 0.0 * sum(p.sum() for p in model.parameters())


@pytest.mark.parametrize("seed", range(4))
def test_a_pure_noise_loss_never_fell_and_suggests_nothing(seed):
    model = net(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    res = find_lr(model, opt, noise_batches(seed), loss_fn=noise_loss, **KW)
    assert_never_fell(res)
    # The same losses give the same result in the shared core (the JAX driver's too).
    from lrsched_jax.core.finder import SweepConfig, build_result
    from lrsched_jax.core.finder.sweep import scan

    with place("find_lr"):
        config = SweepConfig.make(**KW)
    raw = np.asarray([float(b[2]) for b in noise_batches(seed)], dtype=np.float32).astype(np.float64)
    s, stop, code = scan(raw.astype(np.float32), config.divisors().astype(np.float32), 4.0)
    assert build_result(config, raw, s, int(stop), int(code)).notes == res.notes


def test_a_real_sweep_still_suggests_and_an_untrained_one_does_not():
    model = net(0)
    res = find_lr(
        model, torch.optim.SGD(model.parameters(), lr=0.1), loader(shuffle=True), criterion=torch.nn.MSELoss()
    )
    assert res.suggestion is not None and not any(n.startswith("the loss never") for n in res.notes)
    # An optimizer over another model's parameters trains nothing the loss sees: flat.
    res = find_lr(
        model,
        torch.optim.SGD(net(1).parameters(), lr=0.1),
        loader(shuffle=True),
        criterion=torch.nn.MSELoss(),
    )
    assert res.suggestion is None and res.notes[0].startswith("the loss never fell")


def _frozen(model):
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class _NoParams(torch.nn.Module):
    def forward(self, x):
        return x.sum(1, keepdim=True)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: (_frozen(net(0)), None), "model has no trainable parameters"),
        (lambda: (_NoParams(), None), "model has no trainable parameters"),
        (
            lambda: (net(0), torch.optim.SGD(_frozen(net(1)).parameters(), lr=0.1)),
            "optimizer has no trainable",
        ),
    ],
)
def test_nothing_to_train_is_refused_up_front(make, match):
    # Before: torch's own "element 0 of tensors does not require grad" mid-sweep, or (with
    # device=) a sweep of a flat curve.
    model, opt = make()
    opt = opt or torch.optim.SGD(list(model.parameters()) or [torch.zeros(1, requires_grad=True)], lr=0.1)
    before = full_state(model, opt)
    with pytest.raises(ValueError, match=match):
        find_lr(model, opt, loader(), criterion=torch.nn.MSELoss(), device="cpu", **KW)
    assert_same_state(before, full_state(model, opt))


def _deep(x):
    """A deep, comparable copy (LBFGS keeps lists of tensors in its state)."""
    if isinstance(x, torch.Tensor):
        return x.detach().clone()
    if isinstance(x, dict):
        return {k: _deep(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_deep(v) for v in x)
    return x


def _lbfgs(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = torch.optim.LBFGS(model.parameters(), lr=1e-2, max_iter=4, history_size=5)
    crit = torch.nn.MSELoss()
    for xb, yb in list(loader())[:3]:  # mid-training: LBFGS's history lists are filled

        def closure(xb=xb, yb=yb):
            opt.zero_grad()
            loss = crit(model(xb), yb)
            loss.backward()
            return loss

        opt.step(closure)
    return model, opt


def test_lbfgs_sweeps_and_restores_its_state_bitwise():
    # Before: TypeError "LBFGS.step() missing 1 required positional argument: 'closure'".
    model, opt = _lbfgs()
    state = opt.state[next(iter(model.parameters()))]
    lists = {k: state[k] for k in ("old_dirs", "old_stps", "ro", "al")}
    assert lists["old_dirs"]
    before, deep = full_state(model, opt), _deep(opt.state_dict())
    res = find_lr(model, opt, loader(), criterion=torch.nn.MSELoss(), start_lr=1e-4, end_lr=10.0, num_iter=60)
    assert res.stop_reason in ("diverged", "non-finite") and res.suggestion is not None
    assert_same_state(before, full_state(model, opt))
    assert_same_state({"s": deep}, {"s": _deep(opt.state_dict())})
    assert all(state[k] is v for k, v in lists.items())  # the same list objects, contents restored
    # Training goes on exactly as for a twin that never ran the finder.
    twin, twin_opt = _lbfgs()
    for m, o in ((model, opt), (twin, twin_opt)):
        xb, yb = next(iter(loader()))

        def closure(m=m, o=o, xb=xb, yb=yb):
            o.zero_grad()
            loss = torch.nn.functional.mse_loss(m(xb), yb)
            loss.backward()
            return loss

        o.step(closure)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)


def test_lbfgs_closure_sees_the_steps_own_micro_batches_with_accumulation_and_validation():
    model, opt = _lbfgs(1)
    seen: list[int] = []
    batches = list(loader())

    def loss_fn(m, batch):
        seen.append(next(i for i, b in enumerate(batches) if b[0] is batch[0]))
        return torch.nn.functional.mse_loss(m(batch[0]), batch[1])

    res = find_lr(
        model, opt, batches, loss_fn=loss_fn, accumulation_steps=2, num_iter=20, skip_start=2, skip_end=1
    )
    # Each step: its 2 micro-batches measured, then the closure's evaluations of the same 2.
    step0 = seen[: seen.index(2)]
    assert step0[:2] == [0, 1] and len(step0) > 2 and all(i in (0, 1) for i in step0)
    assert step0[2:] == [0, 1] * ((len(step0) - 2) // 2)
    assert res.num_points > 0
    short = dict(criterion=torch.nn.MSELoss(), num_iter=20, skip_start=2, skip_end=1)
    val = find_lr(model, opt, batches, val_data=batches[:2], **short)
    assert val.num_points > 0
    bf16 = find_lr(model, opt, batches, amp=True, amp_dtype=torch.bfloat16, **short)
    assert bf16.num_points > 0


def test_lbfgs_with_a_grad_scaler_is_refused_up_front():
    model, opt = _lbfgs()
    before = full_state(model, opt)
    with pytest.raises(ValueError, match=r"optimizer: LBFGS\.step needs a closure.*GradScaler"):
        find_lr(model, opt, loader(), criterion=torch.nn.MSELoss(), scaler=torch.amp.GradScaler("cpu"), **KW)
    assert_same_state(before, full_state(model, opt))
