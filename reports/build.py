"""A run report's pages, set with matplotlib and plotly: the charts (one PNG each, in page order),
the PDF's text pages (before and after the charts) and report.html.

Pure layout: the metrics and statistics come with the run (``run.metrics``, computed by the
core); nothing here runs an engine or a statistic. :mod:`reports.run_report` writes the folder,
with these functions running in helper processes.
"""

from __future__ import annotations

import threading

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from reports import figures as F  # noqa: E402
from reports import pdf as P  # noqa: E402
from reports.run_report import CHARTS  # noqa: E402
from reports.style import blank_figure, png_bytes  # noqa: E402

#: The figure function of each chart of a run report (its PNG file is named after it; the names
#: and their page order are reports.run_report.CHARTS; the signal figure only for signal
#: strategies).
FIGURES = {name: getattr(F, f"{name}_figure") for name in CHARTS}

#: One drawing at a time in a process (matplotlib's style context is global): helpers are
#: processes, but a helper that could not fork does its work in a thread of the caller.
_DRAWING = threading.Lock()


def warm_up_pages() -> None:
    warm_up(pages=True)


def warm_up(pages: bool = False) -> None:
    """What a report helper does before its work arrives: import the plotting modules (and, for
    the pages helper, the page modules and plotly) and read the fonts (the first text drawn loads
    them)."""
    import rotationlab.results  # noqa: F401 - to unpickle the result
    if pages:
        import reports.html  # noqa: F401
        import reports.stats_page  # noqa: F401
        import rotationlab.api  # noqa: F401 - to unpickle the run (its settings)
    fig = blank_figure()
    fig.text(0.5, 0.5, "Rotation Lab 0.50%", fontweight="bold")
    fig.text(0.5, 0.2, "monospace 0.50%", family="monospace")
    png_bytes(fig, dpi=20)
    plt.close(fig)
    import gc
    gc.collect()
    gc.freeze()  # the modules stay: the collector no longer walks them while the charts are drawn


def draw_chart(name: str, result, color: str | None = None, label: str | None = None) -> bytes | None:
    """The PNG of chart ``name`` of a run report (drawn once: the PDF shows the same PNG), or None
    when it does not apply to the run (the signal chart without a signal, say)."""
    kw = {"label": label}
    if name not in ("allocation", "signal"):
        kw["color"] = color
    with _DRAWING:
        fig = FIGURES[name](result, **kw)
        if fig is None:
            return None
        png = png_bytes(fig)
        plt.close(fig)
    return png


def text_pages(run, pdf: bool = True, html: bool = True) -> dict:
    """The report's pages other than the charts: ``head`` and ``tail`` (PDF bytes and page count of
    the pages before and after the charts: cover, metrics beside the benchmark and holding growth,
    "more than luck?" statistics; the tear sheet: returns by year and trailing, worst drawdowns,
    crises / time in assets / rolling beta; factor attribution; trades, execution assumptions)
    and ``html`` (report.html: the same tables and interactive charts, self-contained)."""
    with _DRAWING:
        return _text_pages(run, pdf, html)


def _text_pages(run, pdf: bool, html: bool) -> dict:
    from reports.stats_page import statistics_page
    result, metrics = run.result, run.metrics
    out: dict = {}
    if pdf:
        head = [P.cover_page(result, metrics), P.metrics_page(result, metrics)]
        if "statistics" in metrics:
            head.append(statistics_page(result, metrics))
        tail = list(P.tearsheet_pages(result, metrics))
        factors = P.factors_page(result, metrics)
        if factors is not None:
            tail.append(factors)
        tail += [P.trades_page(result, metrics), P.execution_page(result, metrics)]
        title = f"Rotation Lab report: {result.strategy}"
        out["head"] = (P.pdf_bytes(head, title=title), len(head))
        out["tail"] = (P.pdf_bytes(tail, title=title), len(tail))
    if html:
        from reports.html import run_html
        out["html"] = run_html(run)
    return out
