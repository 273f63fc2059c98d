"""``csv`` source: a folder with one ``SYMBOL.csv`` per symbol.

Reads the layouts real downloads come in, selecting columns by name:

* flat files with one header line, any column order and case
  (``date,open,high,low,close,volume`` or ``Date,Close,High,Low,Open,Volume``), optionally with
  ``Adj Close`` (then all OHLC are scaled to the adjusted close);
* yfinance's three-line header (``Price,...`` / ``Ticker,...`` / ``Date,,,``), as written by
  ``yf.download(...).to_csv()``;
* close-only files (a date and a close column): marked ``close_only`` in the metadata.
"""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import pandas as pd

from rotationlab.errors import DataError, UserError

from .base import Bars, Source, register_source, safe_child
from .validate import DataWarning, normalize


def _read_table(path: Path, symbol: str) -> tuple[pd.DataFrame, int]:
    """The raw table of ``path`` (all cells as text) and the line number of its first data row."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{symbol}: {path} is not a UTF-8 text file; export it as CSV") from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise DataError(f"{symbol}: {path} is empty; re-create it or drop {symbol} from --symbols")
    head = [row for row in csv.reader(lines[:3])]
    first = lambda i: head[i][0].strip().lower() if len(head) > i and head[i] else ""  # noqa: E731
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
        first_line = skip + 1
    else:
        body, first_line = text, 2
    try:
        raw = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False, na_values=[""],
                          skip_blank_lines=True)
    except pd.errors.ParserError as exc:
        raise DataError(f"{symbol}: {path} is not a well-formed CSV ({str(exc).strip()}); "
                        "check the delimiter and quoting") from None
    return raw, first_line


@register_source
class CsvFolderSource(Source):
    name = "csv"
    description = "a folder of SYMBOL.csv files (--data-dir)"

    def load_symbol(self, symbol: str, start=None, end=None) -> Bars:
        if self.data_dir is None:
            raise UserError("the csv source needs a folder: pass --data-dir DIR")
        folder = self.data_dir
        if not folder.is_dir():
            raise UserError(f"--data-dir {folder} is not a folder; point it at a folder of SYMBOL.csv files")
        path = safe_child(folder, f"{symbol}.csv", symbol)
        if not path.is_file():
            have = sorted(p.stem for p in folder.glob("*.csv"))
            from .base import did_you_mean
            raise UserError(f"unknown symbol {symbol!r}: no file {path}{did_you_mean(symbol, have)}; "
                            f"files there: {', '.join(have[:12]) or 'none'}")
        raw, first_line = _read_table(path, symbol)
        frame, info = normalize(raw, symbol, str(path), first_line=first_line)
        notes = []
        if info["adjusted_from_adj_close"]:
            adjustment = "total_return"
            notes.append("OHLC scaled to the file's Adj Close")
        elif symbol.startswith("^"):
            adjustment = "price_index"
        else:
            adjustment = "unknown"
        if info["close_only"]:
            notes.append("close-only file: open/high/low set to the close")
        return Bars.build(frame, source=self.name, symbol=symbol, adjustment=adjustment,
                          close_only=info["close_only"], origin=str(path), notes=tuple(notes))
