"""Host-side helpers shared by both drivers: cycling a batch source, the progress bar."""

from __future__ import annotations

import collections.abc
from typing import Any

from lrsched_jax.core.validate import here

__all__ = ["Cycle", "progress_bar"]


class Cycle:
    """Batches from ``data`` forever: a re-iterable source (list, ``DataLoader``, ...) is
    iterated again when exhausted; a one-shot iterator (generator) is replayed from the
    batches it yielded (kept in memory — at most one per step of the sweep).

    Raises ``ValueError`` naming ``name`` when a pass yields no batch at all, and
    ``TypeError`` when ``data`` is not iterable.
    """

    def __init__(self, name: str, data: Any) -> None:
        if isinstance(data, (str, bytes)) or not isinstance(data, collections.abc.Iterable):
            raise TypeError(f"{here()}: {name} must be an iterable of batches, got {type(data).__name__}")
        self._where = here()  # kept: the batches are read later, in the same entry point
        self._name = name
        self._data = data
        self._one_shot = isinstance(data, collections.abc.Iterator)
        self._cache: list[Any] | None = [] if self._one_shot else None
        self._it: Any = None
        self._in_pass = 0

    def __iter__(self) -> Cycle:
        return self

    def __next__(self) -> Any:
        for _ in range(2):
            if self._it is None:
                self._it = iter(self._data)
                self._in_pass = 0
            try:
                batch = next(self._it)
            except StopIteration:
                if self._in_pass == 0:
                    raise ValueError(f"{self._where}: {self._name} yielded no batches") from None
                # Exhausted: start the next pass (a one-shot iterator replays its cache).
                if self._one_shot and self._cache is not None:
                    self._it = iter(self._cache)
                    self._data = self._cache
                    self._one_shot = False
                    self._cache = None
                else:
                    self._it = None
                self._in_pass = 0
                continue
            self._in_pass += 1
            if self._cache is not None:
                self._cache.append(batch)
            return batch
        raise ValueError(f"{self._where}: {self._name} yielded no batches")


def progress_bar(enabled: bool, total: int, desc: str) -> Any:
    """A tqdm bar, or ``None`` when disabled."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)
