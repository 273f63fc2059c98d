"""Output folders that are safe to write into.

Every command writes into one folder through an :class:`OutputFolder`:

* before any work, :meth:`OutputFolder.check` refuses a path that is a file, a folder under a
  file, or a folder it cannot write; and a folder made by another command, or by the same
  command with another config (its ``manifest.json`` says so), unless ``force``; and a non-empty
  folder with no manifest (not made by this project), unless ``force``;
* nothing is created until the first file is written, so a refused command leaves nothing;
* files are written atomically (``rotationlab.atomic``), with the umask's permissions;
  temporary files of an interrupted write are removed at the next start;
* ``manifest.json`` is written last and atomically; it lists only files that exist (with their
  sizes and SHA-256), the command, the config and the data provenance; a failure writes a
  manifest with ``status = "failed"`` and what was written;
* :meth:`OutputFolder.lock` (sweeps) holds an exclusive lock on ``.lock`` for the run: a second
  process writing into the same folder is refused with the other's pid.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
from pathlib import Path

from rotationlab import manifest as MF
from rotationlab.atomic import atomic_write_bytes, atomic_write_text, clean_temp_files, make_dirs, os_error
from rotationlab.errors import UserError

MANIFEST = "manifest.json"


def command_line() -> list[str]:
    """The command as typed (``run_backtest.py ARGS``)."""
    return [Path(sys.argv[0]).name or "python", *sys.argv[1:]]


class OutputFolder:
    """See the module docstring. ``kind``: the command; ``identity``: what the outputs depend on
    (hashed and compared with an existing folder's)."""

    def __init__(self, path, kind: str, identity: dict, force: bool = False, command: list | None = None):
        self.path = Path(path)
        self.kind = kind
        self.identity = identity
        self.identity_hash = MF.sha256_of(identity)
        self.force = force
        self.command = command
        self.written: list[str] = []
        self._lock_fh = None

    # -- before work --------------------------------------------------------------------------------
    def existing_manifest(self) -> dict | None:
        return MF.read(self.path)

    def check(self, same_ok: bool = True) -> "OutputFolder":
        p = self.path
        for parent in [p, *p.parents]:
            if parent.exists():
                if not parent.is_dir():
                    what = "is a file" if parent == p else f"is under {parent}, which is a file"
                    raise UserError(f"cannot use {p} as an output folder: it {what}; choose another --out")
                if not os.access(parent, os.W_OK | os.X_OK):
                    raise UserError(f"cannot write into {parent}: permission denied; choose another --out")
                break
        if not p.exists() or self.force:
            return self
        old = self.existing_manifest()
        entries = [x for x in p.iterdir() if not x.name.startswith(".")]
        if old is None:
            if entries:
                raise UserError(f"{p} already holds files that no Rotation Lab command made (no {MANIFEST}); "
                                "choose an empty or new --out, or add --force")
            return self
        if old.get("kind") != self.kind:
            raise UserError(f"{p} holds the output of `{old.get('kind')}`, not `{self.kind}`; choose another --out "
                            "(or --force to overwrite)")
        if not same_ok or old.get("identity_hash") not in (None, self.identity_hash):
            raise UserError(f"{p} holds the output of `{self.kind}` with another config; choose another --out "
                            "(or --force to overwrite)")
        return self

    def lock(self) -> "OutputFolder":
        """Hold ``.lock`` exclusively until :meth:`unlock` (or the process ends)."""
        make_dirs(self.path)
        lock = self.path / ".lock"
        try:
            fh = open(lock, "a+")
        except OSError as exc:
            raise os_error(exc, lock) from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            other = fh.read().strip() or "another process"
            fh.close()
            raise UserError(f"{self.path} is in use by {other}; wait for it to finish or choose another --out") \
                from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"process {os.getpid()} ({' '.join(self.command or command_line())[:200]})")
        fh.flush()
        self._lock_fh = fh
        clean_temp_files(self.path)
        return self

    def unlock(self) -> None:
        if self._lock_fh is not None:
            try:
                self._lock_fh.seek(0)
                self._lock_fh.truncate()
                fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            finally:
                self._lock_fh.close()
                self._lock_fh = None

    # -- writing ------------------------------------------------------------------------------------
    def file(self, name: str) -> Path:
        return self.path / name

    def write_bytes(self, name: str, data: bytes) -> Path:
        if not self.written and self._lock_fh is None:
            make_dirs(self.path)
            clean_temp_files(self.path)
        out = atomic_write_bytes(self.path / name, data)
        if name not in self.written:
            self.written.append(name)
        return out

    def write_text(self, name: str, text: str) -> Path:
        return self.write_bytes(name, text.encode("utf-8"))

    def adopt(self, name: str) -> None:
        """Count a file written into the folder by other code (e.g. a resumable row file)."""
        if name not in self.written:
            self.written.append(name)

    def files(self) -> dict:
        out = {}
        for name in sorted(set(self.written)):
            p = self.path / name
            if p.is_file():
                blob = p.read_bytes()
                out[name] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
        return out

    def finish(self, config: dict, data: dict, *, seed: int = 0, config_file=None, status: str = "complete",
               extra: dict | None = None) -> Path:
        """Write ``manifest.json`` last (atomically), listing the files that exist."""
        man = MF.build(self.kind, config, data, seed=seed, config_file=config_file,
                       extra={"status": status, "identity_hash": self.identity_hash, **(extra or {})})
        man["command"] = self.command or command_line()
        man["files"] = self.files()
        make_dirs(self.path)
        return atomic_write_text(self.path / MANIFEST, json.dumps(MF.clean_json(man), indent=2, sort_keys=True) + "\n")


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
    unchecked OutputFolder)."""
    if hasattr(out, "write_bytes") and hasattr(out, "path"):
        return out
    return OutputFolder(out, "files", {})


def sub(folder, name: str):
    return _Sub(as_folder(folder), name)
