"""``lrtwin demo`` data parallel: ``--devices 2`` for JAX (2 simulated CPU devices, set up by the
command itself before JAX starts) and ``torchrun --nproc-per-node 2`` for torch (gloo, rank 0
writes). Same global batches, so the two runs agree as the single-process runs do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ARGS = ["demo", "--quick", "--seed", "3"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)  # the command sets it
    env["OMP_NUM_THREADS"] = "1"
    return env


# The two data-parallel demo runs take 28 s on 2 cores: their checks are -m slow, to keep the
# default suite in its 10-minute budget (compare's --devices tests start JAX devices and torch
# ranks by default).
SLOW = pytest.mark.slow


@pytest.fixture(scope="module")
def outs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("demo_dp")
    jax_out, torch_out = base / "jax", base / "torch"
    runs = {
        "jax": [sys.executable, "-m", "lrtwin.cli", *ARGS, "--framework", "jax", "--devices", "2"],
        "torch": [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",  # a free rendezvous port on this machine
            "--nproc-per-node",
            "2",
            "--no-python",
            sys.executable,
            "-m",
            "lrtwin.cli",
            *ARGS,
            "--framework",
            "torch",
        ],
    }
    for name, out in (("jax", jax_out), ("torch", torch_out)):
        proc = subprocess.run(
            [*runs[name], "--out", str(out)], capture_output=True, text=True, timeout=600, env=_env()
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        # Rank 0 alone prints the summary (and the header line).
        assert proc.stdout.count("| framework | schedule |") == 1, proc.stdout[-2000:]
        assert proc.stdout.count("lrtwin demo →") == 1
    return {"jax": jax_out, "torch": torch_out}


@SLOW
def test_outputs_and_what_ran_in_parallel(outs):
    jax_meta = json.loads((outs["jax"] / "summary.json").read_text())["meta"]
    torch_meta = json.loads((outs["torch"] / "summary.json").read_text())["meta"]
    assert jax_meta["jax_devices"] == 2 and jax_meta["data_parallel"] == ["JAX over 2 devices"]
    assert torch_meta["torch_ranks"] == 2 and torch_meta["data_parallel"] == ["torch DDP over 2 ranks"]
    for out in outs.values():
        for name in ("schedule_zoo.png", "finder.png", "pipeline.png", "summary.md", "history.json"):
            assert (out / name).stat().st_size > 0
        assert "Data parallel:" in (out / "summary.md").read_text()


@SLOW
def test_jax_on_2_devices_and_torch_on_2_ranks_agree(outs):
    rows = {
        fw: {r["schedule"]: r for r in json.loads((outs[fw] / "summary.json").read_text())["rows"]}
        for fw in ("jax", "torch")
    }
    assert set(rows["jax"]) == set(rows["torch"]) and len(rows["jax"]) == 5  # the tuned lr's row too
    for name, r in rows["jax"].items():
        assert r["final_val_loss"] == pytest.approx(rows["torch"][name]["final_val_loss"], rel=1e-3), name


@SLOW
def test_torch_checkpoint_is_the_plain_networks(outs):
    import torch

    from lrtwin.demo.data import torch_mlp

    ck = torch.load(outs["torch"] / "checkpoints" / "torch" / "best.pt", weights_only=True)
    torch_mlp(0).load_state_dict(ck["model"])  # no "module." prefix: loads into the plain model


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--framework", "torch", "--devices", "2"], "--devices applies to JAX"),
        (["--framework", "jax", "--devices", "3"], "--devices (3) must divide the batch of 32"),
    ],
)
def test_bad_parallel_options(extra, message, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lrtwin.cli", *ARGS, *extra, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-2000:]
