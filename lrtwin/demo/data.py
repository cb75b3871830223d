"""The demo's data and network: scikit-learn's 1,797 8×8 digits (shipped inside sklearn, no
download), a fixed train/validation split, and the demo's MLP (:mod:`lrtwin.models`), drawn
in torch and copied into Flax so both frameworks start from the same weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lrtwin.models import Weights, mlp_weights

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
        raise ImportError("the demo needs scikit-learn: pip install 'lrtwin[demo]'") from e
    d = _load()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    n_val = round(len(x) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    return Digits(x[train], y[train], x[val], y[val])


#: The demo network's layer widths: 64 pixels → 128 → 10 classes (ReLU between).
SIZES = (64, HIDDEN, 10)


def torch_mlp(seed: int) -> Any:
    """The demo network in torch (:func:`lrtwin.models.torch_mlp`), initialised from ``seed``."""
    from lrtwin.models import torch_mlp as mlp

    return mlp(SIZES, seed=seed)


def initial_weights(seed: int) -> Weights:
    """The torch network's initial weights as NumPy arrays, one ``(weight, bias)`` pair per
    layer in torch's layout (:func:`lrtwin.models.mlp_weights`)."""
    return mlp_weights(torch_mlp(seed))


def flax_mlp(weights: Weights) -> Any:
    """The same network in Flax NNX, with the given weights."""
    from lrtwin.models import flax_mlp_from

    return flax_mlp_from(weights)


def torch_mlp_from(weights: Weights) -> Any:
    """The torch network with the given weights."""
    from lrtwin.models import torch_mlp_from as from_weights

    return from_weights(weights)
