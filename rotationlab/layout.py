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
* a history shorter by more than a year is one line naming the shortest symbol and the span it
  costs (a warning when it cuts an explicit --start/--end or a universe of three or more
  symbols; always in the provenance, as is the cut to common dates).

:class:`Panel` holds the aligned arrays of one symbol set (shared by every sweep combination of
that set); :func:`place` puts one rule on it; :func:`layout` does both for a single run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data_feeds import CLOSE_ONLY_SHARE, Bars, adjustment_mix, align, close_only_share, splice_warnings
from rotationlab.config import FILL_TIMING, RunConfig
from rotationlab.errors import UserError

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


def effective_fill(fill: str, close_only: list[str]) -> tuple[str, int]:
    """``(at, delay)``: the fill mode's timing, at the close when any traded symbol is close-only."""
    at, delay = FILL_TIMING[fill]
    return ("close", delay) if close_only else (at, delay)


def span_note(panel: Panel, rule_symbols: list[str], symbols: list[str], pl: "Placement", start=None,
              end=None) -> tuple[str | None, bool]:
    """``(note, warn)``: one line when a short history costs the run more than a year, naming the
    shortest symbol and the span lost (always recorded), and whether to show it as a warning:
    when it cuts an explicit ``--start``/``--end``, or when the rule uses three or more symbols
    (a universe that could have run without the short one). Two-symbol rules such as the
    divergence need both, so their common span is simply what the data allows."""
    bars = {s: panel.bars[s] for s in symbols}
    firsts = {s: b.frame.index[0] for s, b in bars.items()}
    lasts = {s: b.frame.index[-1] for s, b in bars.items()}
    run_from, run_to = panel.calendar[pl.tf], panel.calendar[-1]
    parts, warn = [], False
    late = max(firsts, key=lambda s: (firsts[s], s))
    if start is not None:
        lost = (run_from - pd.Timestamp(start)).days
        if lost > SPAN_WARN_DAYS:
            parts.append(f"--start {pd.Timestamp(start):%Y-%m-%d} but {late} starts {firsts[late]:%Y-%m-%d}: the run "
                         f"starts {run_from:%Y-%m-%d} ({lost / 365.25:.1f} years later)")
            warn = True
    else:
        early = min(firsts, key=lambda s: (firsts[s], s))
        lost = (firsts[late] - firsts[early]).days
        if lost > SPAN_WARN_DAYS:
            parts.append(f"{late} starts {firsts[late]:%Y-%m-%d}, {lost / 365.25:.1f} years after {early} "
                         f"({firsts[early]:%Y-%m-%d})")
            warn = warn or len(rule_symbols) >= 3
    short = min(lasts, key=lambda s: (lasts[s], s))
    if end is not None:
        lost = (pd.Timestamp(end) - run_to).days
        if lost > SPAN_WARN_DAYS:
            parts.append(f"--end {pd.Timestamp(end):%Y-%m-%d} but {short} ends {lasts[short]:%Y-%m-%d} "
                         f"({lost / 365.25:.1f} years earlier)")
            warn = True
    else:
        longest = max(lasts, key=lambda s: (lasts[s], s))
        lost = (lasts[longest] - lasts[short]).days
        if lost > SPAN_WARN_DAYS:
            parts.append(f"{short} ends {lasts[short]:%Y-%m-%d}, {lost / 365.25:.1f} years before {longest} "
                         f"({lasts[longest]:%Y-%m-%d})")
            warn = warn or len(rule_symbols) >= 3
    if not parts:
        return None, False
    return (f"symbol histories differ by more than a year: {'; '.join(parts)}; the run trades "
            f"{run_from:%Y-%m-%d} to {run_to:%Y-%m-%d}, where every symbol has prices"), warn


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
    notes: list = field(default_factory=list)   # recorded in the provenance, not shown as warnings

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
        if close_only_share(panel.opens[k, pl.tf:], panel.closes[k, pl.tf:]) >= CLOSE_ONLY_SHARE:
            close_only.append(s)
    warnings, notes = [], []
    note, warn = span_note(panel, needed, symbols, pl, config.start, config.end)
    if note:
        (warnings if warn else notes).append(note)
    kinds = {s: panel.bars[s].meta.adjustment for s in traded}
    bench = (config.benchmark, panel.bars[config.benchmark].meta.adjustment) if config.benchmark else None
    notes_adj = [adjustment_mix(kinds, bench, data_dir=config.data_dir),
                 *splice_warnings({s: panel.bars[s] for s in symbols})]
    for note in filter(None, notes_adj):
        if config.strict_adjustment:
            raise UserError(f"{note} (--strict-adjustment)")
        warnings.append(note)
    return Layout(panel=panel, placement=pl, calendar=calendar, tf=tf, closes=closes, extra=extra, traded=traded,
                  fill=effective_fill(config.execution.fill, close_only), close_only=close_only, warnings=warnings,
                  notes=notes)
