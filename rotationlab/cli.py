"""Command line: ``run_backtest.py {data,run,compare,sweep,list} ...`` (also installed as ``run-backtest``)."""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import warnings
from pathlib import Path

from rotationlab.errors import UserError

EPILOG = "Bad input prints one line naming the problem and the fix, and exits with code 2."


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _symbols(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _add_data_args(p, symbols_required=False):
    from data_feeds import SOURCES, check_date

    def date_arg(flag):  # refused at parsing, for every command
        def parse(text):
            try:
                check_date(text, flag)
            except UserError:
                raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2005-01-31") from None
            return text
        return parse
    g = p.add_argument_group("data")
    g.add_argument("--source", default="sample", choices=sorted(SOURCES),
                   help="where bars come from (default: sample, the embedded offline history)")
    g.add_argument("--data-dir", help="folder of SYMBOL.csv files (for --source csv); an adjustments.toml "
                                      "there declares each file's adjustment")
    g.add_argument("--cache-dir", help="download cache folder for --source yahoo "
                                       "(default: the user cache dir, e.g. ~/.cache/rotationlab/yahoo)")
    g.add_argument("--offline", action="store_true", help="yahoo: use the cache only, never download")
    g.add_argument("--start", type=date_arg("--start"),
                   help="first date, YYYY-MM-DD (history before it is used only to warm up)")
    g.add_argument("--end", type=date_arg("--end"), help="last date, YYYY-MM-DD")
    g.add_argument("--align", default="union", choices=["union", "intersection"],
                   help="calendar policy for several symbols (default: union)")
    g.add_argument("--max-ffill-days", type=int, default=5,
                   help="union policy: longest gap inside a symbol's history filled with its last close (default: 5)")
    g.add_argument("--adjustment", action="append", default=[], metavar="SYM=KIND",
                   help="declare a series' adjustment, repeatable or SYM=KIND,SYM2=KIND; KIND is total_return "
                        "(split and dividend adjusted), price (an index or prices without dividends) or unknown; "
                        "wins over adjustments.toml and the defaults")
    g.add_argument("--date-format", metavar="FMT",
                   help="strftime format of the files' dates, e.g. %%d/%%m/%%Y; needed when day and month "
                        "cannot be told apart (default: ISO, or the order the file shows)")


def _add_exec_args(p):
    from rotationlab.config import Execution
    d = Execution()
    g = p.add_argument_group("execution")
    g.add_argument("--cash", type=float, default=d.cash, help=f"starting cash (default: {d.cash:,.0f})")
    g.add_argument("--commission-bps", type=float, default=d.commission_bps,
                   help=f"commission, basis points of traded value (default: {d.commission_bps:g})")
    g.add_argument("--slippage-bps", type=float, default=d.slippage_bps,
                   help=f"slippage against each fill, basis points (default: {d.slippage_bps:g})")
    g.add_argument("--fill", default=d.fill, choices=["next_open", "next_close", "second_open", "same_close"],
                   help="next_open (default): decide at the close, fill at the next open (next close for "
                        "close-only feeds); next_close / second_open: one or two days of lag; "
                        "same_close: a labelled study option with no execution lag")
    g.add_argument("--cash-buffer", type=float, default=d.cash_buffer,
                   help=f"fraction kept in cash for costs when rebalancing (default: {d.cash_buffer:g})")
    g.add_argument("--drift-tolerance", type=float, default=d.drift_tolerance,
                   help=f"rebalance when a weight drifts this far from target (default: {d.drift_tolerance:g})")
    g.add_argument("--whole-shares", action="store_true", help="trade whole shares (default: fractional)")


def _add_output_args(p, default: str, pdf_help: str):
    p.add_argument("--out", help=f"output folder (default: {default})")
    p.add_argument("--no-pdf", action="store_true", help=pdf_help)


def _add_strategy_args(p):
    p.add_argument("--strategy", default="dow_nasdaq_divergence",
                   help="registry key (default: dow_nasdaq_divergence; `list` shows all)")
    p.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                   help="strategy parameter, repeatable; lists as key=A,B (e.g. -p rotation_symbols=DIA,IWM)")
    p.add_argument("--benchmark", default="^GSPC", help="benchmark symbol (default: ^GSPC; 'none' for none)")


def _add_config_arg(p):
    p.add_argument("--config", metavar="FILE.toml",
                   help="read the settings from a TOML config file (examples in configs/); flags given on the "
                        "command line override the file's values")


SWEEP_HELP = "run a rule over a grid of parameters in parallel (local processes or a Dask cluster)"
SWEEP_DESCRIPTION = (
    "Run a strategy once per combination of a parameter grid, in worker processes (--jobs) or on a Dask "
    "cluster (--dask-scheduler), and write sweep.csv (one row per combination: a column per swept parameter, "
    "then the metrics), heatmap.png, top.csv, report.pdf and manifest.json. Rows are appended as they finish, "
    "so an interrupted sweep continues with --resume and recomputes nothing already written. Example: "
    "sweep --grid lookback_days=2,5,10,20 --grid threshold=0.01:0.05:0.01 --constraint 'hold_days >= lookback_days'")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="run_backtest.py", epilog=EPILOG,
                     description="Rotation Lab: test rotation rules (e.g. Dow-over-Nasdaq divergence) "
                                 "on market history.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    debug = _Parser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")

    d = sub.add_parser("data", parents=[debug], help="load symbols, print a summary, optionally write aligned closes",
                       epilog=EPILOG)
    _add_data_args(d)
    d.add_argument("--symbols", required=True, help="comma-separated, e.g. ^DJI,^IXIC")
    d.add_argument("--out", help="write aligned closes here (CSV: date, one column per symbol)")

    r = sub.add_parser("run", parents=[debug], help="run one strategy and write results (default: the divergence rule "
                                   "on the embedded sample)", epilog=EPILOG)
    _add_config_arg(r)
    _add_strategy_args(r)
    _add_data_args(r)
    _add_exec_args(r)
    _add_output_args(r, "output/<strategy>-<config hash>/", "skip report.pdf (write CSV, JSON, PNGs)")

    c = sub.add_parser("compare", parents=[debug], epilog=EPILOG,
                       help="a rule beside its baselines on identical data, period and costs, in one report "
                            "(default: the divergence rule vs buy_and_hold, static_blend, always_rotated)",
                       description="Run strategies on the same data, period and costs and write one report: "
                                   "metrics.json, equity.csv, comparison PNGs, report.pdf, and a folder of "
                                   "CSVs per strategy. The first strategy's baselines are added: buy_and_hold "
                                   "of the benchmark, static_blend (its growth and rotation baskets 50/50) "
                                   "and always_rotated (its rotation basket).")
    _add_config_arg(c)
    c.add_argument("--strategy", action="append", default=[], metavar="KEY[:k=v;k=v]",
                   help="strategy and parameters, repeatable (quote it: ';' separates parameters, ',' list "
                        "items), e.g. 'dow_nasdaq_divergence:threshold=0.02;hold_days=10' "
                        "(default: dow_nasdaq_divergence)")
    c.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter of the first strategy, repeatable, as for run (e.g. -p rotation_symbols=DIA,IWM)")
    c.add_argument("--benchmark", default="^GSPC", help="benchmark symbol, also held by the buy_and_hold "
                                                        "baseline (default: ^GSPC; 'none' for none)")
    c.add_argument("--no-baselines", action="store_true", help="compare only the strategies given")
    _add_data_args(c)
    _add_exec_args(c)
    _add_output_args(c, "output/compare-<config hash>/", "skip report.pdf (write CSV, JSON, PNGs)")

    st = sub.add_parser("study", parents=[debug], epilog=EPILOG,
                        help="event study of a signal strategy's trigger: what followed each divergence?")
    _add_strategy_args(st)
    _add_data_args(st)
    _add_exec_args(st)
    st.add_argument("--horizons", default="1,5,20,60,120",
                    help="forward horizons in trading days (default: 1,5,20,60,120)")
    st.add_argument("--entry-lag", type=int, default=1,
                    help="forward returns start at the close this many days after the trigger (default: 1)")
    st.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    st.add_argument("--n-null", type=int, default=2000, help="draws of each null (default: 2000)")
    st.add_argument("--seed", type=int, default=0, help="random seed; same seed, same numbers (default: 0)")
    _add_output_args(st, "output/study-<strategy>-<config hash>/", "skip report.pdf")

    wf = sub.add_parser("walkforward", parents=[debug], epilog=EPILOG,
                        help="choose parameters in-sample over a grid, trade them out-of-sample, stitch the result")
    _add_config_arg(wf)
    _add_strategy_args(wf)
    wf.add_argument("--grid", action="append", default=[], metavar="NAME=VALUES",
                    help="a parameter to choose from, repeatable, as for sweep (e.g. --grid lookback_days=3,5,10)")
    wf.add_argument("--constraint", metavar="EXPR", help="keep only combinations where this expression holds")
    wf.add_argument("--is-years", type=float, default=5, help="in-sample length in years (default: 5)")
    wf.add_argument("--oos-years", type=float, default=1,
                    help="out-of-sample length in years, also the step between windows (default: 1)")
    wf.add_argument("--anchored", action="store_true", help="expanding in-sample windows from the start "
                                                            "(default: rolling windows of --is-years)")
    wf.add_argument("--objective", default="sharpe", choices=["sharpe", "cagr", "calmar"],
                    help="what the in-sample choice maximises (default: sharpe)")
    wf.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: all cores)")
    _add_data_args(wf)
    _add_exec_args(wf)
    _add_output_args(wf, "output/walkforward-<config hash>/", "skip report.pdf")

    w = sub.add_parser("sweep", parents=[debug], help=SWEEP_HELP, description=SWEEP_DESCRIPTION, epilog=EPILOG)
    _add_config_arg(w)
    _add_strategy_args(w)
    g = w.add_argument_group("grid")
    g.add_argument("--grid", action="append", default=[], metavar="NAME=VALUES",
                   help="a swept parameter, repeatable: values 2,5,10; a range start:stop:step such as "
                        "0.01:0.05:0.01 (stop included); list parameters as A,B|C,D; execution settings "
                        "(commission_bps, slippage_bps, fill...) too")
    g.add_argument("--constraint", metavar="EXPR",
                   help="keep only combinations where this Python expression over parameter names holds, "
                        "e.g. 'hold_days >= lookback_days and threshold < 0.04'")
    g.add_argument("--metric", default="sharpe", help="metric that ranks the combinations (default: sharpe)")
    g.add_argument("--top", type=int, default=10, help="rows of the top-N table (default: 10)")
    g.add_argument("--heatmap", metavar="X,Y[,METRIC]",
                   help="parameters and metric of heatmap.png (default: the first two swept parameters and --metric)")
    g = w.add_argument_group("workers")
    g.add_argument("--jobs", "-j", type=int, default=None,
                   help="worker processes; each receives the data once (default: all cores; "
                        "ignored with --dask-scheduler)")
    g.add_argument("--engine", choices=["backtrader", "fast"], default="backtrader",
                   help="backtrader (default): one full backtest per combination; fast: the numba screening "
                        "engine, same decisions and fills, thousands of combinations a second")
    g.add_argument("--confirm", type=int, default=0, metavar="N",
                   help="with --engine fast: re-run the best N and N random rows in backtrader and report the "
                        "largest equity difference (fails loudly beyond the tolerance)")
    g.add_argument("--dask-scheduler", metavar="tcp://HOST:PORT",
                   help="send the combinations to this Dask distributed scheduler instead of local processes")
    g.add_argument("--resume", action="store_true",
                   help="continue the sweep in --out: skip the combinations already in its sweep.csv")
    g.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    _add_data_args(w)
    _add_exec_args(w)
    _add_output_args(w, "output/sweep-<config hash>/", "skip report.pdf (write sweep.csv, top.csv, heatmap.png)")

    sub.add_parser("list", parents=[debug], help="list strategies with their rule and parameters", epilog=EPILOG)
    return parser


def _explicit_dests(argv) -> set[str]:
    """The argparse dests given on the command line (a parser whose defaults are suppressed
    parses ``argv`` again): these win over a --config file's values."""
    parser = build_parser()

    def quiet(p):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sp in action.choices.values():
                    quiet(sp)
            elif action.dest != "help":
                action.default = argparse.SUPPRESS
    quiet(parser)
    return set(vars(parser.parse_args(list(argv))))


def apply_config(args, argv=None) -> argparse.Namespace:
    """Fill ``args`` from its ``--config`` file (if any) where the command line (``argv``) set
    nothing; without ``argv`` every value that differs from its default counts as given."""
    path = getattr(args, "config", None)
    if not path or getattr(args, "config_file", None) is not None:
        return args
    from rotationlab import configfile
    if argv is not None:
        explicit = _explicit_dests(argv)
    else:
        defaults = vars(build_parser().parse_args([args.command]))
        explicit = {k for k, v in vars(args).items() if k not in defaults or defaults[k] != v}
    return configfile.apply(args, configfile.load(path), explicit)


def config_from_args(args, argv=None):
    """Parsed arguments plus their optional ``--config`` TOML file (command-line flags win) ->
    :class:`RunConfig`. For any command with the strategy, data and execution arguments."""
    return make_config(apply_config(args, argv))


def _policy(args):
    from data_feeds import AlignPolicy
    return AlignPolicy(kind=args.align, max_ffill_days=args.max_ffill_days)


def cmd_data(args) -> int:
    from data_feeds import align, get_source, parse_adjustments
    from rotationlab.atomic import atomic_write_text
    source = get_source(args.source, data_dir=args.data_dir, cache_dir=args.cache_dir, offline=args.offline,
                        adjustments=parse_adjustments(args.adjustment) or None, date_format=args.date_format)
    bars = source.load_many(_symbols(args.symbols), args.start, args.end)
    width = max(8, *(len(s) for s in bars))
    print(f"{'symbol':<{width}} {'first':<10} {'last':<10} {'rows':>6}  {'kind':<10} {'open=close':>10}  "
          f"{'adjustment':<12} source")
    for s, b in bars.items():
        m = b.meta
        kind = "close-only" if m.close_only else "OHLC"
        print(f"{s:<{width}} {m.first_date:<10} {m.last_date:<10} {m.rows:>6}  {kind:<10} "
              f"{m.close_only_share:>10.1%}  {m.adjustment:<12} {m.source}: {m.origin}")
    for s, b in bars.items():
        if b.meta.notes:
            print(f"  {s}: " + "; ".join(b.meta.notes))
    if args.out:
        panel = align(bars, _policy(args))
        closes = panel.closes().rename_axis("date")
        atomic_write_text(args.out, closes.to_csv(date_format="%Y-%m-%d",
                                                  lineterminator="\n"))
        print(f"wrote {args.out}: {len(closes)} dates, alignment {panel.policy.describe()}")
    return 0


def make_config(args):
    from rotationlab.config import Execution, RunConfig, resolve_params
    _, values = resolve_params(args.strategy, args.param)
    given = {k: v for k, v in values.items()
             if k in {p.split("=", 1)[0].strip() for p in args.param}}
    ex = Execution(cash=args.cash, commission_bps=args.commission_bps, slippage_bps=args.slippage_bps,
                   fill=args.fill, cash_buffer=args.cash_buffer, drift_tolerance=args.drift_tolerance,
                   fractional=not args.whole_shares)
    bench = None if str(args.benchmark).lower() == "none" else args.benchmark
    return RunConfig(strategy=args.strategy, params=given, benchmark=bench, source=args.source,
                     data_dir=args.data_dir, cache_dir=args.cache_dir, offline=args.offline,
                     start=args.start, end=args.end, execution=ex, align=_policy(args))


def symbols_of(config) -> list[str]:
    """Every symbol a run of ``config`` uses: signal, traded and benchmark."""
    from types import SimpleNamespace

    from rotationlab.config import resolve_params
    cls, values = resolve_params(config.strategy, config.params)
    roles = cls.symbols(SimpleNamespace(**values))
    return list(dict.fromkeys([*roles["signal"], *roles["traded"], *([config.benchmark] if config.benchmark else [])]))


def _check_config_symbols(args, configs) -> None:
    fc = getattr(args, "config_file", None)
    if fc is not None:
        from rotationlab.configfile import check_symbols
        for cfg in configs:
            check_symbols(fc, symbols_of(cfg), f"strategy {cfg.strategy}")


def _write_manifest(args, out, kind, config, data):
    from rotationlab import manifest as MF
    man = MF.build(kind, config, data, seed=getattr(args, "seed", 0), config_file=getattr(args, "config_file", None))
    if getattr(args, "_argv", None) is not None:
        man["command"] = ["run_backtest.py", *args._argv]
    MF.write(out, man)


def cmd_run(args) -> int:
    from reports.build import write_report
    from rotationlab.engine import run
    config = make_config(args)
    _check_config_symbols(args, [config])
    out = Path(args.out) if args.out else Path("output") / (
        f"{config.strategy}-{hashlib.sha256(config.to_json().encode()).hexdigest()[:10]}")
    result = run(config)
    paths = write_report(result, out, pdf=not args.no_pdf)
    _write_manifest(args, out, "run", {"run": config.to_dict(), "resolved_params": result.config["params"]},
                    result.provenance)
    m = paths["metrics"]["metrics"]
    print(f"{result.strategy}: {result.provenance['period']['trade_from']} to "
          f"{result.provenance['period']['trade_to']}, CAGR {m['cagr']:.2%}, Sharpe {m['sharpe']:.2f}, "
          f"max drawdown {m['max_drawdown']:.2%}, {m['n_trades']} trades")
    print(f"wrote {out}/: " + ", ".join(sorted(p.name for p in out.iterdir())))
    return 0


def cmd_compare(args) -> int:
    import json

    from reports.compare import parse_spec, run_comparison, with_baselines, write_comparison
    specs = [parse_spec(s) for s in args.strategy] or [("dow_nasdaq_divergence", [])]
    specs[0] = (specs[0][0], [*specs[0][1], *args.param])
    configs = [make_config(argparse.Namespace(**{**vars(args), "strategy": key, "param": params}))
               for key, params in specs]
    labelled = with_baselines(configs, baselines=not args.no_baselines)
    _check_config_symbols(args, [cfg for _, cfg in labelled])
    ident = json.dumps([[label, cfg.to_dict()] for label, cfg in labelled], sort_keys=True)
    out = Path(args.out) if args.out else Path("output") / f"compare-{hashlib.sha256(ident.encode()).hexdigest()[:10]}"
    results = run_comparison(labelled)
    report = write_comparison(results, out, pdf=not args.no_pdf)
    first = next(iter(results.values()))
    symbols = {}
    for r in results.values():
        for sym, meta in r.provenance.get("symbols", {}).items():
            symbols.setdefault(sym, meta)
    _write_manifest(args, out, "compare", {"strategies": [[label, cfg.to_dict()] for label, cfg in labelled]},
                    {"symbols": symbols, "alignment": first.provenance.get("alignment"),
                     "period": first.provenance.get("period"),
                     "by_strategy": {lab: r.provenance for lab, r in results.items()}})
    print(f"{len(results)} strategies, {first.provenance['period']['trade_from']} to "
          f"{first.provenance['period']['trade_to']}, benchmark {first.config.get('benchmark') or 'none'}:")
    width = max(len(label) for label in results)
    for label, m in report["metrics"].items():
        m = m["metrics"]
        print(f"  {label:<{width}}  CAGR {m['cagr']:7.2%}  Sharpe {m['sharpe']:5.2f}  "
              f"max drawdown {m['max_drawdown']:7.2%}  {m['n_trades']:>5} trades")
    print(f"wrote {out}/: " + ", ".join(sorted(p.name for p in out.iterdir())))
    return 0


def cmd_sweep(args) -> int:
    import signal

    from reports.sweep_report import parse_heatmap, top_text, write_sweep_report
    from rotationlab import sweep as S
    from rotationlab.engine import load_data
    from rotationlab.errors import UserError
    base = make_config(args)
    if args.engine != "fast" and args.confirm:
        raise UserError("--confirm checks the fast engine against backtrader: add --engine fast")
    if args.engine == "fast" and args.dask_scheduler:
        raise UserError("--engine fast runs here (seconds for thousands of rows); drop --dask-scheduler")
    if args.confirm < 0:
        raise UserError("--confirm N: give 0 or more rows")
    if args.jobs is not None and args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: give at least 1 worker process")
    if args.top < 1:
        raise UserError(f"--top {args.top}: give at least 1 row")
    grid = S.merge_grid(getattr(args, "config_grid", None), args.grid)
    spec = S.build_spec(base, grid, args.constraint, args.metric)
    heat = parse_heatmap(args.heatmap, spec)
    fc = getattr(args, "config_file", None)
    if fc is not None:
        from rotationlab.configfile import check_symbols
        check_symbols(fc, spec.symbols, f"the grid of {base.strategy}")
    out = Path(args.out) if args.out else Path("output") / f"sweep-{spec.config_hash()[:10]}"
    client = S.connect(args.dask_scheduler) if args.dask_scheduler else None  # fails fast if unreachable
    try:
        data = load_data(base, spec.symbols)
    except BaseException:
        if client is not None:
            client.close()
        raise

    def _term(signum, frame):
        raise KeyboardInterrupt
    old = signal.signal(signal.SIGTERM, _term) if S.is_main_thread() else None
    try:
        outcome = S.run_sweep(spec, data, out, jobs=args.jobs, dask_scheduler=args.dask_scheduler, client=client,
                              resume=args.resume, progress=not args.no_progress and args.engine != "fast",
                              seed=getattr(args, "seed", 0), engine=args.engine,
                              config_file=fc, command=["run_backtest.py", *getattr(args, "_argv", [])])
    except S.SweepStopped as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    extra = []
    if len(spec.combos) >= 2:  # is the best row skill or luck? every trial's returns, DSR and PBO
        from reports.overfit_page import overfitting_page
        from rotationlab.atomic import atomic_write_bytes, atomic_write_text
        from rotationlab.overfit import overfitting, sweep_trials
        from rotationlab.results import dump_json
        trials, bench = sweep_trials(spec, data)
        atomic_write_bytes(out / "trials.csv.gz", _gzip_csv(trials.rename_axis("date")))
        over = overfitting(trials, benchmark=bench)
        atomic_write_text(out / "overfitting.json", dump_json(over))
        if not args.no_pdf:
            extra.append(overfitting_page(over, base.strategy))
        if over.get("applicable"):
            print(f"overfitting: deflated Sharpe {over['deflated_sharpe_ratio']:.3f} over "
                  f"{over['n_trials_effective']:.1f} effective trials; PBO {over['pbo']:.3f}")
    report = write_sweep_report(spec, out, data, outcome.manifest, outcome, heatmap=heat, top=args.top,
                                pdf=not args.no_pdf, extra_pages=extra)
    where = f"Dask scheduler {args.dask_scheduler}" if args.dask_scheduler else \
        f"{min(args.jobs or S.default_jobs(), max(outcome.computed, 1))} local job(s)"
    if args.engine == "fast":
        where = "the fast engine"
    rate = f", {outcome.computed / outcome.seconds:,.0f} combos/s" if outcome.computed and outcome.seconds > 0 else ""
    print(f"sweep {base.strategy}: {outcome.total} combinations ({outcome.computed} computed on {where}, "
          f"{outcome.reused} already in sweep.csv), {outcome.errors} failed, {outcome.seconds:.1f} s{rate}")
    if args.engine == "fast" and args.confirm > 0 and outcome.fast:
        _confirm_fast(spec, data, outcome.fast, report["frame"], args.confirm, getattr(args, "seed", 0))
    failed = report["frame"][report["frame"]["error"] != ""]
    if len(failed):
        print(f"{len(failed)} combination(s) failed (see the error column of sweep.csv), e.g. "
              f"{', '.join(f'{n}={S.cell(failed.iloc[0][n])}' for n in spec.names)}: {failed.iloc[0]['error']}")
    print(f"top {len(report['top'])} by {spec.metric}:")
    print(top_text(report["top"], spec, spec.metric))
    print(f"wrote {out}/: " + ", ".join(sorted(p.name for p in out.iterdir() if not p.name.startswith("."))))
    return 0


def cmd_walkforward(args) -> int:
    from reports.walkforward_report import write_walkforward
    from rotationlab import sweep as S
    from rotationlab.engine import load_data
    from rotationlab.walkforward import walk_forward
    base = make_config(args)
    grid = S.merge_grid(getattr(args, "config_grid", None), args.grid)
    spec = S.build_spec(base, grid, args.constraint)
    out = Path(args.out) if args.out else Path("output") / (
        f"walkforward-{spec.config_hash()[:10]}-{args.is_years:g}-{args.oos_years:g}"
        f"{'-anchored' if args.anchored else ''}-{args.objective}")
    data = load_data(base, spec.symbols)
    wf = walk_forward(spec, data, is_years=args.is_years, oos_years=args.oos_years, anchored=args.anchored,
                      objective=args.objective, jobs=args.jobs or S.default_jobs())
    write_walkforward(wf, out, base.strategy, wf.summary["run"]["rule"], pdf=not args.no_pdf)
    s = wf.summary
    print(f"walk-forward {base.strategy}: {s['n_windows']} windows, {s['n_combinations']} combinations; "
          f"out-of-sample {s['oos']['from']} to {s['oos']['to']}: CAGR {s['oos']['cagr']:.2%}, "
          f"Sharpe {s['oos']['sharpe']:.2f}" + (f" (benchmark {s['oos']['benchmark_cagr']:.2%})"
                                                  if "benchmark_cagr" in s["oos"] else ""))
    print(f"mean {s['objective']} of the chosen: in-sample {s['mean_is_objective_of_chosen']:.2f}, "
          f"out-of-sample {s['mean_oos_objective_of_chosen']:.2f}")
    print(f"wrote {out}/: " + ", ".join(sorted(p.name for p in out.iterdir())))
    return 0


def _confirm_fast(spec, data, info, frame, n, seed) -> None:
    """Re-run the best ``n`` rows and ``n`` random ones in backtrader; AgreementError if they differ."""
    import numpy as np

    from rotationlab import fast
    from rotationlab import sweep as S
    ok = frame[frame["error"] == ""]
    best = list(S.ranked(ok, spec.metric)["combo_id"].iloc[:n])
    rest = [c for c in ok["combo_id"] if c not in best]
    rng = np.random.default_rng(seed)
    picks = best + list(rng.choice(rest, size=min(n, len(rest)), replace=False)) if rest else best
    by_id = {c.id: i for i, c in enumerate(spec.combos)}
    idx = [by_id[c] for c in picks]
    sets = [info["sets"][i] for i in idx]
    sub = fast.run_fast(fast.prepare(spec.base, data, sets), sets)  # equity kept for these few
    diffs = fast.confirm(spec.base, data, sets, sub)
    print(f"confirmed {len(sets)} rows in backtrader ({len(best)} best, {len(sets) - len(best)} random): largest "
          f"relative equity difference {float(np.max(diffs)):.2e} (tolerance {fast.tolerance_for(spec.base.execution):.0e})")


def _gzip_csv(frame) -> bytes:
    """Deterministic gzip of a CSV (no timestamp in the header)."""
    import gzip
    text = frame.to_csv(date_format="%Y-%m-%d", lineterminator="\n")
    return gzip.compress(text.encode(), mtime=0)


def cmd_list(args) -> int:
    from strategies import STRATEGIES
    for key, cls in STRATEGIES.items():
        print(f"{key}\n  {cls.sentence()}")
        for name, default in cls.defaults().items():
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
            print(f"    {name} = {shown!s:<14} {cls.param_docs.get(name, '')}")
        print()
    return 0


def cmd_study(args) -> int:
    from reports.study_report import write_study
    from rotationlab.study import event_study
    config = make_config(args)
    try:
        horizons = [int(h) for h in args.horizons.split(",") if h.strip()]
    except ValueError:
        raise UserError(f"--horizons {args.horizons!r}: give whole numbers of days, e.g. 1,5,20") from None
    if args.entry_lag < 0 or args.n_boot < 10 or args.n_null < 10:
        raise UserError("--entry-lag must be >= 0 and --n-boot, --n-null at least 10")
    key = hashlib.sha256((config.to_json() + f"{horizons}{args.entry_lag}{args.n_boot}{args.n_null}{args.seed}")
                         .encode()).hexdigest()[:10]
    out = Path(args.out) if args.out else Path("output") / f"study-{config.strategy}-{key}"
    st = event_study(config, horizons=horizons, entry_lag=args.entry_lag, n_boot=args.n_boot,
                     n_null=args.n_null, seed=args.seed)
    from rotationlab.study import lag_sensitivity
    lag = lag_sensitivity(config, data=st.data)
    write_study(st, out, pdf=not args.no_pdf, lag=lag)
    s = st.summary
    print(f"{config.strategy}: {s['n_triggers']} trigger days ({s['n_trigger_onsets']} episodes)")
    for h in s["horizons"]:
        r = s["results"].get(f"rotation_minus_growth_{h}d", {})
        if "mean" in r:
            print(f"  rotation minus growth, {h:>3}d: mean {r['mean']:+.2%}  CI {r['ci_low']:+.2%}..{r['ci_high']:+.2%}"
                  f"  p(shifted dates) {r['p_value_two_sided_cluster']:.3f}  p(random dates) {r['p_value_two_sided']:.3f}")
    kept = lag.loc["next_open", "edge_kept"] if "edge_kept" in lag else float("nan")
    print(f"  execution lag: CAGR same close {lag.loc['same_close', 'cagr']:.2%}, next open "
          f"{lag.loc['next_open', 'cagr']:.2%}, next close {lag.loc['next_close', 'cagr']:.2%}, two days later "
          f"{lag.loc['second_open', 'cagr']:.2%}" + (f" (edge kept at next open {kept:.0%})" if kept == kept else ""))
    print(f"wrote {out}/: " + ", ".join(sorted(p.name for p in out.iterdir())))
    return 0


COMMANDS = {"data": cmd_data, "run": cmd_run, "compare": cmd_compare, "list": cmd_list, "study": cmd_study,
            "walkforward": cmd_walkforward,
            "sweep": cmd_sweep}


def _showwarning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv=None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:  # no subcommand: the default run
        argv = [*(["--debug"] if args.debug else []), "run"]
        args = parser.parse_args(argv)
    args._argv = argv
    warnings.showwarning = _showwarning
    if not args.debug:  # third-party chatter (yfinance's own deprecations and retry logs)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        logging.getLogger("yfinance").setLevel(logging.CRITICAL)
    try:
        if getattr(args, "config", None):
            apply_config(args, argv)
        return COMMANDS[args.command](args)
    except UserError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
