"""A pytest plugin that makes JAX and torch (and the stacks built on them) unimportable, so
that a run shows which tests need only the framework-neutral core.

    python -m pytest -p parity_tests.block_frameworks parity_tests/core

(``python -m`` puts the repository root on ``sys.path``, where ``parity_tests`` is found.)
It blocks imports in the test process and, through ``PYTHONPATH``, in the Python
subprocesses the tests start (a ``sitecustomize`` that installs the same blocker).
"""

from __future__ import annotations

import importlib.abc
import os
import sys
import tempfile
from pathlib import Path

#: Top-level packages that must not be importable: the two frameworks and what needs them.
BLOCKED = ("jax", "jaxlib", "flax", "optax", "orbax", "torch", "keras", "transformers", "timm")


#: Set in the environment once subprocesses are blocked too.
_MARK = "LRTWIN_FRAMEWORKS_BLOCKED"


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in BLOCKED:
            raise ImportError(
                f"{name} is blocked (parity_tests/block_frameworks.py): the core needs no framework"
            )
        return None


def install() -> None:
    """Block the frameworks in this process (modules already imported stay: none should be)."""
    loaded = sorted(n for n in sys.modules if n.split(".")[0] in BLOCKED)
    if loaded:
        raise RuntimeError(f"block_frameworks: already imported before the block: {loaded[:5]}")
    if not any(isinstance(f, _Blocker) for f in sys.meta_path):
        sys.meta_path.insert(0, _Blocker())


def _block_subprocesses() -> None:
    if os.environ.get(_MARK):  # a subprocess: its parent set this up
        return
    os.environ[_MARK] = "1"
    site = Path(tempfile.mkdtemp(prefix="block_frameworks_"))
    here = Path(__file__).resolve().parent
    (site / "sitecustomize.py").write_text(
        f"import sys\nsys.path.insert(0, {str(here)!r})\n"
        "import block_frameworks\nblock_frameworks.install()\n"
    )
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))


install()
_block_subprocesses()
