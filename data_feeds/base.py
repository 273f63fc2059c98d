"""The data-source interface: validated daily bars plus metadata, and a registry of sources.

A source is a subclass of :class:`Source` that implements :meth:`Source.load_frame` and registers
itself with :func:`register_source`. Everything else (symbol checks, validation, date filtering,
metadata) is done here once, so every source returns the same shape of data.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from rotationlab.errors import DataError, UserError

COLUMNS = ("open", "high", "low", "close", "volume")

#: The adjustment of a price series, as recorded in its metadata.
ADJUSTMENTS = {
    "total_return": "split and dividend adjusted (total return)",
    "split_only": "split adjusted only, dividends not reinvested",
    "price_index": "price index level (no adjustment applies)",
    "unknown": "adjustment unknown",
}

_SYMBOL_RE = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9^._=\-]{0,31}$")


def check_symbol(symbol: str) -> str:
    """Return ``symbol`` if it is a plain ticker, else raise: it must never act as a path."""
    if not isinstance(symbol, str) or not _SYMBOL_RE.fullmatch(symbol) or ".." in symbol:
        raise UserError(
            f"symbol {symbol!r} is not a ticker: use letters, digits and ^ . - _ = only "
            "(e.g. SPY, ^DJI, BRK-B); paths such as '../x' or '/abs' are refused"
        )
    return symbol


def check_date(value, flag: str) -> None:
    """Raise unless ``value`` (a --start/--end argument) is None or a date."""
    if value is None:
        return
    try:
        ok = pd.Timestamp(value) is not pd.NaT
    except (ValueError, TypeError, OverflowError):
        ok = False
    if not ok:
        raise UserError(f"{flag} {value!r} is not a date; use YYYY-MM-DD, e.g. 2005-01-31")


def safe_child(folder: Path, filename: str, symbol: str) -> Path:
    """``folder/filename``, refusing anything that would resolve outside ``folder``."""
    folder = Path(folder).resolve()
    path = (folder / filename).resolve()
    if folder != path.parent:
        raise UserError(f"symbol {symbol!r} would reach outside {folder}; use a plain ticker")
    return path


def frame_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a bars frame's dates and values (stable across runs and machines)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(frame.index.values.astype("datetime64[ns]").astype("<i8")).tobytes())
    for col in COLUMNS:
        h.update(col.encode())
        h.update(np.ascontiguousarray(frame[col].to_numpy(dtype="<f8")).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class BarsMeta:
    """Where a series came from and what it is."""

    source: str
    symbol: str
    adjustment: str
    close_only: bool
    first_date: str
    last_date: str
    rows: int
    sha256: str
    origin: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["notes"] = list(self.notes)
        return d


@dataclass(frozen=True)
class Bars:
    """Validated daily bars: tz-naive sorted unique dates; float columns open..volume."""

    frame: pd.DataFrame
    meta: BarsMeta

    @property
    def symbol(self) -> str:
        return self.meta.symbol

    @classmethod
    def build(cls, frame: pd.DataFrame, *, source: str, symbol: str, adjustment: str,
              close_only: bool, origin: str = "", notes: tuple[str, ...] = ()) -> "Bars":
        if adjustment not in ADJUSTMENTS:
            raise ValueError(f"adjustment must be one of {sorted(ADJUSTMENTS)}")
        frame = frame.loc[:, list(COLUMNS)].astype("float64")
        frame.index.name = "date"
        meta = BarsMeta(
            source=source, symbol=symbol, adjustment=adjustment, close_only=bool(close_only),
            first_date=frame.index[0].strftime("%Y-%m-%d"),
            last_date=frame.index[-1].strftime("%Y-%m-%d"),
            rows=len(frame), sha256=frame_hash(frame), origin=origin, notes=tuple(notes),
        )
        return cls(frame, meta)

    def between(self, start=None, end=None) -> "Bars":
        """The bars from ``start`` to ``end`` inclusive; metadata recomputed."""
        if start is None and end is None:
            return self
        frame = self.frame.loc[start:end]
        if frame.empty:
            raise DataError(
                f"{self.symbol}: no bars between {start or 'the start'} and {end or 'the end'} "
                f"(data covers {self.meta.first_date} to {self.meta.last_date}); widen --start/--end"
            )
        m = self.meta
        return Bars.build(frame, source=m.source, symbol=m.symbol, adjustment=m.adjustment,
                          close_only=m.close_only, origin=m.origin, notes=m.notes)


class Source(ABC):
    """A place daily bars come from. Subclasses set ``name``/``description`` and ``load_frame``."""

    name: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, *, data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                 offline: bool = False):
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.offline = offline

    @abstractmethod
    def load_symbol(self, symbol: str, start=None, end=None) -> Bars:
        """Validated bars for one (already checked) symbol; may return more than start..end."""

    def load(self, symbol: str, start=None, end=None) -> Bars:
        check_date(start, "--start")
        check_date(end, "--end")
        return self.load_symbol(check_symbol(symbol), start, end).between(start, end)

    def load_many(self, symbols, start=None, end=None) -> dict[str, Bars]:
        symbols = list(dict.fromkeys(symbols))
        if not symbols:
            raise UserError("no symbols given; pass --symbols A,B")
        return {s: self.load(s, start, end) for s in symbols}


SOURCES: dict[str, type[Source]] = {}


def register_source(cls: type[Source]) -> type[Source]:
    SOURCES[cls.name] = cls
    return cls


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def get_source(name: str, **options) -> Source:
    """An instance of the registered source ``name``."""
    try:
        cls = SOURCES[name]
    except KeyError:
        raise UserError(
            f"unknown data source {name!r}{did_you_mean(name, SOURCES)}; "
            f"choose one of: {', '.join(sorted(SOURCES))}"
        ) from None
    return cls(**options)


def with_notes(bars: Bars, *notes: str) -> Bars:
    return Bars(bars.frame, replace(bars.meta, notes=bars.meta.notes + tuple(notes)))
