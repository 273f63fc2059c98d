"""Event-study outputs: events.csv, study.json, figures (PNG) and report.pdf.

Figures are pure functions of an :class:`rotationlab.events.EventStudy`; every number printed in
the PDF is formatted from the same ``summary`` dict written to ``study.json``.
"""

from __future__ import annotations


import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from reports import pdf as P  # noqa: E402
from reports.style import png_bytes  # noqa: E402
from reports.style import BENCHMARK_COLOR, FIGSIZE, TRIGGER_COLOR, date_axis, new_figure, pct_axis, style  # noqa: E402
from rotationlab.outdir import as_folder  # noqa: E402
from rotationlab.results import dump_json  # noqa: E402

LEG_LABELS = {"rotation": "rotation basket", "growth": "growth",
              "rotation_minus_growth": "rotation minus growth"}
LEG_COLORS = {"rotation": "#2ca02c", "growth": "#1f77b4", "rotation_minus_growth": "#d62728"}

TABLE_HEADER = ["leg", "days", "events", "indep.", "mean", "median", "hit", "CI of mean", "all days", "p random",
                "p shifted"]
TABLE_NOTE = ("indep.: events at least the horizon apart. all days: mean over every eligible day. Two-sided p "
              "values: 'p random' draws as many days at random; 'p shifted' moves the whole pattern of trigger "
              "dates by one random offset, keeping their clustering. Triggers cluster, so 'p shifted' is the "
              "honest one.")
LAG_HEADER = ["fill", "CAGR", "Sharpe", "max drawdown", "excess CAGR", "trades", "edge kept"]
LAG_NOTE = ("edge kept: excess CAGR over the benchmark relative to the same-close fill (the most optimistic, "
            "not tradable as stated). A rule whose edge vanishes with a day of delay is reacting to noise "
            "that cannot be traded.")


def _title_period(st) -> str:
    p = st.result.provenance["period"]
    return f"{p['trade_from']} to {p['trade_to']}"


def path_figure(st):
    """Mean cumulative forward return after the triggers, by day, for each leg: the events' mean,
    its bootstrap band, and the band of the cluster-preserving null."""
    with style():
        fig, axes = new_figure(1, 3, sharey=False)
        for ax, leg in zip(axes, ("rotation", "growth", "rotation_minus_growth")):
            paths = st.paths.get(leg)
            if paths is None or paths.empty:
                ax.set_axis_off()
                continue
            days = np.asarray(paths.columns, dtype=int)
            mean = paths.mean().to_numpy()
            if leg in st.null_paths:
                nb = st.null_paths[leg]
                ax.fill_between(days, nb.loc["low"], nb.loc["high"], color="0.8", alpha=0.7, lw=0,
                                label="null band (dates shifted)", gid="null_band")
                ax.plot(days, nb.loc["median"], color="0.45", ls="--", lw=1, label="null median", gid="null_median")
            if leg in st.path_ci:
                ci = st.path_ci[leg]
                ax.fill_between(days, ci.loc["low"], ci.loc["high"], color=LEG_COLORS[leg], alpha=0.18, lw=0,
                                label="bootstrap band of the mean", gid="ci_band")
            ax.plot(days, mean, color=LEG_COLORS[leg], lw=2, label=f"mean after {len(paths)} triggers", gid="mean_path")
            ax.axhline(0, color="0.3", lw=0.8)
            ax.set_title(LEG_LABELS[leg], fontsize=12)
            ax.set_xlabel("trading days after entry")
            pct_axis(ax, 0 if np.nanmax(np.abs(mean)) > 0.05 else 1)
            ax.legend(loc="upper left", fontsize=8.5)
        axes[0].set_ylabel("cumulative forward return")
        conf = int(round((1 - st.summary["alpha"]) * 100))
        fig.suptitle(f"What followed the triggers of {st.result.strategy}, {_title_period(st)} "
                     f"({conf}% bands)", fontweight="bold")
    return fig


def distribution_figure(st, leg: str = "rotation_minus_growth"):
    """Each trigger's outcome at every horizon, with the events' mean and the null band."""
    res = st.summary["results"]
    hs = st.summary["horizons"]
    with style():
        fig, axes = new_figure(1, len(hs), sharey=False)
        axes = np.atleast_1d(axes)
        for ax, h in zip(axes, hs):
            col = f"{leg}_{h}d"
            vals = st.events[col].dropna()
            r = res.get(col, {})
            ax.hist(vals, bins=min(30, max(5, len(vals) // 5)), color=LEG_COLORS[leg], alpha=0.65,
                    orientation="horizontal", gid="hist")
            if "mean" in r:
                ax.axhline(r["mean"], color="black", lw=1.6, label="events' mean", gid="mean")
                ax.axhspan(r["cluster_null_low"], r["cluster_null_high"], color="0.75", alpha=0.6,
                           label="null band (dates shifted)", gid="null_band")
            ax.axhline(0, color="0.3", lw=0.7)
            ax.set_title(f"{h} day{'s' if h > 1 else ''}\nn={r.get('n_events', 0)}, "
                         f"p={r.get('p_value_two_sided_cluster', float('nan')):.3f}", fontsize=10.5)
            pct_axis(ax, 0)
            ax.set_xlabel("events")
        axes[0].set_ylabel(f"forward return, {LEG_LABELS[leg]}")
        axes[0].legend(loc="lower left", fontsize=8.5)
        fig.suptitle(f"Distribution of trigger outcomes ({LEG_LABELS[leg]}), {_title_period(st)}",
                     fontweight="bold")
    return fig


def events_figure(st):
    """The rule's two signal legs (or its rotation and growth baskets' first symbols), rebased,
    log scale, with every event date marked, and the logged signal."""
    res = st.result
    info = res.signal_info or {}
    legs = info.get("legs") or [next(iter(res.baskets.get("rotation") or {None: 0})),
                                next(iter(res.baskets.get("growth") or {None: 0}))]
    dow, nas = legs[0], legs[1]
    p = {"threshold": info.get("threshold") or 0.0, "lookback_days": res.config["params"].get("lookback_days")}
    closes = st.result.closes
    with style():
        fig, (ax1, ax2) = new_figure(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
        for sym, color in ((dow, BENCHMARK_COLOR), (nas, "#1f77b4")):
            c = closes[sym].dropna()
            ax1.plot(c.index, c / c.iloc[0], color=color, lw=1.2, label=f"{sym} (rebased to 1)", gid=f"price:{sym}")
        ax1.set_yscale("log")
        ax1.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(0.5, 1.0, 2.0)))
        ax1.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax1.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        trig = st.events.index
        y = (closes[dow] / closes[dow].dropna().iloc[0]).reindex(trig)
        ax1.scatter(trig, y, s=10, color=TRIGGER_COLOR, zorder=3, label=f"trigger ({len(trig)} days)", gid="triggers")
        ax1.set_title(f"Events on {dow} and {nas}, {_title_period(st)}", loc="left")
        ax1.legend(loc="upper left", fontsize=9)
        sig = st.result.signals
        ax2.plot(sig.index, sig["spread"], color="#1f77b4", lw=0.6, label=f"signal ({info.get('label', 'spread')})",
                 gid="spread")
        ax2.axhline(p.get("threshold", 0), color=TRIGGER_COLOR, ls="--", lw=1,
                    label=f"threshold {p.get('threshold', 0):.2%}")
        ax2.scatter(trig, st.events["spread"], s=8, color=TRIGGER_COLOR, zorder=3)
        ax2.set_title(f"Signal: {info.get('label', 'spread')}", loc="left", fontsize=11)
        pct_axis(ax2, 0)
        ax2.legend(loc="lower left", fontsize=9, ncols=2)
        date_axis(ax2)
    return fig


FIGURES = {"study_paths": path_figure, "study_distribution": distribution_figure, "study_events": events_figure}


def _fmt_pct(x):
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.2%}"


def table_rows(summary: dict) -> list[list[str]]:
    rows = []
    for leg in ("rotation_minus_growth", "rotation", "growth"):
        for h in summary["horizons"]:
            r = summary["results"].get(f"{leg}_{h}d", {})
            if "mean" not in r:
                continue
            rows.append([LEG_LABELS[leg], f"{h}", f"{r['n_events']}", f"{r['n_independent']}", _fmt_pct(r["mean"]),
                         _fmt_pct(r["median"]), f"{r['hit_rate']:.0%}", f"{_fmt_pct(r['ci_low'])} to {_fmt_pct(r['ci_high'])}",
                         _fmt_pct(r["unconditional_mean"]), f"{r['p_value_two_sided']:.3f}",
                         f"{r['p_value_two_sided_cluster']:.3f}"])
    return rows


def summary_page(st):
    s = st.summary
    conf = int(round((1 - s["alpha"]) * 100))
    with style():
        fig = P._page("Forward returns after the triggers",
                      f"{s['n_triggers']} trigger days ({s['n_trigger_onsets']} separate episodes) out of "
                      f"{s['eligible_days']:,} eligible days; entry at the close {s['entry_lag']} day after the trigger")
        header = ["leg", "days", "events", "indep.", "mean", "median", "hit", f"{conf}% CI of mean",
                  "all days", "p random", "p shifted"]
        rows = table_rows(s)
        W, H = FIGSIZE
        height = min(0.78, 0.045 * (len(rows) + 1))
        P._table(fig, [0.4 / W, 0.88 - height - 0.02, 1 - 0.8 / W, height], header, rows,
                 widths=[2.0, 0.6, 0.8, 0.7, 0.9, 0.9, 0.6, 2.0, 1.0, 1.0, 1.0],
                 aligns=["left"] + ["right"] * 10, fontsize=8.6, gid="study_table")
        note = P.Column(fig, 0.4, 0.6, W - 0.8, 0.1)
        note.para(TABLE_NOTE, size=8.5, color="0.3")
    return fig


def cover_page(st):
    res, s = st.result, st.summary
    with style():
        fig = P._page(f"Event study: {res.strategy}", f"Does the trigger predict what follows? {_title_period(st)}")
        W, H = FIGSIZE
        left = P.Column(fig, 0.4, H - 1.0, 5.2, 0.75)
        left.heading("The rule")
        left.para(res.rule, size=11)
        left.heading("What is measured")
        legs = s["legs"]
        left.para("For every close at which the trigger condition held: the forward return of the rotation "
                  f"basket ({', '.join(f'{k} {v:.0%}' for k, v in legs['rotation'].items())}), of growth "
                  f"({', '.join(f'{k} {v:.0%}' for k, v in legs['growth'].items())}) and of rotation minus growth, "
                  f"bought at the close {s['entry_lag']} day after the trigger and held "
                  f"{', '.join(map(str, s['horizons']))} trading days.", size=10)
        left.heading("Statistics")
        left.kv([("bootstrap", f"stationary block bootstrap of the mean, {s['n_boot']} resamples"),
                 ("nulls", f"{s['n_null']} draws: random dates, and the trigger dates shifted together"),
                 ("seed", str(s["seed"])), ("confidence", f"{1 - s['alpha']:.0%}")], size=9.5)
        right = P.Column(fig, 5.85, H - 1.0, W - 5.85 - 0.4, 0.75)
        right.heading("Parameters")
        right.kv([(k, P._param_text(v)) for k, v in res.config["params"].items()], size=9)
        right.heading("Data provenance")
        P.provenance_block(right, res.provenance, 0.9)
        foot = P.Column(fig, 0.4, 0.7, W - 0.8, 0.3)
        foot.para("Versions: " + P.versions_text(res.versions), size=8, color="0.2")
        P._footer(fig, "Rotation Lab event study. Numbers are the values of study.json in the same folder.")
    return fig


def lag_rows(lag: pd.DataFrame) -> list[list[str]]:
    """The execution-lag table's rows: the same rule filled ever later."""
    labels = {"same_close": "same close (study option)", "next_open": "next open (default)",
              "next_close": "next close", "second_open": "open two days later"}
    rows = []
    for fill, r in lag.iterrows():
        rows.append([labels.get(fill, fill), _fmt_pct(r["cagr"]), f"{r['sharpe']:.2f}", _fmt_pct(r["max_drawdown"]),
                     _fmt_pct(r.get("excess_cagr")), f"{int(r['n_trades']):,}",
                     "n/a" if pd.isna(r.get("edge_kept", np.nan)) else f"{r['edge_kept']:.0%}"])
    return rows


def lag_page(st, lag: pd.DataFrame):
    """The execution-lag table: the same rule filled ever later."""
    W, H = FIGSIZE
    rows = lag_rows(lag)
    with style():
        fig = P._page("How much of the edge survives execution delay?",
                      f"{st.result.strategy}, {_title_period(st)}; same data, parameters and costs, only the fill changes")
        P._table(fig, [0.4 / W, 0.55, 1 - 0.8 / W, 0.05 * (len(rows) + 1)], LAG_HEADER, rows,
                 widths=[2.6, 1, 1, 1.2, 1.2, 0.9, 1], aligns=["left"] + ["right"] * 6, gid="lag_table")
        note = P.Column(fig, 0.4, H * 0.5, W - 0.8, 0.3)
        note.para(LAG_NOTE, size=9.5, color="0.3")
    return fig


def write_study(st, out, pdf: bool = True, header: dict | None = None, lag: pd.DataFrame | None = None,
                html: bool = True) -> dict:
    folder = as_folder(out)
    out = folder.path
    events = st.events.copy()
    folder.write_text("events.csv", events.to_csv(date_format="%Y-%m-%d", lineterminator="\n"))
    doc = {**st.summary, "run": st.result.header(), **(header or {})}
    if lag is not None:
        doc["execution_lag"] = lag.to_dict(orient="index")
    folder.write_text("study.json", dump_json(doc))
    figs = {name: f(st) for name, f in FIGURES.items()}
    for name, fig in figs.items():
        folder.write_bytes(f"{name}.png", png_bytes(fig))
    if pdf:
        pages = [cover_page(st), summary_page(st), *figs.values()]
        if lag is not None:
            pages.append(lag_page(st, lag))
        folder.write_bytes("report.pdf", P.pdf_bytes(pages, title=f"Rotation Lab event study: {st.title}"))
    if html:
        try:
            from reports.html import study_html
        except ImportError:
            study_html = None
        if study_html is not None:
            folder.write_text("report.html", study_html(st, lag))
    return {"out": out, "summary": st.summary}
