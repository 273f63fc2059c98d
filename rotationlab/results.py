"""The plain result of a run, and writing it to a folder."""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field

import pandas as pd



@dataclass(frozen=True)
class RunResult:
    equity: pd.Series            # portfolio value at each close, from the first trading date
    benchmark: pd.Series | None  # benchmark close scaled to the starting cash
    growth: pd.Series | None     # buy-and-hold of the rule's growth basket, scaled to the starting cash
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
    roles: dict = field(default_factory=dict)       # the rule's symbols by role (signal, growth, ...)
    baskets: dict = field(default_factory=dict)     # the rule's named target weights (growth, rotation)
    signal_info: dict | None = None                 # how to show the logged signal (labels, thresholds)
    warnings: tuple = ()                            # data warnings of the run (one line each)

    @property
    def returns(self) -> pd.Series:
        return self.equity.pct_change().fillna(0.0).rename("returns")

    @property
    def benchmark_returns(self) -> pd.Series | None:
        if self.benchmark is None:
            return None
        return self.benchmark.pct_change().fillna(0.0).rename("benchmark")

    @property
    def growth_returns(self) -> pd.Series | None:
        if self.growth is None:
            return None
        return self.growth.pct_change().fillna(0.0).rename("growth")

    def header(self) -> dict:
        """Everything needed to reproduce and trust the numbers."""
        return {"strategy": self.strategy, "rule": self.rule, "config": self.config,
                "execution": self.execution, "provenance": self.provenance, "versions": self.versions,
                "roles": self.roles, "baskets": self.baskets, "warnings": list(self.warnings)}


def reference_series(closes: pd.DataFrame, weights: dict, cash: float) -> pd.Series:
    """Buy-and-hold value of a basket, no costs: ``cash`` split at ``weights`` (the rest in cash)
    at each symbol's first close of ``closes``, then held (close to close, never rebalanced)."""
    total = pd.Series(cash * (1.0 - sum(weights.values())), index=closes.index)
    for s, w in weights.items():
        c = closes[s]
        first = c.dropna()
        if not len(first):
            total = total + w * cash
            continue
        total = total + (c / first.iloc[0] * (w * cash)).fillna(w * cash)
    return total


def plain_params(values: dict) -> dict:
    """Parameter values as JSON values (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


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


def write_run(result: RunResult, out, metrics: dict):
    """Write the CSV files and ``metrics.json`` for ``result`` into ``out`` (a folder path or an
    :class:`~rotationlab.outdir.OutputFolder`), each atomically."""
    from rotationlab.outdir import as_folder
    folder = as_folder(out)
    eq = result.equity.rename_axis("date").to_frame("equity")
    if result.benchmark is not None:
        eq["benchmark"] = result.benchmark
    if result.growth is not None:
        eq["growth"] = result.growth
    folder.write_text("equity.csv", _csv(eq))
    folder.write_text("trades.csv", _csv(result.trades, index=False))
    folder.write_text("weights.csv", _csv(result.weights.rename_axis("date")))
    folder.write_text("targets.csv", _csv(result.targets.rename_axis("date")))
    if result.signals is not None:
        folder.write_text("signals.csv", _csv(result.signals.rename_axis("date")))
    if len(result.rejected):
        folder.write_text("rejected_orders.csv", _csv(result.rejected, index=False))
    folder.write_text("metrics.json", dump_json({**metrics, "run": result.header()}))
    return folder.path
