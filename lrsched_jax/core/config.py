"""Schedules from text: a config JSON string, a JSON/YAML file, or the short spec form.

The short form is ``name:key=value,key=value`` — e.g.
``warmup_cosine:peak_lr=1e-3,warmup_steps=500,total_steps=10000`` — where each value is read
as JSON when it parses (numbers, ``true``/``false``, lists such as ``milestones=[30,60]``)
and as a plain string otherwise (``mode=triangular2``). Nested schedules need the JSON form.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lrsched_jax.core.schedule import MAX_DEPTH, Schedule, from_config, registered_names

__all__ = ["from_spec", "parse_short_spec"]

_TOO_DEEP = f"schedule configs nest more than {MAX_DEPTH} levels deep; at most {MAX_DEPTH} are supported"


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside brackets or braces."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_short_spec(spec: str) -> dict[str, Any]:
    """``"name:k=v,k=v"`` → a config dict (``{"name": ..., "k": v, ...}``).

    >>> parse_short_spec("multistep:base_lr=0.1,milestones=[30,60],gamma=0.1")
    {'name': 'multistep', 'base_lr': 0.1, 'milestones': [30, 60], 'gamma': 0.1}
    """
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise ValueError(f"schedule spec {spec!r} has no name; valid names: {', '.join(registered_names())}")
    cfg: dict[str, Any] = {"name": name}
    for item in _split_top(rest):
        key, eq, val = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"schedule spec {spec!r}: expected key=value, got {item!r}")
        cfg[key.strip()] = _value(val.strip())
    return cfg


def _load_file(path: Path) -> Any:
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as e:  # pragma: no cover - pyyaml is a dependency
            raise ImportError("reading YAML needs pyyaml: pip install pyyaml") from e
        return yaml.safe_load(text)
    return json.loads(text)


def from_spec(spec: str) -> Schedule:
    """A schedule from a config JSON string, a ``.json``/``.yaml``/``.yml`` file, or a short
    spec. Errors name what is wrong and list the valid names or fields.

    >>> from_spec("cosine:init_lr=0.1,total_steps=100")
    cosine(init_lr=0.1, total_steps=100)
    >>> from_spec('{"name": "constant", "value": 0.5}')
    constant(value=0.5)
    """
    text = spec.strip()
    if text.startswith("{"):
        try:
            cfg = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"invalid config JSON: {e}") from None
        except RecursionError:
            raise ValueError(_TOO_DEEP) from None
    elif Path(text).suffix.lower() in (".json", ".yaml", ".yml"):
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"config file {text!r} does not exist")
        try:
            cfg = _load_file(path)
        except ImportError:
            raise
        except RecursionError:
            raise ValueError(_TOO_DEEP) from None
        except Exception as e:  # JSON and YAML parse errors alike
            raise ValueError(f"invalid config file {text!r}: {e}") from None
    else:
        cfg = parse_short_spec(text)
    if not isinstance(cfg, dict):
        raise ValueError(f"a schedule config must be a mapping, got {type(cfg).__name__}")
    return from_config(cfg)
