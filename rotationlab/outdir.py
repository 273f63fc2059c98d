"""Output folders that are safe to write into.

Every command writes into one folder through an :class:`OutputFolder`:

* before any work, :meth:`OutputFolder.check` refuses a path that is a file, a folder under a
  file, a folder on a read-only file system or one it cannot write; a folder another process is
  writing (its ``.lock`` is held; the message names that process); a folder made by another
  command, or by the same command with another config (its ``manifest.json`` says so, and by
  which command line), unless ``force``; and a non-empty folder with no manifest (not made by
  this project), unless ``force``;
* nothing is created until the first file is written, so a refused command leaves nothing; a
  command that fails or is interrupted before it wrote a file removes the folder it created;
* the first write takes the folder's lock (``.lock``, held until :meth:`OutputFolder.finish`),
  removes temporary files of an interrupted earlier write, and writes ``manifest.json`` with
  ``status = "running"``, so a folder whose command was killed is still known as that
  command's (and accepted by its rerun);
* files are written atomically (``rotationlab.atomic``), with the umask's permissions;
* ``manifest.json`` is written last and atomically; it lists only files that exist (with their
  sizes and SHA-256), the command line, the config and the data provenance; a write that fails
  (a full disk, a read-only folder) rewrites it with ``status = "failed"`` and the error, and an
  interrupted command (:func:`abandon_open`) with ``status = "interrupted"``: it never says
  ``complete`` while a file it lists is missing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shlex
import sys
from pathlib import Path

from rotationlab import manifest as MF
from rotationlab.atomic import (atomic_write_bytes, atomic_write_text, clean_temp_files, make_dirs, missing_parents,
                                os_error, read_only)
from rotationlab.errors import UserError

MANIFEST = "manifest.json"
LOCK = ".lock"
#: Manifest statuses after which the command is over (the lock is released).
FINAL = frozenset({"complete", "failed", "interrupted", "stopped"})

#: Folders this process is writing (their locks are held), by resolved path.
_HELD: dict[str, "OutputFolder"] = {}
#: Folders that stopped early (a failed write, Ctrl-C) and were not reported yet: (path, status).
_STOPPED: list[tuple[Path, str]] = []


def command_line() -> list[str]:
    """The command as typed (``run_backtest.py ARGS``)."""
    return [Path(sys.argv[0]).name or "python", *sys.argv[1:]]


def resume_command(command: list[str] | None) -> str:
    """The shell line that continues ``command`` (``--resume`` added once)."""
    cmd = list(command or command_line())
    if "--resume" not in cmd:
        cmd.append("--resume")
    return shlex.join(cmd)


def _made_by(manifest: dict) -> str:
    cmd = manifest.get("command")
    if not isinstance(cmd, list) or not cmd:
        return ""
    text = shlex.join(str(c) for c in cmd)
    return f" (made by `{text[:157] + '...' if len(text) > 160 else text}`)"


def _holder(text: str) -> str:
    """A lock file's ``process PID (command)``, shortened for a one-line message."""
    text = " ".join(text.split()) or "another process"
    return text if len(text) <= 200 else text[:196] + "...)"


def _key(path: Path) -> str:
    return os.path.realpath(path)


class OutputFolder:
    """See the module docstring. ``kind``: the command; ``identity``: what the outputs depend on
    (hashed and compared with an existing folder's); ``managed=False``: plain atomic writes (no
    lock, no manifest), for writers given a bare path."""

    def __init__(self, path, kind: str, identity: dict, force: bool = False, command: list | None = None,
                 managed: bool = True):
        self.path = Path(path)
        self.kind = kind
        self.identity = identity
        self.identity_hash = MF.sha256_of(identity)
        self.force = force
        self.command = command
        self.managed = managed
        self.written: list[str] = []
        self._hashes: dict = {}  # name -> ((size, mtime, inode), sha256): files() reads a file once
        self.status: str | None = None  # the status of the last manifest this object wrote
        self._lock_fh = None
        self._own_lock = False   # taken by the first write (released with the final manifest)
        self._created: list[Path] = []  # folders this object created, outermost first
        self._made_lock = False
        self._begun = False
        self._wrote_manifest = False
        self._spec: dict | None = None  # what the manifest records (describe/finish)

    # -- before work --------------------------------------------------------------------------------
    def existing_manifest(self) -> dict | None:
        return MF.read(self.path)

    def in_use(self) -> str | None:
        """Who holds this folder's lock (``"process PID (command)"``), or None if it is free."""
        if self._lock_fh is not None:
            return None
        try:
            fh = open(self.path / LOCK, "rb")
        except OSError:
            return None
        with fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _HELD.get(_key(self.path))
                if holder is not None and holder is not self:  # this process, an earlier object
                    return None
                return _holder(fh.read(4000).decode("utf-8", "replace"))
            except OSError:
                return None
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return None

    def check_free(self) -> "OutputFolder":
        """Refuse the folder if another process is writing it."""
        other = self.in_use()
        if other:
            raise UserError(f"{self.path} is in use by {other}; wait for it to finish or choose another --out")
        return self

    def check(self, same_ok: bool = True) -> "OutputFolder":
        p = self.path
        for parent in [p, *p.parents]:
            if os.path.lexists(parent):
                if not parent.is_dir():
                    what = "is a file" if parent == p else f"is under {parent}, which is a file"
                    raise UserError(f"cannot use {p} as an output folder: it {what}; choose another --out")
                if read_only(parent):
                    raise UserError(f"cannot write into {parent}: the file system is read-only; "
                                    "choose another --out")
                if not os.access(parent, os.W_OK | os.X_OK):
                    raise UserError(f"cannot write into {parent}: permission denied; choose another --out")
                break
        if not p.exists():
            return self
        self.check_free()
        if self.force:
            return self
        old = self.existing_manifest()
        entries = [x for x in p.iterdir() if not x.name.startswith(".")]
        if old is None:
            if (p / MANIFEST).exists():
                raise UserError(f"{p}/{MANIFEST} cannot be read (damaged or not a manifest); choose another "
                                "--out, or add --force")
            if entries:
                raise UserError(f"{p} already holds files that no Rotation Lab command made (no {MANIFEST}); "
                                "choose an empty or new --out, or add --force")
            return self
        if old.get("kind") != self.kind:
            raise UserError(f"{p} holds the output of `{old.get('kind')}`, not `{self.kind}`{_made_by(old)}; "
                            "choose another --out (or --force to overwrite)")
        if not same_ok or old.get("identity_hash") not in (None, self.identity_hash):
            raise UserError(f"{p} holds the output of `{self.kind}` with another config{_made_by(old)}; "
                            "choose another --out (or --force to overwrite)")
        return self

    # -- the lock -----------------------------------------------------------------------------------
    def _make_dirs(self) -> None:
        todo = missing_parents(self.path)
        make_dirs(self.path)
        self._created.extend(p for p in todo if p not in self._created)

    def lock(self) -> "OutputFolder":
        """Hold ``.lock`` exclusively until :meth:`unlock` (or the process ends)."""
        if self._lock_fh is not None:
            return self
        self._make_dirs()
        key = _key(self.path)
        stale = _HELD.get(key)
        if stale is not None and stale is not self:  # an object of this process that never finished
            stale.unlock()
        lock = self.path / LOCK
        existed = lock.exists()
        try:
            fh = open(lock, "a+")
        except OSError as exc:
            raise os_error(exc, lock) from None
        self._made_lock = self._made_lock or not existed
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            other = _holder(fh.read(4000))
            fh.close()
            raise UserError(f"{self.path} is in use by {other}; wait for it to finish or choose another --out") \
                from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"process {os.getpid()} ({shlex.join(self.command or command_line())[:2000]})")
            fh.flush()
        except OSError as exc:
            fh.close()
            raise os_error(exc, lock) from None
        self._lock_fh = fh
        _HELD[key] = self
        clean_temp_files(self.path)
        return self

    def unlock(self) -> None:
        """Release the lock; a folder this object created and left without a file is removed."""
        if _HELD.get(_key(self.path)) is self:
            del _HELD[_key(self.path)]
        if self._lock_fh is not None:
            try:
                self._lock_fh.seek(0)
                self._lock_fh.truncate()
            except OSError:
                pass
            try:
                fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            finally:
                self._lock_fh.close()
                self._lock_fh = None
        self._own_lock = False
        if self.status not in ("complete", "running"):
            self._discard_if_empty()

    def _discard_if_empty(self) -> None:
        """Remove what this object created if no file it lists exists (a command that stopped
        before writing anything leaves nothing behind)."""
        if not self._created or self._has_files():
            return
        names = ([MANIFEST] if self._wrote_manifest else []) + ([LOCK] if self._made_lock else [])
        for name in names:
            try:
                os.unlink(self.path / name)
            except OSError:
                pass
        for d in reversed(self._created):
            try:
                d.rmdir()
            except OSError:
                break
        self._created = []
        self._wrote_manifest = self._made_lock = False

    # -- writing ------------------------------------------------------------------------------------
    def describe(self, config: dict, data: dict, *, seed: int = 0, config_file=None,
                 extra: dict | None = None) -> "OutputFolder":
        """What the manifest records (also the ``running``/``failed`` ones written before
        :meth:`finish`): the config as run and the data provenance."""
        self._spec = {"config": config, "data": data, "seed": seed, "config_file": config_file,
                      "extra": dict(extra or {})}
        return self

    def _begin(self) -> None:
        if not self.managed:
            if not self._begun:
                self._make_dirs()
                clean_temp_files(self.path)
                self._begun = True
            return
        if self._lock_fh is None:
            self.lock()
            self._own_lock = True
        if not self._begun:
            self._begun = True
            if not self._wrote_manifest:
                self._write_manifest("running")

    def write_bytes(self, name: str, data: bytes) -> Path:
        try:
            self._begin()
            out = atomic_write_bytes(self.path / name, data)
        except UserError as exc:
            self.abandon("failed", str(exc))
            raise
        except KeyboardInterrupt:
            self.abandon("interrupted")
            raise
        self.adopt(name)
        return out

    def write_text(self, name: str, text: str) -> Path:
        return self.write_bytes(name, text.encode("utf-8"))

    def file(self, name: str) -> Path:
        return self.path / name

    def adopt(self, name: str) -> None:
        """Count a file written into the folder by other code (e.g. a resumable row file)."""
        if name not in self.written:
            self.written.append(name)

    def _has_files(self) -> bool:
        """Whether a file of this command is in the folder (listed, or written by other code)."""
        if any((self.path / n).is_file() for n in self.written):
            return True
        try:
            with os.scandir(self.path) as entries:
                return any(not e.name.startswith(".") and e.name != MANIFEST for e in entries)
        except OSError:
            return False

    def files(self) -> dict:
        """``{name: {"bytes", "sha256"}}`` of the files written that exist (a file unchanged since
        an earlier manifest is not read again; large files are hashed a block at a time)."""
        out = {}
        cache = self._hashes
        for name in sorted(set(self.written)):
            p = self.path / name
            try:
                st = p.stat()
                stamp = (st.st_size, st.st_mtime_ns, st.st_ino)
                if cache.get(name, (None,))[0] != stamp:
                    digest = hashlib.sha256()
                    with open(p, "rb") as fh:
                        while block := fh.read(1 << 24):
                            digest.update(block)
                    cache[name] = (stamp, digest.hexdigest())
            except OSError:  # missing (or unreadable): not listed
                continue
            out[name] = {"bytes": st.st_size, "sha256": cache[name][1]}
        return out

    def _document(self, status: str, error: str | None = None) -> dict:
        spec = self._spec
        if spec is not None:
            man = MF.build(self.kind, spec["config"], spec["data"], seed=spec["seed"], config_file=spec["config_file"],
                           extra={"status": status, "identity_hash": self.identity_hash, **spec["extra"]})
        else:
            old = self.existing_manifest()
            if old is not None and old.get("kind") == self.kind and old.get("identity_hash") == self.identity_hash:
                man = dict(old, status=status)  # an earlier session of this command (a resumed sweep)
            else:
                man = MF.build(self.kind, {"identity": self.identity, "config_hash": self.identity_hash}, {},
                               extra={"status": status, "identity_hash": self.identity_hash})
        man.pop("error", None)
        if error:
            man["error"] = error
        man["command"] = self.command or command_line()
        man["files"] = self.files()
        return man

    def _write_manifest(self, status: str, error: str | None = None) -> Path:
        make_dirs(self.path)
        path = atomic_write_text(self.path / MANIFEST,
                                 json.dumps(MF.clean_json(self._document(status, error)), indent=2, sort_keys=True)
                                 + "\n")
        self._wrote_manifest = True
        self.status = status
        return path

    def finish(self, config: dict | None = None, data: dict | None = None, *, seed: int = 0, config_file=None,
               status: str = "complete", extra: dict | None = None) -> Path:
        """Write ``manifest.json`` last (atomically), listing the files that exist; a final status
        releases the lock. A command that ends (not ``complete``) before any of its files exists
        leaves no folder it created."""
        if config is not None or data is not None:
            self.describe(config or {}, data or {}, seed=seed, config_file=config_file, extra=extra)
        elif extra:
            self._spec = {**(self._spec or {"config": {}, "data": {}, "seed": seed, "config_file": config_file,
                                             "extra": {}}), "extra": dict(extra)}
        path = self.path / MANIFEST
        if status not in ("complete", "running") and self._created and not self._has_files():
            self.status = status  # nothing to describe: the folder goes when the lock is released
            if self._own_lock or self._lock_fh is None:
                self.unlock()
            return path
        try:
            self._write_manifest(status)
        finally:
            if status in FINAL and self._own_lock:
                self.unlock()
        return path

    def abandon(self, status: str = "failed", error: str | None = None) -> None:
        """The command stops here (a write failed, Ctrl-C): rewrite the manifest with ``status``
        (best effort: the disk may be full) and release the lock."""
        try:
            if self._wrote_manifest and (self._has_files() or not self._created):
                try:
                    self._write_manifest(status, error)
                except (UserError, OSError):
                    pass
            self.status = status
        finally:
            self.unlock()
            if self.managed and self.path.is_dir() and self._wrote_manifest:
                _STOPPED.append((self.path, status))

    def resume_command(self) -> str:
        return resume_command(self.command)


def abandon_open(status: str = "interrupted", error: str | None = None) -> list[tuple[Path, str]]:
    """Mark every folder this process is still writing as ``status`` (Ctrl-C or an error that
    ended the command); ``(folder, status)`` of these and of the folders that stopped on a failed
    write since the last call, for the message."""
    for folder in list(_HELD.values()):
        folder.abandon(status, error)
    return stopped_folders()


def stopped_folders() -> list[tuple[Path, str]]:
    """``(folder, status)`` of the folders that stopped early since the last call (and forget them)."""
    out = list(dict.fromkeys(_STOPPED))
    _STOPPED.clear()
    return out


class _Sub:
    """A sub-folder of an OutputFolder (compare writes one per strategy); its files are listed
    in the parent's manifest."""

    def __init__(self, parent, name: str):
        self.parent, self.name = parent, name
        self.path = parent.path / name

    def write_bytes(self, name: str, data: bytes) -> Path:
        return self.parent.write_bytes(f"{self.name}/{name}", data)

    def write_text(self, name: str, text: str) -> Path:
        return self.write_bytes(name, text.encode("utf-8"))

    def file(self, name: str) -> Path:
        return self.path / name


def as_folder(out):
    """``out`` as something with ``write_bytes``/``write_text``/``path`` (a path becomes an
    unchecked, unmanaged OutputFolder: atomic writes, no lock, no manifest)."""
    if hasattr(out, "write_bytes") and hasattr(out, "path"):
        return out
    return OutputFolder(out, "files", {}, managed=False)


def sub(folder, name: str):
    return _Sub(as_folder(folder), name)
