"""Write a run's full output folder: CSVs, metrics.json, PNG figures and report.pdf."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from reports import figures as F  # noqa: E402
from reports import pdf as P  # noqa: E402
from reports.metrics import compute_metrics  # noqa: E402
from reports.style import DPI, style  # noqa: E402
from rotationlab.atomic import atomic_write_bytes  # noqa: E402
from rotationlab.results import RunResult, write_run  # noqa: E402

#: PNG file name of each figure of a run report (the signal figure only for signal strategies).
FIGURES = {
    "equity": F.equity_figure,
    "underwater": F.underwater_figure,
    "allocation": F.allocation_figure,
    "signal": F.signal_figure,
    "rolling": F.rolling_figure,
    "monthly": F.monthly_figure,
}


def png_bytes(fig, dpi: int = DPI) -> bytes:
    """PNG bytes of ``fig`` without timestamp or software metadata (the figure stays open)."""
    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def report_figures(result: RunResult, color: str | None = None, label: str | None = None) -> dict:
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


def write_report(result: RunResult, out: str | Path, pdf: bool = True, seed: int = 0) -> dict:
    """Write ``out``/: CSVs and metrics.json (via :func:`write_run`), one PNG per figure and,
    if ``pdf``, report.pdf (cover, metrics, "more than luck?" statistics, figures, trades,
    execution assumptions)."""
    from reports.stats_page import statistics_page
    from rotationlab.runstats import run_statistics
    out = Path(out)
    metrics = compute_metrics(result)
    metrics["statistics"] = run_statistics(result, seed=seed)
    write_run(result, out, metrics)
    figs = report_figures(result)
    try:
        for name, fig in figs.items():
            atomic_write_bytes(out / f"{name}.png", png_bytes(fig))
        if pdf:
            pages = [P.cover_page(result, metrics), P.metrics_page(result, metrics),
                     statistics_page(result, metrics), *figs.values(),
                     P.trades_page(result, metrics), P.execution_page(result, metrics)]
            P.write_pdf(pages, out / "report.pdf", title=f"Rotation Lab report: {result.strategy}")
    finally:
        for fig in figs.values():
            plt.close(fig)
    return {"metrics": metrics, "out": out}
