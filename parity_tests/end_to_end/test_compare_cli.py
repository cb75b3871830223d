"""``lrtwin compare``: the JAX one-program run and the torch member-by-member run give the same
members with the same decisions; the outputs (compare.json, compare.png) and the folder rule;
errors exit 2 with one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from lrtwin.compare import MANIFEST

PNG = b"\x89PNG\r\n\x1a\n"
N_VAL = 359  # the digits' validation split


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "lrtwin.cli", "compare", "--no-progress", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    out = {}
    for name, extra in (("jax", []), ("torch", ["--framework", "torch", "--sequential"])):
        r = run("--quick", "--out", str(root / name), *extra)
        assert r.returncode == 0, r.stderr[-3000:]
        out[name] = (root / name, json.loads((root / name / "compare.json").read_text()), r.stdout)
    return out


def test_jax_one_program_and_torch_sequential_make_the_same_decisions(both):
    (_, jx, _), (_, tc, _) = both["jax"], both["torch"]
    assert (jx["framework"], jx["how"]) == ("jax", "one program")
    assert (tc["framework"], tc["how"]) == ("torch", "sequential")
    assert len(jx["members"]) == 8 * 3 == len(tc["members"])
    for a, b in zip(jx["members"], tc["members"]):
        assert (a["schedule"], a["seed"]) == (b["schedule"], b["seed"])
        # float32 noise between XLA's and torch's kernels: at most a sample's argmax apart
        assert abs(a["final_val_acc"] - b["final_val_acc"]) <= 1.5 / N_VAL
        assert a["steps_to_target"] == b["steps_to_target"]
    assert jx["verdicts"].keys() == tc["verdicts"].keys()
    for name in jx["verdicts"]:
        assert jx["verdicts"][name]["reached"] == tc["verdicts"][name]["reached"]


def test_outputs(both):
    folder, doc, stdout = both["jax"]
    assert (folder / "compare.png").read_bytes()[:8] == PNG
    assert json.loads((folder / MANIFEST).read_text())["written"] == ["compare.json", "compare.png"]
    assert doc["epochs"] == 5 and doc["seeds"] == [0, 1, 2] and doc["target_val_acc"] == 0.9
    assert doc["steps_per_epoch"] == 44 and doc["baseline"] == "fixed"
    m = doc["members"][0]
    assert {"schedule", "seed", "final_val_acc", "steps_to_target", "val_acc"} <= m.keys()
    assert m["final_val_acc"] == m["val_acc"][-1] and len(m["val_acc"]) == 5
    assert "| warm-up + cosine |" in stdout and "wrote" in stdout
    assert (doc["devices"], doc["processes"], doc["chunks"]) == (1, 1, 1)


def test_updates_to_target_resolve_between_epoch_ends(both):
    # Evaluated every 12 updates (after 12, 24, 36 and 44 of each epoch), not once per epoch:
    # most members reach the target between epoch ends, and the verdicts tell schedules apart.
    for name in ("jax", "torch"):
        _, doc, stdout = both[name]
        assert doc["eval_every"] == 12 and doc["eval_steps"][:5] == [12, 24, 36, 44, 56]
        steps = [m["steps_to_target"] for m in doc["members"]]
        assert sum(s is not None and s % 44 != 0 for s in steps) > len(steps) / 2
        assert len({v["speedup_vs_baseline"]["median"] for v in doc["verdicts"].values()}) > 1
        assert "checked every 12 updates" in stdout
    # Only JAX compiles: torch's line says what its loop is, with no compilation figure.
    assert "\ncompile " in both["jax"][2] and "nothing compiled" in both["torch"][2]
    assert "chunks" not in both["torch"][2]


def test_a_diverging_schedule_is_marked_then_a_rerun_replaces_its_own_folder(tmp_path):
    specs = ["constant:value=0.05", "constant:value=1e30"]
    r = run("--schedules", *specs, "--seeds", "2", "--epochs", "1", "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr[-3000:]
    text = (tmp_path / "o" / "compare.json").read_text()
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in compare.json"))
    bad = [m for m in doc["members"] if m["schedule"] == specs[1]]
    assert all(m["diverged_at"] is not None and "diverged" in m["note"] for m in bad)
    assert doc["verdicts"][specs[1]]["diverged"] == 2 and "2 diverged" in r.stdout
    assert (tmp_path / "o" / "compare.png").read_bytes()[:8] == PNG
    # Its own folder is replaced; without a constant schedule there is no baseline, and a note.
    specs = ["cosine:init_lr=0.05,total_steps=44", "linear:init_lr=0.05,end_lr=0.0005,total_steps=44"]
    r = run(
        "--schedules", *specs, "--seeds", "2", "--epochs", "1", "--sequential", "--out", str(tmp_path / "o")
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "note: no constant schedule" in r.stdout
    doc = json.loads((tmp_path / "o" / "compare.json").read_text())
    assert doc["schedules"] == specs and doc["how"] == "sequential" and doc["baseline"] is None
    assert [m["config"]["name"] for m in doc["members"]] == ["cosine"] * 2 + ["linear"] * 2


def test_baseline_flag(tmp_path):
    specs = ["cosine:init_lr=0.05,total_steps=44", "linear:init_lr=0.05,end_lr=0.0005,total_steps=44"]
    common = ("--schedules", *specs, "--seeds", "1", "--epochs", "1", "--eval-every", "22", "--target", "0.5")
    r = run(*common, "--baseline", specs[1], "--out", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads((tmp_path / "b" / "compare.json").read_text())
    assert doc["baseline"] == specs[1] and doc["eval_steps"] == [22, 44]
    assert doc["verdicts"][specs[1]]["speedup_vs_baseline"] is not None


def test_refuses_a_folder_it_did_not_create(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    r = run("--quick", "--out", str(tmp_path))
    assert r.returncode == 2 and "did not create" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--schedules", "nosuch:lr=1"], "--schedules 'nosuch:lr=1'"),
        (["--target", "1.5"], "--target"),
        (["--lr", "-1"], "--lr"),
        (["--seeds", "0"], "--seeds"),
        (["--baseline", "cosin"], "did you mean 'cosine'"),
        (["--eval-every", "0"], "--eval-every"),
        # Refused in seconds by the memory estimate, before any weights, training or folder.
        (["--seeds", "1000000"], "memory budget"),
        (["--epochs", "100000000"], "memory budget"),
        (["--quick", "--memory-budget", "0.0001"], "memory budget"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, message):
    t0 = time.perf_counter()
    r = run(*args, "--out", str(tmp_path / "x"))
    assert time.perf_counter() - t0 < 60  # seconds, not the hours or the 14 GB of a real run
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()


def test_torch_devices_2_starts_two_ranks_that_make_the_one_process_members(tmp_path):
    """``--framework torch --devices 2`` starts 2 gloo processes itself: rank 0 prints and writes,
    the members (split 2 + 2 over the ranks) are the ones a single process trains."""
    import torch

    from lrtwin.compare import _run, _schedules
    from lrtwin.demo.data import load_digits

    specs = ["constant:value=0.05", "cosine:init_lr=0.05,total_steps=88"]
    r = run("--framework", "torch", "--devices", "2", "--schedules", *specs, "--seeds", "2", "--epochs", "2",
            "--out", str(tmp_path / "o"))  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("| schedule |") == 1 and "members over 2 processes" in r.stdout
    doc = json.loads((tmp_path / "o" / "compare.json").read_text())
    assert (doc["processes"], doc["devices"], doc["how"]) == (2, 1, "one torch.func loop")
    threads = torch.get_num_threads()
    try:
        one = _run("torch", load_digits(), _schedules(specs, 0.05, 88), [0, 1], epochs=2, target=0.97,
                   optimizer="momentum", sequential=False, device="cpu", devices=1, progress=None,
                   baseline=None, eval_every=None, memory_budget=None)  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert [(m["schedule"], m["seed"]) for m in doc["members"]] == [(m.schedule, m.seed) for m in one.members]
    for got, ref in zip(doc["members"], one.members):
        assert got["eval_acc"] == ref.eval_metric and got["steps_to_target"] == ref.steps_to_target
        assert got["eval_loss"] == pytest.approx(ref.eval_loss, rel=1e-6)
        assert got["train_loss"] == pytest.approx(ref.train_loss, rel=1e-6)


def test_torch_devices_must_match_torchrun_world(tmp_path):
    import os

    env = dict(os.environ, WORLD_SIZE="3", RANK="0")
    r = subprocess.run(
        [sys.executable, "-m", "lrtwin.cli", "compare", "--framework", "torch", "--devices", "2", "--quick",
         "--out", str(tmp_path / "x")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert r.returncode == 2 and "under torchrun" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()


def test_a_failing_rank_stops_the_run_and_is_named(capfd):
    from lrtwin.compare import _spawn_ranks

    with pytest.raises(ChildProcessError, match=r"--devices 2: rank \d stopped \(exit code 1\)"):
        _spawn_ranks(2, {"framework": "nosuch"})
    # both ranks fail the same way; whichever the launcher sees first is named
    err = capfd.readouterr().err
    assert re.search(r"rank [01] of 2: ValueError: --framework must be jax or torch", err), err


def test_jax_devices_4_shards_the_members_and_records_it(tmp_path, both):
    # --quick's members over 4 simulated host devices: the one-device decisions, and compare.json
    # says where they ran.
    r = run("--quick", "--devices", "4", "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads((tmp_path / "o" / "compare.json").read_text())
    assert (doc["devices"], doc["processes"]) == (4, 1) and "members over 4 devices" in r.stdout
    one = both["jax"][1]
    assert [m["steps_to_target"] for m in doc["members"]] == [m["steps_to_target"] for m in one["members"]]
