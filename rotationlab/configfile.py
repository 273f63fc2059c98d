"""TOML config files for ``run``, ``compare`` and ``sweep`` (read with :mod:`tomllib`).

A config file holds what the command line can say, grouped in tables::

    seed = 0                               # recorded in manifest.json (the backtests draw no random numbers)
    benchmark = "SPY"                      # or "none"

    [data]
    source = "csv"                         # sample | csv | yahoo
    data_dir = "../shared/data/market"     # relative paths are relative to the current directory
    symbols = ["DIA", "QQQ", "IWM", "SPY"] # optional: the symbols the config may use (checked)
    start = 2001-01-01                     # a TOML date or a "YYYY-MM-DD" string
    end = "2020-12-31"
    align = "union"
    max_ffill_days = 5

    [strategy]
    name = "dow_nasdaq_divergence"
    [strategy.params]
    dow_symbol = "DIA"
    rotation_symbols = ["DIA", "IWM"]

    [costs]                                # execution: cash, commission_bps, slippage_bps, fill,
    commission_bps = 1.0                   # cash_buffer, drift_tolerance, whole_shares
    slippage_bps = 2.0

    [report]
    out = "output/divergence-etf"          # output folder
    pdf = true
    metric = "sharpe"                      # sweep: ranking / heatmap metric
    top = 10                               # sweep: rows of the top-N table
    heatmap = "lookback_days,threshold,sharpe"

    [sweep]
    constraint = "hold_days >= lookback_days"
    jobs = 2
    # dask_scheduler = "tcp://10.0.0.5:8786"
    [sweep.grid]
    lookback_days = [2, 5, 10, 20]
    threshold = "0.01:0.05:0.01"           # a string uses the --grid syntax (ranges, lists)

    [compare]
    strategies = ["dow_nasdaq_divergence:threshold=0.02"]   # as --strategy
    baselines = true

Flags given on the command line override the file, key by key (``-p`` and ``--grid`` per
parameter). Tables a command does not use are ignored, so one file serves run, compare and sweep.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from data_feeds.base import did_you_mean
from rotationlab.errors import UserError

_NUM = (int, float)

#: table -> key -> (argparse dest, accepted types, description of the type)
SCHEMA: dict[str, dict[str, tuple[str, tuple, str]]] = {
    "data": {
        "source": ("source", (str,), "a string"),
        "data_dir": ("data_dir", (str,), "a folder path"),
        "cache_dir": ("cache_dir", (str,), "a folder path"),
        "offline": ("offline", (bool,), "true or false"),
        "symbols": ("config_symbols", (list,), "a list of symbols"),
        "start": ("start", (str, _dt.date), "a date (YYYY-MM-DD)"),
        "end": ("end", (str, _dt.date), "a date (YYYY-MM-DD)"),
        "align": ("align", (str,), "union or intersection"),
        "max_ffill_days": ("max_ffill_days", (int,), "a whole number"),
    },
    "strategy": {
        "name": ("strategy", (str,), "a registry key"),
        "params": ("param", (dict,), "a table of parameters"),
    },
    "costs": {
        "cash": ("cash", _NUM, "a number"),
        "commission_bps": ("commission_bps", _NUM, "a number"),
        "slippage_bps": ("slippage_bps", _NUM, "a number"),
        "fill": ("fill", (str,), "a fill mode"),
        "cash_buffer": ("cash_buffer", _NUM, "a number"),
        "drift_tolerance": ("drift_tolerance", _NUM, "a number"),
        "whole_shares": ("whole_shares", (bool,), "true or false"),
    },
    "report": {
        "out": ("out", (str,), "a folder path"),
        "pdf": ("no_pdf", (bool,), "true or false"),
        "metric": ("metric", (str,), "a metric name"),
        "top": ("top", (int,), "a whole number"),
        "heatmap": ("heatmap", (str, list), "\"x,y,metric\""),
    },
    "sweep": {
        "grid": ("config_grid", (dict,), "a table of parameter values"),
        "constraint": ("constraint", (str,), "an expression"),
        "jobs": ("jobs", (int,), "a whole number"),
        "dask_scheduler": ("dask_scheduler", (str,), "an address like tcp://host:8786"),
    },
    "compare": {
        "strategies": ("compare_strategies", (list,), "a list of KEY:k=v;k=v strings"),
        "baselines": ("no_baselines", (bool,), "true or false"),
    },
}
TOP = {"seed": (int,), "benchmark": (str, bool)}


@dataclass
class FileConfig:
    """A parsed, checked config file."""

    path: Path
    sha256: str
    raw: dict
    values: dict = field(default_factory=dict)  # argparse dest -> value (already in CLI form)

    def manifest(self) -> dict:
        return {"path": str(self.path), "sha256": self.sha256, "content": _plain(self.raw)}


def _plain(obj):
    """TOML values as JSON values (dates and times as ISO text)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, (_dt.date, _dt.datetime, _dt.time)):
        return obj.isoformat()
    return obj


def _where(path: Path, table: str | None, key: str) -> str:
    return f"config {path}: " + (f"[{table}] {key}" if table else key)


def param_text(value) -> str:
    """A TOML parameter value in the ``-p key=value`` syntax (lists as ``A,B``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ",".join(param_text(v) for v in value)
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return str(value)


def load(path: str | Path) -> FileConfig:
    """Read and check ``path``; one-line :class:`UserError` for anything wrong."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"config file {path} not found; give a path like configs/divergence_sample.toml") from None
    except OSError as exc:
        raise UserError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    try:
        raw = tomllib.loads(blob.decode("utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config file {path} is not valid TOML: {exc}") from None
    values: dict = {}
    for key, value in raw.items():
        if key in TOP:
            if key == "seed":
                if not isinstance(value, int) or isinstance(value, bool):
                    raise UserError(f"{_where(path, None, key)} must be a whole number, not {value!r}")
                values["seed"] = value
            else:
                if value is True or not isinstance(value, (str, bool)):
                    raise UserError(f"{_where(path, None, key)} must be a symbol or 'none', not {value!r}")
                values["benchmark"] = "none" if value is False else value
            continue
        if key not in SCHEMA:
            raise UserError(f"config {path}: unknown table or key {key!r}"
                            f"{did_you_mean(key, [*SCHEMA, *TOP])}; known: {', '.join([*TOP, *SCHEMA])}")
        if not isinstance(value, dict):
            raise UserError(f"config {path}: {key} must be a table ([{key}])")
        for k, v in value.items():
            if k not in SCHEMA[key]:
                raise UserError(f"config {path}: unknown key [{key}] {k!r}{did_you_mean(k, SCHEMA[key])}; "
                                f"[{key}] takes {', '.join(SCHEMA[key])}")
            dest, types, want = SCHEMA[key][k]
            if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
                raise UserError(f"{_where(path, key, k)} must be {want}, not {v!r}")
            values[dest] = _convert(path, key, k, v)
    return FileConfig(path=path, sha256=hashlib.sha256(blob).hexdigest(), raw=raw, values=values)


def _convert(path: Path, table: str, key: str, v):
    if isinstance(v, _dt.datetime):
        return v.date().isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    if table == "data" and key == "symbols":
        if not all(isinstance(s, str) for s in v):
            raise UserError(f"{_where(path, table, key)} must be a list of symbols (strings)")
        return list(v)
    if table == "strategy" and key == "params":
        return [f"{k}={param_text(x)}" for k, x in v.items()]
    if table == "report" and key == "pdf":
        return not v  # stored as args.no_pdf
    if table == "report" and key == "heatmap":
        return ",".join(map(str, v)) if isinstance(v, list) else v
    if table == "compare" and key == "baselines":
        return not v  # stored as args.no_baselines
    if table == "compare" and key == "strategies":
        out = []
        for s in v:
            if isinstance(s, str):
                out.append(s)
            elif isinstance(s, dict) and isinstance(s.get("name"), str):
                params = ";".join(f"{k}={param_text(x)}" for k, x in (s.get("params") or {}).items())
                out.append(s["name"] + (f":{params}" if params else ""))
            else:
                raise UserError(f"{_where(path, table, key)}: each entry is \"KEY:k=v;k=v\" or "
                                "{name = \"KEY\", params = {...}}")
        return out
    if table == "sweep" and key == "grid":
        for name, spec in v.items():
            if not isinstance(spec, (list, str, int, float)) or isinstance(spec, bool):
                raise UserError(f"{_where(path, table, 'grid')} {name} must be a list of values or a "
                                f"string like \"0.01:0.05:0.01\", not {spec!r}")
        return dict(v)
    if isinstance(v, int) and not isinstance(v, bool) and table == "costs":
        return float(v)
    return v


def apply(args: argparse.Namespace, fc: FileConfig, explicit: set[str] | None) -> argparse.Namespace:
    """Fill ``args`` from ``fc`` wherever the command line did not set a value explicitly.

    ``explicit`` is the set of argparse dests given on the command line. Only dests the command
    has are filled (a sweep table is ignored by ``run``). Strategy parameters merge key by key:
    the file's come first and the command line's ``-p`` after them (so they win). When the
    command line names another strategy, the file's parameters and grid are dropped."""
    explicit = set(explicit or ())
    vals = dict(fc.values)
    file_name = vals.pop("strategy", None)
    file_params = vals.pop("param", [])
    compare_specs = vals.pop("compare_strategies", None)
    default = "dow_nasdaq_divergence"
    if isinstance(getattr(args, "strategy", None), list):  # compare: --strategy KEY[:k=v;...] list
        if "strategy" not in explicit:
            if compare_specs:
                args.strategy = list(compare_specs)
            elif file_name:
                args.strategy = [file_name]
        first = args.strategy[0].partition(":")[0].strip() if args.strategy else default
        same = (file_name or default) == first
    elif hasattr(args, "strategy"):
        if "strategy" not in explicit and file_name:
            args.strategy = file_name
        same = (file_name or default) == args.strategy
    else:
        same = False
    if same and hasattr(args, "param"):
        args.param = [*file_params, *args.param]
    if not same:
        vals.pop("config_grid", None)
    for dest, value in vals.items():
        if dest in explicit:
            continue
        if hasattr(args, dest) or dest in ("config_symbols", "config_grid", "seed"):
            setattr(args, dest, value)
    args.config_file = fc
    return args


def check_symbols(fc: FileConfig | None, needed, what: str = "the strategy") -> None:
    """With ``[data] symbols`` in the file, every symbol used must be listed there."""
    listed = (fc.values.get("config_symbols") if fc else None)
    if listed is None:
        return
    missing = [s for s in dict.fromkeys(needed) if s not in listed]
    if missing:
        raise UserError(f"config {fc.path}: {what} uses {', '.join(missing)}, not in [data] symbols "
                        f"({', '.join(listed)}); add {'them' if len(missing) > 1 else 'it'} to the list")
