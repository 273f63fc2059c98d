"""The comparison report: several strategies on identical data, period and costs, laid out from
the results and metrics the core computed (nothing here runs an engine)."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from reports import figures as F  # noqa: E402
from reports import metrics as M  # noqa: E402
from reports import pdf as P  # noqa: E402
from reports.style import png_bytes  # noqa: E402
from reports.style import BENCHMARK_COLOR, FIGSIZE, strategy_colors, style  # noqa: E402
from rotationlab.outdir import as_folder, sub  # noqa: E402
from rotationlab.results import _csv, dump_json, write_run  # noqa: E402


def _period(r) -> tuple[str, str]:
    p = r.provenance["period"]
    return p["trade_from"], p["trade_to"]


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_")[:80] or "strategy"


def _shows_benchmark(results: dict) -> bool:
    """Draw the benchmark line only when no strategy already holds the benchmark itself."""
    first = next(iter(results.values()))
    bench = first.config.get("benchmark")
    return bench is not None and not any(
        r.strategy == "buy_and_hold" and r.config.get("params", {}).get("symbol") == bench for r in results.values())


def comparison_figures(results: dict, colors: dict, metrics: dict) -> dict:
    """``{name: Figure}`` of a comparison, in page order."""
    first_label, first = next(iter(results.items()))
    bench = metrics[first_label].get("benchmark_metrics")
    figs = {
        "compare_metrics": F.metrics_table_figure(
            {lab: m["metrics"] for lab, m in metrics.items()}, colors=colors,
            benchmark=(f"benchmark {first.config.get('benchmark')}", bench) if bench is not None else None,
            title=f"Metrics of {len(results)} strategies, {_period(first)[0]} to {_period(first)[1]}",
            note=P.metrics_note(metrics[first_label])),
        "compare_equity": F.comparison_equity_figure(results, colors, show_benchmark=_shows_benchmark(results)),
        "compare_drawdown": F.comparison_drawdown_figure(results, colors),
        "compare_rolling": F.comparison_rolling_figure(results, colors),
        "compare_yearly": F.comparison_yearly_figure(results, colors),
    }
    sig = F.signal_figure(first, label=first_label)
    if sig is not None:
        figs["signal"] = sig
    figs["allocation"] = F.allocation_figure(first, label=first_label)
    return figs


def write_comparison(comparison, out, pdf: bool = True, html: bool = True) -> dict:
    """Write the comparison folder (``out``: an OutputFolder or a path) from a
    :class:`rotationlab.api.Comparison`; returns ``{"metrics", "out"}``."""
    folder = as_folder(out)
    results, metrics = comparison.results, comparison.metrics
    colors = strategy_colors((lab, r.strategy) for lab, r in results.items())
    first_label, first = next(iter(results.items()))

    folders = {}
    for lab, r in results.items():
        folders[lab] = _slug(lab)
        write_run(r, sub(folder, folders[lab]), metrics[lab])
    eq = pd.DataFrame({lab: r.equity for lab, r in results.items()}).rename_axis("date")
    if first.benchmark is not None:
        eq[f"benchmark {first.benchmark.name}"] = first.benchmark
    folder.write_text("equity.csv", _csv(eq))
    summary = {
        "comparison": {"strategies": list(results), "first": first_label,
                       "period": dict(zip(("trade_from", "trade_to"), _period(first))),
                       "benchmark": first.config.get("benchmark"), "colors": colors},
        "strategies": {lab: {"strategy": r.strategy, "rule": r.rule, "params": r.config.get("params"),
                             "folder": folders[lab], **metrics[lab]} for lab, r in results.items()},
        "execution": first.execution, "config": {k: v for k, v in first.config.items()
                                                 if k not in ("strategy", "params")},
        "provenance": {lab: r.provenance for lab, r in results.items()},
        "versions": first.versions,
    }
    folder.write_text("metrics.json", dump_json(summary))

    figs = comparison_figures(results, colors, metrics)
    try:
        for name, fig in figs.items():
            folder.write_bytes(f"{name}.png", png_bytes(fig))
        if pdf:
            pages = [comparison_cover(results, metrics, colors), *figs.values(),
                     comparison_trades_page(results, metrics, colors),
                     P.execution_page(first, metrics[first_label], extra=[
                         ("compared", f"{len(results)} strategies on the same data source, calendar policy, "
                                      f"period ({_period(first)[0]} to {_period(first)[1]}), costs and benchmark")])]
            folder.write_bytes("report.pdf", P.pdf_bytes(pages, title=f"Rotation Lab comparison: {first_label}"))
    finally:
        for fig in figs.values():
            plt.close(fig)
    if html:
        try:
            from reports.html import compare_html
        except ImportError:
            compare_html = None
        if compare_html is not None:
            folder.write_text("report.html", compare_html(comparison, colors))
    return {"metrics": metrics, "out": folder.path}


# -- comparison pages --------------------------------------------------------------------------
def headline_rows(results: dict, metrics: dict, colors: dict):
    """The comparison's headline: one row per strategy (and the benchmark): CAGR, Sharpe, max
    drawdown, excess CAGR over the benchmark and over holding the rule's growth basket (each
    strategy's ``vs_growth``); ``(header, rows, {(row, 0): color})``."""
    first_label, first = next(iter(results.items()))
    bench = first.config.get("benchmark")
    header = ["strategy", "CAGR", "Sharpe", "max DD", "vs bench.", "vs growth"]
    rows, cell_colors = [], {}
    for i, (lab, m) in enumerate(metrics.items()):
        mm, vg = m["metrics"], m.get("vs_growth") or {}
        rows.append([lab, M.fmt(mm.get("cagr"), "pct"), M.fmt(mm.get("sharpe"), "ratio"),
                     M.fmt(mm.get("max_drawdown"), "pct"),
                     _excess(mm.get("excess_cagr")) if "excess_cagr" in mm else "-",
                     _excess(vg.get("excess_cagr")) if vg else "-"])
        cell_colors[(i, 0)] = colors[lab]
    bm = metrics[first_label].get("benchmark_metrics")
    if bm:
        rows.append([f"benchmark {bench}", M.fmt(bm.get("cagr"), "pct"), M.fmt(bm.get("sharpe"), "ratio"),
                     M.fmt(bm.get("max_drawdown"), "pct"), "-", "-"])
        cell_colors[(len(rows) - 1, 0)] = BENCHMARK_COLOR
    return header, rows, cell_colors


def _excess(x) -> str:
    return "n/a" if x is None or x != x else f"{x * 100:+.2f} %/yr"


def comparison_cover(results: dict, metrics: dict, colors: dict):
    for scale in (1.0, 0.92, 0.85, 0.78, 0.72, 0.66, 0.6, 0.55):
        fig, overflow = _comparison_cover(results, metrics, colors, scale)
        if not overflow:
            break
        plt.close(fig)
    return fig


def _comparison_cover(results: dict, metrics: dict, colors: dict, k: float):
    first_label, first = next(iter(results.items()))
    start, end = _period(first)
    with style():
        fig = P._page(f"Rotation Lab comparison: {first.strategy} and {len(results) - 1} others",
                      f"Trading {start} to {end} for every strategy ({metrics[first_label]['n_returns']:,} daily "
                      f"returns); benchmark {first.config.get('benchmark') or 'none'}; data source "
                      f"{first.config.get('source')}; same costs and fills")
        W, H = FIGSIZE
        top, bottom = H - 1.0, 0.75
        left = P.Column(fig, 0.4, top, 5.5, bottom)
        left.heading("Strategies (rule and parameters)", 12.5 * k)
        for lab, r in results.items():
            left.bullet(lab, colors[lab], size=10.5 * k, weight="bold")
            left.para(r.rule, size=9.2 * k, indent=0.2)
            changed = P.changed_params(r)
            if changed:
                left.para("parameters: " + "; ".join(f"{p}={P._param_text(v)}" for p, v in changed.items()),
                          size=8.5 * k, indent=0.2, color="0.3")
            left.gap(0.06 * k)
        right = P.Column(fig, 6.3, top, W - 6.3 - 0.4, bottom)
        right.heading("Headline", 12.5 * k)
        hh, hrows, hcolors = headline_rows(results, metrics, colors)
        rw = right.width
        tbot = P._at(fig, right.x, H - right.y + 0.05, rw, hh, hrows,
                     [rw - 3.55, 0.62, 0.55, 0.68, 0.85, 0.85], row_h=0.215 * k, fontsize=8.2 * k,
                     gid="headline_table", highlight=hcolors)
        right.y = H - tbot - 0.04
        right.para("CAGR over the period; vs bench. / vs growth: CAGR minus the benchmark's / minus holding "
                   "the rule's growth basket (each strategy's own).", size=7.6 * k, color="0.35")
        right.heading("Data provenance", 12.5 * k)
        merged = {"symbols": {}, "alignment": first.provenance.get("alignment", {})}
        hashes: dict[str, set] = {}
        for r in results.values():
            for s, meta in r.provenance.get("symbols", {}).items():
                merged["symbols"].setdefault(s, meta)
                hashes.setdefault(s, set()).add(meta.get("sha256"))
        P.provenance_block(right, merged, k)
        differ = sorted(s for s, h in hashes.items() if len(h) > 1)
        if differ:
            right.para(f"{', '.join(differ)}: strategies loaded different ranges (hashes above are the first "
                       "strategy's); each strategy's metrics.json lists its own ranges and hashes.",
                       size=7.8 * k, color="0.35")
        else:
            right.para("Every strategy read exactly these series (same SHA-256 in each strategy's metrics.json).",
                       size=7.8 * k, color="0.35")
        foot = P.Column(fig, 0.4, bottom - 0.02, W - 0.8, 0.3)
        foot.para("Versions: " + P.versions_text(first.versions), size=8.3, color="0.2")
        P._footer(fig, "Rotation Lab. Numbers in this report are the values of metrics.json in the same folder.")
    return fig, left.overflow or right.overflow or foot.overflow


def comparison_trades_page(results: dict, metrics: dict, colors: dict, n: int = 8):
    """Trade counts of every strategy, then the first and last trades of the first one."""
    first_label, first = next(iter(results.items()))
    with style():
        fig = P._page("Trades", f"Counts for every strategy; first and last {n} fills of {first_label} "
                                "(every strategy's fills: <folder>/trades.csv)")
        W, H = FIGSIZE
        header = ["strategy", "fills", "buys", "sells", "commission", "rotations", "annual turnover",
                  "rejected"]
        rows = []
        for lab, m in metrics.items():
            t = m["trades"]
            rows.append([lab, f"{t['fills']:,}", f"{t['buys']:,}", f"{t['sells']:,}", f"{t['commission']:,.2f}",
                         M.fmt(m["metrics"]["n_rotations"], "int"), M.fmt(m["metrics"]["annual_turnover"], "ratio"),
                         M.fmt(m["metrics"]["rejected_orders"], "int")])
        row_h = 0.24 / H
        top = 1 - 1.2 / H
        height = row_h * (len(rows) + 1)
        P._table(fig, [0.4 / W, top - height, 1 - 0.8 / W, height], header, rows,
                 [0.40, 0.07, 0.07, 0.07, 0.11, 0.08, 0.13, 0.07], ["left"] + ["right"] * 7, fontsize=8.8,
                 gid="trade-counts", highlight={(i, 0): colors[row[0]] for i, row in enumerate(rows)})
        t = first.trades.reset_index(drop=True)
        y = top - height - 0.75 / H
        fig.text(0.4 / W, y + 0.32 / H, f"Trades of {first_label}", fontsize=11.5, fontweight="bold",
                 va="bottom")
        theader = ["date (fill)", "symbol", "side", "shares", "fill price", "value", "commission"]
        widths = [0.15, 0.11, 0.07, 0.15, 0.16, 0.19, 0.17]
        aligns = ["left", "left", "left", "right", "right", "right", "right"]
        parts = [("All trades", t)] if len(t) <= 2 * n else [(f"First {n}", t.head(n)), (f"Last {n}", t.tail(n))]
        x0, gap = 0.4 / W, 0.3 / W
        width = (1 - 2 * x0 - gap) / len(parts)
        for i, (name, part) in enumerate(parts):
            r = P._trade_rows(part)
            h = 0.22 / H * (len(r) + 1)
            span = f" (fills {part.index[0] + 1:,} to {part.index[-1] + 1:,} of {len(t):,})" if len(part) else ""
            fig.text(x0 + i * (width + gap), y + 0.05 / H, f"{name} trades{span}", fontsize=10.5,
                     fontweight="bold", va="bottom")
            P._table(fig, [x0 + i * (width + gap), y - h, width, h], theader, r, widths, aligns, fontsize=8.3,
                     gid=f"trades-{i}")
        P._footer(fig, "Fill dates and prices as executed (slippage included in the price); value = shares x fill "
                       "price; commission in account currency.")
    return fig


__all__ = ["comparison_figures", "write_comparison"]
