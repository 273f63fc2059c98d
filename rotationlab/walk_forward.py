"""Walk-forward evaluation: choose parameters in-sample, trade them out-of-sample, stitch.

Every parameter combination of the grid is run once over the whole period (decisions at each close
use data through that close only, so a run's returns in a window are exactly what trading it
then would have given). The calendar is cut into windows: in each, the combination with the best
in-sample objective is chosen (ties: the earlier one in grid order) and its returns over the
following out-of-sample part are kept. The kept pieces, chained, are the walk-forward equity: what
a researcher re-optimising every ``oos_years`` would have earned. Switching costs between chosen
combinations at window edges are not charged (stated in the output).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rotationlab import stats
from rotationlab.errors import UserError

OBJECTIVES = {
    "sharpe": lambda r: stats.sharpe(r),
    "cagr": lambda r: stats.cagr(r),
    "calmar": lambda r: _calmar(r),
}


def _calmar(r) -> float:
    r = np.asarray(r, dtype=float)
    eq = np.cumprod(1 + r)
    dd = float(np.min(eq / np.maximum.accumulate(eq) - 1))
    c = stats.cagr(r)
    return float(c / -dd) if dd < 0 else float("nan")


@dataclass
class WalkForward:
    windows: pd.DataFrame        # one row per window: dates, chosen params, IS and OOS objective
    oos_returns: pd.Series       # stitched out-of-sample daily returns
    benchmark_returns: pd.Series | None
    trial_returns: pd.DataFrame  # every combination's daily returns (columns: combination labels)
    summary: dict


def _windows(dates: pd.DatetimeIndex, is_years: float, oos_years: float, anchored: bool):
    start = dates[0]
    first_oos = start + pd.DateOffset(months=int(round(is_years * 12)))
    step = pd.DateOffset(months=int(round(oos_years * 12)))
    out, oos_start = [], first_oos
    while oos_start <= dates[-1]:
        oos_end = oos_start + step
        is_start = start if anchored else oos_start - pd.DateOffset(months=int(round(is_years * 12)))
        out.append((is_start, oos_start, min(oos_end, dates[-1] + pd.Timedelta(days=1))))
        oos_start = oos_end
    return out


def trial_returns(spec, data: dict, jobs: int = 1) -> tuple[pd.DataFrame, pd.Series | None, dict]:
    """Daily returns of every combination of a sweep spec (columns in grid order, labelled), from
    the fast engine (the backtrader engine's exact decisions and fills); the benchmark's and the
    header of the first combination's run (provenance, versions)."""
    from rotationlab.engine import run
    from rotationlab.sweeps import fast_trials
    _, trials, calendar = fast_trials(spec, spec.combos, data, jobs)
    labels = [c.label(spec.axes) for c in spec.combos]
    frame = pd.DataFrame(trials.T, index=calendar, columns=labels)
    first = run(spec.config(spec.combos[0]), data=data)
    bench = first.benchmark_returns.iloc[1:] if first.benchmark is not None else None
    return frame, bench, first.header()


def walk_forward(spec, data: dict, *, is_years: float = 5, oos_years: float = 1, anchored: bool = False,
                 objective: str = "sharpe", jobs: int = 1) -> WalkForward:
    if objective not in OBJECTIVES:
        raise UserError(f"--objective {objective!r} is unknown; use one of {', '.join(OBJECTIVES)}")
    if is_years <= 0 or oos_years <= 0:
        raise UserError("--is-years and --oos-years must be positive")
    returns, bench, header = trial_returns(spec, data, jobs)
    returns = returns.dropna(how="all")
    wins = _windows(returns.index, is_years, oos_years, anchored)
    if not wins:
        span = f"{returns.index[0]:%Y-%m-%d} to {returns.index[-1]:%Y-%m-%d}"
        raise UserError(f"the period {span} is shorter than --is-years {is_years:g} plus some out-of-sample time; "
                        "shorten --is-years or widen the period")
    score = OBJECTIVES[objective]
    rows, pieces = [], []
    for k, (is0, oos0, oos1) in enumerate(wins):
        ins = returns.loc[(returns.index >= is0) & (returns.index < oos0)]
        oos = returns.loc[(returns.index >= oos0) & (returns.index < oos1)]
        if len(ins) < 20 or len(oos) < 2:
            continue
        scores = ins.apply(lambda c: score(c.dropna().to_numpy()) if c.notna().sum() > 20 else np.nan)
        if scores.notna().sum() == 0:
            continue
        best = scores.idxmax()
        oos_scores = oos.apply(lambda c: score(c.dropna().to_numpy()) if c.notna().sum() > 2 else np.nan)
        pieces.append(oos[best].fillna(0.0))
        rows.append({"window": k + 1, "is_start": ins.index[0], "is_end": ins.index[-1],
                     "oos_start": oos.index[0], "oos_end": oos.index[-1], "chosen": best,
                     "is_objective": float(scores[best]), "oos_objective": float(oos_scores[best]),
                     "oos_median_objective": float(oos_scores.median()),
                     "oos_rank_of_chosen": int((oos_scores > oos_scores[best]).sum()) + 1,
                     "oos_return": float((1 + oos[best].fillna(0.0)).prod() - 1)})
    if not rows:
        raise UserError("no window had enough data; shorten --is-years/--oos-years or widen the period")
    windows = pd.DataFrame(rows)
    oos_r = pd.concat(pieces).rename("walk_forward")
    b = bench.reindex(oos_r.index).fillna(0.0) if bench is not None else None
    full_best = returns.apply(lambda c: score(c.dropna().to_numpy())).idxmax()
    hindsight = returns[full_best].reindex(oos_r.index).fillna(0.0)
    summary = {
        "objective": objective, "is_years": is_years, "oos_years": oos_years,
        "scheme": "anchored (expanding)" if anchored else "rolling",
        "n_windows": int(len(windows)), "n_combinations": int(returns.shape[1]),
        "oos": {"from": f"{oos_r.index[0]:%Y-%m-%d}", "to": f"{oos_r.index[-1]:%Y-%m-%d}",
                "cagr": float(stats.cagr(oos_r.to_numpy())), "sharpe": float(stats.sharpe(oos_r.to_numpy())),
                "objective": float(score(oos_r.to_numpy()))},
        "mean_is_objective_of_chosen": float(windows["is_objective"].mean()),
        "mean_oos_objective_of_chosen": float(windows["oos_objective"].mean()),
        "mean_oos_median_objective": float(windows["oos_median_objective"].mean()),
        "hindsight_best": {"combination": full_best, "cagr_over_oos": float(stats.cagr(hindsight.to_numpy())),
                           "sharpe_over_oos": float(stats.sharpe(hindsight.to_numpy()))},
        "note": "parameters chosen on each in-sample window only; out-of-sample pieces chained; no switching "
                "costs at window edges; 'hindsight best' is the combination best over the whole period "
                "(not tradable, for scale)",
        "run": header,
    }
    if b is not None:
        summary["oos"]["benchmark_cagr"] = float(stats.cagr(b.to_numpy()))
        summary["oos"]["benchmark_sharpe"] = float(stats.sharpe(b.to_numpy()))
    return WalkForward(windows=windows, oos_returns=oos_r, benchmark_returns=b, trial_returns=returns,
                       summary=summary)
