"""The demo's step 4b: the pipeline's peak lr chosen by training (:func:`lrsched_jax.tune_lr`,
:func:`lrsched_torch.tune_lr`) rather than read off the finder's curve.

The same model (the run's initial weights), data, batch size, AdamW and one-cycle over the
run's updates as the pipeline; the tuner's budget (3 full runs of member-updates, its sweep
included) and its search are the library's defaults. The tuned lr then trains the pipeline's
recipe once more, so the summary shows side by side what the finder's suggestion and the
tuned lr each train to. Under ``torchrun`` rank 0 tunes (one process, no DDP) and the other
ranks take its choice, so every rank trains at the same lr.
"""

from __future__ import annotations

from typing import Any

from lrtwin.demo.runners import BATCH, WEIGHT_DECAY, Runner

__all__ = ["tune_pipeline_lr"]


def _jax(runner: Any, total: int, epochs: int) -> Any:
    import optax

    import lrsched_jax as lrs
    from lrtwin.demo.data import flax_mlp

    d = runner.data
    with runner.placed():
        return lrs.tune_lr(
            model=lambda seed: flax_mlp(runner.weights),
            optimizer=lambda lr: optax.adamw(lr, weight_decay=WEIGHT_DECAY),
            train=(d.x_train, d.y_train), val=(d.x_val, d.y_val), epochs=epochs, batch_size=BATCH,
            seeds=(runner.seed,), schedule=lambda peak: lrs.one_cycle(peak, total),
        )  # fmt: skip


def _torch(runner: Any, total: int, epochs: int) -> Any:
    import torch

    import lrsched_torch as lt
    from lrtwin.demo.data import torch_mlp_from

    return lt.tune_lr(
        model=lambda seed: torch_mlp_from(runner.weights),
        optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=WEIGHT_DECAY),
        train=(runner.x_train, runner.y_train), val=(runner.x_val, runner.y_val), epochs=epochs,
        batch_size=BATCH, seeds=(runner.seed,), schedule=lambda peak: lt.one_cycle(peak, total),
        device=runner.device,
    )  # fmt: skip


def tune_pipeline_lr(runner: Runner, epochs: int) -> tuple[float | None, dict[str, Any] | None]:
    """``(lr, the tuner's result as a dict)`` for the pipeline's one-cycle in ``runner``'s
    framework: ``lr`` is None when every candidate diverged (the result's notes say so). On a
    torch rank other than 0: rank 0's lr, and None for the result."""
    total = epochs * runner.steps_per_epoch
    if runner.framework == "jax":
        res = _jax(runner, total, epochs)
        return res.lr, res.to_dict()
    if not getattr(runner, "distributed", False):
        res = _torch(runner, total, epochs)
        return res.lr, res.to_dict()
    import torch.distributed as dist

    box: list[Any] = [None]
    if dist.get_rank() == 0:
        res = _torch(runner, total, epochs)
        box = [(res.lr, res.to_dict())]
    dist.broadcast_object_list(box, src=0)
    lr, doc = box[0]
    return lr, doc if dist.get_rank() == 0 else None
