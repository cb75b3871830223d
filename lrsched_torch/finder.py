r"""The torch driver of the LR finder: :func:`find_lr` for any ``torch.nn.Module`` and optimizer.

A plain host loop — the JAX driver's, step for step — around the shared finder logic of
:mod:`lrsched_jax.core.finder` (smoothing, stop rule and suggestion rules evaluated with
NumPy — JAX is never imported), with the
sweep's lr (the ``lr_range`` schedule's float64 table) written into the param groups.
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
import inspect
import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Unpack

import numpy as np
import torch

from lrsched_jax.core.finder import RUNNING, Cycle, FinderResult, build_result
from lrsched_jax.core.finder.config import RunOptions, SweepConfig, SweepOptions, sweep_signature
from lrsched_jax.core.finder.loop import HostTracker, host_loop
from lrsched_jax.core.losses import legacy_positional, resolve_loss
from lrsched_jax.core.validate import place
from lrsched_torch._common import CRITERION_MODULES, as_float, check_optimizer, cross_entropy
from lrsched_torch.count_bound import AttachHandle
from lrsched_torch.distributed import RankSync, forward_buffers, sync_group, unwrap

__all__ = ["find_lr"]

_WHERE = "find_lr"


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
        # Containers in the state that the optimizer changes in place (LBFGS's history lists
        # `old_dirs`, `old_stps`, `ro`, `al` are popped, appended and assigned to): their
        # contents, deep-copied, to be put back into the same objects.
        self.opt_containers = [
            (v, copy.deepcopy(v))
            for _, d in optimizer.state.items()
            for v in d.values()
            if isinstance(v, (list, dict))
        ]
        self.group_list = list(optimizer.param_groups)
        self.groups = [
            (g, dict(g), {k: v.detach().clone() for k, v in g.items() if isinstance(v, torch.Tensor)})
            for g in optimizer.param_groups
        ]
        self.hooks: list[tuple[Any, Any]] = [
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
            self._restore_model()
            self._restore_optimizer()
            self._restore_scaler()
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        random.setstate(self.py_rng)
        np.random.set_state(self.np_rng)

    def _restore_model(self) -> None:
        for m, training, params, buffers in self.modules:
            m.training = training
            m._parameters.clear()
            m._parameters.update(params)
            m._buffers.clear()
            m._buffers.update(buffers)
        for t, saved in self.tensors:
            t.copy_(saved)
        for p, grad, saved_grad in self.grads:
            if grad is not None:
                grad.copy_(saved_grad)
            p.grad = grad

    def _restore_optimizer(self) -> None:
        attrs = vars(self.optimizer)
        for k in [k for k in attrs if k not in self.opt_attrs]:
            del attrs[k]
        attrs.update(self.opt_attrs)
        state = self.opt_attrs["state"]
        state.clear()
        for param, d, items, tensors in self.opt_state:
            d.clear()
            d.update(items)
            for k, saved in tensors.items():
                items[k].copy_(saved)
            state[param] = d
        for obj, saved_contents in self.opt_containers:
            if isinstance(obj, list):
                obj[:] = saved_contents
            else:
                obj.clear()
                obj.update(saved_contents)
        self.opt_attrs["param_groups"][:] = self.group_list
        for group, group_items, group_tensors in self.groups:
            group.clear()
            group.update(group_items)
            for k, saved in group_tensors.items():
                group_items[k].copy_(saved)
        for hooks, saved_hooks in self.hooks:
            hooks.clear()
            hooks.update(saved_hooks)

    def _restore_scaler(self) -> None:
        if self.scaler is None:
            return
        sattrs = vars(self.scaler)
        for k in [k for k in sattrs if k not in self.scaler_attrs]:
            del sattrs[k]
        for k, (obj, keep) in self.scaler_attrs.items():
            if isinstance(obj, torch.Tensor):
                obj.copy_(keep)
                sattrs[k] = obj
            else:
                sattrs[k] = keep


def _suspend_attach_hooks(optimizer: torch.optim.Optimizer) -> None:
    """Remove the step hooks of an :func:`lrsched_torch.attach` handle for the sweep (they
    set the lr before every step, which would override the sweep); the snapshot puts them back."""
    for hooks in (optimizer._optimizer_step_pre_hooks, optimizer._optimizer_step_post_hooks):
        for key in [k for k, h in hooks.items() if isinstance(getattr(h, "__self__", None), AttachHandle)]:
            del hooks[key]


def _to_device(batch: Any, device: torch.device) -> Any:
    kind = type(batch)
    if kind is tuple or kind is list:  # the usual batch, first: isinstance(x, torch.Tensor) is slow
        return kind([_to_device(b, device) for b in batch])
    if isinstance(batch, torch.Tensor):
        return batch if batch.device == device else batch.to(device, non_blocking=True)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_to_device(b, device) for b in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _compute_loss(loss_fn: Callable[[Any, Any], Any], model: torch.nn.Module, batch: Any) -> torch.Tensor:
    loss = loss_fn(model, batch)
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"{_WHERE}: the loss must be a torch.Tensor, got {type(loss).__name__}")
    if loss.dim() != 0:
        raise ValueError(
            f"{_WHERE}: the loss must be a scalar (0-dim), got shape {tuple(loss.shape)} "
            "(reduce it, e.g. with .mean())"
        )
    if not loss.is_floating_point():
        raise TypeError(f"{_WHERE}: the loss must be floating-point, got {loss.dtype}")
    return loss


def _legacy_loss(data: Any, legacy: tuple[Any, ...], criterion: Any, loss_fn: Any) -> tuple[Any, Any, Any]:
    """``(data, criterion, loss_fn)`` with the old ``find_lr(model, optimizer, loss, data)``
    mapped as it was documented: a ``torch.nn.Module`` (or a function of ``torch``, such as
    ``F.cross_entropy``) is a criterion of ``(output, y)``, any other callable a function of
    ``(model, batch)`` (with a ``DeprecationWarning``)."""
    data, old = legacy_positional(data, legacy, criterion, loss_fn, stacklevel=4)
    if old is None:
        return data, criterion, loss_fn
    module = getattr(old, "__module__", None) or ""
    if isinstance(old, torch.nn.Module) or module == "torch" or module.startswith("torch."):
        return data, old, None
    return data, None, old


@sweep_signature
@place(_WHERE)
def find_lr(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Iterable[Any],
    *legacy: Any,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor] | None = None,
    progress: bool = False,
    accumulation_steps: int = 1,
    val_data: Iterable[Any] | None = None,
    amp: bool = False,
    amp_dtype: torch.dtype | None = None,
    scaler: Any = None,
    device: torch.device | str | None = None,
    process_group: Any = None,
    **sweep: Unpack[SweepOptions],
) -> FinderResult:
    r"""LR range test for a torch model and optimizer; leaves both exactly as it found them.

    Step ``k`` (0-based) trains on the next batch with lr ``lr_range(start_lr, end_lr,
    num_iter, mode)(k)`` — ``start_lr`` at step 0, ``end_lr`` at step ``num_iter - 1`` —
    records the batch's loss (before the step's update), smooths it and stops when it
    diverges or is not finite. Same algorithm, settings, defaults and result as
    :func:`lrsched_jax.find_lr`: the settings and the stop rule are
    :class:`~lrsched_jax.core.finder.SweepConfig`'s, the suggestion rules
    :mod:`lrsched_jax.core.finder`'s. The loop is the JAX driver's host loop, step for step.

    **Param groups** are swept in proportion: group ``g`` runs at ``lr_g / lr_0 *
    sweep(k)``, where ``lr_g`` are the groups' lrs when ``find_lr`` is called — the first
    group follows the sweep exactly (``result.lrs``), the others keep their ratio to it
    (``result.group_scales``; e.g. a backbone at 0.1× the head stays at 0.1×). So after
    picking ``lr`` from the result, set group ``g`` to ``lr * result.group_scales[g]``.
    Group ``g``'s lr at step ``k`` is ``scale_g * table[k]`` (one float64 product, as
    :class:`~lrsched_torch.ScheduleLR`'s multiplier mode computes it), written into the
    param group before the step's update. The first group's lr must be > 0.

    **State.** Before the sweep the parameters, buffers (batch-norm statistics), gradients
    and each module's training flag, the optimizer's state, param groups, attributes and
    step hooks, the ``GradScaler`` passed in, and the RNG states (torch CPU, CUDA where
    initialised, Python's ``random``, NumPy's global) are snapshotted; afterwards — also
    when an exception escapes — they are put back bitwise, tensors in place. A scheduler
    already attached to the optimizer is never stepped; the hooks of an
    :func:`lrsched_torch.attach` handle are suspended for the sweep. The snapshot lives on
    the tensors' own devices.

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
            momentum buffers, is used as is). One whose ``step`` needs a closure
            (``torch.optim.LBFGS``) is stepped as ``optimizer.step(closure)``, the closure
            recomputing the step's loss on the step's own micro-batches (``zero_grad``, the
            forward pass under ``amp``'s autocast, ``backward`` of each ``loss /
            accumulation_steps``) and returning their mean — called as often as the
            optimizer wants (LBFGS: up to ``max_eval`` times per step); the recorded loss is
            still the one before the step. Refused with a ``GradScaler`` (float16 AMP: torch's
            scaler cannot step with a closure) and with data parallel (LBFGS decides how
            often to evaluate from each rank's own loss, so ranks could disagree inside DDP's
            collectives).
        data: a ``DataLoader`` or any iterable of batches, cycled when exhausted (a one-shot
            iterator is replayed from the batches it gave).
        criterion: the loss as a function of ``(output, y)`` — ``nn.CrossEntropyLoss()``,
            ``F.mse_loss`` — applied as ``criterion(model(x), y)`` to batches ``(x, y, ...)``
            (default: ``F.cross_entropy``, softmax cross-entropy on integer labels).
        loss_fn: the loss as a function of ``(model, batch) -> scalar tensor``, for any other
            batch or loss; give ``criterion`` or ``loss_fn``, not both (``TypeError``). A
            criterion of ``torch``'s own (``nn.MSELoss()``, ``F.cross_entropy``) given as
            ``loss_fn`` is refused with a ``TypeError`` (it would be called the wrong way). The
            old ``find_lr(model, optimizer, loss, data)`` still works for one release, with a
            ``DeprecationWarning`` (an ``nn.Module`` or a ``torch`` function there is a
            criterion, any other callable a ``loss_fn``).
        **sweep: ``start_lr``, ``end_lr``, ``num_iter``, ``mode``, ``smooth``,
            ``diverge_factor``, ``skip_start``, ``skip_end``, ``suggestion``: the sweep's
            settings, the same in both drivers —
            :class:`~lrsched_jax.core.finder.SweepConfig` gives each one's meaning, range and
            default.
        progress: show a tqdm bar (on rank 0 only).
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
    data source, a non-scalar or non-floating loss, a model or optimizer without trainable
    parameters (nothing would train: the curve would be flat), a closure optimizer with a
    ``GradScaler`` or data parallel — with the model untouched.

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
    >>> res = find_lr(model, opt, loader, criterion=torch.nn.MSELoss())
    >>> res.stop_reason, res.framework
    ('diverged', 'torch')
    >>> 1e-4 < res.suggestion < 1.0
    True
    >>> all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched
    True
    >>> opt.param_groups[0]["lr"]
    0.1
    """
    data, criterion, loss_fn = _legacy_loss(data, legacy, criterion, loss_fn)
    options = RunOptions.make(sweep, progress, accumulation_steps, val_data)
    loss = resolve_loss(criterion, loss_fn, cross_entropy, CRITERION_MODULES)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{_WHERE}: model must be a torch.nn.Module, got {type(model).__name__}")
    check_optimizer(optimizer)
    if isinstance(data, (str, bytes)) or not isinstance(data, collections.abc.Iterable):
        raise TypeError(f"{_WHERE}: data must be an iterable of batches, got {type(data).__name__}")
    if not isinstance(amp, bool):
        raise TypeError(f"{_WHERE}: amp must be True or False, got {amp!r}")
    if amp_dtype is not None and not isinstance(amp_dtype, torch.dtype):
        raise TypeError(f"{_WHERE}: amp_dtype must be a torch.dtype or None, got {amp_dtype!r}")
    if scaler is not None and not isinstance(scaler, torch.amp.GradScaler):
        raise TypeError(
            f"{_WHERE}: scaler must be a torch.amp.GradScaler or None, got {type(scaler).__name__}"
        )
    _check_trainable(model, optimizer)
    dev = _device(model, device)
    scales = _group_scales(optimizer)
    sync = RankSync(sync_group(model, process_group), dev)
    precision = _Precision(amp, amp_dtype, scaler, dev)
    closure = _needs_closure(optimizer)
    if closure:
        _check_closure(optimizer, precision, sync)
    snapshot = _Snapshot(model, optimizer, scaler)
    try:
        run = _Sweep(
            model,
            optimizer,
            loss,
            options,
            scales,
            sync=sync,
            device=dev,
            precision=precision,
            closure=closure,
        )
        return run.run(data)
    finally:
        snapshot.restore()


def _check_trainable(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Refuse a sweep that could train nothing: its loss would be flat (or backward would
    fail on a loss without gradient) and no lr could be read off it."""
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(
            f"{_WHERE}: model has no trainable parameters (none with requires_grad=True), so the sweep "
            "would train nothing; unfreeze the parameters to be trained (p.requires_grad_(True))"
        )
    params = [p for g in optimizer.param_groups for p in g["params"]]
    if not any(isinstance(p, torch.Tensor) and p.requires_grad for p in params):
        raise ValueError(
            f"{_WHERE}: optimizer has no trainable parameters (its param groups hold {len(params)} "
            "tensor(s), none with requires_grad=True), so the sweep would train nothing; build it over "
            "the model's trainable parameters"
        )


def _needs_closure(optimizer: torch.optim.Optimizer) -> bool:
    """Whether the optimizer's ``step`` takes a required ``closure`` (``torch.optim.LBFGS``)."""
    try:
        params = inspect.signature(type(optimizer).step).parameters
    except (TypeError, ValueError):  # pragma: no cover - a step without a signature
        return False
    closure = params.get("closure")
    return closure is not None and closure.default is inspect.Parameter.empty


def _check_closure(optimizer: torch.optim.Optimizer, precision: _Precision, sync: RankSync) -> None:
    """Refuse the combinations a closure optimizer cannot run in (see :func:`find_lr`)."""
    name = type(optimizer).__name__
    if precision.scaler is not None and precision.scaler.is_enabled():
        raise ValueError(
            f"{_WHERE}: optimizer: {name}.step needs a closure, which a torch.amp.GradScaler cannot step "
            "(scaler=, or amp=True with float16); use amp_dtype=torch.bfloat16 (no scaler) or amp=False"
        )
    if sync.distributed:
        raise ValueError(
            f"{_WHERE}: optimizer: {name}.step needs a closure, which the data-parallel sweep does not "
            "support (the optimizer decides how often to evaluate it from each rank's own loss, so the ranks "
            "could disagree inside DDP's collectives); run the finder in one process"
        )


def _device(model: torch.nn.Module, device: Any) -> torch.device:
    """Where batches go: ``device``, else the device of the model's first parameter."""
    if device is None:
        params = list(model.parameters())
        if not params:
            raise ValueError(f"{_WHERE}: model has no parameters")
        return params[0].device
    try:
        return torch.device(device)
    except (TypeError, RuntimeError) as e:
        raise TypeError(f"{_WHERE}: device must be a torch.device or a device string, got {device!r}") from e


def _group_scales(optimizer: torch.optim.Optimizer) -> tuple[float, ...]:
    """Each param group's lr over the first group's: the groups are swept in proportion."""
    lrs0 = [
        as_float(f"optimizer.param_groups[{i}]['lr']", g["lr"]) for i, g in enumerate(optimizer.param_groups)
    ]
    if not lrs0[0] > 0:
        raise ValueError(
            f"{_WHERE}: optimizer: the first param group's lr must be > 0 (the other groups are swept in "
            f"proportion to it), got {lrs0[0]!r}"
        )
    return tuple(lr / lrs0[0] for lr in lrs0)


class _Precision:
    """The AMP mode: the autocast context of every forward pass, and the ``GradScaler`` (if
    any) that the backward passes and the optimizer steps go through."""

    def __init__(self, amp: bool, amp_dtype: torch.dtype | None, scaler: Any, device: torch.device) -> None:
        self.device_type = device.type
        self.dtype: torch.dtype | None = None
        if amp:
            self.dtype = amp_dtype or (torch.float16 if device.type == "cuda" else torch.bfloat16)
            if scaler is None and self.dtype == torch.float16:
                scaler = torch.amp.GradScaler(device.type)
        self.scaler = scaler

    @property
    def active(self) -> bool:
        """Whether the forward passes or the updates go through AMP (autocast or a scaler)."""
        return self.dtype is not None or self.scaler is not None

    def autocast(self) -> Any:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def step(
        self, optimizer: torch.optim.Optimizer, closure: Callable[[], torch.Tensor] | None = None
    ) -> None:
        """One update; ``closure`` for an optimizer that needs one (never with an enabled scaler)."""
        args = () if closure is None else (closure,)
        if self.scaler is None:
            optimizer.step(*args)
        else:
            self.scaler.step(optimizer, *args)
            self.scaler.update()


class _Sweep:
    """One sweep over a live model and optimizer.

    :meth:`_on_host` runs the host loop both drivers share
    (:func:`lrsched_jax.core.finder.loop.host_loop`: the progress bar and the stop) over this
    driver's step: the step's batch(es) and loss, the tracker started at step 0, its
    smoothing and stop rule (:class:`~lrsched_jax.core.finder.loop.HostTracker`, which gives
    the recorded curves after the sweep) — then the update (the stopping step's update is not
    needed). The
    modes are small pieces: :class:`_Precision` (AMP), :meth:`_agreed_micro_step` (accumulation,
    the rank agreements), and the two recording modes chosen once — the training loss before the update
    (:meth:`_training_loss`, :meth:`_train_and_schedule`) or the validation loss after it
    (:meth:`_validation_loss`, :meth:`_schedule`). Where none of the modes is asked for, each
    step runs as one frame instead (:meth:`_plain_step`: the same work, without the dispatch).

    **Distributed** (:mod:`lrsched_torch.distributed`): the ranks agree after fetching each
    batch and after each loss — before the model's own collectives in the forward and
    backward passes — so an error on one rank is announced to all instead of leaving them
    inside a collective; the loss agreement carries the loss. An error in a step's update is
    announced at the next agreement. Locally the agreements are no-ops and errors simply
    propagate.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[Any, Any], Any],
        options: RunOptions,
        scales: tuple[float, ...],
        *,
        sync: RankSync,
        device: torch.device,
        precision: _Precision,
        closure: bool = False,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.options = options
        self.config: SweepConfig = options.sweep
        self.scales = scales
        self.sync = sync
        self.device = device
        self.precision = precision
        self.acc = acc = options.accumulation_steps
        self.val_data = val_data = options.val_data
        # With accumulation, DDP reduces the gradients at the last backward only.
        self.no_sync = getattr(model, "no_sync", None) if sync.distributed and acc > 1 else None
        # DDP broadcasts its buffers at the start of every forward pass: a collective inside
        # the loss, which a rank whose loss raises before calling the model would never
        # join. So the sweep broadcasts them itself, right after the batch agreement, and the
        # forward pass has no collective left in it.
        self.buffers = forward_buffers(model)
        self.modes = [(m, m.training) for m in model.modules()]
        self.measure = self._training_loss if val_data is None else self._validation_loss
        self.micro_step = self._agreed_micro_step if sync.distributed else self._local_micro_step
        self.update = self._train_and_schedule if val_data is None else self._schedule
        # Group g's lr at step k: scales[g] * table[k], the product ScheduleLR's multiplier
        # mode forms (a plain write per group and step, no scheduler machinery).
        self.table = self.config.lr_table().tolist()
        self.k = 0
        # A closure optimizer (LBFGS) re-evaluates the step's loss on the step's own batches.
        self.closure = self._closure if closure else None
        self.step_batches: list[Any] = []
        self.plain = not (sync.distributed or closure or acc > 1 or val_data is not None or precision.active)
        divisors = self.config.divisors()
        self.divisors = None if divisors is None else divisors.tolist()
        self.tracker: HostTracker | None = None

    def run(self, data: Iterable[Any]) -> FinderResult:
        source = Cycle("data", data)
        with self._session():
            raw, smoothed, code = self._on_host(source)
        return build_result(
            self.config, raw, smoothed, len(raw) - 1, code, group_scales=self.scales, framework="torch"
        )

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        """The sweep drives the optimizer: step 0's lr is written into the param groups,
        :func:`attach`'s hooks are suspended and DDP's buffer broadcast is the sweep's. The
        snapshot puts it all back."""
        _suspend_attach_hooks(self.optimizer)
        self._set_lr(0)
        # NumPy warnings of the tracker on a non-finite loss, which simply stops the sweep.
        with np.errstate(all="ignore"):
            ddp: Any = self.model
            if self.buffers:
                ddp.broadcast_buffers = False
            try:
                yield
            finally:
                if self.buffers:
                    ddp.broadcast_buffers = True

    def _on_host(self, source: Cycle) -> tuple[np.ndarray, np.ndarray, int]:
        """The shared host loop (:func:`~lrsched_jax.core.finder.loop.host_loop`) over this
        driver's step; returns ``(raw, smoothed, stop code)``."""
        step = self._plain_step(source) if self.plain else self._step(source)
        progress = self.options.progress and self.sync.rank == 0
        _, code = host_loop(self.config.num_iter, step, int, progress)
        self.sync.check()  # the last update's errors; and every rank leaves the sweep together
        assert self.tracker is not None
        raw, smoothed = self.tracker.curves()
        return raw, smoothed, code

    def _step(self, source: Cycle) -> Callable[[int], int]:
        """Step ``k`` in every mode: the step's loss (:attr:`measure`), the tracker, and the
        update unless the step stops the sweep (the stopping step's update is not needed)."""

        def step(k: int) -> int:
            loss, dtype = self.measure(source)
            if k == 0:
                self._start_tracker(dtype)
            assert self.tracker is not None
            code = self.tracker.advance(loss)
            if code == RUNNING:
                self.sync.attempt(self.update)
            return code

        return step

    def _plain_step(self, source: Cycle) -> Callable[[int], int]:
        """:meth:`_step` where nothing but the sweep is asked for — one process, one
        micro-batch a step, no closure, no AMP, the training loss: the same work in one frame,
        without the modes' dispatch (between two steps' kernels each call costs several times
        what it costs alone; the benchmark measures the difference to a bare loop)."""
        optimizer, model, loss_fn, device = self.optimizer, self.model, self.loss_fn, self.device
        set_lr, steps = self._set_lr, len(self.table)
        advance: Callable[[float], int] | None = None

        def step(k: int) -> int:
            nonlocal advance
            optimizer.zero_grad(set_to_none=True)
            loss = _compute_loss(loss_fn, model, _to_device(next(source), device))
            value = loss.item()
            loss.backward()
            if advance is None:
                advance = self._start_tracker(loss.dtype).advance
            code = advance(value)
            if code == RUNNING:
                optimizer.step()
                if k + 1 < steps:
                    set_lr(k + 1)
            return code

        return step

    def _start_tracker(self, dtype: torch.dtype) -> HostTracker:
        """The tracker, started at step 0 in the loss's precision."""
        self.tracker = HostTracker(dtype == torch.float64, self.divisors, self.config.diverge_factor)
        return self.tracker

    # --- the step's loss: two recording modes -------------------------------------------

    def _training_loss(self, source: Cycle) -> tuple[float, torch.dtype]:
        """The step's loss before its update: the mean of its micro-batches' losses (each
        the mean over the ranks), their gradients accumulated; and the loss dtype."""
        self.step_batches = []
        if self.acc == 1:  # without the lists
            loss, mean = self.micro_step(source, 0)
            return mean, loss.dtype
        micro = [self.micro_step(source, i) for i in range(self.acc)]
        return sum(mean for _, mean in micro) / self.acc, micro[0][0].dtype

    def _validation_loss(self, source: Cycle) -> tuple[float, torch.dtype]:
        """Validation mode: the step's update first, then the mean of the per-batch losses
        over ``val_data`` (every rank's batches count alike, summed in rank order)."""
        self._training_loss(source)  # the gradients; this loss is not recorded
        sync = self.sync
        sync.attempt(lambda: self.precision.step(self.optimizer, self.closure))
        out = sync.attempt(self._validation_sums)
        # A rank whose work failed passes None (its values are ignored) and raises at the check.
        total, count, dtype = out if out is not None else (None, None, torch.float64)
        sums = sync.check([total, count])
        return float(np.sum(sums[:, 0])) / int(np.sum(sums[:, 1])), dtype

    def _train_and_schedule(self) -> None:
        self.precision.step(self.optimizer, self.closure)
        self._schedule()

    def _schedule(self) -> None:
        self.k += 1
        if self.k < len(self.table):
            self._set_lr(self.k)

    def _set_lr(self, k: int) -> None:
        v = self.table[k]
        for group, scale in zip(self.optimizer.param_groups, self.scales):
            lr, old = scale * v, group["lr"]
            # type() first: isinstance(x, torch.Tensor) goes through torch's metaclass (slow).
            if type(old) is not float and isinstance(old, torch.Tensor):
                old.fill_(lr)  # a tensor lr stays the tensor object the optimizer holds
            else:
                group["lr"] = lr

    # --- pieces of a step ---------------------------------------------------------------

    def _agreed_micro_step(self, source: Cycle, i: int) -> tuple[torch.Tensor, float]:
        """Micro-batch ``i`` of a step over several ranks: fetch, agree, forward, agree on the
        loss, backward. Returns the loss and its mean over the ranks."""
        sync, acc = self.sync, self.acc
        batch = sync.attempt(lambda: self._fetch(source, i))
        sync.check()
        if self.closure is not None:
            self.step_batches.append(batch)
        sync.broadcast_from_first(self.buffers)
        ctx = self.no_sync() if self.no_sync is not None and i < acc - 1 else contextlib.nullcontext()
        with ctx:
            loss = sync.attempt(lambda: self._forward(batch))
            mine = None if loss is None else loss.detach().double().item()
            mean = float(sync.mean(sync.check([mine]))[0])
            self.precision.backward(loss / acc if acc > 1 else loss)
        return loss, mean

    def _local_micro_step(self, source: Cycle, i: int) -> tuple[torch.Tensor, float]:
        """:meth:`_agreed_micro_step` in one process: no agreements to make; the loss and its
        float64 value."""
        batch = self._fetch(source, i)
        if self.closure is not None:
            self.step_batches.append(batch)
        loss = self._forward(batch)
        mean = loss.item()  # the exact value as a Python float (float64), as .double() gives
        self.precision.backward(loss / self.acc if self.acc > 1 else loss)
        return loss, mean

    def _closure(self) -> torch.Tensor:
        """The closure of an optimizer that needs one: the step's loss again, on the step's own
        micro-batches, with fresh gradients (each micro-batch's ``loss / acc``, as
        :meth:`_local_micro_step`); returns their mean (float64, detached). Never distributed."""
        self.optimizer.zero_grad(set_to_none=True)
        total: torch.Tensor | None = None
        for batch in self.step_batches:
            loss = self._forward(batch)
            self.precision.backward(loss / self.acc if self.acc > 1 else loss)
            value = loss.detach().double()
            total = value if total is None else total + value
        assert total is not None
        return total / self.acc if self.acc > 1 else total

    def _fetch(self, source: Cycle, i: int) -> Any:
        if i == 0:
            self.optimizer.zero_grad(set_to_none=True)
        return _to_device(next(source), self.device)

    def _forward(self, batch: Any) -> torch.Tensor:
        with self.precision.autocast():
            return _compute_loss(self.loss_fn, self.model, batch)

    def _validation_sums(self) -> tuple[float, int, torch.dtype]:
        """The sum (float64) and number of the per-batch losses over ``val_data`` in eval
        mode, then the training modes back. A DDP model evaluates through its inner module:
        the parameters are the same on every rank, and its forward pass would take part in
        DDP's collectives (buffer broadcast), which ranks with different numbers of batches
        could not match."""
        assert self.val_data is not None
        self.model.eval()
        net = unwrap(self.model)
        total: torch.Tensor | None = None
        count = 0
        dtype = torch.float32
        try:
            with torch.no_grad():
                for batch in self.val_data:
                    with self.precision.autocast():
                        loss = _compute_loss(self.loss_fn, net, _to_device(batch, self.device))
                    dtype = loss.dtype
                    total = loss.detach().double() if total is None else total + loss.detach().double()
                    count += 1
        finally:
            for m, training in self.modes:
                m.training = training
        if total is None:
            raise ValueError(f"{_WHERE}: val_data yielded no batches")
        return total.item(), count, dtype
