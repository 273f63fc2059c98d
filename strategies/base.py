"""``RotationStrategy``: the plumbing every rotation rule shares, done once.

A concrete strategy is its ``params`` (backtrader style, with ``param_docs`` saying what each one
means) plus one method, :meth:`RotationStrategy.decide`, which maps the history *through the
decision date* to target weights. The base class:

* calls ``decide`` at the close of every bar (``prenext`` included, so a symbol that starts later
  never holds back decisions on the others), passing a :class:`History` that cannot see past the
  decision date;
* turns target weights into orders for the next open, sized from that open's prices (notional
  orders), keeping a cash buffer for costs and submitting sells before buys, so a full rebalance
  is not rejected for cash;
* rebalances only when the target changes, a strategy asks for it (calendar rebalancing) or
  actual weights drift from the target by more than ``drift_tolerance``;
* records daily equity, actual and target weights, fills, rejected orders and the signal log.

Orders are market orders: they fill at the next bar's open (the next close for close-only feeds,
whose open is their close). Same-close execution is an explicit engine option for studying lag.
"""

from __future__ import annotations

from dataclasses import dataclass

import backtrader as bt
import numpy as np


class History:
    """Closes up to and including the decision bar ``t``; nothing after it is reachable."""

    def __init__(self, closes: dict[str, np.ndarray], dates, t: int):
        self._closes = closes
        self._dates = dates
        self.t = t

    @property
    def date(self):
        return self._dates[self.t]

    @property
    def prev_date(self):
        """The previous bar's date (None on the first bar)."""
        return self._dates[self.t - 1] if self.t > 0 else None

    def close(self, symbol: str) -> np.ndarray:
        """Closes of ``symbol`` through the decision date (NaN before its first bar)."""
        return self._closes[symbol][: self.t + 1]

    def has(self, symbol: str, bars: int = 1) -> bool:
        """True when ``symbol`` has at least ``bars`` valid closes ending today."""
        c = self._closes[symbol]
        return self.t + 1 >= bars and not np.isnan(c[self.t + 1 - bars : self.t + 1]).any()

    def ret(self, symbol: str, days: int) -> float:
        """Return of ``symbol`` over the last ``days`` bars (NaN if not enough history)."""
        c = self._closes[symbol]
        if self.t < days:
            return float("nan")
        return float(c[self.t] / c[self.t - days] - 1.0)

    def sma(self, symbol: str, days: int) -> float:
        c = self._closes[symbol]
        if self.t + 1 < days:
            return float("nan")
        return float(np.mean(c[self.t + 1 - days : self.t + 1]))


@dataclass(frozen=True)
class Target:
    """Target weights; ``rebalance=True`` forces a rebalance even if the weights are unchanged."""

    weights: dict
    rebalance: bool = False


def equal_weights(symbols) -> dict:
    symbols = list(symbols)
    return {s: 1.0 / len(symbols) for s in symbols} if symbols else {}


class RotationStrategy(bt.Strategy):
    #: One sentence stating the rule; ``{param}`` fields are filled from the parameters.
    rule = ""
    #: What each parameter means (units in the name: ``_days``, fractions for thresholds).
    param_docs: dict = {}
    #: Strategies that log a signal set this; ``signals.csv`` is written for them.
    has_signal = False

    params = (("engine", None),)

    # -- what a concrete strategy provides -----------------------------------------------------
    @classmethod
    def symbols(cls, p) -> dict:
        """``{"signal": [...], "traded": [...]}`` for parameter values ``p`` (a namespace)."""
        raise NotImplementedError

    @classmethod
    def warmup_bars(cls, p) -> int:
        """Bars of history (today included) the first decision needs; loaded before ``--start``."""
        return 0

    def decide(self, hist: History):
        """Target weights (dict or :class:`Target`) at the close of ``hist.date``; None keeps the
        current target."""
        raise NotImplementedError

    def log_signal(self, **fields) -> None:
        self._signal_rows.append({"date": self._hist.date, **fields})

    # -- plumbing ------------------------------------------------------------------------------
    def __init__(self):
        e = self.p.engine
        self._e = e
        self._feeds = {d._name: d for d in self.datas}
        self._traded = [s for s in e.traded if s in self._feeds]
        self._target: dict = {s: 0.0 for s in self._traded}
        self._signal_rows: list = []
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
        self._t = len(self.datas[0]) - 1
        t = self._t
        self._execute_due("close")  # tickets due at this close (same_close / next_close fills)
        self._hist = History(self._e.closes, self._e.dates, t)
        decision = self.decide(self._hist)
        if self._e.dates[t] < self._e.trade_from:
            return
        value = self.broker.getvalue()
        actual = {s: self._position_value(s, self._price(s)) / value for s in self._traded}
        self.records["equity"].append(value)
        self.records["weights"].append(actual)
        force, self._retry = self._retry, False
        changed = False
        if decision is not None:
            if isinstance(decision, Target):
                force, decision = force or decision.rebalance, decision.weights
            unknown = set(decision) - set(self._traded)
            if unknown:
                raise ValueError(f"{type(self).__name__} targets {sorted(unknown)} which are not traded")
            new = {s: float(decision.get(s, 0.0)) for s in self._traded}
            changed = new != self._target
            self._target = new
        self.records["targets"].append(dict(self._target))
        drift = max((abs(actual[s] - self._target[s]) for s in self._traded), default=0.0)
        idle = not self._tickets and not self._open_orders  # nothing waiting to fill
        if changed or force or (drift > self._e.execution.drift_tolerance and idle):
            at, delay = self._e.fill_timing
            self._tickets.append((t + delay, at, dict(self._target)))
            if delay == 0:
                self._execute_due("close")  # study option: filled at this very close

    # Orders are notional ("buy $X of QQQ at the open"), converted to shares at the prices of the
    # bar they fill on, so a full rebalance neither overshoots the cash nor leaves it idle. The
    # decision itself was taken at an earlier close, from data through that close only.
    def next_open(self):
        self._t = len(self.datas[0]) - 1
        self._execute_due("open")

    prenext_open = nextstart_open = next_open

    def _execute_due(self, at):
        due = [k for k in self._tickets if k[0] == self._t and k[1] == at]
        if not due:
            return
        self._tickets = [k for k in self._tickets if k not in due]
        if at == "open":
            price_of = lambda s: self._feeds[s].open[0] if len(self._feeds[s]) else float("nan")  # noqa: E731
        else:
            price_of = self._price
        self._rebalance(price_of, due[-1][2])

    def _price(self, s):
        return self._e.closes[s][self._t]

    def _position_value(self, s, price):
        size = self.getposition(self._feeds[s]).size
        return size * price if size else 0.0

    def _rebalance(self, price_of, target):
        ex = self._e.execution
        prices = {s: price_of(s) for s in self._traded}
        value = self.broker.getcash() + sum(self._position_value(s, prices[s]) for s in self._traded
                                            if not np.isnan(prices[s]))
        # A hair of buffer even at 0: a buy of exactly all the cash can fail on float rounding.
        investable = value * (1.0 - max(ex.cash_buffer, 1e-9))
        orders = []
        for s in self._traded:
            px = prices[s]
            if np.isnan(px):  # not listed yet: its weight stays in cash
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
                "date": self._e.dates[max(self._t, 0)], "symbol": order.data._name,
                "size": order.created.size, "status": order.getstatusname(),
            })
            self._retry = True  # re-size at the next close rather than sit in cash

    # -- describing the rule ---------------------------------------------------------------
    @classmethod
    def defaults(cls) -> dict:
        return {k: v for k, v in cls.params._getitems() if k != "engine"}

    @classmethod
    def sentence(cls, values: dict | None = None) -> str:
        v = {**cls.defaults(), **(values or {})}
        fmt = {k: ((",".join(map(str, x)) or "equal") if isinstance(x, (tuple, list)) else x)
               for k, x in v.items()}
        return cls.rule.format(**fmt)


STRATEGIES: dict[str, type[RotationStrategy]] = {}


def register(key: str):
    def deco(cls):
        cls.key = key
        STRATEGIES[key] = cls
        return cls
    return deco
