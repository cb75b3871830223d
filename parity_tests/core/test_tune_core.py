"""The tuner's framework-neutral half (:mod:`lrsched_jax.core.tune`): the candidates read off a
sweep, the rungs' plan and the budget, the survivors, the bookkeeping of trials and cost, the
result type (strict JSON, table, plot) and the time-compressed probe schedule. A probe here is
a plain function of the schedules (a known metric per lr), so every decision can be checked
by hand; training is the glue tests' business. Nothing here imports JAX or torch.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import matplotlib
import numpy as np
import pytest

import lrsched_jax.core as core
from lrsched_jax.core.tune import (
    DEFAULT_POLICY,
    Policy,
    TuneResult,
    anchor,
    check_candidates,
    compress,
    lattice,
    lowest_within_se,
    search,
    sweep_order,
)
from lrsched_jax.core.validate import place

matplotlib.use("Agg")

EPOCHS, STEPS = 8, 10  # a full run: 80 updates


def _peak(s: core.Schedule) -> float:
    """The peak lr of a candidate's (possibly compressed) constant or one-cycle schedule."""
    return float(np.max(s.curve(EPOCHS * STEPS)))


def make_probe(best_short: float, best_full: float, calls: list, diverge_above: float = math.inf, gain=0.0):
    """A probe whose metric peaks (at 1) at ``best_short`` in short rungs and (at ``1 + gain``)
    at ``best_full`` in the full run; lrs above ``diverge_above`` diverge. Records each call's
    (peaks, epochs)."""

    def probe(scheds, ep):
        peaks = [_peak(s) for s in scheds]
        calls.append((peaks, ep))
        best, top = (best_full, 1 + gain) if ep == EPOCHS else (best_short, 1.0)
        metric = np.array([[top - abs(math.log10(p / best)) / 10] for p in peaks])
        div = np.array([[p > diverge_above] for p in peaks])
        return np.where(div, np.nan, metric), div

    return probe


def run(cands, probe, budget=3.0, **kw):
    kw.setdefault("schedule", core.constant)
    kw.setdefault("seeds", [0])
    with place("tune_lr"):
        return search(
            framework="test", candidates=cands, epochs=EPOCHS, steps_per_epoch=STEPS,
            budget=budget, mode="max", probe=probe, **kw,
        )  # fmt: skip


CANDS = lattice(1e-3, 1.0, 0.5)  # 1e-3, 3.16e-3, ..., 1


def test_lattice_and_anchor():
    assert CANDS == pytest.approx([10 ** (k / 2) for k in range(-6, 1)])
    assert lattice(0.2, 0.25, 0.5) == pytest.approx([10**-0.5])  # none inside: the nearest
    lrs = np.logspace(-5, 1, 60)
    # A V-shaped raw loss with a spike: the centred median ignores the spike and has no lag.
    losses = np.abs(np.log10(lrs) + 1.0) + 1.0
    losses[20] = 0.0
    losses[50:] = np.nan
    # within two sweep steps (0.2 decade) of the V's vertex at 0.1, the spike at 1e-3 ignored
    assert abs(math.log10(anchor(lrs, losses)) + 1.0) <= 0.21
    assert anchor(lrs, np.full(60, np.nan)) is None


def test_a_best_probe_that_ends_worse_at_full_length_steps_down_by_the_probes_share():
    # Short probes prefer 0.1; the full run (8x longer) prefers 0.01. The best probe's full run
    # ends worse than its probe, so the second survivor is a decade below it (log10 8 = 0.9
    # decades, two half-decade steps), not the second-best probe.
    calls = []
    res = run(CANDS, make_probe(0.1, 0.01, calls))
    assert res.lr == pytest.approx(0.01)
    (_, e0), (p1, e1), (p2, e2) = calls
    assert e0 == 1 and e1 == e2 == EPOCHS  # rung 0: an eighth of the run; the last: the full run
    assert p1 == pytest.approx([0.1]) and p2 == pytest.approx([0.01])
    assert "lower by the probe's share" in res.notes[0]
    assert res.rungs[1]["lrs"] == pytest.approx([0.01, 0.1])
    # Each (candidate, seed) is a trial; the updates and the cost are counted.
    assert len(res.trials) == len(CANDS)
    trained = {t.lr: t.updates for t in res.trials}
    assert trained[0.1] == 10 + 80 and trained[1e-3] == 10
    assert res.cost == pytest.approx((7 * 10 + 2 * 80) / 80)
    assert [r["epochs"] for r in res.rungs] == [1, EPOCHS]
    # The two best probes (0.1 and 0.0316) cannot reach 0.01.
    top = run(CANDS, make_probe(0.1, 0.01, []), policy=Policy(pick="top"))
    assert top.lr == pytest.approx(10**-1.5)


def test_lowest_within_se_is_the_one_standard_error_rule_paired_by_seed():
    # rows: lrs in increasing order; columns: seeds. Row 2 is best (mean 0.70).
    probes = np.array([[0.40, 0.50, 0.45], [0.71, 0.60, 0.73], [0.70, 0.75, 0.65]])
    # row 1 - row 2 per seed: +0.01, -0.15, +0.08; mean -0.02, well within one error (0.068)
    assert lowest_within_se(probes, 1.0) == 1
    assert lowest_within_se(probes, 0.0) == 2  # the rule off: the best
    assert lowest_within_se(probes[:, 1:2], 1.0) == 2  # one seed: no error to measure
    # A consistent gap, even a small one, is not noise: paired by seed it has no spread.
    steady = np.array([[0.69, 0.74, 0.64], [0.70, 0.75, 0.65]])
    assert lowest_within_se(steady, 1.0) == 1
    # A row with a diverged seed never counts; nothing finite: None.
    assert lowest_within_se(np.array([[0.7, np.nan, 0.7], [0.70, 0.75, 0.65]]), 1.0) == 1
    assert lowest_within_se(np.full((2, 3), np.nan), 1.0) is None


def test_the_last_rung_starts_from_the_lowest_lr_within_one_standard_error():
    # Three seeds; the probes of 0.0316 and 0.1 differ by less than their noise, so the last
    # rung starts from 0.0316 (short probes favour high lrs); with se=0 it starts from 0.1.
    noise = {-1.5: [0.03, -0.04, 0.0]}  # by log10(lr): 0.0316 as good as 0.1 within the noise

    def probe(scheds, ep):
        peaks = [_peak(s) for s in scheds]
        calls.append((peaks, ep))
        best, slope = (10**-1.5, 10) if ep == EPOCHS else (0.1, 50)  # at full length 0.0316 wins
        jitter = [noise.get(round(math.log10(p), 3), [0.0] * 3) for p in peaks]
        rows = [[1 - abs(math.log10(p / best)) / slope + n for n in j] for p, j in zip(peaks, jitter)]
        return np.array(rows), np.zeros((len(peaks), 3), bool)

    calls = []
    res = run(CANDS, probe, seeds=[0, 1, 2])
    assert calls[1][0] == pytest.approx([10**-1.5]) and res.lr == pytest.approx(10**-1.5)
    assert "standard error" in res.notes[0]
    calls = []
    off = run(CANDS, probe, seeds=[0, 1, 2], policy=Policy(se=0))
    assert calls[1][0] == pytest.approx([0.1]) and not any("standard error" in n for n in off.notes)


def test_a_best_probe_that_gains_at_full_length_keeps_the_second_best_probe():
    calls = []
    res = run(CANDS, make_probe(0.1, 0.1, calls, gain=0.1))
    assert [p for p, _ in calls[1:]] == [pytest.approx([0.1]), pytest.approx([10**-1.5])]
    assert res.lr == pytest.approx(0.1) and res.notes == []


def test_a_best_probe_that_diverges_at_full_length_steps_down():
    def probe(scheds, ep):
        peaks = [_peak(s) for s in scheds]
        metric = np.array([[1 - abs(math.log10(p / 0.1)) / 10] for p in peaks])
        div = np.array([[ep == EPOCHS and p > 0.05] for p in peaks])
        return np.where(div, np.nan, metric), div

    res = run(CANDS, probe)
    assert res.lr == pytest.approx(0.01) and "lower by the probe's share" in res.notes[0]
    assert next(t for t in res.trials if t.lr == 0.1).diverged == 1


def test_a_step_down_to_an_lr_whose_probe_diverged_is_judged_by_its_full_run():
    def probe(scheds, ep):
        peaks = [_peak(s) for s in scheds]
        best = 0.01 if ep == EPOCHS else 0.1
        metric = np.array([[1 - abs(math.log10(p / best)) / 10] for p in peaks])
        div = np.array([[ep < EPOCHS and p == pytest.approx(0.01)] for p in peaks])
        return np.where(div, np.nan, metric), div

    res = run(CANDS, probe)
    assert res.lr == pytest.approx(0.01) and res.score(0.01, 1) == pytest.approx(1.0)


def test_the_step_down_stays_among_the_users_candidates():
    # lrs= given (no sweep, extend=False): the step lands on the user's candidate nearest a
    # decade below the best probe, and no candidate is added.
    cands = [1e-3, 0.02, 0.05, 0.1]
    calls = []
    res = run(cands, make_probe(0.1, 0.005, calls))
    assert res.candidates == cands and calls[2][0] == pytest.approx([0.02]) and res.lr == 0.02
    # With a sweep's lattice (extend=True) it is the lattice lr, added where it was not probed.
    res = run(lattice(0.03, 1.0, 0.5), make_probe(0.1, 0.01, []), extend=True)
    assert 0.01 in res.candidates and res.lr == pytest.approx(0.01)
    assert res.score(0.01, 0) is None and res.score(0.01, 1) is not None


def test_below_keeps_the_best_probe_and_the_one_under_it():
    calls = []
    res = run(CANDS, make_probe(0.1, 10**-1.5, calls), policy=Policy(pick="below"))
    assert calls[1][0] == pytest.approx([10**-1.5, 0.1]) and res.lr == pytest.approx(10**-1.5)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"pick": "adaptve"}, "pick must be"),
        ({"spacing": 0.0}, "spacing must be a positive"),
        ({"first": 2.0}, "fractions of the run"),
        ({"keep": 0}, "keep must be an int >= 1"),
        ({"extend": -1}, "extend must be an int >= 0"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(bad, match):
    with pytest.raises(ValueError, match=match):
        Policy(**bad)


def test_top_two_keeps_the_best_probes():
    calls = []
    res = run(CANDS, make_probe(0.1, 10**-1.5, calls), policy=Policy(pick="top"))
    assert calls[1][0] == pytest.approx([0.1, 10**-0.5]) or calls[1][0] == pytest.approx([10**-1.5, 0.1])
    assert res.lr in (0.1, pytest.approx(10**-1.5))


def test_the_schedule_is_compressed_in_time_for_short_probes():
    calls, seen = [], []

    def probe(scheds, ep):
        seen.append((scheds, ep))
        return make_probe(0.1, 0.1, calls)(scheds, ep)

    run(CANDS, probe, schedule=lambda p: core.one_cycle(p, EPOCHS * STEPS))
    short, ep = seen[0]
    assert isinstance(short[0], compress) and short[0].factor == EPOCHS / ep
    t = np.arange(STEPS)
    np.testing.assert_allclose(short[0](t), short[0].schedule(t * 8.0), rtol=0, atol=0)
    full, _ = seen[1]
    assert isinstance(full[0], core.one_cycle)  # the full rung trains the schedule itself


def test_compress_is_a_schedule_with_a_config():
    s = compress(core.linear(1.0, 0.0, 100), factor=10)
    assert core.from_config(s.to_config()) == s
    assert s.upper_bound() == 1.0
    with pytest.raises(ValueError, match="factor"):
        compress(core.constant(1.0), factor=0.5)
    with pytest.raises(TypeError, match="schedule"):
        compress(lambda t: 1.0, factor=2)


def test_diverging_candidates_are_marked_and_lose():
    calls = []
    res = run(CANDS, make_probe(1.0, 1.0, calls, diverge_above=0.05))
    assert res.lr == pytest.approx(10**-1.5)  # the best that trains
    div = {t.lr: t.diverged for t in res.trials}
    assert div[1.0] == 0 and div[1e-3] is None
    assert "diverged" in res.table()
    json.dumps(res.to_dict(), allow_nan=False)


def test_all_diverging_gives_a_result_that_says_so():
    res = run(CANDS, make_probe(1.0, 1.0, [], diverge_above=0.0))
    assert res.lr is None and res.schedule is None
    assert any("every candidate diverged" in n for n in res.notes)
    assert "every candidate diverged" in res.table()
    json.dumps(res.to_dict(), allow_nan=False)


def test_budget_below_one_rung_is_refused_with_the_sizes():
    with pytest.raises(ValueError, match="below one rung"):
        run(CANDS, make_probe(0.1, 0.1, []), budget=0.1)
    # A tighter budget drops the candidates farthest from the anchor, and says so.
    res = run(CANDS, make_probe(0.1, 0.1, []), budget=2.5, anchor_lr=0.01)
    assert len(res.candidates) == 4 and 0.01 in res.candidates
    assert res.cost <= 2.5 and any("left out" in n for n in res.notes)


def test_bad_candidates_and_schedule_factories():
    with pytest.raises(ValueError, match=r"^tune_lr: lrs is empty"), place("tune_lr"):
        check_candidates([])
    with pytest.raises(ValueError, match="positive finite"), place("tune_lr"):
        check_candidates([0.1, -1.0])
    assert check_candidates([0.1, 0.01, 0.1]) == [0.01, 0.1]
    with pytest.raises(TypeError, match=r"schedule\(0.001\) must return an lrsched schedule"):
        run(CANDS, make_probe(0.1, 0.1, []), schedule=lambda p: p)
    # Too little for a full-length rung: one rung of short probes decides, and says so.
    res = run(CANDS, make_probe(0.1, 0.01, []), budget=1.0)
    assert res.lr == pytest.approx(0.1) and len(res.rungs) == 1 and "no full-length rung" in res.notes[0]
    res = run([0.1], make_probe(0.1, 0.1, []))
    assert res.lr == 0.1 and res.cost == 0 and "nothing to decide" in res.notes[0]


def test_result_json_table_and_plot():
    res = run(CANDS, make_probe(0.1, 0.1, []))
    doc = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert doc["lr"] == res.lr and doc["policy"] == DEFAULT_POLICY.__dict__
    assert doc["trials"][0]["metrics"][1] is None  # not trained in the full rung
    assert "←" in res.table()
    ax = res.plot()
    assert ax.get_xscale() == "log" and len(ax.get_lines()) == 3  # two rungs and the choice
    assert isinstance(res, TuneResult)


def test_sweep_order_is_the_arenas_batches():
    from lrsched_jax.core.arena import batch_order

    idx = sweep_order(3, 50, 8, 10)  # 6 batches per epoch: two epochs
    np.testing.assert_array_equal(idx[:48].reshape(6, 8), batch_order(3, 0, 50, 8))
    np.testing.assert_array_equal(idx[48:].reshape(6, 8), batch_order(3, 1, 50, 8))


def test_the_core_tuner_imports_neither_jax_nor_torch():
    code = "import sys, lrsched_jax.core.tune; print(sorted({'jax', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_last_rung_shorter_than_the_run_is_compressed_too():
    seen = []

    def probe(scheds, ep):
        seen.append((scheds, ep))
        return make_probe(0.1, 0.1, [])(scheds, ep)

    policy = Policy(final=0.5, keep=3, pick="top")
    res = run(CANDS, probe, schedule=lambda p: core.one_cycle(p, EPOCHS * STEPS), policy=policy)
    (_, e0), (last, e1) = seen
    assert (e0, e1) == (1, 4) and len(last) == 3
    assert all(isinstance(s, compress) and s.factor == 2.0 for s in last)
    assert res.rungs[1]["updates"] == 4 * STEPS
    assert res.cost == pytest.approx((7 * 10 + 3 * 40) / 80)


def test_a_best_probe_at_the_edge_probes_beyond_it():
    # The range read off the sweep stops at 1e-2, the best lr is 0.1: rung 0 steps up the
    # lattice (3.16e-2, then 0.1; at most Policy.extend = 2 steps).
    calls = []
    cands = lattice(1e-4, 1e-2, 0.5)
    res = run(cands, make_probe(0.1, 0.1, calls), extend=True, budget=6.0)
    added = [c for c in res.candidates if c not in cands]
    assert added == pytest.approx([10**-1.5, 0.1]) and res.lr == pytest.approx(0.1)
    assert [len(p) for p, _ in calls] == [5, 1, 1, 1, 1] and "edge" in res.notes[0]
    assert res.rungs[0]["lrs"] == res.candidates
    # Without extend (the user's own lrs=) the range is kept.
    res = run(cands, make_probe(0.1, 0.1, []), budget=6.0)
    assert res.candidates == cands and res.lr == pytest.approx(1e-2)
