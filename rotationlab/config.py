"""Run configuration: strategy and parameters, data, period and execution assumptions."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from types import SimpleNamespace

from data_feeds import AlignPolicy
from data_feeds.base import did_you_mean
from rotationlab.errors import UserError

FILLS = {
    "next_open": "decision at the close of day t, market order filled at the open of day t+1 "
                 "(at the close of t+1 for close-only feeds, whose open is their close)",
    "next_close": "decision at the close of day t, filled at the close of day t+1 (one day of lag)",
    "second_open": "decision at the close of day t, filled at the open of day t+2 (two days of lag)",
    "same_close": "STUDY OPTION: filled at the close of the decision bar itself (no execution lag; "
                  "optimistic, not tradable as stated)",
}
#: When each fill mode trades: ("open" | "close", bars after the decision bar).
FILL_TIMING = {"next_open": ("open", 1), "next_close": ("close", 1), "second_open": ("open", 2),
               "same_close": ("close", 0)}


@dataclass(frozen=True)
class Execution:
    """How target weights become fills. Costs are in basis points of traded value."""

    cash: float = 1_000_000.0
    commission_bps: float = 1.0
    slippage_bps: float = 2.0
    fill: str = "next_open"
    cash_buffer: float = 0.01
    drift_tolerance: float = 0.05
    fractional: bool = True

    def __post_init__(self):
        if self.fill not in FILLS:
            raise UserError(f"--fill {self.fill!r} is unknown{did_you_mean(self.fill, FILLS)}; use one of {', '.join(FILLS)}")
        checks = [("--cash", self.cash > 0, "a positive amount"),
                  ("--commission-bps", 0 <= self.commission_bps < 10_000, "between 0 and 10000"),
                  ("--slippage-bps", 0 <= self.slippage_bps < 10_000, "between 0 and 10000"),
                  ("--cash-buffer", 0 <= self.cash_buffer < 0.5, "a fraction between 0 and 0.5"),
                  ("--drift-tolerance", 0 <= self.drift_tolerance < 1, "a fraction between 0 and 1")]
        for flag, ok, want in checks:
            if not ok:
                raise UserError(f"{flag} must be {want}")


@dataclass(frozen=True)
class RunConfig:
    strategy: str = "dow_nasdaq_divergence"
    params: dict = field(default_factory=dict)
    benchmark: str | None = "^GSPC"
    source: str = "sample"
    data_dir: str | None = None
    cache_dir: str | None = None
    offline: bool = False
    start: str | None = None
    end: str | None = None
    execution: Execution = field(default_factory=Execution)
    align: AlignPolicy = field(default_factory=AlignPolicy)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()}
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def strategy_class(name: str):
    from strategies import STRATEGIES
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UserError(f"unknown strategy {name!r}{did_you_mean(name, STRATEGIES)}; "
                        "`run_backtest.py list` shows them all") from None


def _coerce(key: str, text, default):
    if not isinstance(text, str):
        return tuple(text) if isinstance(default, tuple) and isinstance(text, list) else text
    try:
        if isinstance(default, bool):
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple):
            items = [x.strip() for x in text.split(",") if x.strip()]
            if default and isinstance(default[0], float) or key.endswith("weights"):
                return tuple(float(x) for x in items)
            return tuple(items)
        return text.strip()
    except ValueError:
        kind = "true/false" if isinstance(default, bool) else type(default).__name__
        raise UserError(f"parameter {key}={text!r}: expected {kind} (default {default!r})") from None


def resolve_params(name: str, given: dict | list | None) -> tuple[type, dict]:
    """The strategy class and its full parameter values (defaults + ``given``), validated.

    ``given`` is a dict or a list of ``key=value`` strings (lists as ``key=A,B``).
    """
    cls = strategy_class(name)
    defaults = cls.defaults()
    pairs = {}
    for item in given or []:
        if isinstance(given, dict):
            pairs[item] = given[item]
            continue
        if "=" not in item:
            raise UserError(f"parameter {item!r} must look like key=value (e.g. lookback_days=10)")
        k, v = item.split("=", 1)
        pairs[k.strip()] = v
    values = dict(defaults)
    for k, v in pairs.items():
        if k not in defaults:
            raise UserError(f"strategy {name} has no parameter {k!r}{did_you_mean(k, defaults)}; "
                            f"its parameters: {', '.join(defaults)}")
        values[k] = _coerce(k, v, defaults[k])
    if hasattr(cls, "validate"):
        try:
            cls.validate(SimpleNamespace(**values))
        except ValueError as exc:
            raise UserError(f"strategy {name}: {exc}") from None
    return cls, values
