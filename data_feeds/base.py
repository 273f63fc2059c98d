"""The data-source interface: validated daily bars plus metadata, and a registry of sources.

A source is a subclass of :class:`Source` that implements :meth:`Source.load_frame` and registers
itself with :func:`register_source`. Everything else (symbol checks, validation, date filtering,
metadata) is done here once, so every source returns the same shape of data.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar

import numpy as np
import pandas as pd

from rotationlab.errors import DataError, UserError

if TYPE_CHECKING:
    from .splice import Splice

COLUMNS = ("open", "high", "low", "close", "volume")

#: The adjustment kind of a price series, as recorded in its metadata. Details such as "split
#: adjusted only" are notes (``BarsMeta.notes``), not kinds.
ADJUSTMENTS = {
    "total_return": "total return: split and dividend adjusted (dividends included)",
    "price": "price: an index level, or prices without dividends (e.g. split adjusted only)",
    "unknown": "adjustment unknown",
}
#: Former kind names, still accepted by :meth:`Bars.build` and recorded as their new kind.
LEGACY_ADJUSTMENTS = {"split_only": "price", "price_index": "price"}

#: A series is close-only when open equals close on at least this share of its bars. Real OHLC
#: series have open == close on a few per cent of days at most (the ETFs in ../shared/data/market:
#: 0.4 % to 2.1 %); a close copied into the open gives 100 %. 0.99 tolerates a handful of real
#: opens in a close-only history (a seam, a correction) and is far above any real OHLC series.
#: A series that is close-only in part only (^GSPC before 1962: 35 % of all its bars) is not
#: close-only as a whole; judge a run's own window with :func:`close_only_share`.
CLOSE_ONLY_SHARE = 0.99
#: Relative tolerance for "open equals close" and for open/close inside [low, high]: adjusted
#: files are scaled in floating point (errors of about 1e-16 relative in the shared data).
PRICE_RTOL = 1e-9

_SYMBOL_RE = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9^._=\-]{0,31}$")


def check_symbol(symbol: str) -> str:
    """Return ``symbol`` if it is a plain ticker, else raise: it must never act as a path."""
    if not isinstance(symbol, str) or not _SYMBOL_RE.fullmatch(symbol) or ".." in symbol:
        raise UserError(
            f"symbol {symbol!r} is not a ticker: use letters, digits and ^ . - _ = only "
            "(e.g. SPY, ^DJI, BRK-B); paths such as '../x' or '/abs' are refused"
        )
    return symbol


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def check_date(value, flag: str) -> None:
    """Raise unless ``value`` (a --start/--end argument) is None, a date object or a real
    ``YYYY-MM-DD`` date (``2020-13-45``, ``2001-02-30``, ``01/02/2003`` and ``today`` are not)."""
    if value is None or isinstance(value, (_dt.date, pd.Timestamp)) and value is not pd.NaT:
        return
    ok = isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()) is not None
    if ok:
        try:
            _dt.date.fromisoformat(value.strip())
        except ValueError:
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


def close_only_share(frame, closes=None) -> float:
    """The share of bars whose open equals the close (to :data:`PRICE_RTOL`); NaN for no bars.
    ``frame``: a bars frame, or an array of opens with ``closes`` (bars without a close ignored).

    At or above :data:`CLOSE_ONLY_SHARE` the bars carry no open distinct from the close: an order
    "at the next open" then fills at a close."""
    if closes is None:
        o, c = frame["open"].to_numpy(dtype="float64"), frame["close"].to_numpy(dtype="float64")
    else:
        o, c = np.asarray(frame, dtype="float64"), np.asarray(closes, dtype="float64")
        ok = ~np.isnan(c)
        o, c = o[ok], c[ok]
    if len(c) == 0:
        return float("nan")
    return float(np.mean(np.abs(o - c) <= PRICE_RTOL * np.abs(c)))


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
    #: share of these bars with open == close (see :func:`close_only_share`)
    close_only_share: float | None = None
    #: how the series was spliced from a proxy and a target (:class:`data_feeds.splice.Splice`),
    #: None for a series from one source
    splice: Splice | None = None

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
              close_only: bool, origin: str = "", notes: tuple[str, ...] = (), splice=None) -> "Bars":
        """Bars of ``frame`` (columns open..volume, sorted dates). ``adjustment`` is one of
        :data:`ADJUSTMENTS` (or a former name of :data:`LEGACY_ADJUSTMENTS`); ``close_only`` is the
        source's judgement of the whole series; ``meta.close_only_share`` is computed here;
        ``splice``: a :class:`data_feeds.splice.Splice` for a spliced series."""
        adjustment = LEGACY_ADJUSTMENTS.get(adjustment, adjustment)
        if adjustment not in ADJUSTMENTS:
            raise ValueError(f"adjustment must be one of {sorted(ADJUSTMENTS)}")
        frame = frame.loc[:, list(COLUMNS)].astype("float64")
        frame.index.name = "date"
        meta = BarsMeta(
            source=source, symbol=symbol, adjustment=adjustment, close_only=bool(close_only),
            first_date=frame.index[0].strftime("%Y-%m-%d"),
            last_date=frame.index[-1].strftime("%Y-%m-%d"),
            rows=len(frame), sha256=frame_hash(frame), origin=origin, notes=tuple(notes),
            close_only_share=close_only_share(frame), splice=splice,
        )
        return cls(frame, meta)

    def between(self, start=None, end=None) -> "Bars":
        """The bars from ``start`` to ``end`` inclusive; metadata recomputed."""
        if start is None and end is None:
            return self

        def stamp(value):  # slicing with a datetime.date (a TOML date) is deprecated in pandas
            return None if value is None else pd.Timestamp(value.strip() if isinstance(value, str) else value)
        frame = self.frame.loc[stamp(start):stamp(end)]
        if frame.empty:
            raise DataError(
                f"{self.symbol}: no bars between {start or 'the start'} and {end or 'the end'} "
                f"(data covers {self.meta.first_date} to {self.meta.last_date}); widen --start/--end"
            )
        m = self.meta
        return Bars.build(frame, source=m.source, symbol=m.symbol, adjustment=m.adjustment,
                          close_only=m.close_only, origin=m.origin, notes=m.notes, splice=m.splice)


class Source(ABC):
    """A place daily bars come from. Subclasses set ``name``/``description`` and ``load_symbol``.

    Options every source takes (sources ignore what does not apply to them):

    * ``data_dir``, ``cache_dir``, ``offline``: where files are (csv) or cached (yahoo);
    * ``adjustments``: ``{symbol: kind}`` declared by the user (``--adjustment SYM=KIND``), kinds
      from :data:`ADJUSTMENTS`; wins over a folder's ``adjustments.toml`` and the defaults;
    * ``date_format``: a strftime format for the date column of text files (``--date-format``),
      needed when day and month cannot be told apart (``03/01/2024``);
    * ``today``: a callable returning today's date (injectable for tests): later dates are refused.
    """

    name: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, *, data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                 offline: bool = False, adjustments: dict[str, str] | None = None,
                 date_format: str | None = None, today: Callable[[], _dt.date] | None = None):
        from .adjust import check_adjustments
        from .validate import check_date_format
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.offline = offline
        self.adjustments = check_adjustments(adjustments)
        self.date_format = check_date_format(date_format)
        self._today = today or _dt.date.today

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


def get_source(name: str, *, sources=None, splice=None, **options) -> Source:
    """An instance of the registered source ``name``.

    ``sources`` (``{symbol: "sample" | "csv:DIR" | "yahoo[:MODE]"}`` or the text
    ``"^DJI=sample,IWM=csv:DIR"``) and ``splice`` (``{target: proxy}`` or ``"IWM=^RUT"``) give
    single symbols their own source and a proxy history: then the result is a
    :class:`data_feeds.mixed.MixedSource` whose default source is ``name`` (see that module)."""
    if sources or splice or name == "mixed":
        from .mixed import MixedSource
        if name == "mixed":
            return MixedSource(sources=sources, splice=splice, **options)
        return MixedSource(default=name, sources=sources, splice=splice, **options)
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
