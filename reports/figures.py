"""Figures as pure functions from results to matplotlib figures (headless Agg; never cerebro.plot).

Every function takes a :class:`RunResult` (or, for comparisons, ``{label: RunResult}``) and
returns a new :class:`matplotlib.figure.Figure`; nothing is read from or written to disk. The
plotted data can be read back from the artists (``ax.lines[i].get_ydata()``,
``im.get_array()``...), and each series carries a ``label`` (or ``gid``) naming it, so tests can
compare what is drawn with the result it came from.

1. :func:`equity_figure`      equity vs benchmark(s), log scale option, rotation episodes shaded
2. :func:`underwater_figure`  drawdown chart, the five worst drawdowns marked
3. :func:`allocation_figure`  stacked area of end-of-day weights (cash on top)
4. :func:`signal_figure`      Dow/Nasdaq relative strength and the spread, triggers marked
5. :func:`rolling_figure`     rolling 12-month return and Sharpe vs the benchmark;
   :func:`rolling_beta_figure` rolling beta and correlation to the benchmark
6. :func:`monthly_figure`     monthly returns heatmap (year x month) and yearly returns bars
7. :func:`comparison_equity_figure`, :func:`comparison_drawdown_figure`,
   :func:`comparison_yearly_figure`, :func:`metrics_table_figure`: comparisons
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from reports import metrics as M  # noqa: E402
from reports.style import (  # noqa: E402
    BENCHMARK_COLOR, CASH_COLOR, EDGE, FIGSIZE, GROWTH_COLOR, LEGEND_ROW, PANEL_LINE, ROTATED_COLOR, TICK_LABELS,
    TITLE_LINE, TRIGGER_COLOR, blank_figure, color_of, date_axis, fixed_layout, new_figure, pct_axis, period_text,
    strategy_colors, style, symbol_colors,
)
from rotationlab.results import RunResult  # noqa: E402

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


# -- helpers -----------------------------------------------------------------------------------
def _money(x, _pos=None) -> str:
    a = abs(x)
    if a >= 1e9:
        return f"{x / 1e9:.3g}B"
    if a >= 1e6:
        return f"{x / 1e6:.3g}M"
    if a >= 1e3:
        return f"{x / 1e3:.3g}k"
    return f"{x:.3g}"


def _log_money_axis(ax) -> None:
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    if hi / lo > 8:
        ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    elif hi / lo > 2.5:
        ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0)))
    else:  # a narrow range: evenly spaced round values read better
        ax.yaxis.set_major_locator(mticker.MaxNLocator(10, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(_money))
    ax.yaxis.set_minor_formatter(mticker.NullFormatter())


def _shade_rotations(ax, result: RunResult, label: str | None = None) -> int:
    """Shade rotation episodes; returns how many were shaded."""
    eps = M.rotation_episodes(result)
    for i, e in enumerate(eps.itertuples()):
        ax.axvspan(e.start, e.end, color=ROTATED_COLOR, alpha=0.22, lw=0, zorder=0,
                   label=label if i == 0 else None, gid="rotation")
    return len(eps)


def _rotated_label(result: RunResult) -> str:
    rot = (result.baskets or {}).get("rotation")
    return f"rotated (holding {'+'.join(rot)})" if rot else "rotated"


def _legend_below(fig, ax, ncols=None, handles=None, labels=None) -> int:
    """Legend outside the axes, under them: it can never hide data. Returns its rows."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return 0
    ncols = ncols or min(len(handles), 4)
    if fig.get_layout_engine() is None:  # a fixed layout: at the page's foot, its rows reserved there
        fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, EDGE / fig.get_figheight()),
                   ncols=ncols, frameon=False, borderaxespad=0.0)
    else:
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False)
    return -(-len(handles) // ncols)


def _lines(text: str) -> int:
    return text.count("\n") + 1


def _place(fig, *, titles: int, legend_rows: int, panels: bool = False, left: float = 0.8, right: float = 0.15,
           gap: float = 0.0, top_extra: float = 0.0) -> None:
    """The fixed layout of a run chart: ``titles`` lines of (figure or axes) title above, a panel
    title line over each row of axes when ``panels``, ``legend_rows`` of legend and the date tick
    labels below."""
    top = EDGE + titles * TITLE_LINE + 0.06 + (PANEL_LINE + 0.08 if panels else 0.0) + top_extra
    bottom = EDGE + legend_rows * LEGEND_ROW + TICK_LABELS
    fixed_layout(fig, top=top, bottom=bottom, left=left, right=right, gap=gap)


def _wrap(text: str, width: int = 92) -> str:
    """Break a long title at its last ', ' or '; ' before ``width`` characters."""
    lines = []
    while len(text) > width:
        cut = max(text.rfind(", ", 0, width), text.rfind("; ", 0, width), text.rfind(": ", 0, width))
        if cut <= 0:
            break
        lines.append(text[: cut + 1])
        text = text[cut + 2:]
    return "\n".join([*lines, text])


def _strategy_label(result: RunResult, label: str | None) -> str:
    return label or result.strategy


def _same_as_benchmark(result: RunResult) -> bool:
    """The growth basket is the benchmark itself (one line is enough)."""
    g = (result.baskets or {}).get("growth") or {}
    return result.benchmark is not None and list(g) == [str(result.benchmark.name)] and g[list(g)[0]] == 1.0


def _bench_name(result: RunResult) -> str:
    return str(result.benchmark.name) if result.benchmark is not None else ""


# -- 1. equity ---------------------------------------------------------------------------------
def equity_figure(result: RunResult, log: bool = True, benchmarks: dict | None = None,
                  color: str | None = None, label: str | None = None):
    """Equity of the strategy and its benchmark (plus any ``benchmarks``: ``{label: value
    series}``, rescaled to the starting cash), log scale by default, rotation episodes shaded.

    Lines, in order: the strategy, the benchmark (if any), then ``benchmarks``."""
    with style():
        fig, ax = new_figure(fixed=True)
        name = _strategy_label(result, label)
        ax.plot(result.equity.index, result.equity.to_numpy(), label=name, lw=1.5,
                color=color or color_of(result.strategy), zorder=3)
        if result.benchmark is not None:
            ax.plot(result.benchmark.index, result.benchmark.to_numpy(), label=f"benchmark {_bench_name(result)}",
                    lw=1.1, color=BENCHMARK_COLOR, zorder=2)
        growth = getattr(result, "growth", None)
        if growth is not None and not _same_as_benchmark(result):
            ax.plot(growth.index, growth.to_numpy(), label=f"holding growth {'+'.join(result.baskets.get('growth', {}))}",
                    lw=1.1, color=GROWTH_COLOR, ls="--", zorder=2, gid="growth")
        start_value = float(result.equity.iloc[0])
        for i, (lab, s) in enumerate((benchmarks or {}).items()):
            s = s.loc[result.equity.index[0]:result.equity.index[-1]].dropna()
            ax.plot(s.index, (s / s.iloc[0] * start_value).to_numpy(), label=lab, lw=1.0,
                    color=plt.get_cmap("Dark2")(i), zorder=2)
        n = _shade_rotations(ax, result, _rotated_label(result))
        if log:
            _log_money_axis(ax)
        else:
            ax.yaxis.set_major_formatter(mticker.FuncFormatter(_money))
        date_axis(ax)
        bench = f" vs benchmark {_bench_name(result)}" if result.benchmark is not None else ""
        if growth is not None and not _same_as_benchmark(result):
            bench += " and holding growth"
        title = _wrap(f"Equity: {name}{bench}, {period_text(result)}")
        ax.set_title(title)
        ax.set_ylabel("portfolio value" + (" (log scale)" if log else ""))
        if n:
            ax.text(0.995, 0.02, f"{n} rotation episodes shaded", transform=ax.transAxes, ha="right",
                    va="bottom", fontsize=9, color="0.3")
        _place(fig, titles=_lines(title), legend_rows=_legend_below(fig, ax))
    return fig


# -- 2. underwater -----------------------------------------------------------------------------
def underwater_figure(result: RunResult, n_worst: int = M.N_WORST_DRAWDOWNS, color: str | None = None,
                      label: str | None = None):
    """Drawdown below the running peak (strategy filled; benchmark as a line) with the
    ``n_worst`` deepest drawdowns shaded from peak to recovery and numbered at their trough.

    ``ax.lines[0]`` is the strategy's drawdown, ``ax.lines[1]`` the benchmark's (if any)."""
    with style():
        fig, ax = new_figure(fixed=True)
        c = color or color_of(result.strategy)
        name = _strategy_label(result, label)
        dd = M.drawdown(result.equity)
        ax.plot(dd.index, dd.to_numpy(), color=c, lw=0.9, label=f"{name} drawdown", zorder=3)
        ax.fill_between(dd.index, dd.to_numpy(), 0.0, color=c, alpha=0.3, lw=0, zorder=2)
        if result.benchmark is not None:
            bdd = M.drawdown(result.benchmark.reindex(result.equity.index).dropna())
            ax.plot(bdd.index, bdd.to_numpy(), color=BENCHMARK_COLOR, lw=0.9, alpha=0.9,
                    label=f"benchmark {_bench_name(result)} drawdown", zorder=2)
        worst = M.worst_drawdowns(result.equity, n_worst)
        first, last = result.equity.index[0], result.equity.index[-1]
        span = (last - first) or pd.Timedelta(days=1)
        lo = min(float(dd.min()), float(bdd.min()) if result.benchmark is not None and len(bdd) else 0.0)
        lo = min(lo, -0.01)
        band = -lo * 0.2  # label band above 0, where there is never data
        ends = [-1.0, -1.0, -1.0]  # right edge (axes fraction) of the last label on each level
        renderer = fig.canvas.get_renderer()
        ax_px = ax.get_window_extent(renderer).width
        for w in sorted(worst, key=lambda w: w["trough"]):
            end = pd.Timestamp(w["recovery"]) if w["recovery"] else last
            ax.axvspan(pd.Timestamp(w["peak"]), end, color=TRIGGER_COLOR, alpha=0.07, lw=0, zorder=0,
                       gid=f"worst-{w['rank']}")
            trough = pd.Timestamp(w["trough"])
            ax.plot([trough], [w["depth"]], marker="v", color=TRIGGER_COLOR, ms=7, ls="none", zorder=4,
                    gid=f"trough-{w['rank']}")
            ax.annotate(f"#{w['rank']}", (trough, w["depth"]), xytext=(0, -9), textcoords="offset points",
                        ha="center", va="top", fontsize=9, fontweight="bold", color=TRIGGER_COLOR, zorder=5)
            rec = f"{w['days']:,} d" if w["recovered"] else f"{w['days']:,} d, open"
            text = f"#{w['rank']} {M.fmt(w['depth'], 'pct')}, {rec}"
            pos = (trough - first) / span
            t = ax.text(trough, 0.0, text, va="bottom", fontsize=8.5, color="0.1", zorder=5,
                        gid=f"label-{w['rank']}")
            width = t.get_window_extent(renderer).width / ax_px  # axes fraction (an overestimate)
            ha, x0 = ("left", pos) if pos < 0.07 else ("right", pos - width) if pos > 0.93 else \
                ("center", pos - width / 2)
            level = next((i for i, e in enumerate(ends) if e < x0 - 0.01), len(ends) - 1)
            ends[level] = x0 + width
            t.set_ha(ha)
            t.set_y(band * (0.08 + 0.3 * level))
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.set_ylim(lo * 1.08, band)
        ticks = mticker.MaxNLocator(8, steps=[1, 2, 2.5, 5, 10]).tick_values(lo * 1.08, 0.0)
        ax.set_yticks([t for t in ticks if lo * 1.08 <= t <= 1e-12])
        ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: f"{v:.0%}"))
        date_axis(ax)
        ax.set_ylabel("below running peak")
        title = _wrap(f"Drawdown (underwater): {name}, {period_text(result)}; {len(worst)} worst marked")
        ax.set_title(title)
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Patch(color=TRIGGER_COLOR, alpha=0.2))
        labels.append(f"{len(worst)} worst, peak to recovery (trading days; open = not recovered)")
        _place(fig, titles=_lines(title), legend_rows=_legend_below(fig, ax, ncols=3, handles=handles, labels=labels))
    return fig


# -- 3. allocation -----------------------------------------------------------------------------
def allocation_frame(result: RunResult) -> pd.DataFrame:
    """End-of-day weights per traded symbol plus ``cash`` (1 - invested, never below 0)."""
    w = result.weights.fillna(0.0).clip(lower=0.0)
    out = w.copy()
    out["cash"] = (1.0 - w.sum(axis=1)).clip(lower=0.0)
    return out


def allocation_figure(result: RunResult, label: str | None = None):
    """Stacked area of the end-of-day weights (symbols bottom-up in result order, cash on top).

    ``ax.lines[i]`` is the top edge of layer ``i`` (cumulative weight), labelled by symbol."""
    with style():
        fig, ax = new_figure(fixed=True)
        frame = allocation_frame(result)
        colors = symbol_colors(result.weights.columns)
        colors["cash"] = CASH_COLOR
        bottom = np.zeros(len(frame))
        x = frame.index
        for col in frame.columns:
            top = bottom + frame[col].to_numpy()
            ax.fill_between(x, bottom, top, color=colors[col], lw=0, step="post",
                            label=col if col != "cash" else "cash (incl. cost buffer)")
            ax.plot(x, top, color=mcolors.to_rgba("0.2", 0.5), lw=0.4, drawstyle="steps-post", label=f"_{col}",
                    gid=col)
            bottom = top
        ax.set_ylim(0, 1.0)
        pct_axis(ax)
        date_axis(ax)
        ax.set_ylabel("weight of portfolio value")
        title = _wrap(f"Allocation over time: {_strategy_label(result, label)}, end-of-day weights, "
                      f"{period_text(result)}")
        ax.set_title(title)
        _place(fig, titles=_lines(title), legend_rows=_legend_below(fig, ax, ncols=min(len(frame.columns), 6)))
    return fig


# -- 4. signal ---------------------------------------------------------------------------------
def _legs(result: RunResult):
    info = result.signal_info or {}
    legs = info.get("legs") or []
    return legs if len(legs) == 2 else None


def relative_strength(result: RunResult) -> pd.Series | None:
    """The rule's first signal leg / its second (e.g. Dow / Nasdaq), rebased to 1 on the first
    date, from ``result.closes`` (None when the rule names no two legs or the closes lack them)."""
    legs = _legs(result)
    closes = getattr(result, "closes", None)
    if legs is None or closes is None or any(s not in closes for s in legs):
        return None
    a, b = legs
    c = closes[[a, b]].loc[result.equity.index[0]:result.equity.index[-1]].dropna()
    if not len(c):
        return None
    rs = c[a] / c[b]
    return (rs / rs.iloc[0]).rename(f"{a}/{b}")


def trigger_dates(result: RunResult) -> pd.DatetimeIndex:
    """Closes at which a rotation began (the state turned 'rotated')."""
    return pd.DatetimeIndex(M.rotation_episodes(result)["start"])


def signal_figure(result: RunResult, label: str | None = None):
    """The signal, labelled with the rule's own names (``result.signal_info``): the relative
    strength of its two signal legs (top, when it names two) and the logged spread with its
    entry (and exit) thresholds, the days the trigger condition held (dots) and the rotation
    entries (triangles); rotated episodes shaded. Rules without rotation states get the signal
    with the days their condition held shaded. None for rules without a signal log.

    Spread axis: ``lines`` labelled ``spread``; relative strength axis: ``relative strength``."""
    sig = result.signals
    if sig is None or not len(sig) or "spread" not in sig:
        return None
    sig = sig[sig["state"] != "warmup"] if "state" in sig else sig
    if not len(sig):
        return None
    info = result.signal_info or {}
    rs = relative_strength(result)
    rotating = ("state" in sig and bool((sig["state"] == "rotated").any())) or bool(result.baskets.get("rotation"))
    legs = _legs(result)
    names = info.get("leg_names") or legs or []
    with style():
        if rs is not None:
            fig, (ax_rs, ax) = new_figure(2, 1, sharex=True, height_ratios=[1, 1.25], fixed=True)
        else:
            fig, ax = new_figure(fixed=True)
            ax_rs = None
        name = _strategy_label(result, label)
        if ax_rs is not None:
            ax_rs.plot(rs.index, rs.to_numpy(), color="#3a3a3a", lw=1.0, label="relative strength")
            _shade_rotations(ax_rs, result)
            ax_rs.axhline(1.0, color="0.6", lw=0.8)
            ax_rs.yaxis.set_major_formatter(mticker.FormatStrFormatter("%.2f"))
            ax_rs.set_ylabel(f"{rs.name}\n(rebased to 1)")
            lead = f"{names[0]} vs {names[1]}" if len(names) == 2 else rs.name
            first = names[0] if names else legs[0]
            ax_rs.set_title(f"{lead} relative strength ({rs.name}; rising = {first} leads)", loc="left",
                            fontsize=11)
        spread = sig["spread"].astype(float)
        ax.plot(spread.index, spread.to_numpy(), color=color_of(result.strategy), lw=0.6 if rotating else 1.3,
                label="spread")
        ax.axhline(0.0, color="0.3", lw=0.8)
        th = info.get("threshold")
        if th is not None and rotating:
            ax.axhline(th, color=TRIGGER_COLOR, lw=1.0, ls="--", label=f"entry threshold {M.fmt(th, 'pct')}")
        ex = info.get("exit_threshold")
        if ex is not None and rotating:
            ax.axhline(ex, color="0.4", lw=1.0, ls=":", label=f"exit threshold {M.fmt(ex, 'pct')}")
        on = sig["triggered"].astype(bool) if "triggered" in sig else pd.Series(False, index=sig.index)
        fired = sig.index[on]
        what = info.get("label") or "signal"
        if rotating:
            ax.plot(fired, spread.reindex(fired).to_numpy(), ls="none", marker=".", ms=3.5, color=TRIGGER_COLOR,
                    alpha=0.6, label="trigger condition met", gid="triggered")
            entries = trigger_dates(result)
            entries = entries[entries.isin(spread.index)]
            ax.plot(entries, spread.reindex(entries).to_numpy(), ls="none", marker="^", ms=8, color=TRIGGER_COLOR,
                    markeredgecolor="black", markeredgewidth=0.6, label="rotation entry", gid="entries")
            _shade_rotations(ax, result, _rotated_label(result))
            ax.set_ylabel(_wrap(what, 28))
            ax.set_title(f"Spread: {what}; {len(fired)} trigger days, {len(entries)} rotations", loc="left",
                         fontsize=11)
        else:
            run_id = (on != on.shift()).cumsum()
            first_block = True
            for _, block in on.groupby(run_id):
                if block.iloc[0]:
                    end = sig.index[min(sig.index.get_loc(block.index[-1]) + 1, len(sig) - 1)]
                    ax.axvspan(block.index[0], end, color=ROTATED_COLOR, alpha=0.25, lw=0, zorder=0,
                               label=f"condition met ({len(fired)} days)" if first_block else None, gid="condition")
                    first_block = False
            ax.set_ylabel(_wrap(what, 28))
            states = ", ".join(f"{k} {v:,}" for k, v in sig["state"].value_counts().items()) if "state" in sig else ""
            ax.set_title(f"Signal logged by the rule; days by state: {states}", loc="left", fontsize=11)
        pct_axis(ax)
        date_axis(ax)
        title = _wrap(f"Signal: {name}, {period_text(result)}")
        fig.suptitle(title, fontsize=13, fontweight="bold", y=1 - EDGE / fig.get_figheight(), va="top")
        two_line = max(_lines(a.get_ylabel()) for a in fig.axes) > 1
        _place(fig, titles=_lines(title), legend_rows=_legend_below(fig, ax, ncols=5), panels=True,
               left=1.0 if two_line else 0.8, gap=PANEL_LINE + 0.18)
    return fig


# -- 5. rolling --------------------------------------------------------------------------------
def fit_window(n_returns: int, window: int = M.PERIODS) -> int:
    """``window``, or a shorter one (3 months, then a third of the data) when the period is too
    short for the rolling lines to show anything."""
    for w in (window, 63):
        if n_returns >= w * 1.5:
            return w
    return max(2, n_returns // 3)


def _rolling_axes(ax1, ax2, window: int) -> int:
    """Zero lines, date and percent axes and labels of the rolling return / Sharpe panels;
    returns the window in months."""
    for ax in (ax1, ax2):
        ax.axhline(0.0, color="0.3", lw=0.8)
        date_axis(ax)
    pct_axis(ax1)
    months = max(1, round(window / 21))
    ax1.set_ylabel(f"{months}-month return")
    ax2.set_ylabel(f"{months}-month Sharpe")
    return months


def rolling_figure(result: RunResult, window: int = M.PERIODS, color: str | None = None,
                   label: str | None = None):
    """Rolling ``window``-day (12-month) compounded return (top) and Sharpe ratio (bottom,
    empyrical's roll_sharpe_ratio), strategy vs benchmark. In each axis ``lines[0]`` is the
    strategy, ``lines[1]`` the benchmark."""
    r = M.strategy_returns(result)
    b = M.benchmark_returns(result)
    name = _strategy_label(result, label)
    c = color or color_of(result.strategy)
    window = fit_window(len(r), window)
    with style():
        fig, (ax1, ax2) = new_figure(2, 1, sharex=True, fixed=True)
        ax1.plot(r.index, M.rolling_return(r, window).to_numpy(), color=c, lw=1.2, label=name)
        ax2.plot(r.index, M.rolling_sharpe(r, window).to_numpy(), color=c, lw=1.2, label=name)
        if b is not None:
            bl = f"benchmark {_bench_name(result)}"
            ax1.plot(b.index, M.rolling_return(b, window).to_numpy(), color=BENCHMARK_COLOR, lw=1.0, label=bl)
            ax2.plot(b.index, M.rolling_sharpe(b, window).to_numpy(), color=BENCHMARK_COLOR, lw=1.0, label=bl)
        months = _rolling_axes(ax1, ax2, window)
        vs = f" vs benchmark {_bench_name(result)}" if b is not None else ""
        title = _wrap(f"Rolling {months}-month return and Sharpe: {name}{vs}, {period_text(result)}")
        fig.suptitle(title, fontsize=13, fontweight="bold", y=1 - EDGE / fig.get_figheight(), va="top")
        ax1.set_title(f"Return over the trailing {window} trading days", loc="left", fontsize=11)
        ax2.set_title(f"Sharpe ratio over the trailing {window} trading days (annualised, risk-free 0)",
                      loc="left", fontsize=11)
        ax2.set_xlim(result.equity.index[0], result.equity.index[-1])
        _place(fig, titles=_lines(title), legend_rows=_legend_below(fig, ax1), panels=True, gap=PANEL_LINE + 0.18)
    return fig


def rolling_beta_figure(result: RunResult, color: str | None = None, label: str | None = None):
    """Rolling beta (top) and correlation (bottom) of the rule's daily returns to the benchmark's,
    over each of :data:`reports.metrics.ROLLING_WINDOWS` (:func:`reports.metrics.rolling_relative`);
    the summary numbers are the tear sheet's. In each axis ``lines[i]`` is window ``i``, labelled
    ``<w> days``. None without a benchmark."""
    b = M.benchmark_returns(result)
    if b is None:
        return None
    r = M.strategy_returns(result)
    roll = M.rolling_relative(r, b)
    name = _strategy_label(result, label)
    c = color or color_of(result.strategy)
    windows = M.ROLLING_WINDOWS
    with style():
        fig, (ax1, ax2) = new_figure(2, 1, sharex=True, fixed=True)
        for i, w in enumerate(windows):
            last = i == len(windows) - 1
            kw = {"color": c, "lw": 1.3 if last else 0.9, "alpha": 1.0 if last else 0.5,
                  "label": f"{w} days (about {round(w / 21)} months)"}
            ax1.plot(roll.index, roll[f"beta_{w}"].to_numpy(), **kw)
            ax2.plot(roll.index, roll[f"correlation_{w}"].to_numpy(), **kw)
        ax1.axhline(1.0, color="0.5", lw=0.8, ls=":")
        ax1.axhline(0.0, color="0.3", lw=0.8)
        ax2.axhline(0.0, color="0.3", lw=0.8)
        ax2.set_ylim(min(-0.05, float(np.nanmin(roll.filter(like="correlation").to_numpy(), initial=0.0)) - 0.05),
                     1.02)
        for ax in (ax1, ax2):
            date_axis(ax)
        ax1.set_ylabel("beta")
        ax2.set_ylabel("correlation")
        ax1.set_title(f"Beta to benchmark {_bench_name(result)} (covariance / benchmark variance)", loc="left",
                      fontsize=11)
        ax2.set_title("Correlation of daily returns (Pearson)", loc="left", fontsize=11)
        ax2.set_xlim(result.equity.index[0], result.equity.index[-1])
        title = _wrap(f"Rolling beta and correlation: {name} vs benchmark {_bench_name(result)}, {period_text(result)}")
        fig.suptitle(title, fontsize=13, fontweight="bold", y=1 - EDGE / fig.get_figheight(), va="top")
        _place(fig, titles=_lines(title), legend_rows=_legend_below(fig, ax1), panels=True, gap=PANEL_LINE + 0.18)
    return fig


# -- 6. monthly --------------------------------------------------------------------------------
def monthly_figure(result: RunResult, label: str | None = None, color: str | None = None):
    """Monthly returns heatmap (years down, months across; the image array is
    :func:`reports.metrics.monthly_returns`) beside yearly returns bars (strategy, benchmark)."""
    r = M.strategy_returns(result)
    table = M.monthly_returns(r)
    yearly = M.yearly_returns(r)
    b = M.benchmark_returns(result)
    name = _strategy_label(result, label)
    with style():
        fig, (ax, axb) = new_figure(1, 2, width_ratios=[2.3, 1], sharey=True, fixed=True)
        vals = table.to_numpy(dtype=float)
        lim = float(np.nanmax(np.abs(vals))) if np.isfinite(vals).any() else 0.1
        lim = max(lim, 0.01)
        im = ax.imshow(np.ma.masked_invalid(vals), cmap="RdYlGn", norm=mcolors.TwoSlopeNorm(0.0, -lim, lim),
                       aspect="auto", interpolation="nearest")
        n_years = len(table)
        fs = 8 if n_years <= 22 else 7 if n_years <= 30 else 0
        if fs:
            for i in range(vals.shape[0]):
                for j in range(vals.shape[1]):
                    v = vals[i, j]
                    if np.isfinite(v):
                        ax.text(j, i, f"{v * 100:.1f}" if abs(v) >= 0.0005 else "0.0", ha="center", va="center",
                                fontsize=fs,
                                color="black" if abs(v) < 0.6 * lim else "white")
        ax.set_xticks(range(12), MONTHS)
        ax.set_yticks(range(n_years), [str(y) for y in table.index])
        ax.tick_params(axis="y", labelsize=9 if n_years <= 22 else 8)
        ax.grid(False)
        ax.tick_params(axis="x", top=True, labeltop=True, bottom=False, labelbottom=False)
        ax.set_title("Monthly returns (%)", fontsize=11, loc="left")
        y = np.arange(n_years)
        h = 0.38 if b is not None else 0.7
        axb.barh(y - (h / 2 if b is not None else 0), yearly.reindex(table.index).to_numpy(), height=h,
                 color=color or color_of(result.strategy), label=name, gid="yearly")
        if b is not None:
            by = M.yearly_returns(b).reindex(table.index)
            axb.barh(y + h / 2, by.to_numpy(), height=h, color=BENCHMARK_COLOR, alpha=0.8,
                     label=f"benchmark {_bench_name(result)}", gid="yearly-benchmark")
        axb.axvline(0, color="0.3", lw=0.8)
        pct_axis(axb, axis="x")
        axb.grid(axis="y", visible=False)
        axb.set_title("Yearly returns", fontsize=11, loc="left")
        axb.tick_params(axis="y", left=False)
        fig.colorbar(im, ax=axb, fraction=0.05, pad=0.02, format=mticker.PercentFormatter(1.0, 0),
                     label="monthly return")
        part = []
        d0, d1 = result.equity.index[0], result.equity.index[-1]
        if len(r):
            if d0.month != 1 or d0.day > 7:
                part.append(f"{d0.year} from {d0:%b %d}")
            if d1.month != 12 or d1.day < 24:
                part.append(f"{d1.year} to {d1:%b %d}")
        note = f" (partial years: {', '.join(part)})" if part else ""
        title = _wrap(f"Monthly and yearly returns: {name}, {period_text(result)}{note}")
        fig.suptitle(title, fontsize=13, fontweight="bold", y=1 - EDGE / fig.get_figheight(), va="top")
        _place(fig, titles=_lines(title), legend_rows=_legend_below(fig, axb, ncols=2), panels=True, left=0.55,
               right=0.85, gap=0.2, top_extra=0.22)  # the months above the table
    return fig


# -- 7. comparisons ----------------------------------------------------------------------------
def _colors(results: dict, colors: dict | None) -> dict:
    return colors or strategy_colors((lab, r.strategy) for lab, r in results.items())


def _common_period(results: dict) -> str:
    first = min(r.equity.index[0] for r in results.values())
    last = max(r.equity.index[-1] for r in results.values())
    return f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"


def comparison_equity_figure(results: dict, colors: dict | None = None, log: bool = True,
                             show_benchmark: bool = True, shade: str | None = None):
    """Every strategy's equity curve (``{label: RunResult}``, lines in that order), then the
    benchmark of the first result (if ``show_benchmark``); rotation episodes of ``shade`` (a
    label) shaded."""
    colors = _colors(results, colors)
    with style():
        fig, ax = new_figure()
        for lab, r in results.items():
            ax.plot(r.equity.index, r.equity.to_numpy(), lw=1.3, color=colors[lab], label=lab)
        first = next(iter(results.values()))
        if show_benchmark and first.benchmark is not None:
            ax.plot(first.benchmark.index, first.benchmark.to_numpy(), lw=1.0, color=BENCHMARK_COLOR,
                    label=f"benchmark {_bench_name(first)} (no costs)")
        if shade is not None and shade in results:
            _shade_rotations(ax, results[shade], f"{shade}: {_rotated_label(results[shade])}")
        if log:
            _log_money_axis(ax)
        date_axis(ax)
        ax.set_ylabel("portfolio value" + (" (log scale)" if log else ""))
        ax.set_title(_wrap(f"Equity of {len(results)} strategies on the same data and costs, "
                           f"{_common_period(results)}"))
        _legend_below(fig, ax)
    return fig


def comparison_drawdown_figure(results: dict, colors: dict | None = None):
    """Every strategy's drawdown below its running peak (lines in ``results`` order)."""
    colors = _colors(results, colors)
    with style():
        fig, ax = new_figure()
        for lab, r in results.items():
            dd = M.drawdown(r.equity)
            ax.plot(dd.index, dd.to_numpy(), lw=1.0, color=colors[lab], label=lab)
        pct_axis(ax)
        date_axis(ax)
        ax.set_ylabel("below running peak")
        ax.set_title(f"Drawdowns of {len(results)} strategies, {_common_period(results)}")
        _legend_below(fig, ax)
    return fig


def comparison_rolling_figure(results: dict, colors: dict | None = None, window: int = M.PERIODS):
    """Rolling ``window``-day return (top) and Sharpe (bottom) of every strategy (lines in
    ``results`` order in each axis)."""
    colors = _colors(results, colors)
    window = fit_window(min(len(r.equity) - 1 for r in results.values()), window)
    with style():
        fig, (ax1, ax2) = new_figure(2, 1, sharex=True)
        for lab, res in results.items():
            r = M.strategy_returns(res)
            ax1.plot(r.index, M.rolling_return(r, window).to_numpy(), lw=1.1, color=colors[lab], label=lab)
            ax2.plot(r.index, M.rolling_sharpe(r, window).to_numpy(), lw=1.1, color=colors[lab], label=lab)
        months = _rolling_axes(ax1, ax2, window)
        ax1.set_title(f"Return over the trailing {window} trading days", loc="left", fontsize=11)
        ax2.set_title(f"Sharpe ratio over the trailing {window} trading days (annualised, risk-free 0)",
                      loc="left", fontsize=11)
        first = next(iter(results.values()))
        ax2.set_xlim(first.equity.index[0], first.equity.index[-1])
        fig.suptitle(_wrap(f"Rolling {months}-month return and Sharpe of {len(results)} strategies, "
                           f"{_common_period(results)}"), fontsize=13, fontweight="bold")
        _legend_below(fig, ax1)
    return fig


def comparison_yearly_figure(results: dict, colors: dict | None = None):
    """Calendar-year returns, one bar group per year, one bar per strategy (``ax.containers``
    in ``results`` order)."""
    colors = _colors(results, colors)
    yearly = {lab: M.yearly_returns(M.strategy_returns(r)) for lab, r in results.items()}
    years = sorted(set().union(*(y.index for y in yearly.values())))
    with style():
        fig, ax = new_figure()
        k = len(yearly)
        width = 0.8 / max(k, 1)
        x = np.arange(len(years))
        for i, (lab, y) in enumerate(yearly.items()):
            ax.bar(x - 0.4 + width * (i + 0.5), y.reindex(years).to_numpy(), width=width, color=colors[lab],
                   label=lab)
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_xticks(x, [str(y) for y in years], rotation=45 if len(years) > 14 else 0)
        ax.set_xlim(-0.6, len(years) - 0.4)
        ax.grid(axis="x", visible=False)
        pct_axis(ax)
        ax.set_ylabel("calendar-year return")
        ax.set_title(_wrap(f"Yearly returns of {k} strategies, {_common_period(results)}"))
        _legend_below(fig, ax)
    return fig


def metrics_table_figure(metrics: dict, colors: dict | None = None, benchmark: tuple | None = None,
                         title: str = "Metrics", note: str | None = None, rows=None):
    """One table of metrics: a column per strategy (``{label: compute_metrics()["metrics"]}``),
    plus a ``benchmark`` column (``(label, benchmark metrics)``) if given. Cells are formatted
    with :func:`reports.metrics.fmt` ("-" where a metric does not apply); header cells are colored
    like the strategies' lines. The table is ``fig.axes[0].tables[0]``."""
    rows = rows or M.METRIC_ROWS
    cols = list(metrics)
    rows = [row for row in rows if any(row[0] in metrics[c] for c in cols)]  # e.g. no benchmark: no beta
    headers = cols + ([benchmark[0]] if benchmark is not None else [])
    cells = []
    for key, lab, kind in rows:
        line = [lab] + [M.fmt(metrics[c].get(key), kind) if key in metrics[c] else "-" for c in cols]
        if benchmark is not None:
            line.append(M.fmt(benchmark[1].get(key), kind) if key in benchmark[1] else "-")
        cells.append(line)
    with style():
        fig = blank_figure()
        W, H = FIGSIZE
        fig.text(0.4 / W, 1 - 0.3 / H, _wrap(title, 100), fontsize=15, fontweight="bold", va="top")
        if note:
            fig.text(0.4 / W, 1 - 0.72 / H, note, fontsize=9.5, va="top", color="0.3")
        ax = fig.add_axes([0.4 / W, 0.3 / H, 1 - 0.8 / W, (H - 1.35) / H])
        ax.axis("off")
        label_w = 0.34 if len(headers) <= 4 else 0.27
        col_w = (1 - label_w) / max(len(headers), 1)
        multiline = any(len(h) > col_w * 11.2 * 72 / (9 * 0.62) for h in headers)
        shown = [_wrap_header(h, col_w) for h in headers] if multiline else headers
        table = ax.table(cellText=cells, colLabels=["metric"] + shown, cellLoc="center", colLoc="center",
                         colWidths=[label_w] + [col_w] * len(headers), bbox=[0.0, 0.0, 1.0, 1.0])
        table.auto_set_font_size(False)
        fs = 10 if len(headers) <= 4 else 9 if len(headers) <= 6 else 8
        table.set_fontsize(fs)
        colmap = colors or {}
        for (i, j), cell in table.get_celld().items():
            cell.set_edgecolor("0.85")
            text = cell.get_text()
            if i == 0:
                if j == 0:
                    c = "0.3"
                elif benchmark is not None and j == len(headers):
                    c = BENCHMARK_COLOR
                else:
                    c = colmap.get(headers[j - 1], "0.3")
                cell.set_facecolor(c)
                text.set_color("white")
                text.set_fontweight("bold")
                if multiline:
                    text.set_fontsize(min(fs - 1, 8.0))
                    n_lines = max(h.count("\n") + 1 for h in shown)
                    cell.set_height(cell.get_height() * (1 + 0.85 * (n_lines - 1)))
            elif i % 2 == 0:
                cell.set_facecolor("#f4f4f4")
            if j == 0:
                text.set_ha("left")
                cell._loc = "left"
                cell.PAD = 0.03
    return fig


def _wrap_header(text: str, col_w: float) -> str:
    """Up to four lines, broken at spaces and then at '_' (long registry keys)."""
    import textwrap
    chars = max(int(col_w * 11.2 * 72 / (8.0 * 0.66)), 8)  # bold 8 pt (DejaVu Sans)
    words = re.sub(r"_", "_\u200b", text).replace("\u200b", " \u200b").split(" ")
    lines, line = [], ""
    for w in words:
        w = w.replace("\u200b", "")
        joiner = "" if line.endswith("_") or not line else " "
        if line and len(line) + len(joiner) + len(w) > chars:
            lines.append(line)
            line = w
        else:
            line = line + joiner + w
    lines.append(line)
    return "\n".join(textwrap.shorten(x, chars + 4) if len(x) > chars + 4 else x for x in lines[:4])
