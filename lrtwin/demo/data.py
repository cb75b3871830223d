"""The demo's data and network: scikit-learn's 1,797 8×8 digits (shipped inside sklearn, no
download), a fixed train/validation split, and one small MLP defined once in torch and
copied into Flax so both frameworks start from the same weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SPLIT_SEED = 0  # the train/validation split never changes; --seed changes init and shuffling
HIDDEN = 128


@dataclass(frozen=True)
class Digits:
    x_train: np.ndarray  # float32 (n, 64), pixel intensities scaled to [0, 1]
    y_train: np.ndarray  # int64 (n,)
    x_val: np.ndarray
    y_val: np.ndarray


def load_digits(val_fraction: float = 0.2) -> Digits:
    """The digits, split 80/20 with a fixed permutation (``SPLIT_SEED``)."""
    try:
        from sklearn.datasets import load_digits as _load
    except ImportError as e:  # pragma: no cover - the demo extra installs scikit-learn
        raise ImportError("the demo needs scikit-learn: pip install 'lrsched[demo]'") from e
    d = _load()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    n_val = round(len(x) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    return Digits(x[train], y[train], x[val], y[val])


def torch_mlp(seed: int) -> Any:
    """The demo network in torch: 64 → 128 → 10 with ReLU, initialised from ``seed``."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10))
    with torch.no_grad():
        for layer in (model[0], model[2]):
            # torch's default Linear init bound, drawn from our generator for reproducibility
            bound = 1.0 / np.sqrt(layer.in_features)
            for p in (layer.weight, layer.bias):
                p.copy_(torch.empty(p.shape).uniform_(-bound, bound, generator=gen))
    return model


def initial_weights(seed: int) -> dict[str, np.ndarray]:
    """The torch network's initial weights as NumPy arrays (``w1, b1, w2, b2``, torch layout)."""
    m = torch_mlp(seed)
    return {
        "w1": m[0].weight.detach().numpy().copy(),
        "b1": m[0].bias.detach().numpy().copy(),
        "w2": m[2].weight.detach().numpy().copy(),
        "b2": m[2].bias.detach().numpy().copy(),
    }


def flax_mlp(weights: dict[str, np.ndarray]) -> Any:
    """The same network in Flax NNX, with the given (torch-layout) weights."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self) -> None:
            rngs = nnx.Rngs(0)
            self.l1 = nnx.Linear(64, HIDDEN, rngs=rngs)
            self.l2 = nnx.Linear(HIDDEN, 10, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            return self.l2(jax.nn.relu(self.l1(x)))

    model = MLP()
    model.l1.kernel.set_value(jnp.asarray(weights["w1"].T))
    model.l1.bias.set_value(jnp.asarray(weights["b1"]))
    model.l2.kernel.set_value(jnp.asarray(weights["w2"].T))
    model.l2.bias.set_value(jnp.asarray(weights["b2"]))
    return model


def torch_mlp_from(weights: dict[str, np.ndarray]) -> Any:
    """The torch network with the given weights."""
    import torch

    m = torch_mlp(0)
    with torch.no_grad():
        m[0].weight.copy_(torch.from_numpy(weights["w1"]))
        m[0].bias.copy_(torch.from_numpy(weights["b1"]))
        m[2].weight.copy_(torch.from_numpy(weights["w2"]))
        m[2].bias.copy_(torch.from_numpy(weights["b2"]))
    return m
