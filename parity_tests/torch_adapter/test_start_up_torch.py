"""``import lrsched_torch`` imports torch and nothing of the JAX stack (the framework-free
start-ups are checked in parity_tests/core/test_layering.py)."""

from __future__ import annotations

from processes import JAX_STACK, check_start_up


def test_import_lrsched_torch_starts_no_jax():
    check_start_up("import lrsched_torch", JAX_STACK, ("torch",))
