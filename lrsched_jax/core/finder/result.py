"""The result both finder drivers return (no JAX, no torch: NumPy arrays and Python numbers)."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np

from lrsched_jax.core.finder.config import SweepConfig
from lrsched_jax.core.finder.sweep import (
    REASONS,
    RULE_DIVISORS,
    RULE_TABLE,
    RULES,
    capped_values,
    descent,
    rule_indices,
    rule_values,
    valid_count,
)

__all__ = ["FinderResult", "build_result", "USAGE_DIVISORS"]

#: :meth:`FinderResult.suggest`: what the suggestion is divided by for each use of the lr.
USAGE_DIVISORS = {"one_cycle": 1.0, "fixed": 10**0.5}

_FORMAT = 1
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


#: How the note of a result whose loss never fell begins (:func:`~lrsched_jax.core.finder.sweep.descent`).
_NEVER_FELL = "the loss never fell"


def _legend_name(rule: str, notes: tuple[str, ...]) -> str:
    """The rule's name in the plot's legend, saying when its dot is an lr divided by 10 (so
    it sits a decade left of the point the rule read): ``minimum ÷ 10``, ``article ÷ 10``,
    and a rule capped below the smoothed minimum (its note begins ``"<rule>: its candidate"``)."""
    if any(n.startswith(f"{rule}: its candidate") for n in notes):
        return f"{rule} (capped: the minimum's lr ÷ 10)"
    return f"{rule} ÷ {RULE_DIVISORS[rule]:g}" if RULE_DIVISORS[rule] != 1 else rule


def _enc(x: float) -> float | str:
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def _dec(x: Any) -> float:
    return _NONFINITE[x] if isinstance(x, str) else float(x)


@dataclasses.dataclass(frozen=True, eq=False)
class FinderResult:
    """What an LR range test found: the curve, where and why it stopped, the suggestions.

    Attributes:
        lrs: the lr of every step run (float64, ``stop_step + 1`` entries) — of the first
            param group; group ``g`` ran at ``lrs * group_scales[g]``.
        losses: the raw loss of every step (training loss of the step's batch before its
            update; the validation loss after the update in the torch driver's validation
            mode). The last entry is non-finite when ``stop_reason == "non-finite"``.
        smoothed_losses: the bias-corrected EMA of ``losses`` (what the stop rule and the
            smoothed-loss rules use).
        stop_step: the last step run (0-based): the step that diverged or gave a non-finite
            loss, or ``num_iter - 1``.
        stop_reason: ``"diverged"``, ``"non-finite"`` or ``"completed"``.
        suggestions: the lr each rule suggests (``"halfway"``, ``"valley"``, ``"steepest"``,
            ``"minimum"``, ``"article"``, ``"slide"``); ``None`` where the sweep stopped too
            early for the rule to have a point to choose from, and for every rule when the loss
            never fell by more than its noise (a flat or pure-noise curve: no descent to read;
            :func:`~lrsched_jax.core.finder.sweep.descent`, noted). Every value lies below the lr
            of the smoothed loss's minimum: a rule whose own candidate did not is given that
            lr / 10, and :attr:`notes` says so.
        rule: the rule behind :attr:`suggestion` (``"halfway"`` unless chosen otherwise).
        config: the sweep's settings.
        group_scales: each param group's lr relative to the first group's (``(1.0,)`` for
            one group and in the JAX driver).
        framework: ``"jax"`` or ``"torch"``.
        notes: one line per rule whose own candidate was replaced (it lay at or past the
            smoothed loss's minimum), naming the candidate and the replacement; or, when the
            loss never fell, the one line ``"the loss never fell: ..."`` with the numbers of
            the test; empty when every rule's own lr stood.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    stop_step: int
    stop_reason: str
    suggestions: dict[str, float | None]
    rule: str
    config: SweepConfig
    group_scales: tuple[float, ...] = (1.0,)
    framework: str = ""
    notes: tuple[str, ...] = ()

    @property
    def suggestion(self) -> float | None:
        """The suggested lr of the default rule (:attr:`rule`), or ``None`` (see :attr:`suggestions`)."""
        return self.suggestions[self.rule]

    def suggest(self, usage: str = "one_cycle") -> float | None:
        """The suggested lr for how it will be used: ``"one_cycle"`` (the peak of a one-cycle
        or warm-up schedule: :attr:`suggestion` itself) or ``"fixed"`` (a constant lr:
        :attr:`suggestion` / √10, half a decade lower).

        Why: in the suggestion benchmark the best constant lr of a half-decade grid lies
        0–1 decade (mostly half a decade) below the best one-cycle peak on 9 of its 10 task ×
        optimizer cells (a one-cycle schedule spends most of its steps below its peak),
        and ``halfway`` / √10 as a fixed lr met all targets on 7 of 10 task × optimizer
        cells against 5 of 10 for ``halfway`` itself. ``None`` where :attr:`suggestion` is ``None``.
        """
        if usage not in USAGE_DIVISORS:
            raise ValueError(f"suggest: usage must be one of {tuple(USAGE_DIVISORS)}, got {usage!r}")
        lr = self.suggestion
        return None if lr is None else lr / USAGE_DIVISORS[usage]

    @property
    def num_points(self) -> int:
        """How many points the suggestion rules used (the steps without a final non-finite loss)."""
        return int(self.stop_step if self.stop_reason == "non-finite" else self.stop_step + 1)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FinderResult):
            return NotImplemented
        arrays = ("lrs", "losses", "smoothed_losses")
        same_arrays = all(np.array_equal(getattr(self, a), getattr(other, a), equal_nan=True) for a in arrays)
        rest = [f.name for f in dataclasses.fields(self) if f.name not in arrays]
        return same_arrays and all(getattr(self, n) == getattr(other, n) for n in rest)

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (non-finite losses as ``"NaN"``/``"Infinity"``/``"-Infinity"``);
        :meth:`from_dict` rebuilds an equal result, bit for bit."""
        return {
            "format": _FORMAT,
            "framework": self.framework,
            "config": self.config.to_dict(),
            "lrs": [float(x) for x in self.lrs],
            "losses": [_enc(float(x)) for x in self.losses],
            "smoothed_losses": [_enc(float(x)) for x in self.smoothed_losses],
            "stop_step": self.stop_step,
            "stop_reason": self.stop_reason,
            "suggestions": dict(self.suggestions),
            "rule": self.rule,
            "suggestion": self.suggestion,
            "group_scales": list(self.group_scales),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FinderResult:
        """Rebuild a result from :meth:`to_dict` output (also after a JSON round trip)."""
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise ValueError(f"FinderResult.from_dict: not a finder result (format {_FORMAT}) dict")
        return cls(
            lrs=np.asarray(d["lrs"], dtype=np.float64),
            losses=np.asarray([_dec(x) for x in d["losses"]], dtype=np.float64),
            smoothed_losses=np.asarray([_dec(x) for x in d["smoothed_losses"]], dtype=np.float64),
            stop_step=int(d["stop_step"]),
            stop_reason=str(d["stop_reason"]),
            suggestions={
                r: (None if d["suggestions"][r] is None else float(d["suggestions"][r])) for r in RULES
            },
            rule=str(d["rule"]),
            config=SweepConfig(**d["config"]),
            group_scales=tuple(float(x) for x in d["group_scales"]),
            framework=str(d["framework"]),
            notes=tuple(str(n) for n in d.get("notes", ())),
        )

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> FinderResult:
        """The inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    def y_range(self) -> tuple[float, float] | None:
        """The loss range :meth:`plot` shows: the descent and the start of the divergence.

        ``lo`` is the smallest finite loss, raw or smoothed (the smoothed curve lags the raw
        one, whose low point is the bottom of the descent); ``top`` the largest smoothed loss
        up to the smoothed minimum (the descent, from the first point); past that minimum the
        range reaches up to the largest later smoothed loss, but at most
        ``lo + 1.5 * (top - lo)`` (so a loss that explodes in one step does not flatten the
        rest). Padded by 5 % on each side; ``None`` when no smoothed loss is finite. Raw
        losses above the smoothed ones are left out (they can be huge)."""
        s = self.smoothed_losses[: self.num_points]
        finite = np.isfinite(s)
        if not finite.any():
            return None
        k = int(np.argmin(np.where(finite, s, np.inf)))
        raw = self.losses[: self.num_points]
        raw = raw[np.isfinite(raw)]
        lo = min(float(s[k]), float(raw.min()) if raw.size else math.inf)
        top = float(np.max(s[: k + 1][finite[: k + 1]]))
        after = s[k:][finite[k:]]
        hi = max(top, min(float(after.max()), lo + 1.5 * (top - lo)))
        pad = 0.05 * (hi - lo) or 0.05 * abs(hi) or 1.0
        return lo - pad, hi + pad

    def plot(self, ax: Any = None, *, show_raw: bool = True, ylim: tuple[float, float] | None = None) -> Any:
        """Loss against lr on a log lr axis, every rule's suggestion marked and labelled.

        Draws the smoothed loss (and, faintly, the raw loss), for every rule a marker on the
        smoothed curve and a dashed line at its lr, labelled ``rule: lr`` in the legend (the
        result's own :attr:`rule` drawn thicker and marked "(default)" when it is the
        default; the rules that divide their point by 10 labelled ``minimum ÷ 10``,
        ``article ÷ 10``, and a rule capped below the smoothed minimum ``(capped: the
        minimum's lr ÷ 10)`` — their dots lie a decade left of the point they read), and a
        dotted line where the sweep stopped (labelled with the reason and step). When the
        loss never fell there is no marker and the title says so. The loss axis is
        ``ylim`` if given — pass one range to panels that are to be compared (e.g. the
        union of two results' :meth:`y_range`) — else :meth:`y_range`.
        Without ``ax`` a new figure of the default size is made with a constrained layout,
        so the axis labels fit. Needs matplotlib (``pip install lrtwin[plot]``); returns the
        ``Axes``.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("FinderResult.plot needs matplotlib: pip install 'lrtwin[plot]'") from e
        from lrsched_jax.core.finder.config import DEFAULTS

        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
        s = self.smoothed_losses
        if show_raw:
            ax.plot(self.lrs, self.losses, color="0.75", lw=0.8, label="loss")
        finite = np.isfinite(s)
        ax.plot(self.lrs[finite], s[finite], color="C0", label="smoothed loss")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        rng = ylim if ylim is not None else self.y_range()
        if rng is not None:
            ax.set_ylim(*rng)
        log_lrs = np.log(self.lrs)
        for rule in RULES:
            lr = self.suggestions.get(rule)
            if lr is None:
                continue
            k = int(np.argmin(np.abs(log_lrs - math.log(lr))))
            mine = rule == self.rule
            tag = " (default)" if mine and rule == DEFAULTS["suggestion"] else (" (chosen)" if mine else "")
            c = RULE_TABLE[rule].colour
            ax.axvline(lr, color=c, ls="--", lw=1.6 if mine else 0.8, alpha=1.0 if mine else 0.7)
            y = s[k] if np.isfinite(s[k]) else np.nan
            label = f"{_legend_name(rule, self.notes)}{tag}: {lr:.3g}"
            ax.plot([lr], [y], "o", color=c, ms=7 if mine else 5, label=label)
        if self.stop_reason != "completed":
            ax.axvline(
                self.lrs[self.stop_step],
                color="k",
                ls=":",
                lw=1,
                label=f"{self.stop_reason} at step {self.stop_step}",
            )
        never = any(n.startswith(_NEVER_FELL) for n in self.notes)
        ax.set_title("LR range test" + (": the loss never fell, no suggestion" if never else ""))
        ax.legend(loc="best", fontsize="x-small")
        return ax

    def __repr__(self) -> str:
        sugg = ", ".join(
            f"{r}={'None' if v is None else format(v, '.3g')}" for r, v in self.suggestions.items()
        )
        lr = "None" if self.suggestion is None else format(self.suggestion, ".3g")
        return (
            f"FinderResult({self.framework or '?'}: {len(self.lrs)} steps, {self.stop_reason} at step "
            f"{self.stop_step}, suggestion={lr} ({self.rule}); {sugg})"
        )


def build_result(
    config: SweepConfig,
    raw: np.ndarray,
    smoothed: np.ndarray,
    stop_step: int,
    code: int,
    *,
    group_scales: tuple[float, ...] = (1.0,),
    framework: str = "",
) -> FinderResult:
    """Assemble a :class:`FinderResult` from the recorded steps ``0..stop_step``.

    The suggestion rules run here, on the host, with NumPy in float64 on the recorded
    values — the same computation for both drivers — and then the cap below the smoothed
    loss's minimum (:func:`~lrsched_jax.core.finder.sweep.capped_values`, with its notes).
    When the loss never fell by more than its noise
    (:func:`~lrsched_jax.core.finder.sweep.descent`) no rule has a descent to read: every
    suggestion is ``None`` and the one note says why.
    """
    m = stop_step + 1
    lrs = config.lr_table()[:m]
    raw = np.asarray(raw, dtype=np.float64)[:m]
    smoothed = np.asarray(smoothed, dtype=np.float64)[:m]
    count = int(valid_count(np.int64(stop_step), np.int64(code)))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_lrs = np.log(lrs)
        indices = rule_indices(raw, smoothed, log_lrs, np.int64(count), config.skip_start, config.skip_end)
    fell, never = descent(raw, count, config.skip_start, config.skip_end)
    if fell:
        own = rule_values(lrs, indices)
        suggestions, notes = capped_values(lrs, smoothed, count, own, config.skip_start)
    else:
        suggestions, notes = {rule: None for rule in RULES}, (str(never),)
    return FinderResult(
        lrs=lrs,
        losses=raw,
        smoothed_losses=smoothed,
        stop_step=int(stop_step),
        stop_reason=REASONS[int(code)],
        suggestions=suggestions,
        rule=config.suggestion,
        config=config,
        group_scales=tuple(float(g) for g in group_scales),
        framework=framework,
        notes=notes,
    )
