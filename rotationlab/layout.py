"""The calendar a run trades on, defined once for both engines.

For a rule and its data:

* the symbols (the rule's, plus the benchmark) are put on one calendar by the alignment policy,
  over their whole loaded history, and cut to the last date every one of them has;
* the rule decides from its first bar ``d0``: the first date on which every symbol the rule
  reads or trades has a price (the benchmark is not the rule's and does not count), so the
  rule's state on any date never depends on ``--start``;
* trading starts at ``trade_from``: ``warmup_bars - 1`` bars after ``d0`` (the first decision
  with its whole look-back), once the benchmark has a price too, or at ``--start`` if that is
  later;
* a run fills at the next open unless a traded symbol has close prices only over the traded
  span (open equal to close on nearly every bar): then every order of the run fills at the
  close instead (one fill time for every leg of a rebalance: a buy is never funded by a sale at
  another time and price), and the result says so;
* symbols whose histories differ by more than a year get one warning line naming the shortest
  and the span it costs; the cut to common dates is recorded in the provenance.

:class:`Panel` holds the aligned arrays of one symbol set (shared by every sweep combination of
that set); :func:`place` puts one rule on it; :func:`layout` does both for a single run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data_feeds import Bars, align
from rotationlab.config import FILL_TIMING, RunConfig
from rotationlab.errors import UserError

#: A series is close-only over a span when open equals close on at least this share of its bars.
CLOSE_ONLY_SHARE = 0.99
#: Histories whose starts (or ends) differ by more than this many days get a warning.
SPAN_WARN_DAYS = 365


@dataclass
class Panel:
    """Aligned arrays of a symbol set on one calendar (whole history to the common end)."""

    symbols: list
    calendar: pd.DatetimeIndex
    closes: np.ndarray          # (symbols, bars); NaN before a symbol's first bar
    opens: np.ndarray
    highs: np.ndarray
    lows: np.ndarray
    first: np.ndarray           # first bar of each symbol
    aligned: object             # data_feeds.Panel (alignment provenance)
    bars: dict                  # symbol -> Bars as given (whole series)
    common_end: pd.Timestamp
    cache: dict = field(default_factory=dict)   # derived series shared by the rules on this panel

    def slot(self, symbol: str) -> int:
        return self.symbols.index(symbol)

    def arrays(self, symbols, start: int) -> tuple[dict, dict]:
        """``({symbol: closes from bar start}, {"open"|"high"|"low": {symbol: array}})`` (views)."""
        closes = {s: self.closes[self.slot(s), start:] for s in symbols}
        extra = {name: {s: arr[self.slot(s), start:] for s in symbols}
                 for name, arr in (("open", self.opens), ("high", self.highs), ("low", self.lows))}
        return closes, extra


def build_panel(config: RunConfig, data: dict[str, Bars], symbols: list[str]) -> Panel:
    """Align ``symbols`` of ``data`` (cut to ``config.end``) over their whole history."""
    missing = [s for s in symbols if s not in data]
    if missing:
        raise UserError(f"no data for {', '.join(missing)}; add them to the data given")
    bars = {s: data[s] for s in symbols}
    cut = {s: (b.between(None, config.end) if config.end else b) for s, b in bars.items()}
    common_end = min(b.frame.index[-1] for b in cut.values())
    starts = {s: b.frame.index[0] for s, b in cut.items()}
    if max(starts.values()) > common_end:
        spans = ", ".join(f"{s} {b.meta.first_date} to {b.meta.last_date}" for s, b in cut.items())
        raise UserError(f"the histories do not overlap ({spans}); choose symbols (or --start/--end) whose "
                        "histories share some dates")
    aligned = align(cut, config.align)
    calendar = aligned.calendar[aligned.calendar <= common_end]
    if len(calendar) < 2:
        raise UserError(f"the symbols share fewer than 2 dates up to {common_end:%Y-%m-%d}; widen the period")
    T = len(calendar)

    def stack(col):
        return np.ascontiguousarray(np.stack([aligned.frames[s][col].reindex(calendar).to_numpy(dtype="float64")
                                              for s in symbols]))
    closes = stack("close")
    first = np.array([(np.flatnonzero(~np.isnan(c))[:1].tolist() or [T])[0] for c in closes], dtype=np.int64)
    return Panel(symbols=list(symbols), calendar=calendar, closes=closes, opens=stack("open"), highs=stack("high"),
                 lows=stack("low"), first=first, aligned=aligned, bars=bars, common_end=common_end)


@dataclass
class Placement:
    """Where one rule sits on a panel: decisions from ``d0``, trading from ``tf`` (indices)."""

    d0: int
    tf: int
    warmup: int


def place(panel: Panel, rule_symbols: list[str], warmup: int, start=None, strategy: str = "the strategy",
          benchmark: str | None = None) -> Placement:
    """``d0`` (first bar where every rule symbol has a price) and ``tf`` (first trading bar: the
    first decision with its whole look-back, once the benchmark has a price too, and not before
    ``start``)."""
    T = len(panel.calendar)
    firsts = [int(panel.first[panel.slot(s)]) for s in rule_symbols] or [0]
    d0 = max(firsts)
    tf = d0 + max(0, warmup - 1)
    if benchmark:
        tf = max(tf, int(panel.first[panel.slot(benchmark)]))
    if tf >= T - 1:
        raise UserError(f"strategy {strategy} needs {warmup} bars of history but the data has {T - d0} "
                        f"({panel.calendar[min(d0, T - 1)]:%Y-%m-%d} to {panel.calendar[-1]:%Y-%m-%d}) where every "
                        "symbol it uses has prices; widen the period")
    if start is not None:
        s = int(np.searchsorted(panel.calendar.values, np.datetime64(pd.Timestamp(start), "ns"), "left"))
        if s >= T - 1:
            raise UserError(f"--start {pd.Timestamp(start):%Y-%m-%d} leaves no bars to trade (data ends "
                            f"{panel.calendar[-1]:%Y-%m-%d})")
        tf = max(tf, s)
    return Placement(d0=d0, tf=tf, warmup=warmup)


def close_only_share(opens: np.ndarray, closes: np.ndarray) -> float:
    """Share of bars whose open equals their close."""
    ok = ~np.isnan(closes)
    return float(np.mean(opens[ok] == closes[ok])) if ok.any() else 0.0


def effective_fill(fill: str, close_only: list[str]) -> tuple[str, int]:
    """``(at, delay)``: the fill mode's timing, at the close when any traded symbol is close-only."""
    at, delay = FILL_TIMING[fill]
    return ("close", delay) if close_only else (at, delay)


def span_warning(panel: Panel, symbols: list[str], d0: int) -> str | None:
    """One line when the symbols' histories differ by more than a year: the shortest symbol and
    the span of the others the run does not use."""
    bars = {s: panel.bars[s] for s in symbols}
    firsts = {s: b.frame.index[0] for s, b in bars.items()}
    lasts = {s: b.frame.index[-1] for s, b in bars.items()}
    late = max(firsts, key=lambda s: (firsts[s], s))
    early = min(firsts, key=lambda s: (firsts[s], s))
    short_end = min(lasts, key=lambda s: (lasts[s], s))
    long_end = max(lasts, key=lambda s: (lasts[s], s))
    lost_start = (firsts[late] - firsts[early]).days
    lost_end = (lasts[long_end] - lasts[short_end]).days
    if lost_start <= SPAN_WARN_DAYS and lost_end <= SPAN_WARN_DAYS:
        return None
    parts = []
    if lost_start > SPAN_WARN_DAYS:
        parts.append(f"{late} starts {firsts[late]:%Y-%m-%d}, {lost_start / 365.25:.1f} years after {early} "
                     f"({firsts[early]:%Y-%m-%d})")
    if lost_end > SPAN_WARN_DAYS:
        parts.append(f"{short_end} ends {lasts[short_end]:%Y-%m-%d}, {lost_end / 365.25:.1f} years before "
                     f"{long_end} ({lasts[long_end]:%Y-%m-%d})")
    return (f"symbol histories differ by more than a year: {'; '.join(parts)}; the run uses only "
            f"{panel.calendar[d0]:%Y-%m-%d} to {panel.calendar[-1]:%Y-%m-%d}, where every symbol has prices")


def adjustment_note(traded: dict, benchmark: tuple | None) -> str | None:
    """One line when the traded legs mix adjustment kinds with each other or the benchmark."""
    try:
        from data_feeds import adjustment_mix
    except ImportError:  # older data layer without declared adjustments
        return None
    return adjustment_mix(traded, benchmark)


@dataclass
class Layout:
    """Everything a single run trades on (see the module docstring)."""

    panel: Panel
    placement: Placement
    calendar: pd.DatetimeIndex   # from d0 to the common end
    tf: int                      # trading starts at calendar[tf]
    closes: dict                 # symbol -> closes on the calendar
    extra: dict                  # "open"/"high"/"low" -> symbol -> array on the calendar
    traded: list
    fill: tuple                  # effective (at, delay)
    close_only: list             # traded symbols with close prices only over the traded span
    warnings: list

    @property
    def trade_from(self) -> pd.Timestamp:
        return self.calendar[self.tf]

    @property
    def dates(self) -> pd.DatetimeIndex:
        return self.calendar[self.tf:]


def layout(config: RunConfig, data: dict[str, Bars], rule, panel: Panel | None = None) -> Layout:
    needed = rule.needed()
    traded = rule.traded()
    symbols = list(dict.fromkeys([*needed, *([config.benchmark] if config.benchmark else [])]))
    panel = panel or build_panel(config, data, symbols)
    warmup = int(rule.warmup_bars())
    pl = place(panel, needed, warmup, config.start, rule.name(), config.benchmark)
    calendar = panel.calendar[pl.d0:]
    closes, extra = panel.arrays(symbols, pl.d0)
    tf = pl.tf - pl.d0
    close_only = []
    for s in traded:
        k = panel.slot(s)
        if panel.bars[s].meta.close_only or close_only_share(panel.opens[k, pl.tf:], panel.closes[k, pl.tf:]) \
                >= CLOSE_ONLY_SHARE:
            close_only.append(s)
    warnings = []
    w = span_warning(panel, symbols, pl.d0)
    if w:
        warnings.append(w)
    kinds = {s: panel.bars[s].meta.adjustment for s in traded}
    bench = (config.benchmark, panel.bars[config.benchmark].meta.adjustment) if config.benchmark else None
    note = adjustment_note(kinds, bench)
    if note:
        if config.strict_adjustment:
            raise UserError(f"{note} (--strict-adjustment)")
        warnings.append(note)
    return Layout(panel=panel, placement=pl, calendar=calendar, tf=tf, closes=closes, extra=extra, traded=traded,
                  fill=effective_fill(config.execution.fill, close_only), close_only=close_only, warnings=warnings)
