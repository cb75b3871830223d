"""The worked examples in the docstrings, the README and docs/ run as written; the README's
commands agree with CI; the docs' links resolve; the API reference builds offline."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lrsched_jax
import lrsched_torch
import lrtwin

ROOT = Path(__file__).resolve().parents[2]

#: The documentation whose python blocks must run: the README and every page of docs/.
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: The fence info that marks a python block as compiled only, not run: for code that needs an
#: environment a test cannot give it (torchrun's, a cluster's). Nothing else may follow the
#: word python on a fence, so a mistyped marker cannot skip a block silently.
NO_RUN = "no-run"
_FENCE = re.compile(r"^([ ]*)```([^\n]*)\n(.*?)^[ ]*```[ ]*$", flags=re.S | re.M)
_PYTHON_LANGS = {"python", "py", "python3", "py3", "pycon"}


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


def python_blocks(text: str) -> list[tuple[bool, str]]:
    """``(runs, code)`` for every python code block of a Markdown text, in order.

    A block fenced as ``python`` runs; one fenced as ``python no-run`` is only compiled. Any
    other info on a python-like fence (``py``, ``Python``, ``python norun``, ...) raises
    ValueError, so that no block escapes the tests by a typo. A fence indented inside a list
    item is dedented.
    """
    blocks = []
    for indent, info, body in _FENCE.findall(text):
        lang, _, rest = info.strip().partition(" ")
        if lang.lower() not in _PYTHON_LANGS:
            continue
        if lang != "python" or rest.strip() not in ("", NO_RUN):
            raise ValueError(f"python fence {info.strip()!r}: write python or python {NO_RUN}")
        code = textwrap.dedent("\n".join(line[len(indent) :] for line in body.splitlines()))
        blocks.append((rest.strip() != NO_RUN, code + "\n"))
    return blocks


def _blocks(runs: bool) -> list:
    return [
        pytest.param(path, i, id=f"{path.relative_to(ROOT)}:{i}")
        for path in DOC_FILES
        for i, (r, _) in enumerate(python_blocks(path.read_text()))
        if r is runs
    ]


@pytest.mark.parametrize(("path", "i"), _blocks(runs=True))
def test_python_blocks_run(path, i, tmp_path):
    code = python_blocks(path.read_text())[i][1]
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize(("path", "i"), _blocks(runs=False))
def test_no_run_blocks_compile(path, i):
    code = python_blocks(path.read_text())[i][1]
    compile(code, f"{path.name}, python block {i}", "exec")


def test_the_fence_convention():
    fence = "`" * 3
    text = textwrap.dedent(
        f"""\
        {fence}python
        print(1)
        {fence}
        {fence}sh
        ls
        {fence}
        * a list item:

          {fence}python {NO_RUN}
          worker()
          {fence}
        {fence}python
        s = "a string with {fence} inside"
        {fence}
        """
    )
    assert python_blocks(text) == [
        (True, "print(1)\n"),
        (False, "worker()\n"),
        (True, f's = "a string with {fence} inside"\n'),
    ]
    for info in ("py", "Python", "python norun", "python no-run extra"):
        with pytest.raises(ValueError, match="python fence"):
            python_blocks(f"{fence}{info}\nx = 1\n{fence}\n")
    for path in DOC_FILES:  # every page parses: no mistyped python fence anywhere
        python_blocks(path.read_text())


def test_readme_is_short_and_links_every_docs_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert {"finder.md", "porting.md", "precision.md", "data-parallel.md", "benchmarks.md"} <= set(pages)
    for page in pages:
        assert f"](docs/{page})" in text, f"the README does not link docs/{page}"


def _anchor(heading: str) -> str:
    # GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens.
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # code is not links
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        assert dest.exists(), f"{path.name}: link to {target!r}: no such file"
        if anchor and dest.suffix == ".md":
            headings = re.findall(r"^#+ (.*)$", dest.read_text(), flags=re.M)
            assert anchor in {_anchor(h) for h in headings}, f"{path.name}: no heading for {target!r}"


@pytest.mark.slow  # 20 s of pdoc on 2 cores
def test_api_reference_builds_offline(tmp_path):
    """The documented command builds the reference from the docstrings with pdoc (in the
    [dev] extra): one page per public module, the schedule factories documented under their
    public names."""
    assert "python docs/build_api.py" in (ROOT / "README.md").read_text()
    assert re.search(r'"pdoc[>=<~]', (ROOT / "pyproject.toml").read_text())
    out = tmp_path / "api"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "build_api.py"), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for page in (
        "index.html",
        "search.js",
        "lrsched_jax.html",
        "lrsched_jax/core.html",
        "lrsched_jax/core/families.html",
        "lrsched_jax/train.html",
        "lrsched_torch.html",
        "lrsched_torch/train.html",
        "lrtwin/cli.html",
    ):
        assert (out / page).is_file(), page
    assert not list(out.rglob("_*.html"))  # private modules stay out
    top = (out / "lrsched_jax.html").read_text()
    # lrs.cosine is the class Cosine under its public name: its docstring is on the top page
    entry = top[top.index('id="cosine"') :][:20_000]
    assert "CosineAnnealingLR" in entry


def test_ci_runs_the_readme_test_command():
    text = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)
    assert len(commands) == 2  # exactly two quick-start commands: the demo and the tests
    demo, tests = commands
    assert demo.endswith("lrtwin demo") and tests.endswith("python -m pytest")
    test_cmd = tests.split("&& pip install torch", 1)[1]
    assert "pip install torch" + test_cmd in (ROOT / ".ci" / "run").read_text()
