"""Tests of the ``yahoo`` source. No network: yfinance's ``Ticker`` (or its HTTP layer) is faked.

The fakes return frames shaped exactly like yfinance 1.7.0 returns them; the first tests pin those
shapes (and yf.download's error swallowing) against the installed yfinance itself.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import curl_cffi.requests.exceptions as curl_exc
import numpy as np
import pandas as pd
import pytest
import requests
import yfinance as yf
import yfinance.base
import yfinance.cache
import yfinance.multi
from yfinance.data import YfData
from yfinance.exceptions import YFPricesMissingError, YFRateLimitError, YFTzMissingError

from data_feeds import yahoo
from data_feeds.base import get_source
from data_feeds.validate import DataWarning, normalize
from data_feeds.yahoo import YahooSource
from rotationlab.errors import DataError, UserError

NY = "America/New_York"
#: yfinance 1.7.0 itself triggers pandas 3 deprecation warnings (``inplace=``); the suite turns
#: warnings into errors, so tests that run real yfinance code ignore those (and only those).
yfinance_code = pytest.mark.filterwarnings("ignore::DeprecationWarning:yfinance.*")
NOW = datetime(2024, 4, 1, 12, 0, tzinfo=timezone.utc)  # a Monday; market data ends Thu 2024-03-28


# --- frames shaped like yfinance's ---------------------------------------------------------------

def history_frame(dates, close, *, auto_adjust=True, adj_close=None, tz=NY) -> pd.DataFrame:
    """What ``yf.Ticker(s).history(..., actions=False)`` returns in yfinance 1.7.0: columns
    Open, High, Low, Close, [Adj Close if not auto_adjust,] Volume (float64, Volume int64) on a
    ``datetime64[s, <exchange tz>]`` index of local midnights named ``Date``."""
    close = np.asarray(close, dtype="float64")
    data = {"Open": close * 0.99, "High": close * 1.01, "Low": close * 0.98, "Close": close}
    if not auto_adjust:
        data["Adj Close"] = close.copy() if adj_close is None else np.asarray(adj_close, "float64")
    data["Volume"] = np.arange(1, len(close) + 1, dtype=np.int64) * 1000
    index = pd.DatetimeIndex(pd.to_datetime(list(dates))).as_unit("s").tz_localize(tz)
    index.name = "Date"
    return pd.DataFrame(data, index=index)


def download_frame(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """What ``yf.download(tickers, ...)`` makes of per-ticker history frames (multi.py): tz dropped,
    outer-joined dates, columns MultiIndex ``(Price, Ticker)`` sorted by Price then Ticker."""
    dfs = {t.upper(): f.copy() for t, f in frames.items()}
    for f in dfs.values():
        f.index = f.index.tz_localize(None)
    index = None
    for f in dfs.values():
        index = f.index if index is None else index.union(f.index)
    dfs = {t: f.reindex(index) for t, f in dfs.items()}
    data = pd.concat(dfs.values(), axis=1, sort=True, keys=dfs.keys(), names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    return data.sort_index(level=0, axis=1)


def market(start="2024-01-02", end="2024-03-28", base=100.0, auto_adjust=True) -> pd.DataFrame:
    days = pd.bdate_range(start, end)
    close = base * np.cumprod(1 + 0.01 * np.sin(np.arange(len(days))))
    return history_frame(days.strftime("%Y-%m-%d"), close, auto_adjust=auto_adjust)


# --- fakes ---------------------------------------------------------------------------------------

class Clock:
    """Injected time: ``now`` (UTC) for freshness, ``t`` (monotonic) advanced by ``sleep``."""

    def __init__(self):
        self.now, self.t, self.sleeps = NOW, 0.0, []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.t += seconds


class FakeYahoo:
    """Stands in for ``yfinance.Ticker``. ``markets[symbol]`` is the full history, sliced by the
    request like Yahoo does (start inclusive, end exclusive, in exchange time); ``errors`` are
    raised first, one per call; ``frames`` (if set) are returned as they are, one per call."""

    def __init__(self, monkeypatch):
        self.markets, self.errors, self.frames, self.calls = {}, [], [], []
        fake = self

        class Ticker:
            def __init__(self, symbol):
                self.symbol = symbol

            def history(self, **kwargs):
                return fake.history(self.symbol, **kwargs)
        monkeypatch.setattr(yf, "Ticker", Ticker)

    def history(self, symbol, **kw):
        self.calls.append({"symbol": symbol, "hide_exceptions": yf.config.debug.hide_exceptions, **kw})
        if self.errors:
            raise self.errors.pop(0)
        if self.frames:
            return self.frames.pop(0)
        if symbol not in self.markets:
            return yf.utils.empty_df()
        full = self.markets[symbol]
        tz = full.index.tz
        out = full
        if kw.get("start") is not None:
            out = out[out.index >= pd.Timestamp(kw["start"]).tz_localize(tz)]
        if kw.get("end") is not None:
            out = out[out.index < pd.Timestamp(kw["end"]).tz_localize(tz)]
        return out.copy()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def fake(monkeypatch):
    f = FakeYahoo(monkeypatch)
    f.markets["SPY"] = market()
    return f


@pytest.fixture
def make(tmp_path, clock):
    def make(**kw):
        kw.setdefault("cache_dir", tmp_path / "cache")
        return YahooSource(sleep=clock.sleep, clock=lambda: clock.t, now=lambda: clock.now, **kw)
    return make


def expected(frame, symbol="SPY"):
    return normalize(frame, symbol, "expected")[0]


def cache_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def assert_same_bars(frame, want):
    pd.testing.assert_frame_equal(frame, want, check_freq=False, check_index_type=False,
                                  check_names=False, check_exact=True)


# --- the installed yfinance itself (HTTP layer faked) ------------------------------------------

class FakeResponse:
    def __init__(self, payload, status=200):
        self.payload, self.status_code = payload, status
        self.url, self.text = "https://query2.finance.yahoo.com/v8/finance/chart/X", json.dumps(payload)

    def json(self):
        return self.payload

    def raise_for_status(self):
        if self.status_code >= 400:
            raise curl_exc.HTTPError(f"HTTP Error {self.status_code}", response=self)


@pytest.fixture
def fake_http(monkeypatch):
    """Route yfinance's requests to ``handler(url, params)``; no tz cache on disk."""
    monkeypatch.setattr(yfinance.cache._TzCacheManager, "_tz_cache", yfinance.cache._TzCacheDummy())
    box = {"handler": None, "urls": []}

    def get(self, url, params=None, timeout=30):
        box["urls"].append(url)
        return box["handler"](url, params)
    monkeypatch.setattr(YfData, "get", get)
    monkeypatch.setattr(YfData, "cache_get", get)
    return box


def chart_payload(frame: pd.DataFrame, adjclose) -> dict:
    stamps = [int((d + pd.Timedelta(hours=9, minutes=30)).timestamp()) for d in frame.index]
    quote = {k.lower(): frame[k].tolist() for k in ("Open", "High", "Low", "Close", "Volume")}
    return {"chart": {"error": None, "result": [{
        "meta": {"currency": "USD", "symbol": "SPY", "exchangeTimezoneName": NY,
                 "instrumentType": "ETF", "validRanges": ["1d", "5d", "1mo", "max"],
                 "priceHint": 2, "dataGranularity": "1d"},
        "timestamp": stamps,
        "indicators": {"quote": [quote], "adjclose": [{"adjclose": list(adjclose)}]}}]}}


@yfinance_code
@pytest.mark.parametrize("auto_adjust", [True, False])
def test_history_helper_matches_installed_yfinance(fake_http, auto_adjust):
    want = history_frame(["2024-01-02", "2024-01-03", "2024-01-04"], [470.5, 471.25, 469.0],
                         auto_adjust=auto_adjust)
    raw = want.drop(columns=["Adj Close"], errors="ignore")
    fake_http["handler"] = lambda url, params: FakeResponse(chart_payload(raw, raw["Close"]))
    got = yf.Ticker("SPY").history(start="2024-01-01", end="2024-01-05", auto_adjust=auto_adjust,
                                   actions=False)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert str(got.index.dtype) == f"datetime64[s, {NY}]" and got.index.name == "Date"


@yfinance_code
def test_download_helper_matches_installed_yf_download(monkeypatch):
    frames = {"SPY": market(end="2024-01-12"), "QQQ": market(end="2024-01-10", base=400.0)}

    class Ticker:
        def __init__(self, symbol):
            self.symbol, self._price_history = symbol, None

        def history(self, **kwargs):
            return frames[self.symbol].copy()
    monkeypatch.setattr(yfinance.multi, "Ticker", Ticker)
    one = yf.download("SPY", start="2024-01-01", auto_adjust=True, progress=False, threads=False)
    pd.testing.assert_frame_equal(one, download_frame({"SPY": frames["SPY"]}), check_exact=True)
    assert one.columns.names == ["Price", "Ticker"] and one.index.name == "Date"
    assert list(one.columns) == [(c, "SPY") for c in ("Close", "High", "Low", "Open", "Volume")]
    assert one.index.tz is None
    both = yf.download(["SPY", "QQQ"], start="2024-01-01", auto_adjust=True, progress=False,
                       threads=False)
    pd.testing.assert_frame_equal(both, download_frame(frames), check_exact=True)
    assert list(both.columns[:2]) == [("Close", "QQQ"), ("Close", "SPY")]


@yfinance_code
def test_yf_download_swallows_errors_which_is_why_it_is_not_used(monkeypatch):
    class Ticker:
        def __init__(self, symbol):
            self._price_history = None

        def history(self, **kwargs):
            raise curl_exc.ConnectionError("Could not resolve host: query2.finance.yahoo.com")
    monkeypatch.setattr(yfinance.multi, "Ticker", Ticker)
    got = yf.download("SPY", start="2024-01-01", auto_adjust=True, progress=False, threads=False)
    assert got.empty and ("Close", "SPY") in got.columns  # same as an unknown symbol: no way to tell


def test_real_yfinance_network_error_is_retried_not_called_unknown(fake_http, make, clock):
    def handler(url, params):
        raise curl_exc.DNSError("Failed to perform, curl: (6) Could not resolve host: "
                                "query2.finance.yahoo.com. See https://curl.se/libcurl/c/libcurl-errors.html")
    fake_http["handler"] = handler
    with pytest.raises(UserError) as err:
        make().load_symbol("SPY")
    assert "could not download" in str(err.value) and "DNSError" in str(err.value)
    assert "unknown symbol" not in str(err.value) and "curl.se" not in str(err.value)
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert yf.config.debug.hide_exceptions is True  # restored


@pytest.mark.parametrize("info_fallbacks_used", [0, 2])
def test_real_yfinance_unknown_symbol_fails_at_once(fake_http, make, clock, monkeypatch,
                                                    info_fallbacks_used):
    # 0: the tz lookup falls back to .info, whose 404 raises HTTPError; 2: YFTzMissingError.
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", info_fallbacks_used)
    missing = {"chart": {"result": None, "error": {
        "code": "Not Found", "description": "No data found, symbol may be delisted"}}}
    fake_http["handler"] = lambda url, params: FakeResponse(missing, status=404)
    with pytest.raises(UserError, match="unknown symbol 'NOSUCH' on Yahoo"):
        make().load_symbol("NOSUCH")
    assert clock.sleeps == []


# --- first download, cache layout ----------------------------------------------------------------

def test_first_download_writes_cache_with_metadata(fake, make, tmp_path):
    bars = make().load_symbol("SPY", end="2024-02-29")
    (call,) = fake.calls
    assert call["auto_adjust"] is True and call["period"] == "max" and call["start"] is None
    assert call["end"] == "2024-03-01"  # yfinance's end is exclusive
    assert call["interval"] == "1d" and call["actions"] is False and call["symbol"] == "SPY"
    assert call["hide_exceptions"] is False and yf.config.debug.hide_exceptions is True
    want = expected(fake.markets["SPY"].loc[:"2024-02-29"])
    assert_same_bars(bars.frame, want)
    data, meta_file = tmp_path / "cache" / "SPY.total_return.csv", tmp_path / "cache" / "SPY.total_return.json"
    assert sorted(cache_files(tmp_path / "cache")) == [data.name, meta_file.name]
    meta = json.loads(meta_file.read_text())
    assert meta["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert meta["auto_adjust"] is True and meta["yfinance_version"] == yf.__version__
    assert meta["fetched_at"] == "2024-04-01T12:00:00+00:00" and meta["covered_through"] == "2024-02-29"
    assert (meta["first_date"], meta["last_date"], meta["rows"]) == ("2024-01-02", "2024-02-29", len(want))
    m = bars.meta
    assert (m.source, m.adjustment, m.origin, m.close_only) == ("yahoo", "total_return", str(data), False)
    assert "auto_adjust=True" in m.notes[0]


def test_split_only_passes_auto_adjust_false_and_ignores_adj_close(fake, make, tmp_path):
    raw = market(auto_adjust=False)
    raw["Adj Close"] = raw["Close"] * 0.9
    fake.markets["SPY"] = raw
    bars = make(adjustment="split_only").load_symbol("SPY")
    assert fake.calls[0]["auto_adjust"] is False
    assert_same_bars(bars.frame, expected(raw.drop(columns="Adj Close")))
    assert bars.meta.adjustment == "price"  # split adjusted only: the detail is a note
    assert any("auto_adjust=False: Close split adjusted only, dividends not included" in n for n in bars.meta.notes)
    assert (tmp_path / "cache" / "SPY.split_only.csv").is_file()
    assert json.loads((tmp_path / "cache" / "SPY.split_only.json").read_text())["auto_adjust"] is False


def test_modes_have_separate_cache_entries(fake, make):
    make().load_symbol("SPY")
    make(adjustment="split_only").load_symbol("SPY")
    assert [c["auto_adjust"] for c in fake.calls] == [True, False]


def test_index_symbol_is_a_price_index_with_caret_in_file_name(fake, make, tmp_path):
    fake.markets["^GSPC"] = market(base=4700.0)
    bars = make().load_symbol("^GSPC")
    assert bars.meta.adjustment == "price" and fake.calls[0]["auto_adjust"] is True
    assert any("an index level" in n for n in bars.meta.notes)
    assert (tmp_path / "cache" / "^GSPC.total_return.csv").is_file()


def test_bad_adjustment_refused():
    with pytest.raises(UserError, match="total_return, split_only"):
        YahooSource(adjustment="dividends")


def test_registered_and_built_by_get_source(tmp_path):
    src = get_source("yahoo", cache_dir=tmp_path, offline=True)
    assert isinstance(src, YahooSource) and src.offline and src.adjustment == "total_return"


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert yahoo.default_cache_dir() == tmp_path / "xdg" / "rotationlab" / "yahoo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert yahoo.default_cache_dir() == tmp_path / "home" / ".cache" / "rotationlab" / "yahoo"


def test_download_layout_is_accepted_too(fake, make):
    other = market(base=400.0)
    fake.frames.append(download_frame({"QQQ": other, "SPY": fake.markets["SPY"]}))
    bars = make().load_symbol("SPY")
    assert_same_bars(bars.frame, expected(fake.markets["SPY"]))


# --- failures of a first download ----------------------------------------------------------------

def test_unknown_symbol_empty_frame_fails_without_retry(fake, make, clock, tmp_path):
    with pytest.raises(UserError, match="unknown symbol 'NOPE' on Yahoo"):
        make().load_symbol("NOPE")
    assert len(fake.calls) == 1 and clock.sleeps == []
    assert cache_files(tmp_path / "cache") == {}


@pytest.mark.parametrize("exc", [
    YFTzMissingError("NOPE"),
    YFPricesMissingError("NOPE", "(1d 2024-01-01 -> 2024-02-01)"),
    curl_exc.HTTPError("HTTP Error 404", response=FakeResponse({}, status=404)),
], ids=["tz-missing", "prices-missing", "http-404"])
def test_missing_ticker_errors_fail_without_retry(fake, make, clock, exc):
    fake.errors.append(exc)
    with pytest.raises(UserError, match="unknown symbol 'NOPE' on Yahoo"):
        make().load_symbol("NOPE")
    assert len(fake.calls) == 1 and clock.sleeps == []


@pytest.mark.parametrize("exc,delays", [
    (curl_exc.ConnectionError("Failed to perform, curl: (7) Couldn't connect"), [1.0, 2.0]),
    (requests.exceptions.ConnectionError("Max retries exceeded"), [1.0, 2.0]),
    (TimeoutError("timed out"), [1.0, 2.0]),
    (curl_exc.HTTPError("HTTP Error 503", response=FakeResponse({}, status=503)), [1.0, 2.0]),
    (YFRateLimitError(), [5.0, 10.0]),
], ids=["curl", "requests", "timeout", "http-503", "rate-limit"])
def test_transient_errors_are_retried_then_succeed(fake, make, clock, exc, delays):
    fake.errors += [exc, exc]
    bars = make().load_symbol("SPY")
    assert len(fake.calls) == 3 and clock.sleeps == delays
    assert_same_bars(bars.frame, expected(fake.markets["SPY"]))


def test_exhausted_retries_give_a_user_error_quickly(fake, make, clock, tmp_path):
    fake.errors += [YFRateLimitError()] + [curl_exc.ConnectionError("Couldn't connect")] * 9
    began = time.monotonic()
    with pytest.raises(UserError) as err:
        make().load_symbol("SPY")
    assert time.monotonic() - began < 2.0
    msg = str(err.value)
    assert msg.startswith("SPY: could not download from Yahoo after 4 attempt(s)")
    assert "ConnectionError: Couldn't connect" in msg and "--offline" not in msg  # no cache yet
    assert clock.sleeps == [5.0, 2.0, 4.0] and len(fake.calls) == 4
    assert cache_files(tmp_path / "cache") == {}


def test_retry_budget_bounds_the_attempts(fake, make, clock):
    fake.errors += [curl_exc.ConnectionError("down")] * 9
    with pytest.raises(UserError, match="after 3 attempt"):
        make(retry_budget=5.0).load_symbol("SPY")
    assert clock.sleeps == [1.0, 2.0]  # the next 4 s delay would pass the 5 s budget


def test_hung_download_is_abandoned_at_the_budget(fake, tmp_path):
    release = threading.Event()

    def hang(symbol, **kw):
        release.wait(10)
        raise AssertionError("should have been abandoned")
    fake.history = hang
    src = YahooSource(cache_dir=tmp_path, retry_budget=0.3, sleep=lambda s: None)
    began = time.monotonic()
    try:
        with pytest.raises(UserError, match="TimeoutError: no answer from Yahoo"):
            src.load_symbol("SPY")
        assert time.monotonic() - began < 3.0
    finally:
        release.set()


def test_unexpected_error_is_not_retried(fake, make, clock):
    fake.errors.append(KeyError("chart"))
    with pytest.raises(UserError, match="the Yahoo download failed .KeyError"):
        make().load_symbol("SPY")
    assert len(fake.calls) == 1 and clock.sleeps == []


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"Price": [1.0]}, index=pd.DatetimeIndex(["2024-01-02"], name="Date")),
    history_frame(["2024-01-02", "2024-01-03"], [10.0, -1.0]),
], ids=["no-close-column", "negative-price"])
def test_garbage_frame_is_a_data_error(fake, make, tmp_path, frame):
    fake.frames.append(frame)
    with pytest.raises(DataError, match="SPY"):
        make().load_symbol("SPY")
    assert cache_files(tmp_path / "cache") == {}


# --- cache reuse and updates ---------------------------------------------------------------------

def test_second_call_reuses_the_cache(fake, make):
    first = make().load_symbol("SPY", end="2024-03-15")
    second = make().load_symbol("SPY", end="2024-03-15")
    third = make().load_symbol("SPY", end="2024-02-01")  # earlier end: covered as well
    assert len(fake.calls) == 1
    assert second.meta.sha256 == first.meta.sha256 == third.meta.sha256
    assert_same_bars(second.frame, first.frame)


def test_past_end_over_a_weekend_is_not_refetched(fake, make):
    make().load_symbol("SPY", end="2024-03-31")  # Sunday; last bar Thu 28 (Good Friday closed)
    bars = make().load_symbol("SPY", end="2024-03-31")
    assert len(fake.calls) == 1 and bars.meta.last_date == "2024-03-28"


def test_open_end_is_fresh_for_12_hours_then_updated(fake, make, clock):
    make().load_symbol("SPY")
    clock.now = NOW + timedelta(hours=11)
    make().load_symbol("SPY")
    assert len(fake.calls) == 1
    make().load_symbol("SPY", end="2024-03-30")  # a past end that the open fetch covered
    assert len(fake.calls) == 1
    clock.now = NOW + timedelta(hours=13)
    make().load_symbol("SPY")
    assert len(fake.calls) == 2
    assert fake.calls[1]["start"] == "2024-03-21" and fake.calls[1]["end"] is None


def test_open_end_after_a_past_end_fetch_updates(fake, make):
    make().load_symbol("SPY", end="2024-02-15")
    bars = make().load_symbol("SPY")  # fetched minutes ago, but only up to February 15
    assert len(fake.calls) == 2 and bars.meta.last_date == "2024-03-28"


def test_incremental_update_fetches_only_the_recent_days(fake, make, tmp_path):
    make().load_symbol("SPY", end="2024-02-15")
    bars = make().load_symbol("SPY", end="2024-03-28")
    second = fake.calls[1]
    assert (second["start"], second["end"], second["period"]) == ("2024-02-08", "2024-03-29", None)
    assert second["auto_adjust"] is True
    want = expected(fake.markets["SPY"])
    assert_same_bars(bars.frame, want)  # = the concatenation, no seam, no duplicates
    meta = json.loads((tmp_path / "cache" / "SPY.total_return.json").read_text())
    assert (meta["last_date"], meta["rows"], meta["covered_through"]) == ("2024-03-28", len(want), "2024-03-28")
    again = make().load_symbol("SPY", end="2024-03-28")
    assert len(fake.calls) == 2 and again.meta.sha256 == bars.meta.sha256


def test_readjusted_history_triggers_a_full_refetch(fake, make):
    make().load_symbol("SPY", end="2024-03-08")
    moved = fake.markets["SPY"].copy()
    before = moved.index < pd.Timestamp("2024-03-15", tz=NY)  # a dividend went ex on March 15
    moved.loc[before, ["Open", "High", "Low", "Close"]] *= 0.99
    fake.markets["SPY"] = moved
    bars = make().load_symbol("SPY", end="2024-03-28")
    assert [c["start"] for c in fake.calls] == [None, "2024-03-01", None]
    assert_same_bars(bars.frame, expected(moved))
    assert any("downloaded the full history again" in n for n in bars.meta.notes)


def test_a_changed_last_cached_bar_is_replaced_without_full_refetch(fake, make, clock):
    live = fake.markets["SPY"].loc[:"2024-03-08"].copy()
    live.iloc[-1, live.columns.get_loc("Close")] *= 1.003  # fetched intraday: last bar still moving
    fake.frames.append(live)
    make().load_symbol("SPY", end="2024-03-08")
    bars = make().load_symbol("SPY", end="2024-03-28")
    assert len(fake.calls) == 2
    assert_same_bars(bars.frame, expected(fake.markets["SPY"]))


@pytest.mark.parametrize("failure", ["exception", "empty", "garbage"])
def test_failed_refresh_leaves_the_cache_byte_identical(fake, make, tmp_path, failure):
    make().load_symbol("SPY", end="2024-02-15")
    before = cache_files(tmp_path / "cache")
    if failure == "exception":
        fake.errors += [curl_exc.ConnectionError("Couldn't connect")] * 9
    elif failure == "empty":
        fake.frames.append(yf.utils.empty_df())
    else:
        fake.frames.append(history_frame(["2024-02-09", "2024-02-12"], [float("nan")] * 2))
    with pytest.raises(UserError) as err:
        make().load_symbol("SPY", end="2024-03-28")
    # Pinned: no silent fallback to the cache; the message points to --offline instead.
    assert "use --offline to use the cache" in str(err.value) and "2024-02-15" in str(err.value)
    assert cache_files(tmp_path / "cache") == before
    bars = make(offline=True).load_symbol("SPY")
    assert bars.meta.last_date == "2024-02-15"


# --- offline and corrupt entries -----------------------------------------------------------------

def test_offline_uses_the_cache_without_yfinance(fake, make):
    online = make().load_symbol("SPY", end="2024-03-28")
    fake.errors += [AssertionError("yfinance called while offline")] * 3
    clock_later = make(offline=True)
    bars = clock_later.load_symbol("SPY", end="2024-03-28")
    assert len(fake.calls) == 1 and bars.meta.sha256 == online.meta.sha256
    assert "offline: cached data only" in bars.meta.notes


def test_offline_warns_when_the_cache_ends_early(fake, make):
    make().load_symbol("SPY", end="2024-02-15")
    with pytest.warns(DataWarning, match="before the requested end 2024-03-28"):
        make(offline=True).load_symbol("SPY", end="2024-03-28")
    assert len(fake.calls) == 1


def test_offline_without_cache_is_a_user_error(fake, make, tmp_path):
    with pytest.raises(UserError, match="run once without --offline"):
        make(offline=True).load_symbol("SPY")
    assert fake.calls == [] and cache_files(tmp_path / "cache") == {}


def tamper(path: Path):
    text = path.read_text()
    i = text.index("\n2024-01-03,") + len("\n2024-01-03,")
    path.write_text(text[:i] + ("9" if text[i] != "9" else "8") + text[i + 1:])


def test_corrupt_cache_offline_is_a_user_error(fake, make, tmp_path):
    make().load_symbol("SPY")
    tamper(tmp_path / "cache" / "SPY.total_return.csv")
    with pytest.raises(UserError, match="corrupt"):
        make(offline=True).load_symbol("SPY")


def test_corrupt_cache_online_is_downloaded_again(fake, make, tmp_path):
    first = make().load_symbol("SPY", end="2024-03-28")
    tamper(tmp_path / "cache" / "SPY.total_return.csv")
    with pytest.warns(DataWarning, match="corrupt"):
        bars = make().load_symbol("SPY", end="2024-03-28")
    assert len(fake.calls) == 2 and fake.calls[1]["start"] is None
    assert bars.meta.sha256 == first.meta.sha256
    assert make(offline=True).load_symbol("SPY").meta.sha256 == first.meta.sha256


@pytest.mark.parametrize("damage", ["no-metadata", "bad-json", "no-data"])
def test_incomplete_cache_entry_is_corrupt(fake, make, tmp_path, damage):
    make().load_symbol("SPY")
    data, meta = tmp_path / "cache" / "SPY.total_return.csv", tmp_path / "cache" / "SPY.total_return.json"
    {"no-metadata": meta.unlink, "bad-json": lambda: meta.write_text("{"), "no-data": data.unlink}[damage]()
    with pytest.raises(UserError, match="corrupt"):
        make(offline=True).load_symbol("SPY")


def test_failed_redownload_of_corrupt_cache_keeps_it(fake, make, tmp_path):
    make().load_symbol("SPY")
    tamper(tmp_path / "cache" / "SPY.total_return.csv")
    before = cache_files(tmp_path / "cache")
    fake.errors += [curl_exc.ConnectionError("down")] * 9
    with pytest.warns(DataWarning), pytest.raises(UserError, match="corrupt, so --offline cannot help"):
        make().load_symbol("SPY")
    assert cache_files(tmp_path / "cache") == before


# --- symbols -------------------------------------------------------------------------------------

@pytest.mark.parametrize("symbol", ["../x", "/abs", "..", "a/b", ""])
def test_path_like_symbols_refused_before_any_file_access(fake, tmp_path, symbol):
    folder = tmp_path / "not-created"
    src = YahooSource(cache_dir=folder)
    with pytest.raises(UserError, match="not a ticker"):
        src.load_symbol(symbol)
    with pytest.raises(UserError, match="not a ticker"):
        src.load(symbol)
    assert not folder.exists() and fake.calls == []


def test_load_trims_to_the_requested_dates(fake, make):
    bars = make().load("SPY", "2024-02-01", "2024-02-09")
    assert (bars.meta.first_date, bars.meta.last_date, bars.meta.rows) == ("2024-02-01", "2024-02-09", 7)


# --- yf.download-shaped frames (built by the installed yf.download itself) ------------------------

def yf_download(monkeypatch, frames: dict[str, pd.DataFrame], tickers, **kw) -> pd.DataFrame:
    """What the installed ``yf.download(tickers, ...)`` returns when each ticker's history is
    ``frames[ticker]`` (a ticker missing from ``frames`` fails inside yfinance, as an unknown one)."""
    class Ticker:
        def __init__(self, symbol):
            self.symbol, self._price_history = symbol, None

        def history(self, **kwargs):
            if self.symbol not in frames:
                raise YFTzMissingError(self.symbol)
            return frames[self.symbol].copy()
    monkeypatch.setattr(yfinance.multi, "Ticker", Ticker)
    return yf.download(tickers, start="2024-01-01", auto_adjust=True, progress=False, threads=False, **kw)


@yfinance_code
@pytest.mark.parametrize("tickers", [["QQQ"], ["QQQ", "IWM"]])
def test_download_frame_without_the_requested_ticker_is_refused(fake, make, monkeypatch, tickers):
    frames = {t: market(base=100.0 + 50 * i) for i, t in enumerate(tickers)}
    got = yf_download(monkeypatch, frames, tickers)
    assert got.columns.names == ["Price", "Ticker"] and "SPY" not in got.columns.get_level_values("Ticker")
    fake.frames.append(got)
    with pytest.raises(DataError) as err:
        make().load_symbol("SPY")
    assert str(err.value) == (f"SPY: Yahoo returned bars of {', '.join(sorted(tickers))}, not of the requested SPY; "
                              "try upgrading yfinance (pip install -U yfinance)")


@yfinance_code
@pytest.mark.parametrize("layout", ["column", "ticker", "flat", "no-names", "no-names-ticker-first"])
def test_download_layouts_give_the_requested_tickers_bars(fake, make, monkeypatch, layout):
    frames = {"SPY": fake.markets["SPY"], "QQQ": market(base=400.0)}
    if layout == "flat":
        got = yf_download(monkeypatch, {"SPY": frames["SPY"]}, ["SPY"], multi_level_index=False)
        assert not isinstance(got.columns, pd.MultiIndex)
    else:
        got = yf_download(monkeypatch, frames, ["SPY", "QQQ"], group_by="ticker" if "ticker" in layout else "column")
        assert got.columns.names == (["Ticker", "Price"] if "ticker" in layout else ["Price", "Ticker"])
        if layout.startswith("no-names"):  # e.g. rebuilt from tuples or read back without level names
            got.columns = pd.MultiIndex.from_tuples(list(got.columns))
            assert got.columns.names == [None, None]
    fake.frames.append(got)
    bars = make().load_symbol("SPY")
    assert_same_bars(bars.frame, expected(fake.markets["SPY"]))


@yfinance_code
def test_unnamed_download_frame_without_the_requested_ticker_is_refused(fake, make, monkeypatch):
    got = yf_download(monkeypatch, {"QQQ": market()}, ["QQQ"])
    got.columns = pd.MultiIndex.from_tuples(list(got.columns))
    fake.frames.append(got)
    with pytest.raises(DataError, match=r"^SPY: Yahoo returned bars of QQQ, not of the requested SPY"):
        make().load_symbol("SPY")


@yfinance_code
def test_download_where_the_requested_ticker_failed_is_an_unknown_symbol(fake, make, monkeypatch):
    got = yf_download(monkeypatch, {"QQQ": market()}, ["SPY", "QQQ"])  # SPY failed inside yf.download
    assert ("Close", "SPY") in got.columns and got[("Close", "SPY")].isna().all()
    fake.frames.append(got)
    with pytest.raises(UserError, match="unknown symbol 'SPY' on Yahoo"):
        make().load_symbol("SPY")


@pytest.mark.parametrize("columns, match", [
    (pd.MultiIndex.from_tuples([("a", "x"), ("b", "y")]), r"a table whose column levels cannot be told apart \(no level named "
                                                          r"Ticker or Price; columns \('a', 'x'\), \('b', 'y'\)\)"),
    (pd.MultiIndex.from_tuples([("Close", "Open"), ("High", "Low")]), "a table whose column levels cannot be told"),
    (pd.MultiIndex.from_tuples([("Close", "SPY", "x")], names=["Price", "Ticker", "Extra"]),
     r"a table with 3 column levels \(Price, Ticker, Extra\), not \(Price, Ticker\)"),
])
def test_download_frames_of_unexpected_shape_are_one_line(fake, make, columns, match):
    frame = pd.DataFrame([[1.0] * len(columns)], columns=columns,
                         index=pd.DatetimeIndex(["2024-01-02"], name="Date"))
    fake.frames.append(frame)
    with pytest.raises(DataError, match=r"^SPY: Yahoo returned " + match) as err:
        make().load_symbol("SPY")
    assert "\n" not in str(err.value)


def test_duplicate_close_columns_are_one_line_not_a_pandas_error(fake, make):
    frame = history_frame(["2024-01-02", "2024-01-03"], [10.0, 11.0])
    frame.insert(3, "close", frame["Close"])
    fake.frames.append(frame)
    with pytest.raises(DataError, match=r"^SPY: the Yahoo download \(start to now\) has 2 close columns "
                                        r"\(close, Close\); keep one"):
        make().load_symbol("SPY")


def test_not_a_frame_is_one_line(fake, make):
    fake.frames.append(None)
    with pytest.raises(DataError, match=r"^SPY: Yahoo returned NoneType, not a table"):
        make().load_symbol("SPY")


# --- Yahoo data: kinds, close-only, bars outside their range ---------------------------------------

def test_adjustments_option_overrides_the_kind_and_is_noted(fake, make):
    bars = make(adjustments={"spy": "price"}).load_symbol("SPY")
    assert bars.meta.adjustment == "price"
    assert bars.meta.notes[-1] == "adjustment price declared with --adjustment"
    plain = make().load_symbol("SPY")
    assert plain.meta.adjustment == "total_return"
    assert plain.meta.notes[-1] == "adjustment total_return: yfinance auto_adjust=True: split and dividend adjusted"


def test_open_equal_to_close_is_close_only(fake, make):
    flat = market()
    flat["Open"] = flat["Close"]  # e.g. a mutual fund: one price a day
    fake.markets["VFINX"] = flat
    bars = make().load_symbol("VFINX")
    assert bars.meta.close_only is True and bars.meta.close_only_share == 1.0
    assert any("close-only" in n for n in bars.meta.notes)
    assert make().load_symbol("SPY").meta.close_only is False


def test_a_bar_outside_its_range_is_repaired_with_a_warning(fake, make, tmp_path):
    raw = market()
    raw.iloc[5, raw.columns.get_loc("Open")] = raw["High"].iloc[5] * 1.01  # Yahoo sent open above high
    fake.markets["SPY"] = raw
    with pytest.warns(DataWarning, match=r"SPY: the Yahoo download .*: widened high/low on 1 bars whose open or "
                                         r"close lay outside them \(first 2024-01-09\)"):
        bars = make().load_symbol("SPY")
    f = bars.frame
    assert f["high"].iloc[5] == raw["Open"].iloc[5] and f["open"].iloc[5] == raw["Open"].iloc[5]
    others = np.arange(len(f)) != 5
    np.testing.assert_array_equal(f["high"].to_numpy()[others], raw["High"].to_numpy()[others])
    again = make(offline=True).load_symbol("SPY")  # the cache holds the repaired bars: no warning again
    assert again.meta.sha256 == bars.meta.sha256
