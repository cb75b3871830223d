"""The extension point: a user-defined schedule (a ``Schedule`` subclass with ``_eval``,
decorated with ``@lrs.register``) works under ``jax.jit``, on NumPy, in
``lrsched_torch.ScheduleLR``, in configs (``to_config``/``from_config``/``from_spec``) and in
the CLI (``lrtwin --import MODULE``).

A registration is global to its process, so the schedule is registered in subprocesses only
(the registry of the test process stays the built-in one)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

SCRIPT = r"""
import math, pickle
import numpy as np
import jax, jax.numpy as jnp
import torch
import lrsched_jax as lrs
from lrsched_torch import ScheduleLR
import user_schedule
from user_schedule import UserHalving, user_halving

s = user_halving(base_lr=0.1, half_life=10, min_lr=0.01)
ref = lambda t: max(0.1 * 0.5 ** (t / 10), 0.01)
steps = np.arange(60)

# NumPy on the host, float64
host = s(steps)
assert host.dtype == np.float64
np.testing.assert_allclose(host, [ref(t) for t in steps], rtol=1e-15)
assert isinstance(s(3), np.floating) and s.curve(5).shape == (5,)

# traced under jax.jit, float32
traced = np.asarray(jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32)))
assert traced.dtype == np.float32
np.testing.assert_allclose(traced, host, rtol=1e-6)

# torch ScheduleLR: the lr of update k is s(k), as for the built-in kinds
p = torch.nn.Parameter(torch.zeros(2))
opt = torch.optim.SGD([p], lr=1.0)
sched = ScheduleLR(opt, s)
applied = []
for k in range(30):
    applied.append(opt.param_groups[0]["lr"])
    opt.step()
    sched.step()
np.testing.assert_allclose(applied, host[:30], rtol=1e-15)

# configs, the short spec form, pickle, repr, and composition
assert lrs.from_config(s.to_config()) == s
assert s.to_config() == {"name": "user_halving", "base_lr": 0.1, "half_life": 10, "min_lr": 0.01}
assert lrs.from_spec("user_halving:base_lr=0.1,half_life=10,min_lr=0.01") == s
assert pickle.loads(pickle.dumps(s)) == s
assert repr(s) == "user_halving(base_lr=0.1, half_life=10, min_lr=0.01)"
assert eval(repr(s), {"user_halving": user_halving}) == s
assert "user_halving" in lrs.registered_names()
nested = lrs.sequence([lrs.warmup(s, 5), lrs.constant(0.001)], [100])
assert lrs.from_config(nested.to_config()) == nested
assert float(nested(5)) == float(s(0))

# its checks run like the built-in ones: per field, then the cross-field hook
for kwargs, msg in [
    ({"base_lr": -1.0}, "user_halving: base_lr must be a finite learning rate >= 0"),
    ({"base_lr": 0.1, "half_life": 0}, "user_halving: half_life must be finite and > 0"),
    ({"base_lr": 0.1, "min_lr": 0.2}, "user_halving: min_lr must be <= base_lr (0.1), got 0.2"),
]:
    try:
        user_halving(**kwargs)
    except ValueError as e:
        assert msg in str(e), (msg, str(e))
    else:
        raise AssertionError(kwargs)
try:
    lrs.from_config({"name": "user_halving", "half_life": 3})
except ValueError as e:
    assert "user_halving: missing field(s) base_lr" in str(e), e

# the name is taken; re-registering the same class (a reloaded module) is fine
import importlib
importlib.reload(user_schedule)
assert lrs.from_config(s.to_config()) == user_schedule.user_halving(0.1, 10, 0.01)
try:
    lrs.register("cosine")(UserHalving)
except ValueError as e:
    assert "already registered for lrsched_jax.core.families.Cosine" in str(e), e
else:
    raise AssertionError("registered twice")
print("ok")
"""


def run(args, cwd, **kw):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, **kw)


def test_user_schedule_in_jit_numpy_torch_and_configs():
    proc = run([sys.executable, "-c", SCRIPT], cwd=HERE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok"


def test_user_schedule_in_the_cli(tmp_path):
    out = tmp_path / "curve.csv"
    spec = "user_halving:base_lr=0.1,half_life=10"
    # the console script: its sys.path does not hold the current folder; --import searches it
    script = Path(sys.executable).with_name("lrtwin")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "lrtwin"]
    proc = run(
        [*command, "--import", "user_schedule", "plot", spec, "--steps", "21", "--csv", str(out)], cwd=HERE
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(out.open()))  # a "#" line says how the steps were sampled, then the header
    assert [float(r[1]) for r in rows[2:]][::10] == [0.1, 0.05, 0.025]
    listed = run([sys.executable, "-m", "lrtwin", "--import", "user_schedule", "list"], cwd=HERE)
    assert "user_halving" in listed.stdout.split()
    # without the import the name is unknown; a missing module is one clear line, exit 2
    unknown = run([sys.executable, "-m", "lrtwin", "plot", spec, "--csv", str(out)], cwd=HERE)
    assert unknown.returncode == 2 and "unknown schedule name 'user_halving'" in unknown.stderr
    missing = run([sys.executable, "-m", "lrtwin", "--import", "no_such_module_here", "list"], cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "lrtwin: error: --import no_such_module_here: No module named 'no_such_module_here'"
    ]
