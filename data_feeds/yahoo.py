"""``yahoo`` source: daily bars from Yahoo Finance via yfinance, kept in an on-disk cache.

Which yfinance call, and why (checked against the installed yfinance 1.7.0):

* ``yf.download`` is unusable for telling failures apart. ``multi._download_one`` catches *every*
  exception (network error, ``YFRateLimitError``, unknown ticker) into a per-call ``ctx.errors``
  dict that is only logged (``shared._ERRORS`` is no longer filled) and returns ``utils.empty_df()``,
  so an outage, a rate limit and a typo all come back as the same empty frame with MultiIndex
  columns ``(Price, Ticker)``.
* ``Ticker.history(raise_errors=True)`` (deprecated) is not enough either: the timezone lookup
  that runs first (``TickerBase._get_ticker_tz``) only honours ``yf.config.debug.hide_exceptions``;
  with it left at ``True`` a network failure there becomes ``YFTzMissingError`` ("possibly
  delisted"), i.e. looks like an unknown symbol (seen here from the third ticker of a process).
* So :func:`_download` calls ``yf.Ticker(symbol).history(...)`` with
  ``yf.config.debug.hide_exceptions = False`` for the duration of the call (restored afterwards).
  Then network problems raise the HTTP backend's exception (curl_cffi/requests, both ``OSError``
  subclasses), rate limits raise ``YFRateLimitError``, an unknown symbol raises a
  ``YFTickerMissingError`` subclass (or, in the ``.info`` fallback of the tz lookup, an
  ``HTTPError`` with status 404), and a success returns columns ``Open, High, Low, Close,
  [Adj Close,] Volume`` on a tz-aware (exchange time zone) ``DatetimeIndex`` named ``Date``.

Cache: one entry per (symbol, adjustment mode) in ``cache_dir`` (default
``$XDG_CACHE_HOME/rotationlab/yahoo`` or ``~/.cache/rotationlab/yahoo``): ``SYMBOL.MODE.csv`` (the
validated bars) and ``SYMBOL.MODE.json`` (fetched_at, covered_through, first/last date, rows,
yfinance version, auto_adjust, sha256 of the csv). Both are written atomically, data first; a csv
that does not match its recorded hash is corrupt and never used (re-downloaded online, an error
offline).

Updates: the first download is the whole history up to ``end``. Later runs download from
OVERLAP_DAYS before the cached last date; if the overlapping closes moved (Yahoo re-adjusted the
history for a new dividend or split) the whole history is downloaded again instead of splicing.
No request at all when the cache is fresh (see :meth:`YahooSource._is_fresh`).

Failures: transient errors and rate limits are retried with doubling delays, at most
MAX_ATTEMPTS times within RETRY_BUDGET seconds (each call is also cut off at the budget); an
unknown symbol fails at once. A failed download never touches the cache, and there is no silent
fallback to it: the error names the cached range and says to use ``--offline``, so a backtest
never runs on a shorter range than requested unless the user chooses so.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
import warnings
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from rotationlab.atomic import atomic_write_bytes, atomic_write_text
from rotationlab.errors import DataError, UserError

from .adjust import resolve
from .base import CLOSE_ONLY_SHARE, Bars, Source, check_symbol, close_only_share, register_source, safe_child
from .validate import DataWarning, _canon, duplicate_fields, duplicate_message, normalize

#: Download modes and the ``auto_adjust`` value passed to yfinance for each.
AUTO_ADJUST = {"total_return": True, "split_only": False}
#: The adjustment kind of each mode's bars (a symbol starting with ^ is an index level: price).
MODE_KIND = {"total_return": ("total_return", "yfinance auto_adjust=True: split and dividend adjusted"),
             "split_only": ("price", "yfinance auto_adjust=False: Close split adjusted only, "
                                     "dividends not included")}
DEFAULT_ADJUSTMENT = "total_return"
#: An update re-downloads from this many calendar days before the cached last date.
OVERLAP_DAYS = 7
#: Relative difference of overlapping closes above which the cached history is re-downloaded.
SEAM_RTOL = 1e-5
#: An open-ended request (no ``end``) does not download again within this time of the last fetch.
FRESH_FOR = timedelta(hours=12)
#: Retries: at most MAX_ATTEMPTS calls within RETRY_BUDGET seconds; delays double each time.
MAX_ATTEMPTS = 4
RETRY_BUDGET = 30.0
BASE_DELAY = {"transient": 1.0, "rate_limit": 5.0}
HTTP_TIMEOUT = 10.0


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/rotationlab/yahoo``, else ``~/.cache/rotationlab/yahoo``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "rotationlab" / "yahoo"


# --- the yfinance call ---------------------------------------------------------------------------

_raise_lock = threading.Lock()
_raise_depth = 0
_saved_hide = True


@contextmanager
def _yfinance_raises(yf):
    """Make yfinance raise its errors instead of logging them (re-entrant, thread-safe)."""
    global _raise_depth, _saved_hide
    with _raise_lock:
        if _raise_depth == 0:
            _saved_hide = yf.config.debug.hide_exceptions
            yf.config.debug.hide_exceptions = False
        _raise_depth += 1
    try:
        yield
    finally:
        with _raise_lock:
            _raise_depth -= 1
            if _raise_depth == 0:
                yf.config.debug.hide_exceptions = _saved_hide


def _download(symbol: str, start: str | None, end: str | None, auto_adjust: bool,
              timeout: float = HTTP_TIMEOUT) -> pd.DataFrame:
    """Daily bars of ``symbol`` from ``start`` (None: all history) to ``end`` (exclusive; None:
    now), straight from yfinance, errors raised. The only function that talks to yfinance."""
    try:
        import yfinance as yf
    except ModuleNotFoundError:
        raise UserError("the yahoo source needs yfinance: pip install yfinance") from None
    with _yfinance_raises(yf):
        return yf.Ticker(symbol).history(
            period="max" if start is None else None, start=start, end=end, interval="1d",
            auto_adjust=auto_adjust, actions=False, repair=False, keepna=False, timeout=timeout)


def _with_deadline(fn, seconds: float):
    """``fn()``, or TimeoutError if it has not returned after ``seconds`` (it is then abandoned
    in a daemon thread: yfinance's own timeouts can add up to more than a minute)."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc
    worker = threading.Thread(target=run, name="yahoo-download", daemon=True)
    worker.start()
    worker.join(max(seconds, 0.0))
    if worker.is_alive():
        raise TimeoutError(f"no answer from Yahoo within {seconds:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _classify(exc: BaseException) -> str:
    """``unknown`` (no such symbol), ``rate_limit``, ``transient`` (retry) or ``fatal``."""
    from yfinance.exceptions import YFDataException, YFRateLimitError, YFTickerMissingError
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, YFTickerMissingError) or status == 404:
        return "unknown"
    if isinstance(exc, YFRateLimitError) or status == 429:
        return "rate_limit"
    if status is not None and 400 <= status < 500:
        return "fatal"
    if isinstance(exc, (OSError, TimeoutError, YFDataException, json.JSONDecodeError)):
        return "transient"
    return "fatal"


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()).split(" See https://curl.se")[0]  # drop curl's boilerplate
    return f"{type(exc).__name__}: {text[:160] + '...' if len(text) > 160 else text}"


_FIELDS = {"open", "high", "low", "close", "adj close", "volume"}


def _one_ticker(raw: pd.DataFrame, symbol: str, hint: str) -> pd.DataFrame:
    """The columns of ``symbol`` from a ``yf.download``-shaped frame (columns MultiIndex
    ``(Price, Ticker)``, or ``(Ticker, Price)`` with ``group_by="ticker"``). The ticker level is
    found by name, or by content when the levels have no names; DataError if ``symbol`` is absent."""
    cols = raw.columns
    if cols.nlevels != 2:
        raise DataError(f"{symbol}: Yahoo returned a table with {cols.nlevels} column levels "
                        f"({', '.join(map(str, cols.names))}), not (Price, Ticker); try upgrading "
                        f"yfinance (pip install -U yfinance){hint}")
    names = list(cols.names)
    fields = [any(_canon(v) in _FIELDS for v in cols.get_level_values(i)) for i in (0, 1)]
    if "Ticker" in names:
        level = names.index("Ticker")
    elif "Price" in names:
        level = 1 - names.index("Price")
    elif fields in ([True, False], [False, True]):
        level = fields.index(False)
    else:
        raise DataError(f"{symbol}: Yahoo returned a table whose column levels cannot be told apart "
                        f"(no level named Ticker or Price; columns {', '.join(map(str, cols[:6]))}); "
                        f"try upgrading yfinance (pip install -U yfinance){hint}")
    tickers = list(dict.fromkeys(str(t) for t in cols.get_level_values(level)))
    match = [t for t in tickers if t.upper() == symbol.upper()]
    if not match:
        raise DataError(f"{symbol}: Yahoo returned bars of {', '.join(tickers) or 'no ticker'}, not of "
                        f"the requested {symbol}; try upgrading yfinance (pip install -U yfinance){hint}")
    out = raw.xs(match[0], axis=1, level=level)
    out.columns.name = None
    return out


def _as_date(value) -> date | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return (ts.tz_localize(None) if ts.tzinfo else ts).date()


# --- the source ----------------------------------------------------------------------------------

@register_source
class YahooSource(Source):
    """Yahoo daily bars, cached per (symbol, adjustment); see the module docstring.

    ``adjustment`` (the download mode): ``total_return`` (yfinance ``auto_adjust=True``: OHLC
    scaled for splits and dividends; kind total_return) or ``split_only`` (``auto_adjust=False``:
    Yahoo's split-adjusted Close, Adj Close ignored; kind price). Symbols starting with ^ are index
    levels, kind price. The ``adjustments`` option overrides the kind; ``date_format`` does not
    apply. A downloaded bar whose open or close lies outside its high/low is repaired (high/low
    widened, with a warning): the user cannot edit Yahoo's data. ``max_attempts``, ``retry_budget`` (seconds), ``sleep``, ``clock`` and ``now`` (a
    UTC datetime) are injectable for tests.
    """

    name = "yahoo"
    description = "Yahoo Finance via yfinance, cached on disk (--offline uses the cache only)"

    def __init__(self, *, adjustment: str = DEFAULT_ADJUSTMENT, max_attempts: int = MAX_ATTEMPTS,
                 retry_budget: float = RETRY_BUDGET, sleep=time.sleep, clock=time.monotonic,
                 now=None, **options):
        super().__init__(**options)
        if adjustment not in AUTO_ADJUST:
            raise UserError(f"unknown Yahoo adjustment {adjustment!r}; choose one of: "
                            f"{', '.join(AUTO_ADJUST)}")
        self.adjustment = adjustment
        self.max_attempts, self.retry_budget = max(1, int(max_attempts)), float(retry_budget)
        self._sleep, self._clock = sleep, clock
        self._now = now or (lambda: datetime.now(timezone.utc))
        if options.get("today") is None:  # the injected clock bounds the dates too
            self._today = lambda: self._now().date()

    # -- cache files --

    def _paths(self, symbol: str) -> tuple[Path, Path]:
        folder = self.cache_dir if self.cache_dir is not None else default_cache_dir()
        stem = f"{symbol.upper()}.{self.adjustment}"
        return safe_child(folder, stem + ".csv", symbol), safe_child(folder, stem + ".json", symbol)

    def _read_cache(self, symbol, data_path: Path, meta_path: Path):
        """``(frame, meta)``; ``None`` if there is no entry; ``"corrupt"`` if it cannot be trusted."""
        if not data_path.exists() and not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            data = data_path.read_bytes()
            if hashlib.sha256(data).hexdigest() != meta["sha256"]:
                return "corrupt"
            for key in ("fetched_at", "covered_through", "last_date"):
                datetime.fromisoformat(meta[key])
            raw = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
            for col in raw.columns.drop("date"):
                raw[col] = raw[col].astype("float64")  # correctly rounded: repr round-trips exactly
            with warnings.catch_warnings():
                warnings.simplefilter("error", DataWarning)  # a written cache needs no repairs
                frame, _ = normalize(raw, symbol, str(data_path))
        except (OSError, ValueError, KeyError, TypeError, UserError, DataWarning):
            return "corrupt"
        return frame, meta

    def _write_cache(self, frame: pd.DataFrame, data_path: Path, meta_path: Path,
                     covered_through: date) -> dict:
        import yfinance
        data = frame.to_csv(index_label="date", lineterminator="\n").encode("utf-8")
        meta = {
            "source": self.name, "adjustment": self.adjustment,
            "auto_adjust": AUTO_ADJUST[self.adjustment], "yfinance_version": yfinance.__version__,
            "fetched_at": self._now().astimezone(timezone.utc).isoformat(timespec="seconds"),
            "covered_through": covered_through.isoformat(),
            "first_date": f"{frame.index[0]:%Y-%m-%d}", "last_date": f"{frame.index[-1]:%Y-%m-%d}",
            "rows": len(frame), "data_file": data_path.name,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        atomic_write_bytes(data_path, data)  # data first: a crash in between reads as corrupt
        atomic_write_text(meta_path, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return meta

    # -- freshness --

    def _is_fresh(self, meta: dict, want: date | None) -> bool:
        """Whether the cache already holds everything Yahoo can give up to ``want``.

        ``covered_through`` is the last day Yahoo had already been asked about after it ended, so
        weekends and holidays before a past ``end`` cost one request at most. An open end (none,
        or today or later) is fresh for FRESH_FOR after a fetch that itself ran to that day.
        """
        now = self._now()
        covered = date.fromisoformat(meta["covered_through"])
        fetched = datetime.fromisoformat(meta["fetched_at"])
        if want is None or want >= now.date():
            return now - fetched < FRESH_FOR and covered >= fetched.date() - timedelta(days=1)
        return want < date.fromisoformat(meta["last_date"]) or want <= covered

    def _covered_through(self, want: date | None) -> date:
        yesterday = self._now().date() - timedelta(days=1)  # today's bar may still be moving
        return yesterday if want is None else min(want, yesterday)

    # -- downloading --

    def _fetch(self, symbol: str, start: date | None, want: date | None, hint: str) -> pd.DataFrame:
        """Validated bars from ``start`` to ``want`` (inclusive); UserError if Yahoo has none."""
        end = None if want is None else (want + timedelta(days=1)).isoformat()  # yfinance: exclusive
        first = None if start is None else start.isoformat()
        raw = self._call_with_retries(symbol, first, end, hint)
        return self._validate(raw, symbol, first, end, hint)

    def _call_with_retries(self, symbol: str, first, end, hint: str):
        """:func:`_download`, retried with doubling delays on transient errors and rate limits
        within ``max_attempts`` and ``retry_budget``; an unknown symbol fails at once."""
        auto_adjust = AUTO_ADJUST[self.adjustment]
        began = self._clock()
        deadline = began + self.retry_budget
        for attempt in range(1, self.max_attempts + 1):
            remaining = max(deadline - self._clock(), 0.0)
            try:
                return _with_deadline(lambda: _download(symbol.upper(), first, end, auto_adjust,
                                                        timeout=min(HTTP_TIMEOUT, remaining)),
                                      remaining)
            except UserError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below
                kind = _classify(exc)
                if kind == "unknown":
                    raise UserError(f"unknown symbol {symbol!r} on Yahoo ({_describe(exc)}); check the "
                                    f"ticker on finance.yahoo.com (e.g. ^GSPC, BRK-B){hint}") from None
                if kind == "fatal":
                    raise UserError(f"{symbol}: the Yahoo download failed ({_describe(exc)}); try "
                                    f"upgrading yfinance (pip install -U yfinance){hint}") from None
                delay = BASE_DELAY[kind] * 2 ** (attempt - 1)
                if attempt == self.max_attempts or self._clock() + delay >= deadline:
                    raise UserError(
                        f"{symbol}: could not download from Yahoo after {attempt} attempt(s) in "
                        f"{self._clock() - began:.0f} s (last error: {_describe(exc)}); check the "
                        f"network or wait a few minutes (Yahoo rate-limits){hint}") from None
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _validate(self, raw, symbol, first, end, hint) -> pd.DataFrame:
        if not isinstance(raw, pd.DataFrame):
            raise DataError(f"{symbol}: Yahoo returned {type(raw).__name__}, not a table; try "
                            f"upgrading yfinance (pip install -U yfinance){hint}")
        download = isinstance(raw.columns, pd.MultiIndex)
        if download:  # yf.download layout: pick this ticker (all NaN where its download failed)
            raw = _one_ticker(raw, symbol, hint)
        where = f"the Yahoo download ({first or 'start'} to {end or 'now'})"
        dup = duplicate_fields(raw.columns)
        if dup is not None:
            raise DataError(duplicate_message(symbol, where, dup) + hint)
        close = next((c for c in raw.columns if _canon(c) == "close"), None)
        if close is None or raw.empty or raw[close].isna().all():
            if not raw.empty and len(raw.columns) and (close is None or not download):
                raise DataError(f"{symbol}: Yahoo returned a table without usable closes (columns: "
                                f"{', '.join(map(str, raw.columns))}){hint}")
            raise UserError(f"unknown symbol {symbol!r} on Yahoo (no daily bars from "
                            f"{first or 'the start'} to {end or 'now'}); check the ticker on "
                            f"finance.yahoo.com (e.g. ^GSPC, BRK-B){hint}")
        if self.adjustment == "split_only":
            raw = raw.drop(columns=["Adj Close"], errors="ignore")
        try:
            frame, _ = normalize(raw, symbol, where, repair_ohlc=True, today=self._today())
        except DataError as exc:
            raise DataError(f"{exc}{hint}") from None
        return frame

    # -- entry point --

    def load_symbol(self, symbol: str, start=None, end=None) -> Bars:
        """All cached bars of ``symbol``, downloading what is missing up to ``end`` (inclusive).

        ``start`` needs no download: the cache always starts at the beginning of the history.
        """
        symbol = check_symbol(symbol)
        data_path, meta_path = self._paths(symbol)
        want = _as_date(end)
        cached = self._read_cache(symbol, data_path, meta_path)
        notes = []
        if self.offline:
            if cached is None:
                raise UserError(f"{symbol}: no cached Yahoo data ({self.adjustment}) in "
                                f"{data_path.parent}; run once without --offline to download it")
            if cached == "corrupt":
                raise UserError(f"{symbol}: the cache entry {data_path} is corrupt (metadata missing or "
                                "data not matching its sha256); run without --offline to download it again")
            frame, meta = cached
            if want is not None and want > date.fromisoformat(meta["covered_through"]) \
                    and date.fromisoformat(meta["last_date"]) < want - timedelta(days=4):
                warnings.warn(f"{symbol}: offline: the cache ends {meta['last_date']}, before the "
                              f"requested end {want}; run without --offline to update it",
                              DataWarning, stacklevel=2)
            notes.append("offline: cached data only")
        elif cached is None or cached == "corrupt":
            hint = ""
            if cached == "corrupt":
                warnings.warn(f"{symbol}: the cache entry {data_path} is corrupt; downloading the "
                              "full history again", DataWarning, stacklevel=2)
                hint = "; the cache entry is corrupt, so --offline cannot help"
            frame = self._fetch(symbol, None, want, hint)
            meta = self._write_cache(frame, data_path, meta_path, self._covered_through(want))
        else:
            frame, meta = cached
            if not self._is_fresh(meta, want):
                frame, meta, note = self._update(symbol, frame, meta, want, data_path, meta_path)
                notes += [note] if note else []
        notes[:0] = [f"yfinance {meta['yfinance_version']} auto_adjust={meta['auto_adjust']}, "
                     f"fetched {meta['fetched_at']}"]
        inferred, why = MODE_KIND[self.adjustment]
        if symbol.startswith("^"):
            inferred, why = "price", f"an index level (the symbol starts with ^); {why}"
        adjustment, note = resolve(symbol, inferred, why, self.adjustments)
        notes.append(note)
        share = close_only_share(frame)
        if share >= CLOSE_ONLY_SHARE:
            notes.append(f"open equals close on {share:.1%} of bars: close-only")
        return Bars.build(frame, source=self.name, symbol=symbol, adjustment=adjustment,
                          close_only=share >= CLOSE_ONLY_SHARE, origin=str(data_path), notes=tuple(notes))

    def _update(self, symbol, old, meta, want, data_path, meta_path):
        """Download from shortly before the cached end; splice, or refetch all if history moved."""
        last = date.fromisoformat(meta["last_date"])
        hint = (f"; the cache covers {meta['first_date']} to {meta['last_date']}: "
                "use --offline to use the cache")
        new = self._fetch(symbol, last - timedelta(days=OVERLAP_DAYS), want, hint)
        # The cached last bar may have been a live, unfinished one: compare the days before it.
        common = old.index[old.index < pd.Timestamp(last)].intersection(new.index)
        note = None
        if len(common) == 0 or not np.allclose(new.loc[common, "close"], old.loc[common, "close"],
                                               rtol=SEAM_RTOL, atol=0.0):
            note = ("Yahoo's history changed since it was cached (e.g. re-adjusted for a new "
                    "dividend or split); downloaded the full history again")
            frame = self._fetch(symbol, None, want, hint)
        else:
            frame = pd.concat([old[old.index < new.index[0]], new])
        covered = max(self._covered_through(want), date.fromisoformat(meta["covered_through"]))
        return frame, self._write_cache(frame, data_path, meta_path, covered), note
