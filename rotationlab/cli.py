"""Command line: ``run_backtest.py {list,data,run,compare,study,sweep,walkforward,signal} ...``
(also installed as ``run-backtest``).

A thin layer over :mod:`rotationlab.api`: every flag is a keyword setting of the API (the same
names as the config file's keys), given settings override a ``--config`` file key by key, and
each command prints a short summary and writes its folder.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings

from rotationlab.errors import UserError

EPILOG = "Bad input prints one line naming the problem and the fix, and exits with code 2 (--debug: traceback)."


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _Fmt(argparse.RawDescriptionHelpFormatter):
    pass


# -- strategy options: --strategy NAME -p k=v, several for compare ---------------------------------
class _StrategyAction(argparse.Action):
    def __call__(self, parser, ns, values, option_string=None):
        specs = list(getattr(ns, "strategy_specs", None) or [])
        specs.append([values, []])
        ns.strategy_specs = specs
        ns.strategy = values


class _ParamAction(argparse.Action):
    def __call__(self, parser, ns, values, option_string=None):
        specs = getattr(ns, "strategy_specs", None)
        if specs:
            specs[-1][1].append(values)
        else:
            pre = list(getattr(ns, "pre_params", None) or [])
            pre.append(values)
            ns.pre_params = pre


def _strategy_args(p, many: bool = False):
    g = p.add_argument_group("strategy")
    g.add_argument("--strategy", action=_StrategyAction, metavar="NAME",
                   help=("registry key or path/to/rule.py:ClassName (default: dow_nasdaq_divergence; `list` shows "
                         "them)" + ("; repeat for several, each followed by its own -p" if many else "")))
    g.add_argument("--param", "-p", action=_ParamAction, metavar="KEY=VALUE",
                   help="a parameter of the strategy named before it, repeatable; lists as key=A,B "
                        "(e.g. -p rotation_symbols=DIA,IWM)")
    g.add_argument("--benchmark", help="benchmark symbol (default: ^GSPC; 'none' for none)")


def _date_arg(flag):
    """A --start/--end value, refused at parsing (for every command) unless it is a date."""
    def parse(text):
        from data_feeds import check_date
        try:
            check_date(text, flag)
        except UserError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2005-01-31") from None
        return text
    return parse


def _data_args(p):
    from data_feeds import SOURCES
    g = p.add_argument_group("data")
    g.add_argument("--source", choices=sorted(SOURCES),
                   help="where bars come from (default: sample, the embedded offline history)")
    g.add_argument("--data-dir", help="folder of SYMBOL.csv files (for --source csv); an adjustments.toml "
                                      "there declares each file's adjustment")
    g.add_argument("--cache-dir", help="download cache folder for --source yahoo "
                                       "(default: the user cache dir, e.g. ~/.cache/rotationlab/yahoo)")
    g.add_argument("--offline", action="store_const", const=True, help="yahoo: use the cache only, never download")
    g.add_argument("--start", type=_date_arg("--start"),
                   help="first trading date, YYYY-MM-DD (the rule's state is built from all history)")
    g.add_argument("--end", type=_date_arg("--end"), help="last date, YYYY-MM-DD")
    g.add_argument("--align", choices=["union", "intersection"],
                   help="calendar policy for several symbols (default: union)")
    g.add_argument("--max-ffill-days", type=int,
                   help="union policy: longest gap inside a symbol's history filled with its last close (default: 5)")
    g.add_argument("--adjustment", action="append", metavar="SYM=KIND",
                   help="declare a series' adjustment, repeatable or SYM=KIND,SYM2=KIND; KIND is total_return "
                        "(split and dividend adjusted), price (an index or prices without dividends) or unknown; "
                        "wins over adjustments.toml and the defaults")
    g.add_argument("--strict-adjustment", action="store_const", const=True,
                   help="refuse to mix total-return and price series (default: one warning line)")
    g.add_argument("--symbol-source", "--sources", dest="sources", action="append", metavar="SYM=SOURCE",
                   help="a symbol's own source, repeatable or SYM=SRC,SYM2=SRC: sample, csv:DIR or yahoo "
                        "(e.g. --symbol-source ^DJI=sample,IWM=csv:../shared/data/market)")
    g.add_argument("--splice", action="append", metavar="TARGET=PROXY",
                   help="splice a longer proxy before a symbol's first date, scaled at the first common date "
                        "(e.g. --splice IWM=^RUT); recorded in the provenance")
    g.add_argument("--date-format", metavar="FMT",
                   help="strftime format of the files' dates, e.g. %%d/%%m/%%Y; needed when day and month "
                        "cannot be told apart (default: ISO, or the order the file shows)")


def _exec_args(p):
    g = p.add_argument_group("execution")
    g.add_argument("--cash", type=float, help="starting cash (default: 1,000,000)")
    g.add_argument("--commission-bps", type=float, help="commission, basis points of traded value (default: 1)")
    g.add_argument("--slippage-bps", type=float, help="slippage against each fill, basis points (default: 2)")
    g.add_argument("--fill", choices=["next_open", "next_close", "second_open", "same_close"],
                   help="next_open (default): decide at the close, fill at the next open (every order at the next "
                        "close when a traded series has close prices only); next_close / second_open: one or two "
                        "days of lag; same_close: a labelled study option with no execution lag")
    g.add_argument("--cash-buffer", type=float, help="fraction kept in cash for costs when rebalancing (default: 0.01)")
    g.add_argument("--drift-tolerance", type=float,
                   help="rebalance when a weight drifts this far from target (default: 0.05)")
    g.add_argument("--whole-shares", action="store_const", const=True, help="trade whole shares (default: fractional)")


def _out_args(p, default: str, html: bool = True):
    g = p.add_argument_group("output")
    g.add_argument("--out", help=f"output folder (default: {default})")
    g.add_argument("--no-pdf", dest="pdf", action="store_const", const=False, help="skip report.pdf")
    if html:
        g.add_argument("--no-html", dest="html", action="store_const", const=False, help="skip report.html")
    g.add_argument("--force", action="store_true",
                   help="write into a folder made by another command or config (overwriting its files)")
    g.add_argument("--no-progress", dest="progress", action="store_const", const=False,
                   help="no progress display on stderr")


def _common(p, *, seed=True):
    p.add_argument("--config", metavar="FILE.toml",
                   help="read the settings from a TOML config file (examples in configs/); flags override it")
    if seed:
        p.add_argument("--seed", type=int, help="random seed of the statistics; same seed, same numbers (default: 0)")


def _grid_args(p):
    g = p.add_argument_group("grid")
    g.add_argument("--grid", action="append", metavar="NAME=VALUES",
                   help="a swept parameter, repeatable: values 2,5,10; a range start:stop:step such as "
                        "0.01:0.05:0.01 (stop included); list parameters as A,B|C,D; execution settings "
                        "(commission_bps, slippage_bps, fill...) too")
    g.add_argument("--constraint", metavar="EXPR",
                   help="keep only combinations where this expression over parameter names holds, "
                        "e.g. 'hold_days >= lookback_days and threshold < 0.04'")
    return g


EXAMPLES = {
    "list": "run_backtest.py list",
    "data": "run_backtest.py data --symbols ^DJI,^IXIC\n  run_backtest.py data --source csv --data-dir "
            "../shared/data/market --symbols DIA,QQQ --out closes.csv",
    "run": "run_backtest.py run\n  run_backtest.py run --start 2005-01-01 -p threshold=0.02 -p hold_days=10\n"
           "  run_backtest.py run --config configs/divergence_etf.toml",
    "compare": "run_backtest.py compare\n  run_backtest.py compare --strategy dow_nasdaq_divergence -p threshold=0.02 "
               "--strategy buy_and_hold",
    "study": "run_backtest.py study\n  run_backtest.py study --config configs/divergence_sample.toml --horizons 5,20,60",
    "sweep": "run_backtest.py sweep --grid lookback_days=2,5,10,20 --grid threshold=0.01:0.05:0.01\n"
             "  run_backtest.py sweep --config configs/divergence_etf.toml --resume",
    "walkforward": "run_backtest.py walkforward --grid lookback_days=3,5,10 --grid threshold=0.02,0.03 "
                   "--is-years 4 --oos-years 2",
    "signal": "run_backtest.py signal\n  run_backtest.py signal --asof 2008-10-10 --json",
}


def _sub(sub, name, help_, description=None):
    p = sub.add_parser(name, help=help_, description=description or help_, epilog=f"example:\n  {EXAMPLES[name]}\n\n"
                       f"{EPILOG}", formatter_class=_Fmt)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="run_backtest.py", epilog=EPILOG,
                     description="Rotation Lab: test rotation rules (e.g. Dow-over-Nasdaq divergence) on market "
                                 "history.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    lp = _sub(sub, "list", "list strategies with their rule and parameters")
    lp.add_argument("--strategy", metavar="NAME", help="also a rule file path/to/rule.py:ClassName")

    d = _sub(sub, "data", "load symbols, print what they are, optionally write aligned closes")
    _common(d, seed=False)
    _data_args(d)
    d.add_argument("--symbols", required=True, help="comma-separated, e.g. ^DJI,^IXIC")
    d.add_argument("--out", help="write aligned closes here (CSV: date, one column per symbol)")

    r = _sub(sub, "run", "run one strategy and write results (default: the divergence rule on the sample)")
    _common(r)
    _strategy_args(r)
    _data_args(r)
    _exec_args(r)
    _out_args(r, "output/<strategy>-<config hash>/")
    r.add_argument("--timings", action="store_true", help="print how long each phase took")
    r.add_argument("--no-stats", dest="stats", action="store_const", const=False,
                   help="skip the bootstrap and random-timing statistics (faster)")
    r.add_argument("--factors", dest="factor_file", metavar="CSV",
                   help="factor attribution on this CSV (month, mkt_rf, smb, hml, rf[, mom]; default: the "
                        "Fama-French monthly factors installed with arch, 1926-07 to 2018-11)")
    r.add_argument("--factor-units", choices=("percent", "fraction"), help="units of --factors (default percent)")
    r.add_argument("--no-factors", dest="factors", action="store_const", const=False,
                   help="skip the factor attribution")

    c = _sub(sub, "compare", "a rule beside its baselines on identical data, period and costs, in one report",
             "Run strategies on the same data, period and costs and write one report. The first strategy's "
             "baselines are added: buy-and-hold of the benchmark, buy-and-hold of its growth basket, a 50/50 "
             "blend of its growth and rotation baskets, and always rotated.")
    _common(c)
    _strategy_args(c, many=True)
    c.add_argument("--no-baselines", dest="baselines", action="store_const", const=False,
                   help="compare only the strategies given")
    _data_args(c)
    _exec_args(c)
    _out_args(c, "output/compare-<config hash>/")

    st = _sub(sub, "study", "event study: what followed each trigger of a rule (or each day a condition held)?")
    _common(st)
    _strategy_args(st)
    _data_args(st)
    _exec_args(st)
    g = st.add_argument_group("study")
    g.add_argument("--horizons", help="forward horizons in trading days (default: 1,5,20,60,120)")
    g.add_argument("--entry-lag", type=int, help="forward returns start at the close this many days after the "
                                                 "trigger (default: 1)")
    g.add_argument("--n-boot", type=int, help="bootstrap resamples (default: 1000)")
    g.add_argument("--n-null", type=int, help="draws of each null (default: 2000)")
    g.add_argument("--when", metavar="EXPR", help="study the days where this expression holds instead of the "
                                                  "rule's triggers, e.g. 'ret(^DJI,1) - ret(^IXIC,1) >= 0.015'")
    g.add_argument("--on", metavar="DATE", help="study the closest analogs of this day's conditions")
    g.add_argument("--analogs", type=int, help="with --on: how many analog days (default: 20)")
    _out_args(st, "output/study-<strategy>-<config hash>/")

    wf = _sub(sub, "walkforward", "choose parameters in-sample over a grid, trade them out-of-sample, stitch")
    _common(wf)
    _strategy_args(wf)
    _grid_args(wf)
    g = wf.add_argument_group("windows")
    g.add_argument("--is-years", type=float, help="in-sample length in years (default: 5)")
    g.add_argument("--oos-years", type=float, help="out-of-sample length in years, also the step (default: 1)")
    g.add_argument("--anchored", action="store_const", const=True,
                   help="expanding in-sample windows from the start (default: rolling windows of --is-years)")
    g.add_argument("--objective", choices=["sharpe", "cagr", "calmar"],
                   help="what the in-sample choice maximises (default: sharpe)")
    g.add_argument("--jobs", "-j", type=int, help="worker processes (default: all cores)")
    _data_args(wf)
    _exec_args(wf)
    _out_args(wf, "output/walkforward-<config hash>/")

    w = _sub(sub, "sweep", "run a rule over a grid of parameters (fast engine, local processes or a Dask cluster)",
             "Run a strategy once per combination of a parameter grid and write sweep.csv (one row per combination: "
             "a column per swept parameter, then the metrics), trials (every combination's daily returns), "
             "overfitting.json, heatmap.png, top.csv, report.pdf, report.html and manifest.json. Resumable.")
    _common(w)
    _strategy_args(w)
    g = _grid_args(w)
    g.add_argument("--metric", help="metric that ranks the combinations (default: sharpe)")
    g.add_argument("--top", type=int, help="rows of the top-N table (default: 10)")
    g.add_argument("--heatmap", metavar="X,Y[,METRIC]",
                   help="parameters and metric of heatmap.png (default: the first two swept parameters and --metric)")
    g = w.add_argument_group("workers")
    g.add_argument("--engine", choices=["fast", "backtrader"],
                   help="fast (default): the numba engine, the same decisions and fills, thousands of combinations a "
                        "second; backtrader: one full backtest per combination")
    g.add_argument("--jobs", "-j", type=int, help="worker threads/processes (default: all cores)")
    g.add_argument("--confirm", type=int, metavar="N",
                   help="fast engine: re-run the best N and N random rows in backtrader and check the rule's two "
                        "forms against each other (fails loudly beyond the tolerance)")
    g.add_argument("--dask-scheduler", "--scheduler", dest="dask_scheduler", metavar="tcp://HOST:PORT",
                   help="send the combinations (fast engine: in chunks) to this Dask distributed scheduler")
    g.add_argument("--resume", action="store_true",
                   help="continue the sweep in --out: skip the combinations already in its sweep.csv")
    g.add_argument("--no-report", dest="report", action="store_const", const=False,
                   help="write sweep.csv and the trials only (no figures, PDF or HTML)")
    _data_args(w)
    _exec_args(w)
    _out_args(w, "output/sweep-<config hash>/")

    sg = _sub(sub, "signal", "the latest state of a rule: rotated or not, the signal values, the distance to a flip")
    _common(sg, seed=False)
    _strategy_args(sg)
    _data_args(sg)
    sg.add_argument("--asof", metavar="DATE", help="the state at the close of this day (default: the last day)")
    sg.add_argument("--json", action="store_true", help="print JSON instead of one line")
    return parser


# -- argv -> API keyword settings ------------------------------------------------------------------
#: dest -> API keyword (where they differ); dests not listed here and not in KEYWORDS are CLI-only.
_RENAME = {"param": "params"}
_CLI_ONLY = {"command", "debug", "config", "force", "timings", "resume", "stats", "strategy_specs", "pre_params",
             "symbols", "asof", "json", "report", "_argv"}
FLAGS = {"sources": "--symbol-source", "splice": "--splice", "source": "--source", "data_dir": "--data-dir", "cache_dir": "--cache-dir", "start": "--start",
         "end": "--end", "align": "--align", "max_ffill_days": "--max-ffill-days", "adjustments": "--adjustment",
         "date_format": "--date-format", "name": "--strategy", "params": "-p", "cash": "--cash",
         "commission_bps": "--commission-bps", "slippage_bps": "--slippage-bps", "fill": "--fill",
         "cash_buffer": "--cash-buffer", "drift_tolerance": "--drift-tolerance", "benchmark": "--benchmark",
         "seed": "--seed", "out": "--out", "metric": "--metric", "top": "--top", "heatmap": "--heatmap",
         "grid": "--grid", "constraint": "--constraint", "jobs": "--jobs", "dask_scheduler": "--dask-scheduler",
         "engine": "--engine", "confirm": "--confirm", "horizons": "--horizons", "entry_lag": "--entry-lag",
         "n_boot": "--n-boot", "n_null": "--n-null", "when": "--when", "on": "--on", "analogs": "--analogs",
         "is_years": "--is-years", "oos_years": "--oos-years", "objective": "--objective",
         "file": "--factors", "units": "--factor-units", "enabled": "--no-factors"}


def _pairs(items, flag: str, example: str) -> dict:
    out = {}
    for item in items or []:
        for part in str(item).split(",") if flag == "--adjustment" else [item]:
            k, sep, v = str(part).partition("=")
            if not sep or not k.strip():
                raise UserError(f"{flag} {part!r} must look like {example}")
            out[k.strip()] = v.strip() if flag == "--adjustment" else v
    return out


def keywords(args) -> dict:
    """The API keyword settings the command line gave explicitly."""
    from rotationlab.api import KEYWORDS
    kw = {}
    for dest, value in vars(args).items():
        if value is None or dest in _CLI_ONLY:
            continue
        name = _RENAME.get(dest, dest)
        if name in KEYWORDS or name == "adjustment":
            kw[name] = value
    specs = getattr(args, "strategy_specs", None) or []
    pre = getattr(args, "pre_params", None) or []
    if args.command == "compare":
        if specs:
            first_params = [*pre, *specs[0][1]]
            kw["strategies"] = [{"name": specs[0][0], "params": _pairs(first_params, "-p", "key=value")}] + [
                {"name": n, "params": _pairs(ps, "-p", "key=value")} for n, ps in specs[1:]]
            kw["strategy"] = specs[0][0]
            kw["params"] = _pairs(first_params, "-p", "key=value")
        elif pre:
            kw["params"] = _pairs(pre, "-p", "key=value")
        return _fix(kw)
    if len(specs) > 1:
        raise UserError(f"`{args.command}` runs one strategy; give --strategy once (compare takes several)")
    params = [*pre, *(specs[0][1] if specs else [])]
    if params:
        kw["params"] = _pairs(params, "-p", "key=value (e.g. lookback_days=10)")
    if specs:
        kw["strategy"] = specs[0][0]
    return _fix(kw)


def _fix(kw: dict) -> dict:
    if "grid" in kw:
        grid = {}
        from rotationlab.sweeps import parse_grid_items
        for name, spec in parse_grid_items(kw["grid"]):
            if name in grid:
                raise UserError(f"bad grid: {name} is given twice with --grid; give all its values in one, "
                                f"e.g. --grid {name}=1,2,3")
            grid[name] = spec
        kw["grid"] = grid
    if "adjustment" in kw:
        from data_feeds import parse_adjustments
        kw["adjustments"] = parse_adjustments(kw.pop("adjustment"))
    if "sources" in kw:
        from data_feeds import parse_sources
        kw["sources"] = parse_sources(kw["sources"], where="--symbol-source")
    if "splice" in kw:
        from data_feeds import parse_splice
        kw["splice"] = parse_splice(kw["splice"], where="--splice")
    if "strategy" in kw and "strategies" not in kw and ":" in kw["strategy"] and ".py:" not in kw["strategy"]:
        from rotationlab.comparison import parse_spec
        name, params = parse_spec(kw["strategy"])
        kw["strategy"] = name
        kw["params"] = {**dict(p.split("=", 1) for p in params), **kw.get("params", {})}
    return kw


def settings_of(args):
    """The :class:`~rotationlab.configfile.Settings` the command line describes."""
    from rotationlab.api import KEYWORDS, settings
    kw = keywords(args)
    labels = {}
    for name in kw:
        if name in KEYWORDS:
            table, key = KEYWORDS[name]
            labels[(table, key)] = FLAGS.get(name, FLAGS.get(key, f"--{name.replace('_', '-')}"))
    return settings(args.config, labels=labels, **kw)


def _command(args) -> list[str]:
    return ["run_backtest.py", *getattr(args, "_argv", sys.argv[1:])]


# -- progress --------------------------------------------------------------------------------------
class Stages:
    """A one-line display of a command's phases on stderr (a terminal only, unless disabled)."""

    def __init__(self, label: str, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.label = label
        self.t0 = time.monotonic()
        self.times: dict = {}
        self._cur = None
        self._t = self.t0

    def __call__(self, stage: str) -> None:
        now = time.monotonic()
        if self._cur is not None:
            self.times[self._cur] = now - self._t
        self._cur, self._t = stage, now
        if self.enabled:
            self.stream.write(f"\r{self.label}: {stage} ({now - self.t0:4.1f} s)\x1b[K")
            self.stream.flush()

    def done(self) -> dict:
        self("done")
        self.times.pop("done", None)
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        return self.times


# -- commands --------------------------------------------------------------------------------------
def cmd_list(args) -> int:
    from strategies import STRATEGIES, rule_class
    classes = {args.strategy: rule_class(args.strategy)} if args.strategy else STRATEGIES
    for key, cls in classes.items():
        rule = cls.create({}) if not hasattr(cls, "extra_param_names") else None
        print(f"{key}\n  {rule.sentence() if rule is not None else cls.__doc__.strip().splitlines()[0]}")
        for name, default in cls.defaults().items():
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
            print(f"    {name} = {shown!s:<14} {cls.param_docs.get(name, '')}")
        print()
    return 0


def cmd_data(args) -> int:
    from data_feeds import align, get_source
    from rotationlab.atomic import atomic_write_text
    s = settings_of(args)
    cfg = s.run
    source = get_source(cfg.source, **cfg.source_options())
    symbols = [x.strip() for x in args.symbols.split(",") if x.strip()]
    bars = source.load_many(symbols, cfg.start, cfg.end)
    width = max(8, *(len(x) for x in bars))
    print(f"{'symbol':<{width}} {'first':<10} {'last':<10} {'rows':>6}  {'kind':<10} {'open=close':>10}  "
          f"{'adjustment':<12} source")
    for sym, b in bars.items():
        m = b.meta
        kind = "close-only" if m.close_only else "OHLC"
        print(f"{sym:<{width}} {m.first_date:<10} {m.last_date:<10} {m.rows:>6}  {kind:<10} "
              f"{m.close_only_share:>10.1%}  {m.adjustment:<12} {m.source}: {m.origin}")
    for sym, b in bars.items():
        if b.meta.notes:
            print(f"  {sym}: " + "; ".join(b.meta.notes))
    if args.out:
        panel = align(bars, cfg.align)
        closes = panel.closes().rename_axis("date")
        atomic_write_text(args.out, closes.to_csv(date_format="%Y-%m-%d", lineterminator="\n"))
        print(f"wrote {args.out}: {len(closes)} dates, alignment {panel.policy.describe()}")
    return 0


def _listing(out) -> str:
    from pathlib import Path
    out = Path(out)
    return ", ".join(sorted(p.name for p in out.iterdir() if not p.name.startswith(".")))


def cmd_run(args) -> int:
    st = Stages("run", enabled=getattr(args, "progress", None) is not False)
    st("starting the report helpers and importing the engine")
    from reports.run_report import RunHelpers
    helpers = RunHelpers()  # forked now: they import the plotting stack while the engine runs
    try:
        from rotationlab import api
        st("loading data and running the engine")
        s = settings_of(args)
        run = api.run(s, stats=args.stats is not False, on_result=helpers.start)
        st("writing the report")
        rep_t: dict = {}
        out = run.report(s.report.out, pdf=s.report.pdf, html=s.report.html, force=args.force,
                         command=_command(args), timings=rep_t, helpers=helpers)
        times = st.done()
    finally:
        helpers.close()
    m = run.metrics["metrics"]
    p = run.result.provenance["period"]
    line = (f"{run.result.strategy}: {p['trade_from']} to {p['trade_to']}, CAGR {m['cagr']:.2%}, Sharpe "
            f"{m['sharpe']:.2f}, max drawdown {m['max_drawdown']:.2%}, {m['n_trades']} trades")
    vg = run.metrics.get("vs_growth")
    if vg and vg.get("excess_cagr") == vg.get("excess_cagr"):
        line += f"; vs holding growth {vg['excess_cagr'] * 100:+.2f} %/yr"
    print(line)
    verdict = run.metrics.get("statistics", {}).get("verdict")
    if verdict:
        print(f"more than luck? {verdict.get('verdict')}: {verdict.get('sentence', '')}")
    fac = run.factors
    if fac and "loadings" in fac:
        from rotationlab.factors import headline
        print(headline(fac))
    elif fac:
        print(f"factor attribution skipped: {fac['skipped']}")
    print(f"wrote {out}/: {_listing(out)}")
    if args.timings:
        started = getattr(args, "_started", st.t0)
        rows = {"reading the command line, importing numpy and pandas": st.t0 - started, **times,
                **{f"  {k}": v for k, v in rep_t.items()},
                "total (after Python's own start-up)": time.monotonic() - started}
        width = max(map(len, rows))
        for k, v in rows.items():
            print(f"  {k:<{width}} {v:6.2f} s")
    return 0


def cmd_compare(args) -> int:
    from rotationlab import api
    st = Stages("compare", enabled=getattr(args, "progress", None) is not False)
    st("running the strategies")
    s = settings_of(args)
    cmp_ = api.compare(s)
    st("writing the report")
    out = cmp_.report(s.report.out, pdf=s.report.pdf, html=s.report.html, force=args.force, command=_command(args))
    st.done()
    first = next(iter(cmp_.results.values()))
    p = first.provenance["period"]
    print(f"{len(cmp_.results)} strategies, {p['trade_from']} to {p['trade_to']}, benchmark "
          f"{first.config.get('benchmark') or 'none'}:")
    width = max(len(label) for label in cmp_.results)
    for label, m in cmp_.metrics.items():
        m = m["metrics"]
        print(f"  {label:<{width}}  CAGR {m['cagr']:7.2%}  Sharpe {m['sharpe']:5.2f}  "
              f"max drawdown {m['max_drawdown']:7.2%}  {m['n_trades']:>5} trades")
    print(f"wrote {out}/: {_listing(out)}")
    return 0


def cmd_study(args) -> int:
    from rotationlab import api
    from rotationlab.verdict import format_p
    st = Stages("study", enabled=getattr(args, "progress", None) is not False)
    st("running the rule and the statistics")
    s = settings_of(args)
    study = api.study(s)
    st("writing the report")
    out = study.report(s.report.out, pdf=s.report.pdf, html=s.report.html, force=args.force, command=_command(args))
    st.done()
    sm = study.summary
    print(f"{study.title}: {sm['n_triggers']} event days ({sm['n_trigger_onsets']} episodes)")
    if sm.get("analogs"):
        print("  analogs (distance, defined in study.json): "
              + ", ".join(f"{a['date']} ({a['distance']:.2f})" for a in sm["analogs"][:10])
              + (f" and {len(sm['analogs']) - 10} more (study.json)" if len(sm["analogs"]) > 10 else ""))
    for h in sm["horizons"]:
        r = sm["results"].get(f"rotation_minus_growth_{h}d", {})
        if "mean" in r:
            print(f"  rotation minus growth, {h:>3}d: mean {r['mean']:+.2%}  CI {r['ci_low']:+.2%}..{r['ci_high']:+.2%}"
                  f"  p(shifted dates) {format_p(r['p_value_two_sided_cluster'], sm['n_null'], two_sided=True)}"
                  f"  p(random dates) {format_p(r['p_value_two_sided'], sm['n_null'], two_sided=True)}"
                  f"  {r['n_independent']} independent")
    v = sm.get("verdict")
    if v:
        print(f"  verdict: {v['verdict']}: {v['sentence']}")
    lag = study.lag
    if lag is not None:
        kept = lag.loc["next_open", "edge_kept"] if "edge_kept" in lag else float("nan")
        print(f"  execution lag: CAGR same close {lag.loc['same_close', 'cagr']:.2%}, next open "
              f"{lag.loc['next_open', 'cagr']:.2%}, next close {lag.loc['next_close', 'cagr']:.2%}, two days later "
              f"{lag.loc['second_open', 'cagr']:.2%}" + (f" (edge kept at next open {kept:.0%})" if kept == kept else ""))
    print(f"wrote {out}/: {_listing(out)}")
    return 0


def cmd_walkforward(args) -> int:
    from rotationlab import api
    st = Stages("walkforward", enabled=getattr(args, "progress", None) is not False)
    st("running the grid")
    s = settings_of(args)
    wf = api.walkforward(s)
    st("writing the report")
    out = wf.report(s.report.out, pdf=s.report.pdf, html=s.report.html, force=args.force, command=_command(args))
    st.done()
    sm = wf.summary
    print(f"walk-forward {s.run.strategy}: {sm['n_windows']} windows, {sm['n_combinations']} combinations; "
          f"out-of-sample {sm['oos']['from']} to {sm['oos']['to']}: CAGR {sm['oos']['cagr']:.2%}, "
          f"Sharpe {sm['oos']['sharpe']:.2f}" + (f" (benchmark {sm['oos']['benchmark_cagr']:.2%})"
                                                   if "benchmark_cagr" in sm["oos"] else ""))
    print(f"mean {sm['objective']} of the chosen: in-sample {sm['mean_is_objective_of_chosen']:.2f}, "
          f"out-of-sample {sm['mean_oos_objective_of_chosen']:.2f}")
    print(f"wrote {out}/: {_listing(out)}")
    return 0


def cmd_sweep(args) -> int:
    from rotationlab import api
    from rotationlab.sweeps import SweepStopped
    s = settings_of(args)
    try:
        sw = api.sweep(s, resume=args.resume, force=args.force, report=args.report is not False,
                       command=_command(args))
    except SweepStopped as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    for line in sw.summary_lines():
        print(line)
    return 0


def cmd_signal(args) -> int:
    import json

    from rotationlab import api
    from rotationlab.results import dump_json
    s = settings_of(args)
    sig = api.signal(s, asof=args.asof)
    if args.json:
        print(dump_json(sig.to_dict()), end="")
    else:
        print(sig.line())
    del json
    return 0


COMMANDS = {"list": cmd_list, "data": cmd_data, "run": cmd_run, "compare": cmd_compare, "study": cmd_study,
            "walkforward": cmd_walkforward, "sweep": cmd_sweep, "signal": cmd_signal}


def _showwarning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def _stopped(args, status: str, error: str | None = None) -> str:
    """Mark the folders the command was still writing as ``status``; a hint for the message."""
    from rotationlab.outdir import abandon_open, resume_command
    hint = "".join(f"; {path} holds what was written so far (manifest status {st})"
                   for path, st in abandon_open(status, error)[:1])
    if args.command == "sweep" and status == "interrupted":
        hint += f"; run `{resume_command(_command(args))}` to finish it"
    return hint


def main(argv=None) -> int:
    """The command line: bad input is one line on stderr and exit 2, Ctrl-C exit 130 (with the
    ``--resume`` line where a sweep can continue), a bug ``internal error`` and exit 1."""
    started = time.monotonic()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:  # no subcommand: the default run
        argv = [*(["--debug"] if args.debug else []), "run"]
        args = parser.parse_args(argv)
    args._argv = argv
    args._started = started  # for --timings
    old_show = warnings.showwarning
    warnings.showwarning = _showwarning
    if not args.debug:  # third-party chatter (yfinance's own deprecations and retry logs)
        logging.getLogger("yfinance").setLevel(logging.CRITICAL)
    from rotationlab.outdir import stopped_folders
    stopped_folders()  # forget folders of earlier calls in this process
    try:
        with warnings.catch_warnings():
            if not args.debug:
                warnings.filterwarnings("ignore", category=DeprecationWarning)
                warnings.filterwarnings("ignore", category=FutureWarning)
            from data_feeds import DataWarning
            warnings.simplefilter("always", DataWarning)
            return COMMANDS[args.command](args)
    except UserError as exc:
        hint = _stopped(args, "failed", str(exc))
        if args.debug:
            raise
        print(f"error: {exc}{hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"interrupted{_stopped(args, 'interrupted')}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (e.g. piped into `head`)
        import os
        _stopped(args, "failed", "the output pipe was closed")
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the exit flush cannot fail again
        except OSError:
            pass
        return 1
    except RecursionError:
        _stopped(args, "failed", "nested too deeply")
        if args.debug:
            raise
        print("error: the input is nested too deeply to process; simplify it", file=sys.stderr)
        return 2
    except MemoryError:
        _stopped(args, "failed", "out of memory")
        if args.debug:
            raise
        print("error: out of memory; use a smaller grid or period", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system or the network, not the code: one line
        from rotationlab.atomic import what_failed
        where = f"{exc.filename}: " if exc.filename else ""
        err = " ".join(f"{where}{what_failed(exc)}".split())
        hint = _stopped(args, "failed", err)
        if args.debug:
            raise
        print(f"error: {err}{hint}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001
        hint = _stopped(args, "failed", f"internal error: {type(exc).__name__}: {exc}")
        if args.debug:
            raise
        msg = " ".join(str(exc).split())
        print(f"internal error: {type(exc).__name__}: {msg} (rerun with --debug for the traceback){hint}",
              file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = old_show


if __name__ == "__main__":
    sys.exit(main())


def entry() -> None:
    """The process entry point (``run-backtest``, ``run_backtest.py``): :func:`main`, then exit
    without the interpreter's last garbage collection over everything the command built (about
    0.7 s after a run, for nothing: the process ends)."""
    import gc
    code = main()
    gc.freeze()
    sys.exit(code)
