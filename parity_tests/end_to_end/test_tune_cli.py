"""``lrtwin tune``: the choice, its cost and every trial printed, tune.json (strict JSON) and
tune.png written, ``--grid``'s regret, torch beside JAX, and bad input refused (exit 2, one
line) before anything is written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lrtwin.tune import MANIFEST, run_tune

PNG = b"\x89PNG\r\n\x1a\n"


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "lrtwin.cli", "tune", "--no-progress", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_jax_run_with_grid_prints_choice_cost_trials_and_regret(tmp_path):
    out = tmp_path / "o"
    r = run("--epochs", "2", "--seeds", "2", "--lrs", "0.03", "0.3", "--grid", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads((out / "tune.json").read_text(), parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert doc["framework"] == "jax" and doc["lr"] in (0.03, 0.3) and doc["cost"] <= 3.0
    assert len(doc["trials"]) == 4 and [r_["epochs"] for r_ in doc["rungs"]] == [1, 2]
    assert f"chosen lr: {doc['lr']}" in r.stdout and "cost " in r.stdout
    assert r.stdout.count("trial lr ") == 4 and "| lr | rung 0 (1 ep) | rung 1 (2 ep) |" in r.stdout
    assert len(doc["grid"]["val_acc"]) == 13 and "regret of the tuned lr" in r.stdout
    assert (out / "tune.png").read_bytes()[:8] == PNG
    assert json.loads((out / MANIFEST).read_text())["written"] == ["tune.json", "tune.png"]


@pytest.mark.slow
def test_torch_run(tmp_path):
    r = run("--framework", "torch", "--epochs", "2", "--lrs", "0.03", "0.3", "--out", str(tmp_path / "t"))
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads((tmp_path / "t" / "tune.json").read_text())
    assert doc["framework"] == "torch" and doc["lr"] in (0.03, 0.3)


def test_bad_input_exits_2_with_one_line(tmp_path):
    r = run("--budget", "0", "--out", str(tmp_path / "b"))
    assert r.returncode == 2 and "--budget" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"budget": 0}, "--budget"),
        ({"budget": 0.5, "epochs": 2, "lrs": [0.03, 0.3]}, "below one rung"),
        ({"budget": 0.3}, "below one rung"),  # the sweep's 100 updates leave too little
        ({"schedule": "step"}, "--schedule"),
        ({"optimizer": "lion"}, "--optimizer"),
        ({"lrs": []}, "lrs is empty"),
        ({"framework": "mx"}, "--framework"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        run_tune(out=tmp_path / "x", progress=False, **kw)
    assert not (tmp_path / "x").exists()
