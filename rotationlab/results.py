"""The plain result of a run, and writing it to a folder."""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rotationlab.atomic import atomic_write_text


@dataclass(frozen=True)
class RunResult:
    equity: pd.Series            # portfolio value at each close, from the first trading date
    benchmark: pd.Series | None  # benchmark close scaled to the starting cash
    trades: pd.DataFrame         # date, symbol, size (signed), price, commission
    weights: pd.DataFrame        # end-of-day actual weights, one column per traded symbol
    targets: pd.DataFrame        # target weights decided at each close (filled next bar)
    signals: pd.DataFrame | None # date-indexed spread, triggered, state (signal strategies)
    rejected: pd.DataFrame       # orders the broker refused
    closes: pd.DataFrame         # aligned closes of every symbol used (signal, traded, benchmark)
    config: dict
    strategy: str
    rule: str
    provenance: dict
    execution: dict
    versions: dict

    @property
    def returns(self) -> pd.Series:
        return self.equity.pct_change().fillna(0.0).rename("returns")

    @property
    def benchmark_returns(self) -> pd.Series | None:
        if self.benchmark is None:
            return None
        return self.benchmark.pct_change().fillna(0.0).rename("benchmark")

    def header(self) -> dict:
        """Everything needed to reproduce and trust the numbers."""
        return {"strategy": self.strategy, "rule": self.rule, "config": self.config,
                "execution": self.execution, "provenance": self.provenance, "versions": self.versions}


def _csv(frame: pd.DataFrame | pd.Series, **kw) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, float_format="%.10g", date_format="%Y-%m-%d", lineterminator="\n", **kw)
    return buf.getvalue()


def clean_json(obj):
    """JSON-safe copy: NaN/inf become null, numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dump_json(obj) -> str:
    return json.dumps(clean_json(obj), indent=2, sort_keys=True) + "\n"


def write_run(result: RunResult, out: str | Path, metrics: dict) -> Path:
    """Write the CSV files and ``metrics.json`` for ``result`` into ``out`` (atomically each)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    eq = result.equity.rename_axis("date").to_frame("equity")
    if result.benchmark is not None:
        eq["benchmark"] = result.benchmark
    atomic_write_text(out / "equity.csv", _csv(eq))
    atomic_write_text(out / "trades.csv", _csv(result.trades, index=False))
    atomic_write_text(out / "weights.csv", _csv(result.weights.rename_axis("date")))
    atomic_write_text(out / "targets.csv", _csv(result.targets.rename_axis("date")))
    if result.signals is not None:
        atomic_write_text(out / "signals.csv", _csv(result.signals.rename_axis("date")))
    if len(result.rejected):
        atomic_write_text(out / "rejected_orders.csv", _csv(result.rejected, index=False))
    atomic_write_text(out / "metrics.json", dump_json({**metrics, "run": result.header()}))
    return out
