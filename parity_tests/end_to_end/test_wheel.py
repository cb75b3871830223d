"""The distribution: ``python -m build`` makes an sdist and, from it, a wheel; the wheel installs
into a fresh virtual environment, its ``lrtwin`` command runs, and the torch side and the
core work there with the JAX stack absent.

Offline and fast: the build runs without isolation (the ``[dev]`` extra brings ``build`` and
a recent ``setuptools``), on a copy of the sources so nothing is written into the checkout.
The fresh environment has no pip and no packages of its own; ``pip --python`` installs the
wheel into it with ``--no-deps``, and one ``.pth`` line makes the running environment's
packages (NumPy, torch, matplotlib, ...) importable after the environment's own, so the
``lrtwin`` code that runs is the wheel's. (``venv --system-site-packages`` would not do:
made from a virtual environment, it exposes the *base* interpreter's packages.)
"""

from __future__ import annotations

import email.parser
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement

pytest.importorskip("build")

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lrsched_jax", "lrsched_torch", "lrtwin")
JAX_STACK = ("jax", "jaxlib", "flax", "optax", "orbax", "chex")

# Run first in the torch-only checks: any import of the JAX stack fails as if not installed.
NO_JAX = textwrap.dedent(
    f"""
    import importlib.abc, sys
    class _Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {JAX_STACK!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
    sys.meta_path.insert(0, _Absent())
    """
)


def _run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)], src)
    (wheel,) = out.glob("lrtwin-*-py3-none-any.whl")
    (sdist,) = out.glob("lrtwin-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    env = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env)], env.parent)
    py = env / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(dist["wheel"])],
        env,
    )
    purelib = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env)
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib.stdout.strip()) / "zz_parent_env.pth").write_text("\n".join(sorted(here)) + "\n")
    return env


def test_wheel_holds_the_three_packages_and_the_command(dist):
    with zipfile.ZipFile(dist["wheel"]) as z:
        names = z.namelist()
        meta = email.parser.Parser().parsestr(
            z.read(next(n for n in names if n.endswith("METADATA"))).decode()
        )
        entry = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    for must in ("lrsched_jax/core/__init__.py", "lrsched_torch/schedule_lr.py", "lrtwin/cli.py"):
        assert must in names
    for pkg in PACKAGES:
        assert f"{pkg}/py.typed" in names
    assert not [n for n in names if n.startswith(("parity_tests/", "benchmarks/", "docs/"))]
    assert "lrtwin = lrtwin.cli:main" in entry
    assert meta["Name"] == "lrtwin" and meta["License-Expression"] == "Apache-2.0"
    requires = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    # The frameworks are extras: a plain install brings NumPy's stack only.
    unconditional = {r.name for r in requires if r.marker is None}
    assert "numpy" in unconditional
    assert not unconditional & {"jax", "flax", "optax", "torch", "orbax-checkpoint"}
    for name, extra in (("jax", "jax"), ("flax", "jax"), ("optax", "jax"), ("torch", "torch")):
        assert any(
            r.name == name and r.marker is not None and r.marker.evaluate({"extra": extra}) for r in requires
        ), name


def test_sdist_holds_what_builds_the_wheel(dist):
    import tarfile

    with tarfile.open(dist["sdist"]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md", "lrsched_jax/train.py", "lrtwin/cli.py"} <= names


def test_installed_command_runs_from_the_wheel(venv, tmp_path):
    version = _run([str(venv / "bin" / "lrtwin"), "--version"], tmp_path)
    assert version.stdout.strip() == "lrtwin 0.1.0"
    where = _run([str(venv / "bin" / "python"), "-c", "import lrtwin; print(lrtwin.__file__)"], tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(venv)  # the wheel's code, not the checkout's


def test_torch_side_and_cli_plot_work_without_the_jax_stack(venv, tmp_path):
    script = NO_JAX + textwrap.dedent(
        """
        import numpy as np, torch
        import lrsched_jax.core as core
        import lrsched_jax as lrs
        from lrsched_torch import ScheduleLR, from_torch
        s = lrs.cosine(0.1, 10)
        opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        sched = ScheduleLR(opt, s)
        for _ in range(3):
            opt.step(); sched.step()
        assert sched.get_last_lr() == [float(s(3))], sched.get_last_lr()
        assert from_torch(torch.optim.lr_scheduler.StepLR(opt, 2)) is not None
        assert core.from_config(s.to_config()) == s
        from lrtwin.cli import main
        rc = main(["plot", "cosine:init_lr=0.1,total_steps=100", "-o", "c.png", "--csv", "c.csv"])
        assert rc == 0
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "flax", "optax")))
        """
    )
    proc = _run([str(venv / "bin" / "python"), "-c", script], tmp_path)
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "c.png").stat().st_size > 0
    rows = np.loadtxt(tmp_path / "c.csv", delimiter=",", skiprows=2)  # a "#" line, the header
    import lrsched_jax as lrs

    np.testing.assert_array_equal(rows[:, 1], lrs.cosine(0.1, 100)(rows[:, 0]))
