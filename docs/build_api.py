"""Build lrsched's API reference from the docstrings, offline, with pdoc.

    python docs/build_api.py [-o DIR]

writes one HTML page per public module of ``lrsched_jax``, ``lrsched_torch`` and ``lrtwin``
(plus ``index.html`` and a search index) into ``DIR`` (default ``build/api``, which git
ignores: the reference is generated, never committed). pdoc comes with the ``[dev]`` extra.

Why a script rather than a bare ``pdoc lrsched_jax lrsched_torch lrtwin``: pdoc follows a
package's ``__all__``, and lists a submodule only when ``__all__`` names it. lrsched's
packages define ``__all__`` as their public names, so pdoc alone would document three pages
and none of the submodules (``lrsched_jax.core``, ``lrsched_jax.train``,
``lrsched_torch.train``, ...). This script names every public module for it: each module
under the three packages whose dotted path has no component starting with ``_``.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: The packages the reference covers, in the order of the index page.
PACKAGES = ("lrsched_jax", "lrsched_torch", "lrtwin")
#: Under the repository root (this file's parent's parent).
DEFAULT_OUT = Path("build") / "api"


def public_modules(packages: Sequence[str] = PACKAGES) -> list[str]:
    """Every public module of ``packages``: the packages themselves and each submodule whose
    dotted name has no component starting with ``_`` (``lrsched_jax.core._math`` and
    ``lrtwin.__main__`` are private). Packages first, each followed by its submodules sorted."""

    names: list[str] = []
    for pkg_name in packages:
        if not isinstance(pkg_name, str) or not pkg_name:
            raise TypeError(f"public_modules: packages must be module names, got {pkg_name!r}")
        pkg = importlib.import_module(pkg_name)
        names.append(pkg_name)
        subs = [
            info.name
            for info in pkgutil.walk_packages(pkg.__path__, pkg_name + ".")
            if not any(part.startswith("_") for part in info.name.split("."))
        ]
        names.extend(sorted(subs))
    return names


def _document_aliases(module: Any) -> None:
    """Give every class bound under a second name its class's documentation.

    lrsched's public spelling of a schedule is its snake_case factory, bound to the class
    (``cosine = Cosine``). pdoc renders a class under a name that is not its own as a bare
    variable (``cosine = <class ...>``, no docstring), which would hide the formula, the
    boundary rule and the counterparts from the page a reader looks at; this documents it as
    the class, under the public name.
    """
    from pdoc import doc

    for name, member in list(module.members.items()):
        if not isinstance(member, doc.Variable):
            continue
        obj = getattr(module.obj, name, None)
        if inspect.isclass(obj) and obj.__name__ != name:
            module.members[name] = doc.Class(module.modulename, member.qualname, obj, member.taken_from)


def build(out: Path, modules: Sequence[str] | None = None) -> Path:
    """Render ``modules`` (default: :func:`public_modules`) into ``out``: one page per module,
    ``index.html`` and ``search.js``; return the path of ``index.html``. Docstrings are read as
    lrsched writes them: Google-style sections (``Args:``, ``Attributes:``) and
    reStructuredText roles (``:func:`x``` renders as ``x()``, linked when it names a
    documented object). This is :func:`pdoc.pdoc` with :func:`_document_aliases` applied."""
    from pdoc import doc, extract, render

    if not isinstance(out, Path):
        raise TypeError(f"build: out must be a pathlib.Path, got {type(out).__name__}")
    mods = public_modules() if modules is None else list(modules)
    render.configure(docformat="google", show_source=True, search=True)
    all_modules: dict[str, Any] = {}
    for name in extract.walk_specs(mods):
        all_modules[name] = doc.Module.from_name(name)
        _document_aliases(all_modules[name])
    for name, module in all_modules.items():
        page = out / f"{name.replace('.', '/')}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(render.html_module(module, all_modules), encoding="utf-8")
    index = out / "index.html"
    index.write_text(render.html_index(all_modules), encoding="utf-8")
    (out / "search.js").write_text(render.search_index(all_modules), encoding="utf-8")
    return index


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python docs/build_api.py",
        description="Build the API reference (HTML) from the docstrings with pdoc, offline.",
    )
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        default=None,
        help=f"output folder (default: {DEFAULT_OUT} under the repository root)",
    )
    args = parser.parse_args(argv)
    out = args.out if args.out is not None else Path(__file__).resolve().parents[1] / DEFAULT_OUT
    index = build(out)
    print(f"wrote the API reference: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
