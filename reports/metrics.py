"""Performance metrics of a run, as plain numbers (fractions, not percents).

Ratios and annualised figures come from empyrical-reloaded (252 periods a year, risk-free 0 by
default, both configurable; ``risk_free`` is a per-period, i.e. daily, rate as in empyrical); the
few it lacks (drawdown duration, time in drawdown, hit rate, turnover, exposure, trade counts,
holding periods) are computed here from the result's own frames.

Returns are the equity curve's day-to-day changes from the first trading date on: the first
equity value is the starting cash (before any fill), so it starts the wealth curve but is not a
return itself. Day counts (drawdown length, holding period) are in trading days (bars).
"""

from __future__ import annotations

import empyrical as ep
import numpy as np
import pandas as pd

from rotationlab.results import RunResult

PERIODS = 252
N_WORST_DRAWDOWNS = 5

#: The metrics table, in order: key, label, format kind. The PDF, the comparison table and the
#: figure annotations all format values with :func:`fmt` from these entries.
METRIC_ROWS = [
    ("total_return", "Total return", "pct"),
    ("cagr", "CAGR", "pct"),
    ("annual_volatility", "Annual volatility", "pct"),
    ("sharpe", "Sharpe ratio", "ratio"),
    ("sortino", "Sortino ratio", "ratio"),
    ("calmar", "Calmar ratio", "ratio"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("max_drawdown_days", "Max drawdown days (peak to recovery)", "days"),
    ("time_in_drawdown", "Time in drawdown", "pct"),
    ("best_day", "Best day", "pct"),
    ("worst_day", "Worst day", "pct"),
    ("monthly_hit_rate", "Monthly hit rate (months up)", "pct"),
    ("annual_turnover", "Annual turnover (one-way, x equity)", "ratio"),
    ("exposure", "Exposure (average invested weight)", "pct"),
    ("n_trades", "Trades (fills)", "int"),
    ("n_rotations", "Rotations (episodes)", "int"),
    ("avg_holding_days", "Average holding days", "days1"),
    ("excess_cagr", "Excess CAGR vs benchmark", "pct"),
    ("tracking_error", "Tracking error", "pct"),
    ("information_ratio", "Information ratio", "ratio"),
    ("beta", "Beta", "ratio"),
    ("alpha", "Alpha (annualised)", "pct"),
]
#: Metrics that compare the strategy with its benchmark (no benchmark column of their own).
RELATIVE = ("excess_cagr", "tracking_error", "information_ratio", "beta", "alpha")
#: Metrics that only exist for a traded strategy (not for a benchmark series).
TRADING = ("annual_turnover", "exposure", "n_trades", "n_rotations", "avg_holding_days")


def fmt(value, kind: str) -> str:
    """``value`` as shown in reports (percent with two decimals, ratios with two...)."""
    if value is None:
        return "n/a"
    if isinstance(value, float) and not np.isfinite(value):
        return "n/a"
    if kind == "pct":
        return f"{value:.2%}"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "days":
        return f"{value:,.0f}"
    if kind == "days1":
        return f"{value:,.1f}"
    if kind == "int":
        return f"{int(value):,d}"
    return str(value)


def _f(x) -> float:
    x = float(x)
    return x if np.isfinite(x) else float("nan")


def returns_of(series: pd.Series) -> pd.Series:
    """Daily returns of a value series: its changes from the second date on (NaN -> 0)."""
    return series.pct_change().iloc[1:].fillna(0.0)


def strategy_returns(result: RunResult) -> pd.Series:
    return returns_of(result.equity).rename("returns")


def benchmark_returns(result: RunResult) -> pd.Series | None:
    if result.benchmark is None:
        return None
    return returns_of(result.benchmark.reindex(result.equity.index)).rename("benchmark")


def wealth(r: pd.Series) -> pd.Series:
    """Growth of 1 including the starting point (as empyrical's max_drawdown counts it)."""
    if not len(r):
        return pd.Series(dtype="float64")
    start = r.index[0] - pd.Timedelta(days=1)
    return pd.concat([pd.Series([1.0], index=[start]), (1.0 + r).cumprod()])


def drawdown(equity: pd.Series) -> pd.Series:
    """Fraction below the running peak at each date (0 at a new high, negative below it)."""
    return equity / equity.cummax() - 1.0


def drawdown_episodes(equity: pd.Series) -> pd.DataFrame:
    """Each drawdown, deepest first: peak, trough and recovery dates (NaT if not recovered),
    depth (a negative fraction), ``days`` from peak to recovery (or to the last date if not
    recovered) and ``recovered``; lengths in trading days (bars)."""
    equity = equity.dropna()
    cols = ["peak", "trough", "recovery", "depth", "days", "recovered"]
    if len(equity) < 2:
        return pd.DataFrame(columns=cols)
    dd = drawdown(equity).to_numpy()
    idx = equity.index
    rows, peak_i, in_dd, trough_i = [], 0, False, 0
    for i, v in enumerate(dd):
        if v < 0:
            if not in_dd:
                in_dd, trough_i = True, i
            elif v < dd[trough_i]:
                trough_i = i
        else:
            if in_dd:
                rows.append((peak_i, trough_i, i))
                in_dd = False
            peak_i = i
    if in_dd:
        rows.append((peak_i, trough_i, None))
    out = pd.DataFrame({
        "peak": [idx[p] for p, _, _ in rows],
        "trough": [idx[t] for _, t, _ in rows],
        "recovery": [idx[r] if r is not None else pd.NaT for _, _, r in rows],
        "depth": [float(dd[t]) for _, t, _ in rows],
        "days": [(r if r is not None else len(idx) - 1) - p for p, _, r in rows],
        "recovered": [r is not None for _, _, r in rows],
    }, columns=cols)
    return out.sort_values("depth", kind="stable").reset_index(drop=True)


def worst_drawdowns(equity: pd.Series, n: int = N_WORST_DRAWDOWNS) -> list[dict]:
    """The ``n`` deepest drawdowns as JSON-ready dicts (dates as YYYY-MM-DD, None if open)."""
    eps = drawdown_episodes(equity).head(n)
    d = lambda x: None if pd.isna(x) else f"{x:%Y-%m-%d}"  # noqa: E731
    return [{"rank": i + 1, "peak": d(e.peak), "trough": d(e.trough), "recovery": d(e.recovery),
             "depth": float(e.depth), "days": int(e.days), "recovered": bool(e.recovered)}
            for i, e in enumerate(eps.itertuples())]


def rotation_episodes(result: RunResult) -> pd.DataFrame:
    """Spans during which a signal strategy was rotated (state 'rotated'): start, end.

    ``start`` is the first close in the rotated state, ``end`` the first close after it (or the
    last date if the run ends rotated)."""
    sig = result.signals
    if sig is None or "state" not in sig or not len(sig):
        return pd.DataFrame({"start": pd.Series(dtype="datetime64[ns]"),
                             "end": pd.Series(dtype="datetime64[ns]")})
    on = (sig["state"] == "rotated").astype(int)
    change = on.diff().fillna(on.iloc[0])
    starts = list(on.index[change == 1])
    ends = list(on.index[change == -1])
    if len(ends) < len(starts):
        ends.append(on.index[-1])
    return pd.DataFrame({"start": pd.to_datetime(starts), "end": pd.to_datetime(ends)})


def monthly_returns(r: pd.Series) -> pd.DataFrame:
    """Compounded monthly returns, years as rows and months 1..12 as columns (NaN if no data)."""
    if not len(r):
        return pd.DataFrame(columns=range(1, 13), dtype="float64")
    m = ep.aggregate_returns(r, "monthly")
    table = m.unstack()
    table.index.name, table.columns.name = "year", "month"
    return table.reindex(columns=range(1, 13))


def yearly_returns(r: pd.Series) -> pd.Series:
    """Compounded calendar-year returns (partial first and last years included)."""
    if not len(r):
        return pd.Series(dtype="float64")
    y = ep.aggregate_returns(r, "yearly")
    y.index.name = "year"
    return y


def rolling_return(r: pd.Series, window: int = PERIODS) -> pd.Series:
    """Compounded return over the trailing ``window`` returns (NaN until it is full)."""
    w = wealth(r)
    return (w / w.shift(window) - 1.0).iloc[1:]


def rolling_sharpe(r: pd.Series, window: int = PERIODS, risk_free: float = 0.0) -> pd.Series:
    """empyrical's rolling Sharpe ratio over ``window`` returns, on ``r``'s dates (NaN until full)."""
    if len(r) < window:
        return pd.Series(np.nan, index=r.index)
    s = ep.roll_sharpe_ratio(r, window, risk_free=risk_free, annualization=PERIODS)
    return s.reindex(r.index)


def returns_metrics(r: pd.Series, risk_free: float = 0.0, values: pd.Series | None = None) -> dict:
    """Metrics that depend on a daily returns series alone; ``values`` (the value series the
    returns come from, starting point included) dates the drawdowns, else growth of 1 is used."""
    w = wealth(r) if values is None else values.dropna()
    episodes = drawdown_episodes(w)
    monthly = ep.aggregate_returns(r, "monthly") if len(r) else pd.Series(dtype="float64")
    return {
        "total_return": _f(ep.cum_returns_final(r)) if len(r) else float("nan"),
        "cagr": _f(ep.annual_return(r, annualization=PERIODS)),
        "annual_volatility": _f(ep.annual_volatility(r, annualization=PERIODS)),
        "sharpe": _f(ep.sharpe_ratio(r, risk_free=risk_free, annualization=PERIODS)),
        "sortino": _f(ep.sortino_ratio(r, required_return=risk_free, annualization=PERIODS)),
        "calmar": _f(ep.calmar_ratio(r, annualization=PERIODS)),
        "max_drawdown": _f(ep.max_drawdown(r)),
        "max_drawdown_days": int(episodes["days"].iloc[0]) if len(episodes) else 0,
        "time_in_drawdown": _f((drawdown(w).iloc[1:] < 0).mean()) if len(r) else float("nan"),
        "best_day": _f(r.max()) if len(r) else float("nan"),
        "worst_day": _f(r.min()) if len(r) else float("nan"),
        "monthly_hit_rate": _f((monthly > 0).mean()) if len(monthly) else float("nan"),
    }


def holding_spans(weights: pd.DataFrame) -> list[int]:
    """Lengths (in bars) of every uninterrupted run of a symbol held at a positive weight."""
    held = weights.fillna(0.0).gt(1e-9)
    spans = []
    for s in held.columns:
        on = held[s].astype(int)
        runs = on.groupby((on != on.shift()).cumsum()).agg(["first", "size"])
        spans += [int(x) for x in runs.loc[runs["first"] == 1, "size"]]
    return spans


def annual_turnover(result: RunResult) -> float:
    """One-way turnover a year: traded value (buys + sells) / 2 / equity that day, summed, per year."""
    eq = result.equity
    years = (len(eq) - 1) / PERIODS
    if years <= 0:
        return float("nan")
    t = result.trades
    if not len(t):
        return 0.0
    value = (t["size"] * t["price"]).abs()
    daily = value.groupby(pd.to_datetime(t["date"]).to_numpy()).sum()
    daily = daily.reindex(eq.index, fill_value=0.0)
    return _f((daily / eq).sum() / 2.0 / years)


def compute_metrics(result: RunResult, risk_free: float = 0.0) -> dict:
    """Every metric of ``metrics.json``: the strategy's, the benchmark's and the comparison."""
    r = strategy_returns(result)
    m = returns_metrics(r, risk_free, result.equity)
    m["annual_turnover"] = annual_turnover(result)
    m["exposure"] = _f(result.weights.fillna(0.0).sum(axis=1).mean()) if len(result.weights) else float("nan")
    m["n_trades"] = int(len(result.trades))
    m["n_rotations"] = int(len(rotation_episodes(result)))
    spans = holding_spans(result.weights)
    m["avg_holding_days"] = _f(np.mean(spans)) if spans else float("nan")
    m["rejected_orders"] = int(len(result.rejected))
    t = result.trades
    out = {"metrics": m, "periods_per_year": PERIODS, "risk_free": risk_free,
           "returns_from": f"{r.index[0]:%Y-%m-%d}" if len(r) else None,
           "returns_to": f"{r.index[-1]:%Y-%m-%d}" if len(r) else None,
           "n_returns": int(len(r)),
           "drawdowns": worst_drawdowns(result.equity),
           "trades": {"fills": int(len(t)), "buys": int((t["size"] > 0).sum()), "sells": int((t["size"] < 0).sum()),
                      "commission": _f(t["commission"].sum()) if len(t) else 0.0,
                      "by_symbol": {str(k): int(v) for k, v in t["symbol"].value_counts(sort=False).items()}}}
    b = benchmark_returns(result)
    if b is not None:
        bench = result.benchmark.reindex(result.equity.index)
        bm = returns_metrics(b, risk_free, bench)
        alpha, beta = ep.alpha_beta(r, b, risk_free=risk_free, annualization=PERIODS)
        m.update({
            "excess_cagr": _f(m["cagr"] - bm["cagr"]),
            "tracking_error": _f(ep.annual_volatility(r - b, annualization=PERIODS)),
            "information_ratio": _f(ep.excess_sharpe(r, b) * np.sqrt(PERIODS)),
            "beta": _f(beta), "alpha": _f(alpha),
        })
        out["benchmark_metrics"] = bm
        out["benchmark"] = result.config.get("benchmark")
        out["benchmark_drawdowns"] = worst_drawdowns(bench)
    return out
