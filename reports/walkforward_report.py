"""Walk-forward outputs: walkforward.csv, oos_equity.csv, walkforward.json, a figure and report.pdf."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from reports import pdf as P  # noqa: E402
from reports.build import png_bytes  # noqa: E402
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


def walkforward_figure(wf, strategy: str):
    s = wf.summary
    with style():
        fig, (ax1, ax2) = new_figure(2, 1, gridspec_kw={"height_ratios": [2, 1.2]})
        colors = [color_of(strategy), "#ff7f0e", BENCHMARK_COLOR]
        for (label, curve), c in zip(equity_curves(wf).items(), colors):
            ax1.plot(curve.index, curve.to_numpy(), label=label, color=c, lw=1.6 if "walk" in label else 1.1,
                     ls="-" if "hindsight" not in label else "--", gid=f"curve:{label}")
        for w in wf.windows["oos_start"]:
            ax1.axvline(w, color="0.8", lw=0.6)
        ax1.set_yscale("log")
        ax1.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax1.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax1.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax1.set_ylabel("growth of 1 (log)")
        ax1.set_title(f"Walk-forward, {s['scheme']} {s['is_years']:g}y in-sample / {s['oos_years']:g}y out-of-sample, "
                      f"{s['oos']['from']} to {s['oos']['to']}", loc="left")
        ax1.legend(loc="upper left", fontsize=9)
        date_axis(ax1)
        x = np.arange(len(wf.windows))
        ax2.bar(x - 0.2, wf.windows["is_objective"], 0.4, label=f"in-sample {s['objective']} of the chosen",
                color="#9ecae1", gid="is_bars")
        ax2.bar(x + 0.2, wf.windows["oos_objective"], 0.4, label=f"out-of-sample {s['objective']}",
                color=color_of(strategy), gid="oos_bars")
        ax2.plot(x, wf.windows["oos_median_objective"], "k_", ms=18, mew=2,
                 label="out-of-sample median of all combinations", gid="oos_median")
        ax2.axhline(0, color="0.3", lw=0.7)
        ax2.set_xticks(x, [f"{d:%Y-%m}" for d in wf.windows["oos_start"]], fontsize=9)
        ax2.set_xlabel("out-of-sample window start")
        ax2.legend(loc="upper left", fontsize=8.5, ncols=3)
    return fig


def windows_page(wf, strategy: str):
    W, H = FIGSIZE
    s = wf.summary
    rows = [[str(r.window), f"{r.is_start:%Y-%m-%d}", f"{r.oos_start:%Y-%m-%d} to {r.oos_end:%Y-%m-%d}", r.chosen,
             f"{r.is_objective:.2f}", f"{r.oos_objective:.2f}", f"{r.oos_median_objective:.2f}",
             f"{r.oos_rank_of_chosen}/{s['n_combinations']}", f"{r.oos_return:.2%}"] for r in wf.windows.itertuples()]
    with style():
        fig = P._page(f"Walk-forward windows: {strategy}",
                      f"objective {s['objective']}; {s['n_combinations']} combinations; out-of-sample CAGR "
                      f"{s['oos']['cagr']:.2%}, Sharpe {s['oos']['sharpe']:.2f}"
                      + (f" (benchmark {s['oos']['benchmark_cagr']:.2%}, {s['oos']['benchmark_sharpe']:.2f})"
                         if "benchmark_cagr" in s["oos"] else ""))
        h = min(0.74, 0.045 * (len(rows) + 1))
        P._table(fig, [0.4 / W, 0.86 - h, 1 - 0.8 / W, h],
                 ["#", "in-sample from", "out-of-sample", "chosen", "IS", "OOS", "OOS median", "OOS rank", "OOS return"],
                 rows, widths=[0.3, 1.1, 2.1, 3.2, 0.6, 0.6, 0.9, 0.8, 1.0],
                 aligns=["right", "left", "left", "left"] + ["right"] * 5, fontsize=8.5, gid="windows_table")
        note = P.Column(fig, 0.4, (0.86 - h) * H - 0.15, W - 0.8, 0.2)
        note.para(f"Mean {s['objective']} of the chosen combination: in-sample {s['mean_is_objective_of_chosen']:.2f}, "
                  f"out-of-sample {s['mean_oos_objective_of_chosen']:.2f} (median combination out-of-sample "
                  f"{s['mean_oos_median_objective']:.2f}). Hindsight best {s['hindsight_best']['combination']}: "
                  f"CAGR {s['hindsight_best']['cagr_over_oos']:.2%} over the same span. {s['note']}.",
                  size=8.5, color="0.3")
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
        with style():
            cover = P._page(f"Walk-forward: {strategy}", "Choose parameters in-sample, trade them out-of-sample")
            W, H = FIGSIZE
            col = P.Column(cover, 0.4, H - 1.0, W - 0.8, 0.6)
            col.heading("The rule")
            col.para(rule, size=11)
            col.heading("Method")
            note = wf.summary["note"]
            col.para(note[0].upper() + note[1:] + ".", size=10)
            col.heading("Grid")
            col.para(", ".join(wf.trial_returns.columns), size=8.5)
            run = wf.summary.get("run") or {}
            if run.get("provenance"):
                col.heading("Data provenance")
                P.provenance_block(col, run["provenance"], 0.9)
            if run.get("versions"):
                col.para("Versions: " + P.versions_text(run["versions"]), size=8, color="0.2")
        folder.write_bytes("report.pdf", P.pdf_bytes([cover, windows_page(wf, strategy), fig],
                                                     title=f"Rotation Lab walk-forward: {strategy}"))
    if html:
        try:
            from reports.html import walkforward_html
        except ImportError:
            walkforward_html = None
        if walkforward_html is not None:
            folder.write_text("report.html", walkforward_html(wf, strategy, rule))
    return out
