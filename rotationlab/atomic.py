"""Atomic file writes: a reader sees the old file or the new one, never a half-written one.

Files get the permissions a plain ``open()`` would give them (0666 less the umask), not the
0600 of the temporary file they are written through. Errors of the file system (a full disk, a
read-only folder, a path through a file) become one-line :class:`~rotationlab.errors.UserError`s
naming the path.
"""

from __future__ import annotations

import errno
import os
import tempfile
import threading
from pathlib import Path

from rotationlab.errors import UserError

_lock = threading.Lock()
_umask: int | None = None


def umask() -> int:
    """The process umask (read once)."""
    global _umask
    with _lock:
        if _umask is None:
            _umask = os.umask(0o022)
            os.umask(_umask)
        return _umask


def os_error(exc: OSError, path) -> UserError:
    """A one-line UserError for a file-system error on ``path``."""
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
            errno.EPERM: "permission denied", errno.ENOTDIR: "a part of the path is a file, not a folder",
            errno.EISDIR: "it is a folder", errno.ENAMETOOLONG: "the name is too long"}.get(exc.errno)
    what = what or (exc.strerror or str(exc))
    return UserError(f"cannot write {path}: {what}; choose another --out or free the space")


def make_dirs(path: str | os.PathLike) -> Path:
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"cannot use {path} as an output folder: it is a file; choose another --out") from None
    except OSError as exc:
        raise os_error(exc, path) from None
    if not path.is_dir():
        raise UserError(f"cannot use {path} as an output folder: it is not a folder; choose another --out")
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    make_dirs(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise os_error(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise os_error(exc, path) from None
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def clean_temp_files(folder: str | os.PathLike) -> int:
    """Remove temporary files left by an interrupted write (``.NAME.*.tmp``); how many."""
    n = 0
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    for p in folder.glob(".*.tmp"):
        try:
            p.unlink()
            n += 1
        except OSError:
            pass
    return n
