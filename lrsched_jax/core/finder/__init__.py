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

**The default suggestion is ``"valley"``** (fastai's default since 2021): the middle of
the longest decreasing stretch of the smoothed curve. It depends on the *shape* of the
whole descent, so one noisy dip cannot move it far, whereas ``"steepest"`` (an argmin of a
numerical derivative) jumps with noise between runs, and ``"minimum"``/10 depends on
exactly where the curve bottoms out. ``"article"`` (``argmin(np.gradient(raw))/10``) is
there to reproduce the article; on raw losses it is the noisiest of the four.
"""

from __future__ import annotations

from lrsched_jax.core.finder.config import DEFAULTS, MIN_WINDOW, SweepConfig
from lrsched_jax.core.finder.data import Cycle, progress_bar
from lrsched_jax.core.finder.result import FinderResult, build_result
from lrsched_jax.core.finder.sweep import (
    REASONS,
    RULE_DIVISORS,
    RULES,
    RUNNING,
    Tracker,
    tracker_init,
    tracker_step,
)

__all__ = [
    "FinderResult",
    "SweepConfig",
    "build_result",
    "DEFAULTS",
    "MIN_WINDOW",
    "RULES",
    "RULE_DIVISORS",
    "REASONS",
    "RUNNING",
    "Tracker",
    "tracker_init",
    "tracker_step",
    "Cycle",
    "progress_bar",
]
