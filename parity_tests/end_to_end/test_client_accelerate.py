"""accelerate's ``Accelerator.prepare(scheduler)`` with a ``ScheduleLR``, on one process and on
two (gloo over loopback, as ``accelerate launch`` on a CPU machine would start them).

What ``AcceleratedScheduler.step`` does (accelerate's ``scheduler.py``): with the default
``split_batches=False`` it steps the wrapped scheduler ``num_processes`` times per update —
accelerate assumes the schedule was written for one process, which sees ``num_processes``×
more batches. So with ``N`` processes:

* by default, update ``k`` uses ``schedule(N * k)`` — a schedule written over ``N``× the
  updates (``total_steps = updates * N``, warm-up likewise) gives the intended curve;
* with ``Accelerator(step_scheduler_with_optimizer=False)`` every ``scheduler.step()`` is
  one step, and update ``k`` uses ``schedule(k)`` on every process, as without accelerate.

Both are checked here to the exact float64 value at every update, and so is a mid-run
``save_state`` / ``load_state`` resume: the same lrs and, bit for bit, the same parameters.
The runs happen in worker processes (``accelerate_worker.py``): accelerate's state is a
process-wide singleton, and a multi-process run needs processes anyway.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from processes import free_port, worker_env

pytest.importorskip("accelerate")

import accelerate_worker as w

WORKER = Path(__file__).with_name("accelerate_worker.py")


def _lrs(s, steps) -> list[float]:
    return [float(v) for v in s(np.asarray(steps, dtype=np.float64))]


def _check(result: dict, n: int) -> None:
    assert result["num_processes"] == n
    k = np.arange(w.STEPS)
    # Stepped n times per update: the schedule written over n x the updates, read at n*k.
    assert result["default"]["lrs"] == _lrs(w.schedule(n), n * k)
    assert result["per_update"]["lrs"] == _lrs(w.schedule(1), k)
    r = result["resumed"]
    assert r["lrs_before_save"] == _lrs(w.schedule(1), k[: w.SAVE_AT])
    assert r["lrs_after_load"] == _lrs(w.schedule(1), k[w.SAVE_AT :])
    assert r["last_epoch"] == w.STEPS
    assert r["params"] == result["per_update"]["params"]  # bit for bit


def test_accelerate_one_process(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(out), str(tmp_path / "ckpt")],
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    _check(json.loads(out.read_text()), 1)


def test_accelerate_two_processes_step_the_scheduler_twice_per_update(tmp_path):
    port = str(free_port())
    cmds, envs = [], []
    for rank in (0, 1):
        env = worker_env()
        env.update(
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE="2",
            LOCAL_WORLD_SIZE="2",
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
            OMP_NUM_THREADS="1",
        )
        envs.append(env)
        cmds.append([sys.executable, str(WORKER), str(tmp_path / f"r{rank}.json"), str(tmp_path / "ckpt")])
    errors = _run_with_envs(cmds, envs)
    assert not errors, "\n\n".join(errors)
    results = [json.loads((tmp_path / f"r{rank}.json").read_text()) for rank in (0, 1)]
    for r in results:
        _check(r, 2)
    assert results[0] == results[1]  # every rank applied the same lrs and holds the same weights


def _run_with_envs(cmds, envs) -> list[str]:
    """``processes.run_together`` with one environment per process (each rank has its own)."""
    procs = [
        subprocess.Popen(c, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c, e in zip(cmds, envs)
    ]
    errors = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
            errors.append(f"timed out:\n{err[-4000:]}")
            continue
        if p.returncode:
            errors.append(err[-4000:])
    return errors
