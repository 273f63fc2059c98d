"""Interactive charts of the HTML reports: plotly figures as pure functions of results.

Each function mirrors a PNG figure of :mod:`reports.figures` (the same series, colours and labels)
and returns a :class:`reports.figspec.Figure` (plain plotly.js data; None where the PNG figure
would be None). Series come from the result's frames through the same helpers the PNG figures
use; annotated numbers (worst drawdowns, yearly returns) are read from the metrics dicts the core
computed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports import figures as F
from reports import metrics as M
from reports.figspec import Figure
from reports.style import (
    BENCHMARK_COLOR, CASH_COLOR, GROWTH_COLOR, ROTATED_COLOR, TRIGGER_COLOR, color_of, period_text, symbol_colors,
)

FONT = {"family": "DejaVu Sans, Helvetica Neue, Arial, sans-serif", "size": 12, "color": "#222"}
AXIS = {"showgrid": True, "gridcolor": "#e6e6e6", "zeroline": False, "showline": True, "linecolor": "#9a9a9a",
        "ticks": "outside", "tickcolor": "#9a9a9a"}
MONTHS = F.MONTHS


def colorscale(name: str) -> list:
    """A matplotlib colormap (``RdYlGn``, ``RdYlGn_r``...) as a plotly colorscale: the HTML charts
    shade as the PNG ones (plotly.js knows only a few colorscales by name)."""
    import matplotlib
    cmap = matplotlib.colormaps[name]
    return [[k / 10, rgba(cmap(k / 10), 1)] for k in range(11)]


def dates(index) -> np.ndarray:
    """Dates as a day-resolution array: written as YYYY-MM-DD (the text of the CSVs), and fast to
    pass through plotly (a list of strings is checked element by element)."""
    return pd.DatetimeIndex(index).to_numpy().astype("datetime64[D]")


def values(series) -> np.ndarray:
    return np.asarray(series, dtype=float)


def rgba(color, alpha: float) -> str:
    import matplotlib.colors as mcolors
    r, g, b, _ = mcolors.to_rgba(color)
    return f"rgba({round(r * 255)},{round(g * 255)},{round(b * 255)},{alpha:g})"


def style_layout(fig, title: str, height: int, legend: bool = True) -> Figure:
    """The common look: white, light grid, title top left, legend under the plot."""
    fig.update_layout(
        font=FONT, height=height, paper_bgcolor="white", plot_bgcolor="white",
        title={"text": title, "x": 0.01, "xanchor": "left", "y": 0.985, "yanchor": "top", "font": {"size": 15}},
        margin={"l": 72, "r": 28, "t": 70, "b": 40}, hovermode="x unified", showlegend=legend,
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": -0.08, "yanchor": "top"},
    )
    fig.update_xaxes(**AXIS)
    fig.update_yaxes(**AXIS)
    return fig


def log_toggle(fig, log: bool = True, axes=("yaxis",)) -> None:
    """Buttons above the plot switching the value axes between log and linear scale."""
    def args(kind):
        return [{f"{a}.type": kind for a in axes}]
    fig.update_layout(updatemenus=[{
        "type": "buttons", "direction": "left", "x": 1.0, "xanchor": "right", "y": 1.02, "yanchor": "bottom",
        "showactive": True, "active": 0 if log else 1, "pad": {"r": 2, "t": 2}, "bgcolor": "#f2f2f2",
        "font": {"size": 11},
        "buttons": [{"label": "log scale", "method": "relayout", "args": args("log")},
                    {"label": "linear scale", "method": "relayout", "args": args("linear")}],
    }])
    for a in axes:
        fig.layout.setdefault(a, {})["type"] = "log" if log else "linear"


def shade_spans(fig, spans, color: str = ROTATED_COLOR, opacity: float = 0.22, name: str | None = None) -> int:
    """Shade ``(start, end)`` date spans across the whole plot height; one legend entry ``name``."""
    shapes = [{"type": "rect", "xref": "x", "yref": "paper", "x0": f"{pd.Timestamp(a):%Y-%m-%d}",
               "x1": f"{pd.Timestamp(b):%Y-%m-%d}", "y0": 0, "y1": 1, "fillcolor": color, "opacity": opacity,
               "line": {"width": 0}, "layer": "below"} for a, b in spans]
    if shapes:
        fig.add_shapes(shapes)
        if name:
            fig.add_trace(dict(type="scatter", x=[None], y=[None], mode="markers", name=name, hoverinfo="skip",
                                     marker={"symbol": "square", "size": 12, "color": rgba(color, 0.5)}))
    return len(shapes)


def _episodes(result) -> list[tuple]:
    eps = M.rotation_episodes(result)
    return list(zip(eps["start"], eps["end"]))


# -- run charts ------------------------------------------------------------------------------------
def equity_chart(result, label: str | None = None, color: str | None = None, log: bool = True,
                 title: str | None = None) -> Figure:
    """Equity of the rule, its benchmark and holding growth (as the equity PNG), rotation episodes
    shaded, a log / linear toggle."""
    name = label or result.strategy
    fig = Figure()
    hover = "%{y:,.0f}"
    fig.add_trace(dict(type="scatter", x=dates(result.equity.index), y=values(result.equity), name=name, mode="lines",
                             line={"color": color or color_of(result.strategy), "width": 1.7}, hovertemplate=hover))
    if result.benchmark is not None:
        fig.add_trace(dict(type="scatter", x=dates(result.benchmark.index), y=values(result.benchmark),
                                 name=f"benchmark {F._bench_name(result)}", mode="lines",
                                 line={"color": BENCHMARK_COLOR, "width": 1.2}, hovertemplate=hover))
    growth = getattr(result, "growth", None)
    if growth is not None and not F._same_as_benchmark(result):
        fig.add_trace(dict(type="scatter", x=dates(growth.index), y=values(growth), mode="lines",
                                 name=f"holding growth {'+'.join(result.baskets.get('growth', {}))}",
                                 line={"color": GROWTH_COLOR, "width": 1.2, "dash": "dash"}, hovertemplate=hover))
    n = shade_spans(fig, _episodes(result), name=F._rotated_label(result))
    style_layout(fig, title or f"Equity: {name}, {period_text(result)}", 520)
    fig.update_yaxes(title={"text": "portfolio value"}, tickformat="~s")
    log_toggle(fig, log)
    if n:
        fig.add_annotation(text=f"{n} rotation episodes shaded", xref="paper", yref="paper", x=1, y=0.01,
                           xanchor="right", yanchor="bottom", showarrow=False, font={"size": 11, "color": "#555"})
    return fig


def drawdown_chart(result, worst: list[dict], label: str | None = None, color: str | None = None) -> Figure:
    """Drawdown below the running peak of the rule (filled) and the benchmark, the ``worst``
    drawdowns (``metrics["drawdowns"]``) shaded from peak to recovery and labelled at their trough."""
    name = label or result.strategy
    c = color or color_of(result.strategy)
    dd = M.drawdown(result.equity)
    fig = Figure()
    fig.add_trace(dict(type="scatter", x=dates(dd.index), y=values(dd), name=f"{name} drawdown", mode="lines", fill="tozeroy",
                             line={"color": c, "width": 1}, fillcolor=rgba(c, 0.3), hovertemplate="%{y:.2%}"))
    if result.benchmark is not None:
        bdd = M.drawdown(result.benchmark.reindex(result.equity.index).dropna())
        fig.add_trace(dict(type="scatter", x=dates(bdd.index), y=values(bdd), name=f"benchmark {F._bench_name(result)} drawdown",
                                 mode="lines", line={"color": BENCHMARK_COLOR, "width": 1}, hovertemplate="%{y:.2%}"))
    last = result.equity.index[-1]
    shade_spans(fig, [(w["peak"], w["recovery"] or last) for w in worst], color=TRIGGER_COLOR, opacity=0.07,
                name=f"{len(worst)} worst, peak to recovery")
    if worst:
        fig.add_trace(dict(type="scatter", 
            x=[w["trough"] for w in worst], y=[w["depth"] for w in worst], mode="markers+text", name="troughs",
            marker={"symbol": "triangle-down", "size": 10, "color": TRIGGER_COLOR},
            text=[f"#{w['rank']} {M.fmt(w['depth'], 'pct')}, {w['days']:,} d{'' if w['recovered'] else ', open'}"
                  for w in worst],
            textposition=[_text_side(result, w["trough"]) for w in worst], textfont={"size": 11, "color": "#222"},
            hoverinfo="text",
            showlegend=False))
    style_layout(fig, f"Drawdown (underwater): {name}, {period_text(result)}; {len(worst)} worst marked "
                      "(trading days, peak to recovery)", 470)
    lo = min(float(dd.min()) if len(dd) else 0.0, -0.01)
    fig.update_yaxes(title={"text": "below running peak"}, tickformat=".0%", range=[lo * 1.15, 0.02])
    return fig


def _text_side(result, date) -> str:
    """Where a label under a point at ``date`` stays inside the plot: left of points near the right
    edge, right of points near the left edge."""
    idx = result.equity.index
    pos = (pd.Timestamp(date) - idx[0]) / ((idx[-1] - idx[0]) or pd.Timedelta(days=1))
    return "bottom left" if pos > 0.88 else "bottom right" if pos < 0.08 else "bottom center"


def allocation_chart(result, label: str | None = None) -> Figure:
    """Stacked end-of-day weights per traded symbol, cash on top (as the allocation PNG)."""
    frame = F.allocation_frame(result)
    colors = symbol_colors(result.weights.columns)
    colors["cash"] = CASH_COLOR
    x = dates(frame.index)
    fig = Figure()
    for col in frame.columns:
        fig.add_trace(dict(type="scatter", x=x, y=values(frame[col]), name=col if col != "cash" else "cash (incl. cost buffer)",
                                 mode="lines", stackgroup="one", line={"width": 0.4, "shape": "hv", "color": colors[col]},
                                 fillcolor=colors[col], hovertemplate="%{y:.1%}"))
    style_layout(fig, f"Allocation over time: {label or result.strategy}, end-of-day weights, {period_text(result)}",
                 420)
    fig.update_yaxes(title={"text": "weight of portfolio value"}, tickformat=".0%", range=[0, 1])
    return fig


def signal_chart(result, label: str | None = None) -> Figure | None:
    """The rule's signal as the signal PNG: relative strength of its two legs (when it names them)
    over the spread with the entry / exit thresholds, trigger days and rotation entries."""
    sig = result.signals
    if sig is None or not len(sig) or "spread" not in sig:
        return None
    sig = sig[sig["state"] != "warmup"] if "state" in sig else sig
    if not len(sig):
        return None
    info = result.signal_info or {}
    rs = F.relative_strength(result)
    rotating = ("state" in sig and bool((sig["state"] == "rotated").any())) or bool(result.baskets.get("rotation"))
    legs = F._legs(result)
    names = info.get("leg_names") or legs or []
    what = info.get("label") or "signal"
    spread = sig["spread"].astype(float)
    x = dates(spread.index)
    on = sig["triggered"].astype(bool) if "triggered" in sig else pd.Series(False, index=sig.index)
    fired = sig.index[on]
    if rs is not None:
        lead = f"{names[0]} vs {names[1]}" if len(names) == 2 else rs.name
        first = names[0] if names else legs[0]
        fig = Figure(rows=2, cols=1, shared_xaxes=True, row_heights=[0.42, 0.58], vertical_spacing=0.07,
                            subplot_titles=[f"{lead} relative strength ({rs.name}, rebased to 1; rising = {first} "
                                            "leads)", f"Spread: {what}"])
        fig.add_trace(dict(type="scatter", x=dates(rs.index), y=values(rs), name=f"relative strength {rs.name}", mode="lines",
                                 line={"color": "#3a3a3a", "width": 1.1}, hovertemplate="%{y:.3f}"), row=1, col=1)
        row = 2
    else:
        fig = Figure(rows=1, cols=1, subplot_titles=[f"Spread: {what}"])
        row = 1
    fig.add_trace(dict(type="scatter", x=x, y=values(spread), name="spread", mode="lines", hovertemplate="%{y:.2%}",
                             line={"color": color_of(result.strategy), "width": 0.8 if rotating else 1.4}),
                  row=row, col=1)
    ends = [x[0], x[-1]]
    th, ex = info.get("threshold"), info.get("exit_threshold")
    if th is not None and rotating:
        fig.add_trace(dict(type="scatter", x=ends, y=[th, th], mode="lines", name=f"entry threshold {M.fmt(th, 'pct')}",
                                 line={"color": TRIGGER_COLOR, "width": 1.2, "dash": "dash"}, hoverinfo="skip"),
                      row=row, col=1)
    if ex is not None and rotating:
        fig.add_trace(dict(type="scatter", x=ends, y=[ex, ex], mode="lines", name=f"exit threshold {M.fmt(ex, 'pct')}",
                                 line={"color": "#666", "width": 1.2, "dash": "dot"}, hoverinfo="skip"),
                      row=row, col=1)
    if rotating:
        fig.add_trace(dict(type="scatter", x=dates(fired), y=values(spread.reindex(fired)), mode="markers",
                                 name=f"trigger condition met ({len(fired)} days)", hovertemplate="%{y:.2%}",
                                 marker={"color": TRIGGER_COLOR, "size": 4, "opacity": 0.6}), row=row, col=1)
        entries = F.trigger_dates(result)
        entries = entries[entries.isin(spread.index)]
        fig.add_trace(dict(type="scatter", x=dates(entries), y=values(spread.reindex(entries)), mode="markers",
                                 name=f"rotation entry ({len(entries)})", hovertemplate="%{y:.2%}",
                                 marker={"symbol": "triangle-up", "size": 10, "color": TRIGGER_COLOR,
                                         "line": {"color": "black", "width": 0.6}}), row=row, col=1)
        shade_spans(fig, _episodes(result), name=F._rotated_label(result))
    else:
        run_id = (on != on.shift()).cumsum()
        spans = []
        for _, block in on.groupby(run_id):
            if block.iloc[0]:
                end = sig.index[min(sig.index.get_loc(block.index[-1]) + 1, len(sig) - 1)]
                spans.append((block.index[0], end))
        shade_spans(fig, spans, opacity=0.25, name=f"condition met ({len(fired)} days)")
    style_layout(fig, f"Signal: {label or result.strategy}, {period_text(result)}", 640 if rs is not None else 440)
    fig.update_yaxes(tickformat=".0%", row=row, col=1)
    if rs is not None:
        fig.update_yaxes(tickformat=".2f", row=1, col=1)
    fig.update_annotations(font={"size": 12}, x=0, xanchor="left")
    return fig


def rolling_chart(result, label: str | None = None, color: str | None = None) -> Figure:
    """Rolling 12-month return and Sharpe (rule vs benchmark) and, with a benchmark, the rolling
    beta and correlation to it over each tear-sheet window."""
    r = M.strategy_returns(result)
    b = M.benchmark_returns(result)
    name = label or result.strategy
    c = color or color_of(result.strategy)
    window = F.fit_window(len(r))
    months = max(1, round(window / 21))
    rows = 4 if b is not None else 2
    titles = [f"Return over the trailing {window} trading days", f"Sharpe ratio over the trailing {window} trading "
              "days (annualised, risk-free 0)"]
    if b is not None:
        titles += [f"Beta to benchmark {F._bench_name(result)}", "Correlation of daily returns to the benchmark"]
    fig = Figure(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.045, subplot_titles=titles)
    x = dates(r.index)
    fig.add_trace(dict(type="scatter", x=x, y=values(M.rolling_return(r, window)), name=name, legendgroup="rule", mode="lines",
                             line={"color": c, "width": 1.3}, hovertemplate="%{y:.2%}"), row=1, col=1)
    fig.add_trace(dict(type="scatter", x=x, y=values(M.rolling_sharpe(r, window)), name=name, legendgroup="rule",
                             showlegend=False, mode="lines", line={"color": c, "width": 1.3}, hovertemplate="%{y:.2f}"),
                  row=2, col=1)
    if b is not None:
        bl = f"benchmark {F._bench_name(result)}"
        fig.add_trace(dict(type="scatter", x=dates(b.index), y=values(M.rolling_return(b, window)), name=bl, legendgroup="b",
                                 mode="lines", line={"color": BENCHMARK_COLOR, "width": 1.1}, hovertemplate="%{y:.2%}"),
                      row=1, col=1)
        fig.add_trace(dict(type="scatter", x=dates(b.index), y=values(M.rolling_sharpe(b, window)), name=bl, legendgroup="b",
                                 showlegend=False, mode="lines", line={"color": BENCHMARK_COLOR, "width": 1.1},
                                 hovertemplate="%{y:.2f}"), row=2, col=1)
        roll = M.rolling_relative(r, b)
        for i, w in enumerate(M.ROLLING_WINDOWS):
            last = i == len(M.ROLLING_WINDOWS) - 1
            style = {"color": c, "width": 1.3 if last else 0.9}
            for j, measure in enumerate(("beta", "correlation")):
                fig.add_trace(dict(type="scatter", x=x, y=values(roll[f"{measure}_{w}"]), name=f"{w}-day window",
                                         legendgroup=f"w{w}", showlegend=j == 0, mode="lines", line=style,
                                         opacity=1.0 if last else 0.5, hovertemplate="%{y:.2f}"), row=3 + j, col=1)
    style_layout(fig, f"Rolling {months}-month return and Sharpe{', beta and correlation' if b is not None else ''}: "
                      f"{name}, {period_text(result)}", 900 if b is not None else 560)
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    fig.update_annotations(font={"size": 12}, x=0, xanchor="left")
    return fig


def monthly_chart(result, annual: list[dict] | None, label: str | None = None, color: str | None = None,
                  refs: dict | None = None) -> Figure:
    """Monthly returns heatmap (years down, months across; :func:`reports.metrics.monthly_returns`)
    beside the calendar-year returns of the rule and its references (``annual``: the tear sheet's
    ``annual_returns`` rows; ``refs``: ``{"benchmark": label, "growth": label}`` to show)."""
    r = M.strategy_returns(result)
    table = M.monthly_returns(r)
    name = label or result.strategy
    years = [str(y) for y in table.index]
    vals = table.to_numpy(dtype=float)
    lim = float(np.nanmax(np.abs(vals))) if np.isfinite(vals).any() else 0.1
    lim = max(lim, 0.01)
    fig = Figure(rows=1, cols=2, column_widths=[0.68, 0.32], horizontal_spacing=0.02,
                        subplot_titles=["Monthly returns", "Calendar-year returns"])
    text = [[("" if not np.isfinite(v) else f"{v * 100:.1f}") for v in row] for row in vals]
    fig.add_trace(dict(type="heatmap", z=vals, x=MONTHS, y=years, zmin=-lim, zmax=lim, zmid=0.0, colorscale=colorscale("RdYlGn"),
                             text=text, texttemplate="%{text}", textfont={"size": 10}, hoverongaps=False,
                             hovertemplate="%{y} %{x}: %{z:.2%}<extra></extra>", xgap=1, ygap=1,
                             colorbar={"title": {"text": "month"}, "tickformat": ".0%", "x": -0.09, "len": 0.9,
                                       "thickness": 12}, name="monthly"), row=1, col=1)
    colors = {"rule": color or color_of(result.strategy), "benchmark": BENCHMARK_COLOR, "growth": GROWTH_COLOR}
    labels = {"rule": name, **(refs or {})}
    for key, lab in labels.items():
        if not annual:
            break
        ys = [str(a["year"]) for a in annual]
        xs = [a.get(key) for a in annual]
        if all(v is None for v in xs):
            continue
        fig.add_trace(dict(type="bar", x=[np.nan if v is None else v for v in xs], y=ys, orientation="h", name=lab,
                             marker={"color": colors[key]}, hovertemplate="%{y}: %{x:.2%}"), row=1, col=2)
    n = len(years)
    style_layout(fig, f"Monthly and calendar-year returns: {name}, {period_text(result)}", max(360, 26 * n + 150))
    fig.update_layout(barmode="group", hovermode="closest", bargap=0.25, margin={"l": 110})
    fig.update_yaxes(autorange="reversed", type="category", categoryorder="array", categoryarray=years)
    fig.update_yaxes(showticklabels=False, row=1, col=2)
    fig.update_xaxes(side="top", row=1, col=1, showgrid=False)
    fig.update_xaxes(tickformat=".0%", row=1, col=2)
    fig.update_annotations(font={"size": 12}, yshift=22)
    return fig


# -- comparison ------------------------------------------------------------------------------------
def comparison_equity_chart(results: dict, colors: dict, show_benchmark: bool = True) -> Figure:
    fig = Figure()
    for lab, r in results.items():
        fig.add_trace(dict(type="scatter", x=dates(r.equity.index), y=values(r.equity), name=lab, mode="lines",
                                 line={"color": colors[lab], "width": 1.4}, hovertemplate="%{y:,.0f}"))
    first = next(iter(results.values()))
    if show_benchmark and first.benchmark is not None:
        fig.add_trace(dict(type="scatter", x=dates(first.benchmark.index), y=values(first.benchmark), mode="lines",
                                 name=f"benchmark {F._bench_name(first)} (no costs)", hovertemplate="%{y:,.0f}",
                                 line={"color": BENCHMARK_COLOR, "width": 1.1}))
    style_layout(fig, f"Equity of {len(results)} strategies on the same data and costs, {F._common_period(results)}",
                 540)
    fig.update_yaxes(title={"text": "portfolio value"}, tickformat="~s")
    log_toggle(fig, True)
    return fig


def comparison_drawdown_chart(results: dict, colors: dict) -> Figure:
    fig = Figure()
    for lab, r in results.items():
        dd = M.drawdown(r.equity)
        fig.add_trace(dict(type="scatter", x=dates(dd.index), y=values(dd), name=lab, mode="lines",
                                 line={"color": colors[lab], "width": 1.1}, hovertemplate="%{y:.2%}"))
    style_layout(fig, f"Drawdowns of {len(results)} strategies, {F._common_period(results)}", 460)
    fig.update_yaxes(title={"text": "below running peak"}, tickformat=".0%")
    return fig


def comparison_yearly_chart(metrics: dict, colors: dict, period: str) -> Figure:
    """Calendar-year returns of every strategy (the tear sheets' ``annual_returns``)."""
    fig = Figure()
    for lab, m in metrics.items():
        annual = (m.get("tearsheet") or {}).get("annual_returns") or []
        fig.add_trace(dict(type="bar", x=[str(a["year"]) for a in annual], y=[a["rule"] for a in annual], name=lab,
                             marker={"color": colors[lab]}, hovertemplate="%{x}: %{y:.2%}"))
    style_layout(fig, f"Calendar-year returns of {len(metrics)} strategies, {period}", 460)
    fig.update_layout(barmode="group", hovermode="closest")
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=".0%", title={"text": "calendar-year return"})
    return fig


# -- sweep -----------------------------------------------------------------------------------------
def sweep_heatmap_chart(mat: np.ndarray, xs: list[str], ys: list[str], x: str, y: str | None, scale: dict,
                        cell_text: list[list[str]], best: tuple | None, title: str, colorbar_title: str,
                        tick_text) -> Figure:
    """The sweep's heatmap on the PNG's colour scale: ``scale`` = :func:`reports.sweep_report.heat_scale`
    (vmin, vmax, centre, label, reversed); the colour bar marks the centre."""
    vmin, vmax, center = scale["vmin"], scale["vmax"], scale["center"]
    cscale = colorscale("RdYlGn_r" if scale["lower"] else "RdYlGn")
    ticks = list(np.linspace(vmin, vmax, 5))
    text = [tick_text(t) for t in ticks]
    if center is not None and vmin <= center <= vmax:
        ticks = [t for t in ticks if abs(t - center) > (vmax - vmin) * 0.12] + [center]
        text = [tick_text(t) for t in ticks[:-1]] + [f"<b>{tick_text(center)} centre</b>"]
    fig = Figure().add_trace(dict(
        type="heatmap", z=mat, x=xs, y=ys, zmin=vmin, zmax=vmax, colorscale=cscale, text=cell_text, texttemplate="%{text}",
        textfont={"size": 13 if mat.size <= 60 else 10}, hoverongaps=False, xgap=2, ygap=2,
        hovertemplate=f"{x}=%{{x}}" + (f", {y}=%{{y}}" if y else "") + ": %{text}<extra></extra>",
        colorbar={"title": {"text": colorbar_title, "side": "right"}, "tickvals": ticks, "ticktext": text}))
    if best is not None:
        bi, bj = best
        fig.add_shapes([{"type": "rect", "x0": bj - 0.5, "x1": bj + 0.5, "y0": bi - 0.5, "y1": bi + 0.5, "xref": "x",
                         "yref": "y", "line": {"color": "black", "width": 3}}])
    style_layout(fig, title, max(420, min(900, 60 * len(ys) + 220)), legend=False)
    fig.update_layout(hovermode="closest")
    fig.update_xaxes(type="category", title={"text": x}, showgrid=False)
    fig.update_yaxes(type="category", title={"text": y or ""}, showgrid=False)
    return fig


def histogram_chart(vals: np.ndarray, marks: list[tuple[str, float, str, str]], title: str, xtitle: str,
                    pct: bool) -> Figure:
    """A histogram of ``vals`` with vertical lines ``(label, value, color, dash)``."""
    fig = Figure().add_trace(dict(type="histogram", x=vals, nbinsx=min(40, max(5, int(np.sqrt(len(vals)) * 2))),
                                  name="combinations", marker={"color": "#1f77b4", "line": {"color": "white", "width": 1}},
                                  opacity=0.8))
    for label, v, color, dash in marks:
        fig.add_trace(dict(type="scatter", x=[v, v], y=[0, 1], yaxis="y2", mode="lines", name=label, hoverinfo="name",
                                 line={"color": color, "width": 2, "dash": dash}))
    style_layout(fig, title, 440)
    fig.update_layout(hovermode="closest", yaxis2={"overlaying": "y", "range": [0, 1], "visible": False},
                      legend={"y": -0.2}, margin={"b": 100})
    fig.update_xaxes(title={"text": xtitle}, tickformat=".1%" if pct else None)
    fig.update_yaxes(title={"text": "combinations"})
    return fig


# -- study -----------------------------------------------------------------------------------------
def study_paths_chart(st, legs: dict, colors: dict) -> Figure:
    """Mean cumulative forward return after the triggers for each leg: the events' mean path, its
    bootstrap band and the band and median of the cluster-preserving null (as the study PNG)."""
    keys = [k for k in legs if st.paths.get(k) is not None and not st.paths[k].empty]
    conf = int(round((1 - st.summary["alpha"]) * 100))
    fig = Figure(rows=1, cols=max(len(keys), 1), subplot_titles=[legs[k] for k in keys],
                        horizontal_spacing=0.06)
    for i, leg in enumerate(keys, start=1):
        paths = st.paths[leg]
        days = [int(d) for d in paths.columns]
        first = i == 1

        def band(frame, color, name, group):
            fig.add_trace(dict(type="scatter", x=days, y=values(frame.loc["low"]), mode="lines", line={"width": 0},
                                     showlegend=False, legendgroup=group, hoverinfo="skip"), row=1, col=i)
            fig.add_trace(dict(type="scatter", x=days, y=values(frame.loc["high"]), mode="lines", line={"width": 0},
                                     fill="tonexty", fillcolor=color, name=name, legendgroup=group,
                                     showlegend=first, hoverinfo="skip"), row=1, col=i)
        if leg in st.null_paths:
            nb = st.null_paths[leg]
            band(nb, "rgba(170,170,170,0.45)", f"null band, dates shifted ({conf}%)", "null")
            fig.add_trace(dict(type="scatter", x=days, y=values(nb.loc["median"]), mode="lines", name="null median",
                                     legendgroup="null_median", showlegend=first, hovertemplate="%{y:.2%}",
                                     line={"color": "#707070", "dash": "dash", "width": 1}), row=1, col=i)
        if leg in st.path_ci:
            band(st.path_ci[leg], rgba(colors[leg], 0.2), f"bootstrap band of the mean ({conf}%)", f"ci_{leg}")
        fig.add_trace(dict(type="scatter", x=days, y=values(paths.mean()), mode="lines", hovertemplate="%{y:.2%}",
                                 name=f"{legs[leg]}: mean after {len(paths)} triggers",
                                 line={"color": colors[leg], "width": 2.2}), row=1, col=i)
    style_layout(fig, f"What followed the triggers of {st.result.strategy}, {period_text(st.result)} "
                      f"({conf}% bands)", 540)
    fig.update_layout(legend={"y": -0.2}, margin={"b": 110})
    fig.update_xaxes(title={"text": "trading days after entry"})
    fig.update_yaxes(tickformat=".1%")
    fig.update_annotations(font={"size": 12})
    return fig


def study_events_chart(st) -> Figure:
    """The rule's two signal legs rebased to 1 (log scale) with the trigger dates, and the spread."""
    res = st.result
    legs = F._legs(res) or list((res.signal_info or {}).get("legs") or [])[:2]
    legs = [s for s in legs if s and s in res.closes]
    closes = res.closes
    trig = st.events.index
    fig = Figure(rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38], vertical_spacing=0.07,
                        subplot_titles=["Triggers on the signal legs (rebased to 1)", "Spread"])
    for sym, color in zip(legs, (BENCHMARK_COLOR, "#1f77b4")):
        c = closes[sym].dropna()
        fig.add_trace(dict(type="scatter", x=dates(c.index), y=values(c / c.iloc[0]), name=f"{sym} (rebased)", mode="lines",
                                 line={"color": color, "width": 1.2}, hovertemplate="%{y:.3f}"), row=1, col=1)
    if legs:
        base = closes[legs[0]].dropna()
        fig.add_trace(dict(type="scatter", x=dates(trig), y=values((closes[legs[0]] / base.iloc[0]).reindex(trig)),
                                 mode="markers", name=f"trigger ({len(trig)} days)", hovertemplate="%{x}",
                                 marker={"color": TRIGGER_COLOR, "size": 6}), row=1, col=1)
    sig = res.signals
    if sig is not None and "spread" in sig:
        sig = sig[sig["state"] != "warmup"] if "state" in sig else sig
        fig.add_trace(dict(type="scatter", x=dates(sig.index), y=values(sig["spread"]), mode="lines", name="spread",
                                 line={"color": "#1f77b4", "width": 0.7}, hovertemplate="%{y:.2%}"), row=2, col=1)
        th = (res.signal_info or {}).get("threshold")
        if th is not None and len(sig):
            ends = dates(sig.index[[0, -1]])
            fig.add_trace(dict(type="scatter", x=ends, y=[th, th], mode="lines", name=f"threshold {M.fmt(th, 'pct')}",
                                     line={"color": TRIGGER_COLOR, "dash": "dash", "width": 1.2}, hoverinfo="skip"),
                          row=2, col=1)
        if "spread" in st.events:
            fig.add_trace(dict(type="scatter", x=dates(trig), y=values(st.events["spread"]), mode="markers", showlegend=False,
                                     marker={"color": TRIGGER_COLOR, "size": 5}, hovertemplate="%{y:.2%}"),
                          row=2, col=1)
    style_layout(fig, f"Triggers of {res.strategy}, {period_text(res)}", 620)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_annotations(font={"size": 12}, x=0, xanchor="left")
    return fig


# -- walk-forward ----------------------------------------------------------------------------------
def walkforward_chart(curves: dict, window_starts, strategy: str, title: str) -> Figure:
    """Growth of 1 out-of-sample: walk-forward, hindsight best, benchmark; window starts marked."""
    colors = [color_of(strategy), "#ff7f0e", BENCHMARK_COLOR]
    fig = Figure()
    for (label, curve), c in zip(curves.items(), colors):
        fig.add_trace(dict(type="scatter", x=dates(curve.index), y=values(curve), name=label, mode="lines",
                                 hovertemplate="%{y:.3f}",
                                 line={"color": c, "width": 1.8 if "walk" in label else 1.2,
                                       "dash": "dash" if "hindsight" in label else "solid"}))
    fig.add_shapes([{"type": "line", "xref": "x", "yref": "paper", "x0": f"{pd.Timestamp(d):%Y-%m-%d}",
                     "x1": f"{pd.Timestamp(d):%Y-%m-%d}", "y0": 0, "y1": 1, "line": {"color": "#c8c8c8", "width": 1}}
                    for d in window_starts])
    style_layout(fig, title, 500)
    fig.update_yaxes(title={"text": "growth of 1"})
    log_toggle(fig, True)
    return fig


def windows_chart(windows: pd.DataFrame, objective: str, strategy: str) -> Figure:
    """Per window: the in-sample objective of the chosen combination, its out-of-sample objective
    and the out-of-sample median over every combination."""
    labels = [f"{d:%Y-%m}" for d in windows["oos_start"]]
    fig = Figure()
    fig.add_trace(dict(type="bar", x=labels, y=values(windows["is_objective"]), name=f"in-sample {objective} of the chosen",
                         marker={"color": "#9ecae1"}, hovertemplate="%{y:.2f}"))
    fig.add_trace(dict(type="bar", x=labels, y=values(windows["oos_objective"]), name=f"out-of-sample {objective}",
                         marker={"color": color_of(strategy)}, hovertemplate="%{y:.2f}"))
    fig.add_trace(dict(type="scatter", x=labels, y=values(windows["oos_median_objective"]), mode="markers",
                             name="out-of-sample median of all combinations", hovertemplate="%{y:.2f}",
                             marker={"symbol": "line-ew", "size": 26, "line": {"width": 3, "color": "black"}}))
    style_layout(fig, f"{objective} by window (out-of-sample window start)", 400)
    fig.update_layout(barmode="group", hovermode="x")
    fig.update_xaxes(type="category")
    return fig


__all__ = ["allocation_chart", "comparison_drawdown_chart", "comparison_equity_chart", "comparison_yearly_chart",
           "drawdown_chart", "equity_chart", "histogram_chart", "monthly_chart", "rolling_chart", "signal_chart",
           "study_events_chart", "study_paths_chart", "sweep_heatmap_chart", "walkforward_chart", "windows_chart"]
