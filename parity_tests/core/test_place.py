"""Error messages name the public entry point that is running (:func:`validate.place`), named
once where it starts: no function takes the place as an argument."""

from __future__ import annotations

import ast
import inspect
import threading
from pathlib import Path

import pytest

import lrsched_jax.core as lrs
from lrsched_jax.core import arg, validate
from lrsched_jax.core.validate import here, place

ROOT = Path(__file__).resolve().parents[2]


def test_places_nest_and_end():
    assert here() == "lrsched"
    with place("outer"):
        with place("outer(inner)"):
            assert here() == "outer(inner)"
            with pytest.raises(ValueError, match=r"^outer\(inner\): x must be finite"):
                validate.number("x", float("nan"))
        assert here() == "outer"
    assert here() == "lrsched"


def test_a_place_is_restored_when_the_work_raises():
    with pytest.raises(KeyError), place("boom"):
        raise KeyError
    assert here() == "lrsched"


def test_a_decorated_entry_keeps_its_signature_and_names_itself():
    @place("my_entry")
    def entry(lr: float, *, steps: int = 3) -> float:
        """Docs."""
        return validate.lr("lr", lr)

    assert str(inspect.signature(entry)) == "(lr: 'float', *, steps: 'int' = 3) -> 'float'"
    assert entry.__doc__ == "Docs." and entry(0.5) == 0.5
    with pytest.raises(ValueError, match=r"^my_entry: lr must be a finite learning rate"):
        entry(-1.0)


def test_each_thread_has_its_own_place():
    seen = {}
    entered, release = threading.Event(), threading.Event()

    def worker():
        with place("worker"):
            entered.set()
            release.wait(5)
            seen["worker"] = here()

    t = threading.Thread(target=worker)
    with place("main"):
        t.start()
        entered.wait(5)
        seen["main"] = here()
        release.set()
        t.join(5)
    assert seen == {"main": "main", "worker": "worker"}


def test_a_schedule_names_itself_inside_any_entry():
    with place("find_lr"), pytest.raises(ValueError, match=r"^cosine: init_lr must be"):
        lrs.cosine(-1.0, 10)


def test_no_function_takes_the_place_as_an_argument():
    """The design this module tests: ``where`` is not threaded through signatures."""
    found = []
    for package in ("lrsched_jax", "lrsched_torch", "lrtwin"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    a = node.args
                    names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
                    if "where" in names:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert found == []


# -- the form of earlier releases still runs, with a DeprecationWarning -------------------


def old_check(where, name, value):
    if value < 0:
        raise ValueError(f"{where}: {name} must be >= 0, got {value!r}")
    return float(value)


def test_a_check_and_a_cross_field_hook_taking_where_still_run_and_warn():
    with pytest.warns(DeprecationWarning, match="check taking where first"):
        field = arg(old_check)

    # validate.checked is what register makes of a class (a registration would be global)
    class OldStyle(validate.Checked):
        config_name = "old_style_family"
        base_lr: float = field
        floor: float = arg(validate.lr, default=0.0)

        def _check(self, where: str) -> None:
            if self.floor > self.base_lr:
                raise ValueError(f"{where}: floor must be <= base_lr")

    with pytest.warns(DeprecationWarning, match=r"_check\(self, where\) is deprecated"):
        OldStyle = validate.checked(OldStyle)
    assert OldStyle(0.5).base_lr == 0.5
    with pytest.raises(ValueError, match=r"^old_style_family: base_lr must be >= 0"):
        OldStyle(-1.0)
    with pytest.raises(ValueError, match=r"^old_style_family: floor must be <= base_lr"):
        OldStyle(0.1, floor=0.2)
