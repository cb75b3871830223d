"""``lrsched_torch.train`` and the package's import: bad input gives a clear error naming the
argument (not a ZeroDivisionError or a slicing error), and a missing torch says what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from lrsched_torch.train import batches, evaluate, train_epoch

X = torch.randn(12, 4, generator=torch.Generator().manual_seed(0))
Y = torch.arange(12) % 3


def model_and_opt() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


@pytest.mark.parametrize(
    "data",
    [
        [],
        (X[:0], Y[:0]),
        [(X[:0], Y[:0])],
        torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[:0], Y[:0]), batch_size=4),
    ],
    ids=["empty-list", "empty-pair", "empty-batches", "empty-loader"],
)
def test_evaluate_on_no_samples_names_data(data) -> None:
    model, _ = model_and_opt()
    with pytest.raises(ValueError, match="evaluate: data has no samples"):
        evaluate(model, data)
    assert model.training  # the mode is put back also when it raises


def test_evaluate_is_the_sample_weighted_mean() -> None:
    model, _ = model_and_opt()
    got = evaluate(model, (X, Y), batch_size=5)  # batches of 5, 5 (the remainder 2 is dropped)
    with torch.no_grad():
        out = model(X[:10])
    assert got["loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(out, Y[:10])), rel=1e-6)
    assert got["accuracy"] == int((out.argmax(1) == Y[:10]).sum()) / 10


@pytest.mark.parametrize(
    "batch_size, exc",
    [
        (2.5, TypeError),
        (True, TypeError),
        (np.bool_(True), TypeError),
        ("4", TypeError),
        (0, ValueError),
        (-2, ValueError),
    ],
)
def test_a_bad_batch_size_is_named(batch_size, exc) -> None:
    model, opt = model_and_opt()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(exc, match="train_epoch: batch_size must be"):
        train_epoch(model, opt, (X, Y), batch_size=batch_size)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # no update ran
    with pytest.raises(exc, match="evaluate: batch_size must be"):
        evaluate(model, (X, Y), batch_size=batch_size)
    with pytest.raises(exc, match="batches: batch_size must be"):
        batches(12, batch_size)


def test_batch_size_bounds_and_numpy_integers() -> None:
    model, opt = model_and_opt()
    with pytest.raises(ValueError, match=r"train_epoch: batch_size must be in \[1, 12\]"):
        train_epoch(model, opt, (X, Y), batch_size=13)
    losses, lrs_applied = train_epoch(model, opt, (X, Y), batch_size=np.int64(4))
    assert len(losses) == 3 and lrs_applied.tolist() == [0.1] * 3
    assert batches(12, np.int32(5)).shape == (2, 5)


BLOCKERS = {
    "sys.modules": "sys.modules['torch'] = None",
    "meta_path": textwrap.dedent(
        """
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        sys.meta_path.insert(0, Block())
        """
    ),
}


@pytest.mark.parametrize("how", sorted(BLOCKERS))
def test_import_without_torch_says_what_to_install(how: str) -> None:
    code = (
        "import sys\n"
        + BLOCKERS[how]
        + textwrap.dedent(
            """
        try:
            import lrsched_torch
        except ImportError as e:
            assert type(e) is ImportError, type(e)  # not the bare ModuleNotFoundError
            print(e)
        else:
            raise SystemExit("imported without torch")
        import lrsched_jax  # the JAX side does not need torch
        """
        )
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install torch" in out.stdout and 'pip install "lrtwin[torch]"' in out.stdout
