r"""The LR range test ("LR finder"), framework-neutral part: sweep, stop rule, suggestions, result.

One algorithm, a JAX driver (:mod:`lrsched_jax.finder`) and a torch driver
(:func:`lrsched_torch.find_lr`), both built on the public names of this package.

Train for ``num_iter`` steps while the lr sweeps from ``start_lr`` to ``end_lr`` (the
:class:`~lrsched_jax.LrRange` schedule: exponential by default, reaching ``end_lr`` at the
last step), record the loss, stop when it diverges, and read a good lr off the curve.

* :func:`lrsched_jax.find_lr` — Flax NNX models (or a params pytree), Optax optimizers;
  in-memory arrays run as one jitted program. :func:`lrsched_jax.find_lr_pure` takes any
  pure ``train_step(state, batch, lr) -> (state, loss)``.
* :func:`lrsched_torch.find_lr` — any ``torch.nn.Module`` and optimizer.

Both leave the model, optimizer and RNG state exactly as they found them, and return a
:class:`FinderResult`. The smoothing, the stop rule and the suggestion rules live in
:mod:`lrsched_jax.core.finder.sweep`, written once in the array-namespace style: the
smoothing and stop rule run traced inside the JAX driver's loop and in NumPy in the torch
driver; the suggestion rules run in NumPy on the host for both (on the recorded curve).

**Defaults and why.** ``start_lr=1e-7, end_lr=10, num_iter=100, mode="exp"`` (the
article's sweep; exponential spacing gives every decade the same number of steps);
``smooth=0.98`` (fastai's EMA, bias-corrected so the first point is the first loss);
``diverge_factor=4`` (stop once the smoothed loss exceeds 4× its best, as the article and
torch-lr-finder do); ``skip_start=10, skip_end=5`` (torch-lr-finder's plot window: the
first points are noise at a negligible lr, the last ones already diverge).

**The default suggestion is ``"halfway"``**, chosen by measurement
(``python -m benchmarks.suggestions``: five tasks × SGD-momentum and AdamW, each rule's lr
trained as a fixed lr and as a one-cycle peak against a half-decade grid, 3 seeds, the
spread over 10 data shuffles): the lr where the smoothed loss has first made half of its
descent. It reads the curve where it falls steeply, so a sweep's noise moves it least, and
it had the least regret and spread of the rules there; ``"valley"`` (fastai's default)
landed about a decade low and ``"minimum"`` moved up to 5× between shuffles.
:meth:`FinderResult.suggest` gives the lr for its use (``"one_cycle"``: the suggestion;
``"fixed"``: half a decade lower). No rule suggests an lr at or past the smoothed loss's
minimum: a rule whose own candidate is there gets that lr / 10, noted on the result.
"""

from __future__ import annotations

from lrsched_jax.core.finder.config import (
    DEFAULTS,
    MIN_WINDOW,
    RunOptions,
    SweepConfig,
    SweepOptions,
    sweep_signature,
)
from lrsched_jax.core.finder.data import Cycle, progress_bar
from lrsched_jax.core.finder.result import FinderResult, build_result
from lrsched_jax.core.finder.sweep import (
    REASONS,
    RULE_DIVISORS,
    RULE_TABLE,
    RULES,
    RUNNING,
    Rule,
    Tracker,
    tracker_init,
    tracker_step,
)

__all__ = [
    "FinderResult",
    "SweepConfig",
    "SweepOptions",
    "RunOptions",
    "sweep_signature",
    "build_result",
    "DEFAULTS",
    "MIN_WINDOW",
    "RULES",
    "RULE_DIVISORS",
    "RULE_TABLE",
    "Rule",
    "REASONS",
    "RUNNING",
    "Tracker",
    "tracker_init",
    "tracker_step",
    "Cycle",
    "progress_bar",
]
