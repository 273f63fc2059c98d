"""The fast engine: many parameter combinations of any rule per pass, without backtrader, with
the backtrader engine's decisions and fills reproduced exactly.

    prepared = prepare(base_config, data)
    res = run_fast(prepared, [{"lookback_days": 5, "threshold": 0.01}, ...])
    res.equity[i], res.n_fills[i], res.metrics["sharpe"][i], res.errors[i]
    confirm(base_config, data, some_param_sets, res)      # re-run in backtrader; loud if they differ

For every combination: the rule is built once (its parameters applied and validated as for a
run), placed on the aligned panel of its symbols by :func:`rotationlab.layout.place` (the same
calendar, first decision and first trading bar as :func:`rotationlab.engine.run`), and its
decisions over the whole window are computed

* by its vectorized form (:meth:`strategies.Rule.vectorized`), where it has one, or
* by calling its ``decide`` per bar through the same :class:`strategies.History` the backtrader
  engine uses (any rule, no extra code; in worker processes when there are many);

then :func:`rotationlab.kernel.simulate` turns the decisions into fills, equity and metrics.
Nothing here or in the kernel is specific to a rule.

:func:`confirm` re-runs chosen combinations in backtrader and raises :class:`AgreementError` when
the equity curves differ by more than :data:`AGREEMENT_TOLERANCE` (relative, on any day), the fill
counts differ or the trading periods differ; :func:`check_forms` holds a rule's vectorized
decisions against its per-bar ones.
"""

from __future__ import annotations

import dataclasses
from collections import deque
import math
import os
import threading
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_feeds import Bars
from rotationlab import kernel as K
from rotationlab.config import Execution, RunConfig, coerce_value, split_params, strategy_class, with_params
from rotationlab.errors import UserError
from data_feeds import CLOSE_ONLY_SHARE, close_only_share
from rotationlab.layout import Panel, build_panel, effective_fill, place
from strategies.base import Decisions, History, PanelHistory, Target

METRIC_KEYS, RELATIVE_KEYS, INT_KEYS = K.METRIC_KEYS, K.RELATIVE_KEYS, K.INT_KEYS
EXEC_KEYS = tuple(f.name for f in dataclasses.fields(Execution))

#: Largest relative equity difference (any day) accepted between the fast engine and backtrader.
#: The kernel repeats backtrader's arithmetic operation for operation, so every discrete choice
#: (a whole-share floor, a drift rebalance, a refused order) is taken on identical numbers;
#: measured: 0.0 (bit-identical equity) on every comparison in the tests. A looser bound would
#: only hide real discrepancies (one share rounded the other way moves equity by ~1e-5).
AGREEMENT_TOLERANCE = {"zero_cost": 1e-6, "costs": 1e-6}
#: Combinations simulated per kernel call (bounds the memory of codes and equity).
CHUNK = 512


class AgreementError(RuntimeError):
    """The fast engine and backtrader (or a rule's two forms) disagree: a bug, never noise."""


def config_for(base: RunConfig, params: dict) -> RunConfig:
    """``base`` with one parameter set applied (as a sweep applies it)."""
    return with_params(base, params)


# -- combinations ---------------------------------------------------------------------------------
@dataclass
class _Combo:
    index: int
    rule: object
    execution: Execution
    needed: list          # the rule's symbols
    symbols: tuple        # panel symbol set (rule's + benchmark)
    warmup: int
    traded: tuple = ()    # the rule's traded symbols, in order


class _Resolver:
    """Builds each combination's rule once: only the parameters a combination changes are
    coerced; the rule's own ``validate`` runs for every one."""

    def __init__(self, base: RunConfig):
        self.base = base
        self.cls = strategy_class(base.strategy)
        self.base_rule = self.cls.create(base.params)
        self.base_values = self.base_rule.values
        self.defaults = self.cls.defaults()
        self.names = set(self.defaults)
        self._exec: dict = {}
        self._symbols: dict = {}  # the rule's symbols -> the panel's (with the benchmark)

    def __call__(self, index: int, params: dict) -> _Combo:
        strat = {k: v for k, v in params.items() if k in self.names or k not in EXEC_KEYS}
        knobs = () if len(strat) == len(params) else tuple(sorted((k, repr(v)) for k, v in params.items()
                                                                  if k not in strat))
        ex = self._exec.get(knobs)
        if ex is None:
            ex = self._exec[knobs] = split_params(self.base.strategy, params, self.base.execution)[1]
        if strat:
            values = dict(self.base_values)
            try:
                for k, v in strat.items():
                    values[k] = coerce_value(k, v, self.defaults[k])
            except KeyError:
                rule = self.cls.create({**self.base.params, **strat})  # the usual one-line error
            else:
                rule = self.cls(**values)
                try:
                    rule.validate()
                except ValueError as exc:
                    raise UserError(f"strategy {self.cls.name()}: {exc}") from None
        else:
            rule = self.cls(**self.base_values)
        needed, traded = rule.roles()
        symbols = self._symbols.get(needed)
        if symbols is None:
            bench = [self.base.benchmark] if self.base.benchmark else []
            symbols = self._symbols[needed] = tuple(sorted(set(needed) | set(bench)))
        return _Combo(index, rule, ex, list(needed), symbols, int(rule.warmup_bars()), traded)


class Prepared:
    """Data and base config, with the aligned panels of each symbol set (built once, reused by
    every :func:`run_fast` call)."""

    def __init__(self, base: RunConfig, data: dict[str, Bars]):
        self.base = base
        self.data = dict(data)
        self._panels: dict = {}

    def panel(self, symbols) -> Panel | UserError:
        key = tuple(sorted(symbols))
        if key not in self._panels:
            try:
                self._panels[key] = build_panel(self.base, self.data, list(key))
            except UserError as exc:
                self._panels[key] = exc
        return self._panels[key]


def prepare(base: RunConfig, data: dict[str, Bars], param_sets: list[dict] | None = None) -> Prepared:
    """Check the base config and align the data for it (and for ``param_sets`` if given)."""
    _check_numba()
    prep = Prepared(base, data)
    res = _Resolver(base)
    for i, ps in enumerate(param_sets or [{}]):
        prep.panel(res(i, dict(ps)).symbols)
    return prep


# -- decisions --------------------------------------------------------------------------------------
def per_bar_decisions(rule, closes: dict, extra: dict, dates) -> Decisions:
    """The rule's ``decide`` at every bar (the per-bar form, as the backtrader engine calls it)."""
    traded = rule.traded()
    tset = set(traded)
    h = History(closes, dates, 0, extra)
    rule._hist = h
    rule._signal_rows = [] if rule.has_signal else None
    rule.start()
    T = len(h._dates)
    codes = np.full(T, -1, dtype=np.int16)
    force = np.zeros(T, dtype=bool)
    rows: list = []
    by_key: dict = {}     # canonical weights over the traded symbols -> row
    by_items: dict = {}   # the dict's own items (as returned) -> row
    by_id: dict = {}      # the very object returned before -> row
    decide = rule.decide
    for t in range(T):
        h.t = t
        d = decide(h)
        if d is None:
            continue
        if type(d) is Target:
            force[t] = d.rebalance
            d = d.weights
        hit = by_id.get(id(d))
        if hit is not None and hit[0] is d:
            codes[t] = hit[1]
            continue
        items = tuple(d.items())
        k = by_items.get(items)
        if k is None:
            if not tset.issuperset(d):
                raise UserError(f"{rule.name()} targets {', '.join(sorted(set(d) - tset))}, which it does not "
                                "trade; list every symbol it may hold in symbols()['traded']")
            key = tuple(float(d.get(s, 0.0)) for s in traded)
            k = by_key.get(key)
            if k is None:
                k = by_key[key] = len(rows)
                rows.append(dict(zip(traded, key)))
                if len(rows) > 30_000:
                    raise UserError(f"{rule.name()} returned more than 30,000 different target weightings; the "
                                    "fast engine needs a rule with a bounded set of targets (use --engine backtrader)")
            by_items[items] = k
        by_id[id(d)] = (d, k)
        codes[t] = k
    rotated = np.zeros(T, dtype=bool)
    for t, f in rule._signal_rows or ():
        if f.get("state") == "rotated":
            rotated[t] = True
    return Decisions(codes=codes, rows=rows, force=force if force.any() else None, rotated=rotated)


def _dates_from(panel: Panel, d0: int) -> list:
    """The panel's dates from bar d0 as a list of Timestamps (built once per panel)."""
    key = ("dates-list", None, None, None)
    full = panel.cache.get(key)
    if full is None:
        full = panel.cache[key] = list(panel.calendar)
    return full[d0:]


def _window(panel: Panel, needed: list, d0: int) -> tuple:
    """``(closes, extra, dates)`` of ``needed`` from bar ``d0`` (views; built once per panel)."""
    key = ("window", tuple(needed), d0, None)
    w = panel.cache.get(key)
    if w is None:
        w = panel.cache[key] = (*panel.arrays(needed, d0), panel.calendar[d0:])
    return w


def _decisions(rule, panel: Panel, d0: int, mode: str) -> Decisions:
    return _decisions_many(panel, [(rule, d0)], mode)[0]


def _decisions_many(panel: Panel, items: list, mode: str) -> list:
    """The decisions of each ``(rule, d0)``: rules of one class on one window asked at once for
    their vectorized form (``mode`` "auto" or "vectorized"), the per-bar form otherwise."""
    out: list = [None] * len(items)
    if mode != "per_bar":
        groups: dict = {}
        for i, (rule, d0) in enumerate(items):
            groups.setdefault((type(rule), d0, tuple(rule.needed())), []).append(i)
        for (cls, d0, needed), members in groups.items():
            closes, extra, dates = _window(panel, list(needed), d0)
            decs = cls.vectorized_many(PanelHistory(closes, dates, extra, cache=panel.cache, key=d0),
                                       [items[i][0] for i in members])
            for i, dec in zip(members, decs):
                out[i] = dec
    for i, (rule, d0) in enumerate(items):
        if out[i] is None:
            if mode == "vectorized":
                raise UserError(f"{rule.name()} has no vectorized form; use the per-bar form")
            closes, extra, _ = _window(panel, rule.needed(), d0)
            out[i] = per_bar_decisions(rule, closes, extra, _dates_from(panel, d0))
    return out


def _rotations(rule, rotated, tf_rel: int):
    """Rotation episodes from the first trading bar: runs of days the rule's logged state is
    'rotated' (as rotationlab.metrics counts them from the signal log; 0 for rules without one).
    ``rotated``: one row of days, or rows of several parameter sets (one count each)."""
    if not rule.has_signal or rotated is None:
        return 0
    on = np.asarray(rotated, dtype=bool)[..., tf_rel:]
    if not on.shape[-1]:
        return 0
    return on[..., 0].astype(np.int64) + np.count_nonzero(on[..., 1:] & ~on[..., :-1], axis=-1)


# -- running ----------------------------------------------------------------------------------------
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
    timings: dict = dataclasses.field(default_factory=dict)

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
        """Metrics of combination ``i`` keyed as rotationlab.metrics.compute_metrics (counts as
        int, non-finite values as NaN; relative metrics only with a benchmark)."""
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


def _default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def run_fast(prepared: Prepared, param_sets: list[dict], *, jobs: int | None = None, keep_equity: bool = True,
             on_chunk=None, chunk: int = CHUNK, decisions: str = "auto") -> FastResults:
    """Run every parameter set (strategy parameters over the base config's, execution keys over its
    execution) and return per-combination equity, fill counts, metrics and errors.

    ``jobs`` threads simulate chunks of combinations at once (default: the CPUs available), while
    this thread resolves, decides and packs the next chunks; the per-bar decisions of rules
    without a vectorized form run first, in as many worker processes.
    ``keep_equity=False`` keeps only the metrics; ``on_chunk(indices, equity, tf)`` (if given)
    receives each chunk's equity rows (panel calendar; ``tf`` their first trading bars) and the
    panel, to stream them elsewhere, chunk after chunk in one order (the grid's, within each set of
    symbols). ``decisions``: "auto" (vectorized where the rule has it), "per_bar" or "vectorized".
    A combination the engine itself would refuse (too little history...) gets its message in
    ``errors`` instead.
    """
    _check_numba()
    t_start = time.perf_counter()
    base = prepared.base
    param_sets = [dict(ps) for ps in param_sets]
    n_all = len(param_sets)
    equity: list = [None] * n_all
    dates: list = [None] * n_all
    fills = np.zeros(n_all, dtype=np.int64)
    rejected = np.zeros(n_all, dtype=np.int64)
    mets = np.full((n_all, len(METRIC_KEYS)), np.nan)
    errors = [""] * n_all
    jobs = jobs or _default_jobs()
    timings = {"resolve": 0.0, "decisions_per_bar": 0.0}
    resolve = _Resolver(base)
    size = min(chunk, max(16, -(-n_all // (4 * max(jobs, 1)))))
    placer = _Placer(prepared)

    if decisions == "per_bar" or (decisions == "auto" and not resolve.cls.has_vectorized()):
        def items():  # whole symbol sets: their per-bar decisions first (in worker processes)
            t0 = time.perf_counter()
            combos = [resolve(i, ps) for i, ps in enumerate(param_sets)]
            timings["resolve"] += time.perf_counter() - t0
            for ctx, placed in placer.place(combos, errors):
                t0 = time.perf_counter()
                decided = _per_bar_parallel(ctx.panel, placed, jobs) if len(placed) > 1 and jobs > 1 else None
                timings["decisions_per_bar"] += time.perf_counter() - t0
                for a, b in _chunks(len(placed), size, jobs):
                    yield ctx, placed[a:b], decided[a:b] if decided is not None else None
    else:
        def items():  # chunk by chunk: resolved, placed and (in pack) decided as the pool needs them
            for a, b in _chunks(n_all, size, jobs):
                t0 = time.perf_counter()
                combos = [resolve(i, param_sets[i]) for i in range(a, b)]
                timings["resolve"] += time.perf_counter() - t0
                for ctx, placed in placer.place(combos, errors):
                    yield ctx, placed, None

    buffers = _Buffers(size)

    def pack(item):  # Python, in this thread: decisions and the kernel's inputs of one chunk
        ctx, part, decs = item
        return ctx, _pack(ctx, decisions, part, decs, buffers)

    def simulate(packed):  # the compiled kernel, without the GIL: in a helper thread (or this one)
        ctx, (idx, args, J) = packed
        eq = np.empty((len(idx), ctx.T)) if keep_equity else buffers.take(len(idx), ctx.T, np.float64)
        out = ctx.simulate(args, J, eq)
        buffers.give(args[4])  # the decision codes
        return (ctx, idx, eq, *out)

    streamed = 0.0
    run_all = _in_order(pack, simulate, items(), jobs)
    try:
        for ctx, idx, eq, tfa, stats, out in run_all:
            if on_chunk is not None:
                t1 = time.perf_counter()
                on_chunk(idx, eq, tfa, ctx.panel)
                streamed += time.perf_counter() - t1
            fills[idx], rejected[idx], mets[idx] = stats[:, 0], stats[:, 1], out
            for i, ci in enumerate(idx):
                tf = int(tfa[i])
                dates[ci] = ctx.calendar_from(tf)
                if keep_equity:
                    equity[ci] = eq[i, tf:]
            if not keep_equity:
                buffers.give(eq)
    finally:
        run_all.close()  # on an error: the helper threads stop before this returns
    seconds = time.perf_counter() - t_start
    timings["streaming"] = streamed
    timings["simulate"] = seconds - streamed - timings["resolve"] - timings["decisions_per_bar"]
    metrics = {k: mets[:, i] for i, k in enumerate(METRIC_KEYS)}
    return FastResults(param_sets=param_sets, equity=equity, dates=dates, n_fills=fills, rejected=rejected,
                       metrics=metrics, errors=errors, seconds=seconds, benchmark=bool(base.benchmark),
                       timings=timings)


class _Placer:
    """Puts combinations on their symbol sets' panels (each panel's :class:`_Context` built once)."""

    def __init__(self, prepared: Prepared):
        self.prepared = prepared
        self.contexts: dict = {}

    def context(self, symbols):
        """The symbol set's context, or the UserError that its panel could not be built."""
        if symbols not in self.contexts:
            panel = self.prepared.panel(symbols)
            self.contexts[symbols] = panel if isinstance(panel, UserError) else _Context(self.prepared.base, panel)
        return self.contexts[symbols]

    def place(self, combos: list, errors: list) -> list:
        """``[(context, [(combo, Placement)])]`` in first-seen order; a combination the engine
        would refuse gets its message in ``errors`` instead."""
        by: dict = {}
        for c in combos:
            by.setdefault(c.symbols, []).append(c)
        out = []
        for symbols, part in by.items():
            ctx = self.context(symbols)
            if isinstance(ctx, UserError):
                for c in part:
                    errors[c.index] = str(ctx)
                continue
            placed = ctx.place(part, errors)
            if placed:
                out.append((ctx, placed))
        return out


class _Context:
    """One symbol set's panel and what every combination on it shares: the benchmark's row,
    the year-month of each bar, placements, packed rows and executions, calendars."""

    def __init__(self, base: RunConfig, panel: Panel):
        self.base = base
        self.panel = panel
        self.T = len(panel.calendar)
        self.bench = panel.slot(base.benchmark) if base.benchmark else -1
        self.ym = (panel.calendar.year.to_numpy().astype(np.int64) * 12
                   + panel.calendar.month.to_numpy().astype(np.int64))
        self._close_only: dict = {}
        self._placements: dict = {}
        self._calendars: dict = {}
        self._no_force = np.zeros((0, self.T), dtype=np.int8)
        self.packer = _Packer(panel, self.close_only)

    def close_only(self, symbols, tf) -> list:
        key = (tuple(symbols), tf)
        if key not in self._close_only:
            p = self.panel
            self._close_only[key] = [s for s in symbols if close_only_share(
                p.opens[p.slot(s), tf:], p.closes[p.slot(s), tf:]) >= CLOSE_ONLY_SHARE]
        return self._close_only[key]

    def place(self, combos: list, errors: list) -> list:
        """``[(combo, Placement)]`` of the combinations the engine would run (the others get its
        message in ``errors``)."""
        placed = []
        for c in combos:
            key = (tuple(c.needed), c.warmup)
            pl = self._placements.get(key)
            if pl is None:
                try:
                    pl = place(self.panel, c.needed, c.warmup, self.base.start, c.rule.name(), self.base.benchmark)
                except UserError as exc:
                    pl = exc
                self._placements[key] = pl
            if isinstance(pl, UserError):
                errors[c.index] = str(pl)
            else:
                placed.append((c, pl))
        return placed

    def calendar_from(self, tf: int) -> pd.DatetimeIndex:
        cal = self._calendars.get(tf)
        if cal is None:
            cal = self._calendars[tf] = self.panel.calendar[tf:]
        return cal

    def no_force(self, n: int) -> np.ndarray:
        """``(n, T)`` zeros, shared read-only by the chunks whose combinations force nothing."""
        if self._no_force.shape[0] < n:
            self._no_force = np.zeros((n, self.T), dtype=np.int8)
        return self._no_force[:n]

    def simulate(self, args: tuple, J: int, eq: np.ndarray) -> tuple:
        """The kernel over one packed chunk, equity into ``eq``: ``(first trading bars, counts,
        metrics)``."""
        tfa, traded, ntr, W, codes, force, exf, whole, at_close, delay, stats = args
        p = self.panel
        out = np.full((len(tfa), len(METRIC_KEYS)), np.nan)
        K.simulate(p.closes, p.opens, self.ym, self.bench, tfa, traded, ntr, W, codes, force, exf, whole, at_close,
                   delay, eq, stats, out, *K.scratch(J, self.T, len(p.symbols)))
        return tfa, stats, out


class _Buffers:
    """The big arrays of a chunk (decision codes, equity when it is not kept), reused from chunk
    to chunk within a run: fresh ones would be mapped and zeroed by the OS for every chunk. Each
    is ``rows`` (the run's chunk size) by the panel's bars; a smaller chunk uses its first rows."""

    def __init__(self, rows: int):
        self.rows = rows
        self._free: dict = {}
        self._lock = threading.Lock()

    def take(self, n: int, T: int, dtype) -> np.ndarray:
        key = (max(n, self.rows), T, np.dtype(dtype).str)
        with self._lock:
            free = self._free.get(key)
            whole = free.pop() if free else None
        if whole is None:
            whole = np.empty(key[:2], dtype=dtype)
        return whole[:n]

    def give(self, a: np.ndarray) -> None:
        whole = a if a.base is None else a.base
        with self._lock:
            self._free.setdefault((whole.shape[0], whole.shape[1], whole.dtype.str), []).append(whole)


class _Packer:
    """The kernel's per-combination inputs that many combinations share, each checked and built
    once: a rule's target rows as weights over its traded symbols (and those symbols' panel
    rows), and an execution's settings and fill timing. Used by the one thread that packs."""

    def __init__(self, panel: Panel, close_only):
        self.panel = panel
        self.close_only = close_only
        self._rows: dict = {}
        self._exec: dict = {}
        self._last_rows = None

    def rows(self, c: _Combo, rows: list) -> tuple:
        tr = c.traded
        last = self._last_rows
        if last is not None and last[0] is rows and last[1] == tr:  # the same rows list as the last combination
            return last[2]
        key = (tr, tuple(tuple(r.items()) for r in rows))
        hit = self._rows.get(key)
        if hit is not None:
            self._last_rows = (rows, tr, hit)
            return hit
        W = np.zeros((len(rows), max(len(tr), 1)))
        for k, row in enumerate(rows):
            bad = set(row) - set(tr)
            if bad:
                raise UserError(f"{c.rule.name()} targets {', '.join(sorted(bad))}, which it does not trade; "
                                "list every symbol it may hold in symbols()['traded']")
            for j, s in enumerate(tr):
                w = float(row.get(s, 0.0))
                if not math.isfinite(w) or w < 0:
                    raise UserError(f"{c.rule.name()}: target weight {w!r} for {s}; weights must be finite and "
                                    ">= 0 (long positions only)")
                W[k, j] = w
        hit = (W, [self.panel.slot(s) for s in tr])
        self._rows[key] = hit
        self._last_rows = (rows, tr, hit)
        return hit

    def execution(self, ex: Execution, tr: tuple, tf: int) -> tuple:
        key = (ex, tr, tf)
        hit = self._exec.get(key)
        if hit is None:
            at, dl = effective_fill(ex.fill, self.close_only(tr, tf))
            hit = ((ex.cash, ex.commission_bps / 1e4, ex.slippage_bps / 1e4, 1.0 - max(ex.cash_buffer, 1e-9),
                    ex.drift_tolerance), 0 if ex.fractional else 1, 1 if at == "close" else 0, dl)
            self._exec[key] = hit
        return hit


def _pack(ctx: "_Context", mode: str, part: list, decs, buffers: "_Buffers") -> tuple:
    """Decisions of one chunk of combinations and the kernel's inputs for them (Python: runs
    in the thread that feeds the helpers)."""
    panel, packer, T = ctx.panel, ctx.packer, ctx.T
    n = len(part)
    J = max(max(len(c.traded) for c, _ in part), 1)
    dec_list = decs if decs is not None else _decisions_many(panel, [(c.rule, pl.d0) for c, pl in part], mode)
    K_rows = max(len(d.rows) for d in dec_list) + 1
    codes = buffers.take(n, T, np.int16)
    codes.fill(-1)
    forced = any(d.force is not None for d in dec_list)
    force = np.zeros((n, T), dtype=np.int8) if forced else ctx.no_force(n)
    W = np.zeros((n, K_rows, J))
    traded = np.zeros((n, J), dtype=np.int64)
    ntr = np.zeros(n, dtype=np.int64)
    tfa = np.zeros(n, dtype=np.int64)
    exf = np.zeros((n, K.N_EXEC))
    whole = np.zeros(n, dtype=np.int64)
    at_close = np.zeros(n, dtype=np.int64)
    delay = np.zeros(n, dtype=np.int64)
    stats = np.zeros((n, 3), dtype=np.int64)
    i = 0
    while i < n:
        c, pl = part[i]
        dec = dec_list[i]
        tr = c.traded
        j = i + 1  # a run: consecutive rows of one block, on one placement, traded set and execution
        if dec.block is not None:
            while (j < n and dec_list[j].block is dec.block and dec_list[j].row == dec.row + j - i
                   and part[j][1] is pl and part[j][0].execution is c.execution and part[j][0].traded == tr):
                j += 1
        rows, slots = packer.rows(c, dec.rows)
        W[i:j, :rows.shape[0], :rows.shape[1]] = rows
        traded[i:j, :len(tr)] = slots
        ntr[i:j] = len(tr)
        tfa[i:j] = pl.tf
        exf[i:j], whole[i:j], at_close[i:j], delay[i:j] = packer.execution(c.execution, tr, pl.tf)
        if j > i + 1:
            r0 = dec.row
            codes[i:j, pl.d0:] = dec.block.codes[r0:r0 + j - i]
            stats[i:j, 2] = _rotations(c.rule, dec.block.rotated[r0:r0 + j - i], pl.tf - pl.d0)
        else:
            codes[i, pl.d0:] = dec.codes
            if dec.force is not None:
                force[i, pl.d0:] = dec.force
            stats[i, 2] = _rotations(c.rule, dec.rotated, pl.tf - pl.d0)
        i = j
    idx = np.array([c.index for c, _ in part])
    return idx, (tfa, traded, ntr, W, codes, force, exf, whole, at_close, delay, stats), J


def _chunks(n: int, size: int, jobs: int) -> list:
    """``(start, stop)`` of the chunks of ``n`` combinations: ``size`` each, but smaller at the
    start (the pool starts simulating sooner) and at the end (the threads finish together)."""
    if jobs <= 1 or n <= 2 * size:
        return [(a, min(a + size, n)) for a in range(0, n, size)]
    small = max(1, size // 4)
    ramp = [small, min(2 * small, size)]
    tail = ramp[::-1]
    middle = n - sum(ramp) - sum(tail)
    sizes = ramp + [size] * (middle // size) + ([middle % size] if middle % size else []) + tail
    out, a = [], 0
    for k in sizes:
        out.append((a, a + k))
        a += k
    return out


class _Slot:
    __slots__ = ("args", "result", "error", "done")

    def __init__(self, args):
        self.args, self.result, self.error, self.done = args, None, None, False


def _in_order(prepare, task, items, jobs: int):
    """``task(prepare(item))`` for each of ``items`` (any iterable), yielded in their order.

    ``prepare`` (Python, holding the GIL) runs in this thread; ``task`` (compiled code that
    releases it) runs in ``jobs - 1`` helper threads and also here, whenever this thread is ahead
    (enough prepared tasks waiting) or has nothing left to prepare: ``jobs`` threads busy, never
    more, and at most ``4 jobs`` prepared or finished tasks held at once."""
    if jobs <= 1:
        for it in items:
            yield task(prepare(it))
        return
    cond = threading.Condition()
    waiting: deque = deque()   # prepared, not started
    order: deque = deque()     # every slot in item order, until yielded
    stopping = []

    def run(slot):
        try:
            slot.result = task(slot.args)
        except BaseException as exc:  # noqa: BLE001 - raised in this thread, in order
            slot.error = exc
        slot.args = None
        with cond:
            slot.done = True
            cond.notify_all()

    def helper():
        while True:
            with cond:
                while not waiting and not stopping:
                    cond.wait()
                if not waiting:
                    return
                slot = waiting.popleft()
            run(slot)

    def run_one_here() -> bool:
        with cond:
            slot = waiting.popleft() if waiting else None
        if slot is not None:
            run(slot)
        return slot is not None

    def wait_first():
        if not run_one_here():
            with cond:
                while not order[0].done:
                    cond.wait()

    def finished():
        while order and order[0].done:
            slot = order.popleft()
            if slot.error is not None:
                raise slot.error
            yield slot.result

    threads = [threading.Thread(target=helper, daemon=True, name=f"rotationlab-fast-{k}") for k in range(jobs - 1)]
    for t in threads:
        t.start()
    try:
        for it in items:
            slot = _Slot(prepare(it))
            with cond:
                waiting.append(slot)
                order.append(slot)
                cond.notify()
            while len(waiting) >= 2 * jobs:  # ahead of the helpers: simulate here for a while
                run_one_here()
            while len(order) >= 4 * jobs:  # results held for the one still running: wait for it
                wait_first()
                yield from finished()
            yield from finished()
        while order:
            wait_first()
            yield from finished()
    finally:
        with cond:
            stopping.append(True)
            waiting.clear()
            cond.notify_all()
        for t in threads:
            t.join()


def placements(prepared: Prepared, param_sets: list[dict]) -> list:
    """Where each parameter set would trade, without running it: ``(panel, Placement)`` per set,
    or ``(None, message)`` where the engine would refuse it (the same placement run_fast uses)."""
    resolve = _Resolver(prepared.base)
    combos = [resolve(i, dict(ps)) for i, ps in enumerate(param_sets)]
    errors = [""] * len(combos)
    out: list = [None] * len(combos)
    for ctx, placed in _Placer(prepared).place(combos, errors):
        for c, pl in placed:
            out[c.index] = (ctx.panel, pl)
    return [o if o is not None else (None, errors[i]) for i, o in enumerate(out)]


# -- per-bar decisions in worker processes ----------------------------------------------------------
_PB: dict = {}


def _pb_task(i):
    panel, placed = _PB["panel"], _PB["placed"]
    c, pl = placed[i]
    return i, _decisions(c.rule, panel, pl.d0, "per_bar")


def _per_bar_parallel(panel, placed, jobs):
    """Per-bar decisions of every combination, in ``jobs`` forked processes (the Python loop holds
    the GIL; each process has the panel from the fork). Falls back to this process where fork is
    unavailable or unsafe."""
    import multiprocessing as mp
    if "fork" not in mp.get_all_start_methods() or threading.active_count() > 1:
        return None
    from rotationlab.procs import forked_map
    _PB.update(panel=panel, placed=placed)
    out = [None] * len(placed)
    try:
        for i, dec in forked_map(_pb_task, range(len(placed)), min(jobs, len(placed)),
                                 chunksize=max(1, len(placed) // (8 * jobs))):
            out[i] = dec
    finally:
        _PB.clear()
    return out


# -- checking -------------------------------------------------------------------------------------
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


def check_forms(base: RunConfig, data: dict, param_sets: list[dict]) -> int:
    """Hold the vectorized decisions of each parameter set (computed as a sweep computes them:
    the rule's sets on one window at once) against its per-bar ones (targets in force from the
    first trading bar, forced rebalances and rotation counts); returns how many were compared (0
    when the rule has no vectorized form). AgreementError if any differ."""
    resolve = _Resolver(base)
    if not resolve.cls.has_vectorized():
        return 0
    combos = [resolve(i, dict(ps)) for i, ps in enumerate(param_sets)]
    errors = [""] * len(combos)
    n = 0
    problems = []
    for ctx, placed in _Placer(Prepared(base, data)).place(combos, errors):
        panel = ctx.panel
        vectorized = _decisions_many(panel, [(c.rule, pl.d0) for c, pl in placed], "vectorized")
        for (c, pl), vec in zip(placed, vectorized):
            rule2 = type(c.rule)(**c.rule.values)
            bar = _decisions(rule2, panel, pl.d0, "per_bar")
            tf = pl.tf - pl.d0
            a, b = _in_force(vec, tf), _in_force(bar, tf)
            label = ", ".join(f"{k}={v!r}" for k, v in param_sets[c.index].items()) or "(base parameters)"
            if a != b:
                day = next(j for j, (x, y) in enumerate(zip(a, b)) if x != y)
                problems.append(f"{label}: targets differ from {panel.calendar[pl.tf + day]:%Y-%m-%d} "
                                f"(vectorized {a[day]}, per bar {b[day]})")
            fa = np.asarray(vec.force[tf:] if vec.force is not None else np.zeros(len(a), bool), dtype=bool)
            fb = np.asarray(bar.force[tf:] if bar.force is not None else np.zeros(len(b), bool), dtype=bool)
            if not np.array_equal(fa, fb):
                problems.append(f"{label}: forced rebalances differ")
            if vec.rotated is not None and bar.rotated is not None and c.rule.has_signal and \
                    not np.array_equal(np.asarray(vec.rotated[tf:], bool), np.asarray(bar.rotated[tf:], bool)):
                problems.append(f"{label}: rotated days differ")
            n += 1
    if problems:
        raise AgreementError(f"the vectorized and per-bar decisions disagree on {len(problems)} check(s):\n  "
                             + "\n  ".join(problems))
    return n


def _in_force(dec: Decisions, tf: int) -> list:
    """The target weights in force after each decision from bar ``tf`` (rounded for display)."""
    cur = ()
    out = []
    for i, k in enumerate(dec.codes):
        if k >= 0:
            cur = tuple(sorted((s, w) for s, w in dec.rows[k].items() if w != 0.0))
        if i >= tf:
            out.append(cur)
    return out


def confirm(base: RunConfig, data: dict[str, Bars], param_sets: list[dict], fast_results: FastResults,
            tolerance: float | None = None, jobs: int = 1) -> np.ndarray:
    """Re-run ``param_sets`` (each one of ``fast_results.param_sets``) in backtrader
    (:func:`rotationlab.engine.run`, in ``jobs`` processes) and return the largest relative
    equity difference of each.

    Raises :class:`AgreementError` naming every set whose difference exceeds ``tolerance`` (default:
    :func:`tolerance_for` its execution), whose fill count or trading period differs, or that one
    engine refused and the other ran."""
    position = {}
    for i, ps in enumerate(fast_results.param_sets):
        position.setdefault(_key(ps), i)
    idx = []
    for ps in param_sets:
        i = position.get(_key(ps))
        if i is None:
            raise ValueError(f"parameter set {ps!r} is not among the fast results")
        idx.append(i)
    configs = [config_for(base, ps) for ps in param_sets]
    refs = _backtrader_runs(configs, data, jobs)
    diffs = np.zeros(len(param_sets))
    problems = []
    for n, (ps, i, cfg, ref) in enumerate(zip(param_sets, idx, configs, refs)):
        tol = tolerance if tolerance is not None else tolerance_for(cfg.execution)
        label = ", ".join(f"{k}={v!r}" for k, v in ps.items()) or "(base parameters)"
        if isinstance(ref, str):
            if fast_results.errors[i] != ref:
                problems.append(f"{label}: backtrader refused it ({ref}) but the fast engine gave "
                                f"{fast_results.errors[i] or 'a result'}")
            continue
        eq, n_trades = ref
        if fast_results.errors[i]:
            problems.append(f"{label}: the fast engine refused it ({fast_results.errors[i]}) but backtrader ran it")
            diffs[n] = float("inf")
            continue
        fast_dates = fast_results.dates[i]
        if not eq.index.equals(fast_dates):
            problems.append(f"{label}: trading period {fast_dates[0]:%Y-%m-%d}..{fast_dates[-1]:%Y-%m-%d} (fast) vs "
                            f"{eq.index[0]:%Y-%m-%d}..{eq.index[-1]:%Y-%m-%d} (backtrader)")
            diffs[n] = float("inf")
            continue
        if fast_results.equity[i] is None:
            raise ValueError("confirm needs the fast results' equity (run_fast with keep_equity=True)")
        diffs[n] = equity_difference(fast_results.equity[i], eq.to_numpy())
        if not diffs[n] <= tol:
            worst = int(np.nanargmax(np.abs(fast_results.equity[i] - eq.to_numpy())))
            problems.append(f"{label}: equity differs by {diffs[n]:.3g} relative (tolerance {tol:g}), worst on "
                            f"{fast_dates[worst]:%Y-%m-%d}: fast {fast_results.equity[i][worst]:.6f} vs "
                            f"backtrader {eq.iloc[worst]:.6f}")
        if int(fast_results.n_fills[i]) != n_trades:
            problems.append(f"{label}: {int(fast_results.n_fills[i])} fills (fast) vs {n_trades} (backtrader)")
    if problems:
        raise AgreementError(f"the fast engine disagrees with backtrader on {len(problems)} check(s):\n  "
                             + "\n  ".join(problems))
    return diffs


_BT: dict = {}


def _bt_one(cfg):
    from rotationlab.engine import run
    try:
        res = run(cfg, data=_BT["data"])
    except UserError as exc:
        return str(exc)
    return res.equity, len(res.trades)


def _backtrader_runs(configs, data, jobs):
    import multiprocessing as mp
    _BT["data"] = data
    try:
        if jobs <= 1 or len(configs) < 2 or "fork" not in mp.get_all_start_methods() or threading.active_count() > 1:
            return [_bt_one(c) for c in configs]
        from rotationlab.procs import forked_map
        return forked_map(_bt_one, configs, min(jobs, len(configs)))
    finally:
        _BT.clear()


def _key(ps: dict):
    return tuple(sorted((k, repr(v)) for k, v in ps.items()))


def kernel_available() -> bool:
    """Whether the fast engine can run here (numba installed): it runs every rule and fill mode."""
    return K.available()


def _check_numba():
    if not K.available():
        raise UserError("the fast engine needs numba: pip install numba (or use --engine backtrader)")


def warm_up() -> float:
    """Compile the kernel (or load it from numba's on-disk cache); seconds taken."""
    _check_numba()
    t0 = time.perf_counter()
    K.warm_up()
    from strategies import machine
    machine.run_codes(np.zeros(2, bool), np.zeros(2, bool), np.zeros(2, bool), np.zeros(2, bool), 0, 0)
    return time.perf_counter() - t0


def result_for(prepared: Prepared, params: dict):
    """One combination as a :class:`~rotationlab.results.RunResult` from the fast engine: its
    equity (exactly backtrader's), the benchmark and growth references, the days it was rotated
    (as the signal's ``state``), provenance and execution; no trade list or weights (run it in
    backtrader for those). For a sweep's best row, without running it again."""
    from rotationlab.config import make_rule
    from rotationlab.engine import build_result
    from rotationlab.layout import layout
    base = prepared.base
    cfg = config_for(base, params)
    rule = make_rule(cfg.strategy, cfg.params)
    res = run_fast(prepared, [params], jobs=1)
    if res.errors[0]:
        raise UserError(res.errors[0])
    c = _Resolver(base)(0, dict(params))
    panel = prepared.panel(c.symbols)
    lay = layout(cfg, prepared.data, rule, panel=panel)
    dec = _decisions(rule, panel, lay.placement.d0, "auto")
    n = len(lay.dates)
    rec = {"equity": list(res.equity[0]), "weights": [{}] * n, "targets": [{}] * n, "trades": [], "rejected": []}
    rotated = np.asarray(dec.rotated if dec.rotated is not None else np.zeros(len(lay.calendar), bool))[lay.tf:]
    rule._signal_rows = None
    out = build_result(cfg, rule, lay, rec, engine="fast")
    signals = pd.DataFrame({"state": np.where(rotated, "rotated", "growth")}, index=lay.dates.rename("date"))
    import dataclasses as _dc
    return _dc.replace(out, signals=signals if rule.has_signal else None)
