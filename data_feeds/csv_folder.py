"""``csv`` source: a folder with one ``SYMBOL.csv`` per symbol.

Reads the layouts real downloads come in, selecting columns by name:

* flat files with one header line, any column order and case
  (``date,open,high,low,close,volume`` or ``Date,Close,High,Low,Open,Volume``), optionally with
  ``Adj Close`` (then all OHLC are scaled to the adjusted close);
* yfinance's three-line header (``Price,...`` / ``Ticker,...`` / ``Date,,,``), as written by
  ``yf.download(...).to_csv()``;
* close-only files (a date and a close column), and files whose open equals the close on nearly
  every bar: marked ``close_only`` in the metadata;
* UTF-8 with or without a BOM, LF or CRLF line ends; dates ISO, or d/m/Y or m/d/Y when the file
  shows the order (else pass ``date_format``).

Refused with one line each: a folder named SYMBOL.csv, compressed or binary files, text that is
not UTF-8, files separated by ``;`` or tabs, two columns for one field, and everything
:func:`~data_feeds.validate.normalize` refuses.

The adjustment kind of each series: see :mod:`data_feeds.adjust` (``adjustments.toml`` in the
folder declares it per symbol).
"""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import pandas as pd

from rotationlab.errors import DataError, UserError

from .adjust import read_sidecar, resolve
from .base import Bars, Source, did_you_mean, register_source, safe_child
from .validate import DataWarning, duplicate_fields, duplicate_message, normalize

_MAGIC = {b"\x1f\x8b": "gzip-compressed; unpack it (gunzip) first",
          b"PK\x03\x04": "a ZIP archive or an Excel workbook; export the sheet as CSV (comma-separated)",
          b"\xd0\xcf\x11\xe0": "an old Excel (.xls) workbook; export the sheet as CSV (comma-separated)",
          b"\x89PNG": "a PNG image, not a price table"}


def _read_text(path: Path, symbol: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{symbol}: cannot read {path} ({exc.strerror or exc}); check its permissions") from None
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise DataError(f"{symbol}: {path} is {what}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{symbol}: {path} is not a UTF-8 text file; export it as CSV") from None
    if "\x00" in text:
        raise DataError(f"{symbol}: {path} contains NUL bytes (a binary file, or UTF-16 text); "
                        "export it as a UTF-8 CSV")
    return text


def _read_table(path: Path, symbol: str) -> tuple[pd.DataFrame, int]:
    """The raw table of ``path`` (all cells as text) and the line number of its first data row."""
    text = _read_text(path, symbol)
    lines = text.splitlines()  # LF, CRLF and CR alike
    if not any(line.strip() for line in lines):
        raise DataError(f"{symbol}: {path} is empty; re-create it or drop {symbol} from --symbols")
    blank = next(i for i, line in enumerate(lines) if line.strip())  # leading blank lines
    lines = lines[blank:]
    if lines[0].strip().lower().startswith("sep="):
        raise DataError(f"{symbol}: {path} starts with Excel's {lines[0].strip()!r} line; delete that line "
                        "(and save the file comma-separated)")
    head = [row for row in csv.reader(lines[:3])]
    first = lambda i: head[i][0].strip().lower() if len(head) > i and head[i] else ""  # noqa: E731
    if head and len(head[0]) == 1:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
            if sep in lines[0]:
                raise DataError(f"{symbol}: {path} is separated by {name}, not commas; save it as a "
                                "comma-separated CSV with '.' as the decimal point")
    if first(0) == "price" and first(1) == "ticker":
        # yfinance: line 1 names the fields, line 2 the tickers, line 3 is "Date,,,".
        tickers = {t.strip() for t in head[1][1:] if t.strip()}
        if len(tickers) > 1:
            raise DataError(f"{symbol}: {path} holds several tickers ({', '.join(sorted(tickers))}); "
                            "save one file per symbol")
        if tickers and tickers != {symbol}:
            warnings.warn(f"{symbol}: {path} says its ticker is {tickers.pop()}", DataWarning,
                          stacklevel=3)
        header = ["Date"] + head[0][1:]
        skip = 3 if first(2) == "date" else 2
        body = "\n".join([",".join(header)] + lines[skip:])
        first_line = blank + skip + 1
    else:
        header = head[0]
        body, first_line = "\n".join(lines), blank + 2
    dup = duplicate_fields(h.strip() for h in header)
    if dup is not None:
        raise DataError(duplicate_message(symbol, str(path), dup))
    try:
        raw = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False, na_values=[""],
                          skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{symbol}: {path} is not a well-formed CSV ({' '.join(str(exc).split())}); "
                        "check the delimiter and quoting") from None
    return raw, first_line


@register_source
class CsvFolderSource(Source):
    name = "csv"
    description = "a folder of SYMBOL.csv files (--data-dir)"

    def _folder(self) -> Path:
        if self.data_dir is None:
            raise UserError("the csv source needs a folder: pass --data-dir DIR")
        if not self.data_dir.is_dir():
            raise UserError(f"--data-dir {self.data_dir} is not a folder; point it at a folder of "
                            "SYMBOL.csv files")
        return self.data_dir

    def sidecar(self):
        """The folder's ``adjustments.toml``, read once."""
        if not hasattr(self, "_sidecar"):
            self._sidecar = read_sidecar(self._folder())
        return self._sidecar

    def load_symbol(self, symbol: str, start=None, end=None) -> Bars:
        folder = self._folder()
        path = safe_child(folder, f"{symbol}.csv", symbol)
        if path.is_dir():
            raise DataError(f"{symbol}: {path} is a folder, not a file; put the prices of {symbol} "
                            "in a file of that name")
        if not path.is_file():
            have = sorted(p.stem for p in folder.glob("*.csv") if p.is_file())
            there = f"files there: {', '.join(have[:12])}" if have else "the folder holds no .csv files"
            raise UserError(f"unknown symbol {symbol!r}: no file {path}{did_you_mean(symbol, have)}; {there}")
        sidecar = self.sidecar()
        raw, first_line = _read_table(path, symbol)
        frame, info = normalize(raw, symbol, str(path), first_line=first_line,
                                date_format=self.date_format, today=self._today())
        notes = list(info["notes"])
        if info["adjusted_from_adj_close"]:
            notes.append("OHLC scaled to the file's Adj Close")
        if symbol.startswith("^"):  # an index's Adj Close is its Close: still a price level
            inferred, why = "price", "an index level (the symbol starts with ^)"
        elif info["adjusted_from_adj_close"]:
            inferred, why = "total_return", "the file's Adj Close is split and dividend adjusted"
        else:
            inferred, why = "unknown", ""
        adjustment, note = resolve(symbol, inferred, why, self.adjustments, sidecar, folder)
        notes.append(note)
        return Bars.build(frame, source=self.name, symbol=symbol, adjustment=adjustment,
                          close_only=info["close_only"], origin=str(path), notes=tuple(notes))
