"""The result both finder drivers return (no JAX, no torch: NumPy arrays and Python numbers)."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np

from lrsched_jax.core.finder.config import SweepConfig
from lrsched_jax.core.finder.sweep import REASONS, RULES, rule_indices, rule_values, valid_count

__all__ = ["FinderResult", "build_result"]

_FORMAT = 1
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


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
        suggestions: the lr each rule suggests (``"valley"``, ``"steepest"``,
            ``"minimum"``, ``"article"``); ``None`` where the sweep stopped too early for
            the rule to have a point to choose from.
        rule: the rule behind :attr:`suggestion` (``"valley"`` unless chosen otherwise).
        config: the sweep's settings.
        group_scales: each param group's lr relative to the first group's (``(1.0,)`` for
            one group and in the JAX driver).
        framework: ``"jax"`` or ``"torch"``.
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

    @property
    def suggestion(self) -> float | None:
        """The suggested lr of the default rule (:attr:`rule`), or ``None`` (see :attr:`suggestions`)."""
        return self.suggestions[self.rule]

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
        )

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> FinderResult:
        """The inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    def plot(self, ax: Any = None, *, show_raw: bool = True) -> Any:
        """Loss against lr on a log lr axis, with the suggestion and the stop point marked.

        Draws the smoothed loss (and, faintly, the raw loss), a marker and a dashed line at
        the suggested lr, and a dotted line where the sweep stopped (labelled with the
        reason and step). The loss axis spans the smoothed curve without its last
        ``skip_end`` points, so the diverging tail does not flatten the part that matters.
        Needs matplotlib (``pip install lrsched[plot]``); returns the ``Axes``.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("FinderResult.plot needs matplotlib: pip install 'lrsched[plot]'") from e
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        s = self.smoothed_losses
        if show_raw:
            ax.plot(self.lrs, self.losses, color="0.75", lw=0.8, label="loss")
        finite = np.isfinite(s)
        ax.plot(self.lrs[finite], s[finite], color="C0", label="smoothed loss")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        body = s[: max(1, self.num_points - self.config.skip_end)]
        body = body[np.isfinite(body)]
        if body.size:
            lo, hi = float(body.min()), float(body.max())
            pad = 0.05 * (hi - lo) or 0.05 * abs(hi) or 1.0
            ax.set_ylim(lo - pad, hi + pad)
        lr = self.suggestion
        if lr is not None:
            k = int(np.argmin(np.abs(np.log(self.lrs) - math.log(lr))))
            ax.axvline(lr, color="C3", ls="--", lw=1)
            ax.plot([lr], [s[k]], "o", color="C3", label=f"{self.rule}: {lr:.3g}")
        if self.stop_reason != "completed":
            ax.axvline(
                self.lrs[self.stop_step],
                color="k",
                ls=":",
                lw=1,
                label=f"{self.stop_reason} at step {self.stop_step}",
            )
        ax.set_title("LR range test")
        ax.legend(loc="best", fontsize="small")
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
    values — the same computation for both drivers.
    """
    m = stop_step + 1
    lrs = config.lr_table()[:m]
    raw = np.asarray(raw, dtype=np.float64)[:m]
    smoothed = np.asarray(smoothed, dtype=np.float64)[:m]
    count = int(valid_count(np.int64(stop_step), np.int64(code)))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_lrs = np.log(lrs)
        indices = rule_indices(raw, smoothed, log_lrs, np.int64(count), config.skip_start, config.skip_end)
    return FinderResult(
        lrs=lrs,
        losses=raw,
        smoothed_losses=smoothed,
        stop_step=int(stop_step),
        stop_reason=REASONS[int(code)],
        suggestions=rule_values(lrs, indices),
        rule=config.suggestion,
        config=config,
        group_scales=tuple(float(g) for g in group_scales),
        framework=framework,
    )
