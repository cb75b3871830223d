"""``lrtwin demo --task lm``: a byte-level decoder-only transformer in JAX and torch.

**Text.** Python's own standard-library sources (no download): the fixed, sorted file lists
:data:`TRAIN_FILES` and :data:`VAL_FILES`, read as bytes from
``sysconfig.get_paths()["stdlib"]`` and joined with a blank line. Each split is cut into
non-overlapping windows of ``context + 1`` bytes: the input is a window's first ``context``
bytes and the target the same window shifted by one (next-byte prediction). The text
differs between Python versions; its SHA-256 is in the summary.

**Model** (:class:`LMConfig`; default 2 layers, ``d_model`` 64, 4 heads, context 64, 256 byte
values): token embedding + learned positions → ``layers`` pre-LayerNorm blocks
(``h += proj(causal_attention(ln1(h)))``, ``h += out(gelu_tanh(fc(ln2(h))))``) → final
LayerNorm → a linear head to 256 logits. Written once in Flax NNX (:func:`flax_lm_from`) and
once in torch (:func:`torch_lm_from`) with the same arithmetic: attention scores
``q·kᵀ / sqrt(d_head)`` with future positions set to ``-inf`` before the softmax, GELU's tanh
form in both (torch's default is the erf form, JAX's the tanh form), LayerNorm ε = 1e-5 (the
frameworks' defaults differ). Both are built from one set of NumPy weights
(:func:`lm_weights`, in torch's ``state_dict`` layout), so they start from the same numbers.

**Demo.** AdamW (weight decay 1e-2 in both) with warm-up + cosine, warmup-stable-decay and
inverse square root at one peak lr, stepped per update, the same batches in both
frameworks; then the LR finder, and warm-up + cosine at the finder's suggestion. Loss is the
mean next-byte cross-entropy over every position of the batch; accuracy the fraction of
bytes predicted exactly. Pictures and summary as in the digits demo, plus the largest
relative difference between the two frameworks' per-update losses.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lrsched_jax.core.schedule import Schedule
from lrtwin.demo.runners import BATCH, WEIGHT_DECAY, History, JaxRunner, Runner, TorchRunner

__all__ = [
    "TRAIN_FILES",
    "VAL_FILES",
    "JaxLMRunner",
    "LMConfig",
    "TextData",
    "TorchLMRunner",
    "flax_lm_from",
    "jax_lm_loss",
    "lm_finder",
    "lm_weights",
    "load_text",
    "max_rel_diff",
    "run_lm",
    "torch_lm_from",
    "torch_lm_loss",
]

#: Standard-library modules the model trains on, sorted (present in CPython 3.10 and later).
TRAIN_FILES = (
    "abc.py",
    "bisect.py",
    "colorsys.py",
    "contextlib.py",
    "fnmatch.py",
    "functools.py",
    "glob.py",
    "graphlib.py",
    "heapq.py",
    "numbers.py",
    "operator.py",
    "queue.py",
    "random.py",
    "reprlib.py",
    "sched.py",
    "shlex.py",
    "stat.py",
    "string.py",
)
#: The validation modules (disjoint from :data:`TRAIN_FILES`), sorted.
VAL_FILES = ("textwrap.py",)

TARGET_ACC = 0.35  # next-byte accuracy for the summary's "steps to target"
PEAK_LR = 3e-3
QUICK_UPDATES = 30  # updates per epoch under --quick
QUICK_EPOCHS = 3


@dataclass(frozen=True)
class LMConfig:
    """The transformer's shape; ``d_model`` must split into ``heads`` equal parts."""

    vocab: int = 256
    context: int = 64
    d_model: int = 64
    heads: int = 4
    layers: int = 2

    def __post_init__(self) -> None:
        for name in ("vocab", "context", "d_model", "heads", "layers"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"LMConfig: {name} must be a whole number >= 1, got {v!r}")
        if self.d_model % self.heads:
            raise ValueError(f"LMConfig: d_model ({self.d_model}) must be a multiple of heads ({self.heads})")


@dataclass(frozen=True)
class TextData:
    """Windows of bytes: ``x_*`` the inputs, ``y_*`` the next bytes, int64 ``(n, context)``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    sha256: str  # of the train text followed by the validation text
    train_bytes: int
    val_bytes: int


def _read(stdlib: Path, names: tuple[str, ...], what: str) -> bytes:
    if not names:
        raise ValueError(f"load_text: {what} names no file")
    parts = []
    for name in names:
        path = stdlib / name
        if not path.is_file():
            raise ValueError(f"load_text: {what}: {name} is not in this Python's standard library ({stdlib})")
        parts.append(path.read_bytes())
    return b"\n\n".join(parts)


def _windows(text: bytes, context: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    buf = np.frombuffer(text, dtype=np.uint8).astype(np.int64)
    n = (len(buf) - 1) // context
    if n < 1:
        raise ValueError(f"load_text: the {what} text ({len(buf)} bytes) is shorter than context + 1")
    x = buf[: n * context].reshape(n, context)
    y = buf[1 : n * context + 1].reshape(n, context)
    return x, y


def load_text(
    context: int = 64,
    train_files: tuple[str, ...] = TRAIN_FILES,
    val_files: tuple[str, ...] = VAL_FILES,
    stdlib: str | Path | None = None,
) -> TextData:
    """The train and validation windows (module docstring). ``stdlib``: the folder to read
    (default this interpreter's ``sysconfig.get_paths()["stdlib"]``). ``ValueError`` naming
    the file when one is missing, and when the two lists share a file."""
    if isinstance(context, bool) or not isinstance(context, int) or context < 1:
        raise ValueError(f"load_text: context must be a whole number >= 1, got {context!r}")
    shared = sorted(set(train_files) & set(val_files))
    if shared:
        raise ValueError(f"load_text: train_files and val_files share {', '.join(shared)}")
    root = Path(sysconfig.get_paths()["stdlib"] if stdlib is None else stdlib)
    train, val = _read(root, tuple(train_files), "train_files"), _read(root, tuple(val_files), "val_files")
    xt, yt = _windows(train, context, "train")
    xv, yv = _windows(val, context, "validation")
    return TextData(
        x_train=xt, y_train=yt, x_val=xv, y_val=yv, sha256=hashlib.sha256(train + val).hexdigest(),
        train_bytes=len(train), val_bytes=len(val),
    )  # fmt: skip


# --- weights ------------------------------------------------------------------------------


def _linear_names(cfg: LMConfig) -> dict[str, tuple[int, int]]:
    """Every linear layer's name → ``(out, in)``."""
    d = cfg.d_model
    out: dict[str, tuple[int, int]] = {}
    for i in range(cfg.layers):
        p = f"blocks.{i}."
        out |= {p + "qkv": (3 * d, d), p + "proj": (d, d), p + "fc": (4 * d, d), p + "out": (d, 4 * d)}
    out["head"] = (cfg.vocab, d)
    return out


def _norm_names(cfg: LMConfig) -> list[str]:
    return [f"blocks.{i}.{n}" for i in range(cfg.layers) for n in ("ln1", "ln2")] + ["ln_f"]


def lm_weights(cfg: LMConfig, seed: int, dtype: Any = np.float32) -> dict[str, np.ndarray]:
    """Initial weights keyed as the torch model's ``state_dict``: GPT-2's scheme — linear and
    embedding weights normal with σ = 0.02 (σ = 0.02 / sqrt(2·layers) for the projections
    back into the residual stream, ``proj`` and ``out``), biases 0, LayerNorm scale 1 and
    bias 0 — drawn from ``numpy.random.default_rng(seed)`` in a fixed order."""
    rng = np.random.default_rng(seed)
    w: dict[str, np.ndarray] = {
        "tok.weight": rng.normal(0.0, 0.02, (cfg.vocab, cfg.d_model)),
        "pos": rng.normal(0.0, 0.02, (cfg.context, cfg.d_model)),
    }
    residual = 0.02 / math.sqrt(2 * cfg.layers)
    for name, shape in _linear_names(cfg).items():
        std = residual if name.endswith(("proj", "out")) else 0.02
        w[name + ".weight"] = rng.normal(0.0, std, shape)
        w[name + ".bias"] = np.zeros(shape[0])
    for name in _norm_names(cfg):
        w[name + ".weight"] = np.ones(cfg.d_model)
        w[name + ".bias"] = np.zeros(cfg.d_model)
    return {k: v.astype(dtype) for k, v in w.items()}


# --- the two models -------------------------------------------------------------------------


# Built once: a class made anew per model would make every model's graph (and a jitted
# function's cache key) different from the last one's.
@functools.cache
def _torch_class() -> type:
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cfg: LMConfig) -> None:
            super().__init__()
            d = cfg.d_model
            self.heads = cfg.heads
            self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, h: torch.Tensor) -> torch.Tensor:
            b, t, d = h.shape
            q, k, v = self.qkv(self.ln1(h)).split(d, dim=-1)
            q, k, v = (a.reshape(b, t, self.heads, d // self.heads).transpose(1, 2) for a in (q, k, v))
            att = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)
            future = torch.ones(t, t, dtype=torch.bool, device=h.device).triu(1)
            att = att.masked_fill(future, float("-inf")).softmax(dim=-1)
            h = h + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
            return h + self.out(F.gelu(self.fc(self.ln2(h)), approximate="tanh"))

    class TorchLM(nn.Module):
        """The byte-level transformer (module docstring); ``forward(x)``: logits ``(B, T, vocab)``."""

        def __init__(self, cfg: LMConfig) -> None:
            super().__init__()
            self.tok = nn.Embedding(cfg.vocab, cfg.d_model)
            self.pos = nn.Parameter(torch.zeros(cfg.context, cfg.d_model))
            self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
            self.ln_f = nn.LayerNorm(cfg.d_model, eps=1e-5)
            self.head = nn.Linear(cfg.d_model, cfg.vocab)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.tok(x) + self.pos[: x.shape[1]]
            for block in self.blocks:
                h = block(h)
            return self.head(self.ln_f(h))

    return TorchLM


def torch_lm_from(weights: dict[str, np.ndarray], cfg: LMConfig, device: Any = "cpu") -> Any:
    """The torch model holding ``weights`` (their dtype is the model's)."""
    import torch

    model = _torch_class()(cfg)
    dtype = torch.from_numpy(weights["tok.weight"]).dtype
    model = model.to(dtype)
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()}, strict=True)
    return model.to(device)


@functools.cache
def _flax_class() -> type:
    import jax
    import jax.numpy as jnp
    from flax import nnx

    class Block(nnx.Module):
        def __init__(self, cfg: LMConfig, rngs: nnx.Rngs, dtype: Any) -> None:
            d, kw = cfg.d_model, {"dtype": dtype, "param_dtype": dtype, "rngs": rngs}
            self.heads = cfg.heads
            self.ln1 = nnx.LayerNorm(d, epsilon=1e-5, **kw)
            self.ln2 = nnx.LayerNorm(d, epsilon=1e-5, **kw)
            self.qkv, self.proj = nnx.Linear(d, 3 * d, **kw), nnx.Linear(d, d, **kw)
            self.fc, self.out = nnx.Linear(d, 4 * d, **kw), nnx.Linear(4 * d, d, **kw)

        def __call__(self, h: jax.Array) -> jax.Array:
            b, t, d = h.shape
            q, k, v = jnp.split(self.qkv(self.ln1(h)), 3, axis=-1)
            q, k, v = (a.reshape(b, t, self.heads, d // self.heads).transpose(0, 2, 1, 3) for a in (q, k, v))
            att = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d // self.heads)
            future = jnp.triu(jnp.ones((t, t), dtype=bool), 1)
            att = jax.nn.softmax(jnp.where(future, -jnp.inf, att), axis=-1)
            h = h + self.proj((att @ v).transpose(0, 2, 1, 3).reshape(b, t, d))
            return h + self.out(jax.nn.gelu(self.fc(self.ln2(h)), approximate=True))

    class FlaxLM(nnx.Module):
        """The byte-level transformer (module docstring); ``model(x)``: logits ``(B, T, vocab)``."""

        def __init__(self, cfg: LMConfig, rngs: nnx.Rngs, dtype: Any) -> None:
            kw = {"dtype": dtype, "param_dtype": dtype, "rngs": rngs}
            self.tok = nnx.Embed(cfg.vocab, cfg.d_model, **kw)
            self.pos = nnx.Param(jnp.zeros((cfg.context, cfg.d_model), dtype))
            self.blocks = nnx.List([Block(cfg, rngs, dtype) for _ in range(cfg.layers)])
            self.ln_f = nnx.LayerNorm(cfg.d_model, epsilon=1e-5, **kw)
            self.head = nnx.Linear(cfg.d_model, cfg.vocab, **kw)

        def __call__(self, x: jax.Array) -> jax.Array:
            h = self.tok(x) + self.pos[: x.shape[1]]
            for block in self.blocks:
                h = block(h)
            return self.head(self.ln_f(h))

    return FlaxLM


def flax_lm_from(weights: dict[str, np.ndarray], cfg: LMConfig) -> Any:
    """The Flax NNX model holding ``weights`` (torch layout: linear weights are transposed
    into Flax kernels; their dtype is the model's)."""
    import jax.numpy as jnp
    from flax import nnx

    dtype = weights["tok.weight"].dtype
    model = _flax_class()(cfg, nnx.Rngs(0), jnp.dtype(dtype))

    def put(param: Any, value: np.ndarray) -> None:
        if param[...].shape != value.shape:
            raise ValueError(f"flax_lm_from: weight shape {value.shape} does not fit {param[...].shape}")
        param[...] = jnp.asarray(value)

    put(model.tok.embedding, weights["tok.weight"])
    put(model.pos, weights["pos"])
    for name in _linear_names(cfg):
        layer = _walk(model, name)
        put(layer.kernel, weights[name + ".weight"].T)
        put(layer.bias, weights[name + ".bias"])
    for name in _norm_names(cfg):
        layer = _walk(model, name)
        put(layer.scale, weights[name + ".weight"])
        put(layer.bias, weights[name + ".bias"])
    return model


def _walk(model: Any, dotted: str) -> Any:
    obj = model
    for part in dotted.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def jax_lm_loss(model: Any, x: Any, y: Any) -> Any:
    """Mean next-byte cross-entropy over every position (the JAX training loss)."""
    import optax

    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def torch_lm_loss(logits: Any, y: Any) -> Any:
    """The same loss in torch, from the logits ``(B, T, vocab)``."""
    import torch.nn.functional as F

    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


# --- runners --------------------------------------------------------------------------------


class JaxLMRunner(JaxRunner):
    """:class:`~lrtwin.demo.runners.JaxRunner` for the transformer (AdamW, no checkpoints);
    keeps every update's loss in ``step_losses[name]``."""

    def __init__(self, data: TextData, weights: dict[str, np.ndarray], seed: int, cfg: LMConfig, **kw: Any):
        super().__init__(data, weights, seed, **kw)  # type: ignore[arg-type]
        self.cfg = cfg
        self.step_losses: list[float] = []

    def _fresh(self, optimizer: str, schedule: Schedule) -> tuple[Any, Any]:
        import optax

        from lrsched_jax.train import make_optimizer

        if optimizer != "adamw":
            raise ValueError(f"the LM task trains with AdamW, got optimizer {optimizer!r}")
        model = flax_lm_from(self.weights, self.cfg)  # type: ignore[arg-type]
        return model, make_optimizer(model, schedule, optax.adamw, weight_decay=WEIGHT_DECAY)

    def _setup(self, optimizer: str, schedule: Schedule) -> None:
        super()._setup(optimizer, schedule)
        self.step_losses = []

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        from lrsched_jax.train import train_epoch

        o = self.order(epoch)
        losses, lrs = train_epoch(self.model, self.opt, self.data.x_train[o], self.data.y_train[o], BATCH)
        self.step_losses.extend(float(v) for v in losses)
        return losses, lrs

    def _evaluate(self) -> dict[str, float]:
        loss, acc = _jax_eval(self.model, self.data.x_val, self.data.y_val)
        return {"loss": float(loss), "accuracy": float(acc)}


@functools.cache
def _jax_eval_fn() -> Any:
    """The jitted evaluation, built once (a new function per call would retrace each time)."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    @nnx.jit
    def run(m: Any, xv: jax.Array, yv: jax.Array) -> tuple[jax.Array, jax.Array]:
        logits = m(xv)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, yv).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == yv)

    return run


def _jax_eval(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    import jax.numpy as jnp

    return _jax_eval_fn()(model, jnp.asarray(x), jnp.asarray(y))


class TorchLMRunner(TorchRunner):
    """:class:`~lrtwin.demo.runners.TorchRunner` for the transformer (AdamW, no checkpoints);
    keeps every update's loss in ``step_losses``."""

    def __init__(self, data: TextData, weights: dict[str, np.ndarray], seed: int, cfg: LMConfig, **kw: Any):
        super().__init__(data, weights, seed, **kw)  # type: ignore[arg-type]
        self.cfg = cfg
        self.step_losses: list[float] = []

    def _fresh(self, optimizer: str, schedule: Schedule) -> tuple[Any, Any, Any]:
        import torch

        from lrsched_torch import ScheduleLR

        if optimizer != "adamw":
            raise ValueError(f"the LM task trains with AdamW, got optimizer {optimizer!r}")
        model = torch_lm_from(self.weights, self.cfg, self.device)  # type: ignore[arg-type]
        opt = torch.optim.AdamW(model.parameters(), lr=float(schedule(0)), weight_decay=WEIGHT_DECAY)
        return model, opt, ScheduleLR(opt, schedule)

    def _setup(self, optimizer: str, schedule: Schedule) -> None:
        super()._setup(optimizer, schedule)
        self.step_losses = []

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        import torch

        from lrsched_torch.train import train_epoch

        o = torch.from_numpy(self.order(epoch)).to(self.device)
        losses, lrs = train_epoch(
            self.model,
            self.opt,
            (self.x_train[o], self.y_train[o]),
            batch_size=BATCH,
            scheduler=self.sched,
            criterion=torch_lm_loss,
        )
        self.step_losses.extend(float(v) for v in losses)
        return losses, lrs

    def _evaluate(self) -> dict[str, float]:
        import torch

        with torch.no_grad():
            logits = self.model(self.x_val)
            loss = torch_lm_loss(logits, self.y_val)
            acc = (logits.argmax(-1) == self.y_val).double().mean()
        return {"loss": float(loss), "accuracy": float(acc)}


def lm_finder(runner: Runner, num_iter: int, progress: bool = True) -> Any:
    """``find_lr`` (AdamW) on a fresh copy of the transformer, the batches of epoch 0 (cycled)."""
    order = runner.order(0)
    x, y = runner.data.x_train[order], runner.data.y_train[order]
    if isinstance(runner, JaxLMRunner):
        import optax

        from lrsched_jax.finder.jax_driver import find_lr

        with runner.placed():
            return find_lr(
                flax_lm_from(runner.weights, runner.cfg),  # type: ignore[arg-type]
                lambda lr: optax.adamw(lr, weight_decay=WEIGHT_DECAY),
                (x, y),  # the default criterion: cross-entropy over every position
                batch_size=BATCH,
                num_iter=num_iter,
                progress=progress,
            )
    if isinstance(runner, TorchLMRunner):
        import torch

        from lrsched_torch import find_lr as torch_find_lr

        model = torch_lm_from(runner.weights, runner.cfg, runner.device)  # type: ignore[arg-type]
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=WEIGHT_DECAY)
        xt, yt = torch.from_numpy(x).to(runner.device), torch.from_numpy(y).to(runner.device)
        batches = [(xt[i : i + BATCH], yt[i : i + BATCH]) for i in range(0, len(xt) - BATCH + 1, BATCH)]
        return torch_find_lr(
            model,
            opt,
            batches,
            criterion=torch_lm_loss,
            num_iter=num_iter,
            progress=progress,
            device=runner.device,
        )
    raise TypeError(f"unknown runner {type(runner).__name__}")


def max_rel_diff(a: list[float], b: list[float]) -> float:
    """``max |a - b| / |b|`` over the common length (the curves' largest relative gap)."""
    n = min(len(a), len(b))
    if n == 0:
        raise ValueError("max_rel_diff: a and b must hold at least one value")
    x, y = np.asarray(a[:n], dtype=np.float64), np.asarray(b[:n], dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.abs(y)))


# --- the pipeline ---------------------------------------------------------------------------


@dataclasses.dataclass
class _LMTrained:
    """What the LM demo trained, per framework."""

    by_fw: dict[str, list[History]] = dataclasses.field(default_factory=dict)
    step_losses: dict[str, dict[str, list[float]]] = dataclasses.field(default_factory=dict)
    finders: dict[str, Any] = dataclasses.field(default_factory=dict)
    suggested: dict[str, float] = dataclasses.field(default_factory=dict)
    pipeline: dict[str, History] = dataclasses.field(default_factory=dict)
    histories: list[History] = dataclasses.field(default_factory=list)

    def parity(self, schedules: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
        """The largest relative gap between the frameworks, per schedule: of the per-update
        training losses and of the per-epoch validation losses (empty with one framework)."""
        if len(self.by_fw) != 2:
            return {}, {}
        train = {n: max_rel_diff(self.step_losses["jax"][n], self.step_losses["torch"][n]) for n in schedules}
        val = {
            n: max_rel_diff(self.by_fw["jax"][i].val_loss, self.by_fw["torch"][i].val_loss)
            for i, n in enumerate(schedules)
        }
        return train, val


def _lm_train(runners: list[Runner], schedules: dict[str, Any], epochs: int, quick: bool) -> _LMTrained:
    """Each schedule at PEAK_LR, the finder, and warm-up + cosine at its suggestion, per framework."""
    import lrsched_jax as lrs
    from lrtwin.demo import _BARS, _train

    total = epochs * runners[0].steps_per_epoch
    warm = max(total // 10, 1)
    done = _LMTrained()
    for r in runners:
        fw = r.framework
        done.by_fw[fw], done.step_losses[fw] = [], {}
        for name, s in schedules.items():
            done.by_fw[fw].append(_train(r, name, "adamw", s, epochs))
            done.step_losses[fw][name] = list(r.step_losses)  # type: ignore[attr-defined]
        done.finders[fw] = lm_finder(r, num_iter=40 if quick else 100, progress=_BARS["show"])
        if done.finders[fw].suggestion is None:  # the loss never fell: no lr to train at
            raise RuntimeError(f"{fw} LR finder: no suggestion ({'; '.join(done.finders[fw].notes)})")
        done.suggested[fw] = float(done.finders[fw].suggestion)
        print(f"{fw:>5} LR finder: suggested lr ({done.finders[fw].rule}) = {done.suggested[fw]:.3g}")
        name = "warm-up + cosine at the finder's lr"
        done.pipeline[fw] = _train(
            r, name, "adamw", lrs.warmup_cosine(done.suggested[fw], warm, total), epochs
        )
        done.step_losses[fw][name] = list(r.step_losses)  # type: ignore[attr-defined]
        done.histories += [*done.by_fw[fw], done.pipeline[fw]]
    return done


def run_lm(
    out: Path, claim: Any, frameworks: list[str], *, quick: bool, seed: int, device: str, platform: str | None
) -> int:
    """The LM demo into the already-opened folder ``out`` (``claim(path)`` marks each file the
    demo writes); see the module docstring. Returns 0."""
    import lrsched_jax as lrs
    from lrtwin.demo import report

    cfg = LMConfig()
    data = load_text(cfg.context)
    if quick:
        # The first QUICK_UPDATES batches' worth of windows: a short run that still shows
        # every schedule's shape over a few epochs.
        n = QUICK_UPDATES * BATCH
        data = dataclasses.replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n])
    weights = lm_weights(cfg, seed)
    runners: list[Runner] = []
    if "jax" in frameworks:
        runners.append(JaxLMRunner(data, weights, seed, cfg, platform=platform))
    if "torch" in frameworks:
        runners.append(TorchLMRunner(data, weights, seed, cfg, device=device))
    spe = runners[0].steps_per_epoch
    epochs = QUICK_EPOCHS if quick else 8
    total = epochs * spe
    warm = max(total // 10, 1)
    print(
        f"lrtwin demo --task lm → {out}  (stdlib text: {data.train_bytes} train / {data.val_bytes} "
        f"validation bytes, {len(data.x_train)} windows of {cfg.context}; transformer {cfg.layers} layers, "
        f"d_model {cfg.d_model}, {cfg.heads} heads; {epochs} epochs × {spe} updates, seed {seed})"
    )
    schedules = {
        "warm-up + cosine": lrs.warmup_cosine(PEAK_LR, warm, total, min_lr=PEAK_LR / 100),
        "warmup-stable-decay (1-sqrt)": lrs.warmup_stable_decay(
            PEAK_LR, total, warm, max(total // 5, 1), "1-sqrt", PEAK_LR / 100
        ),
        "inverse sqrt": lrs.inverse_sqrt(PEAK_LR, warm),
    }
    pictures = [report.zoo_figure(schedules, total, claim(out / "schedule_zoo.png"))]
    done = _lm_train(runners, schedules, epochs, quick)
    pictures.append(
        report.fixed_vs_scheduled_figure(
            done.by_fw,
            claim(out / "schedules.png"),
            title=f"AdamW at peak lr {PEAK_LR:g}, byte-level transformer",
        )
    )
    pictures.append(report.finder_figure(done.finders, claim(out / "finder.png")))
    pictures.append(
        report.pipeline_figure(
            done.pipeline,
            claim(out / "pipeline.png"),
            schedule="warm-up + cosine",
            suptitle="Pipeline: finder → AdamW + warm-up + cosine at the suggested lr",
        )
    )
    header = (
        "# lrtwin demo --task lm summary\n\n"
        f"Byte-level decoder-only transformer ({cfg.layers} layers, d_model {cfg.d_model}, {cfg.heads} "
        f"heads, context {cfg.context}) on Python {'.'.join(map(str, sys.version_info[:3]))}'s "
        f"standard-library sources ({data.train_bytes} train / {data.val_bytes} validation bytes, SHA-256 "
        f"{data.sha256[:16]}…), AdamW, batch {BATCH}, {epochs} epochs ({spe} updates each), seed {seed}. "
        "Accuracy: next-byte accuracy on the validation text.\n\n"
    )
    meta = {
        "task": "lm",
        "seed": seed,
        "epochs": epochs,
        "batch": BATCH,
        "steps_per_epoch": spe,
        "quick": quick,
        "model": cfg.__dict__,
        "peak_lr": PEAK_LR,
        "text": {
            "stdlib": sysconfig.get_paths()["stdlib"],
            "train_files": list(TRAIN_FILES),
            "val_files": list(VAL_FILES),
            "train_bytes": data.train_bytes,
            "val_bytes": data.val_bytes,
            "sha256": data.sha256,
        },
        "frameworks": frameworks,
        "finder": {fw: res.to_dict() for fw, res in done.finders.items()},
    }
    for p in [*pictures, *_lm_summary(out, claim, done, schedules, meta, header)]:
        print(f"wrote {p}")
    return 0


def _lm_summary(
    out: Path, claim: Any, done: _LMTrained, schedules: dict[str, Any], meta: dict[str, Any], header: str
) -> list[Path]:
    """summary.md / summary.json / history.json (the JAX–torch gaps included), and the table
    on the terminal."""
    from lrtwin.demo import report

    parity, val_parity = done.parity(schedules)
    meta = {
        **meta,
        "max_rel_loss_diff_jax_vs_torch": parity,
        "max_rel_val_loss_diff_jax_vs_torch": val_parity,
    }
    optimizers = {h.name: "adamw" for h in done.histories}
    rows = report.summary_rows(done.histories, optimizers, done.suggested, TARGET_ACC)
    for row in rows:
        if row["schedule"] in schedules:
            row["suggested_lr"] = None  # those runs use PEAK_LR, not the finder's
    table = report.markdown_table(rows, TARGET_ACC)
    parity_md = (
        "\n\nLargest relative difference between the JAX and torch per-update training losses "
        "(float32, same weights and batches): "
        + ", ".join(f"{k}: {v:.2e}" for k, v in parity.items())
        + "; of the per-epoch validation losses: "
        + ", ".join(f"{k}: {v:.2e}" for k, v in val_parity.items())
        + ".\n"
        if parity
        else "\n"
    )
    md = claim(out / "summary.md")
    md.write_text(header + table + parity_md)
    js = claim(out / "summary.json")
    js.write_text(
        json.dumps({"meta": meta, "target_accuracy": TARGET_ACC, "rows": rows}, indent=2, default=float)
    )
    hist = claim(out / "history.json")
    hist.write_text(json.dumps([h.__dict__ for h in done.histories], default=float, indent=1))
    print()
    print(table + parity_md)
    return [md, js, hist]
