"""The outputs of a finished sweep: ``heatmap.png``, ``top.csv`` and ``report.pdf``.

Everything is read from ``sweep.csv`` (through :func:`rotationlab.sweeps.load_rows`); the only
backtest run here is the best combination again, in this process, for its equity curve and the
benchmark's value of the metric (the rows themselves are never recomputed).

* :func:`heatmap_figure`: two swept parameters and a metric; with more than two swept
  parameters each cell shows the best value over the others.
* :func:`distribution_figure`: the metric across every combination, with the median, the best
  and the benchmark marked.
* :func:`top_table`: the N best combinations.
* :func:`write_sweep_report`: all of it into the sweep's folder.
"""

from __future__ import annotations


import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from reports import metrics as M  # noqa: E402
from reports import pdf as P  # noqa: E402
from reports.style import png_bytes  # noqa: E402
from rotationlab.procs import Helper  # noqa: E402
from reports.style import FIGSIZE, TRIGGER_COLOR, new_figure, style  # noqa: E402
from rotationlab import sweeps as S  # noqa: E402

KINDS = {k: kind for k, _, kind in M.METRIC_ROWS} | {"rejected_orders": "int"}
LABELS = {k: label for k, label, _ in M.METRIC_ROWS} | {"rejected_orders": "Rejected orders"}
#: Metrics shown in the top-N table besides the ranking metric.
TOP_METRICS = ("cagr", "sharpe", "max_drawdown", "excess_cagr", "n_trades")


def label_of(metric: str) -> str:
    return LABELS.get(metric, metric)


def fmt(value, metric: str) -> str:
    return M.fmt(value, KINDS.get(metric, "ratio"))


def value_text(v) -> str:
    """A parameter value for axes and tables (lists as ``A+B``)."""
    if isinstance(v, (tuple, list)):
        return "+".join(map(str, v)) or "(none)"
    if v == "":
        return "(none)"
    return S.cell(v)


from rotationlab.sweeps import parse_heatmap, top_table  # noqa: E402,F401  (re-exported)


# -- figures -----------------------------------------------------------------------------------
#: Metrics whose natural centre is zero (differences from the benchmark, returns).
ZERO_CENTRED = frozenset({"excess_cagr", "alpha", "information_ratio", "total_return", "cagr", "sharpe",
                          "sortino", "calmar", "monthly_hit_rate"})


def heat_center(metric: str, benchmark_value: float | None) -> tuple[float | None, str]:
    """The value the heatmap's colours diverge from: the benchmark's value of the metric where
    known, zero for excess metrics, none for counts and costs."""
    if metric in ("excess_cagr", "alpha", "information_ratio"):
        return 0.0, "0 (the benchmark)"
    if benchmark_value is not None and np.isfinite(benchmark_value) and metric not in ("n_trades", "n_rotations",
                                                                                       "rejected_orders"):
        return float(benchmark_value), f"the benchmark ({fmt(benchmark_value, metric)})"
    if metric == "monthly_hit_rate":
        return 0.5, "50%"
    if metric in ZERO_CENTRED:
        return 0.0, "0"
    return None, ""


def colorbar_tick(v: float, metric: str) -> str:
    """A value of the colour scale: percent for percent metrics (one decimal), else two decimals."""
    return f"{v:.1%}" if KINDS.get(metric) == "pct" else f"{v:.2f}"


def heatmap_matrix(frame: pd.DataFrame, spec: S.SweepSpec, x: str, y: str | None, metric: str):
    """``(matrix rows=y values, cols=x values, x values, y values)``; each cell the best
    ``metric`` over the rows with that (x, y) (NaN where there are none)."""
    ax_x = next(a for a in spec.axes if a.name == x)
    xs = list(ax_x.values)
    ys = list(next(a for a in spec.axes if a.name == y).values) if y else [None]
    ok = frame[(frame["error"] == "") & frame[metric].notna()]
    lower = metric in S.LOWER_IS_BETTER
    mat = np.full((len(ys), len(xs)), np.nan)
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            sel = ok[ok[x].map(lambda v: v == xv)]
            if y:
                sel = sel[sel[y].map(lambda v: v == yv)]
            if len(sel):
                mat[i, j] = sel[metric].min() if lower else sel[metric].max()
    return mat, xs, ys


def heat_scale(mat: np.ndarray, metric: str, benchmark_value: float | None = None) -> dict:
    """The heatmap's colour scale, shared by heatmap.png and report.html: ``vmin``, ``vmax``,
    ``center`` (None: not centred) with its ``center_label``, and ``lower`` (lower is better).

    Diverging from :func:`heat_center`, the range is the centre plus and minus the data's spread
    (robust: the 95th percentile of the distance from the centre), so the centre is the middle
    colour; without a centre (or a spread) it is the data's range."""
    lower = metric in S.LOWER_IS_BETTER
    finite = mat[np.isfinite(mat)]
    center, center_label = heat_center(metric, benchmark_value)
    if finite.size:
        spread = float(np.quantile(np.abs(finite - center), 0.95)) if center is not None else 0.0
        if center is None or not spread > 0:
            vmin, vmax = float(finite.min()), float(finite.max())
        else:
            vmin, vmax = center - spread, center + spread
    else:
        vmin, vmax = 0.0, 1.0
    if vmin == vmax:
        vmin, vmax = vmin - 0.5 * (abs(vmin) or 1), vmax + 0.5 * (abs(vmax) or 1)
    if center is not None and not vmin < center < vmax:
        center, center_label = None, ""
    return {"vmin": vmin, "vmax": vmax, "center": center, "center_label": center_label, "lower": lower}


def best_cell(mat: np.ndarray, metric: str) -> tuple[int, int] | None:
    """``(row, column)`` of the best finite cell (None if there is none)."""
    if not np.isfinite(mat).any():
        return None
    lower = metric in S.LOWER_IS_BETTER
    flat = np.where(np.isfinite(mat), mat, np.inf if lower else -np.inf)
    i, j = np.unravel_index(np.argmin(flat) if lower else np.argmax(flat), mat.shape)
    return int(i), int(j)


def heatmap_figure(frame: pd.DataFrame, spec: S.SweepSpec, x: str, y: str | None, metric: str,
                   benchmark_value: float | None = None):
    """The metric over two swept parameters, on a diverging colour scale centred on the
    benchmark's value of the metric (or on zero for excess metrics), its range set by the data's
    spread (:func:`heat_scale`); the centre is marked on the colour bar."""
    mat, xs, ys = heatmap_matrix(frame, spec, x, y, metric)
    lower = metric in S.LOWER_IS_BETTER
    others = [n for n in spec.names if n not in (x, y)]
    with style():
        fig, ax = new_figure()
        cmap = plt.get_cmap("RdYlGn_r" if lower else "RdYlGn").with_extremes(bad="#e6e6e6")
        sc = heat_scale(mat, metric, benchmark_value)
        vmin, vmax, center, center_label = sc["vmin"], sc["vmax"], sc["center"], sc["center_label"]
        norm = mcolors.TwoSlopeNorm(center, vmin, vmax) if center is not None else mcolors.Normalize(vmin, vmax)
        im = ax.imshow(np.ma.masked_invalid(mat), cmap=cmap, norm=norm, origin="lower",
                       aspect="auto", interpolation="nearest")
        im.set_gid("heatmap")
        ax.set_xticks(range(len(xs)), [value_text(v) for v in xs], rotation=0 if len(xs) <= 12 else 60)
        ax.set_yticks(range(len(ys)), [value_text(v) for v in ys] if y else [""])
        ax.grid(False)
        ax.set_xlabel(x)
        ax.set_ylabel(y or "")
        cells = mat.size
        if cells <= 400:
            size = 10 if cells <= 60 else 8 if cells <= 150 else 6.5
            for i in range(mat.shape[0]):
                for j in range(mat.shape[1]):
                    v = mat[i, j]
                    if np.isfinite(v):
                        shade = float(norm(v))
                        ax.text(j, i, fmt(v, metric), ha="center", va="center", fontsize=size,
                                color="white" if shade < 0.15 or shade > 0.85 else "black")
                    else:
                        ax.text(j, i, "-", ha="center", va="center", fontsize=size, color="0.45")
        best = best_cell(mat, metric)
        if best is not None:
            bi, bj = best
            ax.add_patch(Rectangle((bj - 0.5, bi - 0.5), 1, 1, fill=False, lw=2.5, ec="black", gid="best"))
        bar = fig.colorbar(im, ax=ax, pad=0.01, fraction=0.05)
        bar.set_label(label_of(metric) + (" (lower is better)" if lower else "")
                      + (f"; centred on {center_label}" if center is not None else ""))
        if KINDS.get(metric) == "pct":
            span = vmax - vmin
            bar.ax.yaxis.set_major_formatter(mticker.PercentFormatter(
                xmax=1.0, decimals=0 if span >= 0.05 else 1 if span >= 0.005 else 2))
        if center is not None:  # the centre: a line across the bar and a bold tick "<value> centre"
            bar.ax.axhline(center, color="black", lw=1.6, gid="center")
            ticks = [t for t in bar.get_ticks() if vmin <= t <= vmax and abs(t - center) > 0.07 * (vmax - vmin)]
            bar.set_ticks(sorted([*ticks, center]))
            bar.ax.yaxis.set_major_formatter(mticker.FuncFormatter(
                lambda v, _p: colorbar_tick(v, metric) + (" centre" if abs(v - center) <= 1e-12 * (1 + abs(v)) else "")))
            for t in bar.ax.get_yticklabels():
                if t.get_text().endswith(" centre"):
                    t.set_fontweight("bold")
        by = f" by {x} and {y}" if y else f" by {x}"
        ax.set_title(f"{label_of(metric)}{by}: {spec.base.strategy}, {len(frame)} combinations")
        notes = []
        if others:
            notes.append(f"each cell: the {'lowest' if lower else 'best'} value over {', '.join(others)}")
        notes.append("black box: best cell; gray '-': no combination (constraint) or failed")
        fig.text(0.5, 0.005, "; ".join(notes), ha="center", va="bottom", fontsize=9, color="0.3")
        fig.get_layout_engine().set(h_pad=0.25)
    return fig


def distribution_figure(frame: pd.DataFrame, metric: str, benchmark_value=None, strategy: str = ""):
    vals = frame.loc[(frame["error"] == "") & frame[metric].notna(), metric].to_numpy(dtype=float)
    lower = metric in S.LOWER_IS_BETTER
    with style():
        fig, ax = new_figure()
        if len(vals):
            bins = min(40, max(5, int(np.sqrt(len(vals)) * 2)))
            lo, hi = float(vals.min()), float(vals.max())
            if lo == hi:
                lo, hi = lo - 0.5 * (abs(lo) or 1), hi + 0.5 * (abs(hi) or 1)
            ax.hist(vals, bins=np.linspace(lo, hi, bins + 1), color="#1f77b4", alpha=0.75, edgecolor="white",
                    label=f"{len(vals)} combinations", gid="hist")
            med = float(np.median(vals))
            best = float(vals.min() if lower else vals.max())
            ax.axvline(med, color="0.2", ls="--", lw=1.3, label=f"median {fmt(med, metric)}")
            ax.axvline(best, color=TRIGGER_COLOR, lw=1.8, label=f"best {fmt(best, metric)}")
            if benchmark_value is not None and np.isfinite(benchmark_value):
                ax.axvline(benchmark_value, color="#9467bd", lw=1.8, ls=":",
                           label=f"benchmark buy and hold {fmt(benchmark_value, metric)}")
            ax.plot(vals, np.zeros_like(vals), "|", color="0.25", ms=12, alpha=0.6, gid="rug")
        else:
            ax.text(0.5, 0.5, "no combination has a value", transform=ax.transAxes, ha="center")
        if KINDS.get(metric) == "pct":
            span = float(vals.max() - vals.min()) if len(vals) else 1.0
            ax.xaxis.set_major_formatter(mticker.PercentFormatter(
                xmax=1.0, decimals=0 if span >= 0.05 else 1 if span >= 0.005 else 2))
        ax.set_xlabel(label_of(metric) + (" (lower is better)" if lower else ""))
        ax.set_ylabel("combinations")
        ax.yaxis.set_major_locator(mticker.MaxNLocator(integer=True))
        ax.set_title(f"Distribution of {label_of(metric)} across the sweep: {strategy}")
        h, lab = ax.get_legend_handles_labels()
        if h:
            fig.legend(h, lab, loc="outside lower center", ncols=len(h), frameon=False)
    return fig


# -- tables ------------------------------------------------------------------------------------
def top_csv(top: pd.DataFrame, spec: S.SweepSpec) -> str:
    rows = [list(top.columns)]
    whole = [KINDS.get(c) in ("int", "days") for c in top.columns]
    for rec in top.itertuples(index=False):
        rows.append([str(int(v)) if w and isinstance(v, float) and np.isfinite(v) else S.cell(v)
                     for v, w in zip(rec, whole)])
    return "".join(S._line(r) for r in rows)


def top_text(top: pd.DataFrame, spec: S.SweepSpec, metric: str, width: int = 12) -> str:
    """The top table as plain aligned text (printed by the CLI)."""
    cols = list(top.columns[:-1])  # without combo_id
    cells = [[str(r["rank"]), *(value_text(r[n]) for n in spec.names),
              *(fmt(r[m], m) for m in cols[1 + len(spec.names):])] for _, r in top.iterrows()]
    head = cols
    widths = [max(len(str(h)), *(len(c[i]) for c in cells)) if cells else len(str(h)) for i, h in enumerate(head)]
    lines = ["  ".join(str(h).rjust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


# -- PDF pages ---------------------------------------------------------------------------------
def _grid_text(axis) -> str:
    vals = [value_text(v) for v in axis.values]
    text = ", ".join(vals)
    return f"{text}  ({len(vals)} values{'; execution setting' if axis.kind == 'execution' else ''})"


def rule_with_blanks(cls, values: dict, swept) -> str:
    """The strategy's rule sentence with each swept parameter shown as ``[name]``."""
    import re
    template = cls.rule
    for n in swept:
        template = re.sub(r"\{" + re.escape(n) + r"(?:[:!][^{}]*)?\}", f"[{n}]", template)
    v = {**cls.defaults(), **values}
    shown = {k: ((",".join(map(str, x)) or "equal") if isinstance(x, (tuple, list)) else x) for k, x in v.items()}
    return template.format(**shown)


def cover_page(spec: S.SweepSpec, frame: pd.DataFrame, manifest: dict, best_result, metric: str, outcome):
    for k in (1.0, 0.92, 0.85, 0.78, 0.72, 0.66, 0.6, 0.55):
        fig, overflow = _cover(spec, frame, manifest, best_result, metric, outcome, k)
        if not overflow:
            break
        plt.close(fig)
    return fig


def _cover(spec, frame, manifest, best_result, metric, outcome, k):
    from rotationlab.config import resolve_params
    cls, values = resolve_params(spec.base.strategy, spec.base.params)
    swept = {a.name for a in spec.axes}
    rule = rule_with_blanks(cls, values, swept)
    ok = frame[frame["error"] == ""]
    n_fail = int((frame["error"] != "").sum())
    W, H = FIGSIZE
    with style():
        fig = P._page(f"Rotation Lab sweep: {spec.base.strategy}",
                      f"{len(frame):,} combinations of {', '.join(spec.names)} ({spec.grid_size:,} in the grid"
                      f"{', ' + str(spec.grid_size - len(spec.combos)) + ' left out by the constraint' if spec.constraint else ''}"
                      f"{', ' + str(n_fail) + ' failed' if n_fail else ''}); ranked by {label_of(metric)}; "
                      f"data source {spec.base.source}")
        top, bottom = H - 1.0, 0.75
        left = P.Column(fig, 0.4, top, 5.5, bottom)
        left.heading("The rule", 12.5 * k)
        left.para(rule + " Bracketed parameters are swept.", size=10.5 * k)
        left.heading("Grid", 12.5 * k)
        left.kv([(a.name, _grid_text(a)) for a in spec.axes], size=9.3 * k)
        if spec.constraint:
            left.kv([("constraint", spec.constraint)], size=9.3 * k, mono_values=True)
        left.heading("Fixed parameters", 12.5 * k)
        fixed = [(n, P._param_text(v)) for n, v in values.items() if n not in swept]
        left.kv(fixed or [("(none)", "every parameter is swept")], size=8.8 * k)
        ex = spec.base.execution
        left.heading("Costs and execution", 12.5 * k)
        left.kv([("fill", ex.fill), ("commission", f"{ex.commission_bps:g} bps"),
                 ("slippage", f"{ex.slippage_bps:g} bps"), ("benchmark", spec.base.benchmark or "none")],
                size=8.8 * k)
        right = P.Column(fig, 6.2, top, W - 6.2 - 0.4, bottom)
        right.heading("Result", 12.5 * k)
        if len(ok):
            best = S.ranked(ok, metric).iloc[0]
            vals = ok[metric].dropna()
            right.kv([("best", ", ".join(f"{n}={value_text(best[n])}" for n in spec.names)),
                      (label_of(metric), f"best {fmt(best[metric], metric)}, median {fmt(vals.median(), metric)}, "
                                         f"worst {fmt(vals.max() if metric in S.LOWER_IS_BETTER else vals.min(), metric)}")],
                     size=9.3 * k)
        else:
            right.para("Every combination failed; see the error column of sweep.csv.", size=9.5 * k)
        right.heading("Period", 12.5 * k)
        tf = sorted(set(ok["trade_from"])) if len(ok) else []
        tt = sorted(set(ok["trade_to"])) if len(ok) else []
        span = (f"{tf[0]} to {tt[-1]}" if len(tf) == 1 and len(tt) == 1 else
                f"starts {tf[0]} to {tf[-1]}, ends {tt[0]} to {tt[-1]} (warm-up differs by combination)") if tf else "-"
        right.kv([("trading", span), ("requested", f"{spec.base.start or 'data start'} to {spec.base.end or 'data end'}")],
                 size=9.3 * k)
        right.heading("Data provenance", 12.5 * k)
        P.provenance_block(right, best_result.provenance if best_result is not None else
                           {"symbols": manifest.get("data", {}).get("symbols", {})}, k)
        right.kv([("data hash", manifest.get("data", {}).get("hash", "")[:32]),
                  ("config hash", manifest.get("config", {}).get("config_hash", "")[:32])], size=8.3 * k)
        foot = P.Column(fig, 0.4, bottom - 0.02, W - 0.8, 0.3)
        git = manifest.get("git") or {}
        commit = f"; git {git.get('commit', '')[:12]}{' (modified)' if git.get('dirty') else ''}" if git else ""
        versions = manifest.get("versions") or (best_result.versions if best_result is not None else {})
        foot.para("Versions: " + P.versions_text(versions) + commit, size=8.0, color="0.2")
        P._footer(fig, "Rotation Lab sweep. Every number is read from sweep.csv in the same folder; "
                       "manifest.json records the config, data hashes and versions.")
    return fig, left.overflow or right.overflow or foot.overflow


def top_page(top: pd.DataFrame, spec: S.SweepSpec, metric: str, total: int):
    shown = top.head(20)
    names = spec.names
    metric_cols = list(top.columns[1 + len(names):-1])
    header = ["#", *names, *(label_of(m) if m != metric else f"{label_of(m)} (ranked)" for m in metric_cols)]
    rows = [[str(r["rank"]), *(value_text(r[n]) for n in names), *(fmt(r[m], m) for m in metric_cols)]
            for _, r in shown.iterrows()]
    # column widths in characters: the longer of the bold header and the cells, plus padding
    lens = [max(len(h) * 1.1, *(len(row[i]) for row in rows)) + 2 if rows else len(h) + 2
            for i, h in enumerate(header)]
    lens[0] = max(3.0, lens[0] - 1)
    widths = lens
    aligns = ["right", *(["left"] * len(names)), *(["right"] * len(metric_cols))]
    W, H = FIGSIZE
    with style():
        fig = P._page(f"Top {len(shown)} of {total:,} combinations by {label_of(metric)}",
                      f"{spec.base.strategy}; swept {', '.join(names)}; failed combinations left out; "
                      "ties in grid order")
        row_h = 0.24 / H
        height = row_h * (len(rows) + 1)
        top_y = 1 - 1.3 / H
        avail = W - 0.8
        hdr_size = 9.0
        while sum(widths) * hdr_size * 0.62 / 72 > avail and hdr_size > 6.5:  # shrink to fit the page
            hdr_size -= 0.5
        width = min(avail, sum(widths) * hdr_size * 0.62 / 72) / W
        P._table(fig, [0.4 / W, top_y - height, width, height], header, rows, widths, aligns,
                 fontsize=hdr_size, gid="top")
        if len(top) > len(shown):
            fig.text(0.4 / W, top_y - height - 0.25 / H, f"{len(top)} rows in top.csv; the first 20 are shown.",
                     fontsize=9, color="0.3", va="top")
        P._footer(fig, "Values as in sweep.csv; percent metrics as fractions there. Full table: top.csv; "
                       "every combination: sweep.csv.")
    return fig


# -- writing -----------------------------------------------------------------------------------
def _sweep_html(*args) -> str:
    from reports.html import sweep_html
    return sweep_html(*args)


def write_sweep_report(sweep, folder, heatmap: tuple | None = None, top: int = 10, pdf: bool = True,
                       html: bool = True, best: dict | None = None) -> dict:
    """Write ``heatmap.png``, ``top.csv`` and (if ``pdf``) ``report.pdf`` (and ``report.html``)
    into ``folder``, from the finished sweep (its rows, overfitting statistics and best row, all
    computed by the core). Returns ``{"frame", "top", "heatmap"}``."""
    from reports.overfit_page import overfitting_page
    spec, frame = sweep.spec, sweep.frame
    manifest = sweep.outcome.manifest
    x, y, hmetric = heatmap or parse_heatmap(None, spec)
    metric = spec.metric
    table = top_table(frame, spec, metric, top)
    folder.write_text("top.csv", top_csv(table, spec))
    best_result = best["result"] if best else None
    bench_value = None
    if best:
        bench_value = (best["metrics"].get("benchmark_metrics") or {}).get(metric)

    def charts():  # drawn once each, in another process while the text pages render
        from reports import figures as F
        figs = {"heatmap": heatmap_figure(frame, spec, x, y, hmetric,
                                          benchmark_value=bench_value if hmetric == metric else None)}
        if pdf:
            figs["distribution"] = distribution_figure(frame, metric, bench_value, spec.base.strategy)
            if best_result is not None:
                figs["best"] = F.equity_figure(best_result, label=f"best: {best['combo'].label(spec.axes)}")
        out = {}
        for name, fig in figs.items():
            out[name] = png_bytes(fig)
            plt.close(fig)
        return out

    other = Helper(charts)
    try:
        pngs: dict = {}
        page_html: list = []

        def image(name):
            def pages():
                if not pngs:
                    if html:
                        page_html.append(_sweep_html(sweep, table, (x, y, hmetric), best, bench_value))
                    pngs.update(other.get())
                return [P.PngPage(pngs[name])] if name in pngs else []
            return pages

        if pdf:
            pages = [cover_page(spec, frame, manifest, best_result, metric, sweep.outcome), image("heatmap"),
                     top_page(table, spec, metric, len(frame)), image("distribution"), image("best")]
            if sweep.overfitting:
                pages.append(overfitting_page(sweep.overfitting, spec.base.strategy))
            data = P.pdf_bytes(pages, title=f"Rotation Lab sweep: {spec.base.strategy}")
        else:
            image("heatmap")()
        folder.write_bytes("heatmap.png", pngs["heatmap"])
        if pdf:
            folder.write_bytes("report.pdf", data)
        if html:
            folder.write_text("report.html", page_html[0])
    finally:
        other.close()
    return {"frame": frame, "top": table, "heatmap": (x, y, hmetric)}
