"""Bars from pandas objects a user already has in memory (the Python API's ``data=``).

* a DataFrame of closes: a DatetimeIndex (or a date column) and one column per symbol;
* a dict ``{symbol: DataFrame}`` of OHLCV frames (columns named like a price file: open, high,
  low, close, volume, any case; a close column at least), or of close Series;
* a dict ``{symbol: Bars}`` (returned unchanged).

Every series goes through the same validation as a file (:func:`data_feeds.validate.normalize`);
its metadata say ``source = "dataframe"``, the adjustment is ``unknown`` unless declared
(``adjustments={"SPY": "total_return"}``) or the symbol is an index (``^``: price), and the hash
is of the values, so runs on the same frames are reproducible.
"""

from __future__ import annotations

import pandas as pd

from rotationlab.errors import DataError, UserError

from .base import Bars, check_symbol
from .validate import normalize


def _kind(symbol: str, adjustments: dict | None) -> str:
    if adjustments and symbol in adjustments:
        return adjustments[symbol]
    return "price" if symbol.startswith("^") else "unknown"


def _bars(symbol: str, frame, adjustments) -> Bars:
    check_symbol(symbol)
    if isinstance(frame, pd.Series):
        frame = frame.rename("close").to_frame()
    if not isinstance(frame, pd.DataFrame):
        raise UserError(f"data for {symbol} is a {type(frame).__name__}; give a DataFrame or Series of prices")
    frame = frame.copy()
    if not isinstance(frame.index, pd.DatetimeIndex):
        try:
            frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index))
        except (ValueError, TypeError):
            if not any(str(c).strip().lower() in ("date", "datetime") for c in frame.columns):
                raise DataError(f"{symbol}: the frame has no DatetimeIndex and no date column; index it by date") \
                    from None
    where = "the DataFrame given"
    norm, info = normalize(frame, symbol, where)
    notes = ["close-only series: open/high/low set to the close"] if info["close_only"] else []
    kind = _kind(symbol, adjustments)
    if info.get("adjusted_from_adj_close"):
        kind = "total_return"
    return Bars.build(norm, source="dataframe", symbol=symbol, adjustment=kind, close_only=info["close_only"],
                      origin="in-memory DataFrame", notes=tuple(notes))


def bars_from(data, adjustments: dict | None = None) -> dict[str, Bars]:
    """``{symbol: Bars}`` from a closes DataFrame, a dict of frames/Series, or a dict of Bars."""
    if isinstance(data, pd.DataFrame):
        frame = data
        if not isinstance(frame.index, pd.DatetimeIndex):
            cols = {str(c).strip().lower(): c for c in frame.columns}
            if "date" in cols:
                frame = frame.set_index(cols["date"])
        if isinstance(frame.columns, pd.MultiIndex):
            raise UserError("a DataFrame with several column levels: give a dict {symbol: OHLCV frame} instead")
        return {str(s): _bars(str(s), frame[s].dropna(), adjustments) for s in frame.columns}
    if isinstance(data, dict):
        out = {}
        for s, v in data.items():
            if isinstance(v, Bars):
                out[str(s)] = v
            else:
                out[str(s)] = _bars(str(s), v, adjustments)
        if not out:
            raise UserError("data is empty: give at least one symbol's prices")
        return out
    raise UserError(f"data must be a DataFrame of closes or a dict {{symbol: frame}}, not {type(data).__name__}")
