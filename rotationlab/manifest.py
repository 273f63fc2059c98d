"""``manifest.json``: what an output folder was made from.

Every output folder (run, compare, sweep) holds one: the config as run, the data provenance with
per-symbol SHA-256 and one hash over all of it, package versions, the git commit of the code
(when it runs from a git checkout) and the seed. The backtests draw no random numbers; the seed
is recorded so that any future randomised step has one place to take it from.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from rotationlab.atomic import atomic_write_text
from rotationlab.provenance import versions
from rotationlab.results import clean_json, dump_json

ROOT = Path(__file__).resolve().parents[1]


def canonical(obj) -> str:
    """Stable JSON text of ``obj`` (sorted keys, tuples as lists, NaN as null)."""
    return json.dumps(clean_json(obj), sort_keys=True, separators=(",", ":"))


def sha256_of(obj) -> str:
    return hashlib.sha256(canonical(obj).encode()).hexdigest()


@functools.lru_cache(maxsize=4)
def _git_info(root: Path) -> tuple | None:
    info = _git(root)
    return None if info is None else tuple(info.items())


def git_info(root: Path = ROOT) -> dict | None:
    """``{"commit", "dirty"}`` of the checkout the code runs from, or None outside git (asked
    once per process)."""
    info = _git_info(Path(root))
    return None if info is None else dict(info)


def _git(root: Path) -> dict | None:
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode != 0:
            return None
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def data_provenance(data: dict) -> dict:
    """Per-symbol metadata of loaded bars (``{symbol: Bars}``) and one hash over their content."""
    symbols = {s: b.meta.to_dict() for s, b in sorted(data.items())}
    return {"symbols": symbols, "hash": data_hash(symbols)}


def data_hash(symbols: dict) -> str:
    """SHA-256 over the sorted ``(symbol, sha256)`` pairs of a provenance's symbols."""
    return sha256_of(sorted((s, m.get("sha256")) for s, m in symbols.items()))


def build(kind: str, config: dict, data: dict, seed: int = 0, config_file=None, extra: dict | None = None) -> dict:
    """The manifest dict: ``config`` as run, ``data`` (``data_provenance()`` or a run's
    provenance), versions, git commit and seed."""
    if "hash" not in data and "symbols" in data:
        data = {**data, "hash": data_hash(data["symbols"])}
    return {
        "kind": kind,
        "config": config,
        "config_file": config_file.manifest() if config_file is not None else None,
        "data": data,
        "versions": versions(),
        "git": git_info(),
        "seed": seed,
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        **(extra or {}),
    }


def write(out: str | Path, manifest: dict) -> Path:
    return atomic_write_text(Path(out) / "manifest.json", dump_json(manifest))


def read(out: str | Path) -> dict | None:
    path = Path(out) / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
