"""The demo's output folder (``lrtwin.demo.outputs``): whose folder it is, and checkpoints that
an interrupt cannot destroy — with Orbax and ``torch.save`` themselves, no training."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

from lrtwin.demo.outputs import MANIFEST, OutputDir, _interrupt_held, replace_dir, replace_file


def test_new_empty_and_own_folders_open_others_are_refused(tmp_path):
    new = OutputDir.open(tmp_path / "a" / "b")
    assert new.root.is_dir() and json.loads((new.root / MANIFEST).read_text()) == {"written": []}
    (tmp_path / "empty").mkdir()
    assert OutputDir.open(tmp_path / "empty").root == tmp_path / "empty"
    new.claim(new / "summary.md").write_text("x")
    again = OutputDir.open(tmp_path / "a" / "b")  # the demo's own folder
    assert again.written == {"summary.md"}
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and was not written by lrtwin demo"):
        OutputDir.open(tmp_path / "user")
    with pytest.raises(ValueError, match="empty path"):
        OutputDir.open("")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="not a folder"):
        OutputDir.open(tmp_path / "file")


def test_claim_refuses_what_the_demo_did_not_write(tmp_path):
    out = OutputDir.open(tmp_path / "o")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"notes\.txt: exists and was not written by lrtwin demo"):
        out.claim(out / "notes.txt")
    assert (out / "notes.txt").read_text() == "mine"
    out.claim(out / "finder.png")  # absent: recorded before it is written
    assert "finder.png" in json.loads((out / MANIFEST).read_text())["written"]


def test_default_folder_is_new(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = OutputDir.open(None), OutputDir.open(None)
    assert a.root != b.root and a.root.name.startswith("lrtwin-demo-") and b.root.parent == tmp_path


def _orbax_save(value):
    import jax.numpy as jnp
    import orbax.checkpoint as ocp

    def write(path):
        with ocp.StandardCheckpointer() as ck:
            ck.save(path.resolve(), {"w": jnp.full((3,), value)})
            ck.wait_until_finished()

    return write


def _orbax_read(path):
    import orbax.checkpoint as ocp

    with ocp.StandardCheckpointer() as ck:
        return np.asarray(ck.restore(path.resolve())["w"])


def test_orbax_checkpoint_survives_an_interrupted_replacement(tmp_path):
    best = tmp_path / "best"
    replace_dir(best, _orbax_save(1.0))
    np.testing.assert_array_equal(_orbax_read(best), [1.0, 1.0, 1.0])

    def interrupted(path):
        _orbax_save(2.0)(path)  # the new checkpoint is complete ...
        raise KeyboardInterrupt  # ... but Ctrl-C comes before the swap

    with pytest.raises(KeyboardInterrupt):
        replace_dir(best, interrupted)
    np.testing.assert_array_equal(_orbax_read(best), [1.0, 1.0, 1.0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]  # nothing half-written left
    replace_dir(best, _orbax_save(3.0))
    np.testing.assert_array_equal(_orbax_read(best), [3.0, 3.0, 3.0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_torch_checkpoint_survives_an_interrupted_save(tmp_path):
    import torch

    best = tmp_path / "best.pt"
    replace_file(best, lambda p: torch.save({"epoch": 1}, p))

    def interrupted(path):
        with open(path, "wb") as f:
            f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_file(best, interrupted)
    assert torch.load(best, weights_only=True) == {"epoch": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]
    replace_file(best, lambda p: torch.save({"epoch": 2}, p))
    assert torch.load(best, weights_only=True) == {"epoch": 2}
    assert oct(best.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_ctrl_c_during_the_swap_arrives_after_it():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with _interrupt_held():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("swapped")
    assert done == ["swapped"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
