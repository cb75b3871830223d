r"""The torch driver of the LR finder: :func:`find_lr` for any ``torch.nn.Module`` and optimizer.

A plain host loop around the shared finder logic of :mod:`lrsched_jax.finder` (smoothing,
stop rule and suggestion rules evaluated with NumPy — JAX is never imported), with the
sweep applied by a :class:`~lrsched_torch.ScheduleLR` over the ``lr_range`` schedule.
Everything the sweep touches is snapshotted first and put back afterwards, also when an
exception escapes (see :func:`find_lr`). Under ``torch.distributed`` (a
``DistributedDataParallel`` model, or ``process_group=``) the ranks agree on every step's
loss and on failures: :mod:`lrsched_torch.distributed`.
"""

from __future__ import annotations

import collections
import collections.abc
import contextlib
import copy
import random
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from lrsched_jax.core.finder.config import DEFAULTS, SweepConfig
from lrsched_jax.core.finder.data import Cycle, progress_bar
from lrsched_jax.core.finder.result import FinderResult, build_result
from lrsched_jax.core.finder.sweep import RUNNING, quiet, tracker_init, tracker_step
from lrsched_torch._common import as_float, check_optimizer
from lrsched_torch.count_bound import AttachHandle
from lrsched_torch.distributed import RankSync, forward_buffers, sync_group, unwrap
from lrsched_torch.schedule_lr import ScheduleLR

__all__ = ["find_lr"]

_WHERE = "find_lr"

# torch's call-order warnings of a fresh scheduler; harmless here (a step skipped by a
# GradScaler, or a first sweep step that stops before any update).
_SCHED_WARNINGS = (
    r"Detected call of `lr_scheduler\.step\(\)` before `optimizer\.step\(\)`",
    r"Seems like `optimizer\.step\(\)` has been overridden",
)


def _clone(v: Any) -> Any:
    return v.detach().clone() if isinstance(v, torch.Tensor) else None


class _Snapshot:
    """Everything the sweep can change, kept so that :meth:`restore` puts it back bitwise.

    Tensors are restored *in place* (``copy_`` into the original objects), and every dict
    the sweep can touch is restored to its original entries, so references held elsewhere
    (optimizer → parameters, a user's scheduler → optimizer, hook handles) stay valid.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: Any) -> None:
        self.modules = [(m, m.training, dict(m._parameters), dict(m._buffers)) for m in model.modules()]
        seen: dict[int, torch.Tensor] = {}
        for t in [*model.parameters(), *model.buffers()]:
            seen.setdefault(id(t), t)
        self.tensors = [(t, t.detach().clone()) for t in seen.values()]
        self.grads = [(p, p.grad, _clone(p.grad)) for p in model.parameters()]
        # The optimizer: its attributes (the step wrapper a scheduler installs, `_opt_called`),
        # per-parameter state, param groups and step hooks.
        self.optimizer = optimizer
        self.opt_attrs = dict(vars(optimizer))
        self.opt_state = [
            (p, d, dict(d), {k: v.detach().clone() for k, v in d.items() if isinstance(v, torch.Tensor)})
            for p, d in optimizer.state.items()
        ]
        self.group_list = list(optimizer.param_groups)
        self.groups = [
            (g, dict(g), {k: v.detach().clone() for k, v in g.items() if isinstance(v, torch.Tensor)})
            for g in optimizer.param_groups
        ]
        self.hooks = [
            (h, collections.OrderedDict(h))
            for h in (optimizer._optimizer_step_pre_hooks, optimizer._optimizer_step_post_hooks)
        ]
        self.scaler = scaler
        self.scaler_attrs: dict[str, Any] = {}
        if scaler is not None:
            for k, v in vars(scaler).items():
                keep = _clone(v) if isinstance(v, torch.Tensor) else copy.deepcopy(v)
                self.scaler_attrs[k] = (v, keep)
        self.cpu_rng = torch.get_rng_state()
        self.cuda_rng = (
            torch.cuda.get_rng_state_all()
            if torch.cuda.is_available() and torch.cuda.is_initialized()
            else None
        )
        self.py_rng = random.getstate()
        self.np_rng = np.random.get_state()

    def restore(self) -> None:
        with torch.no_grad():
            for m, training, params, buffers in self.modules:
                m.training = training
                m._parameters.clear()
                m._parameters.update(params)
                m._buffers.clear()
                m._buffers.update(buffers)
            for t, saved in self.tensors:
                t.copy_(saved)
            for p, g, saved in self.grads:
                if g is not None:
                    g.copy_(saved)
                p.grad = g
            opt = self.optimizer
            attrs = vars(opt)
            for k in [k for k in attrs if k not in self.opt_attrs]:
                del attrs[k]
            attrs.update(self.opt_attrs)
            state = self.opt_attrs["state"]
            state.clear()
            for p, d, items, tensors in self.opt_state:
                d.clear()
                d.update(items)
                for k, saved in tensors.items():
                    items[k].copy_(saved)
                state[p] = d
            self.opt_attrs["param_groups"][:] = self.group_list
            for g, items, tensors in self.groups:
                g.clear()
                g.update(items)
                for k, saved in tensors.items():
                    items[k].copy_(saved)
            for h, saved in self.hooks:
                h.clear()
                h.update(saved)
            if self.scaler is not None:
                sattrs = vars(self.scaler)
                for k in [k for k in sattrs if k not in self.scaler_attrs]:
                    del sattrs[k]
                for k, (obj, keep) in self.scaler_attrs.items():
                    if isinstance(obj, torch.Tensor):
                        obj.copy_(keep)
                        sattrs[k] = obj
                    else:
                        sattrs[k] = keep
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        random.setstate(self.py_rng)
        np.random.set_state(self.np_rng)


def _suspend_attach_hooks(optimizer: torch.optim.Optimizer) -> None:
    """Remove the step hooks of an :func:`lrsched_torch.attach` handle for the sweep (they
    set the lr before every step, which would override the sweep); the snapshot puts them back."""
    for hooks in (optimizer._optimizer_step_pre_hooks, optimizer._optimizer_step_post_hooks):
        for key in [k for k, h in hooks.items() if isinstance(getattr(h, "__self__", None), AttachHandle)]:
            del hooks[key]


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch if batch.device == device else batch.to(device, non_blocking=True)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_to_device(b, device) for b in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _compute_loss(loss_fn: Any, model: torch.nn.Module, batch: Any) -> torch.Tensor:
    if isinstance(loss_fn, torch.nn.Module):
        if not isinstance(batch, (list, tuple)) or len(batch) < 2:
            raise TypeError(
                f"{_WHERE}: with a criterion as loss_fn every batch must be (inputs, targets, ...), got "
                f"{type(batch).__name__}; pass `loss_fn(model, batch)` for other batch layouts"
            )
        loss = loss_fn(model(batch[0]), batch[1])
    else:
        loss = loss_fn(model, batch)
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"{_WHERE}: loss_fn must return a torch.Tensor, got {type(loss).__name__}")
    if loss.dim() != 0:
        raise ValueError(
            f"{_WHERE}: loss_fn must return a scalar (0-dim) loss, got shape {tuple(loss.shape)} "
            "(reduce it, e.g. with .mean())"
        )
    if not loss.is_floating_point():
        raise TypeError(f"{_WHERE}: loss_fn must return a floating-point loss, got {loss.dtype}")
    return loss


def _val_loss(
    model: torch.nn.Module,
    loss_fn: Any,
    val_data: Iterable[Any],
    device: torch.device,
    autocast: Callable[[], Any],
    modes: list[tuple[torch.nn.Module, bool]],
) -> tuple[float, int, torch.dtype]:
    """The sum (float64) and number of the per-batch losses over ``val_data`` in eval mode,
    then the training modes back. A DDP model evaluates through its inner module: the
    parameters are the same on every rank, and its forward pass would take part in DDP's
    collectives (buffer broadcast), which ranks with different numbers of batches could
    not match."""
    model.eval()
    net = unwrap(model)
    total: torch.Tensor | None = None
    count = 0
    dtype = torch.float32
    try:
        with torch.no_grad():
            for batch in val_data:
                with autocast():
                    loss = _compute_loss(loss_fn, net, _to_device(batch, device))
                dtype = loss.dtype
                total = loss.detach().double() if total is None else total + loss.detach().double()
                count += 1
    finally:
        for m, training in modes:
            m.training = training
    if total is None:
        raise ValueError(f"{_WHERE}: val_data yielded no batches")
    return total.item(), count, dtype


def find_lr(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[..., torch.Tensor],
    data: Iterable[Any],
    *,
    start_lr: float = DEFAULTS["start_lr"],
    end_lr: float = DEFAULTS["end_lr"],
    num_iter: int = DEFAULTS["num_iter"],
    mode: str = DEFAULTS["mode"],
    smooth: float = DEFAULTS["smooth"],
    diverge_factor: float = DEFAULTS["diverge_factor"],
    skip_start: int = DEFAULTS["skip_start"],
    skip_end: int = DEFAULTS["skip_end"],
    suggestion: str = DEFAULTS["suggestion"],
    progress: bool = False,
    accumulation_steps: int = 1,
    val_data: Iterable[Any] | None = None,
    amp: bool = False,
    amp_dtype: torch.dtype | None = None,
    scaler: Any = None,
    device: torch.device | str | None = None,
    process_group: Any = None,
) -> FinderResult:
    r"""LR range test for a torch model and optimizer; leaves both exactly as it found them.

    Step ``k`` (0-based) trains on the next batch with lr ``lr_range(start_lr, end_lr,
    num_iter, mode)(k)`` — ``start_lr`` at step 0, ``end_lr`` at step ``num_iter - 1`` —
    records the batch's loss (before the step's update), smooths it and stops at the first
    step whose smoothed loss exceeds ``diverge_factor`` × the best smoothed loss (a margin
    of ``(diverge_factor - 1) * |best|`` above it for negative losses) or whose loss is not
    finite. Same algorithm, arguments, defaults and result as
    :func:`lrsched_jax.find_lr` (the rules and defaults: :mod:`lrsched_jax.finder`).

    **Param groups** are swept in proportion: group ``g`` runs at ``lr_g / lr_0 *
    sweep(k)``, where ``lr_g`` are the groups' lrs when ``find_lr`` is called — the first
    group follows the sweep exactly (``result.lrs``), the others keep their ratio to it
    (``result.group_scales``; e.g. a backbone at 0.1× the head stays at 0.1×). So after
    picking ``lr`` from the result, set group ``g`` to ``lr * result.group_scales[g]``.
    Implemented as a :class:`~lrsched_torch.ScheduleLR` in multiplier mode with each
    group's ``initial_lr`` set to its scale. The first group's lr must be > 0.

    **State.** Before the sweep the parameters, buffers (batch-norm statistics), gradients
    and each module's training flag, the optimizer's state, param groups, attributes and
    step hooks, the ``GradScaler`` passed in, and the RNG states (torch CPU, CUDA where
    initialised, Python's ``random``, NumPy's global) are snapshotted; afterwards — also
    when an exception escapes — they are put back bitwise, tensors in place. A scheduler
    already attached to the optimizer is never stepped (its ``initial_lr`` is restored
    with the param groups); the hooks of an :func:`lrsched_torch.attach` handle are
    suspended for the sweep. The snapshot lives on the tensors' own devices.

    The model is used in the training mode it is in (a deliberately frozen batch norm
    stays frozen); call ``model.train()`` first if it is in eval mode.

    **Data parallel.** Call it on every rank with a ``DistributedDataParallel`` model (or
    pass ``process_group``), each rank with its own share of every global batch (a
    ``DistributedSampler``; equal per-rank batch sizes). The loss that drives smoothing and
    the stop rule is the mean over the ranks, combined identically on every rank, so all
    ranks stop at the same step and return the same result; each restores its own state. An
    exception on one rank (data, loss function, optimizer step) makes every rank raise —
    that rank its own exception, the others a ``RuntimeError`` naming it — instead of
    leaving them waiting in a collective. The progress bar shows on rank 0 only. In
    validation mode each rank's ``val_data`` is evaluated through the inner module and the
    per-batch losses of all ranks are averaged. Details: :mod:`lrsched_torch.distributed`.

    Args:
        model: the ``torch.nn.Module``.
        optimizer: its optimizer (any ``torch.optim.Optimizer``; its current state, e.g.
            momentum buffers, is used as is).
        loss_fn: a criterion — a ``torch.nn.Module`` such as ``nn.CrossEntropyLoss()`` —
            applied as ``loss_fn(model(inputs), targets)`` to batches ``(inputs, targets,
            ...)``, or any other callable ``loss_fn(model, batch) -> scalar tensor``.
        data: a ``DataLoader`` or any iterable of batches, cycled when exhausted (a one-shot
            iterator is replayed from the batches it gave).
        start_lr, end_lr, num_iter, mode, smooth, diverge_factor, skip_start, skip_end,
            suggestion, progress: as in :func:`lrsched_jax.find_lr`.
        accumulation_steps: micro-batches per step; each micro-batch's loss is divided by it
            before ``backward`` and the step records their mean loss.
        val_data: validation mode: after each step's update, the recorded loss is the mean
            of the per-batch losses over this re-iterable (list, ``DataLoader``), computed
            in eval mode without gradients (slower, smoother curve).
        amp: run the forward pass under ``torch.autocast(device_type, amp_dtype)``.
        amp_dtype: the autocast dtype (default ``float16`` on CUDA, ``bfloat16`` elsewhere).
        scaler: a ``torch.amp.GradScaler`` to use (its state is restored afterwards);
            default with ``amp`` and ``float16``: a fresh one, else none.
        device: where batches are moved (default: the device of the model's first parameter).
        process_group: the ranks to agree with (default: the DDP model's process group, or
            none — a local sweep — for any other model).

    Raises ``ValueError``/``TypeError`` naming the argument for bad settings, an empty
    data source, a non-scalar or non-floating loss — with the model untouched.

    Example:

    >>> import torch
    >>> from lrsched_torch import find_lr
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Linear(3, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> x = torch.randn(256, 3)
    >>> y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    >>> loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
    >>> before = {k: v.clone() for k, v in model.state_dict().items()}
    >>> res = find_lr(model, opt, torch.nn.MSELoss(), loader)
    >>> res.stop_reason, res.framework
    ('diverged', 'torch')
    >>> 1e-4 < res.suggestion < 1.0
    True
    >>> all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched
    True
    >>> opt.param_groups[0]["lr"]
    0.1
    """
    config = SweepConfig.make(
        _WHERE,
        start_lr=start_lr,
        end_lr=end_lr,
        num_iter=num_iter,
        mode=mode,
        smooth=smooth,
        diverge_factor=diverge_factor,
        skip_start=skip_start,
        skip_end=skip_end,
        suggestion=suggestion,
    )
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{_WHERE}: model must be a torch.nn.Module, got {type(model).__name__}")
    check_optimizer(_WHERE, optimizer)
    if not callable(loss_fn):
        raise TypeError(f"{_WHERE}: loss_fn must be callable, got {type(loss_fn).__name__}")
    if isinstance(data, (str, bytes)) or not isinstance(data, collections.abc.Iterable):
        raise TypeError(f"{_WHERE}: data must be an iterable of batches, got {type(data).__name__}")
    if isinstance(accumulation_steps, bool) or not isinstance(accumulation_steps, int):
        raise TypeError(f"{_WHERE}: accumulation_steps must be an int, got {accumulation_steps!r}")
    if accumulation_steps < 1:
        raise ValueError(f"{_WHERE}: accumulation_steps must be >= 1, got {accumulation_steps}")
    if val_data is not None and (
        isinstance(val_data, collections.abc.Iterator) or not isinstance(val_data, collections.abc.Iterable)
    ):
        raise TypeError(
            f"{_WHERE}: val_data must be a re-iterable collection of batches (list, DataLoader), "
            f"got {type(val_data).__name__}"
        )
    for name, flag in (("amp", amp), ("progress", progress)):
        if not isinstance(flag, bool):
            raise TypeError(f"{_WHERE}: {name} must be True or False, got {flag!r}")
    if amp_dtype is not None and not isinstance(amp_dtype, torch.dtype):
        raise TypeError(f"{_WHERE}: amp_dtype must be a torch.dtype or None, got {amp_dtype!r}")
    if scaler is not None and not isinstance(scaler, torch.amp.GradScaler):
        raise TypeError(
            f"{_WHERE}: scaler must be a torch.amp.GradScaler or None, got {type(scaler).__name__}"
        )
    params = list(model.parameters())
    if device is None:
        if not params:
            raise ValueError(f"{_WHERE}: model has no parameters")
        dev = params[0].device
    else:
        try:
            dev = torch.device(device)
        except (TypeError, RuntimeError) as e:
            raise TypeError(
                f"{_WHERE}: device must be a torch.device or a device string, got {device!r}"
            ) from e
    lrs0 = [
        as_float(_WHERE, f"optimizer.param_groups[{i}]['lr']", g["lr"])
        for i, g in enumerate(optimizer.param_groups)
    ]
    if not lrs0[0] > 0:
        raise ValueError(
            f"{_WHERE}: optimizer: the first param group's lr must be > 0 (the other groups are swept in "
            f"proportion to it), got {lrs0[0]!r}"
        )
    scales = tuple(lr / lrs0[0] for lr in lrs0)
    sync = RankSync(_WHERE, sync_group(_WHERE, model, process_group), dev)

    snapshot = _Snapshot(model, optimizer, scaler)
    try:
        return _run(
            model,
            optimizer,
            loss_fn,
            data,
            config,
            scales,
            accumulation_steps,
            val_data,
            amp,
            amp_dtype,
            scaler,
            dev,
            progress and sync.rank == 0,
            sync,
        )
    finally:
        snapshot.restore()


def _run(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Any,
    data: Iterable[Any],
    config: SweepConfig,
    scales: tuple[float, ...],
    acc: int,
    val_data: Iterable[Any] | None,
    amp: bool,
    amp_dtype: torch.dtype | None,
    scaler: Any,
    device: torch.device,
    progress: bool,
    sync: RankSync,
) -> FinderResult:
    if amp:
        dtype = amp_dtype or (torch.float16 if device.type == "cuda" else torch.bfloat16)

        def autocast() -> Any:
            return torch.autocast(device.type, dtype=dtype)

        if scaler is None and dtype == torch.float16:
            scaler = torch.amp.GradScaler(device.type)
    else:

        def autocast() -> Any:
            return contextlib.nullcontext()

    source = Cycle(_WHERE, "data", data)
    modes = [(m, m.training) for m in model.modules()]
    for g, s in zip(optimizer.param_groups, scales):
        g["initial_lr"] = s
    _suspend_attach_hooks(optimizer)
    # quiet: NumPy warnings of the tracker on a non-finite loss (which simply stops the sweep)
    with warnings.catch_warnings(), quiet(np):
        for msg in _SCHED_WARNINGS:
            warnings.filterwarnings("ignore", message=msg, category=UserWarning)
        sched = ScheduleLR(optimizer, config.sweep(), mode="multiplier")
        n = config.num_iter
        divisors64 = config.divisors()
        divisors: np.ndarray | None = None
        dt: Any = None
        tracker: Any = None
        raw: list[float] = []
        smoothed: list[float] = []
        code = RUNNING
        bar = progress_bar(progress, n, _WHERE)
        # Distributed (lrsched_torch.distributed): the ranks agree after fetching each batch
        # and after each loss — before the model's own collectives in the forward and backward
        # passes — so an error on one rank is announced to all instead of leaving them inside
        # a collective; the loss agreement carries the loss. An error in a step's update is
        # announced at the next agreement. Locally, errors simply propagate.
        dist_ = sync.distributed
        no_sync = getattr(model, "no_sync", None) if dist_ and acc > 1 else None
        # DDP broadcasts its buffers at the start of every forward pass: a collective inside
        # ``loss_fn``, which a rank whose loss_fn raises before calling the model would never
        # join. So the sweep broadcasts them itself, right after the batch agreement, and the
        # forward pass has no collective left in it.
        buffers = forward_buffers(model) if dist_ else []
        if buffers:
            model.broadcast_buffers = False

        def fetch(i: int) -> Any:
            if i == 0:
                optimizer.zero_grad(set_to_none=True)
            return _to_device(next(source), device)

        def forward(batch: Any) -> torch.Tensor:
            with autocast():
                return _compute_loss(loss_fn, model, batch)

        def update() -> None:
            if val_data is None:
                _step(optimizer, scaler)
            sched.step()

        try:
            for k in range(n):
                micro: list[torch.Tensor] = []
                means: list[float] = []  # distributed: each micro-batch's loss, mean over the ranks
                for i in range(acc):
                    batch = sync.attempt(lambda i=i: fetch(i))
                    if dist_:
                        sync.check()
                        sync.broadcast_from_first(buffers)
                    # With accumulation, DDP reduces the gradients at the last backward only.
                    ctx = no_sync() if no_sync is not None and i < acc - 1 else contextlib.nullcontext()
                    with ctx:
                        loss = sync.attempt(lambda batch=batch: forward(batch))
                        if dist_:
                            mine = None if loss is None else loss.detach().double().item()
                            means.append(float(sync.mean(sync.check([mine]))[0]))
                        scaled = loss / acc if acc > 1 else loss
                        (scaler.scale(scaled) if scaler is not None else scaled).backward()
                    micro.append(loss.detach())
                if val_data is None:
                    loss_dtype = micro[0].dtype
                    if dist_:
                        value = means[0] if acc == 1 else sum(means) / acc
                    else:
                        value = micro[0].item() if acc == 1 else torch.stack(micro).double().mean().item()
                else:
                    sync.attempt(lambda: _step(optimizer, scaler))
                    out = sync.attempt(lambda: _val_loss(model, loss_fn, val_data, device, autocast, modes))
                    total, count, loss_dtype = out if out is not None else (None, None, None)
                    if dist_:
                        # Every rank's per-batch losses count alike (summed in rank order).
                        sums = sync.check([total, count])
                        total, count = float(np.sum(sums[:, 0])), int(np.sum(sums[:, 1]))
                    value = total / count
                if tracker is None:
                    # The tracker computes in the loss's precision (float64 losses in float64,
                    # anything narrower in float32), as the JAX driver does.
                    dt = np.float64 if loss_dtype == torch.float64 else np.float32
                    divisors = None if divisors64 is None else divisors64.astype(dt)
                    tracker = tracker_init(np, dt)
                x = dt(value)
                divisor = None if divisors is None else divisors[k]
                tracker, c = tracker_step(tracker, x, divisor, config.diverge_factor)
                raw.append(float(x))
                smoothed.append(float(tracker.smoothed))
                if bar is not None:
                    bar.update(1)
                code = int(c)
                if code != RUNNING:
                    break  # the stopping step's update is not needed
                sync.attempt(update)
            if dist_:
                sync.check()  # the last update's errors; and every rank leaves the sweep together
        finally:
            if buffers:
                model.broadcast_buffers = True
            if bar is not None:
                bar.close()
    return build_result(
        config,
        np.asarray(raw),
        np.asarray(smoothed),
        len(raw) - 1,
        code,
        group_scales=scales,
        framework="torch",
    )


def _step(optimizer: torch.optim.Optimizer, scaler: Any) -> None:
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()
