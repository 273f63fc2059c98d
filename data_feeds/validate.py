"""Turn a raw price table into validated daily bars, with errors that say what to fix.

``normalize`` accepts any frame whose columns are named like a price table (``date``/``Date``,
``open``/``Open``, ``Adj Close``, ...), selects columns by name, and checks everything a backtest
relies on. Problems that cannot be repaired raise :class:`DataError` naming the symbol, the file
(``where``) and the line or date; unsorted rows are sorted with a warning.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from rotationlab.errors import DataError

from .base import COLUMNS

#: Longest run of consecutive rows with a missing close that is dropped with a warning; a longer
#: run is an error (a gap in the data rather than a stray missing print).
MAX_NAN_RUN = 5


class DataWarning(UserWarning):
    """Input was repaired (e.g. sorted); the message says what was done."""


def _canon(name) -> str:
    return " ".join(str(name).strip().lower().replace("_", " ").split())


_ALIASES = {
    "date": "date", "datetime": "date", "timestamp": "date", "time": "date",
    "open": "open", "high": "high", "low": "low", "close": "close",
    "adj close": "adj_close", "adjclose": "adj_close", "adjusted close": "adj_close",
    "volume": "volume",
}


def _wall_time(value):
    """``value`` as a tz-naive Timestamp in its own local time (NaT if it is not a date)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


def _parse_dates(text: pd.Series) -> pd.Series:
    """Dates of a column; NaT where a cell is not a date. Offsets (``-05:00``) are dropped, keeping
    each row's local date, also when they change within the column (daylight saving)."""
    try:
        dates = pd.to_datetime(text, errors="coerce", format="mixed")
    except ValueError:  # several UTC offsets in one column
        dates = pd.to_datetime(text.map(_wall_time), errors="coerce")
    if not pd.api.types.is_datetime64_any_dtype(text):
        # pandas reads the words "today" and "now" as the current time: they are not dates of a bar.
        dates = dates.mask(text.astype(str).str.strip().isin(["today", "now"]))
    return dates


def normalize(raw: pd.DataFrame, symbol: str, where: str, *, first_line: int | None = None,
              max_nan_run: int = MAX_NAN_RUN) -> tuple[pd.DataFrame, dict]:
    """Validate ``raw`` and return ``(bars_frame, info)``.

    ``raw`` has a ``date`` column (any case) or a DatetimeIndex. ``first_line`` is the file line
    number of the first data row, used in messages. ``info`` says ``close_only`` and whether an
    adjusted close was applied (``adjusted_from_adj_close``).
    """
    def loc(pos: int) -> str:
        return f"line {first_line + pos}" if first_line is not None else f"row {pos + 1}"

    if raw is None or len(raw.columns) == 0 and len(raw) == 0:
        raise DataError(f"{symbol}: {where} is empty; re-create it or drop {symbol} from --symbols")
    frame = raw.copy()
    if isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.reset_index(names="date" if frame.index.name is None else frame.index.name)
    renamed, seen = {}, {}
    for col in frame.columns:
        key = _ALIASES.get(_canon(col))
        if key is not None and key not in seen:
            renamed[col], seen[key] = key, col
    frame = frame[list(renamed)].rename(columns=renamed)
    found = ", ".join(map(str, raw.columns)) or "none"
    for need in ("date", "close"):
        if need not in frame.columns:
            raise DataError(
                f"{symbol}: {where} has no '{need}' column (columns found: {found}); "
                "a price file needs at least a date and a close column"
            )
    if len(frame) == 0:
        raise DataError(f"{symbol}: {where} has a header but no data rows; "
                        f"re-create it or drop {symbol} from --symbols")

    dates = _parse_dates(frame["date"])
    bad = dates.isna().to_numpy().nonzero()[0]
    if len(bad):
        raise DataError(f"{symbol}: {where} {loc(bad[0])}: cannot read date {frame['date'].iloc[bad[0]]!r}; "
                        "use ISO dates like 2024-01-31")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    dates = dates.dt.normalize()

    values = {}
    for col in ("open", "high", "low", "close", "adj_close", "volume"):
        if col not in frame.columns:
            continue
        text = frame[col]
        num = pd.to_numeric(text, errors="coerce")
        unreadable = (num.isna() & text.notna() & (text.astype(str).str.strip() != "")).to_numpy().nonzero()[0]
        if len(unreadable):
            p = unreadable[0]
            raise DataError(f"{symbol}: {where} {loc(p)} ({dates.iloc[p]:%Y-%m-%d}): cannot read {col} "
                            f"value {text.iloc[p]!r} as a number; fix or delete that row")
        values[col] = num.astype("float64").to_numpy()

    out = pd.DataFrame(values, index=pd.DatetimeIndex(dates.to_numpy(), name="date"))
    out["_pos"] = np.arange(len(out))

    # Rows with no close: short runs are stray prints (dropped), long runs are gaps (refused).
    missing = out["close"].isna().to_numpy()
    if missing.any():
        run_id = np.cumsum(~missing)
        runs = pd.Series(missing).groupby(run_id).sum()
        longest = int(runs.max())
        if longest > max_nan_run:
            start_pos = int(np.flatnonzero(missing & (run_id == runs.idxmax()))[0])
            raise DataError(
                f"{symbol}: {where} has {longest} consecutive rows without a close from "
                f"{out.index[start_pos]:%Y-%m-%d} ({loc(start_pos)}); fill or re-download that "
                "period, or start the backtest after it"
            )
        warnings.warn(f"{symbol}: dropped {int(missing.sum())} rows without a close in {where}",
                      DataWarning, stacklevel=2)
        out = out[~missing]
        if out.empty:
            raise DataError(f"{symbol}: {where} has no rows with a close price; re-create it")

    if not out.index.is_monotonic_increasing:
        warnings.warn(f"{symbol}: rows in {where} were not in date order; sorted them", DataWarning,
                      stacklevel=2)
        out = out.sort_index(kind="stable")
    dup = out.index.duplicated(keep="first")
    if dup.any():
        p = int(out["_pos"].iloc[int(np.flatnonzero(dup)[0])])
        raise DataError(f"{symbol}: {where} has the date {out.index[dup][0]:%Y-%m-%d} twice ({loc(p)}); "
                        "keep one row per date")

    # Without an open there is nothing to fill at but the close: the series is close-only. An open
    # without high/low keeps its opens; the missing range is taken as the open-close span.
    close_only = "open" not in out.columns
    adjusted = False
    if "adj_close" in out.columns and out["adj_close"].isna().any():
        p = int(np.flatnonzero(out["adj_close"].isna().to_numpy())[0])
        raise DataError(f"{symbol}: {where} {loc(int(out['_pos'].iloc[p]))} ({out.index[p]:%Y-%m-%d}): "
                        "Adj Close is blank; fill it, or delete the Adj Close column to use Close")
    if "adj_close" in out.columns:
        factor = out["adj_close"] / out["close"]
        for col in ("open", "high", "low"):
            if col in out.columns:
                out[col] = out[col] * factor
        out["close"] = out["adj_close"]
        adjusted = True
    if close_only:
        for col in ("open", "high", "low"):
            out[col] = out["close"]
    if "high" not in out.columns:
        out["high"] = out[["open", "close"]].max(axis=1)
    if "low" not in out.columns:
        out["low"] = out[["open", "close"]].min(axis=1)
    for col in ("open", "high", "low"):
        out[col] = out[col].fillna(out["close"])
    out["volume"] = out["volume"].fillna(0.0) if "volume" in out.columns else 0.0

    for col in ("close", "open", "high", "low"):  # close first: close-only files copy it to o/h/l
        bad = ((out[col] <= 0) | np.isinf(out[col])).to_numpy().nonzero()[0]
        if len(bad):
            p = bad[0]
            raise DataError(
                f"{symbol}: {where} {loc(int(out['_pos'].iloc[p]))} ({out.index[p]:%Y-%m-%d}): {col} is "
                f"{out[col].iloc[p]:g}, prices must be positive and finite; fix or delete that row"
            )
    bad = (out["high"] < out["low"]).to_numpy().nonzero()[0]
    if len(bad):
        p = bad[0]
        raise DataError(
            f"{symbol}: {where} {loc(int(out['_pos'].iloc[p]))} ({out.index[p]:%Y-%m-%d}): high "
            f"{out['high'].iloc[p]:g} is below low {out['low'].iloc[p]:g}; the columns may be "
            "swapped or mislabelled"
        )
    if (out["volume"] < 0).any():
        p = int(np.flatnonzero(out["volume"].to_numpy() < 0)[0])
        raise DataError(f"{symbol}: {where} {loc(int(out['_pos'].iloc[p]))} ({out.index[p]:%Y-%m-%d}): "
                        "negative volume; fix or delete that row")
    return out.loc[:, list(COLUMNS)], {"close_only": close_only, "adjusted_from_adj_close": adjusted}
