"""Running several worker processes of one test together (JAX hosts, torch ranks), and what
they report."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))


def worker_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with this folder on ``PYTHONPATH``, so worker scripts
    in the layer folders import the shared helpers here."""
    out = dict(os.environ if env is None else env)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (HERE, out.get("PYTHONPATH", "")) if p)
    return out


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_together(
    commands: Sequence[Sequence[str]], timeout: float, env: dict[str, str] | None = None
) -> list[str]:
    """Start every command at once, wait for all, and return the stderr tails of those that
    failed (an empty list when all exited 0). A process still running after ``timeout``
    seconds is killed — a hang fails the test instead of stalling the suite."""
    procs = [
        subprocess.Popen(
            list(c), env=worker_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for c in commands
    ]
    errors = []
    try:
        for p in procs:
            _, err = p.communicate(timeout=timeout)
            if p.returncode != 0:
                errors.append(err[-3000:])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return errors


def finder_summary(res: Any) -> dict[str, Any]:
    """What the workers report of a finder result (plain JSON; ``inf`` losses stay floats)."""
    return {
        "lrs": res.lrs.tolist(),
        "losses": res.losses.tolist(),
        "smoothed": res.smoothed_losses.tolist(),
        "stop_step": res.stop_step,
        "stop_reason": res.stop_reason,
        "suggestions": res.suggestions,
    }


JAX_STACK = ("jax", "jaxlib", "flax", "optax", "orbax")
TORCH_STACK = ("torch",)


def check_start_up(code: str, absent: Sequence[str], present: Sequence[str]) -> None:
    """``code`` run in a fresh interpreter (at the repository root) imports none of ``absent``'s
    top-level packages and all of ``present``'s."""
    report = "\nimport sys; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run(
        [sys.executable, "-c", code + report],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(HERE),
    ).stdout.split()
    mods = set(out)
    assert not mods & set(absent), f"{code!r} imported {sorted(mods & set(absent))}"
    assert set(present) <= mods, f"{code!r} did not import {sorted(set(present) - mods)}"
