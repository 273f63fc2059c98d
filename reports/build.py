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
from rotationlab.procs import Background  # noqa: E402
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
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def chart_pngs(result, color: str | None = None, label: str | None = None) -> dict:
    """``{name: PNG bytes}`` of a run report's charts, each drawn once (the PDF embeds the same
    PNGs)."""
    out = {}
    for name, fig in report_figures(result, color, label).items():
        out[name] = png_bytes(fig)
        plt.close(fig)
    return out


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

    other = Background(lambda: chart_pngs(result))  # the charts, drawn in another process meanwhile
    try:
        write_run(result, folder, metrics)
        t1 = time.perf_counter()
        pngs: dict = {}
        done: list = []

        def chart_pages():
            if html:  # while the charts are drawn
                from reports.html import run_html
                done.append(run_html(run))
            pngs.update(other.get())
            return [P.image_page(b) for b in pngs.values()]

        if pdf:
            pages = [P.cover_page(result, metrics), P.metrics_page(result, metrics)]
            if "statistics" in metrics:
                pages.append(statistics_page(result, metrics))
            pages += [chart_pages, *P.tearsheet_pages(result, metrics)]
            factors = P.factors_page(result, metrics)
            if factors is not None:
                pages.append(factors)
            pages += [P.trades_page(result, metrics), P.execution_page(result, metrics)]
            data = P.pdf_bytes(pages, title=f"Rotation Lab report: {result.strategy}")
        else:
            chart_pages()
        t2 = t3 = time.perf_counter()
        for name, b in pngs.items():
            folder.write_bytes(f"{name}.png", b)
        if pdf:
            folder.write_bytes("report.pdf", data)
        if html:
            folder.write_text("report.html", done[0])
    finally:
        other.close()
    t4 = time.perf_counter()
    if timings is not None:
        timings.update({"csv_and_json": t1 - t0,
                        "pdf pages and html (charts drawn meanwhile in another process)": t2 - t1,
                        "writing files": t4 - t3})
    return {"metrics": metrics, "out": folder.path}
