"""The demo's LR range test: the same network, optimizer (AdamW) and batches in both frameworks."""

from __future__ import annotations

from typing import Any

from lrtwin.demo.runners import BATCH, MOMENTUM, WEIGHT_DECAY, JaxRunner, Runner, TorchRunner


def run_finder(runner: Runner, num_iter: int = 100, optimizer: str = "adamw", progress: bool = True) -> Any:
    """``find_lr`` on a fresh copy of the demo network with ``optimizer`` (``"adamw"`` or
    ``"momentum"``), the batches in the order of epoch 0 (cycled). Returns the
    :class:`~lrsched_jax.finder.FinderResult`."""
    if optimizer not in ("adamw", "momentum"):
        raise ValueError(f"optimizer must be 'adamw' or 'momentum', got {optimizer!r}")
    order = runner.order(0)
    x, y = runner.data.x_train[order], runner.data.y_train[order]
    if isinstance(runner, JaxRunner):
        import optax

        from lrsched_jax.finder.jax_driver import find_lr
        from lrtwin.demo.data import flax_mlp

        def tx(lr: Any) -> Any:
            if optimizer == "adamw":
                return optax.adamw(lr, weight_decay=WEIGHT_DECAY)
            return optax.sgd(lr, momentum=MOMENTUM)

        with runner.placed():
            return find_lr(
                flax_mlp(runner.weights),
                tx,
                (x, y),
                batch_size=BATCH,
                num_iter=num_iter,
                progress=progress,
                mesh=runner.mesh,
            )
    if isinstance(runner, TorchRunner):
        import torch

        from lrsched_torch import find_lr as torch_find_lr
        from lrtwin.demo.data import torch_mlp_from

        model = runner.wrap(torch_mlp_from(runner.weights).to(runner.device))
        if optimizer == "adamw":
            opt: Any = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=WEIGHT_DECAY)
        else:
            opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=MOMENTUM)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        # Each rank's contiguous share of every batch (the whole batch on one process).
        world = torch.distributed.get_world_size() if runner.distributed else 1
        part = BATCH // world
        lo = runner.rank * part
        batches = [
            (xt[i + lo : i + lo + part], yt[i + lo : i + lo + part])
            for i in range(0, len(xt) - BATCH + 1, BATCH)
        ]
        return torch_find_lr(
            model,
            opt,
            batches,
            criterion=torch.nn.CrossEntropyLoss(),
            num_iter=num_iter,
            progress=progress,
            device=runner.device,
        )
    raise TypeError(f"unknown runner {type(runner).__name__}")
