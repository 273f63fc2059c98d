"""Performance metrics of a run, as plain numbers (fractions, not percents): one module, computed once.

Ratios and annualised figures follow empyrical-reloaded's definitions (252 periods a year,
risk-free 0 by default, both configurable; ``risk_free`` is a per-period, i.e. daily, rate as in
empyrical), computed here in numpy and tested equal to empyrical's (tests/test_metrics.py,
tests/test_reports.py): importing empyrical costs most of a second (scipy and yfinance come with
it), more than every metric of a run. The ones empyrical lacks (drawdown duration, time in
drawdown, hit rate, turnover, exposure, trade counts, holding periods) are computed here from the
result's own frames.

Returns are the equity curve's day-to-day changes from the first trading date on: the first
equity value is the starting cash (before any fill), so it starts the wealth curve but is not a
return itself. Day counts (drawdown length, holding period) are in trading days (bars) unless a
name or docstring says calendar days.

References a run is compared with (each optional):

* the benchmark (``result.benchmark``): its close scaled to the starting cash;
* growth (``result.growth``): buy-and-hold of the rule's growth basket, closes rebased to the
  starting cash, no costs. ``vs_growth`` answers "what did the rule add over just holding growth".

The same relative metrics (:func:`relative_metrics`) and capture ratios are computed against each.

Tear sheet (:func:`tearsheet`, under ``"tearsheet"`` in :func:`compute_metrics`): worst drawdowns
as quantstats' ``drawdown_details``, annual returns side by side, trailing returns, rolling beta
and correlation, up/down capture, named crises and time spent in each asset. Every function
states its definition: "as quantstats' X" (tested equal) or "ours: ... because ...".

:func:`sharpe` and :func:`cagr` are the vectorised array helpers (1-D or 2-D, empyrical
conventions) used by studies, sweeps and walk-forward objectives.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rotationlab.results import RunResult


__all__ = [
    "PERIODS", "N_WORST_DRAWDOWNS", "N_TEARSHEET_DRAWDOWNS", "METRIC_ROWS", "RELATIVE", "RELATIVE_KEYS",
    "TRADING", "ROLLING_WINDOWS", "TRAILING_PERIODS", "Crisis", "CRISES", "HELD",
    "fmt", "sharpe", "cagr", "annual_volatility", "sortino", "max_drawdown", "calmar", "alpha_beta",
    "excess_sharpe",
    "returns_of", "strategy_returns", "benchmark_returns", "growth_returns", "wealth", "drawdown",
    "drawdown_episodes", "worst_drawdowns", "rotation_episodes", "monthly_returns", "yearly_returns",
    "rolling_return", "rolling_sharpe", "returns_metrics", "relative_metrics", "holding_spans",
    "annual_turnover", "compute_metrics",
    "drawdown_details", "drawdown_table", "annual_returns_table", "trailing_returns", "rolling_relative",
    "rolling_summary", "capture_ratios", "crisis_table", "time_in_assets", "TEARSHEET_NOTES", "tearsheet",
]

PERIODS = 252
N_WORST_DRAWDOWNS = 5
#: Rows of the tear sheet's drawdown tables (quantstats' report shows its worst 10 too).
N_TEARSHEET_DRAWDOWNS = 10
#: Rolling beta / correlation windows, in trading days (about 6 and 12 months).
ROLLING_WINDOWS = (126, 252)
#: A weight above this counts as holding the symbol (time in asset, holding spans).
HELD = 1e-9

#: The metrics table, in order: key, label, format kind. The PDF, the comparison table and the
#: figure annotations all format values with :func:`fmt` from these entries. The fast engine
#: (rotationlab.fast) reproduces these metrics; their names, order and definitions are fixed.
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
#: The keys :func:`relative_metrics` returns (the same as :data:`RELATIVE`).
RELATIVE_KEYS = RELATIVE
#: Metrics that only exist for a traded strategy (not for a benchmark series).
TRADING = ("annual_turnover", "exposure", "n_trades", "n_rotations", "avg_holding_days")

#: Trailing-return periods as of the last date: key, label, months back (None: all time, "mtd",
#: "ytd": from the previous month's / year's last close), annualised. See :func:`trailing_returns`.
TRAILING_PERIODS = (
    ("mtd", "MTD", "mtd", False),
    ("3m", "3M", 3, False),
    ("6m", "6M", 6, False),
    ("ytd", "YTD", "ytd", False),
    ("1y", "1Y", 12, False),
    ("3y", "3Y (ann.)", 36, True),
    ("5y", "5Y (ann.)", 60, True),
    ("10y", "10Y (ann.)", 120, True),
    ("all", "All-time (ann.)", None, True),
)


@dataclass(frozen=True)
class Crisis:
    key: str
    name: str
    peak: str    # S&P 500 closing high the window starts from (YYYY-MM-DD)
    trough: str  # S&P 500 closing low it ends at


#: Named market stress windows: from the S&P 500's closing high (``peak``) to its closing low
#: (``trough``), dates as published by S&P Dow Jones Indices for the index's declines (the same
#: dates Yardeni Research's "S&P 500 bull & bear markets & corrections" tables list). 9/11 runs
#: from the last close before the attacks to the low after markets reopened. Checked against the
#: Yahoo ^GSPC closes in the shared market data: in every window the highest close is on ``peak``
#: and the lowest on ``trough`` (tests/test_metrics.py).
CRISES = (
    Crisis("dotcom", "Dot-com bust", "2000-03-24", "2002-10-09"),
    Crisis("sept11", "9/11", "2001-09-10", "2001-09-21"),
    Crisis("gfc", "Global financial crisis", "2007-10-09", "2009-03-09"),
    Crisis("euro2011", "2011 euro crisis / US downgrade", "2011-04-29", "2011-10-03"),
    Crisis("selloff2015", "2015-16 selloff", "2015-05-21", "2016-02-11"),
    Crisis("q4_2018", "2018 Q4", "2018-09-20", "2018-12-24"),
    Crisis("covid", "COVID crash", "2020-02-19", "2020-03-23"),
    Crisis("bear2022", "2022 bear market", "2022-01-03", "2022-10-12"),
    Crisis("tariff2025", "2025 tariff shock", "2025-02-19", "2025-04-08"),
)


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


def _j(x):
    """A JSON-ready number: a Python float, or None when not finite / missing."""
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None


def _d(x):
    """A date as YYYY-MM-DD (None for NaT / None)."""
    return None if x is None or pd.isna(x) else f"{pd.Timestamp(x):%Y-%m-%d}"


# -- array helpers (empyrical conventions) -----------------------------------------------------
def sharpe(returns, periods: int = 252, risk_free: float = 0.0):
    r"""Annualised Sharpe ratio, as ``empyrical.sharpe_ratio``.

    .. math:: SR = \sqrt{P}\,\frac{\overline{r - r_f}}{s(r - r_f)}

    with the sample standard deviation (ddof=1), NaNs ignored, ``P = periods``.
    Fewer than two observations give NaN; a constant series gives +-inf (or NaN if the
    mean is 0), like empyrical.  Use ``periods=1`` for the per-period Sharpe ratio.
    A 2-D input gives one value per column (ndarray, or Series for a DataFrame).
    """
    arr = np.asarray(returns, dtype=float) - risk_free
    if arr.shape[0] < 2:
        out = np.full(arr.shape[1:], np.nan)
    else:
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns -> NaN
            std = np.nanstd(arr, ddof=1, axis=0)
            constant = (np.nanmax(arr, axis=0) == np.nanmin(arr, axis=0)) & np.isfinite(std)
            std = np.where(constant, 0.0, std)
            out = np.nanmean(arr, axis=0) / std * np.sqrt(periods)
    if arr.ndim == 1:
        return float(out)
    if isinstance(returns, pd.DataFrame):
        return pd.Series(out, index=returns.columns, name="sharpe")
    return out


def cagr(returns, periods: int = 252):
    r"""Compound annual growth rate, as ``empyrical.cagr`` / ``annual_return``.

    .. math:: CAGR = \Big(\prod_t (1 + r_t)\Big)^{P / n} - 1

    where ``n`` counts every row (NaN rows included, their return taken as 0, like
    empyrical) and ``P = periods``.  An empty input gives NaN; a total loss beyond -100%
    gives NaN.  A 2-D input gives one value per column.
    """
    arr = np.asarray(returns, dtype=float)
    n = arr.shape[0]
    if n < 1:
        return float("nan")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        growth = np.nanprod(arr + 1.0, axis=0)
        out = growth ** (1 / (n / periods)) - 1.0  # empyrical's operations: the same bits
    if arr.ndim == 1:
        return float(out)
    if isinstance(returns, pd.DataFrame):
        return pd.Series(out, index=returns.columns, name="cagr")
    return out


# -- empyrical's ratios (same definitions, computed here; tested equal) -------------------------
def _v(r) -> np.ndarray:
    return np.asarray(r, dtype=float)


def annual_volatility(r, periods: int = PERIODS) -> float:
    """``empyrical.annual_volatility``: the sample standard deviation (ddof 1, NaNs ignored) times
    the square root of ``periods``; NaN below two rows."""
    v = _v(r)
    if len(v) < 2:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all NaN: NaN
        return float(np.nanstd(v, ddof=1) * periods ** (1.0 / 2.0))


def sortino(r, required_return: float = 0.0, periods: int = PERIODS) -> float:
    """``empyrical.sortino_ratio``: the annualised mean of ``r - required_return`` over the root
    mean square of its negative part (every row counted), annualised; NaN below two rows."""
    v = _v(r)
    if len(v) < 2:
        return float("nan")
    adj = v - required_return
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        down = np.clip(adj, -np.inf, 0)
        risk = np.sqrt(np.nanmean(np.square(down))) * np.sqrt(periods)
        return float(np.nanmean(adj) * periods / risk)


def max_drawdown(r) -> float:
    """``empyrical.max_drawdown``: the deepest fall of the growth of 100 (NaN returns as 0,
    the starting point included) below its running peak; NaN when empty."""
    v = _v(r)
    if len(v) < 1:
        return float("nan")
    w = np.empty(len(v) + 1)
    w[0] = 100.0
    np.cumprod(np.where(np.isnan(v), 0.0, v) + 1.0, out=w[1:])
    w[1:] *= 100.0
    peak = np.fmax.accumulate(w)
    return float(np.nanmin(((w - peak) / peak)[1:]))


def calmar(r, periods: int = PERIODS) -> float:
    """``empyrical.calmar_ratio``: :func:`cagr` over the depth of :func:`max_drawdown`;
    NaN without a drawdown (or when infinite)."""
    mdd = max_drawdown(r)
    if not mdd < 0:
        return float("nan")
    out = cagr(r, periods) / abs(mdd)
    return float("nan") if np.isinf(out) else out


def alpha_beta(r, ref, risk_free: float = 0.0, periods: int = PERIODS) -> tuple[float, float]:
    """``empyrical.alpha_beta`` of returns ``r`` on reference returns ``ref`` (same dates):
    beta = mean(d * r) / mean(d * d) with d the reference's deviations from its mean over the
    rows where ``r`` is defined (NaN when its variance is below 1e-30); alpha = (mean(r - rf -
    beta (ref - rf)) + 1) ** periods - 1."""
    v, f = _v(r) - risk_free, _v(ref) - risk_free
    if len(v) < 1 or len(f) < 2:
        return float("nan"), float("nan")
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        ind = np.where(np.isnan(v), np.nan, f)
        res = ind - np.nanmean(ind)
        cov = np.nanmean(res * v)
        var = np.nanmean(res * res)
        beta = float(cov / var) if var >= 1.0e-30 else float("nan")
        if len(v) < 2:
            return float("nan"), beta
        alpha = float((np.nanmean(v - beta * f) + 1) ** periods - 1)
    return alpha, beta


def excess_sharpe(r, ref) -> float:
    """``empyrical.excess_sharpe`` (per period): mean of ``r - ref`` over its sample standard
    deviation (0 when constant); NaN below two rows."""
    a = _v(r) - _v(ref)
    if len(a) < 2:
        return float("nan")
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        te = np.nanstd(a, ddof=1)
        if np.nanmax(a) == np.nanmin(a) and np.isfinite(te):
            te = 0.0
        return float(np.nanmean(a) / te)


# -- returns and value series ------------------------------------------------------------------
def returns_of(series: pd.Series) -> pd.Series:
    """Daily returns of a value series: its changes from the second date on (NaN -> 0)."""
    return series.pct_change().iloc[1:].fillna(0.0)


def strategy_returns(result: RunResult) -> pd.Series:
    return returns_of(result.equity).rename("returns")


def benchmark_returns(result: RunResult) -> pd.Series | None:
    if result.benchmark is None:
        return None
    return returns_of(result.benchmark.reindex(result.equity.index)).rename("benchmark")


def _growth_values(result) -> pd.Series | None:
    g = getattr(result, "growth", None)
    return None if g is None else g.reindex(result.equity.index)


def growth_returns(result) -> pd.Series | None:
    """Daily returns of ``result.growth`` (buy-and-hold of the growth basket) on the equity's
    dates, as :func:`benchmark_returns`; None when the run has no growth series."""
    g = _growth_values(result)
    return None if g is None else returns_of(g).rename("growth")


def wealth(r: pd.Series) -> pd.Series:
    """Growth of 1 including the starting point (as empyrical's max_drawdown counts it)."""
    if not len(r):
        return pd.Series(dtype="float64")
    start = r.index[0] - pd.Timedelta(days=1)
    return pd.concat([pd.Series([1.0], index=[start]), (1.0 + r).cumprod()])


def _wealth_on(start, r: pd.Series) -> pd.Series:
    """Growth of 1 from ``start`` (the date of the starting value) through ``r``'s dates."""
    return pd.Series(np.r_[1.0, np.cumprod(1.0 + r.to_numpy(dtype=float))],
                     index=pd.DatetimeIndex([start]).append(pd.DatetimeIndex(r.index)))


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


def _aggregate(r: pd.Series, period: str) -> pd.Series:
    """Compounded returns per calendar month (index: year, month) or year, as
    ``empyrical.aggregate_returns`` (the same numbers to the last bit: the same sequential
    product of ``1 + r`` per group, minus 1), without its per-group Python calls."""
    idx = r.index
    year = pd.Index(idx.year, dtype="int64", name=idx.name)
    if period == "yearly":
        keys = year
    elif period == "monthly":
        keys = [year, pd.Index(idx.month, dtype="int64", name=idx.name)]
    else:
        raise ValueError(f"period must be 'monthly' or 'yearly', not {period!r}")
    return (r + 1.0).groupby(keys).prod() - 1.0


def monthly_returns(r: pd.Series) -> pd.DataFrame:
    """Compounded monthly returns, years as rows and months 1..12 as columns (NaN if no data)."""
    if not len(r):
        return pd.DataFrame(columns=range(1, 13), dtype="float64")
    m = _aggregate(r, "monthly")
    table = m.unstack()
    table.index.name, table.columns.name = "year", "month"
    return table.reindex(columns=range(1, 13))


def yearly_returns(r: pd.Series) -> pd.Series:
    """Compounded calendar-year returns (partial first and last years included)."""
    if not len(r):
        return pd.Series(dtype="float64")
    y = _aggregate(r, "yearly")
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
    windows = np.lib.stride_tricks.sliding_window_view(_v(r), window)  # (n - window + 1, window)
    s = pd.Series(sharpe(windows.T, PERIODS, risk_free), index=r.index[window - 1:])
    return s.reindex(r.index)


def returns_metrics(r: pd.Series, risk_free: float = 0.0, values: pd.Series | None = None) -> dict:
    """Metrics that depend on a daily returns series alone; ``values`` (the value series the
    returns come from, starting point included) dates the drawdowns, else growth of 1 is used."""
    w = wealth(r) if values is None else values.dropna()
    episodes = drawdown_episodes(w)
    monthly = _aggregate(r, "monthly") if len(r) else pd.Series(dtype="float64")
    return {
        "total_return": _f(np.nanprod(_v(r) + 1.0) - 1.0) if len(r) else float("nan"),
        "cagr": _f(cagr(r)),
        "annual_volatility": _f(annual_volatility(r)),
        "sharpe": _f(sharpe(r, PERIODS, risk_free)),
        "sortino": _f(sortino(r, risk_free)),
        "calmar": _f(calmar(r)),
        "max_drawdown": _f(max_drawdown(r)),
        "max_drawdown_days": int(episodes["days"].iloc[0]) if len(episodes) else 0,
        "time_in_drawdown": _f((drawdown(w).iloc[1:] < 0).mean()) if len(r) else float("nan"),
        "best_day": _f(r.max()) if len(r) else float("nan"),
        "worst_day": _f(r.min()) if len(r) else float("nan"),
        "monthly_hit_rate": _f((monthly > 0).mean()) if len(monthly) else float("nan"),
    }


def relative_metrics(r: pd.Series, ref: pd.Series, risk_free: float = 0.0) -> dict:
    """The rule's daily returns ``r`` against a reference's ``ref`` (same dates): the
    :data:`RELATIVE` metrics.

    * ``excess_cagr``: CAGR of ``r`` minus CAGR of ``ref`` (empyrical ``annual_return``);
    * ``tracking_error``: annualised standard deviation (ddof=1) of ``r - ref``;
    * ``information_ratio``: mean / standard deviation of ``r - ref``, times sqrt(252)
      (empyrical ``excess_sharpe``);
    * ``beta``, ``alpha``: empyrical ``alpha_beta`` (alpha annualised, compounded).
    """
    alpha, beta = alpha_beta(r, ref, risk_free)
    return {
        "excess_cagr": _f(_f(cagr(r)) - _f(cagr(ref))),
        "tracking_error": _f(annual_volatility(_v(r) - _v(ref))),
        "information_ratio": _f(excess_sharpe(r, ref) * np.sqrt(PERIODS)),
        "beta": _f(beta), "alpha": _f(alpha),
    }


def holding_spans(weights: pd.DataFrame) -> list[int]:
    """Lengths (in bars) of every uninterrupted run of a symbol held at a positive weight."""
    held = weights.fillna(0.0).gt(HELD)
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


def compute_metrics(result: RunResult, risk_free: float = 0.0, *, with_tearsheet: bool = True) -> dict:
    """Every metric of ``metrics.json``: the strategy's, the benchmark's and growth's, the
    comparisons, and (``with_tearsheet``) the :func:`tearsheet` sections.

    Keys: ``metrics`` (the :data:`METRIC_ROWS` values, relative ones against the benchmark, and
    ``rejected_orders``), ``benchmark_metrics`` / ``growth_metrics`` (:func:`returns_metrics` of
    each reference), ``vs_growth`` (:func:`relative_metrics` against growth), ``drawdowns`` /
    ``benchmark_drawdowns`` / ``growth_drawdowns`` (:func:`worst_drawdowns`), ``trades``,
    ``tearsheet``. A sweep needing only ``metrics`` passes ``with_tearsheet=False``.
    """
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
        out["benchmark_metrics"] = returns_metrics(b, risk_free, bench)
        m.update(relative_metrics(r, b, risk_free))
        out["benchmark"] = result.config.get("benchmark")
        out["benchmark_drawdowns"] = worst_drawdowns(bench)
    g = growth_returns(result)
    if g is not None:
        growth = _growth_values(result)
        out["growth_metrics"] = returns_metrics(g, risk_free, growth)
        out["vs_growth"] = relative_metrics(r, g, risk_free)
        out["growth_drawdowns"] = worst_drawdowns(growth)
    if with_tearsheet:
        out["tearsheet"] = tearsheet(result, r=r, b=b, g=g)
    return out


# -- tear sheet ---------------------------------------------------------------------------------
def drawdown_details(values: pd.Series) -> pd.DataFrame:
    """Every drawdown of a value series, in date order, as quantstats' ``stats.drawdown_details``
    of ``stats.to_drawdown_series(values)`` (tested equal), plus our own columns.

    quantstats' columns (its conventions, kept):

    * ``start``: the first date below the running peak;
    * ``valley``: the date of the lowest value (the first such date);
    * ``end``: the last date below the peak (for a drawdown still open: the last date of the data);
    * ``days``: calendar days from ``start`` to ``end``, both included;
    * ``depth``: the lowest ``value / running peak - 1`` (a negative fraction; quantstats gives
      the same number times 100 as ``max drawdown``).

    Ours, added: ``peak`` (the last date at the high before ``start``), ``recovery`` (the first
    date back at the high: the day after ``end``; NaT if not recovered), ``recovered`` and
    ``trading_days`` (bars from ``peak`` to ``recovery``, or to the last date if not recovered:
    the ``days`` of :func:`drawdown_episodes` and ``max_drawdown_days``).
    """
    values = values.dropna()
    cols = ["peak", "start", "valley", "end", "recovery", "depth", "days", "trading_days", "recovered"]
    if len(values) < 2:
        return pd.DataFrame(columns=cols)
    idx = values.index
    dd = drawdown(values).to_numpy(dtype=float)
    under = dd < 0
    edges = np.diff(np.r_[0, under.astype(np.int8), 0])
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    if not len(starts):
        return pd.DataFrame(columns=cols)
    valleys = np.array([s + int(np.argmin(dd[s:e + 1])) for s, e in zip(starts, ends)], dtype=int)
    n = len(values)
    recovered = ends + 1 < n
    peaks = np.maximum(starts - 1, 0)
    return pd.DataFrame({
        "peak": idx[peaks],
        "start": idx[starts],
        "valley": idx[valleys],
        "end": idx[ends],
        "recovery": pd.DatetimeIndex([idx[e + 1] if ok else pd.NaT for e, ok in zip(ends, recovered)]),
        "depth": dd[valleys],
        "days": (idx[ends] - idx[starts]).days.to_numpy() + 1,
        "trading_days": np.where(recovered, ends + 1, n - 1) - peaks,
        "recovered": recovered,
    }, columns=cols)


def drawdown_table(values: pd.Series, n: int = N_TEARSHEET_DRAWDOWNS) -> list[dict]:
    """The ``n`` deepest drawdowns of :func:`drawdown_details`, deepest first (ties: the earlier
    first), as JSON-ready dicts: ``rank``, dates as YYYY-MM-DD (``recovery`` None if open),
    ``depth`` (fraction), ``days`` (calendar, as quantstats), ``trading_days``, ``recovered``.
    quantstats' report shows the same top 10 ("Worst 10 Drawdowns": start, end, depth, days)."""
    det = drawdown_details(values)
    if not len(det):
        return []
    det = det.sort_values("depth", kind="stable").head(n)
    return [{"rank": i + 1, "peak": _d(e.peak), "start": _d(e.start), "valley": _d(e.valley), "end": _d(e.end),
             "recovery": _d(e.recovery), "depth": float(e.depth), "days": int(e.days),
             "trading_days": int(e.trading_days), "recovered": bool(e.recovered)}
            for i, e in enumerate(det.itertuples())]


def annual_returns_table(r: pd.Series, benchmark: pd.Series | None = None,
                         growth: pd.Series | None = None) -> list[dict]:
    """Calendar-year compounded returns of the rule beside the benchmark's and growth's (each
    :func:`yearly_returns` of daily returns on the same dates; None where a reference is absent).

    Each row: ``year``, ``from`` / ``to`` (the first and last return dates in that year: a first
    or last year that does not start in early January or end in late December is partial),
    ``days`` (number of returns), ``rule``, ``benchmark``, ``growth``."""
    if not len(r):
        return []
    dates = pd.Series(r.index, index=r.index)
    span = dates.groupby(pd.Index(r.index.year, dtype="int64")).agg(["min", "max", "size"])
    rule = yearly_returns(r)
    refs = {k: (yearly_returns(v) if v is not None else None) for k, v in (("benchmark", benchmark),
                                                                          ("growth", growth))}
    return [{"year": int(y), "from": _d(span.loc[y, "min"]), "to": _d(span.loc[y, "max"]),
             "days": int(span.loc[y, "size"]), "rule": _j(rule.get(y)),
             **{k: (_j(v.get(y)) if v is not None else None) for k, v in refs.items()}}
            for y in span.index]


def _anchor(last: pd.Timestamp, months):
    if months == "mtd":
        return last.normalize().replace(day=1) - pd.Timedelta(days=1)
    if months == "ytd":
        return pd.Timestamp(year=last.year - 1, month=12, day=31)
    return last - pd.DateOffset(months=months)


def trailing_returns(values: pd.Series, periods: int = PERIODS) -> dict:
    """Trailing returns of a value series as of its last date, keyed as :data:`TRAILING_PERIODS`.

    Ours: the return from the close of the last date on or before the anchor to the last close,
    i.e. the returns dated after the anchor, compounded; None when the data does not reach back
    to the anchor (no shortened windows). Anchors: MTD the previous month's end, YTD the previous
    year's end (as quantstats' ``metrics()``: its returns dated on or after the 1st); 3M, 6M, 1Y,
    3Y, 5Y, 10Y the same calendar date that many months back (month ends clipped, as
    ``relativedelta``). quantstats' ``metrics()`` keeps returns dated on or after the anchor,
    i.e. one more day when the anchor is a trading day, and uses 35, 59 and 119 months for its
    "3Y/5Y/10Y (ann.)"; ours are the full windows, so that a 1Y return is the change between two
    closes one year apart.

    3Y, 5Y, 10Y and all-time are annualised as the CAGR metric is (and as quantstats' ``cagr``):
    ``(1 + R) ** (periods / n) - 1`` with ``n`` the number of daily returns in the window; the
    all-time figure therefore equals ``cagr``. The others are plain compounded returns.
    """
    v = values.dropna()
    if len(v) < 2:
        return {key: None for key, *_ in TRAILING_PERIODS}
    x = v.to_numpy(dtype=float)
    idx = v.index
    last = idx[-1]
    out = {}
    for key, _label, months, annualised in TRAILING_PERIODS:
        if months is None:
            i = 0
        else:
            i = int(idx.searchsorted(_anchor(last, months), side="right")) - 1
        if i < 0:
            out[key] = None
            continue
        n = len(x) - 1 - i
        total = x[-1] / x[i] - 1.0
        out[key] = _j((1.0 + total) ** (periods / n) - 1.0 if annualised and n > 0 else total)
    return out


def rolling_relative(r: pd.Series, ref: pd.Series, windows=ROLLING_WINDOWS) -> pd.DataFrame:
    """Rolling beta and correlation of daily returns ``r`` to ``ref`` over each window (in
    returns), on ``r``'s dates: columns ``beta_<w>`` and ``correlation_<w>``, NaN until the window
    is full or where a window's variance is zero.

    Beta: sample covariance / sample variance of ``ref`` in the window (as quantstats'
    ``rolling_greeks`` beta and empyrical's ``roll_beta``); correlation: Pearson's."""
    frame = {}
    ref = ref.reindex(r.index).fillna(0.0)
    for w in windows:
        cov = r.rolling(w).cov(ref)
        var_r, var_b = r.rolling(w).var(), ref.rolling(w).var()
        ok_b = var_b > 0
        frame[f"beta_{w}"] = (cov / var_b).where(ok_b)
        corr = cov / np.sqrt(var_r * var_b)
        frame[f"correlation_{w}"] = corr.where(ok_b & (var_r > 0)).clip(-1.0, 1.0)
    return pd.DataFrame(frame, index=r.index)


def rolling_summary(rolling: pd.DataFrame) -> dict:
    """Summary of :func:`rolling_relative`: per window and measure, ``last`` (the last value),
    ``mean``, ``min``, ``max`` over the defined values (None if none)."""
    out = {}
    for col in rolling.columns:
        measure, w = col.rsplit("_", 1)
        s = rolling[col].dropna()
        out.setdefault(w, {})[measure] = {
            "last": _j(s.iloc[-1]) if len(s) else None, "mean": _j(s.mean()) if len(s) else None,
            "min": _j(s.min()) if len(s) else None, "max": _j(s.max()) if len(s) else None}
    return out


def capture_ratios(r: pd.Series, ref: pd.Series, periods: int = PERIODS) -> dict:
    """Up and down capture of daily returns ``r`` against a reference ``ref`` (same dates).

    quantstats has no capture ratio; these are empyrical's ``up_capture`` / ``down_capture``
    (tested equal): over the reference's up days (``ref > 0``), the rule's annualised compounded
    return divided by the reference's, ``cagr(r[up]) / cagr(ref[up])`` with ``n`` the number of
    up days; down capture the same over its down days (``ref < 0``); days with ``ref == 0`` count
    in neither. ``up_down_ratio`` = up / down capture (above 1: more of the rises than of the
    falls). Also ``up_days``, ``down_days``."""
    ref = ref.reindex(r.index).fillna(0.0)
    x, y = r.to_numpy(dtype=float), ref.to_numpy(dtype=float)
    up, down = y > 0, y < 0

    def ratio(mask):
        if not mask.any():
            return float("nan")
        with np.errstate(divide="ignore", invalid="ignore"):
            return cagr(x[mask], periods) / cagr(y[mask], periods)

    u, d = ratio(up), ratio(down)
    with np.errstate(divide="ignore", invalid="ignore"):
        ud = u / d if d != 0 else float("nan")
    return {"up_capture": _j(u), "down_capture": _j(d), "up_down_ratio": _j(ud),
            "up_days": int(up.sum()), "down_days": int(down.sum())}


def crisis_table(values: dict[str, pd.Series | None], crises=CRISES) -> list[dict]:
    """Each named crisis the data covers: the return of every value series over it and the first
    series' (the rule's) maximum drawdown within it.

    ``values``: name -> value series (``{"rule": equity, "benchmark": ..., "growth": ...}``, None
    for an absent reference), all on the same dates; the first name is the rule. Ours: a window
    runs from the close of its ``peak`` date to the close of its ``trough`` date (the daily returns
    dated after the peak up to the trough, compounded), so that the S&P 500 itself shows exactly
    its peak-to-trough decline. When the data starts after the peak (or ends before the trough),
    the window is cut to the data: ``from`` is then the first date (``to`` the last) and
    ``complete`` is False. A window the data does not reach into (fewer than two dates inside)
    is left out. Each row: ``key``, ``name``, ``peak``, ``trough``, ``from``, ``to``, ``days``
    (returns in the window), ``complete``, one return per series, ``<rule>_max_drawdown`` (the
    lowest value / running peak - 1 within the window, the window's first close as the start)."""
    names = list(values)
    first = names[0]
    base = values[first].dropna()
    if len(base) < 2:
        return []
    idx = base.index
    arrays = {k: (v.reindex(idx).to_numpy(dtype=float) if v is not None else None) for k, v in values.items()}
    rows = []
    for c in crises:
        peak, trough = pd.Timestamp(c.peak), pd.Timestamp(c.trough)
        i = max(int(idx.searchsorted(peak, side="right")) - 1, 0)
        j = int(idx.searchsorted(trough, side="right")) - 1
        if j <= i or idx[i] > trough:
            continue
        row = {"key": c.key, "name": c.name, "peak": c.peak, "trough": c.trough, "from": _d(idx[i]),
               "to": _d(idx[j]), "days": j - i, "complete": bool(idx[0] <= peak and idx[-1] >= trough)}
        for k, a in arrays.items():
            row[k] = _j(a[j] / a[i] - 1.0) if a is not None else None
        seg = arrays[first][i:j + 1]
        row[f"{first}_max_drawdown"] = _j(np.min(seg / np.maximum.accumulate(seg) - 1.0))
        rows.append(row)
    return rows


def time_in_assets(weights: pd.DataFrame) -> dict:
    """Time spent in each traded symbol and in cash, from end-of-day weights (one row a day).

    Per symbol: ``share_of_days`` (days with a weight above :data:`HELD`, over all days),
    ``average_weight`` (mean weight over all days), ``holdings`` (uninterrupted runs held) and
    ``average_holding_days`` (their mean length in trading days, as :func:`holding_spans`; a run
    still open at the end counts up to the last day; None if never held). Cash:
    ``share_of_days`` = days holding no symbol at all, ``average_weight`` = mean of 1 - the sum of
    the weights (the cash buffer included). Ours: quantstats' ``exposure`` is a share of days with
    a non-zero return, not a share of holdings, so it is not used."""
    w = weights.fillna(0.0)
    n = len(w)
    if not n:
        return {"days": 0, "symbols": {}, "cash": {"share_of_days": None, "average_weight": None}}
    held = w.gt(HELD)
    symbols = {}
    for s in w.columns:
        on = held[s].to_numpy()
        edges = np.diff(np.r_[0, on.astype(np.int8), 0])
        spans = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
        symbols[str(s)] = {"share_of_days": float(on.mean()), "average_weight": float(w[s].mean()),
                           "holdings": int(len(spans)),
                           "average_holding_days": float(spans.mean()) if len(spans) else None}
    cash = {"share_of_days": float((~held.any(axis=1)).mean()),
            "average_weight": float((1.0 - w.sum(axis=1)).mean())}
    return {"days": int(n), "symbols": symbols, "cash": cash}


#: Short statements of each tear-sheet section's conventions (also in ``metrics.json``).
TEARSHEET_NOTES = {
    "drawdowns": "as quantstats drawdown_details: start = first day below the peak, end = last day below "
                 "it (last date if open), days = calendar days start..end inclusive; plus peak, recovery "
                 "(null if open) and trading_days (peak to recovery or last date)",
    "annual_returns": "calendar-year compounded daily returns; first and last years may be partial",
    "trailing_returns": "as of the last date, from the last close on or before the anchor; 3y, 5y, 10y and "
                        "all-time annualised with 252 returns a year; null if the data is shorter",
    "rolling": "beta (cov/var) and Pearson correlation to the benchmark over 126 and 252 daily returns",
    "capture": "as empyrical up/down_capture: annualised compounded return of the rule over the "
               "reference's up (down) days divided by the reference's",
    "crises": "S&P 500 closing high to closing low; returns close to close; cut to the data if it is shorter",
    "time_in_assets": "share of days with a positive end-of-day weight; cash = days holding nothing",
}


def tearsheet(result: RunResult, *, r: pd.Series | None = None, b: pd.Series | None = None,
              g: pd.Series | None = None) -> dict:
    """Every tear-sheet section of a run, JSON-ready (``r``, ``b``, ``g``: its daily returns, the
    benchmark's and growth's when already computed). Keys: ``drawdowns`` (rule, benchmark,
    growth: :func:`drawdown_table`), ``annual_returns``, ``trailing_returns`` (``as_of`` and one
    dict per series), ``rolling`` (vs the benchmark: :func:`rolling_summary`), ``capture`` (vs
    benchmark and growth), ``crises``, ``time_in_assets`` and ``notes``."""
    r = strategy_returns(result) if r is None else r
    b = benchmark_returns(result) if b is None else b
    g = growth_returns(result) if g is None else g
    eq = result.equity
    start = eq.index[0]
    refs = {"benchmark": b, "growth": g}
    values = {"rule": eq, **{k: (_wealth_on(start, v) if v is not None else None) for k, v in refs.items()}}
    out = {
        "drawdowns": {k: (drawdown_table(v) if v is not None else None) for k, v in values.items()},
        "annual_returns": annual_returns_table(r, b, g),
        "trailing_returns": {"as_of": _d(eq.index[-1]) if len(eq) else None,
                             **{k: (trailing_returns(v) if v is not None else None) for k, v in values.items()}},
        "rolling": {"benchmark": rolling_summary(rolling_relative(r, b)) if b is not None else None},
        "capture": {k: (capture_ratios(r, v) if v is not None else None) for k, v in refs.items()},
        "crises": crisis_table(values),
        "time_in_assets": time_in_assets(result.weights),
        "notes": TEARSHEET_NOTES,
    }
    return out
