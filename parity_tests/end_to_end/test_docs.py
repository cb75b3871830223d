"""The worked examples in the docstrings and the README run as written."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lrsched_jax
import lrsched_torch
import lrtwin

ROOT = Path(__file__).resolve().parents[2]


def modules():
    for pkg in (lrsched_jax, lrsched_torch, lrtwin):
        yield pkg.__name__
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            yield info.name


@pytest.mark.parametrize("name", sorted(modules()))
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def readme_blocks():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("i", range(len(readme_blocks())))
def test_readme_python_blocks_run(i, tmp_path):
    code = readme_blocks()[i]
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_ci_runs_the_readme_test_command():
    text = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)
    assert len(commands) == 2  # exactly two quick-start commands: the demo and the tests
    demo, tests = commands
    assert demo.endswith("lrtwin demo") and tests.endswith("python -m pytest")
    test_cmd = tests.split("&& pip install torch", 1)[1]
    assert "pip install torch" + test_cmd in (ROOT / ".ci" / "run").read_text()
