"""lrtwin: the application layer of lrtwin — the ``lrtwin`` command (``plot``, ``demo``) and
the demo that replays the article in JAX and torch side by side.

This is the only package that uses both frameworks; it sits above ``lrsched_jax`` (core and
JAX glue) and ``lrsched_torch``, and nothing in those imports it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lrtwin")
except PackageNotFoundError:  # a source tree that was not installed
    __version__ = "0.1.0"
