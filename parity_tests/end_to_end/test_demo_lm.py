"""``lrtwin demo --task lm``: the stdlib text, the two transformers (same logits from the same
weights; float64 training losses equal to 1e-9 after 20 updates) and the ``--quick`` run."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lrtwin.demo.lm import TRAIN_FILES, VAL_FILES, LMConfig, lm_weights, load_text
from lrtwin.demo.report import SUMMARY_FIELDS

TINY = LMConfig(context=16, d_model=32, heads=4, layers=2)

# Run in a child process: JAX's x64 switch is global and must not leak into other tests.
PARITY_SCRIPT = textwrap.dedent(
    """
    import json, os
    os.environ["JAX_ENABLE_X64"] = "1"
    import numpy as np, optax, torch
    import lrsched_jax as lrs
    from lrsched_jax.train import make_optimizer, train_epoch
    from lrsched_torch import ScheduleLR
    from lrsched_torch.train import train_epoch as torch_train_epoch
    from lrtwin.demo.lm import (LMConfig, flax_lm_from, jax_lm_loss, lm_weights, load_text,
                                torch_lm_from, torch_lm_loss)

    cfg = LMConfig(context=16, d_model=32, heads=4, layers=2)
    data = load_text(cfg.context)
    weights = lm_weights(cfg, 0, np.float64)
    x, y = data.x_train[:160], data.y_train[:160]  # 20 batches of 8
    xv, yv = data.x_val[:64], data.y_val[:64]
    schedule = lrs.warmup_cosine(3e-3, 5, 20, min_lr=3e-5)

    model = flax_lm_from(weights, cfg)
    opt = make_optimizer(model, schedule, optax.adamw, weight_decay=1e-2)
    jl, jlr = train_epoch(model, opt, x, y, 8, loss_fn=lambda m, b: jax_lm_loss(m, *b))
    j_after = float(jax_lm_loss(model, xv, yv))

    torch.set_num_threads(1)
    tm = torch_lm_from(weights, cfg)
    topt = torch.optim.AdamW(tm.parameters(), lr=float(schedule(0)), weight_decay=1e-2)
    tl, tlr = torch_train_epoch(tm, topt, (torch.from_numpy(x), torch.from_numpy(y)), batch_size=8,
                                scheduler=ScheduleLR(topt, schedule), criterion=torch_lm_loss)
    with torch.no_grad():
        t_after = float(torch_lm_loss(tm(torch.from_numpy(xv)), torch.from_numpy(yv)))
    print(json.dumps({
        "dtypes": [str(model.head.kernel[...].dtype), str(tm.head.weight.dtype)],
        "jax": [float(v) for v in jl] + [j_after], "torch": [float(v) for v in tl] + [t_after],
        "jax_lr": [float(v) for v in jlr], "torch_lr": [float(v) for v in tlr],
    }))
    """
)


def test_text_is_the_stdlib_sources_cut_into_shifted_windows():
    data = load_text(TINY.context)
    assert data.x_train.shape[1] == TINY.context and data.x_train.dtype == np.int64
    # The target is the input shifted by one byte, across window boundaries too.
    assert np.array_equal(data.y_train[:, :-1], data.x_train[:, 1:])
    assert np.array_equal(data.y_train[:-1, -1], data.x_train[1:, 0])
    import sysconfig

    first = (Path(sysconfig.get_paths()["stdlib"]) / TRAIN_FILES[0]).read_bytes()
    assert bytes(data.x_train[0].astype(np.uint8)) == first[: TINY.context]
    assert load_text(TINY.context).sha256 == data.sha256  # deterministic


def test_text_rejects_a_missing_file_and_shared_files(tmp_path):
    with pytest.raises(ValueError, match=r"nope\.py"):
        load_text(16, train_files=("nope.py",))
    with pytest.raises(ValueError, match=r"share textwrap\.py"):
        load_text(16, train_files=VAL_FILES)
    with pytest.raises(ValueError, match="context"):
        load_text(0)
    with pytest.raises(ValueError, match="heads"):
        LMConfig(d_model=30, heads=4)


def test_flax_and_torch_transformers_give_the_same_logits_from_the_same_weights():
    import jax.numpy as jnp
    import torch

    from lrtwin.demo.lm import flax_lm_from, torch_lm_from

    weights = lm_weights(TINY, 1)
    # Random weights (not the near-zero initial ones) so every layer matters.
    rng = np.random.default_rng(0)
    weights = {k: (v + rng.normal(0, 0.3, v.shape)).astype(np.float32) for k, v in weights.items()}
    x = load_text(TINY.context).x_val[:4]
    j = np.asarray(flax_lm_from(weights, TINY)(jnp.asarray(x)))
    with torch.no_grad():
        t = torch_lm_from(weights, TINY)(torch.from_numpy(x)).numpy()
    assert j.shape == (4, TINY.context, TINY.vocab)
    np.testing.assert_allclose(j, t, rtol=1e-4, atol=1e-4)
    # Causal: changing the last byte leaves every earlier position's logits alone.
    x2 = x.copy()
    x2[:, -1] = (x2[:, -1] + 1) % 256
    j2 = np.asarray(flax_lm_from(weights, TINY)(jnp.asarray(x2)))
    np.testing.assert_array_equal(j2[:, :-1], j[:, :-1])
    assert not np.allclose(j2[:, -1], j[:, -1])


def test_models_of_two_seeds_share_one_structure():
    # What the arena (and any jit cache) needs: one graph for every seed's model, so the LM
    # trains as one population in lrs.compare (benchmarks/claims.py does that).
    from flax import nnx

    from lrtwin.demo.lm import flax_lm_from, torch_lm_from

    g0 = nnx.split(flax_lm_from(lm_weights(TINY, 0), TINY))[0]
    g1 = nnx.split(flax_lm_from(lm_weights(TINY, 1), TINY))[0]
    assert g0 == g1
    assert type(torch_lm_from(lm_weights(TINY, 0), TINY)) is type(torch_lm_from(lm_weights(TINY, 1), TINY))


def test_float64_losses_agree_to_1e_9_after_20_updates():
    env = dict(os.environ, JAX_ENABLE_X64="1", JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-c", PARITY_SCRIPT], capture_output=True, text=True, timeout=600, env=env
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["dtypes"] == ["float64", "torch.float64"]
    assert got["jax_lr"] == pytest.approx(got["torch_lr"], rel=1e-12)
    j, t = np.asarray(got["jax"]), np.asarray(got["torch"])
    assert len(j) == 21  # 20 training losses and the validation loss after the 20th update
    assert j[-1] < j[0] - 0.05  # it learned something, so the comparison is not of a frozen model
    assert np.max(np.abs(j - t) / np.abs(t)) <= 1e-9


@pytest.fixture(scope="module")
def lm_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_lm")
    proc = subprocess.run(
        [sys.executable, "-m", "lrtwin.cli", "demo", "--task", "lm", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "| framework | schedule |" in proc.stdout
    return out


# 63 s on 2 cores (both transformers, four schedules, the finder): -m slow, to keep the default
# suite in its 10-minute budget; the default run keeps the LM's parity checks above.
@pytest.mark.slow
def test_quick_lm_demo_writes_the_pictures_and_summary(lm_out):
    import matplotlib.image as mpimg

    for name in ("schedule_zoo.png", "schedules.png", "finder.png", "pipeline.png"):
        img = mpimg.imread(lm_out / name)
        assert img.ndim == 3 and img.shape[0] > 300 and img.std() > 0.01
    summary = json.loads((lm_out / "summary.json").read_text())
    names = ("warm-up + cosine", "warmup-stable-decay (1-sqrt)", "inverse sqrt")
    assert {(r["framework"], r["schedule"]) for r in summary["rows"]} == {
        (fw, s) for fw in ("jax", "torch") for s in (*names, "warm-up + cosine at the finder's lr")
    }
    for r in summary["rows"]:
        assert tuple(r) == SUMMARY_FIELDS
        assert math.isfinite(r["final_val_loss"]) and r["final_val_loss"] < math.log(256)  # beats uniform
        assert (r["suggested_lr"] is None) == (r["schedule"] in names)
    meta = summary["meta"]
    assert meta["task"] == "lm" and meta["text"]["train_files"] == list(TRAIN_FILES)
    # float32, same weights and batches: the per-update loss curves overlap.
    assert set(meta["max_rel_loss_diff_jax_vs_torch"]) == set(names)
    assert all(0 <= v < 1e-2 for v in meta["max_rel_loss_diff_jax_vs_torch"].values())
    assert set(meta["max_rel_val_loss_diff_jax_vs_torch"]) == set(names)
    assert all(0 <= v < 1e-2 for v in meta["max_rel_val_loss_diff_jax_vs_torch"].values())
    history = json.loads((lm_out / "history.json").read_text())
    by = {(h["framework"], h["name"]): h for h in history}
    for s in names:
        np.testing.assert_allclose(by["jax", s]["step_lrs"], by["torch", s]["step_lrs"], rtol=1e-6)


def test_lm_task_refuses_data_parallel():
    from lrtwin.demo import run_demo

    with pytest.raises(ValueError, match="one device"):
        run_demo(task="lm", framework="jax", devices=2)
    with pytest.raises(ValueError, match="task"):
        run_demo(task="text")
