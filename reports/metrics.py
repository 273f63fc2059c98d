"""Performance metrics of a run, as plain numbers (fractions, not percents).

Ratios and annualised figures come from empyrical-reloaded (252 periods a year, risk-free 0 by
default); the few it lacks (drawdown duration, hit rate, turnover, exposure, trade counts) are
computed here from the result's own frames.
"""

from __future__ import annotations

import empyrical as ep
import numpy as np
import pandas as pd

from rotationlab.results import RunResult

PERIODS = 252


def _f(x) -> float:
    x = float(x)
    return x if np.isfinite(x) else float("nan")


def drawdown(equity: pd.Series) -> pd.Series:
    """Fraction below the running peak at each date (0 at a new high, negative below it)."""
    return equity / equity.cummax() - 1.0


def drawdown_episodes(equity: pd.Series) -> pd.DataFrame:
    """Each drawdown: peak, trough and recovery dates (NaT if not recovered), depth, days."""
    dd = drawdown(equity)
    rows, peak, in_dd = [], equity.index[0], False
    for date, v in dd.items():
        if v < 0 and not in_dd:
            in_dd, trough, depth = True, date, v
        elif v < 0 and in_dd and v < depth:
            trough, depth = date, v
        elif v == 0:
            if in_dd:
                rows.append((peak, trough, date, depth))
                in_dd = False
            peak = date
    if in_dd:
        rows.append((peak, trough, pd.NaT, depth))
    out = pd.DataFrame(rows, columns=["peak", "trough", "recovery", "depth"])
    pos = {d: i for i, d in enumerate(equity.index)}
    end = [pos[r] if not pd.isna(r) else len(equity) - 1 for r in out["recovery"]]
    out["days"] = [e - pos[p] for p, e in zip(out["peak"], end)]
    return out.sort_values("depth", kind="stable").reset_index(drop=True)


def rotation_episodes(result: RunResult) -> pd.DataFrame:
    """Spans during which a signal strategy was rotated (state 'rotated'): start, end."""
    if result.signals is None or "state" not in result.signals:
        return pd.DataFrame(columns=["start", "end"])
    on = (result.signals["state"] == "rotated").astype(int)
    change = on.diff().fillna(on.iloc[0])
    starts = list(on.index[change == 1])
    ends = list(on.index[change == -1])
    if len(ends) < len(starts):
        ends.append(on.index[-1])
    return pd.DataFrame({"start": starts, "end": ends})


def returns_metrics(r: pd.Series, risk_free: float = 0.0) -> dict:
    """Metrics that depend on a daily returns series alone."""
    equity = (1 + r).cumprod()
    episodes = drawdown_episodes(equity) if len(r) else pd.DataFrame()
    monthly = ep.aggregate_returns(r, "monthly")
    return {
        "total_return": _f(ep.cum_returns_final(r)),
        "cagr": _f(ep.annual_return(r, annualization=PERIODS)),
        "annual_volatility": _f(ep.annual_volatility(r, annualization=PERIODS)),
        "sharpe": _f(ep.sharpe_ratio(r, risk_free=risk_free, annualization=PERIODS)),
        "sortino": _f(ep.sortino_ratio(r, required_return=risk_free, annualization=PERIODS)),
        "calmar": _f(ep.calmar_ratio(r, annualization=PERIODS)),
        "max_drawdown": _f(ep.max_drawdown(r)),
        "max_drawdown_days": int(episodes["days"].iloc[0]) if len(episodes) else 0,
        "time_in_drawdown": _f((drawdown(equity) < 0).mean()),
        "best_day": _f(r.max()),
        "worst_day": _f(r.min()),
        "monthly_hit_rate": _f((monthly > 0).mean()),
    }


def compute_metrics(result: RunResult, risk_free: float = 0.0) -> dict:
    """Every metric of ``metrics.json``: the strategy's, the benchmark's and the comparison."""
    r = result.returns
    m = returns_metrics(r, risk_free)
    years = len(r) / PERIODS
    eq = result.equity
    traded = result.trades.assign(value=lambda t: (t["size"] * t["price"]).abs())
    daily_traded = traded.groupby("date")["value"].sum().reindex(eq.index, fill_value=0.0)
    m["turnover"] = _f((daily_traded / eq).sum() / 2.0 / years) if years else float("nan")
    m["exposure"] = _f(result.weights.sum(axis=1).mean())
    m["n_trades"] = int(len(result.trades))
    eps = rotation_episodes(result)
    m["n_rotations"] = int(len(eps))
    held = result.weights.gt(1e-9)
    spans = []
    for s in held.columns:
        on = held[s].astype(int)
        runs = on.groupby((on != on.shift()).cumsum()).agg(["first", "size"])
        spans += list(runs.loc[runs["first"] == 1, "size"])
    m["avg_holding_days"] = _f(np.mean(spans)) if spans else float("nan")
    m["rejected_orders"] = int(len(result.rejected))
    out = {"metrics": m, "periods_per_year": PERIODS, "risk_free": risk_free}
    b = result.benchmark_returns
    if b is not None:
        b = b.reindex(r.index).fillna(0.0)
        bm = returns_metrics(b, risk_free)
        active = r - b
        te = _f(active.std(ddof=1) * np.sqrt(PERIODS))
        alpha, beta = ep.alpha_beta(r, b, risk_free=risk_free, annualization=PERIODS)
        m.update({
            "excess_cagr": _f(m["cagr"] - bm["cagr"]),
            "tracking_error": te,
            "information_ratio": _f(ep.excess_sharpe(r, b) * np.sqrt(PERIODS)),
            "beta": _f(beta), "alpha": _f(alpha),
        })
        out["benchmark_metrics"] = bm
        out["benchmark"] = result.config.get("benchmark")
    return out
