"""``lrsched_torch.ScheduleLR``: a real ``LambdaLR`` with lrsched's curves and checkpoint-safe state."""

from __future__ import annotations

import doctest
import io
import json
import subprocess
import sys
import textwrap
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.optim import lr_scheduler as tl

import lrsched_jax as lrs
from lrsched_torch import ScheduleLR, from_torch


def make_opt(bases: list[float], lr_tensor: bool = False) -> torch.optim.SGD:
    groups = [
        {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": torch.tensor(b) if lr_tensor else b}
        for b in bases
    ]
    return torch.optim.SGD(groups, lr=0.1)


def lrs_of(opt: torch.optim.Optimizer) -> list[float]:
    return [float(g["lr"]) for g in opt.param_groups]


def run(opt: torch.optim.Optimizer, sched: Any, n: int) -> np.ndarray:
    """Group lrs after each of n (optimizer.step(), scheduler.step()) pairs."""
    out = []
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(lrs_of(opt))
    return np.asarray(out)


SCHEDULES = [
    lrs.warmup_cosine(1e-3, 100, 3000, min_lr=1e-6),
    lrs.one_cycle(0.1, 2000, three_phase=True),
    lrs.warm_restarts(0.05, 7, 2, min_lr=1e-4),
    lrs.sequence([lrs.linear(0.0, 0.1, 50), lrs.exponential(0.1, 0.999)], [50]),
    lrs.per_epoch(lrs.step_decay(0.1, 3, 0.5), 37),
    lrs.cyclic(0.001, 0.01, 150, mode="exp_range", gamma=0.999),
]


# --- semantics -----------------------------------------------------------------------------------


def test_is_a_lambdalr_with_torch_step_semantics() -> None:
    s = lrs.warmup_cosine(1.0, 3, 10)
    opt = make_opt([0.5])
    sched = ScheduleLR(opt, s)
    assert isinstance(sched, tl.LambdaLR) and isinstance(sched, tl.LRScheduler)
    assert lrs_of(opt) == [float(s(0))]  # lr(0) at construction
    assert sched.get_last_lr() == [float(s(0))]
    seen = run(opt, sched, 12)[:, 0]
    np.testing.assert_array_equal(seen, s.curve(12, start=1))  # lr(k) after the k-th step()
    assert sched.get_last_lr() == [float(s(12))]
    assert sched.last_epoch == 12


def test_multiplier_mode_and_per_group_schedules() -> None:
    a, b = lrs.exponential(1.0, 0.9), lrs.piecewise_constant([3], [1.0, 0.1])
    opt = make_opt([0.2, 0.03])
    sched = ScheduleLR(opt, (a, b), mode="multiplier")
    assert sched.base_lrs == [0.2, 0.03] and sched.mode == "multiplier" and sched.schedules == (a, b)
    seen = run(opt, sched, 6)
    np.testing.assert_array_equal(seen[:, 0], 0.2 * a.curve(6, 1))
    np.testing.assert_array_equal(seen[:, 1], 0.03 * b.curve(6, 1))


def test_values_are_the_float64_schedule_exactly_across_chunks() -> None:
    """No divide/multiply round trip, also across the 4096-step chunk boundaries."""
    s = lrs.cosine(0.3, 5000, 1e-4, periodic=True)
    opt = make_opt([0.3, 0.1])
    sched = ScheduleLR(opt, s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # stepping without optimizer.step()
        seen = [lrs_of(opt)]
        for _ in range(9000):
            sched.step()
            seen.append(lrs_of(opt))
    np.testing.assert_array_equal(np.asarray(seen), np.stack([s.curve(9001)] * 2, axis=1))


def test_torch_call_order_warnings_are_untouched() -> None:
    opt = make_opt([0.1])
    sched = ScheduleLR(opt, lrs.constant(0.1))
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()
    opt = make_opt([0.1])
    sched = ScheduleLR(opt, lrs.constant(0.1))
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


def test_fractional_epoch_through_torch_step_epoch() -> None:
    s = lrs.warm_restarts(1.0, 4, 2)
    opt = make_opt([1.0])
    sched = ScheduleLR(opt, s)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(2.5)
    assert lrs_of(opt) == [float(s(2.5))]
    sched.step()  # torch: last_epoch + 1
    assert sched.last_epoch == 3.5 and lrs_of(opt) == [float(s(3.5))]


def test_a_step_that_is_not_a_number_is_refused() -> None:
    opt = make_opt([0.1])
    sched = ScheduleLR(opt, lrs.constant(0.1))
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(TypeError, match=r"the step \(last_epoch\) must be a number"):
            sched.step("3")  # type: ignore[arg-type]


def test_tensor_lrs_are_filled_in_place() -> None:
    s = lrs.linear(0.1, 0.0, 10)
    opt = make_opt([0.1, 0.2], lr_tensor=True)
    tensors = [g["lr"] for g in opt.param_groups]
    sched = ScheduleLR(opt, s)
    run(opt, sched, 3)
    assert all(g["lr"] is t for g, t in zip(opt.param_groups, tensors))
    last = sched.get_last_lr()
    assert all(isinstance(v, torch.Tensor) and v is not t for v, t in zip(last, tensors))
    assert [float(v) for v in last] == pytest.approx([float(s(3))] * 2, rel=1e-7)


def test_huge_steps_do_not_overflow() -> None:
    s = lrs.cosine(1.0, 2**33, periodic=True)
    opt = make_opt([1.0])
    sched = ScheduleLR(opt, s)
    opt.step()
    state = sched.state_dict()
    state["last_epoch"] = 2**40
    sched.load_state_dict(state)
    sched.step()
    assert lrs_of(opt) == [float(s(2**40 + 1))]


def test_inside_sequential_lr_and_converted_back() -> None:
    """SequentialLR restarts a child through _update_lr(0); ScheduleLR must follow its local time."""
    warm = lrs.linear(0.0, 0.1, 5)
    opt = make_opt([0.1])
    seq = tl.SequentialLR(opt, [ScheduleLR(opt, warm), ScheduleLR(opt, lrs.exponential(0.1, 0.5))], [5])
    seen = [lrs_of(opt)[0], *run(opt, seq, 9)[:, 0]]
    expected = [0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.05, 0.025, 0.0125, 0.00625]
    np.testing.assert_allclose(seen, expected, rtol=1e-15)
    np.testing.assert_allclose(from_torch(seq).curve(10), expected, rtol=1e-15)


def test_subclass_overriding_get_lr_is_respected() -> None:
    class Doubled(ScheduleLR):
        def get_lr(self) -> list[float]:
            return [2 * v for v in super().get_lr()]

    opt = make_opt([0.1])
    sched = Doubled(opt, lrs.constant(0.1))
    run(opt, sched, 2)
    assert lrs_of(opt) == [0.2]


@pytest.mark.parametrize(
    "bad",
    [float("nan"), float("inf"), -float("inf"), np.float64("nan"), torch.tensor(float("nan"))],
    ids=["nan", "inf", "-inf", "np.nan", "tensor-nan"],
)
@pytest.mark.parametrize("lr_tensor", [False, True])
def test_a_non_finite_epoch_is_refused_and_changes_nothing(bad: Any, lr_tensor: bool) -> None:
    """torch's own LambdaLR writes NaN into the optimizer; ScheduleLR refuses before any change."""
    opt = make_opt([0.1, 0.2], lr_tensor=lr_tensor)
    sched = ScheduleLR(opt, lrs.warm_restarts(1.0, 4, 2))
    opt.step()
    sched.step()
    lrs_before, state_before = lrs_of(opt), sched.state_dict()
    with pytest.raises(ValueError, match=r"ScheduleLR\.step: epoch: .*must be finite"):
        sched.step(bad)
    assert lrs_of(opt) == lrs_before and sched.state_dict() == state_before
    # A non-finite step set by hand is refused too, the optimizer untouched.
    sched.last_epoch = float("inf")
    with pytest.raises(ValueError, match="must be finite"):
        sched.step()
    assert lrs_of(opt) == lrs_before


def test_a_non_finite_or_negative_restored_step_is_refused() -> None:
    opt = make_opt([0.1])
    sched = ScheduleLR(opt, SCHEDULES[0])
    run(opt, sched, 3)
    for bad, exc in (
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (-1, ValueError),
        ("3", TypeError),
    ):
        state = sched.state_dict()
        state["last_epoch"] = bad
        target_opt = make_opt([0.1])
        target = ScheduleLR(target_opt, SCHEDULES[0])
        with pytest.raises(exc, match=r"state_dict\['last_epoch'\]"):
            target.load_state_dict(state)
        assert target.last_epoch == 0 and lrs_of(target_opt) == [float(SCHEDULES[0](0))]


def _counter(calls: dict[str, int]) -> Any:
    """``counting(name, fn)``: ``fn`` wrapped to count its calls in ``calls[name]``."""

    def counting(name: str, fn: Any) -> Any:
        def spy(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return fn(*args, **kwargs)

        return spy

    return counting


def test_the_fast_path_is_taken_for_integer_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Common case: step() is one Curve.apply call (the hot path shared with attach) that reads
    the chunk evaluated ahead — no schedule evaluation, no call into torch's _update_lr."""
    from lrsched_torch._common import CHUNK, Curve

    calls = {"apply": 0, "fill": 0, "single": 0, "torch_update": 0}

    counting = _counter(calls)
    monkeypatch.setattr(Curve, "apply", counting("apply", Curve.apply))
    monkeypatch.setattr(Curve, "_fill", counting("fill", Curve._fill))
    monkeypatch.setattr(Curve, "_single", counting("single", Curve._single))
    monkeypatch.setattr(tl.LRScheduler, "_update_lr", counting("torch_update", tl.LRScheduler._update_lr))
    s = lrs.warmup_cosine(0.1, 100, 10_000)
    for mode in ("absolute", "multiplier"):
        opt = make_opt([0.1, 0.2])
        sched = ScheduleLR(opt, s, mode=mode)
        for k in calls:
            calls[k] = 0
        out = run(opt, sched, CHUNK - 10)
        assert calls == {"apply": CHUNK - 10, "fill": 0, "single": 0, "torch_update": 0}
        scale = np.array([1.0, 1.0]) if mode == "absolute" else np.array([0.1, 0.2])
        np.testing.assert_array_equal(out, np.outer(s.curve(CHUNK - 10, start=1), scale))
        run(opt, sched, 20)  # crosses into the next chunk: one more vectorised evaluation
        assert calls["fill"] == 1 and calls["single"] == 0 and calls["torch_update"] == 0


# --- state_dict / resume --------------------------------------------------------------------------


def _roundtrip(state: dict[str, Any], via_file: bool) -> dict[str, Any]:
    if not via_file:
        return state
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@given(
    schedule=st.sampled_from(SCHEDULES),
    mode=st.sampled_from(["absolute", "multiplier"]),
    bases=st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=3),
    stop=st.integers(0, 5000),
    via_file=st.booleans(),
)
def test_resume_at_any_step_continues_the_identical_curve(
    schedule: lrs.Schedule, mode: str, bases: list[float], stop: int, via_file: bool
) -> None:
    n_after = 300
    opt = make_opt(bases)
    sched = ScheduleLR(opt, schedule, mode=mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # skipping optimizer.step() to get far fast
        for _ in range(stop):
            sched.step()
    opt_state = _roundtrip(opt.state_dict(), via_file)
    sched_state = _roundtrip(sched.state_dict(), via_file)
    reference = run(opt, sched, n_after)

    # A fresh process: new optimizer with other lrs, scheduler built first, then both loaded.
    opt2 = make_opt([b * 7 for b in bases])
    sched2 = ScheduleLR(opt2, schedule, mode=mode)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(sched_state)
    assert sched2.last_epoch == stop and sched2.get_last_lr() == lrs_of(opt2)
    resumed = run(opt2, sched2, n_after)
    np.testing.assert_array_equal(resumed, reference)


class Applied:
    """The lr of each param group at every optimizer.step() (a pre-hook: what the update uses)."""

    def __init__(self, opt: torch.optim.Optimizer) -> None:
        self.seen: list[list[float]] = []
        opt.register_step_pre_hook(lambda o, a, k: self.seen.append([float(g["lr"]) for g in o.param_groups]))


def _train(opt: torch.optim.Optimizer, sched: Any, n: int) -> None:
    for _ in range(n):
        opt.step()
        sched.step()


@pytest.mark.parametrize("mode", ["absolute", "multiplier"])
@pytest.mark.parametrize("load", ["scheduler_only", "optimizer_then_scheduler", "scheduler_then_optimizer"])
def test_resume_applies_the_restored_steps_lr_like_torch(mode: str, load: str) -> None:
    """Every update after a resume applies the uninterrupted run's lr — as a resumed torch
    LambdaLR over the same curve does (torch's way: both states loaded) — also when only the
    scheduler's state is loaded (torch's LambdaLR would leave the constructor's lr there)."""
    s = lrs.warmup_cosine(1.0, 5, 40, min_lr=0.01)
    bases = [0.1, 0.03] if mode == "multiplier" else [1.0, 1.0]
    n, stop = 30, 12

    def fresh(kind: str, lrs0: list[float]) -> tuple[torch.optim.Optimizer, Any, Applied]:
        opt = make_opt(lrs0)
        if kind == "torch":  # LambdaLR multiplies the group's initial lr by the factor
            sched: Any = tl.LambdaLR(opt, lambda k: float(s(k)))
        else:
            sched = ScheduleLR(opt, s, mode=mode)
        return opt, sched, Applied(opt)

    results = {}
    for kind in ("torch", "ours"):
        opt, sched, full = fresh(kind, bases)
        _train(opt, sched, n)
        opt, sched, first = fresh(kind, bases)
        _train(opt, sched, stop)
        opt_state, sched_state = _roundtrip(opt.state_dict(), True), _roundtrip(sched.state_dict(), True)
        opt2, sched2, after = fresh(kind, bases)
        how = "optimizer_then_scheduler" if kind == "torch" else load
        if how == "optimizer_then_scheduler":
            opt2.load_state_dict(opt_state)
        sched2.load_state_dict(sched_state)
        if how == "scheduler_then_optimizer":
            opt2.load_state_dict(opt_state)
        _train(opt2, sched2, n - stop)
        assert first.seen + after.seen == full.seen, kind
        assert sched2.get_last_lr() == lrs_of(opt2)
        results[kind] = full.seen
    expected = [[b * float(s(k)) for b in bases] for k in range(n)]
    np.testing.assert_array_equal(results["ours"], expected)
    np.testing.assert_allclose(results["torch"], expected, rtol=1e-15)


def test_resume_in_a_subclass_overriding_get_lr_asks_get_lr() -> None:
    class Doubled(ScheduleLR):
        def get_lr(self) -> list[float]:
            return [2 * v for v in super().get_lr()]

    s = lrs.linear(0.1, 0.0, 10)
    opt = make_opt([0.1])
    sched = Doubled(opt, s)
    run(opt, sched, 4)
    resumed_opt = make_opt([0.1])
    Doubled(resumed_opt, s).load_state_dict(sched.state_dict())
    assert lrs_of(resumed_opt) == lrs_of(opt) == [2 * float(s(4))]


def test_state_dict_holds_plain_types_only() -> None:
    opt = make_opt([0.1, 0.2])
    sched = ScheduleLR(opt, [SCHEDULES[0], SCHEDULES[3]], mode="multiplier")
    run(opt, sched, 3)
    state = sched.state_dict()
    json.dumps(state)  # plain JSON-able types: no schedule objects, no functions
    meta = state["lrsched"]
    assert meta["mode"] == "multiplier" and meta["format"] == 1
    assert [lrs.from_config(json.loads(t)) for t in meta["schedules"]] == [SCHEDULES[0], SCHEDULES[3]]
    assert "lr_lambdas" not in state and state["last_epoch"] == 3


def test_load_state_dict_does_not_modify_its_argument() -> None:
    opt = make_opt([0.1])
    sched = ScheduleLR(opt, SCHEDULES[0])
    state = sched.state_dict()
    before = json.dumps(state, sort_keys=True)
    ScheduleLR(make_opt([0.1]), SCHEDULES[0]).load_state_dict(state)
    assert json.dumps(state, sort_keys=True) == before


@pytest.mark.parametrize(
    ("saved", "loading", "match"),
    [
        (dict(schedule=SCHEDULES[0]), dict(schedule=SCHEDULES[1]), "different schedule"),
        (dict(schedule=SCHEDULES[0]), dict(schedule=SCHEDULES[0], mode="multiplier"), "mode"),
        (dict(schedule=lrs.cosine(0.1, 100)), dict(schedule=lrs.cosine(0.1, 101)), "different schedule"),
    ],
)
def test_loading_a_state_for_another_curve_raises(saved: dict, loading: dict, match: str) -> None:
    state = ScheduleLR(make_opt([0.1]), **saved).state_dict()
    state = _roundtrip(state, via_file=True)
    target = ScheduleLR(make_opt([0.1]), **loading)
    with pytest.raises(ValueError, match=match):
        target.load_state_dict(state)
    assert target.last_epoch == 0  # nothing was loaded


def test_loading_a_state_for_another_group_count_or_class_raises() -> None:
    state = ScheduleLR(make_opt([0.1, 0.2]), SCHEDULES[0]).state_dict()
    with pytest.raises(ValueError, match="saved for 2 param group"):
        ScheduleLR(make_opt([0.1]), SCHEDULES[0]).load_state_dict(state)
    opt = make_opt([0.1])
    lambda_state = tl.LambdaLR(opt, lambda k: 1.0).state_dict()
    with pytest.raises(ValueError, match="not a ScheduleLR state"):
        ScheduleLR(make_opt([0.1]), SCHEDULES[0]).load_state_dict(lambda_state)
    bad = ScheduleLR(make_opt([0.1]), SCHEDULES[0]).state_dict()
    bad["lrsched"] = {**bad["lrsched"], "format": 99}
    with pytest.raises(ValueError, match="unsupported state format"):
        ScheduleLR(make_opt([0.1]), SCHEDULES[0]).load_state_dict(bad)
    bad["lrsched"] = {**bad["lrsched"], "format": 1, "schedules": ['{"name": "nope"}']}
    with pytest.raises(ValueError, match="unreadable schedule config"):
        ScheduleLR(make_opt([0.1]), SCHEDULES[0]).load_state_dict(bad)
    with pytest.raises(TypeError, match="state_dict must be a dict"):
        ScheduleLR(make_opt([0.1]), SCHEDULES[0]).load_state_dict([])  # type: ignore[arg-type]


# --- bad input ------------------------------------------------------------------------------------


def test_bad_arguments_name_the_argument() -> None:
    s = lrs.constant(0.1)
    with pytest.raises(TypeError, match=r"optimizer must be a torch\.optim\.Optimizer"):
        ScheduleLR(object(), s)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"schedule must be an lrsched_jax schedule.*lrsched schedule"):
        ScheduleLR(make_opt([0.1]), lambda k: 0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="schedule must be an lrsched_jax schedule"):
        ScheduleLR(make_opt([0.1]), 0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"schedule\[1\] must be an lrsched_jax schedule"):
        ScheduleLR(make_opt([0.1, 0.2]), [s, 0.1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="schedule has 3 entries but the optimizer has 2"):
        ScheduleLR(make_opt([0.1, 0.2]), [s, s, s])
    with pytest.raises(ValueError, match="mode must be 'absolute' or 'multiplier'"):
        ScheduleLR(make_opt([0.1]), s, mode="relative")
    with pytest.raises(TypeError, match="last_epoch must be an int"):
        ScheduleLR(make_opt([0.1]), s, last_epoch=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="last_epoch must be -1"):
        ScheduleLR(make_opt([0.1]), s, last_epoch=-2)
    empty = make_opt([0.1])
    empty.param_groups.clear()
    with pytest.raises(ValueError, match="optimizer has no param groups"):
        ScheduleLR(empty, s)


def test_resume_with_last_epoch_follows_torch_rules() -> None:
    s = lrs.exponential(1.0, 0.5)
    with pytest.raises(KeyError, match="initial_lr"):
        ScheduleLR(make_opt([0.1]), s, mode="multiplier", last_epoch=3)  # torch's own check
    opt = make_opt([0.1])
    opt.param_groups[0]["initial_lr"] = 0.1
    sched = ScheduleLR(opt, s, last_epoch=3)
    assert sched.last_epoch == 4 and lrs_of(opt) == [float(s(4))]


# --- packaging ------------------------------------------------------------------------------------


def test_docstring_examples() -> None:
    for mod in ("schedule_lr", "count_bound", "convert"):
        module = sys.modules[f"lrsched_torch.{mod}"]
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, mod


def test_torch_side_never_imports_jax() -> None:
    """A torch user's process must not start a JAX backend (subprocess: a fresh interpreter)."""
    code = textwrap.dedent(
        """
        import sys, warnings
        import torch
        import lrsched_jax as lrs
        from lrsched_torch import ScheduleLR, attach, from_torch
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        s = lrs.warmup_cosine(0.1, 10, 100)
        sched = ScheduleLR(opt, s)
        for _ in range(20):
            opt.step(); sched.step()
        sched.load_state_dict(sched.state_dict())
        assert from_torch(sched) == s
        t = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=50)
        from_torch(t, from_current_step=True).curve(10)
        t.step()
        h = attach(opt, s)
        opt.step()
        h.detach()
        bad = [m for m in sys.modules if m == "jax" or m.startswith(("jax.", "jaxlib", "optax", "flax"))]
        assert not bad, bad
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --- momentum and other fields -----------------------------------------------------------------------


def _momenta(opt: torch.optim.Optimizer) -> list[float]:
    """Where torch's OneCycleLR/CyclicLR keep the momentum: betas[0], else momentum."""
    if "betas" in opt.defaults:
        return [float(g["betas"][0]) for g in opt.param_groups]
    return [float(g["momentum"]) for g in opt.param_groups]


class AppliedFields:
    """lr, momentum and weight decay of each group at every optimizer.step() (what it uses)."""

    def __init__(self, opt: torch.optim.Optimizer) -> None:
        self.seen: list[list[float]] = []

        def hook(o: torch.optim.Optimizer, a: Any, k: Any) -> None:
            self.seen.append([*lrs_of(o), *_momenta(o), *(float(g["weight_decay"]) for g in o.param_groups)])

        opt.register_step_pre_hook(hook)


def _two_groups(cls: type, **kw: Any) -> torch.optim.Optimizer:
    groups = [
        {"params": [torch.nn.Parameter(torch.zeros(2))]},
        {"params": [torch.nn.Parameter(torch.zeros(2))]},
    ]
    return cls(groups, lr=0.1, **kw)


@pytest.mark.parametrize(
    ("cls", "kw"), [(torch.optim.SGD, {"momentum": 0.9}), (torch.optim.AdamW, {}), (torch.optim.RMSprop, {})]
)
@pytest.mark.parametrize("three_phase", [False, True])
def test_momentum_is_applied_where_and_when_torch_one_cycle_applies_it(
    cls: type, kw: dict, three_phase: bool
) -> None:
    """Update k uses momentum(k), in the group entry torch's OneCycleLR writes (SGD/RMSprop:
    momentum; AdamW: betas[0]) — recorded by a step pre-hook on both optimizers."""
    n = 200
    ref_opt = _two_groups(cls, **kw)
    ref_seen = AppliedFields(ref_opt)
    torch_sched = tl.OneCycleLR(ref_opt, [0.1, 0.3], total_steps=n, three_phase=three_phase)
    lr = [lrs.one_cycle(0.1, n, three_phase=three_phase), lrs.one_cycle(0.3, n, three_phase=three_phase)]
    m = from_torch(torch_sched, field="momentum")
    opt = _two_groups(cls, **kw)
    seen = AppliedFields(opt)
    sched = ScheduleLR(opt, lr, momentum=list(m))
    _train(ref_opt, torch_sched, n - 1)
    _train(opt, sched, n - 1)
    assert np.abs(np.asarray(seen.seen) - np.asarray(ref_seen.seen)).max() <= 1e-12
    assert sched.fields == {"momentum": tuple(m)}


@pytest.mark.parametrize("mode", ["absolute", "multiplier"])
def test_any_numeric_field_per_group_in_either_mode(mode: str) -> None:
    """fields= drives any numeric group entry; field schedules give the value itself, also in
    multiplier mode; one schedule per group works as for the lr."""
    wd = [lrs.linear(0.0, 0.01, 10), lrs.constant(0.5)]
    m = lrs.cosine(0.99, 10, 0.9)
    opt = _two_groups(torch.optim.SGD, momentum=0.5)
    seen = AppliedFields(opt)
    sched = ScheduleLR(opt, lrs.exponential(1.0, 0.9), mode=mode, momentum=m, fields={"weight_decay": wd})
    _train(opt, sched, 12)
    got = np.asarray(seen.seen)
    k = np.arange(12)
    np.testing.assert_array_equal(got[:, 2], m.curve(12))
    np.testing.assert_array_equal(got[:, 3], m.curve(12))
    np.testing.assert_array_equal(got[:, 4], wd[0].curve(12))
    np.testing.assert_array_equal(got[:, 5], wd[1].curve(12))
    scale = 0.1 if mode == "multiplier" else 1.0
    np.testing.assert_allclose(got[:, 0], scale * 0.9**k, rtol=1e-15)


def test_fields_go_through_the_one_hot_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from lrsched_torch._common import Curve

    calls = {"apply": 0, "torch_update": 0}

    counting = _counter(calls)
    monkeypatch.setattr(Curve, "apply", counting("apply", Curve.apply))
    monkeypatch.setattr(tl.LRScheduler, "_update_lr", counting("torch_update", tl.LRScheduler._update_lr))
    opt = _two_groups(torch.optim.AdamW)
    m = lrs.linear(0.9, 0.8, 10)
    sched = ScheduleLR(opt, lrs.constant(0.1), momentum=m)
    assert calls == {"apply": 1, "torch_update": 0}
    _train(opt, sched, 5)
    assert calls == {"apply": 6, "torch_update": 0}
    assert _momenta(opt) == [float(m(5))] * 2


def test_subclass_overriding_get_lr_still_gets_its_fields() -> None:
    class Doubled(ScheduleLR):
        def get_lr(self) -> list[float]:
            return [2 * v for v in super().get_lr()]

    opt = make_opt([0.1])
    sched = Doubled(opt, lrs.constant(0.1), fields={"weight_decay": lrs.linear(0.0, 1.0, 4)})
    _train(opt, sched, 2)
    assert lrs_of(opt) == [0.2] and opt.param_groups[0]["weight_decay"] == 0.5


def test_tensor_field_values_are_filled_in_place() -> None:
    opt = make_opt([0.1])
    wd = torch.tensor(0.0, dtype=torch.float64)
    opt.param_groups[0]["weight_decay"] = wd
    sched = ScheduleLR(opt, lrs.constant(0.1), fields={"weight_decay": lrs.linear(0.0, 1.0, 4)})
    _train(opt, sched, 3)
    assert opt.param_groups[0]["weight_decay"] is wd and float(wd) == 0.75


@pytest.mark.parametrize("stop", [0, 7, 4100])
@pytest.mark.parametrize("via_file", [False, True])
def test_resume_continues_every_field(stop: int, via_file: bool) -> None:
    lr, m = (
        lrs.warmup_cosine(0.1, 10, 5000),
        lrs.one_cycle(0.85, 5000, div_factor=0.85 / 0.95, final_div_factor=1.0),
    )
    wd = lrs.linear(1e-4, 1e-2, 5000)
    opt = _two_groups(torch.optim.AdamW)
    sched = ScheduleLR(opt, lr, momentum=m, fields={"weight_decay": wd})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # skipping optimizer.step() to get far fast
        for _ in range(stop):
            sched.step()
    state = _roundtrip(sched.state_dict(), via_file)
    assert json.loads(state["lrsched"]["fields"]["momentum"][0]) == m.to_config()
    ref = AppliedFields(opt)
    _train(opt, sched, 20)
    opt2 = _two_groups(torch.optim.AdamW, betas=(0.5, 0.999), weight_decay=3.0)
    sched2 = ScheduleLR(opt2, lr, momentum=m, fields={"weight_decay": wd})
    sched2.load_state_dict(state)  # the optimizer's state is not loaded: the fields are set anyway
    resumed = AppliedFields(opt2)
    _train(opt2, sched2, 20)
    np.testing.assert_array_equal(np.asarray(resumed.seen), np.asarray(ref.seen))


def test_loading_a_state_with_other_fields_raises() -> None:
    s, m = lrs.constant(0.1), lrs.linear(0.9, 0.8, 10)
    with_m = ScheduleLR(make_opt([0.1]), s, momentum=m).state_dict()
    plain = ScheduleLR(make_opt([0.1]), s).state_dict()
    with pytest.raises(ValueError, match=r"driving the fields \['momentum'\].*drives \[\]"):
        ScheduleLR(make_opt([0.1]), s).load_state_dict(with_m)
    with pytest.raises(ValueError, match=r"driving the fields \[\]"):
        ScheduleLR(make_opt([0.1]), s, momentum=m).load_state_dict(plain)
    target = ScheduleLR(make_opt([0.1]), s, momentum=lrs.linear(0.9, 0.7, 10))
    with pytest.raises(
        ValueError, match="field 'momentum', param group 0: the state was saved for a different"
    ):
        target.load_state_dict(with_m)
    assert target.last_epoch == 0
    # a state saved before fields existed (no "fields" entry) drove the lr only
    old = {**plain, "lrsched": {k: v for k, v in plain["lrsched"].items() if k != "fields"}}
    ScheduleLR(make_opt([0.1]), s).load_state_dict(old)


def test_field_arguments_are_checked() -> None:
    s = lrs.constant(0.1)
    groups = [
        {"params": [torch.nn.Parameter(torch.zeros(1))], "foo": 1.0},
        {"params": [torch.nn.Parameter(torch.zeros(1))]},
    ]
    opt = torch.optim.SGD(groups, lr=0.1)
    with pytest.raises(ValueError, match="given twice, as momentum= and as fields"):
        ScheduleLR(opt, s, momentum=s, fields={"momentum": s})
    with pytest.raises(ValueError, match=r"unknown field 'bar'.*numeric entries: .*weight_decay"):
        ScheduleLR(opt, s, fields={"bar": s})
    with pytest.raises(ValueError, match="param group 1 has no 'foo' entry"):
        ScheduleLR(opt, s, fields={"foo": s})
    with pytest.raises(TypeError, match="'nesterov' holds False, not a number"):
        ScheduleLR(opt, s, fields={"nesterov": s})
    with pytest.raises(ValueError, match="'lr' cannot follow a field schedule"):
        ScheduleLR(opt, s, fields={"lr": s})
    with pytest.raises(ValueError, match=r"'betas' cannot follow.*momentum= drives betas\[0\]"):
        ScheduleLR(torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))]), s, fields={"betas": s})
    with pytest.raises(ValueError, match="Adagrad has neither 'momentum' nor 'betas'"):
        ScheduleLR(torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))]), s, momentum=s)
    with pytest.raises(ValueError, match="momentum: schedule has 3 entries but the optimizer has 2"):
        ScheduleLR(opt, s, momentum=[s, s, s])
    with pytest.raises(
        TypeError, match=r"fields\['weight_decay'\]: schedule must be an lrsched_jax schedule"
    ):
        ScheduleLR(opt, s, fields={"weight_decay": 0.1})
    with pytest.raises(TypeError, match="fields must be a dict"):
        ScheduleLR(opt, s, fields=[("weight_decay", s)])  # type: ignore[arg-type]
    # fields={"momentum": ...} is momentum=: betas[0] on Adam
    adam = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    ScheduleLR(adam, s, fields={"momentum": lrs.constant(0.5)})
    assert adam.param_groups[0]["betas"] == (0.5, 0.999)


# --- param groups added after construction ----------------------------------------------------------


def _param() -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.zeros(1))


def _lrs(opt: torch.optim.Optimizer) -> list[float]:
    return [float(g["lr"]) for g in opt.param_groups]


@pytest.mark.parametrize("mode", ["absolute", "multiplier"])
def test_an_added_param_group_follows_the_schedule(mode: str) -> None:
    """``add_param_group`` after the scheduler: the new group follows the one schedule from the
    moment it is added — torch's ``LambdaLR`` on an optimizer that had the group from the
    start, with the lr it was added with as its ``initial_lr`` (absolute mode: the schedule's
    value itself) — and the state round-trips through ``torch.save``/``weights_only``."""
    s = lrs.warmup_cosine(1.0, 3, 12)
    p0, p1 = _param(), _param()
    opt = torch.optim.SGD([{"params": [p0], "lr": 0.5}], lr=0.5, momentum=0.9)
    sched = ScheduleLR(opt, s, mode=mode, momentum=lrs.linear(0.95, 0.85, 12))
    # the reference: torch's own LambdaLR with the group there from the start
    ref_opt = torch.optim.SGD([{"params": [_param()], "lr": 0.5}, {"params": [_param()], "lr": 0.2}], lr=0.5)
    scale = [1.0, 1.0] if mode == "multiplier" else [1 / 0.5, 1 / 0.2]
    ref = tl.LambdaLR(ref_opt, [lambda k, f=f: f * float(s(k)) for f in scale])
    for _ in range(4):
        opt.step()
        sched.step()
        ref_opt.step()
        ref.step()
    opt.add_param_group({"params": [p1], "lr": 0.2})
    assert _lrs(opt) == pytest.approx(_lrs(ref_opt), rel=1e-15, abs=0)  # at once, before any step
    momenta = [g["momentum"] for g in opt.param_groups]
    assert momenta == [pytest.approx(0.95 - 0.1 * 4 / 12)] * 2
    assert sched.get_last_lr() == _lrs(opt)
    for _ in range(3):
        opt.step()
        sched.step()
        ref_opt.step()
        ref.step()
        assert _lrs(opt) == pytest.approx(_lrs(ref_opt), rel=1e-15, abs=0)
    buf = io.BytesIO()
    torch.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
    expected = []
    for _ in range(3):
        opt.step()
        sched.step()
        expected.append(_lrs(opt))
    # resumed: an optimizer built with both groups, or with one and extended afterwards
    for built_with_both in (True, False):
        buf.seek(0)
        saved = torch.load(buf, weights_only=True)
        groups = [{"params": [_param()], "lr": 0.5}]
        if built_with_both:
            groups.append({"params": [_param()], "lr": 0.2})
        opt2 = torch.optim.SGD(groups, lr=0.5, momentum=0.9)
        sched2 = ScheduleLR(opt2, s, mode=mode, momentum=lrs.linear(0.95, 0.85, 12))
        if not built_with_both:
            opt2.add_param_group({"params": [_param()], "lr": 0.2})
        opt2.load_state_dict(saved["opt"])
        sched2.load_state_dict(saved["sched"])
        seen = []
        for _ in range(3):
            opt2.step()
            sched2.step()
            seen.append(_lrs(opt2))
        assert seen == expected


def test_an_added_param_group_with_per_group_schedules_is_refused_clearly() -> None:
    """One schedule per group (a list): the schedule of an added group is not defined; the next
    step says what to do, and doing it (a new ScheduleLR at the current step) works."""
    opt = torch.optim.SGD([{"params": [_param()]}, {"params": [_param()]}], lr=0.1)
    a, b, c = lrs.constant(0.1), lrs.linear(0.2, 0.0, 10), lrs.constant(0.3)
    sched = ScheduleLR(opt, [a, b])
    opt.step()
    sched.step()
    opt.add_param_group({"params": [_param()], "lr": 0.7})
    opt.step()
    with pytest.raises(RuntimeError, match=r"one schedule per group for lr.*last_epoch=1"):
        sched.step()
    sched = ScheduleLR(opt, [a, b, c], last_epoch=1)  # continues at step 2
    assert _lrs(opt) == [0.1, float(b(2)), 0.3]
    # a per-group field schedule: the same
    opt = torch.optim.SGD([{"params": [_param()]}], lr=0.1, momentum=0.9)
    sched = ScheduleLR(opt, a, momentum=[lrs.constant(0.9)])
    opt.add_param_group({"params": [_param()]})
    opt.step()
    with pytest.raises(RuntimeError, match="one schedule per group for momentum"):
        sched.step()
