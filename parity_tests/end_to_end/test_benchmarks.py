"""Smoke test: ``python -m benchmarks --quick`` writes RESULTS.md and results.json with every
section, and every figure in them is a finite number."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _numbers(obj) -> list[float]:
    """Every number in a JSON value (booleans aside), NaN and infinities included, as the
    JSON parser meets them."""
    found: list[float] = []
    keep = lambda text: found.append(float(text))  # noqa: E731
    json.loads(json.dumps(obj), parse_float=keep, parse_int=keep, parse_constant=keep)
    return found


#: Sections whose --quick run takes minutes on 2 cores (many trainings each): the default
#: smoke run leaves them to the slow one, which runs just them.
HEAVY = ("suggestions", "arena", "tune")


def _quick_run(tmp_path, only):
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path), "--only", *only]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((tmp_path / "results.json").read_text()), (tmp_path / "RESULTS.md").read_text()


@pytest.mark.slow
def test_quick_heavy_sections_write_finite_numbers(tmp_path):
    from benchmarks.__main__ import SECTIONS

    results, md = _quick_run(tmp_path, HEAVY)
    for name, title, _ in SECTIONS:
        if name in HEAVY:
            assert f"## {title}" in md
            numbers = _numbers(results["sections"][name]["result"])
            assert numbers and all(math.isfinite(x) for x in numbers), name


# 150 s on 2 cores: with the tuner, the arena and the finder parity the default suite grew past
# its 10-minute budget, so the light sections' end-to-end run is -m slow too; the default run
# still checks that every section's documented command starts.
@pytest.mark.slow
def test_quick_benchmarks_write_every_section_with_finite_numbers(tmp_path):
    from benchmarks.__main__ import SECTIONS

    light = [name for name, _, _ in SECTIONS if name not in HEAVY]
    assert set(HEAVY) <= {name for name, _, _ in SECTIONS}
    results, md = _quick_run(tmp_path, light)
    assert set(results["sections"]) == set(light)
    for name, title, _ in SECTIONS:
        if name in HEAVY:
            continue
        assert f"## {title}" in md
        section = results["sections"][name]["result"]
        numbers = _numbers(section)
        assert numbers, name
        assert all(math.isfinite(x) for x in numbers), name
    for key in ("date", "cpu_count", "jax", "torch", "optax", "numpy", "lrtwin"):
        assert key in results["machine"]
    rows = results["sections"]["precision"]["result"]["rows"]
    assert max(r["ours_ulps"] for r in rows) <= 8


def _documented_command(name: str) -> list[str]:
    import importlib
    import re

    doc = importlib.import_module(f"benchmarks.{name}").__doc__
    found = re.search(r"python (-m benchmarks\.\w+|benchmarks/\w+\.py)", doc)
    assert found, f"benchmarks/{name}.py does not say how to run it alone"
    return found.group(1).split()


def test_every_section_runs_alone_as_its_docstring_says():
    """Each section's own command (from the repository root, as documented) parses its
    arguments; run as a plain script, a module importing ``benchmarks`` would not."""
    from benchmarks.__main__ import SECTIONS

    cmds = [[sys.executable, *_documented_command(name), "--help"] for name, _, _ in SECTIONS]
    # Side by side: each is mostly an import, one core's work.
    procs = [
        subprocess.Popen(c, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds
    ]
    for cmd, proc in zip(cmds, procs):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{' '.join(cmd[1:])}: {err[-2000:]}"
        assert "--quick" in out


COMMITTED = ("RESULTS.md", "results.json")


def _committed() -> dict[str, bytes]:
    return {name: (ROOT / "benchmarks" / name).read_bytes() for name in COMMITTED}


def test_default_output_is_a_fresh_folder_and_runs_from_anywhere(tmp_path):
    """Without --out the results go to a new folder in the current directory, never over the
    committed ones; the benchmarks folder runs as a script from outside the repository."""
    before = _committed()
    cmd = [sys.executable, str(ROOT / "benchmarks"), "--quick", "--only", "precision"]
    for _ in range(2):
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-4000:]
    folders = sorted(p for p in tmp_path.iterdir() if p.name.startswith("benchmark-results-"))
    assert len(folders) == 2  # a second run does not write over the first
    for folder in folders:
        assert set(json.loads((folder / "results.json").read_text())["sections"]) == {"precision"}
        assert "## 1. Precision" in (folder / "RESULTS.md").read_text()
    assert _committed() == before


def test_update_committed_is_a_full_run_only():
    before = _committed()
    for extra in (["--only", "precision"], ["--quick"]):
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks", "--update-committed", *extra],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2 and "--update-committed" in proc.stderr.splitlines()[-1]
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--update-committed", "--out", "x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "not allowed with" in proc.stderr
    assert _committed() == before


def test_device_vocabulary_and_gpu_checked_first(tmp_path):
    import torch

    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--device", "cuda"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 2 and "invalid choice" in proc.stderr and "'auto'" in proc.stderr
    if torch.cuda.is_available():
        return
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--device", "gpu", "--out", str(tmp_path / "r")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "--device gpu:" in lines[0], proc.stderr[-2000:]
    assert not (tmp_path / "r").exists()
