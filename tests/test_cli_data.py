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
    "unclosed quote": ('date,close\n2024-01-02,10\n2024-01-03,"11\n',
                       ["is not a well-formed CSV", "check the delimiter and quoting"]),
    "ambiguous day/month dates": ("date,close\n03/01/2024,10\n04/01/2024,11\n",
                                  ["dates like '03/01/2024' (line 2) that read as day/month or as month/day",
                                   "pass --date-format %d/%m/%Y or --date-format %m/%d/%Y"]),
    "day-first and month-first dates mixed": ("date,close\n13/01/2024,10\n01/31/2024,11\n",
                                              ["mixes day-first and month-first dates (line 2: '13/01/2024', "
                                               "line 3: '01/31/2024')", "write the dates as YYYY-MM-DD"]),
    "open above high": ("date,open,high,low,close\n2024-01-02,10,11,9,10\n2024-01-03,12,11,9,10\n",
                        ["line 3 (2024-01-03): open 12 is outside the day's range low 9 .. high 11",
                         "fix that row"]),
    "close below low": ("Date,Close,High,Low,Open\n2024-01-02,8,11,9,10\n",
                        ["line 2 (2024-01-02): close 8 is outside the day's range low 9 .. high 11"]),
    "two close columns": ("date,close,close\n2024-01-02,10,11\n",
                          ["has 2 close columns (close, close)", "keep one and rename or delete the others"]),
    "Close and close": ("date,Close,close\n2024-01-02,10,11\n", ["has 2 close columns (Close, close)"]),
    "two close columns, yfinance header": ("Price,Close,Close\nTicker,BAD,BAD\nDate,,\n2024-01-02,1,2\n",
                                           ["has 2 close columns (Close, Close)"]),
    "date before 1800": ("date,close\n1700-01-02,10\n",
                         ["line 2: date '1700-01-02' is before 1800-01-01", "fix or delete that row"]),
    "date in the future": ("date,close\n2024-01-02,10\n2999-01-04,11\n",
                           ["line 3: date '2999-01-04' is after today (", "a typo in the year?"]),
    "price above 1e9": ("date,close\n2024-01-02,10\n2024-01-03,25000000000\n",
                        ["line 3 (2024-01-03): close is 2.5e+10, above 1e+09: not a price", "fix or delete that row"]),
    "infinite high": ("date,open,high,low,close\n2024-01-02,10,inf,9,10\n",
                      ["line 2 (2024-01-02): high is inf, prices must be positive and finite"]),
    "infinite volume": ("date,close,volume\n2024-01-02,10,inf\n", ["line 2 (2024-01-02): volume is inf"]),
    "semicolon-separated": ("date;open;high;low;close\n2024-01-02;1,5;1,5;1,5;1,5\n",
                            ["is separated by semicolons, not commas", "comma-separated CSV with '.' as the decimal"]),
    "tab-separated": ("date\tclose\n2024-01-02\t1.5\n", ["is separated by tabs, not commas"]),
    "Excel sep= line": ("sep=,\ndate,close\n2024-01-02,1\n", ["starts with Excel's 'sep=,' line; delete that line"]),
    "trailing total row": ("date,close\n2024-01-02,10\n2024-01-03,11\nTotal,21\n",
                           ["line 4: cannot read date 'Total' (a total, note or repeated header row? delete it)"]),
    "repeated header row": ("date,close\n2024-01-02,10\ndate,close\n2024-01-03,11\n",
                            ["line 3: cannot read date 'date' (a total, note or repeated header row? delete it)"]),
    "empty date cell": ("date,close\n2024-01-02,10\n,11\n", ["line 3: the date is empty; fill it or delete that row"]),
    "Excel serial dates": ("date,close\n45293,10\n", ["line 2: cannot read date '45293' (a number: an Excel serial"]),
    "unnamed date column (pandas index)": (",open,close\n2024-01-02,10,10\n",
                                           ["has no 'date' column (columns found: Unnamed: 0, open, close)",
                                            "the first column has no name: if it holds the dates, name it date"]),
    "leading blank lines, bad row": ("\n\ndate,close\n2024-01-02,x\n",
                                     ["line 4 (2024-01-02): cannot read close value 'x'"]),
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


@pytest.mark.parametrize("data, fragment", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is a PNG image, not a price table"),
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "is gzip-compressed; unpack it (gunzip) first"),
    (b"PK\x03\x04\x14\x00\x06\x00", "is a ZIP archive or an Excel workbook; export the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "is an old Excel (.xls) workbook; export the sheet as CSV"),
    ("date,close\n2024-01-02,1\n".encode("utf-16-le"), "contains NUL bytes (a binary file, or UTF-16 text); "
                                                          "export it as a UTF-8 CSV"),
    (bytes(range(256)), "is not a UTF-8 text file; export it as CSV"),
], ids=["png", "gzip", "zip-xlsx", "xls", "utf16-no-bom", "random-bytes"])
def test_binary_files_are_one_line(tmp_path, capsys, data, fragment):
    (tmp_path / "BIN.csv").write_bytes(data)
    rc, out, err = run(capsys, *csv_data(tmp_path, "BIN"))
    assert rc == 2 and out == ""
    line = one_error_line(err)
    assert line.startswith(f"error: BIN: {tmp_path / 'BIN.csv'} ") and fragment in line, line


def test_a_folder_named_symbol_csv(tmp_path, capsys):
    (tmp_path / "DIR.csv").mkdir()
    rc, _, err = run(capsys, *csv_data(tmp_path, "DIR"))
    assert rc == 2
    assert one_error_line(err) == (f"error: DIR: {(tmp_path / 'DIR.csv').resolve()} is a folder, not a file; put the "
                                   "prices of DIR in a file of that name")


def test_an_empty_folder(tmp_path, capsys):
    (tmp_path / "sub").mkdir()  # folders do not count as files
    (tmp_path / "sub.csv").mkdir()
    rc, _, err = run(capsys, *csv_data(tmp_path, "SPY"))
    assert rc == 2
    assert one_error_line(err) == (f"error: unknown symbol 'SPY': no file {tmp_path.resolve() / 'SPY.csv'}; the folder "
                                   "holds no .csv files")


def test_an_unreadable_file(tmp_path, capsys, monkeypatch):
    (tmp_path / "LOCK.csv").write_text(LOWER_TEXT)

    def denied(self):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(Path, "read_bytes", denied)  # running as root, chmod 000 would not stop the read
    rc, _, err = run(capsys, *csv_data(tmp_path, "LOCK"))
    assert rc == 2
    assert one_error_line(err) == (f"error: LOCK: cannot read {(tmp_path / 'LOCK.csv').resolve()} (Permission denied); "
                                   "check its permissions")


@pytest.mark.parametrize("text", [
    LOWER_TEXT.replace("\n", "\r\n"),                    # Windows line ends
    "\ufeff" + LOWER_TEXT.replace("\n", "\r\n"),          # and a BOM
    LOWER_TEXT.replace("\n", "\r"),                      # old Mac line ends
    "\n\n" + LOWER_TEXT + "\n\n",                         # blank lines around
], ids=["crlf", "bom-crlf", "cr", "blank-lines"])
def test_line_ends_and_bom_read_like_the_plain_file(tmp_path, capsys, text):
    (tmp_path / "PLAIN.csv").write_text(LOWER_TEXT)
    (tmp_path / "ODD.csv").write_bytes(text.encode("utf-8"))
    rc, out, err = run(capsys, *csv_data(tmp_path, "PLAIN", "ODD", extra=["--out", str(tmp_path / "o.csv")]))
    assert rc == 0 and err == ""
    rows = [line.split() for line in out.splitlines()[1:3]]
    assert rows[0][1:7] == rows[1][1:7]  # same dates, rows, kind, share, adjustment
    written = pd.read_csv(tmp_path / "o.csv")
    assert written["PLAIN"].tolist() == written["ODD"].tolist() == [10.25, 10.5, 10.875, 11.0]


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


def test_date_format_reads_ambiguous_dates(tmp_path, capsys):
    (tmp_path / "EU.csv").write_text("date,close\n03/01/2024,10\n04/01/2024,11\n")
    out = tmp_path / "o.csv"
    rc, stdout, err = run(capsys, *csv_data(tmp_path, "EU", extra=["--date-format", "%d/%m/%Y", "--out", str(out)]))
    assert rc == 0 and err == ""
    assert stdout.splitlines()[1].split()[1:3] == ["2024-01-03", "2024-01-04"]
    assert "  EU: dates read with --date-format %d/%m/%Y; " in stdout
    assert out.read_text() == "date,EU\n2024-01-03,10.0\n2024-01-04,11.0\n"


def test_unambiguous_non_iso_dates_say_the_order_used(tmp_path, capsys):
    (tmp_path / "US.csv").write_text("date,close\n01/03/2024,10\n01/31/2024,11\n")
    rc, stdout, _ = run(capsys, *csv_data(tmp_path, "US"))
    assert rc == 0
    assert stdout.splitlines()[1].split()[1:3] == ["2024-01-03", "2024-01-31"]
    assert "  US: dates read month first (%m/%d/%Y): line 3 has '01/31/2024'" in stdout


@pytest.mark.parametrize("fmt", ["%d/%m", "dd/mm/yyyy"])
def test_bad_date_format(tmp_path, capsys, fmt):
    (tmp_path / "A.csv").write_text(LOWER_TEXT)
    rc, _, err = run(capsys, *csv_data(tmp_path, "A", extra=["--date-format", fmt]))
    assert rc == 2
    assert one_error_line(err) == (f"error: --date-format {fmt!r} does not read a day, a month and a year; give a "
                                   "strftime format such as %d/%m/%Y or %m/%d/%Y")


def test_adjustment_flags_declare_kinds(tmp_path, capsys):
    for s in ("SPY", "KRE", "XLB"):
        (tmp_path / f"{s}.csv").write_text(LOWER_TEXT)
    rc, stdout, err = run(capsys, *csv_data(tmp_path, "SPY", "KRE", "XLB", extra=[
        "--adjustment", "SPY=total_return,KRE=price", "--adjustment", "xlb=unknown"]))
    assert rc == 0 and err == ""
    lines = stdout.splitlines()
    assert [line.split()[6] for line in lines[1:4]] == ["total_return", "price", "unknown"]
    assert lines[4].endswith("adjustment total_return declared with --adjustment")
    assert lines[6].endswith("adjustment unknown declared with --adjustment")


@pytest.mark.parametrize("flag, message", [
    ("SPY", "error: --adjustment 'SPY': use SYM=KIND, e.g. --adjustment SPY=total_return (kinds: total_return, price, "
            "unknown)"),
    ("SPY=split_only", "error: --adjustment SPY=split_only: unknown adjustment kind 'split_only' (did you mean "
                       "'price'?); use one of: total_return, price, unknown"),
    ("SPY=price,SPY=total_return", "error: --adjustment: SPY is declared both price and total_return; keep one"),
])
def test_bad_adjustment_flag(tmp_path, capsys, flag, message):
    (tmp_path / "SPY.csv").write_text(LOWER_TEXT)
    rc, out, err = run(capsys, *csv_data(tmp_path, "SPY", extra=["--adjustment", flag]))
    assert rc == 2 and out == "" and one_error_line(err) == message


def test_sidecar_declares_kinds_and_the_flag_wins(tmp_path, capsys):
    for s in ("SPY", "KRE"):
        (tmp_path / f"{s}.csv").write_text(LOWER_TEXT)
    (tmp_path / "adjustments.toml").write_text('default = "total_return"\n[symbols]\nKRE = "price"\n')
    rc, stdout, _ = run(capsys, *csv_data(tmp_path, "SPY", "KRE"))
    assert rc == 0
    assert [line.split()[6] for line in stdout.splitlines()[1:3]] == ["total_return", "price"]
    assert f"adjustment price declared by {tmp_path / 'adjustments.toml'}" in stdout
    rc, stdout, _ = run(capsys, *csv_data(tmp_path, "SPY", "KRE", extra=["--adjustment", "KRE=total_return"]))
    assert [line.split()[6] for line in stdout.splitlines()[1:3]] == ["total_return", "total_return"]


def test_bad_sidecar_through_the_cli(tmp_path, capsys):
    (tmp_path / "SPY.csv").write_text(LOWER_TEXT)
    (tmp_path / "adjustments.toml").write_text('[symbols]\nSPY = "dividend"\n')
    rc, _, err = run(capsys, *csv_data(tmp_path, "SPY"))
    assert rc == 2
    assert one_error_line(err) == (f"error: {tmp_path / 'adjustments.toml'}: symbols.SPY = 'dividend' is not an "
                                   "adjustment kind; use one of: total_return, price, unknown")


def test_open_equal_to_close_shows_as_close_only(tmp_path, capsys):
    days = pd.bdate_range("2020-01-01", periods=200)
    rows = "".join(f"{d:%Y-%m-%d},{100 + i},{101 + i},{99 + i},{100 + i}\n" for i, d in enumerate(days))
    (tmp_path / "FLAT.csv").write_text("date,open,high,low,close\n" + rows)
    rc, stdout, _ = run(capsys, *csv_data(tmp_path, "FLAT"))
    assert rc == 0
    assert stdout.splitlines()[1].split()[4:6] == ["close-only", "100.0%"]
    assert "open equals close on 100.0% of bars (close-only from 99%)" in stdout


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


@needs_shared
def test_shared_files_with_an_adjustments_toml_as_provenance_describes(tmp_path, capsys):
    """A copy of the shared folder with the sidecar its PROVENANCE.md implies: the ETFs are total return
    except KRE (split adjusted only), the indices price."""
    import shutil
    folder = tmp_path / "market"
    shutil.copytree(SHARED_MARKET, folder)
    (folder / "adjustments.toml").write_text(
        '# adjustment of the series in this folder: total_return | price | unknown\n'
        'default = "total_return"\n[symbols]\nKRE = "price"\n', encoding="utf-8")
    symbols = [Path(n).stem for n in SHARED_FILES]
    rc, stdout, err = run(capsys, "data", "--source", "csv", "--data-dir", str(folder), "--symbols", ",".join(symbols))
    assert rc == 0 and err == ""
    kinds = {line.split()[0]: line.split()[6] for line in stdout.splitlines()[1:1 + len(symbols)]}
    assert kinds == {s: "price" if s.startswith("^") or s == "KRE" else "total_return" for s in symbols}
