"""Is the best row of a sweep skill or luck? Deflated Sharpe ratio and PBO over every trial.

* Deflated Sharpe ratio (Bailey & Lopez de Prado 2014): the probability that the best
  combination's true Sharpe exceeds what the best of N skill-less trials would show by luck, with
  N the effective number of independent trials (the trials of a grid are highly correlated).
* Probability of backtest overfitting (Bailey, Borwein, Lopez de Prado & Zhu 2017), by
  combinatorially symmetric cross-validation: how often the in-sample best combination ranks in
  the bottom half out of sample.

Both are computed in one pass over the trials, a chunk of whole columns at a time
(:class:`OverfitAccumulator`), in O(T N) time and memory proportional to one chunk plus a few
numbers per trial: a sweep of 40,000 combinations over 5,000 days never needs its 1.6 GB trial
matrix in memory. What each trial leaves behind:

* its per-period Sharpe ratio (for the variance of the trials' Sharpe ratios in the DSR);
* its S per-block sums, sums of centred values and of their squares (the CSCV metrics of every
  split follow from them: :func:`rotationlab.stats.pbo_from_block_sums`);
* its standardised returns, added into one running T-vector: the squared norm of that sum is the
  sum of every entry of the N x N correlation matrix, so the mean pairwise correlation behind the
  effective number of trials is exact without the matrix
  (:func:`rotationlab.stats.standardised_column_sum`);
* if it is the best so far, its own returns (skewness and kurtosis of the best trial).

Raw returns and returns in excess of the benchmark are accumulated side by side from the same
chunks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import kurtosis, skew

from rotationlab import stats

PERIODS = 252
EXCESS_BASIS = "daily returns in excess of the benchmark (Sharpe = information ratio)"
N_EFF_METHOD = ("average correlation, exact: the mean pairwise correlation of all trials from the sum "
                "of their standardised returns (no N x N matrix)")
METHOD = ("DSR: Bailey & Lopez de Prado (2014), N = effective number of trials from their mean "
          "correlation; PBO: CSCV with S splits, Sharpe ratio as the metric")


def _day(x) -> str:
    return f"{x:%Y-%m-%d}" if isinstance(x, pd.Timestamp) else str(x)


class _Basis:
    """Running statistics of the trials on one calendar of rows (raw or excess returns)."""

    def __init__(self, days: pd.Index, n_splits: int):
        self.days = days
        self.n_splits = n_splits
        self.n_rows = len(days)
        self.sr: list[np.ndarray] = []
        self.sums: list[dict] = []
        self.labels: list = []
        self.constant: list = []
        self.zsum = np.zeros(self.n_rows)
        self.best_sr = -np.inf
        self.best_label = None
        self.best_series: np.ndarray | None = None

    @property
    def n_trials(self) -> int:
        return len(self.labels)

    def add(self, x: np.ndarray, labels: list) -> None:
        if self.n_rows < 2:
            self.labels.extend(labels)
            return
        flat = x.max(axis=0) == x.min(axis=0)
        if flat.any():  # zero variance: Sharpe and correlation undefined, left out and counted
            self.constant.extend(lab for lab, f in zip(labels, flat) if f)
            x = np.asfortranarray(x[:, ~flat])
            labels = [lab for lab, f in zip(labels, flat) if not f]
        if not labels:
            return
        sr = np.asarray(stats.sharpe(x, periods=1), dtype=float)
        j = int(np.argmax(sr))
        if sr[j] > self.best_sr:  # strictly: the first of equal Sharpe ratios stays the best
            self.best_sr, self.best_label, self.best_series = float(sr[j]), labels[j], x[:, j].copy()
        self.zsum += stats.standardised_column_sum(x)
        if self.n_rows >= self.n_splits:
            self.sums.append(stats.cscv_block_sums(x, self.n_splits))
        self.sr.append(sr)
        self.labels.extend(labels)

    def merge(self, other: "_Basis") -> None:
        """Add the trials another accumulator saw (on the same days), after this one's."""
        self.labels.extend(other.labels)
        self.constant.extend(other.constant)
        self.sr.extend(other.sr)
        self.sums.extend(other.sums)
        self.zsum += other.zsum
        if other.best_sr > self.best_sr:  # strictly, as add(): ties keep the earlier trial
            self.best_sr, self.best_label, self.best_series = other.best_sr, other.best_label, other.best_series

    def result(self) -> dict:
        n, t, s = self.n_trials, self.n_rows, self.n_splits
        if n < 2 or t < 4 * s:
            flat = f"; {len(self.constant)} constant, left out" if self.constant else ""
            return {"applicable": False,
                    "reason": f"needs at least 2 combinations and {4 * s} common days "
                              f"(have {n + len(self.constant)}, {t}{flat})"}
        sr = np.concatenate(self.sr)
        r = self.best_series
        n_eff = stats.average_correlation_n_eff(float(self.zsum @ self.zsum), n)
        dsr = stats.deflated_sharpe_ratio(self.best_sr, sr, len(r), float(skew(r)),
                                          float(kurtosis(r, fisher=False)), n_trials_effective=n_eff)
        cat = {k: np.concatenate([b[k] for b in self.sums], axis=1) for k in ("raw", "centred", "centred_sq")}
        pbo = stats.pbo_from_block_sums(cat["raw"], cat["centred"], cat["centred_sq"],
                                        self.sums[0]["block_size"], metric="sharpe", labels=self.labels,
                                        n_rows_dropped=self.sums[0]["n_rows_dropped"])
        deg = pbo["degradation"]
        return {
            "applicable": True,
            "n_trials": int(n), "n_trials_effective": n_eff, "n_days": int(t),
            "from": _day(self.days[0]), "to": _day(self.days[-1]),
            "best": str(self.best_label),
            "best_sharpe_annual": float(self.best_sr * np.sqrt(PERIODS)),
            "expected_max_sharpe_annual": float(dsr["sr0"] * np.sqrt(PERIODS)),
            "deflated_sharpe_ratio": float(dsr["dsr"]),
            "psr_vs_zero": float(dsr["psr"]),
            "pbo": float(pbo["pbo"]),
            "pbo_splits": int(pbo["n_splits"]), "pbo_combinations": int(pbo["n_combinations"]),
            "prob_oos_loss": float(pbo["prob_oos_loss"]),
            "degradation_slope": float(pbo["slope"]),
            "logits": [float(x) for x in np.asarray(pbo["logits"])],
            "is_oos": {"is_perf": [float(x) for x in deg["is_perf"]],
                       "oos_perf": [float(x) for x in deg["oos_perf"]]},
            "basis": "daily returns",
            "method": METHOD,
            "n_trials_effective_method": N_EFF_METHOD,
            "n_trials_constant": len(self.constant),
        }


class OverfitAccumulator:
    """Deflated Sharpe ratio and PBO of trials that arrive in chunks of whole columns.

    ``days``: the common calendar of every trial (a DatetimeIndex, or the number of days); each
    block passed to :meth:`add` holds every trial's return on every one of these days, no NaN
    (drop the days on which any trial is missing beforehand: e.g. start at the latest warm-up).
    ``benchmark``: its daily returns on ``days`` (a Series is reindexed to them; NaN allowed);
    with it, the statistics are computed on returns in excess of it (on the days it is known)
    and on raw returns as well. ``n_splits``: CSCV blocks S (even).

    Memory: one block (and its excess over the benchmark) at a time, plus 3 S + 1 numbers per
    trial and one T-vector per basis; time O(T N) for the trials and O(C(S, S/2) N) for CSCV.
    Trials with zero variance over a basis's days have no Sharpe ratio or correlation: they are
    left out of that basis and counted in ``n_trials_constant``.

    :meth:`result` gives what :func:`overfitting` gives (the same dict).
    """

    def __init__(self, days, *, benchmark=None, n_splits: int = 16):
        s = int(n_splits)
        if s < 2 or s % 2:
            raise ValueError(f"n_splits must be an even integer >= 2, got {n_splits}")
        if isinstance(days, (int, np.integer)):
            days = pd.RangeIndex(int(days))
        self.days = pd.Index(days)
        self.n_splits = s
        self._raw = _Basis(self.days, s)
        self._excess = None
        self._bench = None
        if benchmark is not None:
            if isinstance(benchmark, pd.Series):
                b = benchmark.reindex(self.days).to_numpy(dtype=float)
            else:
                b = np.asarray(benchmark, dtype=float).ravel()
            if len(b) != len(self.days):
                raise ValueError(f"benchmark has {len(b)} days, the trials {len(self.days)}")
            self._rows = np.isfinite(b)
            self._bench = b[self._rows]
            self._excess = _Basis(self.days[self._rows], s)

    def add(self, returns_block, labels=None) -> None:
        """Add trials: ``returns_block`` is T x k (ndarray or DataFrame; a DataFrame's columns are
        the default labels and its index is aligned to ``days``), ``labels`` one per column."""
        if isinstance(returns_block, pd.DataFrame):
            if labels is None:
                labels = list(returns_block.columns)
            if not returns_block.index.equals(self.days):
                returns_block = returns_block.reindex(self.days)
        x = np.asarray(returns_block, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        # column-major: every column is reduced alike (one contiguous run) whatever the chunk's
        # width, so identical trials get identical statistics and tie wherever they arrive
        x = np.asfortranarray(x)
        start = self._raw.n_trials + len(self._raw.constant)
        labels = list(labels) if labels is not None else list(range(start, start + x.shape[1]))
        if x.ndim != 2 or x.shape[0] != len(self.days) or len(labels) != x.shape[1]:
            raise ValueError(f"returns_block must be {len(self.days)} days x {len(labels)} trials, "
                             f"got shape {x.shape}")
        bad = ~np.isfinite(x).all(axis=0)
        if bad.any():
            j = int(np.argmax(bad))
            raise ValueError(f"trial {labels[j]!r} has NaN/inf on {int((~np.isfinite(x[:, j])).sum())} of "
                             f"the {len(self.days)} days: pass every trial on the common days only "
                             "(drop the days on which any trial is missing)")
        self._raw.add(x, labels)
        if self._excess is not None:
            self._excess.add(np.asfortranarray(x[self._rows] - self._bench[:, None]), labels)

    def merge(self, other: "OverfitAccumulator") -> "OverfitAccumulator":
        """Add the trials of ``other`` (built on the same days and benchmark, e.g. by another
        process for another chunk of combinations) after this one's; the result is what one
        accumulator fed both chunks in that order gives."""
        if not self.days.equals(other.days) or (self._excess is None) != (other._excess is None):
            raise ValueError("merge needs accumulators on the same days and benchmark")
        self._raw.merge(other._raw)
        if self._excess is not None:
            self._excess.merge(other._excess)
        return self

    def result(self) -> dict:
        """The overfitting dict (see :func:`overfitting`)."""
        raw = self._raw.result()
        if self._excess is None:
            return raw
        out = self._excess.result()
        out["basis"] = EXCESS_BASIS
        out["raw"] = {k: v for k, v in raw.items() if k not in ("logits", "is_oos")}
        return out


def overfitting(trials: pd.DataFrame, *, n_splits: int = 16, benchmark: pd.Series | None = None,
                chunk_columns: int = 1024) -> dict:
    """``trials``: daily returns, one column per combination (every trial run). With a
    ``benchmark``, both statistics are computed on returns in excess of it (the edge a rotation
    rule claims), and on raw returns as well (``raw``).

    Days on which any trial is missing are dropped; the columns are fed to an
    :class:`OverfitAccumulator` ``chunk_columns`` at a time (no copy of the whole frame).

    Returns a dict: ``applicable`` (else ``reason``), ``n_trials``, ``n_trials_effective`` (and
    ``n_trials_effective_method``), ``n_trials_constant``, ``n_days``, ``from``, ``to``,
    ``best``, ``best_sharpe_annual``, ``expected_max_sharpe_annual``, ``deflated_sharpe_ratio``,
    ``psr_vs_zero``, ``pbo``, ``pbo_splits``, ``pbo_combinations``, ``prob_oos_loss``,
    ``degradation_slope``, ``logits``, ``is_oos``, ``basis``, ``method``, and with a benchmark
    ``raw`` (the same without ``logits`` and ``is_oos``, on raw returns).
    """
    k = max(1, int(chunk_columns))
    ok = np.ones(len(trials), dtype=bool)
    for j in range(0, trials.shape[1], k):
        ok &= trials.iloc[:, j:j + k].notna().to_numpy().all(axis=1)
    days = trials.index[ok]
    bench = None if benchmark is None else benchmark.reindex(days)
    acc = OverfitAccumulator(days, benchmark=bench, n_splits=n_splits)
    for j in range(0, trials.shape[1], k):
        part = trials.iloc[:, j:j + k]
        acc.add(part.to_numpy(dtype=float)[ok], list(part.columns))
    return acc.result()


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
