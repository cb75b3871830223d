"""The small networks of the demo, the benchmarks and the tests, defined once in both frameworks.

* **MLP** over ``sizes = (inputs, hidden, ..., outputs)``: ``Linear`` layers with ReLU between
  them (none after the last). :func:`flax_mlp` is the Flax NNX network, :func:`torch_mlp` the
  torch one (an ``nn.Sequential`` of ``Linear``, ``ReLU``, ..., ``Linear``);
  :func:`mlp_weights`, :func:`flax_mlp_from` and :func:`torch_mlp_from` carry one network's
  weights into the other framework, so both start from the same numbers.
* **CNN** on the 8×8 digits (``(n, 64)`` inputs): two 3×3 convolutions (16 and 32 channels,
  "same" padding, ReLU) and a dense layer to 10 classes — :func:`flax_cnn`, :func:`torch_cnn`.

Weights travel in torch's layout: one ``(weight (out, in), bias (out,))`` pair per layer, as
NumPy arrays. Importing this module imports neither framework; each function imports its own.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["flax_cnn", "flax_mlp", "flax_mlp_from", "mlp_weights", "torch_cnn", "torch_mlp", "torch_mlp_from"]

Weights = list[tuple[np.ndarray, np.ndarray]]


def _sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(s) for s in sizes)
    if len(out) < 2 or any(s < 1 for s in out) or any(isinstance(s, bool) for s in sizes):
        raise ValueError(f"sizes must be at least two layer widths >= 1, got {sizes!r}")
    return out


@functools.cache
def _flax_classes() -> tuple[type, type]:
    """The Flax module classes, defined once, on first use (Flax imported then)."""
    import jax
    from flax import nnx

    class MLP(nnx.Module):
        """``Linear`` layers over ``sizes`` with ReLU between them."""

        def __init__(self, sizes: tuple[int, ...], rngs: nnx.Rngs, dtype: Any = None) -> None:
            kw = {} if dtype is None else {"dtype": dtype, "param_dtype": dtype}
            self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs, **kw) for a, b in itertools.pairwise(sizes)])

        def __call__(self, x: jax.Array) -> jax.Array:
            for layer in self.layers[:-1]:
                x = jax.nn.relu(layer(x))
            return self.layers[-1](x)

    class CNN(nnx.Module):
        """Two 3×3 convolutions on the 8×8 digit, then a dense layer to 10 classes."""

        def __init__(self, rngs: nnx.Rngs) -> None:
            self.c1 = nnx.Conv(1, 16, (3, 3), rngs=rngs)
            self.c2 = nnx.Conv(16, 32, (3, 3), rngs=rngs)
            self.out = nnx.Linear(32 * 64, 10, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            h = x.reshape(x.shape[0], 8, 8, 1)
            h = jax.nn.relu(self.c2(jax.nn.relu(self.c1(h))))
            return self.out(h.reshape(h.shape[0], -1))

    return MLP, CNN


def _rngs(rngs: Any) -> Any:
    from flax import nnx

    return rngs if isinstance(rngs, nnx.Rngs) else nnx.Rngs(int(rngs))


def flax_mlp(sizes: Sequence[int], *, rngs: Any = 0, dtype: Any = None) -> Any:
    """The MLP in Flax NNX, initialised by Flax from ``rngs`` (an ``nnx.Rngs`` or a seed);
    ``dtype`` sets the parameters' and the computation's dtype (default Flax's float32)."""
    mlp, _ = _flax_classes()
    return mlp(_sizes(sizes), _rngs(rngs), dtype)


def flax_cnn(*, rngs: Any = 0) -> Any:
    """The digits CNN in Flax NNX, initialised by Flax from ``rngs`` (an ``nnx.Rngs`` or a seed)."""
    _, cnn = _flax_classes()
    return cnn(_rngs(rngs))


def torch_mlp(sizes: Sequence[int], *, seed: int | None = None, dtype: Any = None) -> Any:
    """The MLP in torch. ``seed=None``: torch's own ``Linear`` initialisation from torch's
    global generator; a ``seed``: the same distribution (weights and biases uniform in
    ``±1/sqrt(fan_in)``) drawn from a private generator, so the global one is not touched."""
    import torch

    sizes = _sizes(sizes)
    layers: list[Any] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(torch.nn.ReLU())
        layers.append(torch.nn.Linear(a, b))
    model = torch.nn.Sequential(*layers)
    if seed is not None:
        gen = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for layer in _linears(model):
                bound = 1.0 / np.sqrt(layer.in_features)
                for p in (layer.weight, layer.bias):
                    p.copy_(torch.empty(p.shape).uniform_(-bound, bound, generator=gen))
    return model if dtype is None else model.to(dtype)


def torch_cnn(*, seed: int | None = None) -> Any:
    """The digits CNN in torch (torch's initialisation; from ``torch.manual_seed(seed)`` when
    a seed is given)."""
    import torch

    if seed is not None:
        torch.manual_seed(int(seed))
    return torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 8, 8)),
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 64, 10),
    )


def _linears(model: Any) -> list[Any]:
    import torch

    return [m for m in model if isinstance(m, torch.nn.Linear)]


def mlp_weights(model: Any) -> Weights:
    """A torch or Flax MLP's weights, one ``(weight (out, in), bias)`` pair of NumPy arrays
    per layer (torch's layout)."""
    if hasattr(model, "layers"):  # Flax: kernels are (in, out)
        return [(np.array(layer.kernel[...]).T, np.array(layer.bias[...])) for layer in model.layers]
    return [
        (lin.weight.detach().cpu().numpy().copy(), lin.bias.detach().cpu().numpy().copy())
        for lin in _linears(model)
    ]


def _weight_sizes(weights: Weights) -> tuple[int, ...]:
    return (weights[0][0].shape[1], *(w.shape[0] for w, _ in weights))


def flax_mlp_from(weights: Weights, *, dtype: Any = None) -> Any:
    """The Flax MLP with the given (torch-layout) weights, in ``dtype`` (default float32)."""
    import jax.numpy as jnp

    model = flax_mlp(_weight_sizes(weights), dtype=dtype)
    dt = jnp.float32 if dtype is None else dtype
    for layer, (w, b) in zip(model.layers, weights):
        layer.kernel.set_value(jnp.asarray(w.T, dtype=dt))
        layer.bias.set_value(jnp.asarray(b, dtype=dt))
    return model


def torch_mlp_from(weights: Weights, *, dtype: Any = None) -> Any:
    """The torch MLP with the given weights, in ``dtype`` (default float32)."""
    import torch

    model = torch_mlp(_weight_sizes(weights), seed=0)
    with torch.no_grad():
        for lin, (w, b) in zip(_linears(model), weights):
            lin.weight.copy_(torch.from_numpy(np.asarray(w)))
            lin.bias.copy_(torch.from_numpy(np.asarray(b)))
    return model if dtype is None else model.to(dtype)
