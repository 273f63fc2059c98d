"""Data feeds: daily bars from the embedded sample, CSV folders and Yahoo (via yfinance), one
source per symbol if wanted (:mod:`data_feeds.mixed`), proxies spliced (:mod:`data_feeds.splice`).

>>> from data_feeds import get_source
>>> bars = get_source("sample").load("^GSPC", "2005-01-01", "2005-12-31")
>>> mixed = get_source("sample", sources={"IWM": "csv:../shared/data/market"}, splice={"IWM": "^RUT"})
"""

from . import csv_folder, mixed, sample, yahoo  # noqa: F401  (registers the sources)
from .adjust import adjustment_mix, parse_adjustments, read_sidecar
from .align import AlignPolicy, Panel, align
from .base import (ADJUSTMENTS, CLOSE_ONLY_SHARE, COLUMNS, SOURCES, Bars, BarsMeta, Source, check_date,
                   close_only_share, get_source, register_source)
from .mixed import MixedSource, parse_sources
from .splice import Splice, SplicePart, parse_splice, splice, splice_warnings
from .validate import DataWarning, normalize

__all__ = [
    "ADJUSTMENTS", "CLOSE_ONLY_SHARE", "COLUMNS", "SOURCES", "AlignPolicy", "Bars", "BarsMeta", "DataWarning",
    "MixedSource", "Panel", "Source", "Splice", "SplicePart", "adjustment_mix", "align", "check_date",
    "close_only_share", "get_source", "normalize", "parse_adjustments", "parse_sources", "parse_splice",
    "read_sidecar", "register_source", "splice", "splice_warnings",
]
