"""``lrsched_torch.attach``: the lr follows the optimizer's own update count (Optax's semantics).

The applied lr is measured from the update itself: a float64 parameter reset to 0 with
gradient 1 before each plain-SGD step ends at exactly ``-lr``.
"""

from __future__ import annotations

import gc
import io
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.optim import lr_scheduler as tl

import lrsched_jax as lrs
from lrsched_torch import COUNT_KEY, AttachHandle, ScheduleLR, attach


class Probe:
    """An SGD optimizer over float64 scalars whose step reveals each group's applied lr."""

    def __init__(self, bases: list[float]) -> None:
        self.params = [torch.nn.Parameter(torch.zeros((), dtype=torch.float64)) for _ in bases]
        groups = [{"params": [p], "lr": b} for p, b in zip(self.params, bases)]
        self.opt = torch.optim.SGD(groups, lr=bases[0])

    def step(self) -> list[float]:
        for p in self.params:
            p.data.zero_()
            p.grad = torch.ones((), dtype=torch.float64)
        self.opt.step()
        return [-p.item() for p in self.params]


def _save_load(state: dict[str, Any]) -> dict[str, Any]:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


SCHEDULES = [
    lrs.warmup_cosine(0.1, 10, 200, min_lr=1e-4),
    lrs.one_cycle(0.5, 150),
    lrs.step_decay(0.2, 7, 0.5),
    lrs.cyclic(0.01, 0.1, 9, mode="triangular2"),
]


@given(
    schedule=st.sampled_from(SCHEDULES),
    calls=st.lists(st.sampled_from([0, 1, 2]), min_size=1, max_size=120),
    other=st.sampled_from(["ScheduleLR", "StepLR", "OneCycleLR"]),
)
def test_skipped_and_doubled_scheduler_steps_cannot_desynchronise(
    schedule: lrs.Schedule, calls: list[int], other: str
) -> None:
    """Update k uses schedule(k) whatever another scheduler's step() calls do in between."""
    probe = Probe([0.3])
    if other == "ScheduleLR":
        sched: Any = ScheduleLR(probe.opt, lrs.exponential(1.0, 0.5))
    elif other == "StepLR":
        sched = tl.StepLR(probe.opt, 2, 0.1)
    else:
        # cycle_momentum=False: momentum would make the probe's update differ from lr * grad
        sched = tl.OneCycleLR(probe.opt, 1.0, total_steps=1000, cycle_momentum=False)
    handle = attach(probe.opt, schedule)
    applied = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's call-order warning for skipped steps
        for n in calls:
            applied.append(probe.step()[0])
            for _ in range(n):
                sched.step()
    np.testing.assert_array_equal(applied, schedule.curve(len(calls)))
    assert handle.count == len(calls) == probe.opt.param_groups[0][COUNT_KEY]
    handle.detach()


def test_group_lr_shows_the_next_update_and_multiplier_mode() -> None:
    s = lrs.piecewise_constant([2, 4], [1.0, 0.5, 0.25])
    probe = Probe([0.4, 0.1])
    handle = attach(probe.opt, [s, lrs.constant(1.0)], mode="multiplier")
    assert handle.mode == "multiplier" and handle.schedules == (s, lrs.constant(1.0))
    shown, applied = [], []
    for _ in range(6):
        shown.append([g["lr"] for g in probe.opt.param_groups])
        applied.append(probe.step())
    expected = [[0.4 * float(s(k)), 0.1] for k in range(6)]
    assert applied == expected and shown == expected
    assert [g["initial_lr"] for g in probe.opt.param_groups] == [0.4, 0.1]


@pytest.mark.parametrize("attach_before_load", [True, False])
@pytest.mark.parametrize("mode", ["absolute", "multiplier"])
def test_count_survives_an_optimizer_state_dict_round_trip(attach_before_load: bool, mode: str) -> None:
    s = SCHEDULES[0]
    probe = Probe([0.1, 0.05])
    handle = attach(probe.opt, s, mode=mode)
    first = [probe.step() for _ in range(37)]
    state = _save_load(probe.opt.state_dict())
    assert [g[COUNT_KEY] for g in state["param_groups"]] == [37, 37]
    rest = [probe.step() for _ in range(20)]
    handle.detach()

    fresh = Probe([9.0, 9.0])  # other lrs: the loaded state decides
    if attach_before_load:
        h2 = attach(fresh.opt, s, mode=mode)
        fresh.opt.load_state_dict(state)
    else:
        fresh.opt.load_state_dict(state)
        h2 = attach(fresh.opt, s, mode=mode)
    assert h2.count == 37
    assert [g["lr"] for g in fresh.opt.param_groups] == rest[0]  # applied on load, before any step
    resumed = [fresh.step() for _ in range(20)]
    assert resumed == rest
    bases = [1.0, 1.0] if mode == "absolute" else [0.1, 0.05]
    np.testing.assert_array_equal(np.asarray(first + rest), np.outer(s.curve(57), bases))
    h2.detach()


def _opt_snapshot(opt: torch.optim.Optimizer) -> str:
    return repr([{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups])


@pytest.mark.parametrize(
    "other",
    [
        dict(schedule=SCHEDULES[1]),
        dict(schedule=lrs.warmup_cosine(0.1, 10, 201, min_lr=1e-4)),
        dict(mode="multiplier"),
    ],
    ids=["other-family", "other-horizon", "other-mode"],
)
def test_a_count_saved_under_another_schedule_is_refused(other: dict) -> None:
    """As ScheduleLR.load_state_dict refuses another schedule's state: loading into an attached
    optimizer (before torch loads anything) and attaching to loaded groups both raise, naming
    both schedules; the same schedule resumes as before."""
    s = SCHEDULES[0]
    probe = Probe([0.1])
    saving = attach(probe.opt, s)
    for _ in range(5):
        probe.step()
    state = _save_load(probe.opt.state_dict())
    saving.detach()
    theirs = other.get("schedule", s)
    mode = other.get("mode", "absolute")

    fresh = Probe([0.1])
    handle = attach(fresh.opt, theirs, mode=mode)
    before = _opt_snapshot(fresh.opt)
    with pytest.raises(ValueError, match="saved under another schedule") as info:
        fresh.opt.load_state_dict(state)
    assert repr(s) in str(info.value) and repr(theirs) in str(info.value)
    assert _opt_snapshot(fresh.opt) == before and handle.count == 0  # nothing was loaded
    handle.detach()

    unattached = Probe([0.1])
    unattached.opt.load_state_dict(state)
    with pytest.raises(ValueError, match=r"attach: param group 0: .*saved under another schedule"):
        attach(unattached.opt, theirs, mode=mode)
    h2 = attach(unattached.opt, s)  # the saved schedule resumes at the saved count
    assert h2.count == 5 and unattached.step() == [float(s(5))]
    h2.detach()


def test_a_non_integer_count_in_a_loaded_state_is_refused_before_loading() -> None:
    probe = Probe([0.1])
    handle = attach(probe.opt, SCHEDULES[2])
    probe.step()
    state = _save_load(probe.opt.state_dict())
    before = _opt_snapshot(probe.opt)
    for bad in (float("nan"), 2.5, -1, True):
        state["param_groups"][0][COUNT_KEY] = bad
        with pytest.raises(ValueError, match=r"optimizer\.load_state_dict: param group 0.*'lrsched_count'"):
            probe.opt.load_state_dict(state)
        assert _opt_snapshot(probe.opt) == before
    handle.detach()


def test_attach_shares_the_scheduler_hot_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each optimizer.step() goes through Curve.apply — the function ScheduleLR.step() uses —
    twice (pre-hook: this update; post-hook: shows the next), reading the chunk evaluated ahead."""
    from lrsched_torch._common import Curve

    calls = {"apply": 0, "fill": 0, "single": 0}

    def counting(name: str, fn: Any) -> Any:
        def spy(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return fn(*args, **kwargs)

        return spy

    for name, attr in (("apply", "apply"), ("fill", "_fill"), ("single", "_single")):
        monkeypatch.setattr(Curve, attr, counting(name, getattr(Curve, attr)))
    s = SCHEDULES[0]
    for mode in ("absolute", "multiplier"):
        probe = Probe([0.1, 0.05])
        handle = attach(probe.opt, s, mode=mode)
        for k in calls:
            calls[k] = 0
        applied = [probe.step() for _ in range(100)]
        assert calls == {"apply": 200, "fill": 0, "single": 0}
        bases = [1.0, 1.0] if mode == "absolute" else [0.1, 0.05]
        np.testing.assert_array_equal(np.asarray(applied), np.outer(s.curve(100), bases))
        handle.detach()


def test_a_closure_that_raises_is_not_counted() -> None:
    probe = Probe([0.1])
    handle = attach(probe.opt, lrs.exponential(0.1, 0.5))

    def boom() -> float:
        raise RuntimeError("loss failed")

    with pytest.raises(RuntimeError, match="loss failed"):
        probe.opt.step(boom)
    assert handle.count == 0
    assert probe.step() == [0.1]
    handle.detach()


def test_detach_restores_normal_behaviour_and_reattach_continues() -> None:
    s = lrs.linear(0.1, 0.0, 10)
    probe = Probe([0.5])
    handle = attach(probe.opt, s)
    assert handle.attached and "attached" in repr(handle)
    for _ in range(3):
        probe.step()
    handle.detach()
    handle.detach()  # idempotent
    assert not handle.attached and "detached" in repr(handle)
    lr_after = probe.opt.param_groups[0]["lr"]
    assert lr_after == float(s(3))
    assert probe.step() == [lr_after] and probe.step() == [lr_after]  # no hook sets the lr any more
    assert probe.opt.param_groups[0][COUNT_KEY] == 3  # the count is kept, not advanced
    sched = tl.StepLR(probe.opt, 1, 0.5)  # a torch scheduler drives it normally now
    probe.step()
    sched.step()
    assert probe.opt.param_groups[0]["lr"] == lr_after * 0.5
    h2 = attach(probe.opt, s)  # allowed again; continues at the stored count
    assert probe.step() == [float(s(3))]
    h2.detach()


def test_second_attach_is_refused() -> None:
    probe = Probe([0.1])
    handle = attach(probe.opt, lrs.constant(0.1))
    with pytest.raises(RuntimeError, match="already has a schedule attached"):
        attach(probe.opt, lrs.constant(0.2))
    handle.detach()
    attach(probe.opt, lrs.constant(0.2)).detach()


def test_missing_count_after_loading_an_unattached_state() -> None:
    plain = Probe([0.1])
    state = plain.opt.state_dict()  # saved without an attachment: no count
    probe = Probe([0.1])
    handle = attach(probe.opt, lrs.exponential(0.1, 0.5))
    probe.opt.load_state_dict(state)
    with pytest.raises(RuntimeError, match=r"has no 'lrsched_count'.*handle\.count"):
        probe.step()
    handle.count = 2
    assert probe.opt.param_groups[0]["lr"] == 0.025
    assert probe.step() == [0.025]
    handle.detach()


def test_count_setter_and_group_changes() -> None:
    probe = Probe([0.1])
    handle = attach(probe.opt, lrs.constant(0.1))
    assert isinstance(handle, AttachHandle)
    with pytest.raises(TypeError, match="count must be an int"):
        handle.count = 1.5  # type: ignore[assignment]
    with pytest.raises(ValueError, match="count must be >= 0"):
        handle.count = -1
    probe.opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.1, COUNT_KEY: 0})
    with pytest.raises(RuntimeError, match="now has 2 param group"):
        probe.step()
    handle.detach()


def test_bad_arguments_name_the_argument() -> None:
    s = lrs.constant(0.1)
    with pytest.raises(TypeError, match=r"attach: optimizer must be a torch\.optim\.Optimizer"):
        attach("sgd", s)  # type: ignore[arg-type]
    probe = Probe([0.1, 0.2])
    with pytest.raises(TypeError, match="attach: schedule must be an lrsched_jax schedule"):
        attach(probe.opt, lambda k: 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="schedule has 1 entries but the optimizer has 2"):
        attach(probe.opt, [s])
    with pytest.raises(ValueError, match="attach: mode must be"):
        attach(probe.opt, s, mode="relative")
    probe.opt.param_groups[0][COUNT_KEY] = -3
    with pytest.raises(ValueError, match="invalid 'lrsched_count'"):
        attach(probe.opt, s)


def test_handle_outliving_its_optimizer() -> None:
    probe = Probe([0.1])
    handle = attach(probe.opt, lrs.constant(0.1))
    del probe
    gc.collect()
    with pytest.raises(RuntimeError, match="optimizer no longer exists"):
        _ = handle.count
    handle.detach()


# --- momentum and other fields -----------------------------------------------------------------------


def _hyper(opt: torch.optim.Optimizer) -> list[float]:
    """lr, momentum (betas[0] where torch's OneCycleLR puts it) and weight decay per group."""
    out = []
    for g in opt.param_groups:
        m = g["betas"][0] if "betas" in opt.defaults else g["momentum"]
        out += [float(g["lr"]), float(m), float(g["weight_decay"])]
    return out


def _applied(opt: torch.optim.Optimizer) -> list[list[float]]:
    """Registered after attach(): its pre-hook has set the values the update then uses."""
    seen: list[list[float]] = []
    opt.register_step_pre_hook(lambda o, a, k: seen.append(_hyper(o)))
    return seen


def _opt(cls: type, **kw: Any) -> torch.optim.Optimizer:
    groups = [
        {"params": [torch.nn.Parameter(torch.ones(2))]},
        {"params": [torch.nn.Parameter(torch.ones(2))]},
    ]
    return cls(groups, lr=0.1, **kw)


@pytest.mark.parametrize(("cls", "kw"), [(torch.optim.SGD, {"momentum": 0.9}), (torch.optim.AdamW, {})])
def test_momentum_follows_the_count_where_torch_one_cycle_puts_it(cls: type, kw: dict) -> None:
    """Update k uses momentum(k) — the momentum torch's OneCycleLR gives update k — with no
    scheduler.step(); a field schedule drives weight_decay the same way."""
    n = 120
    ref = _opt(cls, **kw)
    ref_seen = _applied(ref)
    torch_sched = tl.OneCycleLR(ref, 0.2, total_steps=n)
    for _ in range(n):
        ref.step()
        if torch_sched.last_epoch < n - 1:
            torch_sched.step()
    m = lrs.one_cycle(0.85, n, div_factor=0.85 / 0.95, final_div_factor=1.0)
    wd = [lrs.linear(0.0, 0.1, n), lrs.constant(0.01)]
    opt = _opt(cls, **kw)
    handle = attach(opt, lrs.one_cycle(0.2, n), momentum=m, fields={"weight_decay": wd})
    seen = _applied(opt)
    for _ in range(n):
        opt.step()
    got, want = np.asarray(seen), np.asarray(ref_seen)
    np.testing.assert_allclose(got[:, [0, 1, 3, 4]], want[:, [0, 1, 3, 4]], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got[:, 2], wd[0].curve(n))
    np.testing.assert_array_equal(got[:, 5], wd[1].curve(n))
    assert handle.fields == {"momentum": (m, m), "weight_decay": tuple(wd)}
    handle.detach()


@pytest.mark.parametrize("attach_before_load", [True, False])
def test_fields_resume_from_an_optimizer_state_dict(attach_before_load: bool) -> None:
    lr, m = lrs.warmup_cosine(0.1, 5, 100), lrs.linear(0.95, 0.85, 60)
    opt = _opt(torch.optim.AdamW)
    handle = attach(opt, lr, momentum=m)
    seen = _applied(opt)
    for _ in range(30):
        opt.step()
    state = _save_load(opt.state_dict())
    for _ in range(10):
        opt.step()
    handle.detach()

    fresh = _opt(torch.optim.AdamW, betas=(0.1, 0.5))  # other betas: the attachment decides beta1
    if attach_before_load:
        h2 = attach(fresh, lr, momentum=m)
        fresh.load_state_dict(state)
    else:
        fresh.load_state_dict(state)
        h2 = attach(fresh, lr, momentum=m)
    resumed = _applied(fresh)
    for _ in range(10):
        fresh.step()
    assert h2.count == 40 and resumed == seen[30:]
    h2.detach()


def test_a_count_saved_under_another_momentum_schedule_is_refused() -> None:
    lr, m = lrs.constant(0.1), lrs.linear(0.95, 0.85, 60)
    opt = _opt(torch.optim.SGD, momentum=0.9)
    handle = attach(opt, lr, momentum=m)
    opt.step()
    state = _save_load(opt.state_dict())
    handle.detach()
    for other in (
        {},
        {"momentum": lrs.linear(0.95, 0.8, 60)},
        {"fields": {"weight_decay": lrs.constant(0.0)}},
    ):
        fresh = _opt(torch.optim.SGD, momentum=0.9)
        h = attach(fresh, lr, **other)
        with pytest.raises(ValueError, match=r"(?s)another schedule.*saved: .*fields \{'momentum'"):
            fresh.load_state_dict(state)
        h.detach()
        fresh.load_state_dict(state)
        with pytest.raises(ValueError, match=r"attach: param group 0: .*saved under another schedule"):
            attach(fresh, lr, **other)
    fresh = _opt(torch.optim.SGD, momentum=0.9)
    fresh.load_state_dict(state)
    assert attach(fresh, lr, momentum=m).count == 1


def test_field_arguments_are_checked_by_attach() -> None:
    s = lrs.constant(0.1)
    opt = _opt(torch.optim.SGD)
    with pytest.raises(ValueError, match="attach: the momentum schedule is given twice"):
        attach(opt, s, momentum=s, fields={"momentum": s})
    with pytest.raises(ValueError, match="attach: fields\\['bar'\\]: unknown field 'bar'"):
        attach(opt, s, fields={"bar": s})
    with pytest.raises(ValueError, match="attach: momentum: Adagrad has neither"):
        attach(torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))]), s, momentum=s)
    attach(opt, s).detach()  # nothing was left attached by the refused calls
