"""The one loss convention of everything that trains (no JAX, no torch).

``find_lr``, the training helpers, ``compare`` and ``tune_lr``, in both frameworks, take the
loss one of two ways, exactly one of them:

* ``criterion=`` — a function of ``(output, y)``, applied as ``criterion(model(x), y)`` to
  ``(x, y, ...)`` batches (default: softmax cross-entropy on integer labels);
* ``loss_fn=`` — a function of ``(model, batch)``, for anything else (a model returning
  several outputs, a batch that is a dict, an auxiliary loss).

The drivers reduce both to one ``(model, batch) -> loss`` function (:func:`resolve_loss`);
the adapters here are frozen dataclasses, so the JAX drivers can use them as static
``jit`` arguments (the same criterion gives the same compiled program).
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from collections.abc import Callable
from typing import Any

from lrsched_jax.core.validate import here

__all__ = [
    "CriterionLoss",
    "UnpackedLoss",
    "resolve_loss",
    "legacy_positional",
    "check_not_criterion",
    "deprecated_loss",
    "old_style",
]

BOTH = "give criterion= (a function of (output, y)) or loss_fn= (a function of (model, batch)), not both"


@dataclasses.dataclass(frozen=True)
class CriterionLoss:
    """``criterion(model(batch[0]), batch[1])``: a criterion as a ``(model, batch)`` loss."""

    criterion: Callable[[Any, Any], Any]
    where: str = "find_lr"

    def __call__(self, model: Any, batch: Any) -> Any:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError(
                f"{self.where}: criterion is applied as criterion(model(x), y) to (x, y, ...) batches, got "
                f"a {type(batch).__name__} batch; pass loss_fn= (a function of (model, batch)) for others"
            )
        return self.criterion(model(batch[0]), batch[1])


@dataclasses.dataclass(frozen=True)
class UnpackedLoss:
    """``fn(model, *batch)``: the JAX training helpers' old ``loss_fn(model, x, y)``."""

    fn: Callable[..., Any]

    def __call__(self, model: Any, batch: Any) -> Any:
        return self.fn(model, *batch)


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def check_not_criterion(loss_fn: Any, criterion_modules: tuple[str, ...]) -> None:
    """Refuse, as ``loss_fn=``, a known criterion of ``(output, y)`` — a function of one of
    ``criterion_modules`` (``torch.nn.functional``, ``optax``) — which would be called with the
    model in place of the output: ``TypeError`` saying to pass it as ``criterion=``."""
    module = getattr(loss_fn, "__module__", None) or type(loss_fn).__module__ or ""
    if any(module == m or module.startswith(m + ".") for m in criterion_modules):
        raise TypeError(
            f"{here()}: loss_fn is called as loss_fn(model, batch), but {_name(loss_fn)} is a criterion of "
            "(output, y); pass it as criterion="
        )


def resolve_loss(
    criterion: Any,
    loss_fn: Any,
    default: Callable[[Any, Any], Any],
    criterion_modules: tuple[str, ...] = (),
) -> Callable[[Any, Any], Any]:
    """The ``(model, batch)`` loss that ``criterion=`` / ``loss_fn=`` ask for (``default``, a
    criterion, when neither is given). ``TypeError`` for both, for a non-callable, and for a
    known criterion given as ``loss_fn`` (:func:`check_not_criterion`)."""
    if criterion is not None and loss_fn is not None:
        raise TypeError(f"{here()}: {BOTH}")
    for name, fn in (("criterion", criterion), ("loss_fn", loss_fn)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{here()}: {name} must be callable, got {type(fn).__name__}")
    if loss_fn is not None:
        check_not_criterion(loss_fn, criterion_modules)
        return loss_fn
    return CriterionLoss(default if criterion is None else criterion, here())


def legacy_positional(
    data: Any, extra: tuple[Any, ...], criterion: Any, loss_fn: Any, stacklevel: int = 3
) -> tuple[Any, Any]:
    """The old ``find_lr(model, optimizer, loss, data)``: ``(data, loss)`` with a
    ``DeprecationWarning`` when ``extra`` holds the data (``data`` then is the loss), else
    ``(data, None)``. ``TypeError`` for any other extra positional argument, and for a loss
    given both positionally and by keyword."""
    if not extra:
        return data, None
    if len(extra) != 1 or not callable(data):
        raise TypeError(
            f"{here()} takes (model, optimizer, data) positionally and the loss as criterion= or loss_fn=; "
            f"got {3 + len(extra)} positional arguments"
        )
    if criterion is not None or loss_fn is not None:
        raise TypeError(f"{here()}: the loss is given positionally and by keyword; {BOTH}")
    warnings.warn(
        f"{here()}(model, optimizer, loss, data) is deprecated and will be removed in the next release: pass "
        "the data third and the loss as loss_fn= (a function of (model, batch)) or criterion= (a function of "
        "(output, y))",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return extra[0], data


def deprecated_loss(
    loss: Any, criterion: Any, loss_fn: Any, *, takes_model: bool, stacklevel: int = 3
) -> tuple[Any, Any]:
    """``(criterion, loss_fn)`` for ``compare``'s old ``loss=`` keyword, with a
    ``DeprecationWarning``: in JAX it was ``loss(model, x, y)`` (``takes_model``; now
    ``loss_fn=``, given ``(model, (x, y))``), in torch ``loss(output, y)`` (now ``criterion=``).
    Without ``loss`` the two pass through. ``TypeError`` when it is given with either."""
    if loss is None:
        return criterion, loss_fn
    if criterion is not None or loss_fn is not None:
        raise TypeError(f"{here()}: loss= is the deprecated name of the loss; {BOTH}, and drop loss=")
    if not callable(loss):
        raise TypeError(f"{here()}: loss must be callable, got {type(loss).__name__}")
    if takes_model:
        new = "loss_fn=lambda model, batch: f(model, *batch), or criterion= (a function of (output, y))"
    else:
        new = "criterion= (the same function of (output, y))"
    warnings.warn(
        f"{here()}(loss=f) is deprecated and will be removed in the next release: pass {new}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return (None, UnpackedLoss(loss)) if takes_model else (loss, None)


def old_style(fn: Any) -> bool:
    """Whether ``fn`` takes ``(model, x, y)`` — the old JAX spelling of a loss or a metric:
    exactly three required positional parameters (a ``(model, batch)`` loss has two, an
    ``(output, y)`` metric two) and no ``*args``."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in params if p.kind in kinds and p.default is inspect.Parameter.empty]
    return len(required) == 3 and not any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
