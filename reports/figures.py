"""Figures as pure functions from results to matplotlib figures (headless Agg; never cerebro.plot)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rotationlab.atomic import atomic_write_bytes  # noqa: E402
from rotationlab.results import RunResult  # noqa: E402


def save_png(fig, path: str | Path, dpi: int = 150) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def equity_figure(result: RunResult, log: bool = True):
    fig, ax = plt.subplots(figsize=(11, 5.5), layout="constrained")
    ax.plot(result.equity.index, result.equity.values, label=result.strategy, lw=1.4)
    if result.benchmark is not None:
        ax.plot(result.benchmark.index, result.benchmark.values, label=f"benchmark {result.benchmark.name}",
                lw=1.1, color="0.45")
    if log:
        ax.set_yscale("log")
    p = result.provenance["period"]
    ax.set_title(f"Equity, {result.strategy} vs benchmark, {p['trade_from']} to {p['trade_to']}")
    ax.set_ylabel("portfolio value" + (" (log scale)" if log else ""))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return fig
