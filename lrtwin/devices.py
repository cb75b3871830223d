"""One device vocabulary for the demo and the benchmarks: ``cpu``, ``gpu`` or ``auto``.

* ``cpu`` — torch on ``"cpu"`` and JAX on its CPU platform;
* ``gpu`` — torch on ``"cuda"`` and JAX on its GPU platform; refused, with one line saying
  which framework sees no GPU, when either does not (checked before any work starts);
* ``auto`` — each framework on its GPU when it sees one, else on the CPU.

The checks import only the frameworks asked for, and nothing here imports either at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

__all__ = ["CHOICES", "HELP", "check_device", "jax_platform", "pin_jax_to_cpu", "torch_device"]

CHOICES = ("cpu", "gpu", "auto")

HELP = (
    "cpu, gpu or auto (default cpu): both frameworks on the CPU, both on a GPU (refused up front "
    "when torch or JAX sees none), or each on its GPU when it has one"
)


def _choice(device: str) -> str:
    if device not in CHOICES:
        raise ValueError(f"device must be one of {', '.join(CHOICES)}, got {device!r}")
    return device


def torch_device(device: str) -> str:
    """The torch device for ``device``: ``"cpu"`` or ``"cuda"`` (``ValueError`` when ``gpu``
    is asked for and torch sees no CUDA GPU)."""
    import torch

    if _choice(device) == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if device == "gpu":
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        raise ValueError(f"--device gpu: torch {torch.__version__} ({build}) sees no CUDA GPU")
    return "cpu"


def jax_platform(device: str) -> str:
    """The JAX platform for ``device``: ``"cpu"`` or ``"gpu"`` (``ValueError`` when ``gpu`` is
    asked for and JAX has no GPU backend)."""
    import jax

    if _choice(device) == "cpu":
        return "cpu"
    try:
        jax.devices("gpu")
    except RuntimeError:
        if device == "gpu":
            raise ValueError(
                f"--device gpu: JAX {jax.__version__} sees no GPU (platforms: "
                f"{', '.join(sorted({d.platform for d in jax.devices()}))}); install a CUDA build "
                "(pip install 'jax[cuda12]')"
            ) from None
        return "cpu"
    return "gpu"


def check_device(device: str, frameworks: Iterable[str]) -> dict[str, str]:
    """``{framework: its device or platform}`` for ``"torch"`` and/or ``"jax"``; raises the
    one-line ``ValueError`` of :func:`torch_device` / :func:`jax_platform` first."""
    _choice(device)
    out: dict[str, str] = {}
    for fw in frameworks:
        if fw == "torch":
            out[fw] = torch_device(device)
        elif fw == "jax":
            out[fw] = jax_platform(device)
        else:
            raise ValueError(f"unknown framework {fw!r}")
    return out


def pin_jax_to_cpu(device: str) -> None:
    """For ``device == "cpu"``, before JAX starts: let JAX open its CPU platform only, so that
    a CPU run on a GPU machine neither starts the GPU backend nor reserves its memory. A
    ``JAX_PLATFORMS`` the user set is kept."""
    if device == "cpu" and "JAX_PLATFORMS" not in os.environ:
        os.environ["JAX_PLATFORMS"] = "cpu"
