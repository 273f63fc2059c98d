"""Is the best row of a sweep skill or luck? Deflated Sharpe ratio and PBO over every trial.

* Deflated Sharpe ratio (Bailey & Lopez de Prado 2014): the probability that the best
  combination's true Sharpe exceeds what the best of N skill-less trials would show by luck, with
  N the effective number of independent trials (the trials of a grid are highly correlated).
* Probability of backtest overfitting (Bailey, Borwein, Lopez de Prado & Zhu 2017), by
  combinatorially symmetric cross-validation: how often the in-sample best combination ranks in
  the bottom half out of sample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rotationlab import stats

PERIODS = 252


def overfitting(trials: pd.DataFrame, *, n_splits: int = 16, benchmark: pd.Series | None = None) -> dict:
    """``trials``: daily returns, one column per combination (every trial run). With a
    ``benchmark``, both statistics are computed on returns in excess of it (the edge a rotation
    rule claims), and on raw returns as well (``raw``)."""
    if benchmark is not None:
        excess = trials.sub(benchmark.reindex(trials.index), axis=0)
        out = overfitting(excess, n_splits=n_splits)
        out["basis"] = "daily returns in excess of the benchmark (Sharpe = information ratio)"
        out["raw"] = {k: v for k, v in overfitting(trials, n_splits=n_splits).items()
                      if k not in ("logits", "is_oos")}
        return out
    t = trials.dropna(how="any")
    n_trials = t.shape[1]
    if n_trials < 2 or len(t) < 4 * n_splits:
        return {"applicable": False,
                "reason": f"needs at least 2 combinations and {4 * n_splits} common days (have {n_trials}, {len(t)})"}
    arr = t.to_numpy()
    sr = stats.sharpe(arr, periods=1)  # per-period Sharpe of every trial
    sr = np.asarray(sr, dtype=float)
    best = int(np.nanargmax(sr))
    r = arr[:, best]
    from scipy.stats import kurtosis, skew
    n_eff = float(stats.effective_number_of_trials(arr))
    dsr = stats.deflated_sharpe_ratio(float(sr[best]), sr, len(r), float(skew(r)), float(kurtosis(r, fisher=False)),
                                      n_trials_effective=n_eff)
    pbo = stats.probability_of_backtest_overfitting(arr, n_splits=n_splits)
    deg = pbo["degradation"]
    return {
        "applicable": True,
        "n_trials": int(n_trials), "n_trials_effective": n_eff, "n_days": int(len(t)),
        "from": f"{t.index[0]:%Y-%m-%d}", "to": f"{t.index[-1]:%Y-%m-%d}",
        "best": str(t.columns[best]),
        "best_sharpe_annual": float(sr[best] * np.sqrt(PERIODS)),
        "expected_max_sharpe_annual": float(dsr["sr0"] * np.sqrt(PERIODS)),
        "deflated_sharpe_ratio": float(dsr["dsr"]),
        "psr_vs_zero": float(dsr["psr"]),
        "pbo": float(pbo["pbo"]),
        "pbo_splits": int(pbo["n_splits"]), "pbo_combinations": int(pbo["n_combinations"]),
        "prob_oos_loss": float(pbo["prob_oos_loss"]),
        "degradation_slope": float(pbo["slope"]),
        "logits": [float(x) for x in np.asarray(pbo["logits"])],
        "is_oos": {"is_perf": [float(x) for x in deg["is_perf"]], "oos_perf": [float(x) for x in deg["oos_perf"]]},
        "basis": "daily returns",
        "method": ("DSR: Bailey & Lopez de Prado (2014), N = effective number of trials from their mean "
                   "correlation; PBO: CSCV with S splits, Sharpe ratio as the metric"),
    }


def sweep_trials(spec, data: dict) -> tuple[pd.DataFrame, pd.Series | None]:
    """Daily returns of every combination of a sweep (columns: combination labels), and the
    benchmark's. Uses the fast engine where it reproduces the strategy exactly, else backtrader."""
    from rotationlab import fast
    if fast.kernel_available():
        sets = [dict(zip(spec.names, c.values)) for c in spec.combos]
        res = fast.run_fast(fast.prepare(spec.base, data, sets), sets)
        cols = {}
        for i, c in enumerate(spec.combos):
            eq = res.equity_series(i)
            if eq is not None:
                cols[c.label(spec.axes)] = eq.pct_change().iloc[1:]
        trials = pd.DataFrame(cols)
    else:
        from rotationlab.walk_forward import trial_returns
        trials, _, _ = trial_returns(spec, data)
    bench = None
    if spec.base.benchmark and spec.base.benchmark in data:
        bench = data[spec.base.benchmark].frame["close"].pct_change().reindex(trials.index)
    return trials, bench
