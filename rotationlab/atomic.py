"""Atomic file writes: a reader sees the old file or the new one, never a half-written one.

A file is written to a temporary file in the same folder (``.NAME.XXXXXXXX.tmp``), flushed to
disk and renamed over the target (``os.replace``, atomic on POSIX); the folder is then synced so
the rename survives a crash. A write killed half-way leaves the old file and a stale temporary
file, which :func:`clean_temp_files` removes at the next start.

Files get the permissions a plain ``open()`` would give them (0666 less the umask), not the
0600 of the temporary file they are written through. Errors of the file system (a full disk, a
read-only folder, a path through a file) become one-line :class:`~rotationlab.errors.UserError`s
naming the path and what to do.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import threading
from pathlib import Path

from rotationlab.errors import UserError

_lock = threading.Lock()

#: What a temporary file of :func:`atomic_write_bytes` is called (``tempfile.mkstemp`` adds 8
#: characters of ``[a-z0-9_]``).
TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")

#: errno -> (what happened, what to do)
_WHAT = {
    errno.ENOSPC: ("the disk is full", "free some space or choose another --out"),
    errno.EDQUOT: ("the disk quota is exceeded", "free some space or choose another --out"),
    errno.EROFS: ("the file system is read-only", "choose another --out"),
    errno.EACCES: ("permission denied", "choose another --out"),
    errno.EPERM: ("permission denied", "choose another --out"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "choose another --out"),
    errno.EISDIR: ("it is a folder", "name a file, or choose another --out"),
    errno.ENAMETOOLONG: ("the name is too long", "choose a shorter --out"),
    errno.EIO: ("an input/output error of the disk", "check the disk, or choose another --out"),
}


def umask() -> int:
    """The process umask, read without changing it where the system allows (Linux
    ``/proc/self/status``); else set and restored under a lock."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _lock:
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def what_failed(exc: OSError) -> str:
    """What an OSError means, in a few words (``the disk is full``)."""
    return _WHAT.get(exc.errno, (exc.strerror or str(exc) or type(exc).__name__,))[0]


def os_error(exc: OSError, path, doing: str = "write") -> UserError:
    """A one-line UserError for a file-system error on ``path``."""
    fix = _WHAT.get(exc.errno, (None, "choose another --out"))[1]
    return UserError(f"cannot {doing} {path}: {what_failed(exc)}; {fix}")


def read_only(path) -> bool:
    """Whether ``path`` (an existing folder) is on a file system mounted read-only."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def missing_parents(path) -> list[Path]:
    """The folders :func:`make_dirs` would create for ``path``, outermost first."""
    path = Path(path)
    out = []
    for p in [path, *path.parents]:
        if os.path.lexists(p):
            break
        out.append(p)
    return out[::-1]


def make_dirs(path: str | os.PathLike) -> Path:
    """Create ``path`` and its parents (one-line UserError if that is impossible)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"cannot use {path} as an output folder: it is a file; choose another --out") from None
    except OSError as exc:
        raise os_error(exc, path, "create") from None
    if not path.is_dir():
        raise UserError(f"cannot use {path} as an output folder: it is not a folder; choose another --out")
    return path


def _sync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    A symbolic link is written through (its target is replaced); a path that is not a regular
    file (a folder, a device such as ``/dev/full``, a pipe) is refused, not replaced."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.is_dir():
        raise os_error(IsADirectoryError(errno.EISDIR, "is a folder"), path)
    if os.path.lexists(path) and not path.is_file():
        raise UserError(f"cannot write {path}: it is not a regular file (a device or a pipe); name a file, or "
                        "choose another --out")
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
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise os_error(exc, path) from None
        raise
    _sync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def clean_temp_files(folder: str | os.PathLike, depth: int = 1) -> int:
    """Remove temporary files left by an interrupted write (``.NAME.XXXXXXXX.tmp``) in ``folder``
    and, ``depth`` levels down, its sub-folders; how many."""
    n = 0
    folder = Path(folder)
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError:
        return 0
    for e in entries:
        try:
            if e.is_file(follow_symlinks=False) and TEMP_NAME.fullmatch(e.name):
                os.unlink(e.path)
                n += 1
            elif depth > 0 and e.is_dir(follow_symlinks=False) and not e.name.startswith("."):
                n += clean_temp_files(e.path, depth - 1)
        except OSError:
            pass
    return n
