"""Smoke test: ``python -m benchmarks --quick`` writes RESULTS.md and results.json with every
section, and every figure in them is a finite number."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _numbers(obj):
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return
    if isinstance(obj, (int, float)):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _numbers(v)


def test_quick_benchmarks_write_every_section_with_finite_numbers(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    from benchmarks.__main__ import SECTIONS

    results = json.loads((tmp_path / "results.json").read_text())
    md = (tmp_path / "RESULTS.md").read_text()
    assert set(results["sections"]) == {name for name, _, _ in SECTIONS}
    for name, title, _ in SECTIONS:
        assert f"## {title}" in md
        section = results["sections"][name]["result"]
        numbers = list(_numbers(section))
        assert numbers, name
        assert all(math.isfinite(x) for x in numbers), name
    for key in ("date", "cpu_count", "jax", "torch", "optax", "numpy", "lrsched"):
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

    for name, _, _ in SECTIONS:
        cmd = [sys.executable, *_documented_command(name), "--help"]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{' '.join(cmd[1:])}: {proc.stderr[-2000:]}"
        assert "--quick" in proc.stdout
