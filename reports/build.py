"""Write a run's full output folder: CSVs, metrics.json, PNG figures, report.pdf (and report.html).

Pure layout: the metrics and statistics come with the run (``run.metrics``, computed by the
core); nothing here runs an engine or a statistic.
"""

from __future__ import annotations

import io
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from reports import figures as F  # noqa: E402
from reports import pdf as P  # noqa: E402
from reports.style import DPI, style  # noqa: E402
from rotationlab.results import write_run  # noqa: E402

#: PNG file name of each figure of a run report (the signal figure only for signal strategies).
FIGURES = {
    "equity": F.equity_figure,
    "underwater": F.underwater_figure,
    "allocation": F.allocation_figure,
    "signal": F.signal_figure,
    "rolling": F.rolling_figure,
    "rolling_beta": F.rolling_beta_figure,
    "monthly": F.monthly_figure,
}


def png_bytes(fig, dpi: int = DPI) -> bytes:
    """PNG bytes of ``fig`` without timestamp or software metadata (the figure stays open)."""
    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def report_figures(result, color: str | None = None, label: str | None = None) -> dict:
    """``{name: Figure}`` of a run report, in page order; figures that do not apply are left out."""
    figs = {}
    for name, func in FIGURES.items():
        kw = {"label": label}
        if name not in ("allocation", "signal"):
            kw["color"] = color
        fig = func(result, **kw)
        if fig is not None:
            figs[name] = fig
    return figs


def write_report(run, folder, pdf: bool = True, html: bool = True, timings: dict | None = None) -> dict:
    """Write the run into ``folder`` (an OutputFolder or a path): CSVs and metrics.json, one PNG
    per figure and, if ``pdf``, report.pdf (cover, metrics beside the benchmark and holding
    growth, "more than luck?" statistics, figures, the tear sheet: returns by year and trailing,
    worst drawdowns, crises / time in assets / rolling beta; factor attribution; trades, execution assumptions); if
    ``html``, report.html (the same tables and interactive charts, self-contained)."""
    from reports.stats_page import statistics_page
    from rotationlab.outdir import as_folder
    folder = as_folder(folder)
    result, metrics = run.result, run.metrics
    t0 = time.perf_counter()
    write_run(result, folder, metrics)
    figs = report_figures(result)
    t1 = time.perf_counter()
    try:
        for name, fig in figs.items():
            folder.write_bytes(f"{name}.png", png_bytes(fig))
        t2 = time.perf_counter()
        if pdf:
            pages = [P.cover_page(result, metrics), P.metrics_page(result, metrics)]
            if "statistics" in metrics:
                pages.append(statistics_page(result, metrics))
            pages += [*figs.values(), *P.tearsheet_pages(result, metrics)]
            factors = P.factors_page(result, metrics)
            if factors is not None:
                pages.append(factors)
            pages += [P.trades_page(result, metrics), P.execution_page(result, metrics)]
            folder.write_bytes("report.pdf", P.pdf_bytes(pages, title=f"Rotation Lab report: {result.strategy}"))
        t3 = time.perf_counter()
    finally:
        for fig in figs.values():
            plt.close(fig)
    if html:
        try:
            from reports.html import run_html
        except ImportError:
            run_html = None
        if run_html is not None:
            folder.write_text("report.html", run_html(run))
    if timings is not None:
        timings.update({"csv_json_and_figures": t1 - t0, "png": t2 - t1, "pdf": t3 - t2,
                        "html": time.perf_counter() - t3})
    return {"metrics": metrics, "out": folder.path}
