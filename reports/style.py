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


def blank_figure(figsize=FIGSIZE, layout=None):
    """A slide-sized figure with an Agg canvas, not registered with pyplot: nothing global keeps
    it alive, so a pure figure function leaks nothing (pyplot.close is still harmless)."""
    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def new_figure(nrows=1, ncols=1, figsize=FIGSIZE, **kw):
    """A slide-sized figure with constrained layout and its axes (like ``pyplot.subplots``)."""
    fig = blank_figure(figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, **kw)
