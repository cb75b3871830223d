"""The layers of DESIGN.md hold: imports run downward only, nothing imports another package's
private module, and each package imports at start-up what its docstring says.

Layers, bottom to top: ``lrsched_jax.core`` (neither JAX nor torch) → the JAX glue
(``lrsched_jax`` outside ``core``) and ``lrsched_torch``, side by side → the app ``lrtwin``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from processes import JAX_STACK, TORCH_STACK, check_start_up

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lrsched_jax", "lrsched_torch", "lrtwin")


def layer(module: str) -> str:
    if module == "lrsched_jax.core" or module.startswith("lrsched_jax.core."):
        return "core"
    top = module.split(".")[0]
    return {"lrsched_jax": "jax_glue", "lrsched_torch": "torch_adapter", "lrtwin": "app"}.get(top, "external")


# What each layer may import, by layer (the external stacks are checked separately).
ALLOWED = {
    "core": {"core"},
    "jax_glue": {"core", "jax_glue"},
    "torch_adapter": {"core", "torch_adapter"},
    "app": {"core", "jax_glue", "torch_adapter", "app"},
}
FORBIDDEN_STACKS = {"core": JAX_STACK + TORCH_STACK, "jax_glue": TORCH_STACK, "torch_adapter": JAX_STACK}


def source_modules():
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def imports(path: Path, module: str):
    """``(imported module, top_level)`` for every import in the file; relative ones resolved."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    top_level = {id(n) for n in tree.body}
    for node in tree.body:
        # imports directly under `if TYPE_CHECKING:` / try blocks at module level count as top level
        if isinstance(node, (ast.If, ast.Try)):
            top_level.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, id(node) in top_level
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            yield base, id(node) in top_level
            for a in node.names:
                yield f"{base}.{a.name}", id(node) in top_level


def is_private_of_other(importer: str, target: str) -> bool:
    """``target`` names a private module (a ``_x`` component) of a package the importer is not in."""
    parts = target.split(".")
    for i, p in enumerate(parts):
        if p.startswith("_") and not p.startswith("__"):
            owner = ".".join(parts[:i])
            return not (importer == owner or importer.startswith(owner + "."))
    return False


def known_module(name: str) -> bool:
    path = ROOT / Path(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


MODULES = list(source_modules())


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_imports_run_downward(module, path):
    mine = layer(module)
    for target, top in imports(path, module):
        root = target.split(".")[0]
        if root in PACKAGES:
            if not known_module(target):
                continue  # a name imported from a module, not a module
            assert layer(target) in ALLOWED[mine], f"{module} ({mine}) imports {target} ({layer(target)})"
            assert not is_private_of_other(module, target), f"{module} imports the private {target}"
        elif root in FORBIDDEN_STACKS.get(mine, ()):
            # The core's one exception: xp.py's loop helpers name jax.lax inside a function that
            # only JAX values reach (JAX is then already imported).
            allowed = module == "lrsched_jax.core.xp" and not top and root == "jax"
            assert allowed, f"{module} ({mine}) imports {target}"


def test_nothing_below_the_app_imports_it():
    for module, path in MODULES:
        if layer(module) != "app":
            assert not any(t.split(".")[0] == "lrtwin" for t, _ in imports(path, module)), module


@pytest.mark.parametrize(
    "code,absent,present",
    [
        ("import lrsched_jax.core", JAX_STACK + TORCH_STACK, ()),
        ("import lrsched_jax", JAX_STACK + TORCH_STACK, ()),
        ("import lrtwin.cli", JAX_STACK + TORCH_STACK, ()),
    ],
)
def test_start_up_imports(code, absent, present):
    # (the start-ups that import a framework: jax_glue/ and torch_adapter/test_start_up_*.py)
    check_start_up(code, absent, present)


def test_all_lists_real_names():
    # (lrsched_torch's: parity_tests/torch_adapter/test_public_api.py)
    import lrsched_jax
    import lrsched_jax.core

    for name in lrsched_jax.core.__all__:
        assert hasattr(lrsched_jax.core, name), f"lrsched_jax.core.__all__ lists missing {name}"
    assert set(lrsched_jax.core.__all__) <= set(lrsched_jax.__all__)
