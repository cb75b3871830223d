"""The blocker CI uses to run ``parity_tests/core`` without JAX or torch
(``python -m pytest -p parity_tests.block_frameworks parity_tests/core``): with it the
frameworks cannot be imported, in the process and in the Python subprocesses it starts, while
the framework-neutral core imports and evaluates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import subprocess, sys
import parity_tests.block_frameworks
for name in ("jax", "torch", "optax", "flax", "jax.numpy"):
    try:
        __import__(name)
    except ImportError as e:
        assert "is blocked" in str(e), e
    else:
        raise AssertionError(name + " imported")
import lrsched_jax as lrs
assert abs(float(lrs.cosine(1.0, 10)(5)) - 0.5) < 1e-12
child = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True)
assert child.returncode != 0 and "torch is blocked" in child.stderr, child.stderr
print("ok")
"""


def test_blocker_blocks_the_frameworks_here_and_in_subprocesses_not_the_core():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
