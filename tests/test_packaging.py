"""What the project imports is what its install declares.

The quick start installs ``.[sample]``: every library the product's code imports (at any level,
also inside functions) must come from ``install_requires`` or a non-test extra, never only from
the ``test`` extra, which the suite itself installs (a library found there alone would pass every
test and fail a user's first run).
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"rotationlab", "reports", "data_feeds", "strategies", "run_backtest"}
PRODUCT = [ROOT / "run_backtest.py", *(p for pkg in ("rotationlab", "reports", "data_feeds", "strategies")
                                       for p in sorted((ROOT / pkg).rglob("*.py")))]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements() -> dict:
    """``{"install_requires" | extra: {distribution, ...}}`` from setup.cfg; a requirement with
    extras (``dask[distributed]``) also names the distributions those extras add."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    groups = {"install_requires": cfg["options"]["install_requires"]}
    groups.update(cfg["options.extras_require"])
    out = {}
    for group, text in groups.items():
        names = set()
        for line in text.split("\n"):
            m = re.match(r"\s*([A-Za-z0-9_.-]+)(?:\[([^\]]+)\])?", line)
            if not m or not line.strip():
                continue
            names.add(_norm(m.group(1)))
            for extra in (m.group(2) or "").split(","):
                try:
                    reqs = metadata.requires(m.group(1)) or []
                except metadata.PackageNotFoundError:
                    continue
                for r in reqs:
                    if extra.strip() and f'extra == "{extra.strip()}"' in r:
                        names.add(_norm(re.match(r"[A-Za-z0-9_.-]+", r).group(0)))
        out[group] = names
    return out


def _imported_modules(path: Path) -> set:
    """Top-level names of the absolute imports in one file, at any depth."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_library_the_product_imports_is_declared_outside_the_test_extra():
    reqs = _requirements()
    allowed = set().union(*(v for k, v in reqs.items() if k != "test"))
    dists = metadata.packages_distributions()
    undeclared = {}
    for path in PRODUCT:
        for mod in _imported_modules(path) - FIRST_PARTY - set(sys.stdlib_module_names) - {"__future__"}:
            owners = {_norm(d) for d in dists.get(mod, [])}
            if not owners:  # not installed here: only optional imports may be missing
                pytest.fail(f"{path.relative_to(ROOT)} imports {mod!r}, which no installed distribution "
                            "provides; declare it in setup.cfg")
            if not owners & allowed:
                undeclared.setdefault(mod, []).append(str(path.relative_to(ROOT)))
    assert not undeclared, ("imported by the product but declared only for the tests (or not at all): "
                            f"{undeclared}; add them to install_requires (or a non-test extra) in setup.cfg")


def test_the_check_sees_imports_inside_functions(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os\ndef g():\n    from pypdf import PdfWriter\n    import numpy.linalg\n"
                 "from . import sibling\n")
    assert _imported_modules(f) == {"os", "pypdf", "numpy"}
