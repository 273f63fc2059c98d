"""The fast screening engine: many parameter combinations of a rotation rule per pass, without
backtrader, with the engine's decisions and fills reproduced exactly (numba-compiled loops).

    prepared = prepare(base_config, data)                 # aligned arrays, once
    res = run_fast(prepared, [{"lookback_days": 5, "threshold": 0.01}, ...])
    res.equity[i], res.n_fills[i], res.metrics["sharpe"][i], res.errors[i]
    confirm(base_config, data, some_param_sets, res)      # re-run in backtrader; loud if they differ

What is reproduced (see :mod:`strategies.base` and :mod:`rotationlab.engine`):

* the calendar: ``data_feeds.align`` of exactly the symbols a combination needs (signal, traded,
  benchmark), trimmed to their common end, ``trade_from`` and the dropped warm-up bars computed as
  :func:`rotationlab.engine.run` does, per combination (a longer look-back starts later);
* the rule's decision at each close from the first kept bar (state carried through the warm-up),
  through the data up to that close only; dow_nasdaq_divergence with every parameter, plus
  buy_and_hold, static_blend, always_rotated and golden_cross_timing;
* the plumbing: rebalance when the target changes, a Target(rebalance=True) or a refused order
  forces it, or a weight drifts beyond ``drift_tolerance``; orders sized at the next open from
  that open's prices with the cash buffer, whole or fractional shares, sells before buys;
* backtrader's broker: the cash check of submitted orders at the unslipped open, the fill at the
  slipped open (the next close for close-only feeds, whose open is their close), commission in
  basis points of the fill, refused (Margin) orders, and its portfolio-value arithmetic, operation
  for operation, so that the floating-point results agree to the last bits in practice.

Only ``fill="next_open"`` is supported; other fill modes, other strategies and anything that cannot
be reproduced exactly are refused with a one-line :class:`~rotationlab.errors.UserError`.

The metrics (:data:`METRIC_KEYS`: every column ``sweep.csv`` holds) follow
:func:`reports.metrics.compute_metrics` (empyrical conventions: 252 periods, ddof=1, returns from
the second equity day) and are computed in the same compiled pass.

:func:`confirm` re-runs chosen combinations in backtrader and raises :class:`AgreementError` when
the equity curves differ by more than :data:`AGREEMENT_TOLERANCE` (relative, on any day), the fill
counts differ or the trading periods differ.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace

import numpy as np
import pandas as pd

from data_feeds import Bars, align
from rotationlab.config import Execution, RunConfig, _coerce, resolve_params
from rotationlab.errors import UserError

try:  # numba compiles the per-combination loops; without it the fast engine is refused
    import numba as _numba
except ImportError:  # pragma: no cover - numba is a dependency
    _numba = None

#: Strategies the fast engine reproduces exactly (all their parameters).
SUPPORTED = frozenset({"dow_nasdaq_divergence", "buy_and_hold", "static_blend", "always_rotated",
                       "golden_cross_timing"})
#: Fill modes the fast engine reproduces.
SUPPORTED_FILLS = frozenset({"next_open"})
#: Keys of a parameter set that set the execution instead of the strategy (as a sweep grid may).
EXEC_KEYS = tuple(f.name for f in dataclasses.fields(Execution))

#: Largest relative equity difference (any day) accepted between the fast engine and backtrader.
#: ``zero_cost``: no commission, no slippage, fractional shares (the issue's 1e-6).
#: ``costs``: commission and/or slippage and/or whole shares. The fast engine repeats backtrader's
#: arithmetic operation for operation (cash check at the unslipped open, fill at the slipped open,
#: commission, average-price bookkeeping, its portfolio-value sum), so every discrete choice (the
#: whole-share floor, a drift rebalance, a refused order) is taken on identical numbers. Measured:
#: 0.0, i.e. bit-identical equity, on every comparison made (about 200 combinations: the test grids,
#: random divergence grids on the sample and the ETFs with whole shares, costs up to 10 bp + 20 bp
#: and thousands of refused orders, the baselines, the benchmark's confirmed rows). It is therefore
#: not set larger than the zero-cost one: a looser bound would only hide real discrepancies (one
#: share rounded the other way moves equity by about 1e-5 and more), while the margin over the
#: measured 0 is already ten orders of magnitude above double rounding.
AGREEMENT_TOLERANCE = {"zero_cost": 1e-6, "costs": 1e-6}

#: Metric columns produced for every combination, in ``sweep.csv`` order (reports.metrics.METRIC_ROWS
#: then ``rejected_orders``; tests/test_fast.py checks they match).
METRIC_KEYS = ("total_return", "cagr", "annual_volatility", "sharpe", "sortino", "calmar", "max_drawdown",
               "max_drawdown_days", "time_in_drawdown", "best_day", "worst_day", "monthly_hit_rate",
               "annual_turnover", "exposure", "n_trades", "n_rotations", "avg_holding_days", "excess_cagr",
               "tracking_error", "information_ratio", "beta", "alpha", "rejected_orders")
#: Metrics only defined with a benchmark.
RELATIVE_KEYS = ("excess_cagr", "tracking_error", "information_ratio", "beta", "alpha")
#: Metrics that are counts (ints in a metrics row).
INT_KEYS = ("max_drawdown_days", "n_trades", "n_rotations", "rejected_orders")

_KIND_FIXED, _KIND_DIVERGENCE, _KIND_GOLDEN = 0, 1, 2
_KINDS = {"buy_and_hold": _KIND_FIXED, "static_blend": _KIND_FIXED, "always_rotated": _KIND_FIXED,
          "dow_nasdaq_divergence": _KIND_DIVERGENCE, "golden_cross_timing": _KIND_GOLDEN}
_NI, _NF = 18, 2  # columns of the per-combination int / float parameter arrays
_ZERO = 2         # weight-table row that is all cash (also the target before the first decision)


class AgreementError(RuntimeError):
    """The fast engine and backtrader disagree beyond the stated tolerance: a bug, never noise."""


# -- configs -----------------------------------------------------------------------------------
def config_for(base: RunConfig, params: dict) -> RunConfig:
    """``base`` with one parameter set applied: strategy parameters over ``base.params``; keys of
    :data:`EXEC_KEYS` that are not strategy parameters over ``base.execution`` (as a sweep does)."""
    strat, ex = _split(base, params)
    return dataclasses.replace(base, params={**base.params, **strat}, execution=ex)


def _split(base: RunConfig, params: dict) -> tuple[dict, Execution]:
    names = _defaults(base.strategy)
    strat = {k: v for k, v in params.items() if k in names or k not in EXEC_KEYS}
    knobs = {k: v for k, v in params.items() if k not in strat}
    return strat, (dataclasses.replace(base.execution, **knobs) if knobs else base.execution)


@lru_cache(maxsize=None)
def _defaults(strategy: str) -> frozenset:
    from rotationlab.config import strategy_class
    return frozenset(strategy_class(strategy).defaults())


@lru_cache(maxsize=4096)
def _lo(start: str, warmup: int) -> pd.Timestamp:
    """The first date engine.run keeps before ``start`` for ``warmup`` bars of history."""
    return pd.Timestamp(start) - pd.Timedelta(days=_calendar_days(warmup))


@lru_cache(maxsize=64)
def _ns_of(when) -> int:
    return pd.Timestamp(when).as_unit("ns").value


def _calendar_days(bars: int) -> int:
    from rotationlab.engine import _calendar_days as cd
    return cd(bars)


def engine_layout(config: RunConfig, data: dict[str, Bars], needed: list[str], warmup: int) -> dict:
    """The calendar and arrays :func:`rotationlab.engine.run` builds for ``config`` (the engine's
    own :func:`rotationlab.engine.layout`). Used when a combination's layout cannot be derived from
    a shared alignment, and by the tests as the reference the derived layouts are checked against.
    """
    from rotationlab.engine import layout
    lay = layout(config, data, needed, warmup)
    return {k: lay[k] for k in ("calendar", "closes", "opens", "trade_from")}


# -- one combination, resolved -----------------------------------------------------------------
@dataclass
class _Combo:
    index: int
    strategy: str
    values: dict
    execution: Execution
    traded: list
    needed: list
    warmup: int
    lo: pd.Timestamp | None


def _whole(name: str, value) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool) or not float(value).is_integer():
        raise UserError(f"parameter {name}={value!r} must be a whole number for the fast engine")
    return int(value)


@dataclass
class _Base:
    """What every combination of one base config shares: its strategy, resolved base parameters."""

    config: RunConfig
    cls: type
    values: dict
    defaults: dict
    names: frozenset


def _base(base: RunConfig) -> _Base:
    strategy = base.strategy
    names = _defaults(strategy)  # an unknown name: the usual did-you-mean error
    if strategy not in SUPPORTED:
        raise UserError(f"the fast engine does not support strategy {strategy!r}; it supports "
                        f"{', '.join(sorted(SUPPORTED))} (use --engine backtrader)")
    cls, values = resolve_params(strategy, dict(base.params))
    return _Base(base, cls, values, cls.defaults(), names)


def _values(ctx: _Base, strat: dict) -> dict:
    """resolve_params(strategy, {**base.params, **strat}), without re-coercing the base parameters
    for every combination (any problem is left to resolve_params itself, for its message)."""
    cls, defaults = ctx.cls, ctx.defaults
    try:
        values = dict(ctx.values)
        for k, v in strat.items():
            values[k] = _coerce(k, v, defaults[k])
        if hasattr(cls, "validate"):
            cls.validate(SimpleNamespace(**values))
    except (KeyError, ValueError, UserError):
        return resolve_params(ctx.config.strategy, {**ctx.config.params, **strat})[1]  # raises its UserError
    return values


def _resolve(ctx: _Base, index: int, params: dict) -> _Combo:
    base = ctx.config
    names = ctx.names
    if any(k in EXEC_KEYS and k not in names for k in params):
        strat, ex = _split(base, params)
    else:
        strat, ex = params, base.execution
    if ex.fill not in SUPPORTED_FILLS:
        raise UserError(f"the fast engine supports --fill next_open only, not {ex.fill!r} "
                        "(use --engine backtrader for the lag studies)")
    values = _values(ctx, strat)
    p = SimpleNamespace(**values)
    cls = ctx.cls
    roles = cls.symbols(p)
    traded = list(dict.fromkeys(roles["traded"]))
    needed = list(dict.fromkeys([*roles["signal"], *traded] + ([base.benchmark] if base.benchmark else [])))
    warmup = _whole("warm-up bars", cls.warmup_bars(p))
    return _Combo(index, base.strategy, values, ex, traded, needed, warmup, _lo(base.start, warmup) if base.start else None)


# -- aligned arrays ----------------------------------------------------------------------------
@dataclass
class _Panel:
    """Aligned arrays of one symbol set on one calendar; combinations are windows of it."""

    symbols: list
    calendar: pd.DatetimeIndex
    closes: np.ndarray       # (symbols, bars), NaN before a symbol's first bar
    opens: np.ndarray
    first: np.ndarray        # first bar of each symbol on this calendar
    own: list                # each symbol's own bar dates (int64 ns) on or after the slice start
    exact_trade_from: int = -1  # >= 0: an engine_layout of one combination (its trade_from index)
    rows: list = field(default_factory=list)      # derived series: moving averages and returns
    row_of: dict = field(default_factory=dict)    # (slot, days) -> index in rows (days < 0: returns)
    cal_ns: np.ndarray = None                     # the calendar as int64 nanoseconds

    def __post_init__(self):
        self.cal_ns = _ns(self.calendar)

    def slot(self, symbol: str) -> int:
        return self.symbols.index(symbol)

    def sma_row(self, slot: int, days: int) -> int:
        """Row of the ``days``-bar mean of ``slot``'s closes ending at each bar, computed as
        ``History.sma`` computes it (np.mean of the window: the same pairwise sum, bit for bit)."""
        key = (slot, days)
        if key not in self.row_of:
            c = self.closes[slot]
            row = np.full(len(c), np.nan)
            if days <= len(c):
                row[days - 1:] = np.lib.stride_tricks.sliding_window_view(c, days).mean(axis=-1)
            self.row_of[key] = len(self.rows)
            self.rows.append(row)
        return self.row_of[key]

    def ret_row(self, slot: int, days: int) -> int:
        """Row of ``slot``'s ``days``-bar return ending at each bar, computed as ``History.ret``
        computes it (close / close ``days`` bars earlier - 1: the same two operations)."""
        key = (slot, -days)
        if key not in self.row_of:
            c = self.closes[slot]
            row = np.full(len(c), np.nan)
            if days < len(c):
                row[days:] = c[days:] / c[:-days] - 1.0
            self.row_of[key] = len(self.rows)
            self.rows.append(row)
        return self.row_of[key]

    @property
    def months(self) -> tuple[np.ndarray, np.ndarray]:
        m = self.calendar.month.to_numpy().astype(np.int64)
        return m, self.calendar.year.to_numpy().astype(np.int64) * 12 + m


def _ns(index: pd.DatetimeIndex) -> np.ndarray:
    """Dates as int64 nanoseconds (whatever the index's own resolution)."""
    return index.as_unit("ns").asi8


def _panel_from_bars(config: RunConfig, data: dict[str, Bars], symbols: list, lo) -> _Panel:
    missing = [s for s in symbols if s not in data]
    if missing:  # each combination then gets the engine's own message (engine_layout)
        raise UserError(f"no data for {', '.join(missing)}")
    data = {s: data[s] for s in symbols}
    if config.start or config.end:
        data = {s: b.between(lo, config.end) for s, b in data.items()}
    common_end = min(b.frame.index[-1] for b in data.values())
    panel = align(data, config.align)
    calendar = panel.calendar[panel.calendar <= common_end]
    closes = panel.closes().reindex(calendar)
    closes = np.ascontiguousarray(np.stack([closes[s].to_numpy(dtype="float64") for s in symbols]))
    opens = np.ascontiguousarray(np.stack([panel.frames[s]["open"].reindex(calendar).to_numpy(dtype="float64")
                                           for s in symbols]))
    first = np.array([int(np.flatnonzero(~np.isnan(c))[0]) for c in closes], dtype=np.int64)
    own = [_ns(b.frame.index[b.frame.index <= common_end]) for b in (data[s] for s in symbols)]
    return _Panel(symbols=list(symbols), calendar=calendar, closes=closes, opens=opens, first=first, own=own)


def _panel_exact(config: RunConfig, data: dict[str, Bars], combo: _Combo) -> _Panel:
    lay = engine_layout(config, data, combo.needed, combo.warmup)
    cal = lay["calendar"]
    symbols = list(combo.needed)
    closes = np.ascontiguousarray(np.stack([lay["closes"][s] for s in symbols]))
    opens = np.ascontiguousarray(np.stack([lay["opens"][s] for s in symbols]))
    first = np.array([(np.flatnonzero(~np.isnan(c))[:1].tolist() or [len(c)])[0] for c in closes], dtype=np.int64)
    return _Panel(symbols=symbols, calendar=cal, closes=closes, opens=opens, first=first, own=[],
                  exact_trade_from=int(cal.get_loc(lay["trade_from"])))


class Prepared:
    """Data, base config and the aligned arrays the combinations run on (built once per symbol
    set and warm-up margin, then reused by every :func:`run_fast` call)."""

    def __init__(self, base: RunConfig, data: dict[str, Bars]):
        self.base = base
        self.data = dict(data)
        self._panels: dict = {}

    def panel(self, symbols: list, lo) -> _Panel | None:
        """The shared alignment of ``symbols`` sliced from ``lo`` or earlier (``lo`` None: from
        the first bar); None when that alignment fails: the combinations then fall back to their
        exact per-combination layout."""
        key = tuple(sorted(symbols))
        want = None if lo is None else _ns_of(lo)
        for have, panel in self._panels.get(key, []):
            fits = have is None if want is None else (have is not None and have <= want)
            if fits and (panel is not None or have == want):
                return panel
        try:
            panel = _panel_from_bars(self.base, self.data, list(symbols), lo)
        except UserError:
            panel = None
        self._panels.setdefault(key, []).append((want, panel))
        return panel


#: prepare() aligns this many bars of warm-up before ``--start`` (or more if the base parameters
#: need it); a grid whose warm-up is longer gets its alignment on first use.
PREPARE_MARGIN_BARS = 260


def prepare(base: RunConfig, data: dict[str, Bars], param_sets: list[dict] | None = None) -> Prepared:
    """Check that the fast engine supports ``base`` and align the data for its parameters (and for
    ``param_sets`` if given; other symbol sets are aligned on first use)."""
    prep = Prepared(base, data)
    ctx = _base(base)
    combos = [_resolve(ctx, i, ps) for i, ps in enumerate(param_sets or [{}])]
    for group in _by_symbols(combos).values():
        lo = _lo_min(group)
        if lo is not None and param_sets is None:
            lo = min(lo, _lo(base.start, PREPARE_MARGIN_BARS))
        prep.panel(group[0].needed, lo)
    return prep


def _by_symbols(combos: list[_Combo]) -> dict:
    groups: dict = {}
    for c in combos:
        groups.setdefault(tuple(sorted(c.needed)), []).append(c)
    return groups


def _lo_min(group: list[_Combo]):
    los = [c.lo for c in group if c.lo is not None]
    return min(los) if los else None


@dataclass
class _Window:
    s0: int                  # first kept bar (decisions start here)
    tf: int                  # trade_from
    listed: np.ndarray       # per panel symbol: first bar this combination sees


def _window(base: RunConfig, panel: _Panel, combo: _Combo) -> _Window | None:
    """Where ``combo`` sits on ``panel``, as engine_layout would place it; None when it cannot be
    derived (an error or an unusual calendar: the caller then uses engine_layout itself)."""
    T = len(panel.calendar)
    w = combo.warmup
    cal = panel.cal_ns
    slots = [panel.slot(s) for s in combo.needed]
    if base.start:
        lo = _ns_of(combo.lo)
        i_lo = int(np.searchsorted(cal, lo, "left"))
        listed = np.full(len(panel.symbols), T, dtype=np.int64)
        for k in slots:
            own = panel.own[k]
            j = int(np.searchsorted(own, lo, "left"))
            if j == len(own):
                return None
            listed[k] = int(np.searchsorted(cal, own[j], "left"))
        ready = max(0, w - 1)
    else:
        i_lo = 0
        listed = panel.first.copy()
        ready = max(0, w - 1) + int(max(panel.first[k] for k in slots))
    if ready >= T - i_lo - 1:
        return None
    tf = i_lo + ready
    if base.start:
        start = _ns_of(base.start)
        if start > cal[tf]:
            tf = int(np.searchsorted(cal, start, "left"))
    if tf >= T - 1:
        return None
    s0 = i_lo + max(0, tf - i_lo - w)
    if min(max(s0, int(listed[k])) for k in slots) != s0:
        return None
    return _Window(s0=s0, tf=tf, listed=listed)


# -- the compiled loops --------------------------------------------------------------------------
def _jit(fn):
    if _numba is None:
        return fn
    return _numba.njit(cache=True, nogil=True)(fn)


@_jit
def _mx(a, b):
    return b if b > a else a


@_jit
def _ab(x):
    return -x if x < 0 else x


@_jit
def _ret(rows, row, days, t, s0, listed):
    # History.ret on the kept bars: NaN before `days` bars of history or before the symbol's bars
    if t - s0 < days or t - days < listed:
        return np.nan
    return rows[row, t]


@_jit
def _sma(rows, row, days, t, s0, listed):
    # History.sma: NaN until `days` kept bars, or when the window reaches before the symbol's bars
    if t + 1 - s0 < days or t + 1 - days < listed:
        return np.nan
    return rows[row, t]


@_jit
def _std1(x, n, mean):
    acc = 0.0
    for i in range(n):
        d = x[i] - mean
        acc += d * d
    return math.sqrt(acc / (n - 1))


@_jit
def _finite(x):
    return x if math.isfinite(x) else np.nan


@_jit
def _metrics(e, n1, r, b, has_b, ym, t0, counts, acc, out):
    """reports.metrics.compute_metrics of one equity curve e[:n1] (dated t0.. on the panel) and,
    with has_b, benchmark returns b[:n1-1]; counts: fills, refused orders, rotations; acc:
    turnover sum, exposure sum, held bars, spans. One pass for the sums, extremes, drawdowns and
    months, a second for the deviations."""
    nan = np.nan
    ann = 252.0
    n = n1 - 1
    prod = 1.0                 # growth of 1 (total return, CAGR; empyrical's wealth for max drawdown)
    peak_w = 100.0
    mdd = 0.0
    s = 0.0
    lo = np.inf
    hi = -np.inf
    down = 0.0
    # drawdown episodes of the equity itself (reports.metrics.drawdown_episodes): below the peak
    # e / peak - 1 < 0 exactly when e < peak, and within an episode the peak is fixed, so the
    # trough is the lowest equity; its depth is computed once per episode
    peak_v = e[0]
    peak_i = 0
    in_dd = False
    trough_e = 0.0
    best_depth = 0.0
    mdd_days = 0
    under = 0
    months = 0
    ups = 0
    mprod = 1.0
    for i in range(n):
        ek = e[i + 1]
        x = ek / e[i] - 1.0
        r[i] = x
        prod *= x + 1.0
        w = prod * 100.0
        if w > peak_w:
            peak_w = w
        elif w - peak_w < mdd * peak_w:
            d = (w - peak_w) / peak_w
            if d < mdd:
                mdd = d
        s += x
        if x < lo:
            lo = x
        if x > hi:
            hi = x
        if x < 0.0:
            down += x * x
        if ek < peak_v:
            under += 1
            if not in_dd:
                in_dd = True
                trough_e = ek
            elif ek < trough_e:
                trough_e = ek
        else:
            if in_dd:
                depth = trough_e / peak_v - 1.0
                if depth < best_depth:
                    best_depth = depth
                    mdd_days = i + 1 - peak_i
                in_dd = False
            peak_v = ek
            peak_i = i + 1
        mprod *= x + 1.0
        if i == n - 1 or ym[t0 + 2 + i] != ym[t0 + 1 + i]:
            months += 1
            if mprod - 1.0 > 0:
                ups += 1
            mprod = 1.0
    if in_dd and trough_e / peak_v - 1.0 < best_depth:
        mdd_days = n1 - 1 - peak_i
    mean = s / n if n >= 1 else nan
    total = prod - 1.0 if n >= 1 else nan
    cagr = prod ** (1.0 / (n / ann)) - 1.0 if n >= 1 else nan
    vol = sharpe = sortino = nan
    if n >= 2:
        std = _std1(r, n, mean)
        vol = std * ann ** (1.0 / 2.0)
        sharpe = nan if hi == lo else _finite(mean / std * math.sqrt(ann))
        dr = math.sqrt(down / n) * math.sqrt(ann)
        sortino = _finite(mean * ann / dr) if dr != 0.0 else nan
    if n < 1:
        mdd = nan
    years = n / ann
    turnover = nan
    if years > 0:
        turnover = 0.0 if counts[0] == 0 else _finite(acc[0] / 2.0 / years)
    out[0] = _finite(total)
    out[1] = _finite(cagr)
    out[2] = _finite(vol)
    out[3] = sharpe
    out[4] = sortino
    out[5] = _finite(cagr / -mdd) if mdd < 0 else nan
    out[6] = _finite(mdd)
    out[7] = mdd_days
    out[8] = under / n if n >= 1 else nan
    out[9] = hi if n >= 1 else nan
    out[10] = lo if n >= 1 else nan
    out[11] = ups / months if months > 0 else nan
    out[12] = turnover
    out[13] = _finite(acc[1] / n1)
    out[14] = counts[0]
    out[15] = counts[2]
    out[16] = acc[2] / acc[3] if acc[3] > 0 else nan
    for k in range(17, 22):
        out[k] = nan
    out[22] = counts[1]
    if has_b and n >= 1:
        pb = 1.0
        sa = 0.0
        sb = 0.0
        alo = np.inf
        ahi = -np.inf
        for i in range(n):
            pb *= b[i] + 1.0
            a = r[i] - b[i]
            sa += a
            sb += b[i]
            if a < alo:
                alo = a
            if a > ahi:
                ahi = a
        cagr_b = pb ** (1.0 / (n / ann)) - 1.0
        out[17] = _finite(_finite(cagr) - _finite(cagr_b))
        if n >= 2:
            ma = sa / n
            mb = sb / n
            acc_a = 0.0
            cov = 0.0
            var = 0.0
            for i in range(n):
                da = (r[i] - b[i]) - ma
                acc_a += da * da
                db = b[i] - mb
                cov += db * r[i]
                var += db * db
            te = math.sqrt(acc_a / (n - 1))
            out[18] = _finite(te * ann ** (1.0 / 2.0))
            out[19] = nan if ahi == alo else _finite(ma / te * math.sqrt(ann))
            cov /= n
            var /= n
            beta = nan if var < 1.0e-30 else cov / var
            out[20] = _finite(beta)
            sr = 0.0
            for i in range(n):
                sr += r[i] - beta * b[i]
            out[21] = _finite((sr / n + 1.0) ** ann - 1.0)


@_jit
def _run_chunk(kind, closes, opens, rows, month, ym, bench, s0a, tfa, listed, ip, fp, traded, ntr, W,
               exf, whole, eq, stats, mets, scratch, iscratch, series, codes):
    """Simulate each combination of the chunk: its rule's decisions from its first kept bar, the
    engine's rebalancing and backtrader's fills from trade_from; equity into eq[c, tf:], counts
    into stats[c] (fills, refused orders, rotations), metrics into mets[c]."""
    n = s0a.shape[0]
    T = closes.shape[1]
    J = traded.shape[1]
    nan = np.nan
    sh = scratch[0]
    avg = scratch[1]
    was_held = scratch[2]
    o_j = iscratch[0]
    o_d = scratch[3]
    o_ok = iscratch[1]
    r_buf = series[0]
    b_buf = series[1]
    accs = series[2]
    dec = codes[0]
    frc = codes[1]
    for c in range(n):
        s0 = s0a[c]
        tf = tfa[c]
        nj = ntr[c]
        cash = exf[c, 0]
        comm = exf[c, 1]
        slip = exf[c, 2]
        invf = exf[c, 3]
        tol = exf[c, 4]
        isw = whole[c] != 0
        for j in range(J):
            sh[j] = 0.0
            avg[j] = 0.0
            was_held[j] = 0.0
        cur = _ZERO
        due = -1
        due_k = _ZERO
        retry = False
        state = 0  # 0 growth, 1 pending, 2 rotated
        pend = 0
        held = 0
        n_fills = 0
        n_rej = 0
        n_rot = 0
        prev_on = False
        turn = 0.0
        expo = 0.0
        held_bars = 0
        spans = 0
        # strategy parameters
        p0 = ip[c, 0]
        p1 = ip[c, 1]
        p2 = ip[c, 2]
        p3 = ip[c, 3]
        p4 = ip[c, 4]
        p5 = ip[c, 5]
        p6 = ip[c, 6]
        p7 = ip[c, 7]
        p8 = ip[c, 8]
        p9 = ip[c, 9]
        p10 = ip[c, 10]
        p11 = ip[c, 11]
        p12 = ip[c, 12]
        p13 = ip[c, 13]
        p14 = ip[c, 14]
        p15 = ip[c, 15]
        p16 = ip[c, 16]
        p17 = ip[c, 17]
        f0 = fp[c, 0]
        f1 = fp[c, 1]
        # -- the rule decides at each close from the data through t (RotationStrategy.next); its
        #    state is carried through the warm-up, its decisions count from trade_from
        for t in range(s0, T):
            code = -1
            force = False
            on = False
            if kind == 1:  # dow_nasdaq_divergence
                dow = _ret(rows, p15, p3, t, s0, listed[c, p0])
                nas = _ret(rows, p16, p3, t, s0, listed[c, p1])
                spread = dow - nas
                if spread == spread:
                    fired = spread >= f0
                    if fired and p6 != 0:
                        fired = dow > 0 and 0 > nas
                    if fired and p7 != 0:
                        fired = _ret(rows, p17, p3, t, s0, listed[c, p2]) > nas
                    if fired and p8 >= 0:
                        fired = (_sma(rows, p9, p11, t, s0, listed[c, p8])
                                 > _sma(rows, p10, p12, t, s0, listed[c, p8]))
                    if state == 2:
                        held += 1
                        if held >= p5 and spread < 0 and -spread >= f1:
                            state = 0
                    elif state == 1:
                        pend = pend + 1 if spread > 0 else -1
                        if pend < 0:
                            state = 0
                        elif pend >= p4:
                            state = 2
                            held = 0
                    elif fired:
                        if p4 == 0:
                            state = 2
                            held = 0
                        else:
                            state = 1
                            pend = 0
                    on = state == 2
                    if on:
                        code = 1
                    elif p13 > 0:
                        cl = closes[p1, t] if t >= listed[c, p1] else nan
                        code = _ZERO if cl < _sma(rows, p14, p13, t, s0, listed[c, p1]) else 0
                    else:
                        code = 0
            elif kind == 0:  # fixed weights; p0: rebalance on the first bar of each month
                code = 0
                force = p0 != 0 and (t == s0 or month[t] != month[t - 1])
            else:  # golden_cross_timing
                slow = _sma(rows, p2, p4, t, s0, listed[c, p0])
                if slow == slow:
                    fast = _sma(rows, p1, p3, t, s0, listed[c, p0])
                    code = 0 if fast > slow else _ZERO
            if t >= tf:
                dec[t] = code
                frc[t] = 1 if force else 0
                if on and not prev_on:
                    n_rot += 1
                prev_on = on
        # -- the portfolio from trade_from (nothing can be due before it)
        for t in range(tf, T):
            # -- the open: a ticket due now is sized from this open's prices (RotationStrategy._rebalance)
            notional = 0.0
            if due == t:
                k = due_k
                due = -1
                tmp = 0.0
                for j in range(nj):
                    s = traded[c, j]
                    if t >= listed[c, s]:
                        tmp += sh[j] * opens[s, t] if sh[j] != 0.0 else 0.0
                value = cash + tmp
                inv = value * invf
                no = 0
                for sign in range(2):  # sells first, then buys, each in traded order
                    for j in range(nj):
                        s = traded[c, j]
                        if t < listed[c, s]:
                            continue
                        px = opens[s, t]
                        have = sh[j]
                        want = W[c, k, j] * inv / px
                        if isw:
                            want = math.floor(want)
                        delta = want - have
                        if _ab(delta) > 1e-9 * _mx(1.0, _ab(have)):
                            if (sign == 0 and delta < 0) or (sign == 1 and delta > 0):
                                o_j[no] = j
                                o_d[no] = delta
                                no += 1
                # backtrader BackBroker.check_submitted: pseudo-execution at the unslipped open
                chk = cash
                for q in range(no):
                    j = o_j[q]
                    d = o_d[q]
                    px = opens[traded[c, j], t]
                    if d < 0:
                        x = -d
                        chk += x * px
                        chk -= x * comm * px
                    else:
                        chk -= d * px
                        chk -= d * comm * px
                    o_ok[q] = 1 if chk >= 0.0 else 0
                # execution at the (slipped) open, in submission order
                for q in range(no):
                    j = o_j[q]
                    d = o_d[q]
                    if o_ok[q] == 0:
                        n_rej += 1
                        retry = True
                        continue
                    px = opens[traded[c, j], t]
                    if d < 0:
                        fill = px * (1.0 - slip) if slip != 0.0 else px
                        x = -d
                        pnl = x * (fill - avg[j]) * 1.0
                        cash += x * avg[j] + pnl
                        cash -= x * comm * fill
                        sh[j] = sh[j] + d
                        if sh[j] == 0.0:
                            avg[j] = 0.0
                    else:
                        fill = px * (1.0 + slip) if slip != 0.0 else px
                        c2 = cash - d * fill
                        c2 -= d * comm * fill
                        if c2 < 0.0:
                            n_rej += 1
                            retry = True
                            continue
                        cash = c2
                        old = sh[j]
                        new = old + d
                        if new == 0.0:
                            avg[j] = 0.0
                        elif old == 0.0:
                            avg[j] = fill
                        else:
                            avg[j] = (avg[j] * old + d * fill) / new
                        sh[j] = new
                    notional += _ab(d * fill)
                    n_fills += 1
            code = dec[t]
            force = frc[t] != 0
            # -- records from trade_from: backtrader's portfolio value (BackBroker._get_value)
            pvu = 0.0
            for j in range(nj):
                if sh[j] != 0.0:
                    px = closes[traded[c, j], t]
                    dv = sh[j] * px
                    du = sh[j] * (px - avg[j]) * 1.0
                    if dv > 0:
                        pvu += dv - du
                        pvu += du
                    else:
                        pvu += dv
            value = cash + pvu
            eq[c, t] = value
            if notional != 0.0:
                turn += notional / value
            force = force or retry
            retry = False
            changed = False
            if code >= 0 and code != cur:
                for j in range(nj):
                    if W[c, code, j] != W[c, cur, j]:
                        changed = True
                cur = code
            drift = 0.0
            tot = 0.0
            for j in range(nj):  # actual weights (strategy: position value / broker value)
                if sh[j] != 0.0:
                    a = sh[j] * closes[traded[c, j], t] / value
                    tot += a
                    h = a > 1e-9
                else:
                    a = 0.0  # 0.0 / value
                    h = False
                dd = _ab(a - W[c, cur, j])
                if dd > drift:
                    drift = dd
                if h:
                    held_bars += 1
                    if was_held[j] == 0.0:
                        spans += 1
                was_held[j] = 1.0 if h else 0.0
            expo += tot
            if changed or force or drift > tol:
                due = t + 1
                due_k = cur
        stats[c, 0] = n_fills
        stats[c, 1] = n_rej
        stats[c, 2] = n_rot
        # benchmark returns (engine: close from trade_from / its first valid value * cash, then
        # reports.metrics.returns_of: pct_change from the second day, NaN -> 0)
        n1 = T - tf
        has_b = bench >= 0
        if has_b:
            x0 = nan
            for t in range(tf, T):
                if t >= listed[c, bench]:
                    x0 = closes[bench, t]
                    break
            cash0 = exf[c, 0]
            prev = nan
            for i in range(n1):
                t = tf + i
                v = closes[bench, t] / x0 * cash0 if t >= listed[c, bench] else nan
                if i >= 1:
                    rb = v / prev - 1.0
                    b_buf[i - 1] = rb if rb == rb else 0.0
                prev = v
        accs[0] = turn
        accs[1] = expo
        accs[2] = held_bars
        accs[3] = spans
        _metrics(eq[c, tf:], n1, r_buf, b_buf, has_b, ym, tf, stats[c], accs, mets[c])


def _check_numba():
    if _numba is None:
        raise UserError("the fast engine needs numba: pip install numba (or use --engine backtrader)")


def warm_up() -> float:
    """Compile the loops (or load them from numba's on-disk cache); seconds taken. Call it early
    (e.g. while data loads) so the first sweep does not pay for it."""
    _check_numba()
    t0 = time.perf_counter()
    T = 4
    z2 = np.zeros((1, T))
    i2 = np.zeros((1, _NI), dtype=np.int64)
    _run_chunk(0, np.ones((1, T)), np.ones((1, T)), z2, np.ones(T, np.int64), np.ones(T, np.int64), -1,
               np.zeros(1, np.int64), np.ones(1, np.int64), np.zeros((1, 1), np.int64), i2,
               np.zeros((1, _NF)), np.zeros((1, 1), np.int64), np.ones(1, np.int64), np.zeros((1, 3, 1)),
               np.array([[1.0, 0.0, 0.0, 1.0, 0.05]]), np.zeros(1, np.int64), np.zeros((1, T)),
               np.zeros((1, 3), np.int64), np.zeros((1, len(METRIC_KEYS))), *_scratch(1, T))
    return time.perf_counter() - t0


def _scratch(J: int, T: int):
    """Work arrays of one _run_chunk call: per traded symbol (shares, average price, held flag,
    order sizes), order slots and flags, and two series of returns."""
    return (np.zeros((4, J)), np.zeros((2, J), dtype=np.int64), np.zeros((3, max(T, 4))),
            np.zeros((2, T), dtype=np.int64))


# -- results -----------------------------------------------------------------------------------
@dataclass
class FastResults:
    """Per combination (in the order given): equity from trade_from, its dates, counts, metrics
    (``metrics[key]`` is an array over combinations) and ``errors`` ("" when the combination ran;
    else the engine's one-line message, as sweep.csv's error column)."""

    param_sets: list
    equity: list              # ndarray per combination (None on error or keep_equity=False)
    dates: list               # DatetimeIndex per combination (None on error)
    n_fills: np.ndarray
    rejected: np.ndarray
    metrics: dict
    errors: list
    seconds: float
    benchmark: bool

    def __len__(self) -> int:
        return len(self.param_sets)

    @property
    def combos_per_second(self) -> float:
        return len(self) / self.seconds if self.seconds > 0 else float("inf")

    def period(self, i: int) -> tuple[str, str]:
        """``(trade_from, trade_to)`` as YYYY-MM-DD ("" on error), as sweep.csv writes them."""
        d = self.dates[i]
        return ("", "") if d is None else (f"{d[0]:%Y-%m-%d}", f"{d[-1]:%Y-%m-%d}")

    def metrics_row(self, i: int) -> dict:
        """Metrics of combination ``i`` keyed as reports.metrics.compute_metrics (counts as int,
        non-finite values as NaN; relative metrics only with a benchmark)."""
        keys = [k for k in METRIC_KEYS if self.benchmark or k not in RELATIVE_KEYS]
        row = {}
        for k in keys:
            v = float(self.metrics[k][i])
            row[k] = int(v) if k in INT_KEYS and math.isfinite(v) else v
        return row

    def equity_series(self, i: int) -> pd.Series | None:
        if self.equity[i] is None:
            return None
        return pd.Series(self.equity[i], index=self.dates[i], name="equity")


# -- running -----------------------------------------------------------------------------------
def _default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _weight_rows(combo: _Combo) -> tuple:
    """The target weight dicts a strategy returns, as rows over its traded symbols: (first,
    second); the third row (_ZERO) is all cash."""
    from strategies.base import equal_weights
    v = combo.values
    if combo.strategy == "dow_nasdaq_divergence":
        rows = (equal_weights(v["growth_symbols"]),
                dict(zip(v["rotation_symbols"], map(float, v["rotation_weights"]))) if v["rotation_weights"]
                else equal_weights(v["rotation_symbols"]))
    elif combo.strategy in ("buy_and_hold", "golden_cross_timing"):
        rows = ({v["symbol"]: 1.0}, {})
    else:
        syms, ws = ((v["symbols"], v["weights"]) if combo.strategy == "static_blend"
                    else (v["rotation_symbols"], v["rotation_weights"]))
        rows = (dict(zip(syms, map(float, ws))) if ws else equal_weights(syms), {})
    table = tuple(tuple(float(r.get(s, 0.0)) for s in combo.traded) for r in rows)
    flat = [w for row in table for w in row]
    if not all(math.isfinite(w) for w in flat):
        raise UserError("weights must be finite numbers")
    if any(w < 0 for w in flat):
        raise UserError("negative weights (short positions) are not supported by the fast engine; "
                        "use --engine backtrader")
    return table


def _weight_key(combo: _Combo) -> tuple:
    v = combo.values
    names = {"dow_nasdaq_divergence": ("growth_symbols", "rotation_symbols", "rotation_weights"),
             "static_blend": ("symbols", "weights"), "always_rotated": ("rotation_symbols", "rotation_weights")}
    return (combo.strategy, tuple(combo.traded), *(v.get(k) for k in names.get(combo.strategy, ("symbol",))))


def _params(combo: _Combo, panel: _Panel) -> tuple[list, list]:
    """The strategy's parameters as the int and float columns _run_chunk reads."""
    v = combo.values
    ip = [-1] * _NI
    fp = [0.0] * _NF
    if combo.strategy == "dow_nasdaq_divergence":
        nas = panel.slot(v["nasdaq_symbol"])
        ip[0], ip[1] = panel.slot(v["dow_symbol"]), nas
        ip[2] = panel.slot(v["small_cap_symbol"]) if v["small_cap_symbol"] else -1
        ip[3] = _whole("lookback_days", v["lookback_days"])
        ip[4] = _whole("confirm_days", v["confirm_days"])
        ip[5] = _whole("hold_days", v["hold_days"])
        ip[6] = int(bool(v["require_opposite_signs"]))
        ip[7] = int(bool(v["small_cap_confirm"]))
        if v["golden_cross_symbol"]:
            g = panel.slot(v["golden_cross_symbol"])
            fast = _whole("golden_cross_fast_days", v["golden_cross_fast_days"])
            slow = _whole("golden_cross_slow_days", v["golden_cross_slow_days"])
            if fast < 1:
                raise UserError("golden_cross_fast_days must be >= 1 for the fast engine")
            ip[8:13] = [g, panel.sma_row(g, fast), panel.sma_row(g, slow), fast, slow]
        tech = _whole("tech_breakdown_exit", v["tech_breakdown_exit"])
        if tech < 0:
            raise UserError("tech_breakdown_exit must be >= 0 for the fast engine")
        ip[13] = tech
        if tech > 0:
            ip[14] = panel.sma_row(nas, tech)
        ip[15] = panel.ret_row(ip[0], ip[3])
        ip[16] = panel.ret_row(nas, ip[3])
        if ip[2] >= 0:
            ip[17] = panel.ret_row(ip[2], ip[3])
        fp[0], fp[1] = float(v["threshold"]), float(v["exit_threshold"])
        if not (math.isfinite(fp[0]) and math.isfinite(fp[1])):
            raise UserError("threshold and exit_threshold must be finite numbers")
    elif combo.strategy == "buy_and_hold":
        ip[0] = 0
    elif combo.strategy in ("static_blend", "always_rotated"):
        ip[0] = 1
    else:  # golden_cross_timing
        g = panel.slot(v["symbol"])
        fast, slow = _whole("fast_days", v["fast_days"]), _whole("slow_days", v["slow_days"])
        if fast < 1:
            raise UserError("fast_days must be >= 1 for the fast engine")
        ip[0:5] = [g, panel.sma_row(g, fast), panel.sma_row(g, slow), fast, slow]
    return ip, fp


def run_fast(prepared: Prepared, param_sets: list[dict], *, jobs: int | None = None,
             keep_equity: bool = True) -> FastResults:
    """Run every parameter set (strategy parameters over the base config's, execution keys over its
    execution) and return per-combination equity, fill counts, metrics and errors.

    ``jobs`` threads run chunks of combinations at once (default: the CPUs available);
    ``keep_equity=False`` keeps only the metrics (for very large grids).
    Raises UserError for strategies, parameters or fill modes the fast engine cannot reproduce
    exactly; a combination the engine itself would refuse (too little history...) gets its message
    in ``errors`` instead.
    """
    _check_numba()
    t_start = time.perf_counter()
    base = prepared.base
    param_sets = [dict(ps) for ps in param_sets]
    ctx = _base(base)
    combos = [_resolve(ctx, i, ps) for i, ps in enumerate(param_sets)]
    n_all = len(combos)
    nm = len(METRIC_KEYS)
    equity: list = [None] * n_all
    dates: list = [None] * n_all
    fills = np.zeros(n_all, dtype=np.int64)
    rejected = np.zeros(n_all, dtype=np.int64)
    mets = np.full((n_all, nm), np.nan)
    errors = [""] * n_all
    jobs = jobs or _default_jobs()

    # Place each combination on a shared panel of its symbol set, or (rarely: an error or a gap
    # before its window) on its own exact engine layout.
    batches: dict = {}
    for syms, group in _by_symbols(combos).items():
        panel = prepared.panel(list(group[0].needed), _lo_min(group))
        windows: dict = {}
        for combo in group:
            key = (combo.warmup, tuple(combo.needed))
            if key not in windows:
                windows[key] = _window(base, panel, combo) if panel is not None else None
            win = windows[key]
            if win is None:
                cfg = config_for(base, param_sets[combo.index])
                try:
                    own = _panel_exact(cfg, prepared.data, combo)
                except UserError as exc:
                    errors[combo.index] = str(exc)
                    continue
                listed = np.array(own.first, dtype=np.int64)
                win = _Window(s0=0, tf=own.exact_trade_from, listed=listed)
                batches[("exact", combo.index)] = (own, [(combo, win)])
            else:
                batches.setdefault(("shared", syms, id(panel)), (panel, []))[1].append((combo, win))

    pool = ThreadPoolExecutor(max_workers=jobs) if jobs > 1 else None
    try:
        for panel, members in batches.values():
            _run_batch(base, panel, members, pool, jobs, keep_equity, equity, dates, fills, rejected, mets)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    metrics = {k: mets[:, i] for i, k in enumerate(METRIC_KEYS)}
    return FastResults(param_sets=param_sets, equity=equity, dates=dates, n_fills=fills, rejected=rejected,
                       metrics=metrics, errors=errors, seconds=time.perf_counter() - t_start,
                       benchmark=bool(base.benchmark))


def _run_batch(base, panel: _Panel, members, pool, jobs, keep_equity, equity, dates, fills, rejected, mets):
    n = len(members)
    J = max(len(c.traded) for c, _ in members)
    T = len(panel.calendar)
    ip_rows, fp_rows, ex_rows, w_rows, t_rows, tables, slots, exs = [], [], [], [], [], {}, {}, {}
    for combo, win in members:
        a, b = _params(combo, panel)
        ip_rows.append(a)
        fp_rows.append(b)
        key = _weight_key(combo)
        if key not in tables:
            pad = (0.0,) * (J - len(combo.traded))
            tables[key] = [row + pad for row in _weight_rows(combo)] + [(0.0,) * J]
            slots[key] = [panel.slot(s) for s in combo.traded] + [0] * (J - len(combo.traded))
        w_rows.append(tables[key])
        t_rows.append(slots[key])
        ex = combo.execution
        if id(ex) not in exs:
            exs[id(ex)] = (ex.cash, ex.commission_bps / 1e4, ex.slippage_bps / 1e4,
                           1.0 - max(ex.cash_buffer, 1e-9), ex.drift_tolerance, 0 if ex.fractional else 1)
        ex_rows.append(exs[id(ex)])
    ip = np.array(ip_rows, dtype=np.int64)
    fp = np.array(fp_rows, dtype=np.float64)
    W = np.array(w_rows, dtype=np.float64)
    traded = np.array(t_rows, dtype=np.int64)
    ntr = np.array([len(c.traded) for c, _ in members], dtype=np.int64)
    s0 = np.array([w.s0 for _, w in members], dtype=np.int64)
    tf = np.array([w.tf for _, w in members], dtype=np.int64)
    listed = np.array([w.listed for _, w in members], dtype=np.int64)
    ex_all = np.array(ex_rows, dtype=np.float64)
    exf = np.ascontiguousarray(ex_all[:, :5])
    whole = ex_all[:, 5].astype(np.int64)
    kind_of = np.array([_KINDS[c.strategy] for c, _ in members], dtype=np.int64)
    kinds = set(kind_of.tolist())
    table = np.ascontiguousarray(np.stack(panel.rows)) if panel.rows else np.zeros((1, T))
    month, ym = panel.months
    bench = panel.slot(base.benchmark) if base.benchmark else -1
    eq = np.empty((n, T)) if keep_equity else None  # each row is written from its trade_from on
    stats = np.zeros((n, 3), dtype=np.int64)
    out = np.full((n, len(METRIC_KEYS)), np.nan)

    tasks = []
    for kind in sorted(kinds):
        idx = np.flatnonzero(kind_of == kind)
        size = max(8, math.ceil(len(idx) / (4 * jobs)))
        for a in range(0, len(idx), size):
            tasks.append((kind, idx[a:a + size]))

    def task(item):
        kind, rows = item
        contiguous = rows[-1] - rows[0] + 1 == len(rows)
        sl = slice(rows[0], rows[-1] + 1) if contiguous else rows
        e = eq[sl] if (keep_equity and contiguous) else np.empty((len(rows), T))
        st = stats[sl] if contiguous else np.zeros((len(rows), 3), dtype=np.int64)
        mt = out[sl] if contiguous else np.full((len(rows), len(METRIC_KEYS)), np.nan)
        _run_chunk(kind, panel.closes, panel.opens, table, month, ym, bench, s0[sl], tf[sl], listed[sl], ip[sl],
                   fp[sl], traded[sl], ntr[sl], W[sl], exf[sl], whole[sl], e, st, mt, *_scratch(J, T))
        if not contiguous:
            if keep_equity:
                eq[rows] = e
            stats[rows] = st
            out[rows] = mt

    if pool is not None and len(tasks) > 1:
        list(pool.map(task, tasks))
    else:
        for item in tasks:
            task(item)

    where = np.array([c.index for c, _ in members])
    fills[where], rejected[where], mets[where] = stats[:, 0], stats[:, 1], out
    calendars: dict = {}
    for i, (combo, win) in enumerate(members):
        if win.tf not in calendars:
            calendars[win.tf] = panel.calendar[win.tf:]
        dates[combo.index] = calendars[win.tf]
        if keep_equity:
            equity[combo.index] = eq[i, win.tf:]


# -- confirmation ----------------------------------------------------------------------------
def tolerance_for(execution: Execution) -> float:
    """The agreement tolerance that applies to ``execution`` (see :data:`AGREEMENT_TOLERANCE`)."""
    free = execution.commission_bps == 0 and execution.slippage_bps == 0 and execution.fractional
    return AGREEMENT_TOLERANCE["zero_cost" if free else "costs"]


def equity_difference(fast: np.ndarray, reference: np.ndarray) -> float:
    """Largest relative difference ``|fast - reference| / |reference|`` over the days."""
    fast = np.asarray(fast, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if fast.shape != reference.shape:
        return float("inf")
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.abs(fast - reference) / np.abs(reference)
    d = np.where(fast == reference, 0.0, d)
    return float(np.max(d)) if len(d) else 0.0


def confirm(base: RunConfig, data: dict[str, Bars], param_sets: list[dict], fast_results: FastResults,
            tolerance: float | None = None) -> np.ndarray:
    """Re-run ``param_sets`` (each one of ``fast_results.param_sets``) in backtrader
    (:func:`rotationlab.engine.run`) and return the largest relative equity difference of each.

    Raises :class:`AgreementError` naming every set whose difference exceeds ``tolerance`` (default:
    :func:`tolerance_for` its execution), whose fill count or trading period differs, or that one
    engine refused and the other ran."""
    from rotationlab.engine import run
    position = {}
    for i, ps in enumerate(fast_results.param_sets):
        position.setdefault(_key(ps), i)
    diffs = np.zeros(len(param_sets))
    problems = []
    for n, ps in enumerate(param_sets):
        i = position.get(_key(ps))
        if i is None:
            raise ValueError(f"parameter set {ps!r} is not among the fast results")
        cfg = config_for(base, ps)
        tol = tolerance if tolerance is not None else tolerance_for(cfg.execution)
        label = ", ".join(f"{k}={v!r}" for k, v in ps.items()) or "(base parameters)"
        try:
            res = run(cfg, data=data)
        except UserError as exc:
            if fast_results.errors[i] != str(exc):
                problems.append(f"{label}: backtrader refused it ({exc}) but the fast engine gave "
                                f"{fast_results.errors[i] or 'a result'}")
            diffs[n] = 0.0
            continue
        if fast_results.errors[i]:
            problems.append(f"{label}: the fast engine refused it ({fast_results.errors[i]}) but backtrader ran it")
            diffs[n] = float("inf")
            continue
        fast_dates = fast_results.dates[i]
        if not res.equity.index.equals(fast_dates):
            problems.append(f"{label}: trading period {fast_dates[0]:%Y-%m-%d}..{fast_dates[-1]:%Y-%m-%d} (fast) vs "
                            f"{res.equity.index[0]:%Y-%m-%d}..{res.equity.index[-1]:%Y-%m-%d} (backtrader)")
            diffs[n] = float("inf")
            continue
        if fast_results.equity[i] is None:
            raise ValueError("confirm needs the fast results' equity (run_fast with keep_equity=True)")
        diffs[n] = equity_difference(fast_results.equity[i], res.equity.to_numpy())
        if not diffs[n] <= tol:
            worst = int(np.nanargmax(np.abs(fast_results.equity[i] - res.equity.to_numpy())))
            problems.append(f"{label}: equity differs by {diffs[n]:.3g} relative (tolerance {tol:g}), worst on "
                            f"{fast_dates[worst]:%Y-%m-%d}: fast {fast_results.equity[i][worst]:.6f} vs "
                            f"backtrader {res.equity.iloc[worst]:.6f}")
        if int(fast_results.n_fills[i]) != len(res.trades):
            problems.append(f"{label}: {int(fast_results.n_fills[i])} fills (fast) vs {len(res.trades)} (backtrader)")
    if problems:
        raise AgreementError(f"the fast engine disagrees with backtrader on {len(problems)} check(s):\n  "
                             + "\n  ".join(problems))
    return diffs


def _key(ps: dict):
    return tuple(sorted((k, repr(v)) for k, v in ps.items()))
