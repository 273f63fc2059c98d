"""Data feeds: daily bars from the embedded sample, CSV folders and Yahoo (via yfinance).

>>> from data_feeds import get_source
>>> bars = get_source("sample").load("^GSPC", "2005-01-01", "2005-12-31")
"""

from . import csv_folder, sample, yahoo  # noqa: F401  (registers the sources)
from .adjust import adjustment_mix, parse_adjustments, read_sidecar
from .align import AlignPolicy, Panel, align
from .base import (ADJUSTMENTS, CLOSE_ONLY_SHARE, COLUMNS, SOURCES, Bars, BarsMeta, Source, check_date,
                   close_only_share, get_source, register_source)
from .validate import DataWarning, normalize

__all__ = [
    "ADJUSTMENTS", "CLOSE_ONLY_SHARE", "COLUMNS", "SOURCES", "AlignPolicy", "Bars", "BarsMeta", "DataWarning",
    "Panel", "Source", "adjustment_mix", "align", "check_date", "close_only_share", "get_source", "normalize",
    "parse_adjustments", "read_sidecar", "register_source",
]
