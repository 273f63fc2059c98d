"""Shared fixtures. Tests run offline; those that read ../shared/data/market skip where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_MARKET = Path(os.environ.get("ROTATIONLAB_SHARED_MARKET", ROOT.parent / "shared" / "data" / "market"))

needs_shared = pytest.mark.skipif(
    not (SHARED_MARKET / "SPY.csv").is_file(),
    reason=f"real market CSVs not found at {SHARED_MARKET} (present in CI beside the checkout; "
           "set ROTATIONLAB_SHARED_MARKET to point elsewhere)",
)


@pytest.fixture(autouse=True)
def _headless(monkeypatch, tmp_path):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def make_bars(symbol: str, closes, start="2020-01-01", opens=None, close_only=False, adjustment="price_index"):
    """Bars from a list of closes on business days (opens default to the previous close)."""
    from data_feeds.base import Bars
    closes = np.asarray(closes, dtype=float)
    idx = pd.bdate_range(start, periods=len(closes), name="date")
    if opens is None:
        opens = np.r_[closes[0], closes[:-1]]
    opens = np.asarray(opens, dtype=float)
    frame = pd.DataFrame({"open": opens, "high": np.maximum(opens, closes), "low": np.minimum(opens, closes),
                          "close": closes, "volume": 1e6}, index=idx)
    if close_only:
        frame["open"] = frame["high"] = frame["low"] = frame["close"]
    return Bars.build(frame, source="test", symbol=symbol, adjustment=adjustment, close_only=close_only)
