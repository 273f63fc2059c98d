"""The PDF report: text pages (cover, metrics, trades, execution) and figure pages, bound with
matplotlib's PdfPages into deterministic bytes (no creation date; same input, same file).

Every number printed here is read from the ``metrics`` dict that is also written to
``metrics.json`` (formatted with :func:`reports.metrics.fmt`), or from the result's own frames
and records (trades, parameters, provenance, execution), never recomputed separately.
"""

from __future__ import annotations

import io
import logging
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from reports import metrics as M  # noqa: E402
from reports.binding import PngPage, bind  # noqa: E402
from reports.style import FIGSIZE, blank_figure, style  # noqa: E402
from rotationlab.atomic import atomic_write_bytes  # noqa: E402
from rotationlab.results import RunResult  # noqa: E402

N_TRADES_SHOWN = 15  # first and last trades listed on the trades page

_SANS_EM = 0.56  # average glyph width of DejaVu Sans, in em (for wrapping estimates)
_ASCENT = 0.8    # top of a line's tallest glyphs above its baseline, in em
_MONO_EM = 0.602


# -- a tiny flowing-text layout on a figure ------------------------------------------------------
class Column:
    """Writes blocks of text top-down in a column of ``fig`` (positions in inches)."""

    def __init__(self, fig, x: float, top: float, width: float, bottom: float = 0.35):
        self.fig, self.x, self.y, self.width, self.bottom = fig, x, top, width, bottom
        self.W, self.H = fig.get_size_inches()
        self.overflow = False

    def _baseline(self, size) -> float:
        """Where the baseline of a line whose top is at ``self.y`` lies (lines are placed by their
        baselines: evenly spaced whatever glyphs they hold, in any font)."""
        return (self.y - size * _ASCENT / 72) / self.H

    def _put(self, text, size, mono=False, weight="normal", color="black", indent=0.0, gid=None):
        if self.y - size * 1.3 / 72 < self.bottom:
            self.overflow = True
            return
        self.fig.text((self.x + indent) / self.W, self._baseline(size), text, fontsize=size, va="baseline",
                      ha="left", family="monospace" if mono else "sans-serif", fontweight=weight, color=color,
                      gid=gid)
        self.y -= size * 1.32 / 72

    def wrap(self, text, size, mono=False, indent=0.0, weight="normal") -> list[str]:
        em = _MONO_EM if mono else _SANS_EM * (1.12 if weight == "bold" else 1.0)
        chars = int((self.width - indent) * 72 / (size * em))
        return textwrap.wrap(text, max(chars, 10), break_long_words=True, break_on_hyphens=False) or [""]

    def heading(self, text, size=12.5):
        self.gap(0.16 * size / 12.5)
        self._put(text, size, weight="bold", color="#1a1a1a")
        self.gap(0.03)

    def para(self, text, size=10, mono=False, indent=0.0, color="black", weight="normal"):
        for line in self.wrap(text, size, mono, indent, weight):
            self._put(line, size, mono=mono, indent=indent, color=color, weight=weight)

    def bullet(self, text, color, size=10, weight="normal"):
        """A paragraph after a small square of ``color`` (a strategy's color)."""
        from matplotlib.patches import Rectangle
        side = size * 0.85 / 72
        if self.y - size * 1.3 / 72 >= self.bottom:
            self.fig.add_artist(Rectangle((self.x / self.W, (self.y - side * 1.05) / self.H), side / self.W,
                                          side / self.H, color=color, transform=self.fig.transFigure))
        self.para(text, size=size, indent=side + 0.08, weight=weight)

    def kv(self, rows, size=9.5, key_width=None, mono_values=False):
        """Aligned ``key  value`` lines (values wrap under themselves)."""
        key_width = key_width or min(max((len(k) for k, _ in rows), default=4) * size * _SANS_EM / 72 + 0.15,
                                     self.width * 0.5)
        for k, v in rows:
            lines = self.wrap(str(v), size, mono_values, key_width)
            if self.y - size * 1.3 / 72 < self.bottom:
                self.overflow = True
                return
            self.fig.text(self.x / self.W, self._baseline(size), str(k), fontsize=size, va="baseline", color="0.35")
            for line in lines:
                self._put(line, size, mono=mono_values, indent=key_width)

    def gap(self, inches=0.08):
        self.y -= inches


def _page(title: str, subtitle: str | None = None):
    fig = blank_figure()
    fig.text(0.4 / FIGSIZE[0], 1 - 0.32 / FIGSIZE[1], title, fontsize=17, fontweight="bold", va="top")
    if subtitle:  # one line: smaller type for a long subtitle
        size = max(7.5, min(10.5, (FIGSIZE[0] - 0.8) * 72 / (len(subtitle) * _SANS_EM * 1.02)))
        fig.text(0.4 / FIGSIZE[0], 1 - 0.72 / FIGSIZE[1], subtitle, fontsize=size, va="top", color="0.3")
    fig.add_artist(Line2D([0.4 / FIGSIZE[0], 1 - 0.4 / FIGSIZE[0]], [1 - 1.0 / FIGSIZE[1]] * 2,
                              color="0.75", lw=0.8))
    return fig


def _footer(fig, text: str, page_label: str = "") -> None:
    fig.text(0.4 / FIGSIZE[0], 0.15 / FIGSIZE[1], text, fontsize=7.5, color="0.45", va="bottom")
    if page_label:
        fig.text(1 - 0.4 / FIGSIZE[0], 0.15 / FIGSIZE[1], page_label, fontsize=7.5, color="0.45",
                 va="bottom", ha="right")


def header_factor(header) -> float:
    """Height of a table's header row in body rows (taller when a header breaks onto lines)."""
    n = max((str(h).count("\n") + 1 for h in header), default=1)
    return 1.0 if n == 1 else 0.8 * n


def _table(fig, rect, header, rows, widths, aligns=None, fontsize=9.0, header_colors=None, gid=None,
           highlight: dict | None = None) -> dict:
    """A plain table in ``rect`` (figure fraction: left, bottom, width, height): a header row (white
    bold on dark gray, or ``header_colors[column]``), every other row shaded, light rules; text
    ``aligns`` per column; ``highlight``: ``{(row, column): color}`` of data cells set bold in that
    color. Returns the cells' Text artists by ``(row, column)`` (row 0: header).

    The cells are one collection of rectangles and a text each (matplotlib's Table costs three
    times as much to set, for the same page)."""
    from matplotlib.collections import PolyCollection
    x0, y0, w, h = rect
    texts: dict = {}
    if not rows:
        return texts
    W = fig.get_figwidth()
    aligns = aligns or ["left"] * len(header)
    total = sum(widths)
    edges = [x0]
    for cw in widths:
        edges.append(edges[-1] + w * cw / total)
    hf = header_factor(header)
    unit = h / (len(rows) + hf)
    pad = 0.05 / W  # ~0.05 inch inside each cell
    verts, faces = [], []
    top = y0 + h
    for i, cells in enumerate([header, *rows]):
        rh = unit * (hf if i == 0 else 1.0)
        bottom = top - rh
        for j, value in enumerate(cells):
            left, right = edges[j], edges[j + 1]
            verts.append([(left, bottom), (right, bottom), (right, top), (left, top)])
            faces.append((header_colors or {}).get(j, "0.3") if i == 0 else "#f4f4f4" if i % 2 == 0 else "white")
            x = {"left": left + pad, "right": right - pad, "center": (left + right) / 2}[aligns[j]]
            mark = (highlight or {}).get((i - 1, j)) if i else None
            texts[(i, j)] = fig.text(x, (top + bottom) / 2, str(value), fontsize=fontsize, ha=aligns[j], va="center",
                                     color="white" if i == 0 else mark or "black",
                                     fontweight="bold" if i == 0 or mark else "normal", zorder=3)
        top = bottom
    fig.add_artist(PolyCollection(verts, facecolors=faces, edgecolors="0.85", linewidths=1.0,
                                  transform=fig.transFigure, zorder=2, gid=gid))
    return texts


# -- shared text -------------------------------------------------------------------------------
def _param_text(v) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v)) if v else "(empty)"
    if v == "":
        return "(none)"
    return str(v)


def changed_params(result: RunResult) -> dict:
    """Parameters that differ from the strategy's defaults."""
    from strategies import rule_class
    params = result.config.get("params", {})
    try:
        cls = rule_class(result.config.get("strategy", result.strategy))
    except Exception:  # noqa: BLE001 - a rule file that moved: show everything
        return dict(params)
    d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cls.defaults().items()}
    return {k: v for k, v in params.items() if d.get(k, object()) != v}


def provenance_lines(provenance: dict) -> list[tuple[str, str, str]]:
    """``(symbol, description, sha256)`` per symbol of a run's provenance."""
    out = []
    for s, m in provenance.get("symbols", {}).items():
        kind = "close-only" if m.get("close_only") else "OHLC"
        desc = (f"{m.get('source')} ({m.get('origin') or 'n/a'}); {m.get('adjustment')}; {kind}; "
                f"{m.get('first_date')} to {m.get('last_date')}, {m.get('rows'):,} rows")
        out.append((s, desc, m.get("sha256", "")))
    return out


def versions_text(versions: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in versions.items())


def period_line(result: RunResult, metrics: dict) -> str:
    p = result.provenance.get("period", {})
    bench = result.config.get("benchmark")
    return (f"Trading {p.get('trade_from')} to {p.get('trade_to')} ({metrics.get('n_returns', 0):,} daily returns, "
            f"{p.get('warmup_bars', 0)} warm-up bars before); benchmark {bench or 'none'}; "
            f"data source {result.config.get('source')}")


# -- run report pages --------------------------------------------------------------------------
def cover_page(result: RunResult, metrics: dict):
    """Rule, parameters, headline numbers, period, data provenance and versions on one page
    (text shrinks until everything fits)."""
    for scale in (1.0, 0.92, 0.85, 0.78, 0.72, 0.66, 0.6):
        fig, overflow = _cover(result, metrics, scale)
        if not overflow:
            break
        plt.close(fig)
    return fig


def _cover(result: RunResult, metrics: dict, k: float):
    with style():
        fig = _page(f"Rotation Lab report: {result.strategy}", period_line(result, metrics))
        W, H = FIGSIZE
        top, bottom = H - 1.0, 0.75
        left = Column(fig, 0.4, top, 5.0, bottom)
        left.heading("The rule", 12.5 * k)
        left.para(result.rule, size=11.5 * k)
        left.heading("Parameters", 12.5 * k)
        changed = changed_params(result)
        if changed:
            left.kv([(k_, _param_text(v)) for k_, v in changed.items()], size=9.5 * k)
            left.para("Only parameters that differ from the defaults; all are in metrics.json and manifest.json.",
                      size=8 * k, color="0.4")
        else:
            left.para("All at their defaults (listed in metrics.json and manifest.json).", size=9.5 * k)
        warns = warning_lines(result)
        if warns:
            left.heading("Read before trusting the numbers", 12.5 * k)
            for w in warns:
                left.para("- " + w, size=8.8 * k, color="#8a1c1c")
        right = Column(fig, 5.75, top, W - 5.75 - 0.4, bottom)
        right.heading("Headline", 12.5 * k)
        right.kv(headline(metrics, result), size=9.5 * k)
        right.heading("Period", 12.5 * k)
        p = result.provenance.get("period", {})
        right.kv([("trading", f"{p.get('trade_from')} to {p.get('trade_to')}"),
                  ("warm-up", f"{p.get('warmup_bars')} bars before the first trading date"),
                  ("data cut to", f"{p.get('data_end_cut_to_common')} (last date every symbol has)")], size=9.5 * k)
        right.heading("Data provenance", 12.5 * k)
        provenance_block(right, result.provenance, k)
        foot = Column(fig, 0.4, bottom - 0.02, W - 0.8, 0.3)
        foot.para("Versions: " + versions_text(result.versions), size=8.3, color="0.2")
        _footer(fig, "Rotation Lab. Numbers in this report are the values of metrics.json in the same folder.")
    return fig, left.overflow or right.overflow or foot.overflow


def growth_name(result) -> str:
    """The rule's growth basket as shown in reports (``^IXIC``; ``QQQ 50% + XLK 50%``), "" if none."""
    basket = (getattr(result, "baskets", None) or {}).get("growth") or {}
    if len(basket) == 1:
        return str(next(iter(basket)))
    return " + ".join(f"{s} {w:.0%}" for s, w in basket.items())


def reference_labels(result, metrics: dict) -> dict:
    """``{"benchmark": "benchmark ^GSPC", "growth": "holding growth ^IXIC"}`` for the references
    the metrics have (a key is absent when its metrics are)."""
    out = {}
    if metrics.get("benchmark_metrics") is not None:
        out["benchmark"] = f"benchmark {metrics.get('benchmark') or result.config.get('benchmark')}"
    if metrics.get("growth_metrics") is not None:
        out["growth"] = f"holding growth {growth_name(result)}".strip()
    return out


def warning_lines(result) -> list[str]:
    """What to read before trusting the numbers: close-only fills, then the run's data warnings
    (adjustment mix, short spans), one line each."""
    warns = list(getattr(result, "warnings", ()) or ())
    close_only = result.execution.get("close_only_symbols")
    if close_only:
        warns.insert(0, f"{', '.join(close_only)} {'has' if len(close_only) == 1 else 'have'} close prices only: "
                        "every order of this run fills at the close (one fill time for every leg of a rebalance).")
    return warns


def headline(metrics: dict, result=None) -> list[tuple[str, str]]:
    """Key metrics for the cover, strategy vs benchmark, formatted from ``metrics``; the rule
    against simply holding its growth basket (named from ``result.baskets``) first."""
    m, b = metrics["metrics"], metrics.get("benchmark_metrics")
    rows = []
    vg, gm = metrics.get("vs_growth"), metrics.get("growth_metrics")
    if vg and gm:
        ex = vg.get("excess_cagr")
        text = "n/a" if ex is None or ex != ex else f"{ex * 100:+.2f} %/yr"
        name = growth_name(result) if result is not None else ""
        rows.append(("rule vs holding growth", f"{text} (growth {name + ' ' if name else ''}CAGR "
                                               f"{M.fmt(gm.get('cagr'), 'pct')})"))
    for key, label, kind in M.METRIC_ROWS:
        if key in ("cagr", "sharpe", "max_drawdown", "annual_volatility"):
            v = M.fmt(m.get(key), kind)
            rows.append((label, v + (f"   (benchmark {M.fmt(b.get(key), kind)})" if b else "")))
    for key, label, kind in M.METRIC_ROWS:
        if key in ("n_rotations", "n_trades"):
            rows.append((label, M.fmt(m.get(key), kind)))
    return rows


def provenance_block(col: Column, provenance: dict, k: float = 1.0) -> None:
    """Per symbol: source, origin, adjustment, kind, range, rows and SHA-256; then the calendar."""
    for sym, desc, sha in provenance_lines(provenance):
        col.kv([(sym, desc)], size=9.0 * k, key_width=0.75 * k)
        col.para(f"sha256 {sha}", size=7.3 * k, mono=True, indent=0.75 * k, color="0.25")
        col.gap(0.03 * k)
    al = provenance.get("alignment", {})
    if al:
        col.para(f"Calendar: {al.get('description')}; {al.get('calendar_rows', 0):,} dates "
                 f"{al.get('calendar_first')} to {al.get('calendar_last')}; forward-filled dates: "
                 + ", ".join(f"{s} {n}" for s, n in al.get("filled_dates", {}).items()), size=8.3 * k,
                 color="0.25")


#: The relative metrics as rows of a "rule vs reference" table (the reference is the column).
RELATIVE_LABELS = {"excess_cagr": "Excess CAGR", "tracking_error": "Tracking error",
                   "information_ratio": "Information ratio", "beta": "Beta", "alpha": "Alpha (annualised)"}
CAPTURE_ROWS = (("up_capture", "Up capture"), ("down_capture", "Down capture"),
                ("up_down_ratio", "Up / down capture"))
_KINDS = {k: kind for k, _, kind in M.METRIC_ROWS}


def metric_rows(result, metrics: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the metrics table: every metric that is not relative, for the rule and
    each reference it has (benchmark, holding growth); '-' where a metric does not apply."""
    refs = reference_labels(result, metrics)
    cols = [metrics["metrics"]] + [metrics[f"{k}_metrics"] for k in refs]
    rows = [[label] + [M.fmt(d.get(key), kind) if key in d else "-" for d in cols]
            for key, label, kind in M.METRIC_ROWS if key not in M.RELATIVE]
    return ["metric", "rule", *refs.values()], rows


def relative_rows(result, metrics: dict) -> tuple[list[str], list[list[str]]] | None:
    """Header and rows of "the rule against each reference": the relative metrics (against the
    benchmark from ``metrics``, against growth from ``vs_growth``) and the capture ratios of the
    tear sheet. None when the run has no reference."""
    refs = reference_labels(result, metrics)
    if not refs:
        return None
    vals = {"benchmark": metrics["metrics"], "growth": metrics.get("vs_growth") or {}}
    cap = (metrics.get("tearsheet") or {}).get("capture") or {}
    rows = [[RELATIVE_LABELS[key]] + [M.fmt(vals[k].get(key), _KINDS[key]) if key in vals[k] else "-" for k in refs]
            for key in M.RELATIVE]
    if any(cap.get(k) for k in refs):
        for key, label in CAPTURE_ROWS:
            rows.append([label] + [M.fmt(cap[k].get(key), "ratio") if cap.get(k) else "-" for k in refs])
        rows.append(["Up / down days (reference)"]
                    + [f"{cap[k]['up_days']:,} / {cap[k]['down_days']:,}" if cap.get(k) else "-" for k in refs])
    return ["rule vs", *refs.values()], rows


def _at(fig, x: float, top: float, width: float, header, rows, widths, aligns=None, row_h: float = 0.245,
        fontsize: float = 9.0, title: str | None = None, gid: str | None = None, header_colors=None,
        title_size: float = 11.0, highlight: dict | None = None) -> float:
    """A table whose top-left corner is ``x`` inches from the left and ``top`` inches from the top
    of the page, ``title`` above it; returns the inches from the top of its bottom edge."""
    W, H = FIGSIZE
    if title:
        fig.text(x / W, 1 - (top - 0.04) / H, title, fontsize=title_size, fontweight="bold", va="bottom")
    height = row_h * (len(rows) + header_factor(header))
    if rows:
        _table(fig, [x / W, 1 - (top + height) / H, width / W, height / H], header, rows, widths,
               aligns or ["left"] + ["right"] * (len(header) - 1), fontsize=fontsize, header_colors=header_colors,
               gid=gid, highlight=highlight)
    else:
        fig.text(x / W, 1 - (top + 0.05) / H, "(none)", fontsize=fontsize, va="top", color="0.35")
        height = 0.3
    return top + height


def metrics_page(result: RunResult, metrics: dict, color: str | None = None):
    """The metrics of the rule beside its benchmark's and holding growth's, and the rule against
    each of them (relative metrics, capture ratios): values of metrics.json."""
    from reports.style import BENCHMARK_COLOR, GROWTH_COLOR, color_of
    p = result.provenance.get("period", {})
    refs = reference_labels(result, metrics)
    what = " and ".join(["benchmark" if k == "benchmark" else "holding growth" for k in refs])
    colors = {"benchmark": BENCHMARK_COLOR, "growth": GROWTH_COLOR}
    W, H = FIGSIZE
    with style():
        fig = _page(f"Metrics{' vs ' + what if what else ''}: {result.strategy}",
                    f"{p.get('trade_from')} to {p.get('trade_to')}: " + metrics_note(metrics))
        header, rows = metric_rows(result, metrics)
        n = len(header) - 1
        left_w = 6.4 if refs else 5.0
        hc = {1: color or color_of(result.strategy)} | {j + 2: colors[k] for j, k in enumerate(refs)}
        _at(fig, 0.4, 1.3, left_w, _headers(header, 10), rows, [2.75] + [(left_w - 2.75) / n] * n,
            row_h=0.262, fontsize=9.2, header_colors=hc, gid="metrics_table")
        rel = relative_rows(result, metrics)
        if rel is not None:
            x = 0.4 + left_w + 0.35
            width = W - 0.4 - x
            rh, rrows = rel
            k = len(rh) - 1
            bottom = _at(fig, x, 1.3, width, _headers(rh, 10), rrows, [2.1] + [(width - 2.1) / k] * k,
                         row_h=0.262, fontsize=9.2, header_colors={j + 1: colors[r] for j, r in enumerate(refs)},
                         gid="relative_table")
            col = Column(fig, x, H - bottom - 0.15, width, 0.4)
            col.para("Relative metrics use the rule's and the reference's daily returns on the same dates "
                     "(empyrical). Capture: " + tearsheet_note("capture", metrics) + ".", size=8.3, color="0.35")
        _footer(fig, "Rotation Lab. Values as in metrics.json ('metrics', 'benchmark_metrics', 'growth_metrics', "
                     "'vs_growth', 'tearsheet').")
    return fig


def _headers(header: list[str], chars: int) -> list[str]:
    """Column headers broken onto two lines where longer than ``chars``."""
    out = []
    for h in header:
        if len(h) > chars and " " in h:
            cut = h.rfind(" ", 0, max(chars, h.find(" ") + 1) + 1)
            cut = cut if cut > 0 else h.find(" ")
            h = h[:cut] + "\n" + h[cut + 1:]
        out.append(h)
    return out


def tearsheet_note(key: str, metrics: dict) -> str:
    """The core's statement of a tear-sheet section's conventions (``tearsheet.notes``)."""
    return ((metrics.get("tearsheet") or {}).get("notes") or {}).get(key, "")


def metrics_note(metrics: dict) -> str:
    return (f"{metrics.get('n_returns', 0):,} daily returns from {metrics.get('returns_from')}; "
            f"{metrics['periods_per_year']} periods a year; risk-free {metrics['risk_free']:g} a day; "
            "ratios as empyrical-reloaded defines them; values as in metrics.json; '-' = does not apply.")


# -- tear sheet: rows (shared with report.html) and pages ----------------------------------------
def _pct(x) -> str:
    return M.fmt(x, "pct")


def _partial_year(row: dict) -> str:
    """``1999`` or ``1999 (from 01-12)`` / ``2018 (to 06-29)`` for a year the data covers in part."""
    f, t = pd.Timestamp(row["from"]), pd.Timestamp(row["to"])
    part = []
    if f.month != 1 or f.day > 7:
        part.append(f"from {f:%m-%d}")
    if t.month != 12 or t.day < 24:
        part.append(f"to {t:%m-%d}")
    return f"{row['year']}" + (f" ({', '.join(part)})" if part else "")


def annual_rows(result, metrics: dict) -> tuple[list[str], list[list[str]]]:
    """Calendar-year returns of the rule, the benchmark and holding growth (``tearsheet.annual_returns``)."""
    refs = reference_labels(result, metrics)
    rows = [[_partial_year(r), f"{r['days']:,}", _pct(r["rule"]), *(_pct(r.get(k)) for k in refs)]
            for r in metrics["tearsheet"]["annual_returns"]]
    return ["year", "days", "rule", *refs.values()], rows


def trailing_rows(result, metrics: dict) -> tuple[list[str], list[list[str]]]:
    """Trailing returns (MTD .. all-time) as of the last date (``tearsheet.trailing_returns``)."""
    refs = reference_labels(result, metrics)
    tr = metrics["tearsheet"]["trailing_returns"]
    rows = [[label, _pct(tr["rule"].get(key)), *(_pct((tr.get(k) or {}).get(key)) for k in refs)]
            for key, label, _months, _ann in M.TRAILING_PERIODS]
    return ["period", "rule", *refs.values()], rows


DRAWDOWN_HEADER = ["#", "peak", "start", "valley", "end", "recovery", "depth", "days", "trading days"]
DRAWDOWN_SHORT = ["#", "peak", "valley", "recovery", "depth", "trading days"]


def drawdown_rows(table: list[dict] | None, short: bool = False) -> list[list[str]]:
    """Rows of a worst-drawdowns table (``tearsheet.drawdowns.<series>``); recovery "open" when
    the drawdown had not recovered by the last date. ``short``: the columns of DRAWDOWN_SHORT."""
    rows = []
    for d in table or []:
        rec = d["recovery"] or "open"
        if short:
            rows.append([str(d["rank"]), d["peak"], d["valley"], rec, _pct(d["depth"]), f"{d['trading_days']:,}"])
        else:
            rows.append([str(d["rank"]), d["peak"], d["start"], d["valley"], d["end"], rec, _pct(d["depth"]),
                         f"{d['days']:,}", f"{d['trading_days']:,}"])
    return rows


def crisis_rows(result, metrics: dict) -> tuple[list[str], list[list[str]]]:
    """Each named crisis the data covers: the rule's, the benchmark's and growth's return over it and
    the rule's worst drawdown inside it (``tearsheet.crises``)."""
    refs = reference_labels(result, metrics)
    rows = []
    for c in metrics["tearsheet"]["crises"]:
        span = f"{c['from']} to {c['to']}" + ("" if c["complete"] else " (part)")
        rows.append([c["name"], f"{c['peak']} to {c['trough']}", span, f"{c['days']:,}", _pct(c.get("rule")),
                     *(_pct(c.get(k)) for k in refs), _pct(c.get("rule_max_drawdown"))])
    return (["crisis", "S&P 500 high to low", "measured over", "days", "rule", *refs.values(),
             "rule's worst drawdown in it"], rows)


def asset_rows(metrics: dict) -> tuple[list[str], list[list[str]]]:
    """Time in each traded symbol and in cash (``tearsheet.time_in_assets``)."""
    ta = metrics["tearsheet"]["time_in_assets"]
    rows = [[s, _pct(v["share_of_days"]), _pct(v["average_weight"]), f"{v['holdings']:,}",
             M.fmt(v["average_holding_days"], "days1")] for s, v in ta["symbols"].items()]
    cash = ta["cash"]
    rows.append(["cash (nothing held)", _pct(cash["share_of_days"]), _pct(cash["average_weight"]), "-", "-"])
    return ["held", "share of days", "average weight", "holdings", "average holding days"], rows


def rolling_rows(metrics: dict) -> tuple[list[str], list[list[str]]] | None:
    """Rolling beta and correlation to the benchmark: last, mean, min, max per window
    (``tearsheet.rolling.benchmark``); None without a benchmark."""
    roll = ((metrics.get("tearsheet") or {}).get("rolling") or {}).get("benchmark")
    if not roll:
        return None
    rows = []
    for measure in ("beta", "correlation"):
        for w, d in roll.items():
            v = d.get(measure) or {}
            rows.append([measure, f"{int(w):,} days", *(M.fmt(v.get(k), "ratio") for k in ("last", "mean", "min", "max"))])
    return ["to the benchmark", "window", "last", "mean", "min", "max"], rows


def _chunks(rows: list, n: int) -> list[list]:
    return [rows[i:i + n] for i in range(0, len(rows), n)] or [[]]


def tearsheet_pages(result: RunResult, metrics: dict) -> list:
    """The tear-sheet pages of a run report: returns by year and trailing, worst drawdowns,
    crises / time in assets / rolling beta. Empty when the metrics have no tear sheet."""
    if "tearsheet" not in metrics:
        return []
    return [*returns_pages(result, metrics), drawdowns_page(result, metrics), crises_page(result, metrics)]


def returns_pages(result: RunResult, metrics: dict, per_column: int = 21) -> list:
    """Calendar-year returns (as many side-by-side columns and pages as the years need), trailing
    returns and capture ratios."""
    W, H = FIGSIZE
    header, rows = annual_rows(result, metrics)
    th, trows = trailing_rows(result, metrics)
    chunks = _chunks(rows, per_column)
    n_ref = len(header) - 3
    as_of = metrics["tearsheet"]["trailing_returns"].get("as_of")
    title = f"Returns by calendar year and trailing: {result.strategy}"
    sub = ("Calendar-year compounded daily returns; " + tearsheet_note("trailing_returns", metrics) + ".")
    pages = []
    with style():
        if len(chunks) == 1:
            fig = _page(title, sub)
            width = 2.6 + 1.25 * (1 + n_ref)
            _at(fig, 0.4, 1.35, width, _headers(header, 10), rows, [1.8, 0.8] + [1.25] * (1 + n_ref),
                title="Annual returns", gid="annual_table", row_h=0.225, fontsize=8.8)
            x = 0.4 + width + 0.4
            tw = W - 0.4 - x
            k = len(th) - 1
            bottom = _at(fig, x, 1.35, tw, _headers(th, 10), trows, [1.5] + [(tw - 1.5) / k] * k,
                         title=f"Trailing returns as of {as_of}", gid="trailing_table", row_h=0.225,
                         fontsize=8.8)
            col = Column(fig, x, H - bottom - 0.12, tw, 0.4)
            col.para("MTD and YTD from the previous month's and year's last close; 3Y and longer annualised; "
                     "n/a where the data is shorter than the period.", size=8.2, color="0.35")
            _footer(fig, "Values as in metrics.json ('tearsheet': 'annual_returns', 'trailing_returns').")
            return [fig]
        for i in range(0, len(chunks), 3):
            fig = _page(title if not i else f"{title} (continued)", sub)
            width = (W - 0.8 - 0.3 * 2) / 3
            for j, chunk in enumerate(chunks[i:i + 3]):
                _at(fig, 0.4 + j * (width + 0.3), 1.35, width, _headers(header, 12), chunk,
                    [1.5, 0.6] + [0.9] * (1 + n_ref), gid=f"annual_table-{i + j}", row_h=0.215, fontsize=7.8)
            _footer(fig, "Values as in metrics.json ('tearsheet': 'annual_returns').")
            pages.append(fig)
        fig = _page(f"Trailing returns: {result.strategy}", sub)
        k = len(th) - 1
        _at(fig, 0.4, 1.35, 7.0, _headers(th, 10), trows, [2.2] + [4.8 / k] * k, gid="trailing_table",
            title=f"Trailing returns as of {as_of}")
        _footer(fig, "Values as in metrics.json ('tearsheet': 'trailing_returns').")
        pages.append(fig)
    return pages


def drawdowns_page(result: RunResult, metrics: dict):
    """The rule's worst drawdowns, then the benchmark's and holding growth's side by side."""
    W, H = FIGSIZE
    dd = metrics["tearsheet"]["drawdowns"]
    refs = reference_labels(result, metrics)
    with style():
        fig = _page(f"Worst drawdowns: {result.strategy}" + (" and its references" if refs else ""),
                    "peak: last close at the high; start / end: first and last day below it; valley: the low; "
                    "recovery: first close back at the high (open: not recovered)")
        aligns = ["right", "left", "left", "left", "left", "left", "right", "right", "right"]
        bottom = _at(fig, 0.4, 1.35, W - 0.8, DRAWDOWN_HEADER, drawdown_rows(dd.get("rule")),
                     [0.3, 1.1, 1.1, 1.1, 1.1, 1.1, 0.9, 0.8, 0.9], aligns, row_h=0.2, fontsize=8.3,
                     title=result.strategy, gid="drawdowns_rule")
        width = (W - 0.8 - 0.4) / 2
        for j, (k, label) in enumerate(refs.items()):
            _at(fig, 0.4 + j * (width + 0.4), bottom + 0.45, width, DRAWDOWN_SHORT, drawdown_rows(dd.get(k), True),
                [0.3, 1.1, 1.1, 1.1, 0.9, 1.0], ["right", "left", "left", "left", "right", "right"], row_h=0.2,
                fontsize=8.3, title=label, gid=f"drawdowns_{k}")
        _footer(fig, "days: calendar days from start to end (as quantstats); trading days: peak to recovery or "
                     "the last date. Values as in metrics.json ('tearsheet': 'drawdowns').")
    return fig


def crises_page(result: RunResult, metrics: dict):
    """Named crises, time in each asset and the rolling beta / correlation summary."""
    W, H = FIGSIZE
    with style():
        fig = _page(f"Crises, time in each asset and rolling beta: {result.strategy}",
                    "Crisis windows: " + tearsheet_note("crises", metrics) + "; (part): the data covers part "
                    "of the window")
        header, rows = crisis_rows(result, metrics)
        n_ref = len(header) - 6
        widths = [2.2, 1.9, 2.2, 0.5, 0.9] + [1.15] * n_ref + [1.2]
        scale = (W - 0.8) / sum(widths)
        if rows:
            bottom = _at(fig, 0.4, 1.35, W - 0.8, _headers(header, 14), rows, [w * scale for w in widths],
                         ["left", "left", "left"] + ["right"] * (len(header) - 3), row_h=0.24, fontsize=8.5,
                         title="Named crises", gid="crisis_table")
        else:
            fig.text(0.4 / W, 1 - 1.45 / H, "Named crises: none falls within the data period.", fontsize=10,
                     va="top")
            bottom = 1.6
        top = bottom + 0.55
        ah, arows = asset_rows(metrics)
        _at(fig, 0.4, top, 6.0, _headers(ah, 10), arows, [2.0, 1.0, 1.0, 0.9, 1.1], row_h=0.24, fontsize=8.8,
            title="Time in each asset", gid="assets_table")
        rr = rolling_rows(metrics)
        if rr is not None:
            rh, rrows = rr
            _at(fig, 6.8, top, W - 7.2, rh, rrows, [1.3, 0.9, 0.6, 0.6, 0.6, 0.6], ["left", "right", "right", "right",
                                                                                  "right", "right"],
                row_h=0.24, fontsize=8.8, title="Rolling beta and correlation", gid="rolling_table")
        _footer(fig, "Time in assets: " + tearsheet_note("time_in_assets", metrics) + ". Values as in metrics.json "
                     "('tearsheet': 'crises', 'time_in_assets', 'rolling').")
    return fig


def factor_rows(result, metrics: dict) -> tuple[list[str], list[list[str]]] | None:
    """The factor attribution table (``metrics["factors"]``): one row per term (alpha first, per
    year), the rule's estimate and Newey-West t, then each reference's; None when not computed."""
    from rotationlab.factors import NAMES
    fa = metrics.get("factors")
    if not fa or "loadings" not in fa:
        return None
    cols = [("rule", fa)] + [(f"holding {k[len('growth '):]}" if k.startswith("growth ") else k, v)
                             for k, v in (fa.get("compared") or {}).items() if "loadings" in v]
    header = ["term"]
    for label, _ in cols:
        header += [label, "t"]
    rows = [["alpha (%/yr)"] + [x for _, a in cols for x in (f"{a['alpha_annual'] * 100:+.2f}", f"{a['alpha_t']:.2f}")]]
    for nm in fa["factors"]:
        rows.append([NAMES.get(nm, nm)] + [x for _, a in cols for x in (f"{a['loadings'][nm]:+.3f}",
                                                                         f"{a['t'][nm]:.2f}")])
    rows.append(["R²"] + [x for _, a in cols for x in (f"{a['r2']:.3f}", "")])
    rows.append(["months"] + [x for _, a in cols for x in (f"{a['months']}", "")])
    return header, rows


def factor_notes(metrics: dict) -> list[str]:
    """What the factor regression measured, on which data, and what it dropped."""
    fa = metrics.get("factors") or {}
    if "skipped" in fa:
        return [f"Factor attribution skipped: {fa['skipped']}."]
    if "loadings" not in fa:
        return []
    d, fd, span = fa["dropped"], fa["factor_data"], fa["factor_span"]
    notes = [f"Model: {fa['model']}, over calendar months {fa['first_month']} to {fa['last_month']} "
             f"({fa['months']} months); returns compounded from daily closes, in excess of {fa['excess_over']}.",
             f"t: {fa['hac']}; alpha per year = 12 x the monthly intercept.",
             f"Factor data: {fd.get('description') or fd.get('source')} ({fd.get('source')}), {span['first_month']} "
             f"to {span['last_month']}, sha256 {str(fd.get('sha256', ''))[:12]}.",
             f"Dropped: {d['outside_factor_span']} month(s) outside the factor data"
             + (f" ({d['outside']})" if d.get("outside") else "")
             + (f"; partial first/last month(s) {', '.join(d['partial_months'])}" if d.get("partial_months") else "")
             + "."]
    if fa.get("momentum"):
        notes.append(f"Momentum: {fa['momentum']}.")
    g = next((v for k, v in (fa.get("compared") or {}).items() if k.startswith("growth ") and "loadings" in v), None)
    if g is not None:
        delta = fa["loadings"]["hml"] - g["loadings"]["hml"]
        notes.append(f"Read: the rule's value (HML) loading is {fa['loadings']['hml']:+.2f} against {g['loadings']['hml']:+.2f} "
                     f"for holding growth: the rotation moves value exposure by {delta:+.2f}; size (SMB) "
                     f"{fa['loadings']['smb']:+.2f} vs {g['loadings']['smb']:+.2f}. An alpha t below 2 means the "
                     "return left after the factors is not distinguishable from zero.")
    return notes


NAMES_SHORT = {"mkt_rf": "market", "smb": "size", "hml": "value", "mom": "momentum"}


def factors_page(result: RunResult, metrics: dict):
    """Loadings of the rule and its references on market, size and value, with the notes."""
    W, H = FIGSIZE
    fr = factor_rows(result, metrics)
    if fr is None:
        return None
    header, rows = fr
    fa = metrics["factors"]
    with style():
        fig = _page(f"Factor attribution: {result.strategy}",
                    "Is the rotation's return a value or size loading? Monthly excess returns regressed on "
                    "Fama-French market, size and value")
        n = (len(header) - 1) // 2
        widths = [1.5] + [1.45, 0.55] * n
        width = min(7.4, sum(widths))
        bottom = _at(fig, 0.4, 1.35, width, _headers(header, 16), rows, [w * width / sum(widths) for w in widths],
                     ["left"] + ["right"] * (len(header) - 1), row_h=0.26, fontsize=9.0, gid="factor_table")
        ax = fig.add_axes([1.0 / W, 0.55 / H, (width - 0.6) / W, (H - bottom - 1.15) / H])
        names = fa["factors"]
        series = [(f"rule: {result.strategy}", fa)] + [
            (f"holding {k[len('growth '):]}" if k.startswith("growth ") else k, v)
            for k, v in (fa.get("compared") or {}).items() if "loadings" in v]
        step = 0.8 / len(series)
        for i, (label, a) in enumerate(series):
            y = np.arange(len(names)) + (i - (len(series) - 1) / 2) * step
            est = np.array([a["loadings"][nm] for nm in names])
            ax.barh(y, est, height=step * 0.9, label=label, color=f"C{i}" if i else "#1f4e79")
        ax.set_yticks(np.arange(len(names)), [NAMES_SHORT.get(nm, nm) for nm in names])
        ax.axvline(0, color="0.3", lw=0.8)
        ax.invert_yaxis()
        ax.set_title("Loadings", fontsize=10, loc="left")
        ax.legend(fontsize=8, loc="best", frameon=False)
        ax.tick_params(labelsize=8)
        col = Column(fig, width + 0.8, H - 1.25, W - width - 1.2)
        for line in factor_notes(metrics):
            col.para(line, 8.4)
            col.gap(0.07)
        _footer(fig, "Values as in metrics.json ('factors').")
    return fig


def _trade_rows(trades: pd.DataFrame) -> list[list[str]]:
    rows = []
    for t in trades.itertuples():
        side = "buy" if t.size > 0 else "sell"
        rows.append([f"{pd.Timestamp(t.date):%Y-%m-%d}", str(t.symbol), side, f"{abs(t.size):,.4f}",
                     f"{t.price:,.4f}", f"{abs(t.size) * t.price:,.2f}", f"{t.commission:,.2f}"])
    return rows


def trades_page(result: RunResult, metrics: dict, n: int = N_TRADES_SHOWN, title: str | None = None):
    """First and last ``n`` fills with the counts (from ``metrics['trades']``)."""
    tc = metrics.get("trades", {})
    with style():
        fig = _page(title or f"Trades: {result.strategy}",
                    f"{tc.get('fills', 0):,} fills ({tc.get('buys', 0):,} buys, {tc.get('sells', 0):,} sells); "
                    f"total commission {tc.get('commission', 0.0):,.2f}; "
                    f"rejected orders {metrics['metrics'].get('rejected_orders', 0)}; by symbol: "
                    + ", ".join(f"{s} {c:,}" for s, c in tc.get("by_symbol", {}).items()))
        t = result.trades.reset_index(drop=True)
        header = ["date (fill)", "symbol", "side", "shares", "fill price", "value", "commission"]
        widths = [0.15, 0.11, 0.07, 0.15, 0.16, 0.19, 0.17]
        aligns = ["left", "left", "left", "right", "right", "right", "right"]
        W, H = FIGSIZE
        if len(t) <= 2 * n:
            parts = [("All trades", t)]
        else:
            parts = [(f"First {n} trades", t.head(n)), (f"Last {n} trades", t.tail(n))]
        if not len(t):
            fig.text(0.4 / W, 0.8, "No trades.", fontsize=11)
        x0, gap = 0.4 / W, 0.3 / W
        width = (1 - 2 * x0 - gap) / len(parts)
        for i, (name, part) in enumerate(parts):
            rows = _trade_rows(part)
            row_h = 0.245 / H
            height = row_h * (len(rows) + 1)
            top = 1 - 1.45 / H
            fig.text(x0 + i * (width + gap), top + 0.05 / H, name + (
                f" (fills {part.index[0] + 1:,} to {part.index[-1] + 1:,} of {len(t):,})" if len(part) else ""),
                fontsize=11, fontweight="bold", va="bottom")
            _table(fig, [x0 + i * (width + gap), top - height, width, height], header, rows, widths, aligns,
                   fontsize=8.5 if len(parts) == 2 else 9.0, gid=f"trades-{i}")
        _footer(fig, "Fill dates and prices as executed (slippage included in the price); value = shares x fill "
                     "price; commission in account currency. Full list: trades.csv.")
    return fig


def execution_rows(result: RunResult, extra: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """``(key, value)`` lines of the fills and costs (``result.execution``)."""
    ex = result.execution
    return [
        ("fill timing", ex.get("fill_rule", ex.get("fill"))),
        ("commission", f"{ex.get('commission_bps'):g} bps of traded value"),
        ("slippage", f"{ex.get('slippage_bps'):g} bps against every fill (in the fill price)"),
        ("starting cash", f"{ex.get('cash'):,.0f}"),
        ("cash buffer", f"{ex.get('cash_buffer'):.2%} of value kept in cash when rebalancing, for costs"),
        ("rebalancing", f"when the target changes, the rule asks, or a weight drifts more than "
                        f"{ex.get('drift_tolerance'):.2%} from target"),
        ("sizing", ex.get("sizing")),
        ("benchmark", ex.get("benchmark") or "none"),
        *([("growth reference", ex["growth"])] if ex.get("growth") else []),
        ("rejected orders", str(ex.get("rejected_orders", 0))),
        *(extra or []),
    ]


def close_only_notes(result: RunResult) -> list[str]:
    """One line per close-only symbol (how its orders fill, its data notes); empty if none."""
    out = []
    for s, m in result.provenance.get("symbols", {}).items():
        if m.get("close_only"):
            notes = "; ".join(m.get("notes", []))
            out.append(f"{s}: open = high = low = close, so orders fill at the next close and the "
                       f"intraday range is unknown." + (f" Data notes: {notes}." if notes else ""))
    return out


def metric_definitions(metrics: dict) -> list[str]:
    """How the metrics are computed, one statement each."""
    return [
        "Daily returns are day-to-day changes of the end-of-day portfolio value, from the first "
        f"trading date ({metrics.get('returns_from')} is the first return).",
        f"Annualised figures use {metrics['periods_per_year']} periods a year; risk-free rate "
        f"{metrics['risk_free']:g} a day (empyrical-reloaded conventions).",
        "CAGR, volatility, Sharpe, Sortino, Calmar, max drawdown, alpha and beta as empyrical-reloaded "
        "defines them (computed here, tested equal to it); tracking error is the annual volatility of "
        "the daily return difference; information ratio is its excess Sharpe times the square root of "
        "the periods a year.",
        "Drawdown lengths and holding periods count trading days; a drawdown not recovered by the "
        "end is measured to the last date.",
        "Annual turnover: traded value (buys and sells) / 2 / that day's portfolio value, summed, "
        "per year. Exposure: average invested weight. Monthly hit rate: share of calendar months "
        "with a positive return (partial first and last months included).",
        "The benchmark is its close rebased to the starting cash, held without costs; holding growth "
        "is the rule's growth basket bought on the first day and held, without costs.",
    ]


def execution_page(result: RunResult, metrics: dict, extra: list[tuple[str, str]] | None = None):
    ex = result.execution
    with style():
        fig = _page("Execution assumptions and method",
                    "How target weights became fills, what the costs were, and how the metrics are defined")
        W, H = FIGSIZE
        left = Column(fig, 0.4, H - 1.15, 5.6)
        left.heading("Fills and costs")
        left.kv(execution_rows(result, extra), size=10)
        left.heading("Fill price by symbol")
        left.kv(list(ex.get("fills_by_symbol", {}).items()), size=10)
        left.heading("Close-only feeds")
        for line in close_only_notes(result) or ["None: every symbol has open, high, low and close."]:
            left.para(line, size=10)
        right = Column(fig, 6.35, H - 1.15, W - 6.35 - 0.4)
        right.heading("How the metrics are computed")
        for d in metric_definitions(metrics):
            right.para("- " + d, size=9.6)
            right.gap(0.04)
        al = result.provenance.get("alignment", {})
        if al:
            right.heading("Calendar alignment")
            right.para(al.get("description", ""), size=9.6)
        _footer(fig, "See README 'Execution assumptions'. A decision at the close of day t sees data through t only.")
    return fig


def figure_pages(result: RunResult, color: str | None = None) -> list:
    """The report's figures, in order (the signal figure only for signal strategies)."""
    from reports import figures as F
    figs = [F.equity_figure(result, color=color), F.underwater_figure(result, color=color),
            F.allocation_figure(result), F.signal_figure(result), F.rolling_figure(result, color=color),
            F.monthly_figure(result, color=color)]
    return [f for f in figs if f is not None]


#: Pages whose every string the PDF's standard fonts can show (WinAnsi) are set in Helvetica and
#: Courier, which every PDF reader has: nothing is embedded, the text stays text, and binding
#: takes a third of the time. A page with any other character embeds DejaVu (TrueType subsets).
CORE_FONTS = {"pdf.use14corefonts": True, "font.family": "sans-serif", "font.sans-serif": ["Helvetica"],
              "font.monospace": ["Courier"], "axes.unicode_minus": False}


def _winansi(fig) -> bool:
    """Every string of ``fig`` is one the standard PDF fonts can show (and none is mathtext)."""
    from matplotlib.text import Text
    for t in fig.findobj(Text):
        s = t.get_text()
        if not s:
            continue
        if "$" in s:  # mathtext: its own fonts
            return False
        try:
            s.encode("cp1252")
        except UnicodeEncodeError:
            return False
    return True


class _QuietCoreFonts(logging.Filter):
    """matplotlib names the standard Helvetica "Medium" and says so for every normal-weight text."""

    def filter(self, record) -> bool:
        return "Failed to find font weight" not in record.getMessage()


def pdf_bytes(pages: list, title: str = "Rotation Lab report") -> bytes:
    """Bind ``pages`` into PDF bytes, deterministically, and close the figures. An item is a
    figure, a :class:`PngPage`, or a callable returning an iterable of them (e.g. chart pages
    whose PNGs another process is still drawing): the figures are set first (text in the standard
    PDF fonts where it can be: :data:`CORE_FONTS`), the callables' pages after them, and the
    pages are put in the order given."""
    buf = io.BytesIO()
    quiet = _QuietCoreFonts()
    log = logging.getLogger("matplotlib.font_manager")
    log.addFilter(quiet)
    slots: list = [[] for _ in pages]  # the pages of each item: ("fig", page in the file) or ("png", bytes)
    n_figs = 0
    try:
        with style(), PdfPages(buf, metadata={"Title": title, "Creator": "Rotation Lab", "CreationDate": None,
                                              "ModDate": None}) as pdf:
            def place(i, page):
                nonlocal n_figs
                if isinstance(page, PngPage):
                    slots[i].append(("png", page.png))
                    return
                with plt.rc_context(CORE_FONTS if _winansi(page) else {}):
                    pdf.savefig(page)
                plt.close(page)
                slots[i].append(("fig", n_figs))
                n_figs += 1

            for i, item in enumerate(pages):
                if not callable(item):
                    place(i, item)
            for i, item in enumerate(pages):
                if callable(item):
                    for page in item():
                        place(i, page)
    finally:
        log.removeFilter(quiet)
    order = [page for slot in slots for page in slot]
    figures = buf.getvalue()
    if order == [("fig", k) for k in range(n_figs)]:
        return figures
    return bind([("pdf", (figures, what)) if kind == "fig" else (kind, what) for kind, what in order], title)


def write_pdf(pages: list, path, title: str = "Rotation Lab report") -> Path:
    """Bind ``pages`` into ``path`` (a file path, or ``(folder, name)``)."""
    data = pdf_bytes(pages, title)
    if isinstance(path, tuple):
        folder, name = path
        return folder.write_bytes(name, data)
    return atomic_write_bytes(path, data)


__all__ = ["Column", "PngPage", "cover_page", "execution_page", "figure_pages", "headline", "metrics_page",
           "tearsheet_pages", "factor_rows", "factor_notes", "factors_page", "trades_page", "warning_lines", "write_pdf"]
