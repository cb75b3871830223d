"""Schedules from text: a config JSON string, a JSON/YAML file, or the short spec form.

The short form is ``name:key=value,key=value`` — e.g.
``warmup_cosine:peak_lr=1e-3,warmup_steps=500,total_steps=10000`` — where each value is read
as JSON when it parses (numbers, ``true``/``false``, lists such as ``milestones=[30,60]``)
and as a plain string otherwise (``mode=triangular2``). Nested schedules need the JSON form.

YAML files read numbers as people write them: ``1e-3``, ``1E5``, ``+.5`` and ``2.0e4`` are
floats (PyYAML's YAML 1.1 rules alone read a number without a dot, or with an exponent
without a sign, as a string), while a quoted ``'1e-3'`` stays the string it was quoted to be
(and is refused where a number belongs). In every form a field given twice is refused,
naming it, instead of the last one silently winning.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lrsched_jax.core.schedule import MAX_DEPTH, Schedule, from_config, registered_names

__all__ = ["from_spec", "parse_short_spec"]

_FORMS = (
    'a schedule is a config JSON string (\'{"name": "cosine", ...}\'), a .json, .yaml or .yml '
    "config file, or the short form name:key=value,... (e.g. cosine:init_lr=0.1,total_steps=1000)"
)

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


def _unique(pairs: Iterable[tuple[Any, Any]]) -> dict[Any, Any]:
    """A JSON object's fields, refusing one given twice (``json`` would keep the last)."""
    out: dict[Any, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"field {key!r} is given twice ({out[key]!r} and {value!r}); give it once")
        out[key] = value
    return out


def _json(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_unique)


def _value(text: str) -> Any:
    try:
        return _json(text)
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
        key = key.strip()
        if key in cfg:
            given = (
                f"the name {name!r} before ':'"
                if key == "name"
                else f"{key}={cfg[key]!r} and {key}={val.strip()}"
            )
            raise ValueError(f"schedule spec {spec!r}: field {key!r} is given twice ({given}); give it once")
        cfg[key] = _value(val.strip())
    return cfg


def _load_file(path: Path) -> Any:
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as e:  # pragma: no cover - pyyaml is a dependency
            raise ImportError("reading YAML needs pyyaml: pip install pyyaml") from e
        return yaml.load(text, Loader=_yaml_loader())  # a SafeLoader subclass: safe
    return _json(text)


#: Floats that YAML 1.1 (PyYAML) reads as strings: an exponent without a dot or without a
#: sign (``1e-3``, ``1E5``, ``2.0e4``) and a signed leading dot (``-.5``). Ints match first.
_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?$")


@functools.cache
def _yaml_loader() -> type:
    """PyYAML's ``SafeLoader`` reading ``1e-3`` as a float and refusing a key given twice."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else ():
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<: *base' merges and may be overridden, as YAML intends
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float)):
                    continue  # an unhashable key: SafeLoader's own error follows
                if key in seen:
                    raise ValueError(
                        f"field {key!r} is given twice (line {key_node.start_mark.line + 1}); give it once"
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    # Added after the built-in resolvers: an int (1000) or a YAML 1.1 float still matches first.
    for first in "0123456789-+.":
        Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list(first))
    return Loader


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
            cfg = _json(text)
        except RecursionError:
            raise ValueError(_TOO_DEEP) from None
        except ValueError as e:  # a parse error, or a field given twice
            raise ValueError(f"invalid config JSON: {e}") from None
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
        _refuse_other_files(text)
        cfg = parse_short_spec(text)
    if not isinstance(cfg, dict):
        raise ValueError(f"a schedule config must be a mapping, got {type(cfg).__name__}")
    return from_config(cfg)


def _refuse_other_files(text: str) -> None:
    """A path that is not a .json/.yaml/.yml file would otherwise be read as a short spec
    whose name is the path ("unknown schedule name 'cfg.txt'"): say which forms are read."""
    name = text.partition(":")[0].strip()
    if name in registered_names():
        return
    suffix = Path(text).suffix
    if Path(text).is_file():
        kind = f"a {suffix!r} file" if suffix else "a file without a suffix"
        raise ValueError(
            f"config file {text!r} is {kind}; only .json, .yaml and .yml files are read: {_FORMS}"
        )
    if any(c in name for c in "./\\"):  # never in a schedule name: a path was meant
        raise ValueError(f"{text!r} is neither a schedule spec nor a .json/.yaml/.yml file: {_FORMS}")
