"""Walk-forward outputs: walkforward.csv, oos_equity.csv, walkforward.json, a figure and report.pdf."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from reports import pdf as P  # noqa: E402
from reports.style import png_bytes  # noqa: E402
from reports.style import BENCHMARK_COLOR, FIGSIZE, color_of, date_axis, new_figure, style  # noqa: E402
from rotationlab.outdir import as_folder  # noqa: E402
from rotationlab.results import dump_json  # noqa: E402


def equity_curves(wf) -> dict:
    """Growth of 1 over the out-of-sample span: walk-forward, hindsight best, benchmark."""
    idx = wf.oos_returns.index
    out = {"walk-forward (chosen in-sample)": (1 + wf.oos_returns).cumprod()}
    best = wf.summary["hindsight_best"]["combination"]
    out[f"hindsight best: {best}"] = (1 + wf.trial_returns[best].reindex(idx).fillna(0.0)).cumprod()
    if wf.benchmark_returns is not None:
        out["benchmark"] = (1 + wf.benchmark_returns).cumprod()
    return out


def draw_equity(ax, wf, strategy: str, fontsize: float = 9.0) -> None:
    """Growth of 1 out-of-sample (log scale): walk-forward, hindsight best, benchmark; window starts marked."""
    from reports.figures import _log_money_axis
    s = wf.summary
    colors = [color_of(strategy), "#ff7f0e", BENCHMARK_COLOR]
    for (label, curve), c in zip(equity_curves(wf).items(), colors):
        ax.plot(curve.index, curve.to_numpy(), label=label, color=c, lw=1.6 if "walk" in label else 1.1,
                ls="-" if "hindsight" not in label else "--", gid=f"curve:{label}")
    for w in wf.windows["oos_start"]:
        ax.axvline(w, color="0.8", lw=0.6)
    _log_money_axis(ax)
    ax.set_ylabel("growth of 1 (log)")
    ax.set_title(f"Walk-forward, {s['scheme']} {s['is_years']:g}y in-sample / {s['oos_years']:g}y out-of-sample, "
                 f"{s['oos']['from']} to {s['oos']['to']}", loc="left", fontsize=fontsize + 2.5)
    ax.legend(loc="upper left", fontsize=fontsize)
    date_axis(ax)


def draw_windows(ax, wf, strategy: str, fontsize: float = 8.5, legend_cols: int = 3) -> None:
    """Per window: in-sample objective of the chosen combination, its out-of-sample objective and
    the out-of-sample median of every combination."""
    s = wf.summary
    x = np.arange(len(wf.windows))
    ax.bar(x - 0.2, wf.windows["is_objective"], 0.4, label=f"in-sample {s['objective']} of the chosen",
           color="#9ecae1", gid="is_bars")
    ax.bar(x + 0.2, wf.windows["oos_objective"], 0.4, label=f"out-of-sample {s['objective']}",
           color=color_of(strategy), gid="oos_bars")
    ax.plot(x, wf.windows["oos_median_objective"], "k_", ms=18, mew=2,
            label="out-of-sample median of all combinations", gid="oos_median")
    ax.axhline(0, color="0.3", lw=0.7)
    ax.set_xticks(x, [f"{d:%Y-%m}" for d in wf.windows["oos_start"]], fontsize=fontsize,
                  rotation=0 if len(x) <= 8 else 45)
    ax.set_xlabel("out-of-sample window start")
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper left", fontsize=fontsize, ncols=legend_cols)


def walkforward_figure(wf, strategy: str):
    """walkforward.png: the out-of-sample equity over the objective by window."""
    with style():
        fig, (ax1, ax2) = new_figure(2, 1, gridspec_kw={"height_ratios": [2, 1.2]})
        draw_equity(ax1, wf, strategy)
        draw_windows(ax2, wf, strategy)
    return fig


WINDOWS_HEADER = ["#", "in-sample from", "out-of-sample", "chosen", "IS", "OOS", "OOS median", "OOS rank",
                  "OOS return"]


def window_rows(wf) -> list[list[str]]:
    """One row per window (walkforward.csv): dates, the chosen combination, its in-sample and
    out-of-sample objective, the out-of-sample median and rank, the out-of-sample return."""
    n = wf.summary["n_combinations"]
    return [[str(r.window), f"{r.is_start:%Y-%m-%d}", f"{r.oos_start:%Y-%m-%d} to {r.oos_end:%Y-%m-%d}", r.chosen,
             f"{r.is_objective:.2f}", f"{r.oos_objective:.2f}", f"{r.oos_median_objective:.2f}",
             f"{r.oos_rank_of_chosen}/{n}", f"{r.oos_return:.2%}"] for r in wf.windows.itertuples()]


def summary_line(s: dict) -> str:
    return (f"objective {s['objective']}; {s['n_combinations']} combinations; out-of-sample CAGR "
            f"{s['oos']['cagr']:.2%}, Sharpe {s['oos']['sharpe']:.2f}"
            + (f" (benchmark {s['oos']['benchmark_cagr']:.2%}, {s['oos']['benchmark_sharpe']:.2f})"
               if "benchmark_cagr" in s["oos"] else ""))


def summary_note(s: dict) -> str:
    return (f"Mean {s['objective']} of the chosen combination: in-sample {s['mean_is_objective_of_chosen']:.2f}, "
            f"out-of-sample {s['mean_oos_objective_of_chosen']:.2f} (median combination out-of-sample "
            f"{s['mean_oos_median_objective']:.2f}). Hindsight best {s['hindsight_best']['combination']}: "
            f"CAGR {s['hindsight_best']['cagr_over_oos']:.2%} over the same span. {s['note'][0].upper()}"
            f"{s['note'][1:]}.")


#: Windows up to this many share a page with the charts; more get a page of their own.
WINDOWS_WITH_CHARTS = 10


def windows_page(wf, strategy: str):
    """The windows table and, below it (up to :data:`WINDOWS_WITH_CHARTS` windows), the
    out-of-sample equity beside the objective by window; else the table alone."""
    W, H = FIGSIZE
    s = wf.summary
    rows = window_rows(wf)
    with_charts = len(rows) <= WINDOWS_WITH_CHARTS
    with style():
        fig = P._page(f"Walk-forward windows: {strategy}", summary_line(s))
        row_h = 0.24 if with_charts else min(0.26, (H - 2.2) / (len(rows) + 1))
        bottom = P._at(fig, 0.4, 1.25, W - 0.8, WINDOWS_HEADER, rows, [0.3, 1.1, 2.1, 3.2, 0.6, 0.6, 0.9, 0.8, 1.0],
                       ["right", "left", "left", "left"] + ["right"] * 5, row_h=row_h, fontsize=8.5,
                       gid="windows_table")
        note = P.Column(fig, 0.4, H - bottom - 0.1, W - 0.8, 0.2)
        note.para(summary_note(s), size=8.3, color="0.3")
        if with_charts:
            top = H - note.y + 0.45  # inches from the top where the charts start
            height = H - top - 0.55
            ax1 = fig.add_axes([0.85 / W, 0.55 / H, 6.55 / W, height / H])
            ax2 = fig.add_axes([8.05 / W, 0.55 / H, (W - 8.05 - 0.3) / W, height / H])
            draw_equity(ax1, wf, strategy, fontsize=8)
            ax1.set_title("Out-of-sample growth of 1 (window starts: vertical lines)", loc="left", fontsize=10.5)
            draw_windows(ax2, wf, strategy, fontsize=7.5, legend_cols=1)
            ax2.set_title(f"{s['objective']} by window", loc="left", fontsize=10.5)
            lo, hi = ax2.get_ylim()
            ax2.set_ylim(lo, hi + (hi - lo) * 0.45)  # room for the legend above the bars
    return fig


def cover_page(wf, strategy: str, rule: str):
    """Rule, method, grid and headline numbers on the left; data provenance and versions on the right."""
    s = wf.summary
    oos = s["oos"]
    W, H = FIGSIZE
    with style():
        fig = P._page(f"Walk-forward: {strategy}", "Choose parameters in-sample, trade them out-of-sample")
        left = P.Column(fig, 0.4, H - 1.0, 5.6, 0.5)
        left.heading("The rule")
        left.para(rule, size=11)
        left.heading("Method")
        note = s["note"]
        left.para(note[0].upper() + note[1:] + ".", size=10)
        left.heading("Headline")
        bench = "benchmark_cagr" in oos
        left.kv([("scheme", f"{s['scheme']}, {s['is_years']:g} years in-sample / {s['oos_years']:g} out-of-sample, "
                            f"{s['n_windows']} windows"),
                 ("out-of-sample", f"{oos['from']} to {oos['to']}"),
                 ("CAGR", f"{oos['cagr']:.2%}" + (f" (benchmark {oos['benchmark_cagr']:.2%})" if bench else "")),
                 ("Sharpe", f"{oos['sharpe']:.2f}" + (f" (benchmark {oos['benchmark_sharpe']:.2f})" if bench else "")),
                 ("hindsight best", f"{s['hindsight_best']['combination']}: CAGR "
                                    f"{s['hindsight_best']['cagr_over_oos']:.2%}"),
                 (f"mean {s['objective']}", f"chosen in-sample {s['mean_is_objective_of_chosen']:.2f}, out-of-sample "
                                           f"{s['mean_oos_objective_of_chosen']:.2f}; median combination "
                                           f"out-of-sample {s['mean_oos_median_objective']:.2f}")], size=9.5)
        left.heading("Grid")
        left.para(", ".join(wf.trial_returns.columns), size=8.5)
        right = P.Column(fig, 6.35, H - 1.0, W - 6.35 - 0.4, 0.5)
        run = s.get("run") or {}
        if run.get("provenance"):
            right.heading("Data provenance")
            P.provenance_block(right, run["provenance"], 0.9)
        if run.get("versions"):
            right.gap(0.1)
            right.para("Versions: " + P.versions_text(run["versions"]), size=8, color="0.2")
        P._footer(fig, "Rotation Lab walk-forward. Numbers are the values of walkforward.json and walkforward.csv in "
                       "the same folder.")
    return fig


def write_walkforward(wf, out, strategy: str, rule: str, pdf: bool = True, html: bool = True) -> Path:
    folder = as_folder(out)
    out = folder.path
    folder.write_text("walkforward.csv", wf.windows.to_csv(index=False, date_format="%Y-%m-%d",
                                                               lineterminator="\n"))
    eq = pd.DataFrame(equity_curves(wf)).rename_axis("date")
    folder.write_text("oos_equity.csv", eq.to_csv(date_format="%Y-%m-%d", lineterminator="\n"))
    folder.write_text("walkforward.json", dump_json(wf.summary))
    fig = walkforward_figure(wf, strategy)
    folder.write_bytes("walkforward.png", png_bytes(fig))
    if pdf:
        pages = [cover_page(wf, strategy, rule), windows_page(wf, strategy)]
        if len(wf.windows) > WINDOWS_WITH_CHARTS:
            pages.append(fig)
        folder.write_bytes("report.pdf", P.pdf_bytes(pages, title=f"Rotation Lab walk-forward: {strategy}"))
    plt.close(fig)
    if html:
        try:
            from reports.html import walkforward_html
        except ImportError:
            walkforward_html = None
        if walkforward_html is not None:
            folder.write_text("report.html", walkforward_html(wf, strategy, rule))
    return out
