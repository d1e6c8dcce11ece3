"""The one way cnn-doctor writes a file that must never be seen half-written.

A crash, a kill or a full disk in the middle of a plain ``write_text`` leaves a short or empty
file where a good one was: a ``summary.json`` that no longer parses, a ``state.json`` that makes a
resume impossible. Every writer here puts the bytes in a temporary file *in the same folder*,
flushes and fsyncs it, then renames it over the target (``os.replace`` is atomic on POSIX and
Windows) and fsyncs the folder so the rename itself survives a power cut. Readers therefore see
either the old file or the new one, never a mixture. On any error the temporary file is removed
and the old file is left as it was.

This module imports nothing from cnn-doctor, so every layer (``config``, ``data``, ``runs``,
``report``…) can use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "temporary_sibling",
]


def _fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def temporary_sibling(path: str | os.PathLike[str], suffix: str = ".tmp"):
    """Yield a fresh temporary path beside ``path``; on success it is fsynced and renamed onto
    ``path``, on error removed. For writers that insist on a file name (``model.save``)."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(handle)`` on a temporary binary file, then put it in place atomically."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """``path`` holds exactly ``data`` afterwards, or what it held before."""
    return atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """``Path.write_text``, atomically."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike[str], payload: Any, **dump_kwargs: Any) -> Path:
    """``payload`` as JSON (``indent=2``, unknown types via ``str`` unless told otherwise)."""
    dump_kwargs.setdefault("indent", 2)
    dump_kwargs.setdefault("default", str)
    return atomic_write_text(path, json.dumps(payload, **dump_kwargs))
