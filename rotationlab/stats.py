"""Statistics core of Rotation Lab: is a rotation rule's edge real, or luck?

Every function here is pure: numpy/pandas in, plain floats, dicts and frames out.
Every random function takes ``seed`` (an int or a ``numpy.random.Generator``) and is
deterministic for a given int seed (a Generator passed in is advanced, as usual).

Contents
--------
Helpers
    :func:`sharpe`, :func:`cagr` -- empyrical conventions (from :mod:`rotationlab.metrics`,
    their one definition; tested equal to empyrical).
Bootstrap confidence intervals
    :func:`block_bootstrap_ci` -- stationary block bootstrap (Politis & Romano 1994) of
    any statistic of a (multi-column) daily series, resampled as ``arch.bootstrap`` does
    (:func:`stationary_bootstrap_indices`, :func:`optimal_block_length`; tested equal).
    :func:`mean_ci_block_bootstrap` -- the same for event-study means.
Random nulls (permutation-style p-values)
    :func:`random_date_null` -- event dates vs as many random eligible dates.
    :func:`circular_shift_null` -- the whole pattern of event dates shifted by one random
    offset (keeps their clustering).
    :func:`random_timing_null` -- a rotation strategy vs the same episodes placed at
    random non-overlapping dates; :func:`random_episode_starts`, :func:`episodes_from_mask`.
Selection bias / overfitting
    :func:`probabilistic_sharpe_ratio`, :func:`expected_max_sharpe`,
    :func:`deflated_sharpe_ratio` (Bailey & Lopez de Prado 2012, 2014),
    :func:`effective_number_of_trials` (the average-correlation one exact in O(T N) via
    :func:`standardised_column_sum` and :func:`average_correlation_n_eff`),
    :func:`probability_of_backtest_overfitting` (CSCV; Bailey, Borwein, Lopez de Prado
    & Zhu 2017), also from per-block sums of trials arriving in column chunks:
    :func:`cscv_block_sums`, :func:`pbo_from_block_sums`, :func:`cscv_splits`.

P-value convention
------------------
Monte-Carlo p-values use ``(1 + #{null >= observed}) / (1 + n_draws)`` (Davison &
Hinkley 1997, eq. 4.11; Phipson & Smyth 2010): never zero, and exactly uniform under
the null when the observed value is exchangeable with the draws.  Ties count against
the observed value (conservative).  Two-sided: ``min(1, 2 * min(p_greater, p_less))``.

Sharpe ratios in the DSR/PBO section are *per period* (not annualised) unless said
otherwise; kurtosis is *Pearson* kurtosis (normal = 3), not excess kurtosis.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from rotationlab.metrics import cagr, sharpe

__all__ = [
    "EULER_MASCHERONI",
    "sharpe",
    "cagr",
    "block_bootstrap_ci",
    "mean_ci_block_bootstrap",
    "random_date_null",
    "circular_shift_null",
    "random_timing_null",
    "random_episode_starts",
    "episodes_from_mask",
    "probabilistic_sharpe_ratio",
    "expected_max_sharpe",
    "deflated_sharpe_ratio",
    "effective_number_of_trials",
    "standardised_column_sum",
    "average_correlation_n_eff",
    "probability_of_backtest_overfitting",
    "cscv_splits",
    "cscv_block_sums",
    "pbo_from_block_sums",
]

EULER_MASCHERONI = 0.5772156649015329
DEFAULT_QUANTILES = (0.025, 0.05, 0.5, 0.95, 0.975)

SeedLike = int | np.random.Generator


def _rng(seed: SeedLike) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


# --------------------------------------------------------------------------------------
# Helpers (empyrical conventions)
# --------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------
# Stationary block bootstrap (Politis & Romano 1994), drawn as arch.bootstrap draws it
# --------------------------------------------------------------------------------------

def stationary_bootstrap_indices(n: int, block_length: float, rng: np.random.Generator) -> np.ndarray:
    """Row indices of one stationary-bootstrap resample of ``n`` rows with mean block length
    ``block_length``: a block starts at a uniformly drawn row and continues with the next rows
    (wrapping around the end) until a uniform draw below ``1 / block_length`` starts a new one.

    The generator is called exactly as ``arch.bootstrap.StationaryBootstrap`` calls it (n
    integers, then n uniforms, per resample), so a seed gives arch's resamples index for index
    (tests/test_stats.py holds the two together); this module does not import arch, which
    costs a second of imports (its models, numba, scipy)."""
    starts = rng.integers(n, size=n, dtype=np.int64)
    u = rng.random(n)
    u[0] = 0.0  # row 0 starts a block whatever its draw
    first = np.flatnonzero(u <= 1.0 / block_length)  # the rows that start a block
    length = np.empty(len(first), dtype=np.int64)
    np.subtract(first[1:], first[:-1], out=length[:-1])
    length[-1] = n - first[-1]
    out = np.repeat(starts[first] - first, length)
    out += np.arange(n)
    out[out >= n] -= n
    return out


def optimal_block_length(x: np.ndarray) -> float:
    """Politis & White (2004) automatic mean block length of the stationary bootstrap for the
    series ``x``, with the correction of Patton, Politis & White (2009), capped at
    ``min(3 sqrt(n), n / 3)``: ``arch.bootstrap.optimal_block_length(x)["stationary"]``,
    operation for operation (tested equal)."""
    nobs = x.shape[0]
    eps = x - x.mean(0)
    b_max = np.ceil(min(3 * np.sqrt(nobs), nobs / 3))
    kn = max(5, int(np.log10(nobs)))
    m_max = int(np.ceil(np.sqrt(nobs))) + kn
    # the first kn consecutive autocorrelations inside the band +-2 sqrt(log10(n) / n)
    cv = 2 * np.sqrt(np.log10(nobs) / nobs)
    acv = np.zeros(m_max + 1)
    abs_acorr = np.zeros(m_max + 1)
    opt_m = None
    for i in range(m_max + 1):
        v1 = eps[i + 1:] @ eps[i + 1:]
        v2 = eps[: -(i + 1)] @ eps[: -(i + 1)]
        cross_prod = eps[i:] @ eps[: nobs - i]
        acv[i] = cross_prod / nobs
        abs_acorr[i] = np.abs(cross_prod) / np.sqrt(v1 * v2)
        if i >= kn and opt_m is None and np.all(abs_acorr[i - kn: i] < cv):
            opt_m = i - kn
    m = 2 * max(opt_m, 1) if opt_m is not None else m_max
    m = min(m, m_max)
    g = 0.0
    lr_acv = acv[0]
    for k in range(1, m + 1):
        lam = 1 if k / m <= 1 / 2 else 2 * (1 - k / m)
        g += 2 * lam * k * acv[k]
        lr_acv += 2 * lam * acv[k]
    d_sb = 2 * lr_acv ** 2
    b_sb = ((2 * g ** 2) / d_sb) ** (1 / 3) * nobs ** (1 / 3)
    return float(min(b_sb, b_max))


def _auto_block_length(data: np.ndarray) -> float:
    """:func:`optimal_block_length`, the largest over the columns, at least 1.  Constant
    columns are skipped."""
    cols = data.reshape(len(data), -1)
    keep = [j for j in range(cols.shape[1]) if np.nanstd(cols[:, j]) > 0]
    if not keep or len(cols) < 4:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        est = np.array([optimal_block_length(cols[:, j]) for j in keep])
    est = est[np.isfinite(est)]
    return float(max(1.0, est.max())) if est.size else 1.0


def block_bootstrap_ci(
    returns,
    stat_fn: Callable,
    *,
    n_boot: int = 1000,
    block_length: float | None = None,
    alpha: float = 0.05,
    seed: SeedLike,
    method: str = "percentile",
) -> dict:
    r"""Stationary block bootstrap confidence interval for ``stat_fn(returns)``.

    Rows are resampled in blocks of geometric length with mean ``block_length``
    (Politis & Romano 1994, "The Stationary Bootstrap", JASA 89:1303-1313), which keeps
    short-range dependence (autocorrelation, volatility clustering within a block).  A
    DataFrame / 2-D array is resampled **row-wise jointly**, so paired statistics such as
    the mean excess return of a strategy over its benchmark keep the pairing.

    The resamples are :func:`stationary_bootstrap_indices` (arch's, draw for draw) and the
    interval is arch's ``conf_int``: ``method`` ``"percentile"`` (default), ``"basic"`` or
    ``"norm"``.  With ``block_length=None`` the mean block length is the Politis & White
    (2004) automatic choice, corrected by Patton, Politis & White (2009)
    (:func:`optimal_block_length`), the largest over the columns, floored at 1.  For
    statistics driven by volatility (Sharpe, drawdown) consider passing a longer block
    explicitly: the automatic choice looks only at the autocorrelation of the levels.

    Parameters
    ----------
    returns : Series, DataFrame or array (n,) / (n, k)
        Rows with any NaN are dropped first.
    stat_fn : callable
        Called with the resampled rows, of the same type as ``returns`` (a Series stays a
        Series, a DataFrame a DataFrame, an array an array); returns a scalar.  The index
        of a resampled pandas object is meaningless (repeated, out of order): ``stat_fn``
        must not use it.  Pass numpy arrays for speed.
    n_boot, alpha, seed, method
        Replications, 1 - coverage, RNG seed, interval method.

    Returns
    -------
    dict with ``estimate`` (stat_fn on the data), ``low``, ``high``, ``alpha``,
    ``block_length``, ``n_boot``, ``n_obs``, ``method`` (e.g.
    ``"stationary-bootstrap/percentile"``).
    """
    if method not in ("percentile", "basic", "norm"):
        raise ValueError(f"method must be percentile, basic or norm, got {method!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if n_boot < 10:
        raise ValueError(f"n_boot must be at least 10, got {n_boot}")
    if isinstance(returns, (pd.Series, pd.DataFrame)):
        data = returns.dropna(how="any") if isinstance(returns, pd.DataFrame) else returns.dropna()
        values = data.to_numpy(dtype=float)
    else:
        values = np.asarray(returns, dtype=float)
        if values.ndim not in (1, 2):
            raise ValueError("returns must be 1-D or 2-D")
        mask = np.isfinite(values) if values.ndim == 1 else np.isfinite(values).all(axis=1)
        values = values[mask]
        data = values
    n = len(values)
    if n < 2:
        raise ValueError(f"need at least 2 complete rows, got {n}")
    if block_length is None:
        block_length = _auto_block_length(values)
    block_length = float(block_length)
    if not block_length >= 1.0:
        raise ValueError(f"block_length must be >= 1, got {block_length}")

    def func(x):
        return np.atleast_1d(np.asarray(stat_fn(x), dtype=float))

    base = float(func(data)[0])
    rng = _rng(seed)
    take = data.iloc.__getitem__ if isinstance(data, (pd.Series, pd.DataFrame)) else data.__getitem__
    results = np.array([func(take(stationary_bootstrap_indices(n, block_length, rng)))[0]
                        for _ in range(int(n_boot))])
    # the interval as arch.bootstrap's conf_int computes it (tail "two", size 1 - alpha), with its
    # operations: 1 - (1 - alpha) is not alpha to the last bit, and the bounds would differ there
    a = (1.0 - (1.0 - alpha)) / 2
    if method == "norm":
        from scipy.special import ndtri
        err = float(np.sqrt((results - results.mean()) @ (results - results.mean()) / len(results)))
        low, high = base + ndtri(a) * err, base + ndtri(1.0 - a) * err
    else:
        low, high = np.percentile(results, [100 * a, 100 * (1.0 - a)])
        if method == "basic":
            low, high = 2.0 * base - high, 2.0 * base - low
    return {
        "estimate": base,
        "low": float(low),
        "high": float(high),
        "alpha": float(alpha),
        "block_length": block_length,
        "n_boot": int(n_boot),
        "n_obs": int(n),
        "method": f"stationary-bootstrap/{method}",
    }


def mean_ci_block_bootstrap(
    values,
    *,
    n_boot: int = 1000,
    block_length: float | None = None,
    min_block_length: float = 1.0,
    alpha: float = 0.05,
    seed: SeedLike,
    method: str = "percentile",
) -> dict:
    """Block-bootstrap CI of the mean of an event study's outcomes.

    ``values`` are the outcomes (e.g. h-day forward returns) of successive events, in
    event order.  Overlapping forward windows make neighbouring outcomes dependent, so
    the event sequence is resampled with the stationary block bootstrap
    (:func:`block_bootstrap_ci` with ``stat_fn = mean``), not iid.  The mean block length
    is ``block_length`` if given, else ``max(Politis-White estimate, min_block_length)``;
    for h-day forward returns sampled on consecutive days pass ``min_block_length=h``.
    NaNs are dropped.  Returns the keys of :func:`block_bootstrap_ci` (``n_obs`` is the
    number of events used).
    """
    arr = np.asarray(values, dtype=float).ravel()
    arr = arr[np.isfinite(arr)]
    if block_length is None and len(arr) >= 2:
        block_length = max(_auto_block_length(arr), float(min_block_length))
    return block_bootstrap_ci(arr, np.mean, n_boot=n_boot, block_length=block_length,
                              alpha=alpha, seed=seed, method=method)


# --------------------------------------------------------------------------------------
# Monte-Carlo p-values
# --------------------------------------------------------------------------------------

_VECTORISABLE = (np.mean, np.median, np.sum, np.nanmean, np.nanmedian, np.nansum)


def _null_summary(observed: float, null: np.ndarray, quantiles, alternative: str,
                  band_alpha: float) -> dict:
    n = len(null)
    greater = (1.0 + np.count_nonzero(null >= observed)) / (1.0 + n)
    less = (1.0 + np.count_nonzero(null <= observed)) / (1.0 + n)
    two = min(1.0, 2.0 * min(greater, less))
    chosen = {"greater": greater, "less": less, "two-sided": two}
    if alternative not in chosen:
        raise ValueError(f"alternative must be one of {sorted(chosen)}, got {alternative!r}")
    qs = np.quantile(null, list(quantiles)) if n else np.full(len(quantiles), np.nan)
    low, high = np.quantile(null, [band_alpha / 2, 1 - band_alpha / 2])
    return {
        "observed": float(observed),
        "p_value": float(chosen[alternative]),
        "alternative": alternative,
        "p_value_greater": float(greater),
        "p_value_less": float(less),
        "p_value_two_sided": float(two),
        "null_mean": float(np.mean(null)),
        "null_std": float(np.std(null, ddof=1)) if n > 1 else float("nan"),
        "null_quantiles": {float(q): float(v) for q, v in zip(quantiles, qs)},
        "null_low": float(low),
        "null_high": float(high),
        "band_alpha": float(band_alpha),
        "n_draws": int(n),
    }


def random_date_null(
    values_by_date: pd.Series,
    n_events: int | None = None,
    *,
    event_dates=None,
    observed: float | None = None,
    n_draws: int = 2000,
    seed: SeedLike,
    stat: Callable = np.mean,
    alternative: str = "two-sided",
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    band_alpha: float = 0.05,
    return_null: bool = False,
) -> dict:
    r"""Random-date null for an event study.

    ``values_by_date`` holds the forward outcome on every eligible day (NaN = not
    eligible, e.g. too close to the end for an h-day forward return).  The observed
    statistic ``stat(values at the event dates)`` is compared with
    ``stat(values at n_events dates drawn at random without replacement from the eligible
    days)``, ``n_draws`` times.  The draws may include the event dates themselves (the
    null is "the signal days are like any days").  Each draw reaches ``stat`` as a 1-D
    array in date order; ``np.mean``, ``np.median``, ``np.sum`` and their nan-versions
    are applied to all draws at once.

    Give either ``event_dates`` (labels of ``values_by_date``; those whose value is NaN
    are dropped and counted in ``n_events_dropped``), from which ``n_events`` and
    ``observed`` follow, or ``n_events`` and ``observed``.

    P-values (see module docstring):
    :math:`p_{>} = (1 + \#\{S^*_b \ge S\}) / (1 + B)`, :math:`p_{<}` likewise,
    two-sided :math:`\min(1, 2\min(p_{>}, p_{<}))`; ``p_value`` is the one named by
    ``alternative``.

    Returns
    -------
    dict with ``observed``, ``p_value``, ``alternative``, ``p_value_greater``,
    ``p_value_less``, ``p_value_two_sided``, ``null_mean``, ``null_std``,
    ``null_quantiles`` ({q: value}), ``null_low`` / ``null_high`` (the central
    ``1 - band_alpha`` band of the null), ``band_alpha``, ``n_draws``, ``n_events``,
    ``n_events_dropped``, ``n_eligible`` and, if ``return_null``, ``null`` (ndarray).
    """
    if not isinstance(values_by_date, pd.Series):
        values_by_date = pd.Series(np.asarray(values_by_date, dtype=float))
    eligible = values_by_date.dropna().astype(float)
    dropped = 0
    if event_dates is not None:
        event_values = values_by_date.reindex(pd.Index(event_dates))
        if event_values.index.has_duplicates:
            raise ValueError("event_dates has duplicates")
        missing = ~pd.Index(event_dates).isin(values_by_date.index)
        if missing.any():
            raise ValueError(f"{int(missing.sum())} event date(s) not in values_by_date, "
                             f"e.g. {list(pd.Index(event_dates)[missing][:3])}")
        dropped = int(event_values.isna().sum())
        event_values = event_values.dropna().to_numpy(dtype=float)
        if n_events is not None and n_events != len(event_values):
            raise ValueError(f"n_events={n_events} but {len(event_values)} usable event dates")
        n_events = len(event_values)
        if observed is None:
            observed = float(stat(event_values))
    elif n_events is None or observed is None:
        raise ValueError("random_date_null needs the observed statistic: pass "
                         "event_dates=..., or n_events together with observed=...")
    n_events = int(n_events)
    pool = eligible.to_numpy()
    if not 1 <= n_events <= len(pool):
        raise ValueError(f"n_events={n_events} must be in [1, {len(pool)} eligible days]")
    rng = _rng(seed)
    draws = pool[_sorted_distinct(rng, len(pool), n_events, n_draws)]  # in date order
    if any(stat is f for f in _VECTORISABLE):
        null = np.asarray(stat(draws, axis=1), dtype=float)
    else:
        null = np.array([stat(row) for row in draws], dtype=float)
    out = _null_summary(float(observed), null, quantiles, alternative, band_alpha)
    out.update(n_events=n_events, n_events_dropped=dropped, n_eligible=int(len(pool)))
    if return_null:
        out["null"] = null
    return out


def circular_shift_null(
    values: pd.Series,
    event_dates,
    *,
    n_draws: int = 2000,
    seed: SeedLike,
    stat: Callable = np.mean,
    alternative: str = "two-sided",
    quantiles=(0.025, 0.05, 0.5, 0.95, 0.975),
    band_alpha: float = 0.05,
    min_shift: int = 1,
) -> dict:
    """Cluster-preserving null: the whole pattern of event dates shifted by a random offset.

    Triggers of a persistent signal come in clusters (a divergence lasts days), so their forward
    outcomes are far from independent; drawing as many dates at random (``random_date_null``)
    breaks the clusters and overstates significance. Here every draw moves all event positions
    along the eligible days by one random offset, wrapping at the end (a "random rotation" of
    event times), so the number, spacing and clustering of events are kept and only their
    placement in history is random. Offsets are drawn from ``min_shift .. n - min_shift``: with
    ``min_shift`` at least the forward horizon, no shifted window overlaps its original one (a
    small shift would otherwise carry part of a real effect into the null). Same keys as
    ``random_date_null``.
    """
    values = pd.Series(values).dropna()
    pos = values.index.get_indexer(pd.DatetimeIndex(event_dates))
    pos = pos[pos >= 0]
    n = len(values)
    if len(pos) < 1 or n < 3:
        raise ValueError("circular_shift_null needs events among at least 3 eligible values")
    min_shift = int(max(1, min(min_shift, (n - 1) // 2)))
    v = values.to_numpy()
    rng = _rng(seed)
    offsets = rng.integers(min_shift, n - min_shift + 1, size=n_draws)
    null = np.array([stat(v[(pos + k) % n]) for k in offsets])
    out = _null_summary(float(stat(v[pos])), null, quantiles, alternative, band_alpha)
    out.update({"n_events": int(len(pos)), "n_eligible": int(n)})
    return out


def episodes_from_mask(mask) -> list[tuple[int, int]]:
    """Runs of True in a boolean sequence, as ``[(start_index, length), ...]``."""
    m = np.asarray(mask, dtype=bool).astype(np.int8)
    d = np.diff(np.r_[0, m, 0])
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return [(int(s), int(e - s)) for s, e in zip(starts, ends)]


def random_episode_starts(
    n_days: int,
    lengths: Sequence[int],
    *,
    n_draws: int,
    seed: SeedLike,
    min_gap: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Uniformly random placements of episodes with given lengths on ``n_days`` days.

    Episodes do not overlap and consecutive episodes are at least ``min_gap`` days apart
    (``min_gap=1``: episodes taken from a state series never touch).  Every valid
    arrangement is equally likely.  Method ("stars and bars"): pad each episode to
    :math:`L_i + g` and the calendar to :math:`T + g`; with :math:`F = T + g - \sum(L_i+g)`
    free days, draw a uniformly random order of the episodes and :math:`k` sorted distinct
    integers :math:`c_0 < \dots < c_{k-1}` from :math:`\{0..F+k-1\}`; the j-th episode in
    that order starts at :math:`c_j - j + \sum_{m<j}(L_{(m)} + g)`.  This is a bijection
    between k-subsets and gap vectors, hence uniform.

    Returns ``(starts, lengths)``, both ``(n_draws, k)`` int arrays (row b: the episodes
    of draw b in placement order).
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    k = len(lengths)
    if k == 0:
        raise ValueError("need at least one episode")
    if (lengths < 1).any() or min_gap < 0:
        raise ValueError("episode lengths must be >= 1 and min_gap >= 0")
    padded = lengths + min_gap
    free = n_days + min_gap - int(padded.sum())
    if free < 0:
        raise ValueError(f"{k} episodes of total length {int(lengths.sum())} with gaps "
                         f">= {min_gap} do not fit in {n_days} days")
    rng = _rng(seed)
    order = np.argsort(rng.random((n_draws, k)), axis=1)      # uniform random orders
    lens = lengths[order]
    offsets = np.cumsum(lens + min_gap, axis=1) - (lens + min_gap)
    starts = _sorted_distinct(rng, free + k, k, n_draws) - np.arange(k) + offsets
    return starts, lens


def _sorted_distinct(rng: np.random.Generator, m: int, k: int, n: int) -> np.ndarray:
    """``n`` rows of ``k`` sorted distinct integers, each row a uniform k-subset of
    ``range(m)``.  Sparse case: iid draws, rows with a repeat redrawn (conditioning iid
    uniform tuples on distinctness leaves them uniform); dense case: the k smallest of m
    uniform keys per row, in chunks."""
    if k * k <= 4 * m:   # P(no repeat) ~ exp(-k^2 / 2m) >= e^-2
        out = np.sort(rng.integers(0, m, size=(n, k)), axis=1)
        bad = np.flatnonzero((np.diff(out, axis=1) == 0).any(axis=1))
        while bad.size:
            out[bad] = np.sort(rng.integers(0, m, size=(bad.size, k)), axis=1)
            bad = bad[(np.diff(out[bad], axis=1) == 0).any(axis=1)]
        return out
    out = np.empty((n, k), dtype=np.int64)
    chunk = max(1, 2_000_000 // m)
    for lo in range(0, n, chunk):
        keys = rng.random((min(chunk, n - lo), m))
        out[lo:lo + chunk] = np.sort(np.argpartition(keys, k - 1, axis=1)[:, :k], axis=1)
    return out


def _episode_mask(n_days: int, starts, lengths) -> np.ndarray:
    d = np.zeros(n_days + 1, dtype=np.int64)
    np.add.at(d, np.asarray(starts), 1)
    np.add.at(d, np.asarray(starts) + np.asarray(lengths), -1)
    return np.cumsum(d[:-1]) > 0


def random_timing_null(
    rotated_returns,
    growth_returns,
    episodes: Sequence[tuple[int, int]],
    *,
    n_draws: int = 2000,
    seed: SeedLike,
    stat: Callable | None = None,
    min_gap: int = 1,
    observed: float | None = None,
    alternative: str = "greater",
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    band_alpha: float = 0.05,
    return_null: bool = False,
) -> dict:
    r"""Random-timing null for a rotation strategy.

    The strategy holds the *rotated* leg during its rotation episodes and the *growth*
    leg otherwise: :math:`r^s_t = r^{rot}_t` if day t is in an episode else
    :math:`r^{gro}_t`.  The null keeps the number of episodes and their lengths (so the
    time spent rotated and the number of switches) and places them uniformly at random
    on the calendar, non-overlapping, ``min_gap`` days apart
    (:func:`random_episode_starts`).  If the rule's timing carries information, its
    statistic should beat most random placements.

    Parameters
    ----------
    rotated_returns, growth_returns : Series or 1-D arrays of daily simple returns,
        aligned on the same calendar (two Series must have equal indexes); no NaN.
    episodes : [(start_index, length), ...] positional on that calendar (see
        :func:`episodes_from_mask`).
    stat : callable on the 1-D strategy return array, default total log return
        :math:`\sum_t \log(1 + r^s_t)` (same ranking as CAGR on a fixed calendar; computed
        in closed form from prefix sums).  E.g. ``stat=sharpe``.
    observed : the strategy's statistic; default computed from ``episodes`` with the same
        construction (so costs and execution lags are treated alike in both).
    alternative : which p-value is ``p_value``: ``"greater"`` (default: timing beats
        random), ``"less"`` or ``"two-sided"``.

    Returns
    -------
    dict with the keys of :func:`random_date_null`'s summary (``observed``, ``p_value``,
    ``p_value_greater``, ``p_value_less``, ``p_value_two_sided``, ``null_mean``,
    ``null_std``, ``null_quantiles``, ``null_low``, ``null_high``, ``band_alpha``,
    ``n_draws``) plus ``n_episodes``, ``days_rotated``,
    ``n_days``, ``min_gap``, ``stat`` (name) and, if ``return_null``, ``null``.
    """
    if isinstance(rotated_returns, pd.Series) and isinstance(growth_returns, pd.Series):
        if not rotated_returns.index.equals(growth_returns.index):
            raise ValueError("rotated_returns and growth_returns must share one index")
    rot = np.asarray(rotated_returns, dtype=float).ravel()
    gro = np.asarray(growth_returns, dtype=float).ravel()
    if rot.shape != gro.shape:
        raise ValueError(f"legs differ in length: {rot.shape} vs {gro.shape}")
    if not (np.isfinite(rot).all() and np.isfinite(gro).all()):
        raise ValueError("returns must not contain NaN/inf")
    n_days = len(rot)
    eps = sorted((int(s), int(ln)) for s, ln in episodes)
    if not eps:
        raise ValueError("need at least one episode")
    for (s, ln), nxt in zip(eps, eps[1:] + [(None, None)]):
        if s < 0 or ln < 1 or s + ln > n_days:
            raise ValueError(f"episode ({s}, {ln}) is outside the {n_days}-day calendar")
        if nxt[0] is not None and nxt[0] < s + ln:
            raise ValueError(f"episodes overlap: ({s}, {ln}) and {nxt}")
    ep_starts = np.array([s for s, _ in eps])
    ep_lens = np.array([ln for _, ln in eps])

    starts, lens = random_episode_starts(n_days, ep_lens, n_draws=n_draws, seed=seed,
                                         min_gap=min_gap)
    if stat is None:
        stat_name = "total_log_return"
        base = float(np.sum(np.log1p(gro)))
        prefix = np.r_[0.0, np.cumsum(np.log1p(rot) - np.log1p(gro))]

        def closed_form(s, ln):
            return base + (prefix[s + ln] - prefix[s]).sum(axis=-1)

        null = closed_form(starts, lens)
        if observed is None:
            observed = float(closed_form(ep_starts, ep_lens))
    else:
        stat_name = getattr(stat, "__name__", repr(stat))

        def build(s, ln):
            return np.where(_episode_mask(n_days, s, ln), rot, gro)

        null = np.array([stat(build(s, ln)) for s, ln in zip(starts, lens)], dtype=float)
        if observed is None:
            observed = float(stat(build(ep_starts, ep_lens)))
    out = _null_summary(float(observed), null, quantiles, alternative, band_alpha)
    out.update(n_episodes=len(eps), days_rotated=int(ep_lens.sum()), n_days=n_days,
               min_gap=int(min_gap), stat=stat_name)
    if return_null:
        out["null"] = null
    return out


# --------------------------------------------------------------------------------------
# PSR / DSR (Bailey & Lopez de Prado)
# --------------------------------------------------------------------------------------

def probabilistic_sharpe_ratio(observed_sr: float, benchmark_sr: float, n_obs: int,
                               skew: float = 0.0, kurtosis: float = 3.0) -> float:
    r"""Probabilistic Sharpe Ratio (Bailey & Lopez de Prado 2012, "The Sharpe Ratio
    Efficient Frontier", J. of Risk 15(2); eq. used in DSR paper 2014):

    .. math::

        \widehat{PSR}(SR^*) = \Phi\left(\frac{(\widehat{SR} - SR^*)\sqrt{T - 1}}
        {\sqrt{1 - \hat\gamma_3 \widehat{SR} + \frac{\hat\gamma_4 - 1}{4}\widehat{SR}^2}}\right)

    ``observed_sr`` and ``benchmark_sr`` per period (not annualised), ``n_obs`` = T,
    ``skew`` = :math:`\gamma_3`, ``kurtosis`` = :math:`\gamma_4` **Pearson** (normal = 3).
    The probability that the true SR exceeds ``benchmark_sr``.
    """
    sr = float(observed_sr)
    var = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if n_obs < 2 or not var > 0:
        return float("nan")
    z = (sr - benchmark_sr) * math.sqrt(n_obs - 1) / math.sqrt(var)
    from scipy.special import ndtr
    return float(ndtr(z))


def expected_max_sharpe(n_trials: float, sr_variance: float, sr_mean: float = 0.0) -> float:
    r"""Expected maximum of ``n_trials`` independent Sharpe ratio estimates
    (Bailey & Lopez de Prado 2014, eq. (2); "False Strategy theorem"):

    .. math::

        E[\max_n \widehat{SR}_n] \approx E[\widehat{SR}_n] + \sqrt{V[\widehat{SR}_n]}
        \left((1 - \gamma)\Phi^{-1}\!\left(1 - \tfrac1N\right)
        + \gamma\,\Phi^{-1}\!\left(1 - \tfrac{1}{N e}\right)\right)

    with :math:`\gamma` the Euler-Mascheroni constant.  For ``N <= 1`` (no selection) the
    bracket is 0; it is floored at 0 for small non-integer N where the asymptotic formula
    dips below the mean.
    """
    if n_trials <= 1:
        return float(sr_mean)
    g = EULER_MASCHERONI
    from scipy.special import ndtri
    z = (1 - g) * ndtri(1 - 1 / n_trials) + g * ndtri(1 - 1 / (n_trials * math.e))
    return float(sr_mean + math.sqrt(sr_variance) * max(0.0, z))


def deflated_sharpe_ratio(
    observed_sr: float,
    sr_trials,
    n_obs: int,
    skew: float,
    kurtosis: float,
    *,
    n_trials_effective: float | None = None,
    sr_variance: float | None = None,
) -> dict:
    r"""Deflated Sharpe Ratio (Bailey & Lopez de Prado 2014, "The Deflated Sharpe Ratio:
    Correcting for Selection Bias, Backtest Overfitting and Non-Normality", J. Portfolio
    Management 40(5):94-107):

    .. math::

        DSR = \widehat{PSR}(SR_0),\qquad
        SR_0 = \sqrt{V[\{\widehat{SR}_n\}]}\left((1-\gamma)\Phi^{-1}(1-\tfrac1N)
        + \gamma\Phi^{-1}(1-\tfrac{1}{Ne})\right)

    i.e. the probability that the selected strategy's true SR exceeds the SR the best of
    N skill-less trials would show by luck.

    Parameters
    ----------
    observed_sr : per-period SR of the selected strategy.
    sr_trials : per-period SRs of all trials (its sample variance, ddof=1, is
        :math:`V`; its length is N).  May be None if ``sr_variance`` and
        ``n_trials_effective`` are given.
    n_obs, skew, kurtosis : T, :math:`\gamma_3`, Pearson :math:`\gamma_4` of the selected
        strategy's returns.
    n_trials_effective : N to use instead of ``len(sr_trials)`` (e.g. from
        :func:`effective_number_of_trials` when trials are correlated).
    sr_variance : V to use instead of the variance of ``sr_trials``.

    Returns
    -------
    dict with ``dsr``, ``sr0`` (expected max SR, per period), ``psr`` (PSR against 0),
    ``observed_sr``, ``n_trials`` (N used), ``sr_variance`` (V used), ``n_obs``.
    """
    trials = None if sr_trials is None else np.asarray(sr_trials, dtype=float).ravel()
    if trials is not None:
        trials = trials[np.isfinite(trials)]
    if sr_variance is None:
        if trials is None or len(trials) < 2:
            raise ValueError("need >= 2 finite trial Sharpe ratios, or sr_variance")
        sr_variance = float(np.var(trials, ddof=1))
    if n_trials_effective is None:
        if trials is None:
            raise ValueError("need sr_trials or n_trials_effective")
        n_trials_effective = float(len(trials))
    sr0 = expected_max_sharpe(n_trials_effective, sr_variance)
    return {
        "dsr": probabilistic_sharpe_ratio(observed_sr, sr0, n_obs, skew, kurtosis),
        "sr0": sr0,
        "psr": probabilistic_sharpe_ratio(observed_sr, 0.0, n_obs, skew, kurtosis),
        "observed_sr": float(observed_sr),
        "n_trials": float(n_trials_effective),
        "sr_variance": float(sr_variance),
        "n_obs": int(n_obs),
    }


# --------------------------------------------------------------------------------------
# Effective number of trials
# --------------------------------------------------------------------------------------

#: Above this many trials the eigenvalue methods of :func:`effective_number_of_trials` do not
#: decompose the N x N correlation matrix (Nyholt is then estimated on a random sample of
#: this many trials; Li-Ji is refused).
MAX_EIGEN_TRIALS = 2000
#: Before Li-Ji's indicator and floor, an eigenvalue within ``EIGEN_SNAP * N`` of an integer is
#: taken to be that integer: the eigenvalues of a correlation matrix sum to N, so their rounding
#: error is of the order of ``N * 1e-16``, and 7.9999999999 must count as 8, not as 7 + 0.99.
EIGEN_SNAP = 1e-9
_COLUMN_CHUNK = 1024


def _finite_rows(x: np.ndarray) -> np.ndarray:
    """The rows of a 2-D array finite in every column (the array itself when all are)."""
    ok = np.ones(x.shape[0], dtype=bool)
    for j in range(0, x.shape[1], _COLUMN_CHUNK):
        ok &= np.isfinite(x[:, j:j + _COLUMN_CHUNK]).all(axis=1)
    return x if ok.all() else x[ok]


def standardised_column_sum(returns_matrix, *, first_column: int = 0) -> np.ndarray:
    r"""Sum of the standardised columns of a T x N matrix, in O(T N) time.

    .. math:: s = \sum_i z_i,\qquad z_i = \frac{x_i - \bar x_i}{\lVert x_i - \bar x_i\rVert}

    so that :math:`z_i \cdot z_j = \rho_{ij}` (Pearson) and :math:`\lVert s\rVert^2 =
    \sum_{i,j}\rho_{ij}`, the sum of every entry of the correlation matrix, without forming
    it.  Columns are standardised a chunk at a time (no copy of the whole matrix).  The sums
    of column chunks add up: trials arriving in chunks of whole columns can be accumulated.
    A constant column raises ``ValueError`` (its correlation is undefined); ``first_column``
    only numbers the columns in that message.  Rows must be finite.
    """
    x = np.asarray(returns_matrix, dtype=float)
    if x.ndim != 2:
        raise ValueError("returns_matrix must be 2-D (T x N)")
    total = np.zeros(x.shape[0])
    for j in range(0, x.shape[1], _COLUMN_CHUNK):
        c = x[:, j:j + _COLUMN_CHUNK]
        constant = c.max(axis=0) == c.min(axis=0)
        if constant.any():
            raise ValueError(f"correlation undefined: trial {first_column + j + int(np.argmax(constant))} "
                             "is constant")
        centred = c - c.mean(axis=0)
        norm = np.sqrt((centred * centred).sum(axis=0))
        total += (centred / norm).sum(axis=1)
    return total


def average_correlation_n_eff(correlation_sum: float, n_trials: int) -> float:
    r""":math:`N_{eff} = \bar\rho + (1 - \bar\rho) N` from the sum S of every entry of the
    N x N correlation matrix (diagonal included): :math:`\bar\rho = (S - N) / (N (N - 1))`,
    clipped to [0, 1].  See :func:`standardised_column_sum` for S in O(T N)."""
    n = int(n_trials)
    if n <= 1:
        return 1.0
    rho = (float(correlation_sum) - n) / (n * (n - 1.0))
    rho = min(1.0, max(0.0, rho))
    return float(rho + (1.0 - rho) * n)


def _n_eff_from_eigenvalues(eigenvalues, method: str) -> float:
    """Nyholt or Li-Ji from the eigenvalues of an N x N correlation matrix (negative rounding
    noise clipped to 0; Li-Ji snaps near-integers first, see ``EIGEN_SNAP``)."""
    lam = np.clip(np.asarray(eigenvalues, dtype=float).ravel(), 0.0, None)
    n = len(lam)
    if method == "nyholt":
        return float(1.0 + (n - 1) * (1.0 - np.var(lam, ddof=1) / n))
    if method == "li_ji":
        nearest = np.rint(lam)
        lam = np.where(np.abs(lam - nearest) <= EIGEN_SNAP * n, nearest, lam)
        return float(np.sum((lam >= 1).astype(float) + (lam - np.floor(lam))))
    raise ValueError(f"unknown method {method!r}")


def effective_number_of_trials(returns_matrix, method: str = "average_correlation", *,
                               max_eigen_trials: int = MAX_EIGEN_TRIALS, seed: SeedLike = 0,
                               details: bool = False):
    r"""Number of effectively independent trials among N correlated ones.

    ``returns_matrix``: T x N returns of the trials (rows with NaN dropped).

    * ``"average_correlation"`` (default): :math:`N_{eff} = \bar\rho + (1 - \bar\rho) N`,
      :math:`\bar\rho` the mean off-diagonal Pearson correlation, clipped to [0, 1].
      Interpolates between N (independent) and 1 (identical trials); the rough estimate
      suggested with the DSR by Bailey & Lopez de Prado (2014) and Lopez de Prado's
      "Advances in Financial Machine Learning" (2018, ch. 8/14) for the number of
      independent trials.  Exact at any N in O(T N) time and memory, without the N x N
      matrix: the sum of its entries is :math:`\lVert\sum_i z_i\rVert^2`
      (:func:`standardised_column_sum`).
    * ``"nyholt"``: eigenvalues :math:`\lambda_i` of the correlation matrix,
      :math:`N_{eff} = 1 + (N - 1)(1 - \mathrm{Var}(\lambda)/N)` (Nyholt 2004, Am. J. Hum.
      Genet. 74:765-769).  Since :math:`\sum\lambda = N` and :math:`\sum\lambda^2 =
      \sum_{ij}\rho_{ij}^2`, :math:`\mathrm{Var}(\lambda)/N` (ddof=1) is the mean squared
      off-diagonal correlation :math:`\overline{\rho^2}`.  Above ``max_eigen_trials`` trials it
      is estimated as :math:`1 + (N - 1)(1 - \overline{\rho^2})` over the pairs of a uniform
      random sample of ``max_eigen_trials`` trials (``seed``): an unbiased estimate of the
      mean over all pairs.
    * ``"li_ji"``: :math:`N_{eff} = \sum_i I(\lambda_i \ge 1) + (\lambda_i -
      \lfloor\lambda_i\rfloor)` (Li & Ji 2005, Heredity 95:221-227), with eigenvalues within
      ``EIGEN_SNAP * N`` of an integer taken as that integer (rounding must not turn 8 into
      7.9999999 and add almost 1).  Needs every eigenvalue: refused above
      ``max_eigen_trials`` trials.

    Returns the float, or with ``details=True`` a dict: ``n_effective``, ``method``,
    ``exact`` (False when sampled), ``n_trials``, ``n_sampled`` (None unless sampled),
    ``description`` (one line saying how it was computed).
    """
    x = np.asarray(returns_matrix, dtype=float)
    if x.ndim != 2:
        raise ValueError("returns_matrix must be 2-D (T x N)")
    if method not in ("average_correlation", "nyholt", "li_ji"):
        raise ValueError(f"unknown method {method!r}")
    x = _finite_rows(x)
    n = x.shape[1]
    sampled = None
    if n == 1:
        value, text = 1.0, "a single trial"
    elif method == "average_correlation":
        s = standardised_column_sum(x)
        value = average_correlation_n_eff(float(s @ s), n)
        text = "mean pairwise correlation, exact (sum of the standardised trials)"
    elif n <= max_eigen_trials:
        corr = np.corrcoef(x, rowvar=False)
        if not np.isfinite(corr).all():
            raise ValueError("correlation undefined (a constant trial?)")
        value = _n_eff_from_eigenvalues(np.linalg.eigvalsh(corr), method)
        text = f"{method} from the eigenvalues of the {n} x {n} correlation matrix"
    elif method == "nyholt":
        sampled = int(max_eigen_trials)
        cols = np.sort(_rng(seed).choice(n, size=sampled, replace=False))
        corr = np.corrcoef(x[:, cols], rowvar=False)
        if not np.isfinite(corr).all():
            raise ValueError("correlation undefined (a constant trial?)")
        mean_sq = (float(np.sum(corr * corr)) - sampled) / (sampled * (sampled - 1.0))
        value = float(1.0 + (n - 1) * (1.0 - mean_sq))
        text = (f"nyholt from the mean squared correlation over a random sample of {sampled} of "
                f"{n} trials (seed {seed})")
    else:
        raise ValueError(f"li_ji needs every eigenvalue of the {n} x {n} correlation matrix; {n} trials "
                         f"exceed max_eigen_trials={max_eigen_trials}: use method='average_correlation' "
                         "(exact at any size) or 'nyholt' (sampled), or raise max_eigen_trials")
    if not details:
        return float(value)
    return {"n_effective": float(value), "method": method, "exact": sampled is None, "n_trials": int(n),
            "n_sampled": sampled, "description": text}


# --------------------------------------------------------------------------------------
# Probability of backtest overfitting (CSCV)
# --------------------------------------------------------------------------------------

#: Metric values held at once by the CSCV scan (pairs of complementary splits x trials):
#: 4 million doubles = 32 MB, whatever the number of trials.
_CSCV_CELLS = 4_000_000


@functools.lru_cache(maxsize=8)
def cscv_splits(n_splits: int) -> np.ndarray:
    r"""The :math:`\binom{S}{S/2}` in-sample block sets of CSCV, one row each (sorted block
    indices), in ``itertools.combinations`` order.  Row ``C - 1 - i`` is the complement of row
    ``i`` (the out-of-sample blocks of split i are the in-sample blocks of split C - 1 - i)."""
    s = int(n_splits)
    out = np.array(list(combinations(range(s), s // 2)), dtype=np.int64)
    out.setflags(write=False)
    return out


def cscv_block_sums(perf_matrix, n_splits: int = 16) -> dict:
    r"""Per-block sums from which CSCV computes the built-in metrics, a chunk of columns at a
    time (no copy of the whole matrix).

    Drops the first ``T mod S`` rows, splits the rest into S blocks of ``block_size`` rows and
    returns, each S x N: ``raw`` (sums of the values), ``centred`` and ``centred_sq`` (sums of
    the values minus their column mean over the rows used, and of their squares: the variance
    is shift-invariant and centring avoids cancellation), plus ``block_size``, ``n_rows_used``,
    ``n_rows_dropped``.  Sums of different column chunks can be concatenated column-wise.
    """
    m = np.asarray(perf_matrix, dtype=float)
    s = int(n_splits)
    t_all, n = m.shape
    dropped = t_all % s
    size = (t_all - dropped) // s
    if size < 1:
        raise ValueError(f"{t_all} rows are too few for {s} splits")
    raw, cen, cen2 = (np.empty((s, n)) for _ in range(3))
    for j in range(0, n, _COLUMN_CHUNK):
        part = np.asfortranarray(m[dropped:, j:j + _COLUMN_CHUNK])  # each column reduced alike
        k = part.shape[1]
        blocks = part.reshape(s, size, k)
        centred = blocks - part.mean(axis=0)
        raw[:, j:j + k] = blocks.sum(axis=1)
        cen[:, j:j + k] = centred.sum(axis=1)
        cen2[:, j:j + k] = (centred * centred).sum(axis=1)
    return {"raw": raw, "centred": cen, "centred_sq": cen2, "block_size": int(size),
            "n_rows_used": int(t_all - dropped), "n_rows_dropped": int(dropped)}


def _combo_metric(metric: str, sel: np.ndarray, raw1: np.ndarray, c1: np.ndarray,
                  c2: np.ndarray, count: int) -> np.ndarray:
    """Metric of every trial on the rows of the blocks selected by each row of ``sel``
    (combinations x S, 0/1), from per-block sums: raw sums ``raw1`` and sums ``c1``/``c2``
    of the column-centred data and its square."""
    mean = (sel @ raw1) / count
    if metric == "mean":
        return mean
    cmean = (sel @ c1) / count
    var = np.clip((sel @ c2 - count * cmean * cmean) / (count - 1), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        return mean / np.sqrt(var)


def _fill_metric_rows(splits, rows, raw1, c1, c2, count, sharpe, tile, out):
    """``out[q, i]`` = metric of trial i on the blocks ``splits[rows[q]]`` (compiled by numba).

    The sums run over the blocks in increasing order, the order of the matrix product in
    :func:`_combo_metric`, and the metric is the same expression, so values (and their ties)
    are the same.  Columns go in tiles that stay in cache while every row is computed."""
    n = raw1.shape[1]
    h = splits.shape[1]
    s1 = np.empty(tile)
    s2 = np.empty(tile)
    s3 = np.empty(tile)
    for t0 in range(0, n, tile):
        w = min(tile, n - t0)
        for q in range(rows.shape[0]):
            idx = splits[rows[q]]
            dst = out[q, t0:t0 + w]
            b = idx[0]
            x1 = raw1[b, t0:t0 + w]
            x2 = c1[b, t0:t0 + w]
            x3 = c2[b, t0:t0 + w]
            for i in range(w):
                s1[i] = x1[i]
                s2[i] = x2[i]
                s3[i] = x3[i]
            for j in range(1, h):
                b = idx[j]
                x1 = raw1[b, t0:t0 + w]
                x2 = c1[b, t0:t0 + w]
                x3 = c2[b, t0:t0 + w]
                for i in range(w):
                    s1[i] += x1[i]
                    s2[i] += x2[i]
                    s3[i] += x3[i]
            if sharpe:
                for i in range(w):
                    cm = s2[i] / count
                    var = (s3[i] - count * cm * cm) / (count - 1.0)
                    if var < 0.0:
                        var = 0.0
                    dst[i] = (s1[i] / count) / np.sqrt(var)
            else:
                for i in range(w):
                    dst[i] = s1[i] / count


_FILL = None


def _compiled_fill():
    """The numba-compiled :func:`_fill_metric_rows`, or None without numba."""
    global _FILL
    if _FILL is None:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba is a dependency
            _FILL = False
        else:
            _FILL = numba.njit(cache=True, nogil=True, error_model="numpy")(_fill_metric_rows)
    return _FILL or None


def _nan_metric() -> ValueError:
    return ValueError("the metric is NaN for some trial and split (a constant trial?)")


def _best_and_rank(r_is: np.ndarray, r_oos: np.ndarray):
    """For each row: the in-sample best column (first of equal maxima, like ``argmax``), its
    in- and out-of-sample values, and its out-of-sample rank among all columns in scipy's
    average-rank convention: #{below} + (#{equal, itself included} + 1) / 2."""
    if np.isnan(r_is).any() or np.isnan(r_oos).any():
        raise _nan_metric()
    rows = np.arange(len(r_is))
    best = np.argmax(r_is, axis=1)
    v = r_oos[rows, best]
    below = np.count_nonzero(r_oos < v[:, None], axis=1)
    equal = np.count_nonzero(r_oos == v[:, None], axis=1)
    return best, r_is[rows, best], v, below + (equal + 1) / 2.0


def _cscv_scan(splits: np.ndarray, raw1, c1, c2, count: int, metric: str, *, engine: str = "auto"):
    """Best trial, its IS and OOS metric and OOS rank for every split, holding at most
    ``_CSCV_CELLS`` metric values at once.  Each pass computes the metric on a chunk of block
    sets and on their complements, which serve as each other's out-of-sample half.
    ``engine``: ``"numba"``, ``"numpy"`` (matrix products, as :func:`_combo_metric`) or
    ``"auto"`` (numba when installed)."""
    n_combos, s = len(splits), raw1.shape[0]
    n = raw1.shape[1]
    fill = _compiled_fill() if engine in ("auto", "numba") else None
    if engine == "numba" and fill is None:  # pragma: no cover - numba is a dependency
        raise RuntimeError("numba is not installed")
    best = np.empty(n_combos, dtype=np.int64)
    is_perf, oos_perf, rank = (np.empty(n_combos) for _ in range(3))
    n_pairs = n_combos // 2
    pairs = max(1, min(n_pairs, _CSCV_CELLS // (2 * n)))
    buf = np.empty((2 * pairs, n))
    if fill is not None:
        raw1, c1, c2 = (np.ascontiguousarray(a, dtype=float) for a in (raw1, c1, c2))
    for lo in range(0, n_pairs, pairs):
        k = min(n_pairs, lo + pairs) - lo
        first = np.arange(lo, lo + k)
        rows = np.concatenate([first, n_combos - 1 - first])
        vals = buf[:2 * k]
        if fill is not None:
            fill(splits, rows, raw1, c1, c2, float(count), metric == "sharpe", 512, vals)
        else:
            sel = np.zeros((2 * k, s))
            np.put_along_axis(sel, splits[rows], 1.0, axis=1)
            vals[:] = _combo_metric(metric, sel, raw1, c1, c2, count)
        for ins, oos, where in ((vals[:k], vals[k:], first), (vals[k:], vals[:k], n_combos - 1 - first)):
            b, v_is, v_oos, r = _best_and_rank(ins, oos)
            best[where], is_perf[where], oos_perf[where], rank[where] = b, v_is, v_oos, r
    return best, is_perf, oos_perf, rank


def _pbo_summary(best, is_perf, oos_perf, oos_rank, *, n_trials: int, n_splits: int, labels,
                 metric_name: str, n_rows_used: int, n_rows_dropped: int, loss_threshold: float) -> dict:
    omega = oos_rank / (n_trials + 1.0)
    logits = np.log(omega / (1.0 - omega))
    labels = labels if labels is not None else list(range(n_trials))
    degradation = pd.DataFrame({
        "is_perf": is_perf, "oos_perf": oos_perf, "oos_rank": oos_rank,
        "relative_rank": omega, "logit": logits, "best_trial": [labels[b] for b in best],
    })
    finite = np.isfinite(is_perf) & np.isfinite(oos_perf)
    if finite.sum() >= 2 and np.ptp(is_perf[finite]) > 0:
        slope, intercept = np.polyfit(is_perf[finite], oos_perf[finite], 1)
    else:
        slope = intercept = float("nan")
    return {
        "pbo": float(np.mean(logits <= 0)),
        "logits": logits,
        "n_combinations": len(logits),
        "n_splits": int(n_splits),
        "n_trials": int(n_trials),
        "n_rows_used": int(n_rows_used),
        "n_rows_dropped": int(n_rows_dropped),
        "metric": metric_name,
        "degradation": degradation,
        "slope": float(slope),
        "intercept": float(intercept),
        "prob_oos_loss": float(np.mean(oos_perf < loss_threshold)),
    }


def pbo_from_block_sums(raw, centred, centred_sq, block_size: int, *, metric: str = "sharpe",
                        labels=None, loss_threshold: float = 0.0, n_rows_dropped: int = 0,
                        engine: str = "auto") -> dict:
    r""":func:`probability_of_backtest_overfitting` from the per-block sums of
    :func:`cscv_block_sums` (S x N each; S = number of rows), for the built-in metrics
    ``"sharpe"`` and ``"mean"``.  Memory O(S N) plus a fixed buffer of metric values; the
    trials' returns are not needed, so trials can arrive in chunks of columns whose sums are
    concatenated.  Same result dict."""
    if metric not in ("sharpe", "mean"):
        raise ValueError(f"unknown metric {metric!r}")
    raw = np.asarray(raw, dtype=float)
    s, n = raw.shape
    if n < 2:
        raise ValueError("perf_matrix must be T x N with N >= 2 trials")
    if s < 2 or s % 2:
        raise ValueError(f"n_splits must be an even integer >= 2, got {s}")
    half = int(block_size) * (s // 2)
    best, is_perf, oos_perf, rank = _cscv_scan(cscv_splits(s), raw, centred, centred_sq, half, metric,
                                               engine=engine)
    return _pbo_summary(best, is_perf, oos_perf, rank, n_trials=n, n_splits=s, labels=labels,
                        metric_name=metric, n_rows_used=int(block_size) * s, n_rows_dropped=n_rows_dropped,
                        loss_threshold=loss_threshold)


def probability_of_backtest_overfitting(
    perf_matrix,
    n_splits: int = 16,
    metric: str | Callable = "sharpe",
    *,
    loss_threshold: float = 0.0,
) -> dict:
    r"""Probability of Backtest Overfitting by combinatorially symmetric cross-validation.

    Bailey, Borwein, Lopez de Prado & Zhu (2017), "The Probability of Backtest
    Overfitting", J. Computational Finance 20(4):39-69 (SSRN 2326253).

    1. Drop the first ``T mod S`` rows of the T x N matrix M (returns of N trials), split
       the rest into S contiguous blocks of equal size.
    2. For each of the :math:`\binom{S}{S/2}` sets C of S/2 blocks: J = rows of C
       (in-sample), :math:`\bar J` = the others (out-of-sample).  Compute the metric of
       every trial on J (R) and on :math:`\bar J` (:math:`\bar R`).
    3. :math:`n^* = \arg\max_n R_n`; its OOS relative rank
       :math:`\bar\omega_c = \mathrm{rank}(\bar R_{n^*}) / (N + 1)` (ranks 1..N ascending,
       ties averaged); logit :math:`\lambda_c = \ln(\bar\omega_c / (1 - \bar\omega_c))`.
    4. :math:`PBO = \#\{c: \lambda_c \le 0\} / \binom{S}{S/2}`: how often the in-sample
       best is at or below the out-of-sample median.

    ``metric``: ``"sharpe"`` (per-period mean / std, ddof=1), ``"mean"``, or a callable
    taking a 2-D array (rows x N) and returning N values (higher = better).  The built-in
    metrics are computed from per-block sums (:func:`cscv_block_sums`,
    :func:`pbo_from_block_sums`) in O(T N + C(S, S/2) N) time and O(S N) memory plus a fixed
    buffer: the rank of the in-sample best is counted (values below it plus half the ties),
    not found by ranking every trial, and the metric of a block set serves both as the
    in-sample half of one split and the out-of-sample half of its complement.

    Returns
    -------
    dict with ``pbo``, ``logits`` (ndarray, one per combination), ``n_combinations``,
    ``n_splits``, ``n_trials``, ``n_rows_used``, ``n_rows_dropped``, ``metric``,
    ``degradation`` (DataFrame, one row per combination: ``is_perf`` = :math:`R_{n^*}`,
    ``oos_perf`` = :math:`\bar R_{n^*}`, ``oos_rank``, ``relative_rank``, ``logit``,
    ``best_trial``), ``slope`` and ``intercept`` of the OLS fit of oos_perf on is_perf
    (performance degradation), ``prob_oos_loss`` = share of combinations with
    ``oos_perf < loss_threshold``.
    """
    labels = list(perf_matrix.columns) if isinstance(perf_matrix, pd.DataFrame) else None
    m = np.asarray(perf_matrix, dtype=float)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError("perf_matrix must be T x N with N >= 2 trials")
    for j in range(0, m.shape[1], _COLUMN_CHUNK):
        if not np.isfinite(m[:, j:j + _COLUMN_CHUNK]).all():
            raise ValueError("perf_matrix must not contain NaN/inf")
    s = int(n_splits)
    if s < 2 or s % 2:
        raise ValueError(f"n_splits must be an even integer >= 2, got {n_splits}")
    if isinstance(metric, str):
        if metric not in ("sharpe", "mean"):
            raise ValueError(f"unknown metric {metric!r}")
        sums = cscv_block_sums(m, s)
        return pbo_from_block_sums(sums["raw"], sums["centred"], sums["centred_sq"], sums["block_size"],
                                   metric=metric, labels=labels, loss_threshold=loss_threshold,
                                   n_rows_dropped=sums["n_rows_dropped"])
    t_all, n = m.shape
    dropped = t_all % s
    size = (t_all - dropped) // s
    if size < 1:
        raise ValueError(f"{t_all} rows are too few for {s} splits")
    blocks = m[dropped:].reshape(s, size, n)
    splits = cscv_splits(s)
    n_combos = len(splits)
    best = np.empty(n_combos, dtype=np.int64)
    is_perf, oos_perf, rank = (np.empty(n_combos) for _ in range(3))
    for i, c in enumerate(splits):
        inside = np.zeros(s, dtype=bool)
        inside[c] = True
        r_is = np.asarray(metric(blocks[inside].reshape(-1, n)), dtype=float)[None, :]
        r_oos = np.asarray(metric(blocks[~inside].reshape(-1, n)), dtype=float)[None, :]
        b, v_is, v_oos, r = _best_and_rank(r_is, r_oos)
        best[i], is_perf[i], oos_perf[i], rank[i] = b[0], v_is[0], v_oos[0], r[0]
    return _pbo_summary(best, is_perf, oos_perf, rank, n_trials=n, n_splits=s, labels=labels,
                        metric_name=getattr(metric, "__name__", repr(metric)), n_rows_used=size * s,
                        n_rows_dropped=dropped, loss_threshold=loss_threshold)
