"""``lrtwin demo --quick`` end to end: the files, the pictures, the summary, and the best
checkpoints — reloaded here, independently of the demo — evaluate to the recorded loss."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lrtwin.demo.report import SUMMARY_FIELDS

PICTURES = ("schedule_zoo.png", "fixed_vs_scheduled.png", "finder.png", "pipeline.png")


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    proc = subprocess.run(
        [sys.executable, "-m", "lrtwin.cli", "demo", "--quick", "--out", str(out), "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "| framework | schedule |" in proc.stdout  # the summary table, printed
    return out


def test_pictures_are_valid_pngs(demo_out):
    import matplotlib.image as mpimg

    for name in PICTURES:
        img = mpimg.imread(demo_out / name)
        assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 500
        assert img.std() > 0.01  # not blank


def test_summary_has_the_documented_fields_with_finite_numbers(demo_out):
    summary = json.loads((demo_out / "summary.json").read_text())
    rows = summary["rows"]
    assert {(r["framework"], r["schedule"]) for r in rows} == {
        (fw, s)
        for fw in ("jax", "torch")
        for s in ("fixed lr 0.1", "0.1·0.95^epoch", "cosine", "one-cycle (pipeline)", "one-cycle (tuned lr)")
    }
    for r in rows:
        assert tuple(r) == SUMMARY_FIELDS
        for k in ("final_val_loss", "final_val_acc", "best_val_acc", "wall_time_s", "first_epoch_s"):
            assert isinstance(r[k], float) and math.isfinite(r[k])
        assert r["steps_to_target"] is None or (
            isinstance(r["steps_to_target"], int) and r["steps_to_target"] > 0
        )
        if r["optimizer"] == "adamw":
            assert math.isfinite(r["suggested_lr"]) and r["suggested_lr"] > 0
    md = (demo_out / "summary.md").read_text()
    assert md.count("\n| jax |") == 5 and md.count("\n| torch |") == 5
    # a ported one-cycle recipe must know whether β1 cycled: the summary says it did not
    assert "AdamW's β1 stays 0.9 in both frameworks" in md
    # same weights, same batches: the frameworks agree to float32 training tolerance
    by = {(r["framework"], r["schedule"]): r for r in rows}
    for s in ("fixed lr 0.1", "cosine", "one-cycle (pipeline)"):
        assert by["jax", s]["final_val_loss"] == pytest.approx(by["torch", s]["final_val_loss"], rel=1e-3)


def test_tuned_lr_beside_the_finders_and_the_frameworks_choose_within_one_candidate(demo_out):
    """Step 4b: ``tune_lr`` chooses the pipeline's peak by training; its run is in the summary
    with the lr it chose. Same weights and batches in float32: JAX and torch choose the same
    candidate or a neighbour (half a decade apart)."""
    summary = json.loads((demo_out / "summary.json").read_text())
    by = {(r["framework"], r["schedule"]): r for r in summary["rows"]}
    tune = summary["meta"]["tune"]
    for fw in ("jax", "torch"):
        doc = tune[fw]
        assert doc["framework"] == fw and 0 < doc["cost"] <= 3.0
        assert by[fw, "one-cycle (tuned lr)"]["suggested_lr"] == doc["lr"]
        assert doc["lr"] in [t["lr"] for t in doc["trials"]]
        assert doc["sweep"] is not None  # the candidates came from the tuner's own sweep
    assert abs(np.log10(tune["jax"]["lr"] / tune["torch"]["lr"])) <= 0.5 + 1e-9
    assert "what `tune_lr` chose by training" in (demo_out / "summary.md").read_text()


def test_best_checkpoints_reload_to_the_recorded_validation_loss(demo_out):
    histories = json.loads((demo_out / "history.json").read_text())
    pipe = {h["framework"]: h for h in histories if h["name"] == "one-cycle (pipeline)"}
    from lrtwin.demo.data import load_digits

    data = load_digits()

    # torch: torch.save'd dict with epoch, model, optimizer state, val loss
    import torch

    from lrsched_torch.train import evaluate as torch_eval
    from lrtwin.demo.data import torch_mlp

    ck = torch.load(demo_out / "checkpoints" / "torch" / "best.pt", weights_only=True)
    assert set(ck) >= {"epoch", "model", "optimizer", "val_loss"}
    model = torch_mlp(0)
    model.load_state_dict(ck["model"])
    ev = torch_eval(model, (torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)))
    assert ck["epoch"] == pipe["torch"]["best_epoch"]
    assert (
        ev["loss"] == pytest.approx(ck["val_loss"], rel=1e-6) == pytest.approx(pipe["torch"]["best_val_loss"])
    )

    # JAX: an Orbax checkpoint of the same fields
    import orbax.checkpoint as ocp
    from flax import nnx

    from lrsched_jax.train import evaluate as jax_eval
    from lrtwin.demo.data import flax_mlp, initial_weights

    fresh = flax_mlp(initial_weights(0))
    with ocp.StandardCheckpointer() as ckpt:
        restored = ckpt.restore((demo_out / "checkpoints" / "jax" / "best").resolve())
    assert int(restored["epoch"]) == pipe["jax"]["best_epoch"]
    state = nnx.state(fresh)
    nnx.replace_by_pure_dict(state, restored["model"])
    nnx.update(fresh, state)
    ev = jax_eval(fresh, data.x_val, data.y_val)
    assert ev["loss"] == pytest.approx(float(restored["val_loss"]), rel=1e-6)
    assert ev["loss"] == pytest.approx(pipe["jax"]["best_val_loss"], rel=1e-6)
    # a checkpoint was saved before the one-cycle's phase change
    assert any("before_lr_change" in p for p in pipe["jax"]["checkpoints"])
    assert any(Path(p).exists() for p in pipe["torch"]["checkpoints"] if "before_lr_change" in p)


def _torch_demo(out: Path, **kw):
    cmd = [sys.executable, "-m", "lrtwin.cli", "demo", "--quick", "--framework", "torch", "--seed", "3"]
    cmd.append("--no-progress")
    return subprocess.run([*cmd, "--out", str(out)], capture_output=True, text=True, timeout=600, **kw)


def _rows(folder: Path, framework: str) -> dict[str, dict]:
    rows = json.loads((folder / "summary.json").read_text())["rows"]
    return {r["schedule"]: r for r in rows if r["framework"] == framework}


def test_seed_reproduces_and_a_rerun_keeps_the_users_other_files(demo_out, tmp_path):
    """The same seed gives the same numbers in a framework (the torch half of ``demo_out``, run
    again alone); a folder the demo wrote may be written again (its manifest says what is the
    demo's), and a file the user added beside is left alone."""
    out = tmp_path / "run"
    proc = _torch_demo(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "find_lr" not in proc.stderr and "%|" not in proc.stderr  # --no-progress: no bar at all
    first = _rows(demo_out, "torch")
    for name, r in _rows(out, "torch").items():
        np.testing.assert_equal(r["final_val_loss"], first[name]["final_val_loss"])
        np.testing.assert_equal(r["suggested_lr"], first[name]["suggested_lr"])
    (out / "notes.txt").write_text("mine")
    (out / "checkpoints" / "mine").mkdir()
    before = _rows(out, "torch")
    proc = _torch_demo(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "notes.txt").read_text() == "mine" and (out / "checkpoints" / "mine").is_dir()
    again = _rows(out, "torch")
    assert {k: r["final_val_loss"] for k, r in again.items()} == {
        k: r["final_val_loss"] for k, r in before.items()
    }
    assert not [p for p in out.rglob("*.partial")]  # no temporary checkpoint left behind


def test_ctrl_c_is_one_line_and_exit_130(tmp_path):
    import os
    import signal

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # the full run (seconds of training after its first progress bar), so the interrupt
    # always lands mid-run however fast the machine is
    cmd = [sys.executable, "-m", "lrtwin.cli", "demo", "--framework", "torch"]
    proc = subprocess.Popen(
        [*cmd, "--out", str(tmp_path / "o")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline()  # the first line: training starts
        assert header.startswith("lrtwin demo →"), header
        assert proc.stderr is not None
        first = proc.stderr.read(1)  # the first progress bar: training is under way
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        err = first + err
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "lrtwin demo: interrupted"


def test_arena_trains_the_comparison_over_seeds_in_both_frameworks(demo_out):
    import matplotlib.image as mpimg

    doc = json.loads((demo_out / "arena.json").read_text())
    schedules = ["fixed lr 0.1", "0.1·0.95^epoch", "cosine"]
    members = {}
    for fw in ("jax", "torch"):
        d = doc[fw]
        assert d["schedules"] == schedules and d["seeds"] == [3, 4, 5]  # from --seed 3, 3 seeds
        assert d["baseline"] == "fixed lr 0.1" and d["target_val_acc"] == 0.9
        if fw == "jax":
            assert d["how"] == "one program"
        assert {(m["schedule"], m["seed"]) for m in d["members"]} == {
            (s, k) for s in schedules for k in (3, 4, 5)
        }
        for m in d["members"]:
            assert len(m["val_acc"]) == 6 and 0 < m["final_val_acc"] <= 1
            members[fw, m["schedule"], m["seed"]] = m
        assert set(d["verdicts"]) == set(schedules)
        img = mpimg.imread(demo_out / f"arena_{fw}.png")
        assert img.ndim == 3 and img.std() > 0.01
    # Same initial weights and batches per member: the frameworks train the same members.
    for (fw, s, k), m in members.items():
        if fw == "jax":
            t = members["torch", s, k]
            assert m["val_loss"][-1] == pytest.approx(t["val_loss"][-1], rel=1e-3)
    md = (demo_out / "summary.md").read_text()
    assert "## Across 3 seeds (the schedule arena)" in md
    assert md.count("| schedule | reached |") == 2  # a verdict table per framework
