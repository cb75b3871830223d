"""One training loop per framework, with the same interface, for the demo.

Each runner trains the demo network with a given optimizer and schedule, evaluates on the
validation split every epoch, optionally checkpoints (best model; before each major lr
change, and reloads the best checkpoint. JAX runs a whole epoch as one jitted ``lax.scan``
(:func:`lrsched_jax.train.train_epoch`); torch runs a plain loop
(:func:`lrsched_torch.train.train_epoch`) with :class:`lrsched_torch.ScheduleLR`.

Data parallel: the JAX runner takes ``devices=N`` (a 1-D ``("data",)`` mesh over the first N
devices: every batch of 32 split over them); the torch runner, started on every rank by
``torchrun``, wraps the network in ``DistributedDataParallel`` and gives each rank its share
of every batch. Same global batches, so the same curves as on one device.
"""

from __future__ import annotations

import abc
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lrsched_jax.core.schedule import Schedule
from lrtwin.demo.data import Digits, flax_mlp, torch_mlp_from
from lrtwin.demo.outputs import replace_dir, replace_file
from lrtwin.models import Weights

BATCH = 32
WEIGHT_DECAY = 1e-2  # AdamW's, in both frameworks (their defaults differ: torch 1e-2, Optax 1e-4)
MOMENTUM = 0.9  # SGD with momentum: torch's and Optax's formulations coincide (no dampening)


@dataclass
class History:
    """Per-epoch records of one training run."""

    framework: str
    name: str
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)  # lr of the epoch's last update
    step_lrs: list[float] = field(default_factory=list)  # lr of every update
    wall_time: float = 0.0  # all epochs, evaluation included
    first_epoch_time: float = 0.0  # includes JAX's compilation of the epoch program
    epoch_end_times: list[float] = field(default_factory=list)  # seconds since the start
    steps_per_epoch: int = 0
    checkpoints: list[str] = field(default_factory=list)
    best_epoch: int | None = None
    best_val_loss: float | None = None
    reloaded_val_loss: float | None = None
    reloaded_val_acc: float | None = None

    def epoch_reaching(self, target_acc: float) -> int | None:
        """The first epoch (0-based) after which validation accuracy reached ``target_acc``."""
        for epoch, acc in enumerate(self.val_acc):
            if acc >= target_acc:
                return epoch
        return None

    def steps_to(self, target_acc: float) -> int | None:
        """Updates done when validation accuracy first reached ``target_acc`` (None: never)."""
        e = self.epoch_reaching(target_acc)
        return None if e is None else (e + 1) * self.steps_per_epoch

    def time_to(self, target_acc: float) -> float | None:
        """Seconds from the start of training until then (None: never)."""
        e = self.epoch_reaching(target_acc)
        return None if e is None else self.epoch_end_times[e]


class Runner(abc.ABC):
    """The framework-independent part: the epoch loop, logging and checkpoint decisions.

    Both frameworks see the same batches: each epoch's order is one NumPy permutation drawn
    from ``(seed, epoch)``.
    """

    framework = ""

    def __init__(self, data: Digits, weights: Weights, seed: int) -> None:
        self.data = data
        self.weights = weights
        self.seed = seed
        self.steps_per_epoch = len(data.x_train) // BATCH

    def order(self, epoch: int) -> np.ndarray:
        """This epoch's sample order (the same in both frameworks)."""
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.data.x_train))

    # framework hooks -------------------------------------------------------------------
    @abc.abstractmethod
    def _setup(self, optimizer: str, schedule: Schedule) -> None:
        """Build a fresh model and optimizer driven by ``schedule``."""

    @abc.abstractmethod
    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Train one epoch in ``self.order(epoch)``; return per-step losses and lrs."""

    @abc.abstractmethod
    def _evaluate(self) -> dict[str, float]:
        """Validation loss and accuracy of the current model."""

    def checkpoint_path(self, path: Path) -> Path:
        """Where the checkpoint called ``path`` is written (a framework may add a suffix)."""
        return path

    def placed(self) -> contextlib.AbstractContextManager[Any]:
        """A context in which the framework computes on the runner's device."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    def _save(self, path: Path, epoch: int, val_loss: float) -> Path:
        """Checkpoint epoch, model, optimizer state and validation loss at
        ``checkpoint_path(path)``, replacing an earlier one there only once the new one is
        complete; return the path."""

    @abc.abstractmethod
    def _reload_and_evaluate(
        self, path: Path, optimizer: str, schedule: Schedule
    ) -> tuple[dict[str, float], int]:
        """Load the checkpoint at ``path`` into a fresh model; return its evaluation and epoch."""

    # ---------------------------------------------------------------------------------
    def train(
        self,
        name: str,
        optimizer: str,
        schedule: Schedule,
        epochs: int,
        *,
        checkpoint_dir: Path | None = None,
        progress: Callable[[History], None] | None = None,
        claim: Callable[[Path], Path] | None = None,
    ) -> History:
        """Train a fresh copy of the network for ``epochs`` epochs with ``schedule``
        (stepped per update). With ``checkpoint_dir``: save the best model (by validation
        loss) and a checkpoint before each epoch that contains one of the schedule's change
        points, then reload the best checkpoint and evaluate it. ``claim(path)`` is called
        before each checkpoint is written (the demo's check that the path is its own)."""
        with self.placed():
            return self._train(
                name,
                optimizer,
                schedule,
                epochs,
                checkpoint_dir=checkpoint_dir,
                progress=progress,
                claim=claim,
            )

    def _train(
        self,
        name: str,
        optimizer: str,
        schedule: Schedule,
        epochs: int,
        checkpoint_dir: Path | None,
        progress: Callable[[History], None] | None,
        claim: Callable[[Path], Path] | None,
    ) -> History:
        hist = History(self.framework, name, steps_per_epoch=self.steps_per_epoch)
        if checkpoint_dir is not None:
            checkpoint_dir.mkdir(parents=True, exist_ok=True)

        def save(stem: str, epoch: int, val_loss: float) -> Path:
            assert checkpoint_dir is not None
            path = checkpoint_dir / stem
            if claim is not None:
                claim(self.checkpoint_path(path))
            return self._save(path, epoch, val_loss)

        self._setup(optimizer, schedule)
        total = epochs * self.steps_per_epoch
        changes = [int(np.ceil(p)) for p in schedule.change_points(total)]
        start = time.perf_counter()
        for epoch in range(epochs):
            first, last = epoch * self.steps_per_epoch, (epoch + 1) * self.steps_per_epoch
            if checkpoint_dir is not None:
                for p in changes:
                    if first <= p < last and p > 0:
                        prev = hist.val_loss[-1] if hist.val_loss else float("nan")
                        hist.checkpoints.append(str(save(f"before_lr_change_step{p}", epoch, prev)))
            losses, lrs = self._epoch(epoch)
            ev = self._evaluate()
            hist.epoch_end_times.append(time.perf_counter() - start)
            if epoch == 0:
                hist.first_epoch_time = hist.epoch_end_times[0]
            hist.train_loss.append(float(np.mean(losses)))
            hist.val_loss.append(ev["loss"])
            hist.val_acc.append(ev["accuracy"])
            hist.lr.append(float(lrs[-1]))
            hist.step_lrs.extend(float(v) for v in lrs)
            if checkpoint_dir is not None and (hist.best_val_loss is None or ev["loss"] < hist.best_val_loss):
                hist.best_val_loss, hist.best_epoch = ev["loss"], epoch
                best_path = save("best", epoch, ev["loss"])
            if progress is not None:
                progress(hist)
        hist.wall_time = time.perf_counter() - start
        if checkpoint_dir is not None:
            hist.checkpoints.append(str(best_path))
            ev, epoch = self._reload_and_evaluate(best_path, optimizer, schedule)
            if epoch != hist.best_epoch:
                raise RuntimeError(f"reloaded checkpoint is from epoch {epoch}, expected {hist.best_epoch}")
            hist.reloaded_val_loss, hist.reloaded_val_acc = ev["loss"], ev["accuracy"]
        return hist


class JaxRunner(Runner):
    framework = "jax"

    def __init__(
        self,
        data: Digits,
        weights: Weights,
        seed: int,
        devices: int = 1,
        platform: str | None = None,
    ) -> None:
        """``platform``: JAX's ``"cpu"`` or ``"gpu"`` devices (default: JAX's default backend's);
        ``devices > 1``: a data-parallel mesh over the first ``devices`` of them."""
        super().__init__(data, weights, seed)
        import jax

        self.mesh = None
        self.device = jax.devices(platform)[0]
        if devices > 1:
            available = jax.devices(platform)
            if len(available) < devices:
                raise ValueError(
                    f"--devices {devices}: JAX sees {len(available)} {available[0].platform} device(s); on a "
                    "machine without accelerators `lrtwin demo --devices N` simulates N CPU devices when it "
                    "is the process that starts JAX (XLA_FLAGS=--xla_force_host_platform_device_count=N)"
                )
            self.mesh = jax.make_mesh((devices,), ("data",), devices=available[:devices])

    def placed(self) -> contextlib.AbstractContextManager[Any]:
        import jax

        # Arrays created and programs run in the block go to this device (a mesh, when
        # there is one, places its own).
        return jax.default_device(self.device)

    def _setup(self, optimizer: str, schedule: Schedule) -> None:
        self.model, self.opt = self._fresh(optimizer, schedule)

    def _fresh(self, optimizer: str, schedule: Schedule) -> tuple[Any, Any]:
        import optax

        from lrsched_jax.train import make_optimizer

        model = flax_mlp(self.weights)
        if optimizer == "sgd":
            opt = make_optimizer(model, schedule, optax.sgd)
        elif optimizer == "momentum":
            opt = make_optimizer(model, schedule, optax.sgd, momentum=MOMENTUM)
        else:
            opt = make_optimizer(model, schedule, optax.adamw, weight_decay=WEIGHT_DECAY)
        return model, opt

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        from lrsched_jax.train import train_epoch

        o = self.order(epoch)
        return train_epoch(
            self.model, self.opt, self.data.x_train[o], self.data.y_train[o], BATCH, mesh=self.mesh
        )

    def _evaluate(self) -> dict[str, float]:
        from lrsched_jax.train import evaluate

        return evaluate(self.model, self.data.x_val, self.data.y_val, mesh=self.mesh)

    def _pure(self, model: Any, opt: Any, epoch: int, val_loss: float) -> dict[str, Any]:
        import jax.numpy as jnp
        from flax import nnx

        return {
            "epoch": jnp.asarray(epoch),
            "val_loss": jnp.asarray(val_loss, dtype=jnp.float32),
            "model": nnx.to_pure_dict(nnx.state(model)),
            "optimizer": nnx.to_pure_dict(nnx.state(opt)),
        }

    def _save(self, path: Path, epoch: int, val_loss: float) -> Path:
        import orbax.checkpoint as ocp

        state = self._pure(self.model, self.opt, epoch, val_loss)

        def write(new: Path) -> None:
            # Into a fresh directory: no force=True, which deletes the old checkpoint first.
            with ocp.StandardCheckpointer() as ck:
                ck.save(new.resolve(), state)
                ck.wait_until_finished()

        return replace_dir(path, write)

    def _reload_and_evaluate(
        self, path: Path, optimizer: str, schedule: Schedule
    ) -> tuple[dict[str, float], int]:
        import orbax.checkpoint as ocp
        from flax import nnx

        from lrsched_jax.train import evaluate

        model, opt = self._fresh(optimizer, schedule)
        target = self._pure(model, opt, 0, 0.0)
        with ocp.StandardCheckpointer() as ck:
            restored = ck.restore(path.resolve(), target)
        for obj, key in ((model, "model"), (opt, "optimizer")):
            state = nnx.state(obj)
            nnx.replace_by_pure_dict(state, restored[key])
            nnx.update(obj, state)
        return evaluate(model, self.data.x_val, self.data.y_val, mesh=self.mesh), int(restored["epoch"])


class TorchRunner(Runner):
    framework = "torch"

    def __init__(self, data: Digits, weights: Weights, seed: int, device: str = "cpu") -> None:
        super().__init__(data, weights, seed)
        import torch
        import torch.distributed as dist

        self.device = torch.device(device)
        # Under torchrun (the process group is initialised): DDP, rank 0 writes checkpoints.
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.distributed else 0
        if self.device.type == "cpu":
            # A 64-128-10 network on batches of 32: one thread is the fastest, and it keeps
            # the wall times stable when other processes share the cores.
            torch.set_num_threads(1)
        self.x_train = torch.from_numpy(data.x_train).to(self.device)
        self.y_train = torch.from_numpy(data.y_train).to(self.device)
        self.x_val = torch.from_numpy(data.x_val).to(self.device)
        self.y_val = torch.from_numpy(data.y_val).to(self.device)

    def wrap(self, model: Any) -> Any:
        """``model`` in ``DistributedDataParallel`` under torchrun, else itself."""
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def _fresh(self, optimizer: str, schedule: Schedule) -> tuple[Any, Any, Any]:
        import torch

        from lrsched_torch import ScheduleLR

        model = self.wrap(torch_mlp_from(self.weights).to(self.device))
        lr0 = float(schedule(0))
        opt: torch.optim.Optimizer
        if optimizer == "sgd":
            opt = torch.optim.SGD(model.parameters(), lr=lr0)
        elif optimizer == "momentum":
            opt = torch.optim.SGD(model.parameters(), lr=lr0, momentum=MOMENTUM)
        else:
            opt = torch.optim.AdamW(model.parameters(), lr=lr0, weight_decay=WEIGHT_DECAY)
        return model, opt, ScheduleLR(opt, schedule)

    def _setup(self, optimizer: str, schedule: Schedule) -> None:
        self.model, self.opt, self.sched = self._fresh(optimizer, schedule)

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        import torch

        from lrsched_torch.train import train_epoch

        o = torch.from_numpy(self.order(epoch)).to(self.device)
        return train_epoch(
            self.model, self.opt, (self.x_train[o], self.y_train[o]), batch_size=BATCH, scheduler=self.sched
        )

    def _evaluate(self) -> dict[str, float]:
        from lrsched_torch.train import evaluate

        return evaluate(self.model, (self.x_val, self.y_val))

    def checkpoint_path(self, path: Path) -> Path:
        return path.with_suffix(".pt")

    def _save(self, path: Path, epoch: int, val_loss: float) -> Path:
        import torch

        from lrsched_torch.distributed import unwrap

        path = self.checkpoint_path(path)
        if self.rank == 0:
            state = {
                "epoch": epoch,
                "val_loss": val_loss,
                # The plain network's keys (no "module." prefix): one checkpoint format.
                "model": unwrap(self.model).state_dict(),
                "optimizer": self.opt.state_dict(),
                "scheduler": self.sched.state_dict(),
            }
            replace_file(path, lambda tmp: torch.save(state, tmp))
        if self.distributed:
            torch.distributed.barrier()  # every rank may read it from here on
        return path

    def _reload_and_evaluate(
        self, path: Path, optimizer: str, schedule: Schedule
    ) -> tuple[dict[str, float], int]:
        import torch

        from lrsched_torch.distributed import unwrap
        from lrsched_torch.train import evaluate

        model, opt, sched = self._fresh(optimizer, schedule)
        ck = torch.load(path, map_location=self.device, weights_only=True)
        unwrap(model).load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        return evaluate(model, (self.x_val, self.y_val)), int(ck["epoch"])
