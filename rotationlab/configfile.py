"""Settings: what every command runs on, from a TOML file, the command line or Python, as one set
of objects.

A config file holds what the command line can say, grouped in tables::

    seed = 0                               # random seed of the statistics (bootstrap, nulls)
    benchmark = "SPY"                      # or "none"

    [data]
    source = "csv"                         # sample | csv | yahoo
    data_dir = "../shared/data/market"     # relative paths are relative to the current directory
    symbols = ["DIA", "QQQ", "IWM", "SPY"] # optional: the symbols the config may use (checked)
    start = 2001-01-01                     # a TOML date or a "YYYY-MM-DD" string
    end = "2020-12-31"
    align = "union"
    max_ffill_days = 5
    adjustments = { SPY = "total_return" } # declared adjustment kinds (total_return|price|unknown)
    strict_adjustment = false              # mixing adjustment kinds is an error, not a warning
    date_format = "%d/%m/%Y"               # CSV dates that are not ISO
    sources = { "^DJI" = "sample", IWM = "csv:../shared/data/market" }   # a symbol's own source
    splice = { IWM = "^RUT" }              # a longer proxy spliced before a symbol's first date

    [strategy]
    name = "dow_nasdaq_divergence"         # or "path/to/rule.py:ClassName"
    [strategy.params]
    lookback_days = 10
    rotation_symbols = ["DIA", "IWM"]

    [costs]                                # execution: cash, commission_bps, slippage_bps, fill,
    commission_bps = 1.0                   # cash_buffer, drift_tolerance, whole_shares
    slippage_bps = 2.0

    [report]
    out = "output/divergence-etf"          # output folder
    pdf = true
    html = true
    metric = "sharpe"                      # sweep: ranking / heatmap metric
    top = 10                               # sweep: rows of the top-N table
    heatmap = "lookback_days,threshold,sharpe"

    [sweep]
    constraint = "hold_days >= lookback_days"
    jobs = 2
    engine = "fast"                        # fast | backtrader
    # dask_scheduler = "tcp://10.0.0.5:8786"
    [sweep.grid]                           # also the grid of walkforward
    lookback_days = [2, 5, 10, 20]
    threshold = "0.01:0.05:0.01"           # a string uses the --grid syntax (ranges, lists)

    [compare]
    strategies = [{name = "dow_nasdaq_divergence", params = {threshold = 0.02}}, "buy_and_hold"]
    baselines = true

    [study]
    horizons = [1, 5, 20, 60, 120]
    entry_lag = 1
    n_boot = 1000
    n_null = 2000

    [walkforward]
    is_years = 5
    oos_years = 1
    anchored = false
    objective = "sharpe"

:func:`load` reads and checks a file (one-line errors naming the file, table and key);
:func:`settings` turns the merged tables (a file's, overridden key by key by the command line,
or a Python dict) into :class:`Settings`. Strategy parameters and grid entries merge key by key;
when the command line names another strategy than the file, the file's parameters and grid are
dropped. Tables a command does not use are ignored, so one file serves every command.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from data_feeds import AlignPolicy
from data_feeds.base import did_you_mean
from rotationlab.config import ADJUSTMENT_KINDS, Execution, RunConfig, make_rule
from rotationlab.errors import UserError

_NUM = (int, float)
#: The deepest nesting of tables and lists a config file may have.
MAX_DEPTH = 8

#: table -> key -> (accepted types, description of the type)
SCHEMA: dict[str, dict[str, tuple[tuple, str]]] = {
    "data": {
        "source": ((str,), "a string"),
        "data_dir": ((str,), "a folder path"),
        "cache_dir": ((str,), "a folder path"),
        "offline": ((bool,), "true or false"),
        "symbols": ((list,), "a list of symbols"),
        "start": ((str, _dt.date), "a date (YYYY-MM-DD)"),
        "end": ((str, _dt.date), "a date (YYYY-MM-DD)"),
        "align": ((str,), "union or intersection"),
        "max_ffill_days": ((int,), "a whole number"),
        "adjustments": ((dict,), "a table of SYMBOL = \"total_return\" | \"price\" | \"unknown\""),
        "strict_adjustment": ((bool,), "true or false"),
        "date_format": ((str,), "a strftime format such as \"%d/%m/%Y\""),
        "sources": ((dict, str, list), "a table of SYMBOL = \"sample\" | \"csv:DIR\" | \"yahoo\""),
        "splice": ((dict, str, list), "a table of TARGET = \"PROXY\""),
    },
    "strategy": {
        "name": ((str,), "a registry key or path/to/rule.py:ClassName"),
        "params": ((dict,), "a table of parameters"),
    },
    "costs": {
        "cash": (_NUM, "a number"),
        "commission_bps": (_NUM, "a number"),
        "slippage_bps": (_NUM, "a number"),
        "fill": ((str,), "a fill mode"),
        "cash_buffer": (_NUM, "a number"),
        "drift_tolerance": (_NUM, "a number"),
        "whole_shares": ((bool,), "true or false"),
    },
    "report": {
        "out": ((str,), "a folder path"),
        "pdf": ((bool,), "true or false"),
        "html": ((bool,), "true or false"),
        "metric": ((str,), "a metric name"),
        "top": ((int,), "a whole number"),
        "heatmap": ((str, list), "\"x,y,metric\""),
        "progress": ((bool,), "true or false"),
    },
    "sweep": {
        "grid": ((dict,), "a table of parameter values"),
        "constraint": ((str,), "an expression"),
        "jobs": ((int,), "a whole number"),
        "dask_scheduler": ((str,), "an address like tcp://host:8786"),
        "engine": ((str,), "fast or backtrader"),
        "confirm": ((int,), "a whole number"),
    },
    "compare": {
        "strategies": ((list,), "a list of strategies ({name = ..., params = {...}} or \"KEY\")"),
        "baselines": ((bool,), "true or false"),
    },
    "study": {
        "horizons": ((list, str), "a list of whole numbers of days"),
        "entry_lag": ((int,), "a whole number"),
        "n_boot": ((int,), "a whole number"),
        "n_null": ((int,), "a whole number"),
        "when": ((str,), "an expression"),
        "on": ((str, _dt.date), "a date (YYYY-MM-DD)"),
        "analogs": ((int,), "a whole number"),
    },
    "factors": {
        "enabled": ((bool,), "true or false"),
        "file": ((str,), "a factors CSV path (month, mkt_rf, smb, hml, rf)"),
        "units": ((str,), "percent or fraction"),
        "hac_lags": ((int,), "a whole number of months"),
    },
    "walkforward": {
        "is_years": (_NUM, "a number of years"),
        "oos_years": (_NUM, "a number of years"),
        "anchored": ((bool,), "true or false"),
        "objective": ((str,), "sharpe, cagr or calmar"),
    },
}
TOP = {"seed": ((int,), "a whole number"), "benchmark": ((str, bool), "a symbol or \"none\"")}


@dataclass
class FileConfig:
    """A parsed, checked config file."""

    path: Path
    sha256: str
    raw: dict

    def manifest(self) -> dict:
        return {"path": str(self.path), "sha256": self.sha256, "content": plain(self.raw)}


def plain(obj):
    """TOML values as JSON values (dates and times as ISO text)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, (_dt.date, _dt.datetime, _dt.time)):
        return obj.isoformat()
    return obj


def param_text(value) -> str:
    """A parameter value in the ``-p key=value`` syntax (lists as ``A,B``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ",".join(param_text(v) for v in value)
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return str(value)


def _depth(obj, level=0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(obj, dict):
        return max([_depth(v, level + 1) for v in obj.values()] or [level + 1])
    if isinstance(obj, list):
        return max([_depth(v, level + 1) for v in obj] or [level + 1])
    return level


def load(path: str | Path) -> FileConfig:
    """Read and check ``path``; one-line :class:`UserError` for anything wrong."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"config file {path} not found; give a path like configs/divergence_sample.toml") from None
    except IsADirectoryError:
        raise UserError(f"config file {path} is a folder; give a .toml file") from None
    except OSError as exc:
        raise UserError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    if len(blob) > 1_000_000:
        raise UserError(f"config file {path} is larger than 1 MB; a config file holds settings, not data")
    try:
        raw = tomllib.loads(blob.decode("utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config file {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise UserError(f"config file {path} is nested too deeply (at most {MAX_DEPTH} levels)") from None
    if _depth(raw) > MAX_DEPTH:
        raise UserError(f"config file {path} is nested too deeply (at most {MAX_DEPTH} levels)")
    check(raw, lambda table, key: f"config {path}: " + (f"[{table}] {key}" if table else key))
    return FileConfig(path=path, sha256=hashlib.sha256(blob).hexdigest(), raw=raw)


def check(raw: dict, where) -> None:
    """Check the tables and keys of ``raw`` against :data:`SCHEMA` (``where(table, key)`` names
    a value in messages)."""
    for key, value in raw.items():
        if key in TOP:
            types, want = TOP[key]
            if not isinstance(value, types) or (key == "seed" and isinstance(value, bool)) or value is True:
                raise UserError(f"{where(None, key)} must be {want}, not {value!r}")
            continue
        if key not in SCHEMA:
            raise UserError(f"{where(None, key)}: unknown table or key {key!r}{did_you_mean(key, [*SCHEMA, *TOP])}; "
                            f"known: {', '.join([*TOP, *SCHEMA])}")
        if not isinstance(value, dict):
            raise UserError(f"{where(None, key)} must be a table ([{key}])")
        for k, v in value.items():
            if k not in SCHEMA[key]:
                raise UserError(f"{where(key, k)} is an unknown key{did_you_mean(k, SCHEMA[key])}; "
                                f"[{key}] takes {', '.join(SCHEMA[key])}")
            types, want = SCHEMA[key][k]
            if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
                raise UserError(f"{where(key, k)} must be {want}, not {v!r}")


# -- the settings objects ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepSettings:
    grid: tuple = ()                 # ((name, values spec), ...) in order
    constraint: str | None = None
    jobs: int | None = None
    dask_scheduler: str | None = None
    engine: str = "fast"
    confirm: int = 0
    metric: str = "sharpe"
    top: int = 10
    heatmap: str | None = None


@dataclass(frozen=True)
class StudySettings:
    horizons: tuple = (1, 5, 20, 60, 120)
    entry_lag: int = 1
    n_boot: int = 1000
    n_null: int = 2000
    when: str | None = None
    on: str | None = None
    analogs: int = 20


@dataclass(frozen=True)
class WalkForwardSettings:
    is_years: float = 5.0
    oos_years: float = 1.0
    anchored: bool = False
    objective: str = "sharpe"


@dataclass(frozen=True)
class FactorSettings:
    enabled: bool = True             # run: regress monthly excess returns on the factors
    file: str | None = None          # a factors CSV; None: the installed Fama-French data (arch)
    units: str = "percent"
    hac_lags: int | None = None


@dataclass(frozen=True)
class ReportSettings:
    out: str | None = None
    pdf: bool = True
    html: bool = True
    progress: bool = True


@dataclass(frozen=True)
class Settings:
    """Everything a command runs on. ``run`` is the (first) strategy's :class:`RunConfig`."""

    run: RunConfig = field(default_factory=RunConfig)
    seed: int = 0
    symbols: tuple | None = None                    # [data] symbols: the only symbols allowed
    strategies: tuple = ()                          # compare: ((name, params), ...), first = run's
    baselines: bool = True
    sweep: SweepSettings = field(default_factory=SweepSettings)
    study: StudySettings = field(default_factory=StudySettings)
    walkforward: WalkForwardSettings = field(default_factory=WalkForwardSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    factors: FactorSettings = field(default_factory=FactorSettings)
    config_file: FileConfig | None = field(default=None, compare=False)

    def check_symbols(self, needed, what: str = "the strategy") -> None:
        """With ``[data] symbols`` in the config, every symbol used must be listed there."""
        if self.symbols is None:
            return
        missing = [s for s in dict.fromkeys(needed) if s not in self.symbols]
        if missing:
            where = f"config {self.config_file.path}" if self.config_file else "the settings"
            raise UserError(f"{where}: {what} uses {', '.join(missing)}, not in [data] symbols "
                            f"({', '.join(self.symbols)}); add {'them' if len(missing) > 1 else 'it'} to the list")


def _date(v) -> str:
    return v.isoformat() if isinstance(v, _dt.date) else str(v)


def _strategy_specs(items, where) -> tuple:
    out = []
    for s in items:
        if isinstance(s, str):
            from rotationlab.comparison import parse_spec
            name, params = parse_spec(s)
            out.append((name, dict(p.split("=", 1) for p in params)))
        elif isinstance(s, dict) and isinstance(s.get("name"), str):
            params = s.get("params") or {}
            if not isinstance(params, dict):
                raise UserError(f"{where('compare', 'strategies')}: params of {s['name']} must be a table")
            out.append((s["name"], dict(params)))
        elif isinstance(s, (list, tuple)) and len(s) == 2 and isinstance(s[0], str):
            out.append((s[0], dict(s[1] or {})))
        else:
            raise UserError(f"{where('compare', 'strategies')}: each entry is {{name = \"KEY\", params = {{...}}}} "
                            "or \"KEY\"")
    return tuple(out)


def settings(raw: dict, where=None, config_file: FileConfig | None = None) -> Settings:
    """:class:`Settings` from tables shaped like a config file (values as TOML or command-line
    text). ``where(table, key)`` names a value in messages."""
    where = where or (lambda table, key: f"[{table}] {key}" if table else key)
    check(raw, where)
    data = raw.get("data", {})
    strat = raw.get("strategy", {})
    costs = raw.get("costs", {})
    rep = raw.get("report", {})
    sw = raw.get("sweep", {})
    cmp_ = raw.get("compare", {})
    st = raw.get("study", {})
    wf = raw.get("walkforward", {})
    bench = raw.get("benchmark", "^GSPC")
    if bench is False or (isinstance(bench, str) and bench.strip().lower() in ("none", "")):
        bench = None
    ex_kw = {k: costs[k] for k in ("cash", "commission_bps", "slippage_bps", "fill", "cash_buffer",
                                   "drift_tolerance") if k in costs}
    for k in ("cash", "commission_bps", "slippage_bps", "cash_buffer", "drift_tolerance"):
        if k in ex_kw:
            ex_kw[k] = float(ex_kw[k])
    if "whole_shares" in costs:
        ex_kw["fractional"] = not costs["whole_shares"]
    adjustments = {}
    for sym, kind in (data.get("adjustments") or {}).items():
        if kind not in ADJUSTMENT_KINDS:
            raise UserError(f"{where('data', 'adjustments')}: {sym} = {kind!r} is not an adjustment kind; "
                            f"use one of {', '.join(ADJUSTMENT_KINDS)}")
        adjustments[str(sym)] = kind
    from data_feeds import parse_sources, parse_splice
    sources = parse_sources(data.get("sources"), where=where("data", "sources")) if data.get("sources") else {}
    spliced = parse_splice(data.get("splice"), where=where("data", "splice")) if data.get("splice") else {}
    name = strat.get("name", "dow_nasdaq_divergence")
    given = dict(strat.get("params") or {})
    rule = make_rule(name, given)  # validates every parameter now (one-line errors)
    params = {k: rule.values[k] for k in given}
    run = RunConfig(
        strategy=name, params=params, benchmark=bench, source=data.get("source", "sample"),
        data_dir=data.get("data_dir"), cache_dir=data.get("cache_dir"), offline=bool(data.get("offline", False)),
        start=_date(data["start"]) if data.get("start") else None, end=_date(data["end"]) if data.get("end") else None,
        execution=Execution(**ex_kw),
        align=AlignPolicy(kind=data.get("align", "union"), max_ffill_days=data.get("max_ffill_days", 5)),
        adjustments=adjustments, strict_adjustment=bool(data.get("strict_adjustment", False)),
        date_format=data.get("date_format"), sources=sources, splice=spliced)
    from data_feeds.base import check_date
    check_date(run.start, "--start")
    check_date(run.end, "--end")
    if run.start and run.end and str(run.start) > str(run.end):
        raise UserError(f"--start {run.start} is after --end {run.end}; swap them")
    grid = sw.get("grid") or {}
    for gname, spec in grid.items():
        if not isinstance(spec, (list, str, int, float)) or isinstance(spec, bool):
            raise UserError(f"{where('sweep', 'grid')} {gname} must be a list of values or a string like "
                            f"\"0.01:0.05:0.01\", not {spec!r}")
    heat = rep.get("heatmap")
    sweep = SweepSettings(grid=tuple(grid.items()), constraint=sw.get("constraint"), jobs=sw.get("jobs"),
                          dask_scheduler=sw.get("dask_scheduler"), engine=sw.get("engine", "fast"),
                          confirm=int(sw.get("confirm", 0)), metric=rep.get("metric", "sharpe"),
                          top=int(rep.get("top", 10)),
                          heatmap=",".join(map(str, heat)) if isinstance(heat, list) else heat)
    if sweep.engine not in ("fast", "backtrader"):
        raise UserError(f"{where('sweep', 'engine')} {sweep.engine!r}: use fast or backtrader")
    horizons = st.get("horizons", (1, 5, 20, 60, 120))
    if isinstance(horizons, str):
        try:
            horizons = [int(h) for h in horizons.split(",") if h.strip()]
        except ValueError:
            raise UserError(f"{where('study', 'horizons')} {st['horizons']!r}: give whole numbers of days, "
                            "e.g. 1,5,20") from None
    if not horizons or not all(isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= 2520 for h in horizons):
        raise UserError(f"{where('study', 'horizons')}: give whole numbers of trading days from 1 to 2520, "
                        "e.g. 1,5,20")
    study = StudySettings(horizons=tuple(sorted(set(horizons))), entry_lag=int(st.get("entry_lag", 1)),
                          n_boot=int(st.get("n_boot", 1000)), n_null=int(st.get("n_null", 2000)),
                          when=st.get("when"), on=_date(st["on"]) if st.get("on") else None,
                          analogs=int(st.get("analogs", 20)))
    if study.entry_lag < 0 or study.n_boot < 10 or study.n_null < 10 or study.analogs < 2:
        raise UserError("--entry-lag must be >= 0, --n-boot and --n-null at least 10, --analogs at least 2")
    if study.entry_lag > 250 or study.n_boot > 100_000 or study.n_null > 100_000 or study.analogs > 10_000:
        raise UserError("--entry-lag at most 250 days, --n-boot and --n-null at most 100000, --analogs at most 10000")
    walk = WalkForwardSettings(is_years=float(wf.get("is_years", 5)), oos_years=float(wf.get("oos_years", 1)),
                               anchored=bool(wf.get("anchored", False)), objective=wf.get("objective", "sharpe"))
    if not (0 < walk.is_years <= 100 and 1 / 12 <= walk.oos_years <= 100):
        raise UserError(f"--is-years {walk.is_years:g} / --oos-years {walk.oos_years:g}: the in-sample window must be "
                        "positive, at most 100 years, and the out-of-sample one from 1/12 (a month) to 100 years")
    report = ReportSettings(out=rep.get("out"), pdf=bool(rep.get("pdf", True)), html=bool(rep.get("html", True)),
                            progress=bool(rep.get("progress", True)))
    fac = raw.get("factors", {})
    factors = FactorSettings(enabled=bool(fac.get("enabled", True)), file=fac.get("file"),
                             units=fac.get("units", "percent"), hac_lags=fac.get("hac_lags"))
    if factors.units not in ("percent", "fraction"):
        raise UserError(f"{where('factors', 'units')} {factors.units!r}: use percent or fraction")
    if factors.hac_lags is not None and factors.hac_lags < 0:
        raise UserError(f"{where('factors', 'hac_lags')} {factors.hac_lags}: give 0 or more months")
    strategies = _strategy_specs(cmp_.get("strategies") or [], where)
    if not strategies:
        strategies = ((name, params),)
    elif strategies[0][0] == name and not strategies[0][1]:
        strategies = ((name, params), *strategies[1:])
    syms = data.get("symbols")
    if syms is not None and not all(isinstance(s, str) for s in syms):
        raise UserError(f"{where('data', 'symbols')} must be a list of symbols (strings)")
    seed = raw.get("seed", 0)
    return Settings(run=run, seed=seed, symbols=tuple(syms) if syms is not None else None, strategies=strategies,
                    baselines=bool(cmp_.get("baselines", True)), sweep=sweep, study=study, walkforward=walk,
                    report=report, factors=factors, config_file=config_file)


def merge(base: dict, over: dict) -> dict:
    """``base`` tables overridden key by key by ``over``'s (strategy params and the sweep grid
    merge per entry; another strategy name drops the base's params and grid)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    new_name = over.get("strategy", {}).get("name")
    old_name = base.get("strategy", {}).get("name", "dow_nasdaq_divergence")
    if new_name is not None and new_name != old_name:
        out.get("strategy", {}).pop("params", None)
        if "sweep" in out:
            out["sweep"].pop("grid", None)
    for key, value in over.items():
        if isinstance(value, dict):
            table = out.setdefault(key, {})
            for k, v in value.items():
                if k in ("params", "grid", "adjustments", "sources", "splice") and isinstance(v, dict):
                    table[k] = {**(table.get(k) or {}), **v}
                else:
                    table[k] = v
        else:
            out[key] = value
    return out


def from_file(path, overrides: dict | None = None, labels: dict | None = None) -> Settings:
    """:class:`Settings` of a config file, with ``overrides`` (tables shaped like the file's)
    applied key by key. ``labels`` names override keys in messages (e.g. the flag)."""
    fc = load(path) if path is not None else None
    raw = merge(fc.raw if fc else {}, overrides or {})
    labels = labels or {}

    def where(table, key):
        if (table, key) in labels and (table, key) in _keys(overrides or {}):
            return labels[(table, key)]
        if fc is not None:
            return f"config {fc.path}: " + (f"[{table}] {key}" if table else key)
        return labels.get((table, key), f"[{table}] {key}" if table else key)
    return settings(raw, where, fc)


def _keys(tables: dict) -> set:
    out = set()
    for k, v in tables.items():
        if isinstance(v, dict):
            out |= {(k, kk) for kk in v}
        else:
            out.add((None, k))
    return out


def replace_run(s: Settings, **changes) -> Settings:
    return dataclasses.replace(s, run=dataclasses.replace(s.run, **changes))
