"""An independent target-weights simulator (pandas/numpy, no backtrader) to cross-check the engine.

Given each day's target weights (decided at the close), it applies the same documented execution
rules as the engine: rebalance when the target changes or a weight drifts beyond the tolerance;
notional orders filled at the next open (the open of a close-only feed is its close), sized from
that open's prices with a cash buffer, sells before buys; slippage and commission in basis points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate(targets: pd.DataFrame, opens: pd.DataFrame, closes: pd.DataFrame, *, cash: float,
             commission_bps=0.0, slippage_bps=0.0, cash_buffer=0.0, drift_tolerance=0.05,
             fractional=True, forced_dates=(), fill_at: str = "open") -> pd.Series:
    """Equity at each close of ``targets.index``. ``fill_at="close"``: a rebalance decided at one
    close fills at the next close (after that close's equity is recorded), as the engine fills
    every order when a traded series has close prices only."""
    symbols = list(targets.columns)
    o = opens.reindex(targets.index)[symbols].to_numpy()
    c = closes.reindex(targets.index)[symbols].to_numpy()
    w = targets.to_numpy()
    comm, slip = commission_bps / 1e4, slippage_bps / 1e4
    forced = set(pd.DatetimeIndex(forced_dates))
    shares = np.zeros(len(symbols))
    equity = np.empty(len(w))
    prev_target = np.zeros(len(symbols))
    pending = False
    def trade(px, target):
        nonlocal cash
        live = ~np.isnan(px)
        value = cash + np.nansum(np.where(live, shares * px, 0.0))
        want = np.where(live, target * value * (1 - cash_buffer) / np.where(live, px, 1.0), shares)
        if not fractional:
            want = np.where(live, np.floor(want), shares)
        delta = want - shares
        for i in sorted(range(len(symbols)), key=lambda i: delta[i] > 0):
            if not live[i] or abs(delta[i]) <= 1e-9 * max(1.0, abs(shares[i])):
                continue
            fill = px[i] * (1 + slip) if delta[i] > 0 else px[i] * (1 - slip)
            cash -= delta[i] * fill + abs(delta[i]) * fill * comm
            shares[i] += delta[i]

    for t in range(len(w)):
        if fill_at == "close":
            value = cash + np.nansum(np.where(np.isnan(c[t]), 0.0, shares * c[t]))
            equity[t] = value
            actual = np.where(np.isnan(c[t]), 0.0, shares * c[t]) / value
            changed = not np.array_equal(w[t], prev_target)
            drift = np.max(np.abs(actual - w[t])) if len(symbols) else 0.0
            due = pending
            pending = changed or (drift > drift_tolerance and not due) or targets.index[t] in forced
            if due:
                trade(c[t], w[t - 1])
            prev_target = w[t]
            continue
        if pending:
            px = o[t - 1 + 1]
            live = ~np.isnan(px)
            value = cash + np.nansum(np.where(live, shares * px, 0.0))
            want = np.where(live, w[t - 1] * value * (1 - cash_buffer) / np.where(live, px, 1.0), shares)
            if not fractional:
                want = np.where(live, np.floor(want), shares)
            delta = want - shares
            for i in sorted(range(len(symbols)), key=lambda i: delta[i] > 0):
                if not live[i] or abs(delta[i]) <= 1e-9 * max(1.0, abs(shares[i])):
                    continue
                fill = px[i] * (1 + slip) if delta[i] > 0 else px[i] * (1 - slip)
                cash -= delta[i] * fill + abs(delta[i]) * fill * comm
                shares[i] += delta[i]
        value = cash + np.nansum(np.where(np.isnan(c[t]), 0.0, shares * c[t]))
        equity[t] = value
        actual = np.where(np.isnan(c[t]), 0.0, shares * c[t]) / value
        changed = not np.array_equal(w[t], prev_target)
        drift = np.max(np.abs(actual - w[t])) if len(symbols) else 0.0
        pending = changed or drift > drift_tolerance or targets.index[t] in forced
        prev_target = w[t]
    return pd.Series(equity, index=targets.index, name="equity")
