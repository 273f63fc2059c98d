"""Turn a raw price table into validated daily bars, with errors that say what to fix.

``normalize`` accepts any frame whose columns are named like a price table (``date``/``Date``,
``open``/``Open``, ``Adj Close``, ...), selects columns by name, and checks everything a backtest
relies on. Problems that cannot be repaired raise :class:`DataError` naming the symbol, the file
(``where``) and the line or date; unsorted rows are sorted with a warning.

Refused: two columns for one field (``Close`` and ``close``); dates that cannot be read, that
read both day-first and month-first (``03/01/2024`` with no day above 12 in the file: pass
``date_format``), before :data:`MIN_DATE` or after today; prices that are not positive, not
finite or above :data:`MAX_PRICE`; high below low; an open or close outside [low, high];
negative or infinite volume; long runs without a close.
"""

from __future__ import annotations

import datetime as _dt
import re
import warnings

import numpy as np
import pandas as pd

from rotationlab.errors import DataError, UserError

from .base import CLOSE_ONLY_SHARE, COLUMNS, PRICE_RTOL, close_only_share

#: Longest run of consecutive rows with a missing close that is dropped with a warning; a longer
#: run is an error (a gap in the data rather than a stray missing print).
MAX_NAN_RUN = 5
#: Earliest date of a bar (the oldest daily series in use, the Dow, starts in 1885).
MIN_DATE = pd.Timestamp("1800-01-01")
#: Dates up to this many days after today are accepted: an exchange east of the user's time zone
#: can already have a bar dated tomorrow. Later dates are refused.
FUTURE_DAYS = 1
#: Largest accepted price. Real prices stay far below it (the shared ETFs below 1e3, index levels
#: up to about 5.2e4 for ^DJI, BRK-A about 7e5); a larger value is a volume, a misplaced decimal
#: point or a unit error.
MAX_PRICE = 1e9


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


def duplicate_fields(names) -> tuple[str, list] | None:
    """``(field, [names])`` of the first field named by several columns (``Close``, ``close``)."""
    groups: dict[str, list] = {}
    for name in names:
        key = _ALIASES.get(_canon(name))
        if key is not None:
            groups.setdefault(key, []).append(name)
    for key, cols in groups.items():
        if len(cols) > 1:
            return key, cols
    return None


def duplicate_message(symbol: str, where: str, dup: tuple[str, list]) -> str:
    key, cols = dup
    return (f"{symbol}: {where} has {len(cols)} {key.replace('_', ' ')} columns "
            f"({', '.join(map(str, cols))}); keep one and rename or delete the others")


def check_date_format(fmt: str | None) -> str | None:
    """``fmt`` if it is a strftime format that reads a day, a month and a year; else UserError."""
    if fmt is None:
        return None
    probe = _dt.datetime(2024, 1, 31)
    try:
        ok = isinstance(fmt, str) and _dt.datetime.strptime(probe.strftime(fmt), fmt).date() == probe.date()
    except ValueError:
        ok = False
    if not ok:
        raise UserError(f"--date-format {fmt!r} does not read a day, a month and a year; give a "
                        "strftime format such as %d/%m/%Y or %m/%d/%Y")
    return fmt


def _wall_time(value):
    """``value`` as a tz-naive Timestamp in its own local time (NaT if it is not a date)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


#: d/m/Y or m/d/Y (also with . or - and two-digit years), optionally followed by a time.
_DAY_MONTH = re.compile(r"\s*(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})((?:[\sT].*)?)", re.S)


def _day_month_order(col: pd.Series, symbol: str, where: str, loc) -> tuple[pd.Series, str | None]:
    """Cells written d/m/Y or m/d/Y rewritten as ISO, in the one order the file allows.

    The order is shown by a first number above 12 (day first) or a second one (month first);
    a file where no number is above 12 could be either and is refused, as is one with both."""
    text = col.astype("string")
    m = text.str.fullmatch(_DAY_MONTH.pattern, flags=re.S)
    hit = m.fillna(False).to_numpy(dtype=bool)
    if not hit.any():
        return col, None
    parts = text[hit].str.extract(_DAY_MONTH.pattern, flags=re.S)
    a, b = parts[0].astype(int).to_numpy(), parts[2].astype(int).to_numpy()
    pos = np.flatnonzero(hit)
    sep, year = parts[1].iloc[0], parts[3].iloc[0]
    y = "%Y" if len(year) == 4 else "%y"
    dmy, mdy = f"%d{sep}%m{sep}{y}", f"%m{sep}%d{sep}{y}"
    day_first, month_first = a > 12, b > 12
    if day_first.any() and month_first.any():
        p, q = pos[day_first.argmax()], pos[month_first.argmax()]
        raise DataError(f"{symbol}: {where} mixes day-first and month-first dates ({loc(p)}: "
                        f"{col.iloc[p]!r}, {loc(q)}: {col.iloc[q]!r}); no single order reads both: "
                        "fix those rows, or write the dates as YYYY-MM-DD")
    if not day_first.any() and not month_first.any():
        p = pos[0]
        raise DataError(f"{symbol}: {where} has dates like {col.iloc[p]!r} ({loc(p)}) that read as "
                        "day/month or as month/day (no number above 12 shows which); pass "
                        f"--date-format {dmy} or --date-format {mdy}")
    first_is_day = bool(day_first.any())
    day, month = (parts[0], parts[2]) if first_is_day else (parts[2], parts[0])
    yy = parts[3].astype(int)
    yy = yy.where(parts[3].str.len() == 4, yy + np.where(yy < 69, 2000, 1900))  # strptime's %y
    iso = (yy.astype(str).str.zfill(4) + "-" + month.str.zfill(2) + "-" + day.str.zfill(2)
           + parts[4].fillna(""))
    out = text.astype(object)
    out[hit] = iso.to_numpy(dtype=object)
    p = pos[(day_first if first_is_day else month_first).argmax()]
    order = "day" if first_is_day else "month"
    return out, (f"dates read {order} first ({dmy if first_is_day else mdy}): {loc(p)} has "
                 f"{col.iloc[p]!r}; pass --date-format to choose otherwise")


def _parse_dates(text: pd.Series, date_format: str | None = None) -> pd.Series:
    """Dates of a column; NaT where a cell is not a date. Offsets (``-05:00``) are dropped, keeping
    each row's local date, also when they change within the column (daylight saving)."""
    if date_format is not None and not pd.api.types.is_datetime64_any_dtype(text):
        return pd.to_datetime(text, format=date_format, errors="coerce")
    try:
        dates = pd.to_datetime(text, errors="coerce", format="mixed")
    except ValueError:  # several UTC offsets in one column
        dates = pd.to_datetime(text.map(_wall_time), errors="coerce")
    if not pd.api.types.is_datetime64_any_dtype(text):
        # pandas reads the words "today" and "now" as the current time: they are not dates of a bar.
        dates = dates.mask(text.astype(str).str.strip().isin(["today", "now"]))
    return dates


def _unreadable_date(value, date_format) -> str:
    """Why a date cell could not be read, and the fix."""
    if value is None or pd.isna(value) or not str(value).strip():
        return "the date is empty; fill it or delete that row"
    text = str(value).strip()
    if date_format is not None:
        return f"cannot read date {value!r} with --date-format {date_format}; fix the row or the format"
    if not any(ch.isdigit() for ch in text):
        return (f"cannot read date {value!r} (a total, note or repeated header row? delete it); "
                "use ISO dates like 2024-01-31")
    if text.isdigit():
        return (f"cannot read date {value!r} (a number: an Excel serial or a Unix time?); "
                "use ISO dates like 2024-01-31")
    return f"cannot read date {value!r}; use ISO dates like 2024-01-31"


def normalize(raw: pd.DataFrame, symbol: str, where: str, *, first_line: int | None = None,
              max_nan_run: int = MAX_NAN_RUN, date_format: str | None = None,
              today: _dt.date | None = None, repair_ohlc: bool = False) -> tuple[pd.DataFrame, dict]:
    """Validate ``raw`` and return ``(bars_frame, info)``.

    ``raw`` has a ``date`` column (any case) or a DatetimeIndex. ``first_line`` is the file line
    number of the first data row, used in messages. ``date_format`` (strftime) reads text dates
    that are ambiguous otherwise. ``today`` (default: the local date) bounds the dates.
    ``repair_ohlc`` widens high/low to hold the open and close (with a warning) instead of refusing
    such rows: for downloads the user cannot edit. ``info`` has ``close_only`` (no open column, or
    open == close on at least CLOSE_ONLY_SHARE of the bars), ``close_only_share``,
    ``adjusted_from_adj_close`` and ``notes`` (what was read how, e.g. the date order).
    """
    def loc(pos: int) -> str:
        return f"line {first_line + pos}" if first_line is not None else f"row {pos + 1}"

    if raw is None or len(raw.columns) == 0 and len(raw) == 0:
        raise DataError(f"{symbol}: {where} is empty; re-create it or drop {symbol} from --symbols")
    frame = raw.copy()
    if isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.reset_index(names="date" if frame.index.name is None else frame.index.name)
    dup = duplicate_fields(frame.columns)
    if dup is not None:
        raise DataError(duplicate_message(symbol, where, dup))
    renamed = {col: _ALIASES[_canon(col)] for col in frame.columns if _canon(col) in _ALIASES}
    frame = frame[list(renamed)].rename(columns=renamed)
    found = ", ".join(map(str, raw.columns)) or "none"
    for need in ("date", "close"):
        if need not in frame.columns:
            unnamed = need == "date" and any(str(c).startswith("Unnamed: 0") or not str(c).strip()
                                             for c in raw.columns[:1])
            raise DataError(
                f"{symbol}: {where} has no '{need}' column (columns found: {found}); "
                + ("the first column has no name: if it holds the dates, name it date"
                   if unnamed else "a price file needs at least a date and a close column")
            )
    if len(frame) == 0:
        raise DataError(f"{symbol}: {where} has a header but no data rows; "
                        f"re-create it or drop {symbol} from --symbols")

    notes: list[str] = []
    column = frame["date"]
    if date_format is None and not pd.api.types.is_datetime64_any_dtype(column):
        column, note = _day_month_order(column, symbol, where, loc)
        notes += [note] if note else []
    elif date_format is not None and not pd.api.types.is_datetime64_any_dtype(column):
        notes.append(f"dates read with --date-format {date_format}")
    dates = _parse_dates(column, date_format)
    bad = dates.isna().to_numpy().nonzero()[0]
    if len(bad):
        raise DataError(f"{symbol}: {where} {loc(bad[0])}: "
                        f"{_unreadable_date(frame['date'].iloc[bad[0]], date_format)}")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    dates = dates.dt.normalize()
    latest = pd.Timestamp(today or _dt.date.today()) + pd.Timedelta(days=FUTURE_DAYS)
    for bad, what in (((dates < MIN_DATE).to_numpy(), f"is before {MIN_DATE:%Y-%m-%d}"),
                      ((dates > latest).to_numpy(), f"is after today ({latest - pd.Timedelta(days=FUTURE_DAYS):%Y-%m-%d})")):
        if bad.any():
            p = int(np.flatnonzero(bad)[0])
            raise DataError(f"{symbol}: {where} {loc(p)}: date {frame['date'].iloc[p]!r} {what}; "
                            "a typo in the year? fix or delete that row")

    values = {}
    for col in ("open", "high", "low", "close", "adj_close", "volume"):
        if col not in frame.columns:
            continue
        text = frame[col]
        num = pd.to_numeric(text, errors="coerce")
        suspect = (num.isna() & text.notna()).to_numpy().nonzero()[0]  # blank cells are missing values
        unreadable = [p for p in suspect if str(text.iloc[p]).strip()]
        if unreadable:
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

    def at(i: int) -> str:  # "line 7 (2024-01-03)" of the i-th row of ``out``
        return f"{loc(int(out['_pos'].iloc[i]))} ({out.index[i]:%Y-%m-%d})"

    # Without an open there is nothing to fill at but the close: the series is close-only. An open
    # without high/low keeps its opens; the missing range is taken as the open-close span.
    has_open = "open" in out.columns
    adjusted = False
    if "adj_close" in out.columns and out["adj_close"].isna().any():
        p = int(np.flatnonzero(out["adj_close"].isna().to_numpy())[0])
        raise DataError(f"{symbol}: {where} {at(p)}: Adj Close is blank; fill it, or delete the Adj "
                        "Close column to use Close")
    if "adj_close" in out.columns:
        factor = out["adj_close"] / out["close"]
        for col in ("open", "high", "low"):
            if col in out.columns:
                out[col] = out[col] * factor
        out["close"] = out["adj_close"]
        adjusted = True
    if not has_open:
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
        v = out[col]
        bad = ((v <= 0) | np.isinf(v)).to_numpy().nonzero()[0]
        if len(bad):
            p = bad[0]
            raise DataError(f"{symbol}: {where} {at(p)}: {col} is {v.iloc[p]:g}, prices must be "
                            "positive and finite; fix or delete that row")
        bad = (v > MAX_PRICE).to_numpy().nonzero()[0]
        if len(bad):
            p = bad[0]
            raise DataError(f"{symbol}: {where} {at(p)}: {col} is {v.iloc[p]:g}, above {MAX_PRICE:g}: "
                            "not a price (a volume, or a misplaced decimal point?); fix or delete that row")
    hi, lo = out["high"].to_numpy(), out["low"].to_numpy()
    o, c = out["open"].to_numpy(), out["close"].to_numpy()
    outside = ((np.minimum(o, c) < lo * (1 - PRICE_RTOL)) | (np.maximum(o, c) > hi * (1 + PRICE_RTOL))
               | (hi < lo))
    if repair_ohlc and outside.any():
        out["high"] = np.maximum.reduce([hi, lo, o, c])
        out["low"] = np.minimum.reduce([hi, lo, o, c])
        text = (f"widened high/low on {int(outside.sum())} bars whose open or close lay outside "
                f"them (first {out.index[int(np.flatnonzero(outside)[0])]:%Y-%m-%d})")
        warnings.warn(f"{symbol}: {where}: {text}", DataWarning, stacklevel=2)
        notes.append(text)
    bad = (hi < lo).nonzero()[0]
    if len(bad) and not repair_ohlc:
        p = bad[0]
        raise DataError(f"{symbol}: {where} {at(p)}: high {hi[p]:g} is below low {lo[p]:g}; the columns "
                        "may be swapped or mislabelled")
    if outside.any() and not repair_ohlc:
        p = int(np.flatnonzero(outside)[0])
        col, val = ("open", o[p]) if not lo[p] * (1 - PRICE_RTOL) <= o[p] <= hi[p] * (1 + PRICE_RTOL) \
            else ("close", c[p])
        raise DataError(f"{symbol}: {where} {at(p)}: {col} {val:.10g} is outside the day's range low "
                        f"{lo[p]:.10g} .. high {hi[p]:.10g}; fix that row (are the columns mislabelled?)")
    vol = out["volume"].to_numpy()
    if (vol < 0).any() or np.isinf(vol).any():
        p = int(np.flatnonzero((vol < 0) | np.isinf(vol))[0])
        what = "negative volume" if vol[p] < 0 else f"volume is {vol[p]:g}"
        raise DataError(f"{symbol}: {where} {at(p)}: {what}; fix or delete that row")

    out = out.loc[:, list(COLUMNS)]
    share = close_only_share(out)
    close_only = not has_open or share >= CLOSE_ONLY_SHARE
    if not has_open:
        notes.append("no open column: close-only, open/high/low set to the close")
    elif close_only:
        notes.append(f"open equals close on {share:.1%} of bars (close-only from {CLOSE_ONLY_SHARE:.0%}): "
                     "close-only, orders at the open fill at a close")
    return out, {"close_only": close_only, "close_only_share": share,
                 "adjusted_from_adj_close": adjusted, "notes": notes}
