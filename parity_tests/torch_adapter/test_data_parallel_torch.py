"""Data parallel in torch: 2 gloo processes on loopback with a ``DistributedDataParallel`` model
against a 1-process run on the same global batches (``dp_torch_worker.py``).

The finder's loss is the mean over the ranks: every rank stops at the same step and returns
the same result, identical to the 1-process run (float64: every decision; float32: losses to
float32 tolerance), and restores its state. A rank that raises — in its data, its loss
function or its update — makes every rank raise at once (no hang: collectives time out after
30 s, and the failures here take milliseconds). ``ScheduleLR`` and count-bound ``attach``
give every rank the 1-process lrs and resume from a rank-0 checkpoint.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from processes import free_port, run_together

WORKER = Path(__file__).with_name("dp_torch_worker.py")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ddp")
    port = str(free_port())
    errors = run_together(
        [[sys.executable, str(WORKER), str(rank), "2", port, str(out)] for rank in (0, 1)], timeout=240
    )
    assert not errors, "\n\n".join(errors)
    return {name: json.loads((out / f"{name}.json").read_text()) for name in ("rank0", "rank1", "reference")}


def assert_same_sweep(got: dict, ref: dict, rtol: float) -> None:
    assert got["lrs"] == ref["lrs"]
    assert got["stop_step"] == ref["stop_step"]
    assert got["stop_reason"] == ref["stop_reason"]
    assert got["suggestions"] == ref["suggestions"]
    np.testing.assert_allclose(got["losses"], ref["losses"], rtol=rtol)
    np.testing.assert_allclose(got["smoothed"], ref["smoothed"], rtol=rtol)


def test_every_rank_returns_the_same_results(runs):
    assert runs["rank0"]["finder"] == runs["rank1"]["finder"]
    assert runs["rank0"]["training"] == runs["rank1"]["training"]
    assert runs["rank0"]["jax_imported"] == runs["rank1"]["jax_imported"] == []


@pytest.mark.parametrize("case, rtol", [("f64", 1e-12), ("accumulation", 1e-12), ("validation", 1e-12)])
def test_finder_matches_one_process_float64(runs, case, rtol):
    """float64: the ranks' mean loss is the global batch's to ~1e-15, every decision matches."""
    ref = runs["reference"]["finder"][case]
    assert ref["stop_reason"] == "diverged"
    assert_same_sweep(runs["rank0"]["finder"][case], ref, rtol)


def test_finder_matches_one_process_float32(runs):
    got, ref = runs["rank0"]["finder"]["f32"], runs["reference"]["finder"]["f32"]
    half = len(ref["losses"]) // 2
    np.testing.assert_allclose(got["losses"][:half], ref["losses"][:half], rtol=1e-5)
    assert_same_sweep(got, ref, rtol=1e-3)


def test_finder_restores_state_on_every_rank(runs):
    for rank in ("rank0", "rank1"):
        assert runs[rank]["finder"]["f64_restored"] is True
        assert runs[rank]["finder"]["f32_restored"] is True


@pytest.mark.parametrize("kind", ["schedule_lr", "attach"])
def test_training_matches_one_process_and_resumes_from_rank0_checkpoint(runs, kind):
    """Two epochs, rank 0 saves, every rank resumes into fresh objects, a third epoch: the lrs
    are the uninterrupted 1-process run's exactly, losses and weights to float64 rounding."""
    got, ref = runs["rank0"]["training"][kind], runs["reference"]["training"][kind]
    assert got["lrs"] == ref["lrs"]
    np.testing.assert_allclose(got["losses"], ref["losses"], rtol=1e-12)
    for a, b in zip(got["params"], ref["params"]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert got["evaluate"]["accuracy"] == ref["evaluate"]["accuracy"]
    assert got["evaluate"]["loss"] == pytest.approx(ref["evaluate"]["loss"], rel=1e-12)


@pytest.mark.parametrize(
    "case, bad, own, quoted",
    [
        ("loss_on_rank_1", 1, "ValueError: boom in the loss on rank 1", "ValueError: boom in the loss"),
        ("data_on_rank_0", 0, "OSError: boom in the data on rank 0", "OSError: boom in the data"),
        (
            "step_on_rank_1",
            1,
            "RuntimeError: boom in the update on rank 1",
            "RuntimeError: boom in the update",
        ),
    ],
)
def test_a_rank_that_raises_makes_every_rank_fail_cleanly(runs, case, bad, own, quoted):
    for rank in (0, 1):
        seen = runs[f"rank{rank}"]["errors"][case]
        if rank == bad:
            assert seen["error"] == own
        else:
            assert seen["error"].startswith(
                f"RuntimeError: find_lr: stopped on every rank because rank(s) [{bad}]"
            )
            assert quoted in seen["error"]
        assert seen["seconds"] < 10  # far below the 30 s collective timeout: nobody waited
        assert seen["restored"] is True


def test_the_group_is_usable_after_failed_sweeps(runs):
    after = [runs[f"rank{r}"]["errors"]["after_errors"] for r in (0, 1)]
    assert after[0] == after[1] and after[0]["stop_reason"] == "diverged"


def test_training_helper_errors(runs):
    for rank in (0, 1):
        errors = runs[f"rank{rank}"]["errors"]
        assert errors["batch_size_63"].startswith("ValueError: train_epoch: batch_size: a global batch of 63")
        assert "ran out of batches" in errors["uneven_batches"] and "rank(s) [0]" in errors["uneven_batches"]
        expected = (
            "ValueError: boom in train_epoch on rank 1"
            if rank == 1
            else "RuntimeError: train_epoch: stopped on every rank because rank(s) [1] raised"
        )
        assert errors["train_epoch_error"].startswith(expected)
