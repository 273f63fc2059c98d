"""The backtrader engine, the reference: (config, data) -> :class:`RunResult`.

The only module that touches backtrader's ``Cerebro``. The rule decides at each close through
:class:`strategies.History` (the same decisions the fast engine computes); a backtrader strategy
turns its targets into orders:

* orders are notional ("buy $X of QQQ"), sized from the prices of the bar they fill on, keeping
  a cash buffer for costs, sells submitted before buys;
* a rebalance happens when the target changes, the rule forces one, an order was refused, or a
  weight drifts from its target by more than ``drift_tolerance`` (while nothing is waiting to
  fill);
* fills at the next open (``cheat_on_open``) or, for close fills, at that close
  (``cheat_on_close``); the broker checks cash at execution (``checksubmit`` off: an order is
  refused only if the cash is not there when it executes, in submission order).

Decisions before the first trading bar are computed in plain Python (the rule's state carries
through its whole history); backtrader sees only the traded symbols from that bar on.
"""

from __future__ import annotations

from dataclasses import dataclass

import backtrader as bt
import numpy as np
import pandas as pd

from data_feeds import Bars, get_source
from rotationlab.config import FILLS, Execution, RunConfig, make_rule
from rotationlab.errors import UserError
from rotationlab.layout import Layout, layout
from rotationlab.provenance import versions
from rotationlab.results import RunResult, plain_params, reference_series
from strategies.base import History


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
class _Context:
    rule: object
    hist: History
    lay: Layout
    execution: Execution


class RuleStrategy(bt.Strategy):
    """Runs a :class:`strategies.Rule` in backtrader (see the module docstring)."""

    params = (("ctx", None),)

    def __init__(self):
        ctx = self.p.ctx
        self._rule, self._hist, self._lay, self._ex = ctx.rule, ctx.hist, ctx.lay, ctx.execution
        self._feeds = {d._name: d for d in self.datas}
        self._traded = list(ctx.lay.traded)
        self._closes = ctx.lay.closes
        self._opens = ctx.lay.extra["open"]
        self._tf = ctx.lay.tf
        self._target: dict = {s: 0.0 for s in self._traded}
        self._t = -1
        self._retry = False
        self._tickets: list = []  # (bar index due, "open"|"close", target weights)
        self._open_orders = 0     # submitted, not yet completed or refused
        self.records = {"equity": [], "weights": [], "targets": [], "trades": [], "rejected": []}

    def prenext(self):
        self.next()

    def nextstart(self):
        self.next()

    def next(self):
        t = self._t = self._tf + len(self.datas[0]) - 1
        self._execute_due("close")  # tickets due at this close
        h = self._hist
        h.t = t
        decision = self._rule.decide(h)
        value = self.broker.getvalue()
        actual = {s: self._position_value(s, self._closes[s][t]) / value for s in self._traded}
        self.records["equity"].append(value)
        self.records["weights"].append(actual)
        force, self._retry = self._retry, False
        changed = False
        if decision is not None:
            if hasattr(decision, "weights"):
                force, decision = force or decision.rebalance, decision.weights
            unknown = set(decision) - set(self._traded)
            if unknown:
                raise UserError(f"{self._rule.name()} targets {', '.join(sorted(unknown))}, which it does not "
                                "trade; list every symbol it may hold in symbols()['traded']")
            new = {s: float(decision.get(s, 0.0)) for s in self._traded}
            changed = new != self._target
            self._target = new
        self.records["targets"].append(dict(self._target))
        drift = max((abs(actual[s] - self._target[s]) for s in self._traded), default=0.0)
        idle = not self._tickets and not self._open_orders  # nothing waiting to fill
        if changed or force or (drift > self._ex.drift_tolerance and idle):
            at, delay = self._lay.fill
            self._tickets.append((t + delay, at, dict(self._target)))
            if delay == 0:
                self._execute_due("close")  # study option: filled at this very close

    def next_open(self):
        self._t = self._tf + len(self.datas[0]) - 1
        self._execute_due("open")

    prenext_open = nextstart_open = next_open

    def _execute_due(self, at):
        due = [k for k in self._tickets if k[0] == self._t and k[1] == at]
        if not due:
            return
        self._tickets = [k for k in self._tickets if k not in due]
        prices = self._opens if at == "open" else self._closes
        self._rebalance({s: prices[s][self._t] for s in self._traded}, due[-1][2])

    def _position_value(self, s, price):
        size = self.getposition(self._feeds[s]).size
        return size * price if size else 0.0

    # Orders are notional ("buy $X of QQQ at the open"), converted to shares at the prices of the
    # bar they fill on, so a full rebalance neither overshoots the cash nor leaves it idle. The
    # decision itself was taken at an earlier close, from data through that close only.
    def _rebalance(self, prices, target):
        ex = self._ex
        value = self.broker.getcash() + sum(self._position_value(s, prices[s]) for s in self._traded
                                            if not np.isnan(prices[s]))
        # A hair of buffer even at 0: a buy of exactly all the cash can fail on float rounding.
        investable = value * (1.0 - max(ex.cash_buffer, 1e-9))
        orders = []
        for s in self._traded:
            px = prices[s]
            if np.isnan(px):  # no price: its weight stays in cash
                continue
            have = self.getposition(self._feeds[s]).size
            want = target[s] * investable / px
            if not ex.fractional:
                want = float(np.floor(want))
            delta = want - have
            if abs(delta) > 1e-9 * max(1.0, abs(have)):
                orders.append((delta, s))
        for delta, s in sorted(orders, key=lambda o: o[0] > 0):  # sells first
            self._open_orders += 1
            if delta > 0:
                self.buy(data=self._feeds[s], size=delta)
            else:
                self.sell(data=self._feeds[s], size=-delta)

    def notify_order(self, order):
        if order.status in (order.Completed, order.Canceled, order.Margin, order.Rejected, order.Expired):
            self._open_orders -= 1
        if order.status == order.Completed:
            ex = order.executed
            self.records["trades"].append({
                "date": bt.num2date(ex.dt).date(), "symbol": order.data._name, "size": ex.size,
                "price": ex.price, "commission": ex.comm,
            })
        elif order.status in (order.Margin, order.Rejected):
            self.records["rejected"].append({
                "date": self._lay.calendar[max(self._t, 0)], "symbol": order.data._name,
                "size": order.created.size, "status": order.getstatusname(),
            })
            self._retry = True  # re-size at the next close rather than sit in cash


def load_data(config: RunConfig, symbols) -> dict[str, Bars]:
    """All bars of ``symbols`` through ``config.end`` from ``config.source`` (whole histories:
    the layout decides what is used)."""
    source = get_source(config.source, **config.source_options())
    bars = source.load_many(symbols, None, config.end)
    if config.start:
        for s, b in bars.items():
            if b.frame.index[-1] < pd.Timestamp(config.start):
                raise UserError(f"{s}: data ends {b.meta.last_date}, before --start {config.start}; "
                                "choose an earlier --start")
    return bars


def needed_symbols(config: RunConfig, rule=None) -> list[str]:
    """Every symbol a run of ``config`` uses: the rule's (signal first) and the benchmark."""
    rule = rule or make_rule(config.strategy, config.params)
    return list(dict.fromkeys([*rule.needed(), *([config.benchmark] if config.benchmark else [])]))


def prepare_rule(rule, lay: Layout, log: bool = True) -> History:
    """Start ``rule`` and run its decisions over the bars before trading starts (their targets
    are not traded; the state they build is). Returns the History positioned at ``tf - 1``."""
    closes = {s: lay.closes[s] for s in rule.needed()}
    extra = {k: {s: v[s] for s in closes} for k, v in lay.extra.items()}
    h = History(closes, lay.calendar, 0, extra)
    rule._hist = h
    rule._signal_rows = [] if (log and rule.has_signal) else None
    rule.start()
    for t in range(lay.tf):
        h.t = t
        rule.decide(h)
    return h


def run(config: RunConfig, data: dict[str, Bars] | None = None, rule=None) -> RunResult:
    """Run ``config`` in backtrader; ``data`` (symbol -> Bars) replaces loading from its source;
    ``rule`` (an instance) replaces building it from ``config.strategy``/``params``."""
    rule = rule or make_rule(config.strategy, config.params)
    if data is None:
        data = load_data(config, needed_symbols(config, rule))
    lay = layout(config, data, rule)
    ex = config.execution
    hist = prepare_rule(rule, lay)

    at, _ = lay.fill
    cerebro = bt.Cerebro(stdstats=False, runonce=False, preload=True, quicknotify=True,
                         cheat_on_open=at == "open")
    dates = lay.dates
    for s in lay.traded:
        k = lay.panel.slot(s)
        t0 = lay.placement.tf
        frame = pd.DataFrame({"open": lay.panel.opens[k, t0:], "high": lay.panel.highs[k, t0:],
                              "low": lay.panel.lows[k, t0:], "close": lay.panel.closes[k, t0:],
                              "volume": 0.0}, index=dates)
        cerebro.adddata(FEED(frame=frame, name=s))
    broker = cerebro.broker
    broker.setcash(ex.cash)
    broker.set_checksubmit(False)
    broker.addcommissioninfo(_BpsCommission(commission=ex.commission_bps / 1e4))
    if ex.slippage_bps:
        # slip_out: apply the full slippage even where it leaves the bar's range (close-only bars).
        broker.set_slippage_perc(ex.slippage_bps / 1e4, slip_open=True, slip_limit=True, slip_match=True,
                                 slip_out=True)
    if at == "close":
        broker.set_coc(True)  # orders submitted at a close fill at that close
    cerebro.addstrategy(RuleStrategy, ctx=_Context(rule=rule, hist=hist, lay=lay, execution=ex))
    (instance,) = cerebro.run()
    return build_result(config, rule, lay, instance.records, engine="backtrader")


def build_result(config: RunConfig, rule, lay: Layout, rec: dict, engine: str) -> RunResult:
    """The :class:`RunResult` of a run's records (equity, weights, targets, trades, refusals)."""
    ex = config.execution
    dates = lay.dates
    traded = lay.traded
    equity = pd.Series(rec["equity"], index=dates, name="equity")
    weights = pd.DataFrame(rec["weights"], index=dates, columns=traded)
    targets = pd.DataFrame(rec["targets"], index=dates, columns=traded)
    trades = pd.DataFrame(rec["trades"], columns=["date", "symbol", "size", "price", "commission"])
    if len(trades):
        trades["date"] = pd.to_datetime(trades["date"])
    rejected = pd.DataFrame(rec["rejected"], columns=["date", "symbol", "size", "status"])
    signals = None
    if rule.has_signal and rule._signal_rows is not None:
        signals = rule.signal_frame(lay.calendar, start=lay.tf)
    closes = pd.DataFrame(lay.closes, index=lay.calendar).loc[lay.trade_from:]
    bench = None
    if config.benchmark:
        bench = reference_series(closes, {config.benchmark: 1.0}, ex.cash).rename(config.benchmark)
    baskets = rule.baskets()
    growth = None
    if baskets.get("growth"):
        growth = reference_series(closes, baskets["growth"], ex.cash).rename("growth")
    at, delay = lay.fill
    when = {0: "same", 1: "next", 2: "second"}[delay]
    fills = {}
    for s in traded:
        why = " (close prices only)" if s in lay.close_only else (
            f" (a traded series has close prices only: {', '.join(lay.close_only)})" if lay.close_only else "")
        fills[s] = f"{when} {at}{why}" + (" (study option)" if delay == 0 else "")
    pl = lay.placement
    provenance = lay.panel.aligned.provenance()
    provenance["symbols"] = {s: lay.panel.bars[s].meta.to_dict() for s in lay.closes}
    provenance["period"] = {"trade_from": f"{lay.trade_from:%Y-%m-%d}", "trade_to": f"{dates[-1]:%Y-%m-%d}",
                            "warmup_bars": pl.warmup, "decisions_from": f"{lay.calendar[0]:%Y-%m-%d}",
                            "data_end_cut_to_common": f"{lay.panel.common_end:%Y-%m-%d}"}
    provenance["close_only"] = list(lay.close_only)
    provenance["adjustment"] = {s: lay.panel.bars[s].meta.adjustment for s in lay.closes}
    provenance["warnings"] = list(lay.warnings)
    provenance["notes"] = list(lay.notes)
    execution = {"fill": ex.fill, "fill_rule": FILLS[ex.fill], "fill_timing": {"at": at, "bars_after_decision": delay},
                 "fills_by_symbol": fills, "close_only_symbols": list(lay.close_only),
                 "one_fill_time": "every order of a rebalance fills at the same time; a run with a close-only "
                                  "traded series fills at the close",
                 "commission_bps": ex.commission_bps, "slippage_bps": ex.slippage_bps,
                 "cash": ex.cash, "cash_buffer": ex.cash_buffer, "drift_tolerance": ex.drift_tolerance,
                 "sizing": "fractional shares" if ex.fractional else "whole shares",
                 "benchmark": f"{config.benchmark} close-to-close, no costs" if config.benchmark else None,
                 "growth": ("buy-and-hold of the growth basket " + "+".join(baskets["growth"]) +
                            ", close-to-close, no costs") if growth is not None else None,
                 "rejected_orders": int(len(rejected)), "engine": engine}
    roles = rule.symbols()
    return RunResult(
        equity=equity, benchmark=bench, growth=growth, trades=trades, weights=weights, targets=targets,
        signals=signals, rejected=rejected, closes=closes,
        config=config.to_dict() | {"params": plain_params(rule.values)},
        strategy=rule.name(), rule=rule.sentence(), provenance=provenance, execution=execution,
        versions=versions(), roles={k: list(v) for k, v in roles.items()},
        baskets={k: dict(v) for k, v in baskets.items()}, signal_info=rule.describe_signal(),
        warnings=tuple(lay.warnings),
    )
