"""One look for every figure and PDF page: sizes, fonts, colors, date axes.

Colors are fixed per strategy (registry key) so a strategy has the same color in every figure of
a run report and of a comparison; the benchmark is always dark gray, rotation episodes amber.
"""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

#: Slide-sized pages (16:9, inches) and PNG resolution: 1800 x 1013 pixels.
FIGSIZE = (12.0, 6.75)
DPI = 150

BENCHMARK_COLOR = "#4d4d4d"
GROWTH_COLOR = "#138d75"       # buy-and-hold of the rule's growth basket
ROTATED_COLOR = "#f2b134"       # shading of rotation episodes
TRIGGER_COLOR = "#d62728"       # trigger markers, worst-drawdown marks
CASH_COLOR = "#d9d9d9"

STRATEGY_COLORS = {
    "dow_nasdaq_divergence": "#1f77b4",
    "static_blend": "#ff7f0e",
    "always_rotated": "#2ca02c",
    "buy_and_hold": "#9467bd",
    "momentum_rotation": "#8c564b",
    "golden_cross_timing": "#e377c2",
}
#: For a second instance of a key (two parameter sets) or unknown keys, in this order.
EXTRA_COLORS = ["#17becf", "#bcbd22", "#7f3b08", "#053061", "#c51b7d", "#35978f", "#762a83", "#a6611a"]

#: Symbol colors in allocation charts (pastel, distinct from the strategy colors).
SYMBOL_COLORS = ["#80b1d3", "#fdb462", "#b3de69", "#bebada", "#fb8072", "#8dd3c7", "#fccde5", "#bc80bd",
                 "#ccebc5", "#ffed6f"]

RC = {
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.framealpha": 0.9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "pdf.fonttype": 42,          # TrueType: text in the PDF is real, extractable text
    "svg.hashsalt": "rotationlab",
}


@contextmanager
def style():
    """Apply the report style to figures created inside (no global rcParams change)."""
    with plt.rc_context(RC):
        yield


def strategy_colors(items) -> dict:
    """``{label: color}`` for ``items`` = iterable of (label, strategy key), stable and distinct."""
    out, used, extra = {}, set(), iter(EXTRA_COLORS * 4)
    for label, key in items:
        c = STRATEGY_COLORS.get(key)
        if c is None or c in used:
            c = next(c for c in extra if c not in used)
        used.add(c)
        out[label] = c
    return out


def color_of(key: str) -> str:
    return STRATEGY_COLORS.get(key, EXTRA_COLORS[0])


def symbol_colors(symbols) -> dict:
    return {s: SYMBOL_COLORS[i % len(SYMBOL_COLORS)] for i, s in enumerate(symbols)}


def date_axis(ax) -> None:
    """Concise, readable date ticks (years on long spans, months on short ones)."""
    loc = mdates.AutoDateLocator(minticks=5, maxticks=12)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc, show_offset=False))
    ax.margins(x=0.01)


def pct_axis(ax, decimals: int = 0, axis: str = "y") -> None:
    f = mticker.PercentFormatter(xmax=1.0, decimals=decimals)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(f)


def period_text(result) -> str:
    p = result.provenance.get("period", {})
    return f"{p.get('trade_from', result.equity.index[0].strftime('%Y-%m-%d'))} to " \
           f"{p.get('trade_to', result.equity.index[-1].strftime('%Y-%m-%d'))}"


def png_bytes(fig, dpi: int = DPI) -> bytes:
    """``fig`` as PNG bytes at ``dpi``: 8-bit RGB (the pages are opaque), zlib level 1, no
    timestamp or software metadata (the figure stays open). A PDF takes these pixels as they
    are (reports.binding.PngPage)."""
    import io

    import numpy as np
    from PIL import Image
    with style():
        fig.set_dpi(dpi)
        fig.canvas.draw()
        rgb = np.ascontiguousarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="png", compress_level=1)
    return buf.getvalue()


def blank_figure(figsize=FIGSIZE, layout=None):
    """A slide-sized figure with an Agg canvas, not registered with pyplot: nothing global keeps
    it alive, so a pure figure function leaks nothing (pyplot.close is still harmless)."""
    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def new_figure(nrows=1, ncols=1, figsize=FIGSIZE, fixed: bool = False, **kw):
    """A slide-sized figure and its axes (like ``pyplot.subplots``), laid out by constrained
    layout, or (``fixed``) left for :func:`fixed_layout` to place: a fixed layout costs nothing
    to compute, where constrained layout measures every tick label twice (a third of a chart's
    drawing time)."""
    fig = blank_figure(figsize, layout=None if fixed else "constrained")
    return fig, fig.subplots(nrows, ncols, **kw)


#: Heights in inches of what surrounds the axes of a fixed layout: a line of a figure or axes
#: title (13 pt bold), a line of a panel title (11 pt), a legend row, the date tick labels under
#: the axes, the page's edge.
TITLE_LINE, PANEL_LINE, LEGEND_ROW, TICK_LABELS, EDGE = 0.23, 0.2, 0.235, 0.32, 0.1


def fixed_layout(fig, *, top: float, bottom: float, left: float = 0.8, right: float = 0.15, gap: float = 0.0) -> None:
    """Place a :func:`new_figure` ``fixed`` figure's grid of axes within margins given in inches,
    with ``gap`` inches between rows and between columns."""
    W, H = fig.get_size_inches()
    gs = fig.axes[0].get_gridspec()
    nrows, ncols = gs.get_geometry()
    avg_h = (H - top - bottom - gap * (nrows - 1)) / nrows
    avg_w = (W - left - right - gap * (ncols - 1)) / ncols
    fig.subplots_adjust(left=left / W, right=1 - right / W, top=1 - top / H, bottom=bottom / H,
                        hspace=gap / avg_h if nrows > 1 else 0.0, wspace=gap / avg_w if ncols > 1 else 0.0)
