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
import itertools
from collections import deque
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_feeds import Bars
from rotationlab import kernel as K
from rotationlab.config import Execution, RunConfig, coerce_value, split_params, strategy_class, with_params
from rotationlab.errors import UserError
from data_feeds import CLOSE_ONLY_SHARE, close_only_share
from rotationlab.layout import Panel, build_panel, effective_fill, place
from strategies.base import Decisions, History, PanelHistory, Rule, Target

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

    def __call__(self, index: int, params: dict) -> _Combo:
        strat = {k: v for k, v in params.items() if k in self.names or k not in EXEC_KEYS}
        knobs = tuple(sorted((k, repr(v)) for k, v in params.items() if k not in strat))
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
        needed = rule.needed()
        bench = [self.base.benchmark] if self.base.benchmark else []
        symbols = tuple(sorted(set(needed) | set(bench)))
        return _Combo(index, rule, ex, needed, symbols, int(rule.warmup_bars()))


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


def _decisions(rule, panel: Panel, d0: int, mode: str) -> Decisions:
    closes, extra = panel.arrays(rule.needed(), d0)
    dates = panel.calendar[d0:]
    if mode != "per_bar":
        dec = rule.vectorized(PanelHistory(closes, dates, extra, cache=panel.cache, key=d0))
        if dec is not None:
            return dec
        if mode == "vectorized":
            raise UserError(f"{rule.name()} has no vectorized form; use the per-bar form")
    return per_bar_decisions(rule, closes, extra, _dates_from(panel, d0))


def _rotations(rule, dec: Decisions, tf_rel: int) -> int:
    """Rotation episodes from the first trading bar: runs of days the rule's logged state is
    'rotated' (as rotationlab.metrics counts them from the signal log; 0 for rules without one)."""
    if not rule.has_signal or dec.rotated is None:
        return 0
    on = np.asarray(dec.rotated[tf_rel:], dtype=bool)
    if not len(on):
        return 0
    return int(on[0]) + int(np.count_nonzero(on[1:] & ~on[:-1]))


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

    ``jobs`` threads simulate chunks of combinations at once (default: the CPUs available); the
    per-bar decisions of rules without a vectorized form run in as many worker processes.
    ``keep_equity=False`` keeps only the metrics; ``on_chunk(indices, equity, tf)`` (if given)
    receives each chunk's equity rows (panel calendar; ``tf`` their first trading bars) and the
    panel, to stream them elsewhere. ``decisions``: "auto" (vectorized where the rule has it),
    "per_bar" or "vectorized". A combination the engine itself would refuse (too little
    history...) gets its message in ``errors`` instead.
    """
    _check_numba()
    t_start = time.perf_counter()
    base = prepared.base
    param_sets = [dict(ps) for ps in param_sets]
    resolve = _Resolver(base)
    combos = [resolve(i, ps) for i, ps in enumerate(param_sets)]
    n_all = len(combos)
    nm = len(METRIC_KEYS)
    equity: list = [None] * n_all
    dates: list = [None] * n_all
    fills = np.zeros(n_all, dtype=np.int64)
    rejected = np.zeros(n_all, dtype=np.int64)
    mets = np.full((n_all, nm), np.nan)
    errors = [""] * n_all
    jobs = jobs or _default_jobs()
    timings = {"resolve": time.perf_counter() - t_start}

    groups: dict = {}
    for c in combos:
        groups.setdefault(c.symbols, []).append(c)
    pool = ThreadPoolExecutor(max_workers=jobs) if jobs > 1 else None
    try:
        for symbols, group in groups.items():
            panel = prepared.panel(symbols)
            if isinstance(panel, UserError):
                for c in group:
                    errors[c.index] = str(panel)
                continue
            _run_group(base, panel, group, pool, jobs, keep_equity, on_chunk, chunk, decisions,
                       equity, dates, fills, rejected, mets, errors, timings)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    metrics = {k: mets[:, i] for i, k in enumerate(METRIC_KEYS)}
    return FastResults(param_sets=param_sets, equity=equity, dates=dates, n_fills=fills, rejected=rejected,
                       metrics=metrics, errors=errors, seconds=time.perf_counter() - t_start,
                       benchmark=bool(base.benchmark), timings=timings)


def _place_all(base, panel, group, errors):
    placed = []
    cache: dict = {}
    for c in group:
        key = (tuple(c.needed), c.warmup)
        if key not in cache:
            try:
                cache[key] = place(panel, c.needed, c.warmup, base.start, c.rule.name(), base.benchmark)
            except UserError as exc:
                cache[key] = exc
        pl = cache[key]
        if isinstance(pl, UserError):
            errors[c.index] = str(pl)
            continue
        placed.append((c, pl))
    return placed


def _run_group(base, panel, group, pool, jobs, keep_equity, on_chunk, chunk, mode, equity, dates, fills, rejected,
               mets, errors, timings):
    placed = _place_all(base, panel, group, errors)
    if not placed:
        return
    T = len(panel.calendar)
    bench = panel.slot(base.benchmark) if base.benchmark else -1
    ym = (panel.calendar.year.to_numpy().astype(np.int64) * 12 + panel.calendar.month.to_numpy().astype(np.int64))
    close_only_cache: dict = {}

    def close_only(symbols, tf):
        key = (tuple(symbols), tf)
        if key not in close_only_cache:
            close_only_cache[key] = [s for s in symbols if close_only_share(
                panel.opens[panel.slot(s), tf:], panel.closes[panel.slot(s), tf:]) >= CLOSE_ONLY_SHARE]
        return close_only_cache[key]

    per_bar = mode == "per_bar" or (mode == "auto" and type(placed[0][0].rule).vectorized is Rule.vectorized)
    t0 = time.perf_counter()
    if per_bar and len(placed) > 1 and jobs > 1:
        decided = _per_bar_parallel(panel, placed, jobs)
    else:
        decided = None
    timings["decisions_per_bar"] = timings.get("decisions_per_bar", 0.0) + (time.perf_counter() - t0)

    def task(items):
        part, decs = items
        n = len(part)
        J = max(max(len(c.rule.traded()) for c, _ in part), 1)
        dec_list = decs if decs is not None else [_decisions(c.rule, panel, pl.d0, mode) for c, pl in part]
        K_rows = max(len(d.rows) for d in dec_list) + 1
        codes = np.full((n, T), -1, dtype=np.int16)
        force = np.zeros((n, T), dtype=np.int8)
        W = np.zeros((n, K_rows, J))
        traded = np.zeros((n, J), dtype=np.int64)
        ntr = np.zeros(n, dtype=np.int64)
        tfa = np.zeros(n, dtype=np.int64)
        exf = np.zeros((n, K.N_EXEC))
        whole = np.zeros(n, dtype=np.int64)
        at_close = np.zeros(n, dtype=np.int64)
        delay = np.zeros(n, dtype=np.int64)
        stats = np.zeros((n, 3), dtype=np.int64)
        for i, ((c, pl), dec) in enumerate(zip(part, dec_list)):
            tr = c.rule.traded()
            ntr[i] = len(tr)
            traded[i, :len(tr)] = [panel.slot(s) for s in tr]
            for k, row in enumerate(dec.rows):
                bad = set(row) - set(tr)
                if bad:
                    raise UserError(f"{c.rule.name()} targets {', '.join(sorted(bad))}, which it does not trade; "
                                    "list every symbol it may hold in symbols()['traded']")
                for j, s in enumerate(tr):
                    w = float(row.get(s, 0.0))
                    if not math.isfinite(w) or w < 0:
                        raise UserError(f"{c.rule.name()}: target weight {w!r} for {s}; weights must be finite and "
                                        ">= 0 (long positions only)")
                    W[i, k, j] = w
            codes[i, pl.d0:] = dec.codes
            if dec.force is not None:
                force[i, pl.d0:] = dec.force
            tfa[i] = pl.tf
            ex = c.execution
            exf[i] = (ex.cash, ex.commission_bps / 1e4, ex.slippage_bps / 1e4, 1.0 - max(ex.cash_buffer, 1e-9),
                      ex.drift_tolerance)
            whole[i] = 0 if ex.fractional else 1
            at, dl = effective_fill(ex.fill, close_only(tr, pl.tf))
            at_close[i] = 1 if at == "close" else 0
            delay[i] = dl
            stats[i, 2] = _rotations(c.rule, dec, pl.tf - pl.d0)
        eq = np.empty((n, T))
        out = np.full((n, len(METRIC_KEYS)), np.nan)
        K.simulate(panel.closes, panel.opens, ym, bench, tfa, traded, ntr, W, codes, force, exf, whole, at_close,
                   delay, eq, stats, out, *K.scratch(J, T, len(panel.symbols)))
        idx = np.array([c.index for c, _ in part])
        return idx, eq, tfa, stats, out

    # chunks small enough to keep every thread busy; results consumed in grid order (on_chunk is
    # called here, in this thread, chunk after chunk: streams and statistics see one order)
    chunk = min(chunk, max(32, -(-len(placed) // max(jobs, 1))))
    items = []
    for a in range(0, len(placed), chunk):
        part = placed[a:a + chunk]
        items.append((part, decided[a:a + chunk] if decided is not None else None))
    t0 = time.perf_counter()
    streamed = 0.0
    cal_cache: dict = {}
    for idx, eq, tfa, stats, out in _in_order(task, items, pool, jobs):
        if on_chunk is not None:
            t1 = time.perf_counter()
            on_chunk(idx, eq, tfa, panel)
            streamed += time.perf_counter() - t1
        if not keep_equity:
            eq = None
        fills[idx], rejected[idx], mets[idx] = stats[:, 0], stats[:, 1], out
        for i, ci in enumerate(idx):
            tf = int(tfa[i])
            if tf not in cal_cache:
                cal_cache[tf] = panel.calendar[tf:]
            dates[ci] = cal_cache[tf]
            if eq is not None:
                equity[ci] = eq[i, tf:]
    timings["simulate"] = timings.get("simulate", 0.0) + (time.perf_counter() - t0 - streamed)
    timings["streaming"] = timings.get("streaming", 0.0) + streamed


def _in_order(task, items, pool, jobs):
    """``task(item)`` for each item, in ``pool`` threads (at most ``2 jobs`` in flight), yielded
    in the items' order."""
    if pool is None or len(items) < 2:
        for it in items:
            yield task(it)
        return
    pending: deque = deque()
    feed = iter(items)
    for it in itertools.islice(feed, 2 * jobs):
        pending.append(pool.submit(task, it))
    while pending:
        result = pending.popleft().result()
        nxt = next(feed, None)
        if nxt is not None:
            pending.append(pool.submit(task, nxt))
        yield result


def placements(prepared: Prepared, param_sets: list[dict]) -> list:
    """Where each parameter set would trade, without running it: ``(panel, Placement)`` per set,
    or ``(None, message)`` where the engine would refuse it (the same placement run_fast uses)."""
    base = prepared.base
    resolve = _Resolver(base)
    out = []
    cache: dict = {}
    for i, ps in enumerate(param_sets):
        c = resolve(i, dict(ps))
        panel = prepared.panel(c.symbols)
        if isinstance(panel, UserError):
            out.append((None, str(panel)))
            continue
        key = (c.symbols, tuple(c.needed), c.warmup)
        if key not in cache:
            try:
                cache[key] = (panel, place(panel, c.needed, c.warmup, base.start, c.rule.name(), base.benchmark))
            except UserError as exc:
                cache[key] = (None, str(exc))
        out.append(cache[key])
    return out


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
    """Hold the vectorized decisions of each parameter set against its per-bar ones (targets in
    force from the first trading bar, forced rebalances and rotation counts); returns how many
    were compared (0 when the rule has no vectorized form). AgreementError if any differ."""
    prep = Prepared(base, data)
    resolve = _Resolver(base)
    n = 0
    problems = []
    for i, ps in enumerate(param_sets):
        c = resolve(i, ps)
        panel = prep.panel(c.symbols)
        if isinstance(panel, UserError):
            continue
        try:
            pl = place(panel, c.needed, c.warmup, base.start, c.rule.name(), base.benchmark)
        except UserError:
            continue
        vec = c.rule.vectorized(PanelHistory(*panel.arrays(c.needed, pl.d0)[:1], panel.calendar[pl.d0:],
                                             panel.arrays(c.needed, pl.d0)[1]))
        if vec is None:
            return 0
        rule2 = type(c.rule)(**c.rule.values)
        bar = _decisions(rule2, panel, pl.d0, "per_bar")
        tf = pl.tf - pl.d0
        a, b = _in_force(vec, tf), _in_force(bar, tf)
        label = ", ".join(f"{k}={v!r}" for k, v in ps.items()) or "(base parameters)"
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
    machine.run_states(np.zeros(2, bool), np.zeros(2, bool), np.zeros(2, bool), np.zeros(2, bool), 0, 0)
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
