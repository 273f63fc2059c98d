"""``run_backtest.py data``: bad input gives one line ``error: ...`` on stderr naming the symbol, the
file and place, and the fix, with exit code 2; good input prints a summary and ``--out`` writes
aligned closes. Also runs ``data`` on every real file in ../shared/data/market.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED_MARKET, needs_shared
from rotationlab.cli import main
from rotationlab.errors import DataError, UserError

LAYOUTS = Path(__file__).parent / "fixtures" / "layouts"
LOWER_TEXT = (LAYOUTS / "LOWER.csv").read_text()


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def one_error_line(err: str) -> str:
    """The single ``error: ...`` line of stderr (asserting there is exactly one and no traceback)."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


def csv_data(tmp_path, *symbols, extra=()):
    return ["data", "--source", "csv", "--data-dir", str(tmp_path), "--symbols", ",".join(symbols), *extra]


# --- bad files: one line naming symbol, file, place and fix; exit 2 --------------------------------

BAD_FILES = {
    # id: (file text, fragments the one-line message must contain besides "BAD: " and the path)
    "no close column": ("date,open,high,low,volume\n2024-01-02,1,2,1,5\n",
                        ["has no 'close' column", "columns found: date, open, high, low, volume",
                         "needs at least a date and a close column"]),
    "no date column": ("when,close\n2024-01-02,1\n",
                       ["has no 'date' column", "columns found: when, close", "needs at least a date"]),
    "unparsable date": ("date,close\n2024-01-02,10\n2024-01-03,11\n03/01/24x,12\n",
                        ["line 4: cannot read date '03/01/24x'", "use ISO dates like 2024-01-31"]),
    "relative date word": ("date,close\n2024-01-02,10\nnow,12\n",
                           ["line 3: cannot read date 'now'", "use ISO dates"]),
    "unparsable number": ("date,open,high,low,close\n2024-01-02,1,2,1,1.5\n2024-01-03,1,2,1,1.5.1\n",
                          ["line 3 (2024-01-03): cannot read close value '1.5.1' as a number",
                           "fix or delete that row"]),
    "number with thousands separator": ('date,close\n2024-01-02,"1,234.5"\n',
                                        ["line 2 (2024-01-02): cannot read close value '1,234.5'",
                                         "fix or delete that row"]),
    "duplicate dates": ("date,close\n2024-01-02,10\n2024-01-03,11\n2024-01-03,11\n",
                        ["has the date 2024-01-03 twice (line 4)", "keep one row per date"]),
    "zero close": ("date,close\n2024-01-02,10\n2024-01-03,0\n",
                   ["line 3 (2024-01-03): close is 0, prices must be positive", "fix or delete that row"]),
    "negative open": ("date,open,high,low,close\n2024-01-02,-3,11,9,10\n",
                      ["line 2 (2024-01-02): open is -3, prices must be positive", "fix or delete that row"]),
    "infinite close": ("date,close\n2024-01-02,10\n2024-01-03,inf\n",
                       ["line 3 (2024-01-03): close is inf, prices must be positive and finite"]),
    "high below low": ("date,open,high,low,close,volume\n2024-01-02,10,11,9,10,1\n2024-01-03,10,9.5,10.5,10,1\n",
                       ["line 3 (2024-01-03): high 9.5 is below low 10.5", "swapped or mislabelled"]),
    "negative volume": ("date,close,volume\n2024-01-02,10,5\n2024-01-03,10,-1\n",
                        ["line 3 (2024-01-03): negative volume", "fix or delete that row"]),
    "empty file": ("", ["is empty", "re-create it or drop BAD from --symbols"]),
    "blank lines only": ("\n \n", ["is empty", "re-create it or drop BAD from --symbols"]),
    "header only": ("date,open,high,low,close,volume\n",
                    ["has a header but no data rows", "re-create it or drop BAD from --symbols"]),
    "yfinance header only": ("Price,Close,High,Low,Open,Volume\nTicker,BAD,BAD,BAD,BAD,BAD\nDate,,,,,\n",
                             ["has a header but no data rows"]),
    "long run without a close": ("date,close\n2024-01-01,10\n" + "".join(
        f"2024-01-{d:02d},\n" for d in range(2, 8)) + "2024-01-08,11\n",
        ["has 6 consecutive rows without a close from 2024-01-02 (line 3)",
         "fill or re-download that period, or start the backtest after it"]),
    "several tickers in a yfinance file": (
        "Price,Close,Close,Volume,Volume\nTicker,SPY,QQQ,SPY,QQQ\nDate,,,,\n2024-01-02,1,2,3,4\n",
        ["holds several tickers (QQQ, SPY)", "save one file per symbol"]),
    "yfinance file, bad number": ("Price,Close\nTicker,BAD\nDate,\n2024-01-02,1\n2024-01-03,n/a\n",
                                  ["line 5 (2024-01-03): cannot read close value 'n/a'"]),
    "ragged rows": ("date,close\n2024-01-02,10\n2024-01-03,11,12,13\n",
                    ["is not a well-formed CSV", "check the delimiter and quoting"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_one_line_naming_symbol_file_place_and_fix(tmp_path, capsys, case):
    text, fragments = BAD_FILES[case]
    path = tmp_path / "BAD.csv"
    path.write_text(text, encoding="utf-8")
    rc, out, err = run(capsys, *csv_data(tmp_path, "BAD"))
    line = one_error_line(err)
    assert rc == 2
    assert line.startswith(f"error: BAD: {path}")
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    assert out == ""  # nothing printed as if it had worked


def test_non_utf8_file(tmp_path, capsys):
    (tmp_path / "U16.csv").write_bytes("date,close\n2024-01-02,1\n".encode("utf-16"))
    rc, _, err = run(capsys, *csv_data(tmp_path, "U16"))
    assert rc == 2
    assert one_error_line(err) == f"error: U16: {tmp_path / 'U16.csv'} is not a UTF-8 text file; export it as CSV"


def test_the_first_bad_symbol_stops_the_run_with_its_own_name(tmp_path, capsys):
    (tmp_path / "GOOD.csv").write_text(LOWER_TEXT)
    (tmp_path / "BAD.csv").write_text("date,close\n2024-01-02,-1\n")
    rc, _, err = run(capsys, *csv_data(tmp_path, "GOOD", "BAD"))
    assert rc == 2 and one_error_line(err).startswith("error: BAD: ")


def test_unknown_symbol_names_it_the_missing_file_and_the_files_there(tmp_path, capsys):
    (tmp_path / "SPY.csv").write_text(LOWER_TEXT)
    (tmp_path / "QQQ.csv").write_text(LOWER_TEXT)
    rc, _, err = run(capsys, *csv_data(tmp_path, "SPY", "QQQX"))
    assert rc == 2
    assert one_error_line(err) == (f"error: unknown symbol 'QQQX': no file {tmp_path.resolve() / 'QQQX.csv'} "
                                   "(did you mean 'QQQ'?); files there: QQQ, SPY")


@pytest.mark.parametrize("symbol", ["../x", "/abs/x", "..", "../../etc/passwd", "sub/x"])
def test_symbols_reaching_outside_the_data_folder_are_refused(tmp_path, capsys, symbol):
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "x.csv").write_text(LOWER_TEXT)  # would be read if '../x' were used as a path
    rc, out, err = run(capsys, *csv_data(data, symbol))
    assert rc == 2 and out == ""
    line = one_error_line(err)
    assert line.startswith(f"error: symbol {symbol!r} is not a ticker")
    assert "use letters, digits and ^ . - _ = only" in line


def test_sample_refuses_path_like_symbols_too(capsys):
    rc, _, err = run(capsys, "data", "--symbols", "../x")
    assert rc == 2 and "is not a ticker" in one_error_line(err)


# --- bad options ----------------------------------------------------------------------------------

def test_csv_without_data_dir(capsys):
    rc, _, err = run(capsys, "data", "--source", "csv", "--symbols", "SPY")
    assert rc == 2
    assert one_error_line(err) == "error: the csv source needs a folder: pass --data-dir DIR"


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_data_dir_that_is_not_a_folder(tmp_path, capsys, kind):
    target = tmp_path / "nowhere"
    if kind == "a file":
        target.write_text(LOWER_TEXT)
    rc, _, err = run(capsys, *csv_data(target, "SPY"))
    assert rc == 2
    assert one_error_line(err) == (f"error: --data-dir {target} is not a folder; "
                                   "point it at a folder of SYMBOL.csv files")


@pytest.mark.parametrize("argv, fragment", [
    (["data", "--source", "cvs", "--symbols", "SPY"], "argument --source: invalid choice: 'cvs'"),
    (["data"], "the following arguments are required: --symbols"),
    (["data", "--symbols", "^DJI", "--max-ffill-days", "five"], "argument --max-ffill-days: invalid int value"),
    (["data", "--symbols", "^DJI", "--align", "outer"], "argument --align: invalid choice: 'outer'"),
    (["data", "--symbols", "^DJI", "--bogus"], "unrecognized arguments: --bogus"),
    (["dta", "--symbols", "^DJI"], "invalid choice: 'dta'"),
])
def test_bad_usage_exits_2_with_one_line(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "error:" in lines[0], err


def test_unknown_source_lists_the_choices(capsys):
    with pytest.raises(SystemExit):
        main(["data", "--source", "cvs", "--symbols", "SPY"])
    # Python's argparse quotes the choices in newer patch releases
    assert re.search(r"\(choose from '?csv'?, '?sample'?, '?yahoo'?\)", capsys.readouterr().err)


@pytest.mark.parametrize("command", ["data", "run", "compare", "study", "walkforward", "sweep"])
@pytest.mark.parametrize("flag, value", [("--start", "notadate"), ("--end", "2001-02-30"), ("--start", "2020-13-01"),
                                         ("--start", "2020-13-45"), ("--end", "03/01/2020"), ("--end", "today")])
def test_unreadable_start_or_end_is_refused_by_every_command(capsys, command, flag, value):
    """Refused while parsing the arguments, before any data is loaded or any run starts."""
    argv = [command, flag, value] + (["--symbols", "^GSPC"] if command == "data" else [])
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.splitlines() == [f"run_backtest.py {command}: error: argument {flag}: {value!r} is not a date; "
                                "use YYYY-MM-DD, e.g. 2005-01-31 (see --help)"]


def test_period_without_bars(capsys):
    rc, _, err = run(capsys, "data", "--symbols", "^GSPC", "--start", "2030-01-01")
    assert rc == 2
    assert one_error_line(err) == ("error: ^GSPC: no bars between 2030-01-01 and the end (data covers 1999-01-04 "
                                   "to 2018-12-31); widen --start/--end")


def test_no_symbols(capsys):
    rc, _, err = run(capsys, "data", "--symbols", " , ")
    assert rc == 2 and one_error_line(err) == "error: no symbols given; pass --symbols A,B"


def test_unknown_sample_symbol_names_it_and_suggests_csv_or_yahoo(capsys):
    rc, _, err = run(capsys, "data", "--symbols", "^DJI,SPY")
    assert rc == 2
    line = one_error_line(err)
    assert line.startswith("error: unknown symbol 'SPY' for the embedded sample")
    assert "--source csv --data-dir DIR" in line and "--source yahoo" in line


def test_gap_longer_than_max_ffill_days_via_out(tmp_path, capsys):
    (tmp_path / "FULL.csv").write_text(LOWER_TEXT)
    (tmp_path / "GAP.csv").write_text("date,close\n2024-03-07,1\n2024-03-12,2\n")  # misses 03-08, 03-11
    out = tmp_path / "closes.csv"
    rc, _, err = run(capsys, *csv_data(tmp_path, "FULL", "GAP", extra=["--max-ffill-days", "1", "--out", str(out)]))
    assert rc == 2
    assert one_error_line(err) == (
        "error: GAP: 2 consecutive dates missing from 2024-03-08 that other symbols traded; more than "
        "max_ffill_days=1: raise it, use the intersection policy, or start after the gap")
    assert not out.exists()
    rc, _, _ = run(capsys, *csv_data(tmp_path, "FULL", "GAP", extra=["--max-ffill-days", "2", "--out", str(out)]))
    assert rc == 0
    assert out.read_text().splitlines()[1:] == [
        "2024-03-07,10.25,1.0", "2024-03-08,10.5,1.0", "2024-03-11,10.875,1.0", "2024-03-12,11.0,2.0"]


def test_negative_max_ffill_days(tmp_path, capsys):
    (tmp_path / "A.csv").write_text(LOWER_TEXT)
    rc, _, err = run(capsys, *csv_data(tmp_path, "A", extra=["--max-ffill-days", "-1", "--out",
                                                             str(tmp_path / "o.csv")]))
    assert rc == 2 and one_error_line(err) == "error: max_ffill_days must be >= 0"


def test_debug_shows_the_traceback_instead(tmp_path):
    (tmp_path / "BAD.csv").write_text("date,close\n2024-01-02,0\n")
    with pytest.raises(DataError, match="close is 0"):
        main(["--debug", *csv_data(tmp_path, "BAD")])
    with pytest.raises(UserError, match="unknown symbol 'NOPE'"):
        main([*csv_data(tmp_path, "NOPE"), "--debug"])


# --- good input -----------------------------------------------------------------------------------

def test_summary_lines(capsys):
    rc, out, err = run(capsys, "data", "--symbols", "^DJI,^IXIC")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["symbol", "first", "last", "rows", "kind", "open=close", "adjustment", "source"]
    dji, ixic = lines[1].split(), lines[2].split()
    assert dji[0] == "^DJI" and dji[1].startswith("1885-") and dji[2].startswith("2023-")
    assert dji[4:7] == ["close-only", "100.0%", "price"]
    assert ixic[:7] == ["^IXIC", "1999-01-04", "2018-12-31", "5031", "OHLC", "0.0%", "price"]
    assert lines[3] == ("  ^DJI: no open column: close-only, open/high/low set to the close; "
                        "adjustment price: an index level (no dividends)")
    assert lines[4] == "  ^IXIC: adjustment price: an index level (no dividends)"
    assert len(lines) == 5


def test_out_writes_date_then_one_column_per_symbol(tmp_path, capsys):
    for name in ("LOWER", "CLOSEONLY", "TZ"):
        (tmp_path / f"{name}.csv").write_text((LAYOUTS / f"{name}.csv").read_text())
    (tmp_path / "LATE.csv").write_text("date,close\n2024-03-11,5.5\n2024-03-12,6\n")
    out = tmp_path / "sub" / "closes.csv"
    rc, stdout, err = run(capsys, *csv_data(tmp_path, "LATE", "LOWER", "CLOSEONLY", extra=["--out", str(out)]))
    assert rc == 0 and err == ""
    assert out.read_text() == (
        "date,LATE,LOWER,CLOSEONLY\n"
        "2024-03-07,,10.25,10.25\n"      # LATE starts later: left empty, not back-filled
        "2024-03-08,,10.5,10.5\n"
        "2024-03-11,5.5,10.875,10.875\n"
        "2024-03-12,6.0,11.0,11.0\n")
    assert f"wrote {out}: 4 dates, alignment union:" in stdout


def test_out_intersection(tmp_path, capsys):
    (tmp_path / "A.csv").write_text(LOWER_TEXT)
    (tmp_path / "B.csv").write_text("date,close\n2024-03-08,1\n2024-03-11,2\n2024-03-13,3\n")
    out = tmp_path / "closes.csv"
    rc, stdout, _ = run(capsys, *csv_data(tmp_path, "A", "B", extra=["--align", "intersection", "--out", str(out)]))
    assert rc == 0
    assert out.read_text() == "date,A,B\n2024-03-08,10.5,1.0\n2024-03-11,10.875,2.0\n"
    assert "alignment intersection" in stdout


@pytest.mark.filterwarnings("always::data_feeds.validate.DataWarning")
def test_short_run_without_a_close_is_dropped_with_a_warning_line(tmp_path, capsys):
    (tmp_path / "W.csv").write_text("date,close\n2024-03-07,1\n2024-03-08,\n2024-03-11,3\n")
    rc, out, err = run(capsys, *csv_data(tmp_path, "W"))
    assert rc == 0
    assert err.splitlines() == [f"warning: W: dropped 1 rows without a close in {(tmp_path / 'W.csv').resolve()}"]
    assert out.splitlines()[1].split()[:4] == ["W", "2024-03-07", "2024-03-11", "2"]


# --- every real file in ../shared/data/market -------------------------------------------------------

SHARED_FILES = sorted(p.name for p in SHARED_MARKET.glob("*.csv")) or ["(no files)"]


def independent_closes(path: Path) -> pd.Series:
    """Closes parsed with plain pandas as PROVENANCE.md says (header=[0,1] + skiprows for yfinance)."""
    with path.open(encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    if header[0] == "Price":
        raw = pd.read_csv(path, header=[0, 1], index_col=0, skiprows=[2])
        close, dates = raw[("Close", path.stem)], raw.index
    else:
        date_col, close_col = ("date", "close") if "date" in header else ("Date", "Close")
        raw = pd.read_csv(path, usecols=[date_col, close_col])
        close, dates = raw[close_col], raw[date_col]
    return pd.Series(close.to_numpy(dtype="float64"), index=pd.to_datetime(dates, format="%Y-%m-%d"))


@needs_shared
@pytest.mark.parametrize("name", SHARED_FILES)
def test_data_command_reads_every_shared_file(tmp_path, capsys, name):
    path = SHARED_MARKET / name
    symbol = path.stem
    out = tmp_path / "closes.csv"
    rc, stdout, err = run(capsys, "data", "--source", "csv", "--data-dir", str(SHARED_MARKET),
                          "--symbols", symbol, "--out", str(out))
    assert rc == 0 and err == ""
    expected = independent_closes(path)
    row = stdout.splitlines()[1].split()
    assert row[:4] == [symbol, f"{expected.index[0]:%Y-%m-%d}", f"{expected.index[-1]:%Y-%m-%d}", str(len(expected))]
    assert row[4] == ("close-only" if symbol == "XLB" else "OHLC")
    f = pd.read_csv(path, header=[0, 1], index_col=0, skiprows=[2]).droplevel(1, axis=1) \
        if row[4] == "close-only" or symbol in ("^DJI", "^RUT") else pd.read_csv(path)
    f.columns = [c.lower() for c in f.columns]
    # equal to 1e-9 relative: adjusted files differ in the last bits where Yahoo's open equalled the close
    share = (abs(f["open"] - f["close"]) <= 1e-9 * f["close"]).mean() if "open" in f.columns else 1.0
    assert row[5] == f"{share:.1%}"
    assert row[6] == ("price" if symbol.startswith("^") else "unknown")
    note = stdout.splitlines()[2]
    assert note.startswith(f"  {symbol}: ") and note.endswith(
        "adjustment price: an index level (the symbol starts with ^)" if symbol.startswith("^") else
        f"adjustment unknown: declare it in {SHARED_MARKET / 'adjustments.toml'} or with --adjustment {symbol}=KIND")

    written = pd.read_csv(out)
    assert list(written.columns) == ["date", symbol]
    assert list(written["date"]) == list(expected.index.strftime("%Y-%m-%d"))
    # --out writes full precision (shortest round-trip repr)
    np.testing.assert_allclose(written[symbol].to_numpy(), expected.to_numpy(), rtol=0, atol=0)


@needs_shared
def test_data_out_aligns_all_shared_files(tmp_path, capsys):
    symbols = [Path(n).stem for n in SHARED_FILES]
    out = tmp_path / "all.csv"
    rc, stdout, err = run(capsys, "data", "--source", "csv", "--data-dir", str(SHARED_MARKET),
                          "--symbols", ",".join(symbols), "--out", str(out))
    assert rc == 0 and err == ""
    assert len(stdout.splitlines()) == 1 + 2 * len(symbols) + 1  # header, rows, notes, "wrote"
    written = pd.read_csv(out, index_col="date")
    assert list(written.columns) == symbols
    with out.open() as fh:
        assert fh.readline().startswith("date,")
    dates = pd.to_datetime(written.index, format="%Y-%m-%d")
    assert dates.is_monotonic_increasing and dates.is_unique
    calendar = pd.DatetimeIndex([])
    for name in SHARED_FILES:
        calendar = calendar.union(independent_closes(SHARED_MARKET / name).index)
    assert dates.equals(calendar.as_unit(dates.unit))
    for name in SHARED_FILES:
        expected = independent_closes(SHARED_MARKET / name)
        col = pd.Series(written[Path(name).stem].to_numpy(), index=dates)
        inside = (dates >= expected.index[0]) & (dates <= expected.index[-1])
        assert col[~inside].isna().all(), name  # nothing before its first date or after its last
        # every file has every calendar date inside its own range (PROVENANCE.md): nothing filled
        np.testing.assert_allclose(col[inside].to_numpy(), expected.to_numpy(), rtol=0, atol=0,
                                   err_msg=name)
