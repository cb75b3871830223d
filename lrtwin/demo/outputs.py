"""The demo's output folder: what it may write there, and writes that never lose a checkpoint.

* **Whose folder.** ``--out DIR`` must be new, empty, or a folder an earlier ``lrtwin demo``
  wrote: the demo keeps a manifest (``.lrtwin-demo.json``) of every path it wrote, and it
  replaces only paths listed there. Any other file or folder in its way — the user's — is
  refused with a ``ValueError`` before it is touched; nothing the demo did not write is ever
  deleted or overwritten. An empty ``--out`` is refused (it would mean the current folder).
* **Checkpoints survive an interrupt.** A new checkpoint is written beside the old one and
  swapped in only once complete (a file by ``os.replace``; a directory — Orbax's — by two
  renames with Ctrl-C held back between them), so the previous best checkpoint is intact
  until the new one is committed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from typing_extensions import Self

__all__ = ["MANIFEST", "OutputDir", "replace_dir", "replace_file"]

MANIFEST = ".lrtwin-demo.json"

#: The names the demo writes at the top of its folder (checked up front).
TOP_LEVEL = (
    "schedule_zoo.png",
    "fixed_vs_scheduled.png",
    "finder.png",
    "pipeline.png",
    "summary.md",
    "summary.json",
    "history.json",
    "arena.json",
    "arena_jax.png",
    "arena_torch.png",
    "checkpoints",
)


@contextlib.contextmanager
def _interrupt_held() -> Iterator[None]:
    """Ctrl-C (SIGINT) is delivered when the block ends, not inside it (main thread only:
    elsewhere signals never arrive anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def replace_file(path: Path, write: Callable[[Path], None]) -> Path:
    """``write(tmp)`` into a new file beside ``path``, then ``os.replace`` it onto ``path``:
    ``path`` holds the old or the new contents at every moment, never a partial file."""
    # A name no one else uses, created by ``write`` itself (so with the usual permissions).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial")
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return path


def replace_dir(path: Path, write: Callable[[Path], None]) -> Path:
    """``write(new)`` to a directory ``new`` that does not exist yet, beside ``path``; then
    swap it in. The old ``path`` is kept until the new one is complete, and deleted after."""
    work = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial"))
    try:
        new = work / "new"
        write(new)
        with _interrupt_held():
            old = work / "old"
            if path.exists():
                os.rename(path, old)
            os.rename(new, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


class OutputDir:
    """A command's output folder and its manifest of the paths (relative, POSIX) it wrote.

    The demo's by default; another command (``lrtwin compare``) subclasses it with its own
    ``command``, ``manifest``, ``prefix`` and ``top_level`` names."""

    #: The command named in messages, its manifest file, the prefix of a new folder's name and
    #: the names it writes at the top of its folder (checked up front).
    command = "lrtwin demo"
    manifest = MANIFEST
    prefix = "lrtwin-demo"
    top_level: tuple[str, ...] = TOP_LEVEL

    def __init__(self, root: Path, written: set[str]) -> None:
        self.root = root
        self.written = written

    @classmethod
    def open(cls, out: str | Path | None) -> Self:
        """Check and create the folder (see the module docstring); ``ValueError`` naming
        ``--out`` for an empty path, a file, or a non-empty folder the command did not write."""
        if out is None:
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            for i in range(1, 1000):
                root = Path.cwd() / (f"{cls.prefix}-{stamp}" + (f"-{i}" if i > 1 else ""))
                try:
                    root.mkdir(parents=True)
                    break
                except FileExistsError:
                    continue
            else:  # pragma: no cover - a thousand runs started in one second
                raise ValueError(f"--out: could not create a new {cls.prefix}-* folder here")
            return cls._new(root)
        if not str(out).strip():
            raise ValueError("--out: an empty path; name a folder (or leave --out out for a new one)")
        root = Path(out).expanduser().absolute()
        if root.exists() and not root.is_dir():
            raise ValueError(f"--out {out}: exists and is not a folder")
        if not root.exists() or not any(root.iterdir()):
            root.mkdir(parents=True, exist_ok=True)
            return cls._new(root)
        manifest = root / cls.manifest
        if not manifest.is_file():
            raise ValueError(
                f"--out {out}: the folder is not empty and was not written by {cls.command} (it did not "
                "create it); choose a new or empty folder (it never replaces files it did not write)"
            )
        try:
            written = set(json.loads(manifest.read_text())["written"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"--out {out}: unreadable manifest {cls.manifest} ({e})") from None
        self = cls(root, written)
        for name in cls.top_level:
            self._check(root / name)
        return self

    @classmethod
    def _new(cls, root: Path) -> Self:
        self = cls(root, set())
        self._save()
        return self

    def _rel(self, path: Path) -> str:
        return path.absolute().relative_to(self.root).as_posix()

    def _check(self, path: Path) -> None:
        if os.path.lexists(path) and self._rel(path) not in self.written:
            raise ValueError(
                f"{path}: exists and was not written by {self.command}, which refuses to replace it "
                "(move it away or choose another --out)"
            )

    def _save(self) -> None:
        text = json.dumps({"written": sorted(self.written)}, indent=1) + "\n"

        def write(path: Path) -> None:
            path.write_text(text)

        replace_file(self.root / self.manifest, write)

    def claim(self, path: Path) -> Path:
        """Before the demo writes ``path``: ``ValueError`` if something it did not write is
        there; else record it in the manifest (first, so that an interrupted write is still
        known to be the demo's). Returns ``path``."""
        self._check(path)
        rel = self._rel(path)
        if rel not in self.written:
            self.written.add(rel)
            self._save()
        return path

    def write(self, name: str, write: Callable[[Path], None]) -> Path:
        """Claim ``name`` (top level), then write it atomically (:func:`replace_file`)."""
        return replace_file(self.claim(self.root / name), write)

    def __truediv__(self, name: str) -> Path:
        return self.root / name
