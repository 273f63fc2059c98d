"""Run configuration: strategy and parameters, data, period and execution assumptions.

One owner for applying parameters: :func:`coerce_params` turns given values (a dict, or
``key=value`` strings from the command line and config files) into a rule's full, typed,
validated parameters; :func:`make_rule` gives the rule instance a run uses; :func:`split_params`
separates a parameter set (e.g. a sweep combination) into strategy parameters and execution
settings; :func:`with_params` applies one to a :class:`RunConfig`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

from data_feeds import AlignPolicy
from data_feeds.base import did_you_mean
from rotationlab.errors import UserError

FILLS = {
    "next_open": "decision at the close of day t, market order filled at the open of day t+1 "
                 "(at the close of t+1 when a traded series has close prices only)",
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
        checks = [("--cash", "cash", lambda v: 0 < v < 1e15, "a positive amount below 1e15"),
                  ("--commission-bps", "commission_bps", lambda v: 0 <= v < 10_000, "between 0 and 10000"),
                  ("--slippage-bps", "slippage_bps", lambda v: 0 <= v < 10_000, "between 0 and 10000"),
                  ("--cash-buffer", "cash_buffer", lambda v: 0 <= v < 0.5, "a fraction between 0 and 0.5"),
                  ("--drift-tolerance", "drift_tolerance", lambda v: 0 <= v < 1, "a fraction between 0 and 1")]
        for flag, name, ok, want in checks:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not ok(v):
                raise UserError(f"{flag} {v!r}: must be {want}")


#: Keys of a parameter set that set the execution instead of the strategy (as a sweep grid may).
EXEC_KEYS = tuple(f.name for f in dataclasses.fields(Execution))
ADJUSTMENT_KINDS = ("total_return", "price", "unknown")


@dataclass(frozen=True)
class RunConfig:
    """Everything one run depends on (with the data it is given)."""

    strategy: str = "dow_nasdaq_divergence"   # registry key, or path/to/rule.py:ClassName
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
    adjustments: dict = field(default_factory=dict)   # symbol -> declared adjustment kind
    strict_adjustment: bool = False                  # mixing adjustment kinds is an error
    date_format: str | None = None                   # strftime format of CSV dates (d/m vs m/d)
    sources: dict = field(default_factory=dict)      # symbol -> its own source ("sample", "csv:DIR", ...)
    splice: dict = field(default_factory=dict)       # target symbol -> the proxy spliced before it

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()}
        for k in ("sources", "splice"):  # absent when unused (the config hashes of plain runs stay put)
            if not d[k]:
                d.pop(k)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    def source_options(self) -> dict:
        """Keyword options of ``data_feeds.get_source`` for this config."""
        opts = dict(data_dir=self.data_dir, cache_dir=self.cache_dir, offline=self.offline)
        if self.adjustments:
            opts["adjustments"] = dict(self.adjustments)
        if self.date_format:
            opts["date_format"] = self.date_format
        if self.sources:
            opts["sources"] = dict(self.sources)
        if self.splice:
            opts["splice"] = dict(self.splice)
        return opts


def strategy_class(name):
    from strategies import rule_class
    return rule_class(name)


def _number(key: str, text: str, kind: type, default):
    try:
        v = kind(text)
    except ValueError:
        raise UserError(f"parameter {key}={text!r}: expected {'a whole number' if kind is int else 'a number'} "
                        f"(default {default!r})") from None
    if isinstance(v, float) and not math.isfinite(v):
        raise UserError(f"parameter {key}={text!r}: must be a finite number (default {default!r})")
    return v


def coerce_value(key: str, value, default):
    """``value`` (text, or a Python/TOML value) as the type of ``default``; one-line errors."""
    if isinstance(value, str):
        text = value.strip()
        if isinstance(default, bool):
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise UserError(f"parameter {key}={value!r}: expected true/false (default {default!r})")
        if isinstance(default, int):
            return _number(key, text, int, default)
        if isinstance(default, float):
            return _number(key, text, float, default)
        if isinstance(default, tuple):
            items = [x.strip() for x in text.split(",") if x.strip()]
            if (default and isinstance(default[0], float)) or key.endswith("weights"):
                return tuple(_number(key, x, float, default) for x in items)
            return tuple(items)
        return text
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise UserError(f"parameter {key}={value!r}: expected true/false (default {default!r})")
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"parameter {key}={value!r}: expected a number (default {default!r})")
        if not math.isfinite(value):
            raise UserError(f"parameter {key}={value!r}: must be a finite number (default {default!r})")
        if isinstance(default, int):
            if float(value) != int(value):
                raise UserError(f"parameter {key}={value!r}: expected a whole number (default {default!r})")
            return int(value)
        return float(value)
    if isinstance(default, tuple):
        if isinstance(value, (list, tuple)):
            out = tuple(value)
            if (default and isinstance(default[0], float)) or key.endswith("weights"):
                return tuple(coerce_value(key, v, 0.0) for v in out)
            return tuple(str(v) for v in out)
        raise UserError(f"parameter {key}={value!r}: expected a list (default {default!r})")
    return value


def _pairs(given) -> dict:
    if not given:
        return {}
    if isinstance(given, dict):
        return dict(given)
    pairs = {}
    for item in given:
        if "=" not in item:
            raise UserError(f"parameter {item!r} must look like key=value (e.g. lookback_days=10)")
        k, v = item.split("=", 1)
        pairs[k.strip()] = v
    return pairs


def coerce_params(cls, given) -> dict:
    """The full parameter values of rule class ``cls``: its defaults overridden by ``given``."""
    defaults = cls.defaults()
    pairs = _pairs(given)
    extra = set(cls.extra_param_names(pairs)) if hasattr(cls, "extra_param_names") else set()
    values = dict(defaults)
    for k, v in pairs.items():
        if k in defaults:
            values[k] = coerce_value(k, v, defaults[k])
        elif k in extra:
            values[k] = cls.coerce_extra(k, v)
        else:
            raise UserError(f"strategy {cls.name()} has no parameter {k!r}{did_you_mean(k, [*defaults, *extra])}; "
                            f"its parameters: {', '.join(defaults)}")
    missing = [n for n in extra if n not in values]
    if missing:
        raise UserError(f"strategy {cls.name()}: give a value for {', '.join(sorted(missing))} (used in its "
                        f"expressions), e.g. -p {sorted(missing)[0]}=5")
    return values


def make_rule(name, params=None):
    """The validated rule instance of strategy ``name`` with ``params`` applied."""
    return strategy_class(name).create(params)


def resolve_params(name, given) -> tuple[type, dict]:
    """``(rule class, full parameter values)`` for strategy ``name`` with ``given`` applied."""
    rule = make_rule(name, given)
    return type(rule), rule.values


def split_params(strategy, params: dict, base: Execution) -> tuple[dict, Execution]:
    """A parameter set as (strategy parameters, execution): keys of :data:`EXEC_KEYS` that are not
    strategy parameters set the execution."""
    cls = strategy_class(strategy)
    names = set(cls.defaults())
    strat = {k: v for k, v in params.items() if k in names or k not in EXEC_KEYS}
    knobs = {k: v for k, v in params.items() if k not in strat}
    if not knobs:
        return strat, base
    knobs = {k: coerce_value(k, v, getattr(base, k)) for k, v in knobs.items()}
    return strat, dataclasses.replace(base, **knobs)


def with_params(base: RunConfig, params: dict) -> RunConfig:
    """``base`` with one parameter set applied (strategy parameters over ``base.params``,
    execution keys over ``base.execution``)."""
    strat, ex = split_params(base.strategy, params, base.execution)
    return dataclasses.replace(base, params={**base.params, **strat}, execution=ex)
