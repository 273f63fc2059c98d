"""The only module that touches backtrader's ``Cerebro``: (config, data) -> :class:`RunResult`."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import backtrader as bt
import numpy as np
import pandas as pd

from data_feeds import Bars, align, get_source
from rotationlab.config import FILL_TIMING, FILLS, Execution, RunConfig, resolve_params
from rotationlab.errors import UserError
from rotationlab.provenance import versions
from rotationlab.results import RunResult


class ArrayFeed(bt.feed.DataBase):
    """A daily feed read from arrays (much faster than ``PandasData``'s cell-by-cell reads)."""

    params = (("frame", None),)

    def start(self):
        super().start()
        f = self.p.frame
        self._rows = list(zip(
            (bt.date2num(d) for d in f.index.to_pydatetime()),
            f["open"].tolist(), f["high"].tolist(), f["low"].tolist(), f["close"].tolist(),
            f["volume"].tolist()))
        self._i = 0

    def _load(self):
        if self._i >= len(self._rows):
            return False
        dt, o, h, lo, c, v = self._rows[self._i]
        self._i += 1
        ln = self.lines
        ln.datetime[0], ln.open[0], ln.high[0], ln.low[0], ln.close[0], ln.volume[0] = dt, o, h, lo, c, v
        ln.openinterest[0] = 0.0
        return True


#: The feed class the engine uses (benchmarks/feed_speed.py swaps it to measure the difference).
FEED = ArrayFeed


class _BpsCommission(bt.CommInfoBase):
    """Commission as a fraction of traded value; sizes may be fractional."""

    params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_PERC), ("percabs", True))


@dataclass
class EngineContext:
    """What the strategy base class reads: aligned closes, calendar and execution settings."""

    closes: dict
    dates: list  # pd.Timestamp per bar (a list: indexing a DatetimeIndex per bar is slow)
    trade_from: pd.Timestamp
    traded: list
    execution: Execution
    fill_timing: tuple  # ("open" | "close", bars after the decision)


def _calendar_days(bars: int) -> int:
    return int(bars * 1.5) + 10


def load_data(config: RunConfig, symbols) -> dict[str, Bars]:
    """All bars of ``symbols`` through ``config.end`` (the engine trims the warm-up itself)."""
    source = get_source(config.source, data_dir=config.data_dir, cache_dir=config.cache_dir,
                        offline=config.offline)
    bars = source.load_many(symbols, None, config.end)
    if config.start:
        for s, b in bars.items():
            if b.frame.index[-1] < pd.Timestamp(config.start):
                raise UserError(f"{s}: data ends {b.meta.last_date}, before --start {config.start}; "
                                "choose an earlier --start")
    return bars


def layout(config: RunConfig, data: dict[str, Bars], needed: list[str], warmup: int) -> dict:
    """The calendar and arrays a run of ``config`` trades on: the data sliced with the warm-up
    margin, aligned, cut to the common end; ``trade_from``; the warm-up bars before it kept, older
    ones dropped. Shared by the engine and the fast engine so both see the same bars.

    Returns ``data`` (the sliced bars), ``panel``, ``calendar``, ``frames``, ``closes`` and
    ``opens`` (symbol -> ndarray on the calendar, NaN before a symbol's first bar), ``trade_from``
    and ``order`` (feeds, the clock first).
    """
    missing = [s for s in needed if s not in data]
    if missing:
        raise UserError(f"no data for {', '.join(missing)}; add them to the data given")
    data = {s: data[s] for s in needed}
    if config.start or config.end:
        lo = (pd.Timestamp(config.start) - pd.Timedelta(days=_calendar_days(warmup))) if config.start else None
        data = {s: b.between(lo, config.end) for s, b in data.items()}
    common_end = min(b.frame.index[-1] for b in data.values())
    panel = align(data, config.align)
    calendar = panel.calendar[panel.calendar <= common_end]
    frames = {s: f.loc[:common_end] for s, f in panel.frames.items()}
    all_closes = panel.closes()
    closes = {s: all_closes[s].reindex(calendar).to_numpy(dtype="float64") for s in needed}

    # Trading starts once every symbol has its warm-up history (or at --start, if later); a
    # symbol listed after an explicit --start joins when its data begins.
    firsts = [int(np.flatnonzero(~np.isnan(closes[s]))[0]) for s in needed]
    ready = max(0, warmup - 1) + (0 if config.start else max(firsts))
    if ready >= len(calendar) - 1:
        raise UserError(f"strategy {config.strategy} needs {warmup} bars of history but the data has "
                        f"{len(calendar)} ({calendar[0]:%Y-%m-%d} to {calendar[-1]:%Y-%m-%d}); widen the period")
    trade_from = calendar[ready]
    if config.start and pd.Timestamp(config.start) > trade_from:
        trade_from = calendar[calendar >= pd.Timestamp(config.start)][0]
    if trade_from >= calendar[-1]:
        raise UserError(f"--start {config.start} leaves no bars to trade (data ends {calendar[-1]:%Y-%m-%d})")
    # Bars older than the warm-up before trade_from can change no decision: drop them.
    keep_from = calendar[max(0, calendar.get_loc(trade_from) - warmup)]
    calendar = calendar[calendar >= keep_from]
    frames = {s: f.loc[keep_from:] for s, f in frames.items()}
    closes = {s: c[-len(calendar):] for s, c in closes.items()}
    order = sorted(needed, key=lambda s: (frames[s].index[0], needed.index(s)))
    if frames[order[0]].index[0] != calendar[0] or len(frames[order[0]].loc[:calendar[-1]]) != len(calendar):
        raise UserError("the symbols' calendars do not nest (use the union alignment policy)")
    opens = {s: frames[s]["open"].reindex(calendar).to_numpy(dtype="float64") for s in needed}
    return {"data": data, "panel": panel, "calendar": calendar, "frames": frames, "closes": closes,
            "opens": opens, "trade_from": trade_from, "order": order, "common_end": common_end}


def run(config: RunConfig, data: dict[str, Bars] | None = None) -> RunResult:
    """Run ``config``; ``data`` (symbol -> Bars) replaces loading from ``config.source``."""
    cls, values = resolve_params(config.strategy, config.params)
    p = SimpleNamespace(**values)
    roles = cls.symbols(p)
    traded = list(dict.fromkeys(roles["traded"]))
    needed = list(dict.fromkeys([*roles["signal"], *traded] + ([config.benchmark] if config.benchmark else [])))
    warmup = cls.warmup_bars(p)
    if data is None:
        data = load_data(config, needed)
    given = data
    lay = layout(config, data, needed, warmup)
    data, panel, calendar, frames, closes, trade_from = (lay["data"], lay["panel"], lay["calendar"], lay["frames"],
                                                         lay["closes"], lay["trade_from"])

    ex = config.execution
    cerebro = bt.Cerebro(stdstats=False, runonce=False, preload=True, quicknotify=True,
                         cheat_on_open=FILL_TIMING[ex.fill][0] == "open")
    # data0 is the clock: the feed that starts first covers every calendar date (union policy).
    for s in lay["order"]:
        f = frames[s].loc[: calendar[-1]]
        cerebro.adddata(FEED(frame=f, name=s))
    cerebro.broker.setcash(ex.cash)
    cerebro.broker.addcommissioninfo(_BpsCommission(commission=ex.commission_bps / 1e4))
    if ex.slippage_bps:
        # slip_out: apply the full slippage even where it leaves the bar's range (close-only bars).
        cerebro.broker.set_slippage_perc(ex.slippage_bps / 1e4, slip_open=True, slip_limit=True,
                                         slip_match=True, slip_out=True)
    if FILL_TIMING[ex.fill][0] == "close":
        cerebro.broker.set_coc(True)  # orders submitted at a close fill at that close
    ctx = EngineContext(closes=closes, dates=list(calendar), trade_from=trade_from, traded=traded, execution=ex,
                        fill_timing=FILL_TIMING[ex.fill])
    strat = cerebro.addstrategy(cls, engine=ctx, **values)  # noqa: F841
    (instance,) = cerebro.run()

    dates = calendar[calendar >= trade_from]
    rec = instance.records
    equity = pd.Series(rec["equity"], index=dates, name="equity")
    weights = pd.DataFrame(rec["weights"], index=dates, columns=traded)
    targets = pd.DataFrame(rec["targets"], index=dates, columns=traded)
    trades = pd.DataFrame(rec["trades"], columns=["date", "symbol", "size", "price", "commission"])
    if len(trades):
        trades["date"] = pd.to_datetime(trades["date"])
    rejected = pd.DataFrame(rec["rejected"], columns=["date", "symbol", "size", "status"])
    signals = None
    if cls.has_signal:
        signals = pd.DataFrame(instance._signal_rows, columns=["date", "spread", "triggered", "state"])
        signals = signals[signals["date"] >= trade_from].set_index("date")
    bench = None
    if config.benchmark:
        b = pd.Series(closes[config.benchmark], index=calendar).loc[trade_from:]
        bench = (b / b.dropna().iloc[0] * ex.cash).rename(config.benchmark)

    fills = {}
    for s in traded:
        at, delay = FILL_TIMING[ex.fill]
        when = {0: "same", 1: "next", 2: "second"}[delay]
        if at == "open" and data[s].meta.close_only:
            fills[s] = f"{when} close (close-only feed)"
        else:
            fills[s] = f"{when} {at}" + (" (study option)" if delay == 0 else "")
    provenance = panel.provenance()
    # identify each series as loaded (whole file or download), not the warm-up slice of it
    provenance["symbols"] = {s: given[s].meta.to_dict() for s in needed}
    provenance["period"] = {"trade_from": f"{trade_from:%Y-%m-%d}", "trade_to": f"{calendar[-1]:%Y-%m-%d}",
                            "warmup_bars": warmup, "data_end_cut_to_common": f"{lay['common_end']:%Y-%m-%d}"}
    execution = {"fill": ex.fill, "fill_rule": FILLS[ex.fill], "fills_by_symbol": fills,
                 "commission_bps": ex.commission_bps, "slippage_bps": ex.slippage_bps,
                 "cash": ex.cash, "cash_buffer": ex.cash_buffer, "drift_tolerance": ex.drift_tolerance,
                 "sizing": "fractional shares" if ex.fractional else "whole shares",
                 "benchmark": f"{config.benchmark} close-to-close, no costs" if config.benchmark else None,
                 "rejected_orders": int(len(rejected))}
    return RunResult(
        equity=equity, benchmark=bench, trades=trades, weights=weights, targets=targets,
        signals=signals, rejected=rejected,
        closes=pd.DataFrame(closes, index=calendar).loc[trade_from:], config=config.to_dict() | {"params": _plain(values)},
        strategy=cls.key, rule=cls.sentence(values), provenance=provenance, execution=execution,
        versions=versions(),
    )


def _plain(values: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
