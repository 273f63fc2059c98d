"""report.html: one self-contained, interactive page per report (run, compare, study, sweep,
walk-forward), written beside report.pdf.

Each page holds the same tables as the PDF (formatted by the same row builders from the dicts the
core computed: ``run.metrics``, the study's summary, the sweep's rows and overfitting statistics,
the walk-forward summary) and plotly charts of the same series as the PNG figures; plotly.js and
the data are inline, so the file opens offline. Nothing here runs an engine or computes a
statistic. Same input, same bytes: element ids are fixed names, no time is recorded.

* :func:`run_html` (a :class:`rotationlab.api.Run`)
* :func:`compare_html` (a :class:`rotationlab.api.Comparison` and its colours)
* :func:`study_html` (an event study and its execution-lag table)
* :func:`sweep_html` (a finished sweep, its top table, heatmap axes, best row, benchmark value)
* :func:`walkforward_html` (a walk-forward, its strategy and rule sentence)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports import html_charts as C
from reports import metrics as M
from reports import pdf as P
from reports.html_page import Page, cols, esc, heading, kv, para, swatch, table, tables, verdict_block, warnings_block
from reports.style import BENCHMARK_COLOR, GROWTH_COLOR, color_of

FOOTER = "Rotation Lab. Every number on this page is a value of the JSON and CSV files in the same folder."
#: Trades listed in full up to this many (trades.csv has them all).
MAX_TRADES_SHOWN = 2000


# -- shared sections ---------------------------------------------------------------------------
def _params_block(result) -> str:
    changed = P.changed_params(result)
    if not changed:
        return para("All at their defaults (listed in metrics.json and manifest.json).")
    return (kv([(k, P._param_text(v)) for k, v in changed.items()])
            + para("Only parameters that differ from the defaults; all are in metrics.json and manifest.json.",
                   "muted"))


def provenance_html(provenance: dict, versions: dict | None = None, note: str = "") -> str:
    """Per symbol: source, adjustment, kind, range, rows and the SHA-256 of the data read; the
    calendar; the versions."""
    rows = [[sym, desc, sha] for sym, desc, sha in P.provenance_lines(provenance)]
    out = [table(["symbol", "data", "sha256"], rows, tid="provenance_table", align=["left", "left", "mono"])]
    al = provenance.get("alignment") or {}
    if al:
        out.append(para(f"Calendar: {al.get('description')}; {al.get('calendar_rows', 0):,} dates "
                        f"{al.get('calendar_first')} to {al.get('calendar_last')}; forward-filled dates: "
                        + ", ".join(f"{s} {n}" for s, n in al.get("filled_dates", {}).items()), "muted"))
    if note:
        out.append(para(note, "muted"))
    if versions:
        out.append(para("Versions: " + P.versions_text(versions), "muted"))
    return "".join(out)


def execution_html(result, metrics: dict, extra=None) -> str:
    ex = result.execution
    left = (heading("Fills and costs") + kv(P.execution_rows(result, extra)) + heading("Fill price by symbol")
            + kv(list(ex.get("fills_by_symbol", {}).items())) + heading("Close-only feeds")
            + "".join(para(x) for x in (P.close_only_notes(result)
                                        or ["None: every symbol has open, high, low and close."])))
    right = heading("How the metrics are computed") + "<ul>" + "".join(
        f"<li>{esc(d)}</li>" for d in P.metric_definitions(metrics)) + "</ul>"
    al = result.provenance.get("alignment", {})
    if al:
        right += heading("Calendar alignment") + para(al.get("description", ""))
    return cols(left, right) + para("A decision at the close of day t sees data through t only.", "muted")


def trades_html(result, metrics: dict, tid: str = "trades_table") -> str:
    tc = metrics.get("trades", {})
    t = result.trades.reset_index(drop=True)
    intro = para(f"{tc.get('fills', 0):,} fills ({tc.get('buys', 0):,} buys, {tc.get('sells', 0):,} sells); "
                 f"total commission {tc.get('commission', 0.0):,.2f}; rejected orders "
                 f"{metrics['metrics'].get('rejected_orders', 0)}; by symbol: "
                 + ", ".join(f"{s} {c:,}" for s, c in tc.get("by_symbol", {}).items()))
    shown = t.head(MAX_TRADES_SHOWN)
    header = ["#", "date (fill)", "symbol", "side", "shares", "fill price", "value", "commission"]
    rows = [[f"{i + 1:,}", *r] for i, r in zip(shown.index, P._trade_rows(shown))]
    more = (para(f"The first {len(shown):,} of {len(t):,} fills; every fill is in trades.csv.", "muted")
            if len(t) > len(shown) else "")
    body = table(header, rows, tid=tid, scroll=True) if rows else para("No trades.")
    return intro + body + more + para("Fill dates and prices as executed (slippage included in the price); value = "
                                      "shares x fill price; commission in account currency.", "muted")


def _ref_colors(refs: dict) -> dict:
    return {j + 2: (BENCHMARK_COLOR if k == "benchmark" else GROWTH_COLOR) for j, k in enumerate(refs)}


# -- run -----------------------------------------------------------------------------------------
def run_html(run) -> str:
    """report.html of a run: summary, statistics, metrics beside the benchmark and holding growth,
    interactive charts, the tear sheet, trades, provenance and execution."""
    result, metrics = run.result, run.metrics
    color = color_of(result.strategy)
    page = Page(f"Rotation Lab report: {result.strategy}", P.period_line(result, metrics), FOOTER)
    p = result.provenance.get("period", {})
    left = (heading("The rule") + para(result.rule) + heading("Parameters") + _params_block(result)
            + warnings_block(P.warning_lines(result)))
    right = (heading("Headline") + kv(P.headline(metrics, result)) + heading("Period")
             + kv([("trading", f"{p.get('trade_from')} to {p.get('trade_to')}"),
                   ("warm-up", f"{p.get('warmup_bars')} bars before the first trading date"),
                   ("data cut to", f"{p.get('data_end_cut_to_common')} (last date every symbol has)")]))
    stats = metrics.get("statistics") or {}
    page.section("summary", "Summary", verdict_block(stats.get("verdict")), cols(left, right))
    if stats:
        page.section("statistics", "Is the edge more than luck?", statistics_html(stats))

    refs = P.reference_labels(result, metrics)
    header, rows = P.metric_rows(result, metrics)
    header[1] = result.strategy
    hc = {1: color} | _ref_colors(refs)
    parts = [table(header, rows, tid="metrics_table", header_colors=hc)]
    rel = P.relative_rows(result, metrics)
    if rel is not None:
        parts.append(table(rel[0], rel[1], tid="relative_table",
                           header_colors={j - 1: c for j, c in _ref_colors(refs).items()})
                     + para("Relative metrics use the rule's and the reference's daily returns on the same dates "
                            "(empyrical). Capture: " + P.tearsheet_note("capture", metrics) + ".", "muted"))
    page.section("metrics", "Metrics" + (" vs " + " and ".join(refs.values()) if refs else ""),
                 para(P.metrics_note(metrics), "muted"), tables(*parts))

    page.section("equity", "Equity", page.chart(C.equity_chart(result, color=color), "chart_equity"))
    ts = metrics.get("tearsheet")
    dd_tables = ""
    if ts:
        dd = ts["drawdowns"]
        dd_tables = (heading(f"Worst drawdowns: {result.strategy}")
                     + table(P.DRAWDOWN_HEADER, P.drawdown_rows(dd.get("rule")), tid="drawdowns_rule")
                     + tables(*(heading(label) + table(P.DRAWDOWN_SHORT, P.drawdown_rows(dd.get(k), True),
                                                      tid=f"drawdowns_{k}") for k, label in refs.items()))
                     + para("peak: last close at the high; start / end: first and last day below it; valley: the "
                            "low; recovery: first close back at the high (open: not recovered); days: calendar "
                            "days start to end; trading days: peak to recovery or the last date.", "muted"))
    page.section("drawdowns", "Drawdowns",
                 page.chart(C.drawdown_chart(result, metrics.get("drawdowns", []), color=color), "chart_drawdown"),
                 dd_tables)
    if ts:
        ah, arows = P.annual_rows(result, metrics)
        th, trows = P.trailing_rows(result, metrics)
        ah[2] = th[1] = result.strategy
        page.section("returns", "Returns by month, year and trailing",
                     page.chart(C.monthly_chart(result, ts["annual_returns"], color=color, refs=refs), "chart_monthly"),
                     tables(heading("Annual returns") + table(ah, arows, tid="annual_table", header_colors={
                         2: color} | {j + 1: c for j, c in _ref_colors(refs).items()}),
                          heading(f"Trailing returns as of {ts['trailing_returns'].get('as_of')}")
                          + table(th, trows, tid="trailing_table",
                                  header_colors={1: color} | _ref_colors(refs))
                          + para(P.tearsheet_note("trailing_returns", metrics), "muted")))
    else:
        page.section("returns", "Returns by month and year",
                     page.chart(C.monthly_chart(result, None, color=color), "chart_monthly"))
    alloc = [page.chart(C.allocation_chart(result), "chart_allocation")]
    if ts:
        h, r = P.asset_rows(metrics)
        alloc.append(heading("Time in each asset") + table(h, r, tid="assets_table")
                     + para(P.tearsheet_note("time_in_assets", metrics), "muted"))
    page.section("allocation", "Allocation", *alloc)
    sig = C.signal_chart(result)
    if sig is not None:
        page.section("signal", "Signal", page.chart(sig, "chart_signal"))
    roll = [page.chart(C.rolling_chart(result, color=color), "chart_rolling")]
    rr = P.rolling_rows(metrics)
    if rr is not None:
        roll.append(heading("Rolling beta and correlation to the benchmark") + table(*rr, tid="rolling_table")
                    + para(P.tearsheet_note("rolling", metrics), "muted"))
    page.section("rolling", "Rolling return, Sharpe, beta and correlation", *roll)
    if ts:
        ch, crows = P.crisis_rows(result, metrics)
        ch[4] = result.strategy
        page.section("crises", "Named crises",
                     table(ch, crows, tid="crisis_table") if crows else
                     para("None of the named crises falls within the data period."),
                     para("Windows: " + P.tearsheet_note("crises", metrics) + "; (part): the data covers part of "
                          "the window.", "muted"))
    fr = P.factor_rows(result, metrics)
    notes = P.factor_notes(metrics)
    if fr is not None or notes:
        page.section("factors", "Factor attribution: market, size and value",
                     table(*fr, tid="factor_table", header_colors={1: color}) if fr is not None else "",
                     *(para(n, "muted") for n in notes))
    page.section("trades", "Trades", trades_html(result, metrics))
    page.section("provenance", "Data provenance", provenance_html(result.provenance, result.versions))
    page.section("execution", "Execution assumptions and method", execution_html(result, metrics))
    return page.render()


def statistics_html(s: dict) -> str:
    from reports import stats_page as SP
    conf = f"{1 - s['alpha']:.0%}"
    head = para(f"{conf} stationary block-bootstrap intervals ({s['n_boot']} resamples), random-timing null "
                f"({s['n_draws']} draws), seed {s['seed']}.", "muted")
    boot = heading("Bootstrap intervals") + table(
        ["statistic", "estimate", f"{conf} interval", "block (days)"], SP.bootstrap_rows(s), tid="bootstrap_table")
    lines = SP.random_timing_lines(s)
    timing = heading("Random timing") + (
        para(lines[0]) + f"<p><strong>{esc(lines[1])}</strong></p>"
        + para("Built close to close without costs for the rule and the null alike.", "muted")
        if lines else para("Not applicable: this strategy has no rotation episodes."))
    dec = heading("By decade") + table(SP.DECADE_HEADER, SP.decade_rows(s), tid="decade_table")
    states = SP.state_rows(s)
    st = heading("By signal state held that day") + table(SP.STATE_HEADER, states, tid="state_table") if states else ""
    return head + cols(boot, timing) + tables(dec, st)


# -- compare -------------------------------------------------------------------------------------
def compare_html(comparison, colors: dict) -> str:
    """report.html of a comparison: the strategies, a headline table, the metrics of every
    strategy, equity / drawdown / yearly charts, the first strategy's signal and allocation,
    trade counts, provenance and execution."""
    from reports.compare_report import _period, _shows_benchmark, headline_rows
    results, metrics = comparison.results, comparison.metrics
    first_label, first = next(iter(results.items()))
    start, end = _period(first)
    bench = first.config.get("benchmark")
    page = Page(f"Rotation Lab comparison: {first.strategy} and {len(results) - 1} others",
                f"Trading {start} to {end} for every strategy ({metrics[first_label]['n_returns']:,} daily returns); "
                f"benchmark {bench or 'none'}; data source {first.config.get('source')}; same costs and fills", FOOTER)
    items = []
    for lab, r in results.items():
        changed = P.changed_params(r)
        items.append(f"<li>{swatch(colors[lab])}<strong>{esc(lab)}</strong><br>{esc(r.rule)}"
                     + ('<br><span class="muted">parameters: '
                        + esc("; ".join(f"{k}={P._param_text(v)}" for k, v in changed.items())) + "</span>"
                        if changed else "") + "</li>")
    strategies = (heading("Strategies (rule and parameters)") + '<ul style="list-style:none;padding-left:0;columns:2 '
                  '460px;column-gap:36px">' + "".join(items) + "</ul>")
    hh, hrows, hcolors = headline_rows(results, metrics, colors)
    hh[3:] = ["max drawdown", "vs benchmark", "vs holding growth"]
    head = heading("Headline") + table(hh, hrows, tid="headline_table", cell_colors=hcolors)
    page.section("summary", "Summary", strategies, head)

    bm = metrics[first_label].get("benchmark_metrics")
    header = ["metric", *results] + ([f"benchmark {bench}"] if bm is not None else [])
    rows = []
    for key, label, kind in M.METRIC_ROWS:
        line = [label] + [M.fmt(m["metrics"].get(key), kind) if key in m["metrics"] else "-" for m in metrics.values()]
        if bm is not None:
            line.append(M.fmt(bm.get(key), kind) if key in bm else "-")
        rows.append(line)
    hc = {j + 1: colors[lab] for j, lab in enumerate(results)} | ({len(results) + 1: BENCHMARK_COLOR} if bm else {})
    page.section("metrics", f"Metrics of {len(results)} strategies", para(P.metrics_note(metrics[first_label]), "muted"),
                 table(header, rows, tid="metrics_table", header_colors=hc))
    page.section("equity", "Equity", page.chart(
        C.comparison_equity_chart(results, colors, show_benchmark=_shows_benchmark(results)), "chart_equity"))
    page.section("drawdowns", "Drawdowns", page.chart(C.comparison_drawdown_chart(results, colors), "chart_drawdown"))
    page.section("yearly", "Calendar-year returns",
                 page.chart(C.comparison_yearly_chart(metrics, colors, f"{start} to {end}"), "chart_yearly"))
    sig = C.signal_chart(first, label=first_label)
    if sig is not None:
        page.section("signal", f"Signal: {first_label}", page.chart(sig, "chart_signal"))
    page.section("allocation", f"Allocation: {first_label}",
                 page.chart(C.allocation_chart(first, label=first_label), "chart_allocation"))
    th = ["strategy", "fills", "buys", "sells", "commission", "rotations", "annual turnover", "rejected"]
    trows, tcolors = [], {}
    for i, (lab, m) in enumerate(metrics.items()):
        t = m["trades"]
        trows.append([lab, f"{t['fills']:,}", f"{t['buys']:,}", f"{t['sells']:,}", f"{t['commission']:,.2f}",
                      M.fmt(m["metrics"]["n_rotations"], "int"), M.fmt(m["metrics"]["annual_turnover"], "ratio"),
                      M.fmt(m["metrics"]["rejected_orders"], "int")])
        tcolors[(i, 0)] = colors[lab]
    page.section("trades", "Trades", table(th, trows, tid="trade_counts", cell_colors=tcolors),
                 heading(f"Trades of {first_label}"), trades_html(first, metrics[first_label]),
                 para("Every strategy's fills: <folder>/trades.csv (folders listed in metrics.json).", "muted"))
    merged = {"symbols": {}, "alignment": first.provenance.get("alignment", {})}
    hashes: dict[str, list] = {}
    for r in results.values():
        for s, meta in r.provenance.get("symbols", {}).items():
            merged["symbols"].setdefault(s, meta)
            if meta.get("sha256") not in hashes.setdefault(s, []):
                hashes[s].append(meta.get("sha256"))
    differ = sorted(s for s, h in hashes.items() if len(h) > 1)
    note = (f"{', '.join(differ)}: strategies loaded different ranges (hashes above are the first strategy's); each "
            "strategy's metrics.json lists its own ranges and hashes." if differ else
            "Every strategy read exactly these series (same SHA-256 in each strategy's metrics.json).")
    page.section("provenance", "Data provenance", provenance_html(merged, first.versions, note))
    page.section("execution", "Execution assumptions and method", execution_html(first, metrics[first_label], extra=[
        ("compared", f"{len(results)} strategies on the same data source, calendar policy, period ({start} to {end}), "
                     "costs and benchmark")]))
    return page.render()


# -- study ---------------------------------------------------------------------------------------
def study_html(st, lag) -> str:
    """report.html of an event study: the rule and what is measured, the verdict, the forward-
    return table, the event paths with their bands, the triggers, the execution-lag table."""
    from reports import study_report as SR
    res, s = st.result, st.summary
    conf = int(round((1 - s["alpha"]) * 100))
    page = Page(f"Event study: {st.title}", f"Does the trigger predict what follows? {SR._title_period(st)}", FOOTER)
    legs = s["legs"]
    measured = ("For every close at which the trigger condition held: the forward return of the rotation basket "
                f"({', '.join(f'{k} {v:.0%}' for k, v in legs['rotation'].items())}), of growth "
                f"({', '.join(f'{k} {v:.0%}' for k, v in legs['growth'].items())}) and of rotation minus growth, "
                f"bought at the close {s['entry_lag']} day after the trigger and held "
                f"{', '.join(map(str, s['horizons']))} trading days.")
    left = (heading("The rule") + para(res.rule) + heading("What is measured") + para(measured)
            + heading("Statistics")
            + kv([("bootstrap", f"stationary block bootstrap of the mean, {s['n_boot']} resamples"),
                  ("nulls", f"{s['n_null']} draws: random dates, and the trigger dates shifted together"),
                  ("seed", str(s["seed"])), ("confidence", f"{1 - s['alpha']:.0%}")])
            + warnings_block(P.warning_lines(res)))
    right = heading("Parameters") + _params_block(res)
    page.section("summary", "Summary", verdict_block(s.get("verdict")), cols(left, right))
    header = list(SR.TABLE_HEADER)
    header[7] = f"{conf}% CI of mean"
    page.section("results", "Forward returns after the triggers",
                 para(f"{s['n_triggers']} trigger days ({s['n_trigger_onsets']} separate episodes) out of "
                      f"{s['eligible_days']:,} eligible days; entry at the close {s['entry_lag']} day after the "
                      "trigger."),
                 table(header, SR.table_rows(s), tid="study_table"), para(SR.TABLE_NOTE, "muted"))
    page.section("paths", "Event paths", page.chart(C.study_paths_chart(st, SR.LEG_LABELS, SR.LEG_COLORS),
                                                    "chart_paths"),
                 para(s.get("path_method", ""), "muted") if isinstance(s.get("path_method"), str) else "")
    page.section("events", "Triggers", page.chart(C.study_events_chart(st), "chart_events"))
    if lag is not None:
        page.section("lag", "How much of the edge survives execution delay?",
                     para(f"{res.strategy}, {SR._title_period(st)}; same data, parameters and costs, only the fill "
                          "changes."), table(SR.LAG_HEADER, SR.lag_rows(lag), tid="lag_table"),
                     para(SR.LAG_NOTE, "muted"))
    page.section("provenance", "Data provenance", provenance_html(res.provenance, res.versions))
    return page.render()


# -- sweep ---------------------------------------------------------------------------------------
def sweep_html(sweep, top_table: pd.DataFrame, heatmap_axes: tuple, best: dict | None,
               bench_value: float | None) -> str:
    """report.html of a sweep: the rule with its swept blanks, the grid, the result, the
    overfitting statistics, the heatmap (diverging, centred as heatmap.png), the top table, the
    distribution of the ranking metric and the best combination's equity."""
    from reports import sweep_report as SW
    from rotationlab import sweeps as S
    from rotationlab.config import resolve_params
    spec, frame = sweep.spec, sweep.frame
    manifest = sweep.outcome.manifest
    metric = spec.metric
    x, y, hmetric = heatmap_axes
    best_result = best["result"] if best else None
    cls, values = resolve_params(spec.base.strategy, spec.base.params)
    swept = {a.name for a in spec.axes}
    ok = frame[frame["error"] == ""]
    n_fail = int((frame["error"] != "").sum())
    page = Page(f"Rotation Lab sweep: {spec.base.strategy}",
                f"{len(frame):,} combinations of {', '.join(spec.names)} ({spec.grid_size:,} in the grid"
                f"{', ' + str(spec.grid_size - len(spec.combos)) + ' left out by the constraint' if spec.constraint else ''}"
                f"{', ' + str(n_fail) + ' failed' if n_fail else ''}); ranked by {SW.label_of(metric)}; data source "
                f"{spec.base.source}", FOOTER)
    ex = spec.base.execution
    left = (heading("The rule") + para(SW.rule_with_blanks(cls, values, swept) + " Bracketed parameters are swept.")
            + heading("Grid") + kv([(a.name, SW._grid_text(a)) for a in spec.axes]
                                   + ([("constraint", spec.constraint)] if spec.constraint else []))
            + heading("Fixed parameters")
            + kv([(n, P._param_text(v)) for n, v in values.items() if n not in swept] or
                 [("(none)", "every parameter is swept")])
            + heading("Costs and execution")
            + kv([("fill", ex.fill), ("commission", f"{ex.commission_bps:g} bps"),
                  ("slippage", f"{ex.slippage_bps:g} bps"), ("benchmark", spec.base.benchmark or "none")]))
    if len(ok):
        b = S.ranked(ok, metric).iloc[0]
        vals = ok[metric].dropna()
        worst = vals.max() if metric in S.LOWER_IS_BETTER else vals.min()
        result_kv = kv([("best", ", ".join(f"{n}={SW.value_text(b[n])}" for n in spec.names)),
                        (SW.label_of(metric), f"best {SW.fmt(b[metric], metric)}, median "
                                              f"{SW.fmt(vals.median(), metric)}, worst {SW.fmt(worst, metric)}")]
                       + ([("benchmark", SW.fmt(bench_value, metric))] if bench_value is not None else []))
    else:
        result_kv = para("Every combination failed; see the error column of sweep.csv.")
    tf = sorted(set(ok["trade_from"])) if len(ok) else []
    tt = sorted(set(ok["trade_to"])) if len(ok) else []
    span = (f"{tf[0]} to {tt[-1]}" if len(tf) == 1 and len(tt) == 1 else
            f"starts {tf[0]} to {tf[-1]}, ends {tt[0]} to {tt[-1]} (warm-up differs by combination)") if tf else "-"
    right = (heading("Result") + result_kv + heading("Period")
             + kv([("trading", span), ("requested", f"{spec.base.start or 'data start'} to "
                                                    f"{spec.base.end or 'data end'}")]))
    page.section("summary", "Summary", verdict_block((sweep.overfitting or {}).get("verdict")), cols(left, right))
    if sweep.overfitting:
        page.section("overfitting", "Is the best combination skill or luck?", overfitting_html(sweep.overfitting))

    mat, xs, ys = SW.heatmap_matrix(frame, spec, x, y, hmetric)
    scale = SW.heat_scale(mat, hmetric, bench_value if hmetric == metric else None)
    cell_text = [[SW.fmt(v, hmetric) if np.isfinite(v) else "-" for v in row] for row in mat]
    lower = hmetric in S.LOWER_IS_BETTER
    others = [n for n in spec.names if n not in (x, y)]
    bar_title = (SW.label_of(hmetric) + (" (lower is better)" if lower else "")
                 + (f"; centred on {scale['center_label']}" if scale["center"] is not None else ""))
    fig = C.sweep_heatmap_chart(
        mat, [SW.value_text(v) for v in xs], [SW.value_text(v) for v in ys] if y else [""], x, y, scale, cell_text,
        SW.best_cell(mat, hmetric),
        f"{SW.label_of(hmetric)} by {x}{' and ' + y if y else ''}: {spec.base.strategy}, {len(frame)} combinations",
        bar_title, lambda v: SW.colorbar_tick(v, hmetric))
    notes = []
    if scale["center"] is not None:
        notes.append(f"colours diverge from {scale['center_label']} (the middle of the colour bar)")
    if others:
        notes.append(f"each cell: the {'lowest' if lower else 'best'} value over {', '.join(others)}")
    notes.append("black box: best cell; '-': no combination (constraint) or failed")
    page.section("heatmap", "Heatmap", page.chart(fig, "chart_heatmap"), para("; ".join(notes) + ".", "muted"))

    shown = top_table
    names = spec.names
    metric_cols = list(shown.columns[1 + len(names):-1])
    header = ["#", *names, *(SW.label_of(m) if m != metric else f"{SW.label_of(m)} (ranked)" for m in metric_cols)]
    rows = [[str(r["rank"]), *(SW.value_text(r[n]) for n in names), *(SW.fmt(r[m], m) for m in metric_cols)]
            for _, r in shown.iterrows()]
    page.section("top", f"Top {len(rows)} of {len(frame):,} combinations by {SW.label_of(metric)}",
                 table(header, rows, tid="top_table"),
                 para("Values as in sweep.csv and top.csv (percent metrics as fractions there); failed combinations "
                      "left out; ties in grid order.", "muted"))
    vals = ok[metric].dropna().to_numpy(dtype=float) if len(ok) else np.array([])
    if len(vals):
        b = float(vals.min() if metric in S.LOWER_IS_BETTER else vals.max())
        marks = [(f"median {SW.fmt(float(np.median(vals)), metric)}", float(np.median(vals)), "#333", "dash"),
                 (f"best {SW.fmt(b, metric)}", b, "#d62728", "solid")]
        if bench_value is not None and np.isfinite(bench_value):
            marks.append((f"benchmark buy and hold {SW.fmt(bench_value, metric)}", float(bench_value), "#9467bd",
                          "dot"))
        page.section("distribution", "Distribution across the sweep", page.chart(C.histogram_chart(
            vals, marks, f"Distribution of {SW.label_of(metric)} across the sweep: {spec.base.strategy}",
            SW.label_of(metric) + (" (lower is better)" if metric in S.LOWER_IS_BETTER else ""),
            SW.KINDS.get(metric) == "pct"), "chart_distribution"))
    if best_result is not None:
        lab = f"best: {best['combo'].label(spec.axes)}"
        page.section("best", "Equity of the best combination",
                     page.chart(C.equity_chart(best_result, label=lab, title=f"Equity: {lab}, "
                                               f"{best_result.provenance['period']['trade_from']} to "
                                               f"{best_result.provenance['period']['trade_to']}"), "chart_best_equity"))
    prov = best_result.provenance if best_result is not None else {"symbols": manifest.get("data", {}).get("symbols", {})}
    git = manifest.get("git") or {}
    note = (f"data hash {manifest.get('data', {}).get('hash', '')}; config hash "
            f"{manifest.get('config', {}).get('config_hash', '')}"
            + (f"; git {git.get('commit', '')[:12]}{' (modified)' if git.get('dirty') else ''}" if git else ""))
    page.section("provenance", "Data provenance", provenance_html(
        prov, manifest.get("versions") or (best_result.versions if best_result is not None else None), note))
    return page.render()


def overfitting_html(o: dict) -> str:
    if not o.get("applicable"):
        return para(f"Not applicable: {o.get('reason')}")
    rows = [["best combination", o["best"]],
            ["its Sharpe (annual)", f"{o['best_sharpe_annual']:.2f}"],
            ["trials / effective independent trials", f"{o['n_trials']} / {o['n_trials_effective']:.1f}"],
            ["best Sharpe expected from luck alone (annual)", f"{o['expected_max_sharpe_annual']:.2f}"],
            ["deflated Sharpe ratio (P[true Sharpe > luck])", f"{o['deflated_sharpe_ratio']:.3f}"],
            ["probability of backtest overfitting (PBO)", f"{o['pbo']:.3f}"],
            ["P[in-sample best loses out of sample]", f"{o['prob_oos_loss']:.3f}"],
            ["CSCV splits / combinations", f"{o['pbo_splits']} / {o['pbo_combinations']:,}"],
            ["days", f"{o['n_days']:,} ({o['from']} to {o['to']})"]]
    return (para(f"{o.get('n_trials', 0)} combinations, every one counted; {o.get('basis', '')}", "muted")
            + table(["", "value"], rows, tid="overfit_table", align=["left", "right"])
            + para("Deflated Sharpe near 1: the best row's Sharpe is unlikely to be the luck of picking the best of "
                   "many correlated trials. PBO near 0: the in-sample best keeps ranking in the top half out of "
                   "sample; near 0.5 or above: the choice of parameters does not carry over. "
                   + o.get("method", ""), "muted"))


# -- walk-forward --------------------------------------------------------------------------------
def walkforward_html(wf, strategy: str, rule: str) -> str:
    """report.html of a walk-forward: the rule and method, the windows table, the stitched
    out-of-sample equity against the hindsight best and the benchmark, the objective by window."""
    from reports import walkforward_report as WR
    s = wf.summary
    page = Page(f"Walk-forward: {strategy}", "Choose parameters in-sample, trade them out-of-sample", FOOTER)
    note = s["note"]
    run = s.get("run") or {}
    left = (heading("The rule") + para(rule) + heading("Method") + para(note[0].upper() + note[1:] + ".")
            + heading("Grid") + para(", ".join(wf.trial_returns.columns)))
    oos = s["oos"]
    facts = [("scheme", f"{s['scheme']}, {s['is_years']:g} years in-sample / {s['oos_years']:g} out-of-sample, "
                        f"{s['n_windows']} windows"),
             ("out-of-sample", f"{oos['from']} to {oos['to']}"),
             ("CAGR", f"{oos['cagr']:.2%}" + (f" (benchmark {oos['benchmark_cagr']:.2%})" if "benchmark_cagr" in oos
                                             else "")),
             ("Sharpe", f"{oos['sharpe']:.2f}" + (f" (benchmark {oos['benchmark_sharpe']:.2f})"
                                                  if "benchmark_sharpe" in oos else "")),
             ("hindsight best", f"{s['hindsight_best']['combination']}: CAGR "
                                f"{s['hindsight_best']['cagr_over_oos']:.2%}"),
             (f"mean {s['objective']} of the chosen", f"in-sample {s['mean_is_objective_of_chosen']:.2f}, "
                                                     f"out-of-sample {s['mean_oos_objective_of_chosen']:.2f}")]
    page.section("summary", "Summary", verdict_block(s.get("verdict")), cols(left, heading("Headline") + kv(facts)))
    page.section("windows", "Windows", para(WR.summary_line(s)),
                 table(WR.WINDOWS_HEADER, WR.window_rows(wf), tid="windows_table"),
                 para(WR.summary_note(s), "muted"))
    curves = WR.equity_curves(wf)
    page.section("equity", "Out-of-sample equity", page.chart(C.walkforward_chart(
        curves, wf.windows["oos_start"], strategy,
        f"Walk-forward, {s['scheme']} {s['is_years']:g}y in-sample / {s['oos_years']:g}y out-of-sample, "
        f"{oos['from']} to {oos['to']}"), "chart_walkforward"),
                 page.chart(C.windows_chart(wf.windows, s["objective"], strategy), "chart_windows"))
    if run.get("provenance"):
        page.section("provenance", "Data provenance", provenance_html(run["provenance"], run.get("versions")))
    return page.render()


__all__ = ["compare_html", "run_html", "study_html", "sweep_html", "walkforward_html"]
