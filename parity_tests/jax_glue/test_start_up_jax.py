"""``from lrsched_jax import *`` binds the JAX glue, so it imports JAX, Optax and Flax, and no
torch (the framework-free start-ups are checked in parity_tests/core/test_layering.py)."""

from __future__ import annotations

from processes import TORCH_STACK, check_start_up


def test_star_import_loads_the_jax_glue_and_no_torch():
    check_start_up("from lrsched_jax import *", TORCH_STACK, ("jax", "optax", "flax"))
