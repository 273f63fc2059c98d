"""Is a run's edge more than luck? Bootstrap intervals, a random-timing null and breakdowns.

* Stationary block-bootstrap confidence intervals (Politis-Romano, resampled as arch does) for CAGR, Sharpe and
  the mean excess return over the benchmark (strategy and benchmark days resampled together).
* Random-timing null (rotation strategies): the same number of rotations with the same holding
  lengths placed at random dates; the p-value says how often random timing did at least as well.
* Results by decade, and strategy returns by the signal state held that day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rotationlab import stats
from rotationlab.results import RunResult

PERIODS = 252


def _cagr(r) -> float:
    r = np.asarray(r, dtype=float)
    return float(np.prod(1.0 + r) ** (PERIODS / len(r)) - 1.0) if len(r) else float("nan")


def _sharpe(r) -> float:
    r = np.asarray(r, dtype=float)
    sd = r.std(ddof=1)
    return float(r.mean() / sd * np.sqrt(PERIODS)) if sd > 0 else float("nan")


def _excess(x) -> float:
    x = np.asarray(x, dtype=float)
    return float((x[:, 0] - x[:, 1]).mean() * PERIODS)


def _basket_returns(closes: pd.DataFrame, weights: dict) -> pd.Series:
    daily = closes[list(weights)].pct_change()
    return sum(w * daily[s] for s, w in weights.items())


def random_timing(result: RunResult, *, n_draws: int, seed) -> dict | None:
    """Random-timing null for a rotation strategy (None when the run has no rotation episodes)."""
    sig = result.signals
    b = result.baskets
    if sig is None or "state" not in sig or not b.get("rotation") or not b.get("growth"):
        return None
    rw, gw = b["rotation"], b["growth"]
    closes = result.closes
    rot_r = _basket_returns(closes, rw)
    gro_r = _basket_returns(closes, gw)
    # held today = state at the previous close (fills follow decisions)
    held = (sig["state"] == "rotated").shift(1, fill_value=False).reindex(closes.index, fill_value=False)
    frame = pd.DataFrame({"rot": rot_r, "gro": gro_r, "held": held}).iloc[1:].dropna()
    episodes = stats.episodes_from_mask(frame["held"].to_numpy())
    if not episodes:
        return None
    out = stats.random_timing_null(frame["rot"].to_numpy(), frame["gro"].to_numpy(), episodes,
                                   n_draws=n_draws, seed=seed, alternative="greater")
    out["method"] = ("rotation basket held on rotated days, growth otherwise, close to close without costs; "
                     "the same episodes placed at random; statistic: total log return")
    return {k: v for k, v in out.items() if k != "null"}


def run_statistics(result: RunResult, *, n_boot: int = 1000, n_draws: int = 1000, seed: int = 0,
                   alpha: float = 0.05) -> dict:
    rng = np.random.default_rng(seed)
    r = result.returns.iloc[1:]
    out = {"seed": seed, "alpha": alpha, "n_boot": n_boot, "n_draws": n_draws}
    out["cagr"] = stats.block_bootstrap_ci(r.to_numpy(), _cagr, n_boot=n_boot, alpha=alpha, seed=rng)
    # Sharpe depends on volatility clustering: blocks of about a month
    out["sharpe"] = stats.block_bootstrap_ci(r.to_numpy(), _sharpe, n_boot=n_boot, alpha=alpha, seed=rng,
                                             block_length=21)
    b = result.benchmark_returns
    if b is not None:
        pair = np.column_stack([r.to_numpy(), b.reindex(r.index).fillna(0.0).to_numpy()])
        out["excess_return"] = stats.block_bootstrap_ci(pair, _excess, n_boot=n_boot, alpha=alpha, seed=rng)
        out["excess_return"]["definition"] = "mean daily return minus benchmark's, times 252"
    out["random_timing"] = random_timing(result, n_draws=n_draws, seed=rng)
    out.update(breakdowns(result))
    return out


def breakdowns(result: RunResult) -> dict:
    """Strategy (and benchmark) CAGR and Sharpe by decade; strategy returns by signal state."""
    r = result.returns.iloc[1:]
    b = result.benchmark_returns
    rows = {}
    for dec, part in r.groupby((r.index.year // 10) * 10):
        row = {"days": int(len(part)), "cagr": _cagr(part), "sharpe": _sharpe(part)}
        if b is not None:
            row["benchmark_cagr"] = _cagr(b.reindex(part.index).fillna(0.0))
        rows[f"{dec}s"] = row
    out = {"by_decade": rows}
    if result.signals is not None:
        state = result.signals["state"].shift(1).reindex(r.index)
        out["by_signal_state"] = {
            str(st): {"days": int(len(part)), "cagr": _cagr(part), "sharpe": _sharpe(part),
                      "hit_rate": float((part > 0).mean())}
            for st, part in r.groupby(state)}
    return out
