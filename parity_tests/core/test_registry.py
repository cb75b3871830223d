"""The schedule registry is the one list of built-in schedules: ``lrsched_jax.core`` exports
every registered family and combinator under its registered name (the factory *is* the
class), a family module that registers a class without binding its factory name fails at
import, and ``Schedule`` declares the hooks ``shift`` relies on. Also the deprecated
``Ctx.c`` / ``Ctx.f`` spellings."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lrsched_jax.core as core
from lrsched_jax.core import Ctx, Schedule, _math, combinators, families
from lrsched_jax.core.schedule import factory_names, registered_names, schedule_class

BUILT_IN_MODULES = ("lrsched_jax.core.families", "lrsched_jax.core.combinators")


def built_in_names() -> list[str]:
    return [n for n in registered_names() if schedule_class(n).__module__ in BUILT_IN_MODULES]


def test_every_built_in_schedule_is_exported_as_its_class():
    names = built_in_names()
    assert len(names) == 27
    for name in names:
        assert name in core.__all__, name
        assert getattr(core, name) is schedule_class(name), name
    assert families.__all__ == [*factory_names(families.__name__), "article_decay"]
    assert combinators.__all__ == factory_names(combinators.__name__)
    # no CamelCase second spelling among the exports
    assert not {n for n in core.__all__ if n[0].isupper()} - {"Schedule", "Ctx", "MAX_DEPTH", "PlateauState"}


def test_a_registered_class_without_its_factory_binding_fails_at_import(tmp_path):
    # (in a subprocess: a registration is global to its process)
    (tmp_path / "unbound_family.py").write_text(
        textwrap.dedent(
            """
            from lrsched_jax.core import Schedule, register
            from lrsched_jax.core.schedule import factory_names

            @register("unbound_family")
            class Unbound(Schedule):
                def _eval(self, ctx, t):
                    return ctx.full(t, 1.0)

            __all__ = factory_names(__name__)
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-c", "import unbound_family"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "bind the class registered as 'unbound_family' to its factory name" in proc.stderr
    assert "unbound_family = Unbound" in proc.stderr


def test_schedule_declares_the_hooks_shift_relies_on():
    for hook in ("_periodic", "_flat_from", "_points", "upper_bound"):
        assert hook in vars(Schedule), hook
    s = core.inverse_sqrt(1e-3, 100)  # neither periodic nor constant from a step
    assert s._periodic() is None and s._flat_from() is None
    assert _math.periodic_of(s) is None and _math.flat_of(s) is None
    assert _math.periodic_of(core.cyclic(0.1, 1.0, 4)) == (0, 8)
    assert _math.flat_of(core.linear(1.0, 0.0, 10)) == 10
    assert "ctx.const" in core.register.__doc__ and "_periodic" in core.register.__doc__


def test_ctx_c_and_f_are_deprecated_spellings_of_const_and_to_float():
    ctx = Ctx(np, np.float64, 2**31 - 1)
    assert ctx.const(2**40) == float(2**40) and ctx.const(3) == 3
    with pytest.warns(DeprecationWarning, match="Ctx.c is deprecated; use Ctx.const"):
        assert ctx.c(2**40) == float(2**40)
    with pytest.warns(DeprecationWarning, match="Ctx.f is deprecated; use Ctx.to_float"):
        out = ctx.f(np.arange(3))
    assert out.dtype == np.float64 and out.tolist() == [0.0, 1.0, 2.0]
