"""Write a run's full output folder: CSVs, metrics.json, PNG figures and report.pdf."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from reports.figures import equity_figure, save_png  # noqa: E402
from reports.metrics import compute_metrics  # noqa: E402
from rotationlab.results import RunResult, write_run  # noqa: E402


def write_report(result: RunResult, out: str | Path, pdf: bool = True) -> dict:
    out = Path(out)
    metrics = compute_metrics(result)
    write_run(result, out, metrics)
    save_png(equity_figure(result), out / "equity.png")
    return {"metrics": metrics, "out": out}
