"""Data feeds: daily bars from the embedded sample, CSV folders and Yahoo (via yfinance).

>>> from data_feeds import get_source
>>> bars = get_source("sample").load("^GSPC", "2005-01-01", "2005-12-31")
"""

from . import csv_folder, sample, yahoo  # noqa: F401  (registers the sources)
from .align import AlignPolicy, Panel, align
from .base import ADJUSTMENTS, COLUMNS, SOURCES, Bars, BarsMeta, Source, get_source, register_source
from .validate import DataWarning, normalize

__all__ = [
    "ADJUSTMENTS", "COLUMNS", "SOURCES", "AlignPolicy", "Bars", "BarsMeta", "DataWarning", "Panel",
    "Source", "align", "get_source", "normalize", "register_source",
]
