"""Data parallel in JAX: with the same global batches, 4 devices (simulated on the CPU) give the
1-device results — the finder's lr sequence, stop step and suggestions identical, losses to
float32 tolerance — and so does a 2-host run (2 processes x 2 devices, ``jax.distributed``
over loopback) whose every host returns the same result.

The device count is fixed when JAX starts, so the runs happen in subprocesses
(``dp_jax_worker.py``) with ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` set
before JAX initialises; this process only compares what they wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from processes import free_port, run_together, worker_env

WORKER = Path(__file__).with_name("dp_jax_worker.py")


def _env(devices: int) -> dict[str, str]:
    env = worker_env()
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}".strip()
    env["JAX_PLATFORMS"] = "cpu"
    return env


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("dp") / "single.json"
    proc = subprocess.run(
        [sys.executable, str(WORKER), "single", str(out)],
        env=_env(4),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("dp_hosts")
    port = free_port()
    errors = run_together(
        [
            [sys.executable, str(WORKER), "host", str(pid), str(port), str(tmp / f"host{pid}.json")]
            for pid in (0, 1)
        ],
        timeout=300,
        env=_env(2),
    )
    assert not errors, "\n\n".join(errors)
    return [json.loads((tmp / f"host{pid}.json").read_text()) for pid in (0, 1)]


def assert_same_sweep(got: dict, ref: dict) -> None:
    """Identical lrs, stop step, reason and suggestions; losses to float32 tolerance."""
    assert got["stop_step"] == ref["stop_step"]
    assert got["stop_reason"] == ref["stop_reason"]
    assert got["lrs"] == ref["lrs"]
    assert got["suggestions"] == ref["suggestions"]
    losses, expected = np.asarray(got["losses"]), np.asarray(ref["losses"])
    # Reductions in another order: float32 rounding, amplified only once the sweep diverges.
    half = len(expected) // 2
    np.testing.assert_allclose(losses[:half], expected[:half], rtol=1e-5)
    np.testing.assert_allclose(losses, expected, rtol=2e-3)
    np.testing.assert_allclose(got["smoothed"], ref["smoothed"], rtol=2e-3)


def test_the_worker_saw_four_devices(single):
    assert single["devices"] == 4
    assert single["finder"]["1"]["stop_reason"] == "diverged"  # a decision that can flip, tested
    assert single["finder"]["1"]["stop_step"] < 59


@pytest.mark.parametrize("run", ["4-explicit", "4-auto", "mesh-of-1", "2x2", "presharded"])
def test_finder_in_memory_on_4_devices_matches_1_device(single, run):
    """Explicit and automatic mesh axes, a 1-device mesh, a 2x2 mesh split over "data", and
    data sharded beforehand (no mesh argument) all give the 1-device sweep."""
    assert_same_sweep(single["finder"][run], single["finder"]["1"])


def test_finder_shuffled_iterable_and_pure_forms_match_1_device(single):
    assert_same_sweep(single["finder_shuffled"]["4"], single["finder_shuffled"]["1"])
    for run in ("4", "presharded"):
        assert_same_sweep(single["finder_iterable"][run], single["finder_iterable"]["1"])
    # The iterable of the same batches is the in-memory sweep.
    assert_same_sweep(single["finder_iterable"]["4"], single["finder"]["1"])
    assert_same_sweep(single["finder_pure"]["4"], single["finder_pure"]["1"])


def test_finder_leaves_the_model_untouched_on_its_device(single):
    assert single["model_untouched"] is True
    assert single["model_still_on_one_device"] is True


@pytest.mark.parametrize("run", ["4-explicit", "4-auto"])
def test_train_epoch_on_4_devices_matches_1_device(single, run):
    got, ref = single["epochs"][run], single["epochs"]["1"]
    assert got["lrs"] == ref["lrs"]  # the schedule, in-graph from the replicated count
    np.testing.assert_allclose(got["losses"], ref["losses"], rtol=1e-5)
    ev, ev_ref = single["evaluate"][run], single["evaluate"]["1"]
    assert ev["accuracy"] == ev_ref["accuracy"]
    assert ev["loss"] == pytest.approx(ev_ref["loss"], rel=1e-5)
    assert single["trained_state_replicated"] is True


def test_train_step_and_placement(single):
    loss4, lr4 = single["train_step"]["4"]
    loss1, lr1 = single["train_step"]["1"]
    assert lr4 == lr1 and loss4 == pytest.approx(loss1, rel=1e-6)
    # A kernel the user sharded over the "model" axis stays so; the rest is replicated.
    assert single["user_placement_kept"] == "P(None, 'model')"
    assert single["others_replicated"] == "P(None, None)"


@pytest.mark.parametrize(
    "case, name",
    [
        ("finder_batch_size", "batch_size"),
        ("finder_all_samples", "batch_size"),
        ("finder_iterable_batch", "data"),
        ("epoch_batch_size", "batch_size"),
        ("train_step_x", "x"),
        ("data_axis_unknown", "data_axis"),
        ("data_axis_needed", "data_axis"),
        ("data_axis_without_mesh", "data_axis"),
    ],
)
def test_errors_name_the_argument(single, case, name):
    msg = single["errors"][case]
    assert msg.startswith("ValueError: ") and f": {name}" in msg, msg
    if "batch" in case or case.endswith("_x"):
        assert "does not split evenly over the 4 devices" in msg


def test_evaluate_any_number_of_samples(single):
    """510 samples on 4 devices: 508 sharded, 2 replicated, means combined by count; 3 samples:
    all replicated."""
    ev = single["evaluate_uneven"]
    for got, ref in ((ev["4"], ev["1"]), (ev["4-few"], ev["1-few"])):
        # The 1-device accuracy is a float32 mean; the combined one is computed in float64.
        assert got["accuracy"] == pytest.approx(ref["accuracy"], rel=1e-6)
        assert got["loss"] == pytest.approx(ref["loss"], rel=1e-6)


def test_mesh_must_be_a_mesh(single):
    assert single["errors"]["mesh_type"].startswith("TypeError: find_lr: mesh must be a jax.sharding.Mesh")


# 14 s on 2 cores: -m slow, to keep the default suite in its 10-minute budget (the arena's
# two-host run, parity_tests/jax_glue/test_compare.py, keeps jax.distributed in the default run).
@pytest.mark.slow
def test_two_hosts_agree_with_each_other_and_with_one_device(single, hosts):
    """2 processes x 2 devices, global arrays from each host's half: every host returns the same
    result (the stop rule ran on the replicated loss, the rules on identical host copies)."""
    h0, h1 = hosts
    assert h0 == h1
    assert_same_sweep(h0["finder"], single["finder"]["1"])
    assert_same_sweep(h0["finder_iterable"], single["finder"]["1"])
    assert h0["epochs"]["lrs"] == single["epochs"]["1"]["lrs"]
    np.testing.assert_allclose(h0["epochs"]["losses"], single["epochs"]["1"]["losses"], rtol=1e-5)
    assert h0["evaluate"]["accuracy"] == single["evaluate"]["1"]["accuracy"]
