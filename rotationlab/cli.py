"""Command line: ``run_backtest.py {data,run,list} ...`` (also installed as ``run-backtest``)."""

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
    from data_feeds import SOURCES
    g = p.add_argument_group("data")
    g.add_argument("--source", default="sample", choices=sorted(SOURCES),
                   help="where bars come from (default: sample, the embedded offline history)")
    g.add_argument("--data-dir", help="folder of SYMBOL.csv files (for --source csv)")
    g.add_argument("--cache-dir", help="download cache folder for --source yahoo "
                                       "(default: the user cache dir, e.g. ~/.cache/rotationlab/yahoo)")
    g.add_argument("--offline", action="store_true", help="yahoo: use the cache only, never download")
    g.add_argument("--start", help="first date, YYYY-MM-DD (history before it is used only to warm up)")
    g.add_argument("--end", help="last date, YYYY-MM-DD")
    g.add_argument("--align", default="union", choices=["union", "intersection"],
                   help="calendar policy for several symbols (default: union)")
    g.add_argument("--max-ffill-days", type=int, default=5,
                   help="union policy: longest gap inside a symbol's history filled with its last close (default: 5)")


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


def _add_strategy_args(p):
    p.add_argument("--strategy", default="dow_nasdaq_divergence",
                   help="registry key (default: dow_nasdaq_divergence; `list` shows all)")
    p.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                   help="strategy parameter, repeatable; lists as key=A,B (e.g. -p rotation_symbols=DIA,IWM)")
    p.add_argument("--benchmark", default="^GSPC", help="benchmark symbol (default: ^GSPC; 'none' for none)")


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
    _add_strategy_args(r)
    _add_data_args(r)
    _add_exec_args(r)
    r.add_argument("--out", help="output folder (default: output/<strategy>-<config hash>/)")
    r.add_argument("--no-pdf", action="store_true", help="skip report.pdf (write CSV, JSON, PNGs)")

    c = sub.add_parser("compare", parents=[debug], epilog=EPILOG,
                       help="a rule beside its baselines on identical data, period and costs, in one report "
                            "(default: the divergence rule vs buy_and_hold, static_blend, always_rotated)",
                       description="Run strategies on the same data, period and costs and write one report: "
                                   "metrics.json, equity.csv, comparison PNGs, report.pdf, and a folder of "
                                   "CSVs per strategy. The first strategy's baselines are added: buy_and_hold "
                                   "of the benchmark, static_blend (its growth and rotation baskets 50/50) "
                                   "and always_rotated (its rotation basket).")
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
    c.add_argument("--out", help="output folder (default: output/compare-<config hash>/)")
    c.add_argument("--no-pdf", action="store_true", help="skip report.pdf (write CSV, JSON, PNGs)")

    sub.add_parser("list", parents=[debug], help="list strategies with their rule and parameters", epilog=EPILOG)
    return parser


def _policy(args):
    from data_feeds import AlignPolicy
    return AlignPolicy(kind=args.align, max_ffill_days=args.max_ffill_days)


def cmd_data(args) -> int:
    from data_feeds import align, get_source
    from rotationlab.atomic import atomic_write_text
    source = get_source(args.source, data_dir=args.data_dir, cache_dir=args.cache_dir, offline=args.offline)
    bars = source.load_many(_symbols(args.symbols), args.start, args.end)
    print(f"{'symbol':<8} {'first':<10} {'last':<10} {'rows':>6}  {'kind':<10} {'adjustment':<13} source")
    for s, b in bars.items():
        m = b.meta
        kind = "close-only" if m.close_only else "OHLC"
        print(f"{s:<8} {m.first_date:<10} {m.last_date:<10} {m.rows:>6}  {kind:<10} {m.adjustment:<13} "
              f"{m.source}: {m.origin}")
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


def cmd_run(args) -> int:
    from reports.build import write_report
    from rotationlab.engine import run
    config = make_config(args)
    out = Path(args.out) if args.out else Path("output") / (
        f"{config.strategy}-{hashlib.sha256(config.to_json().encode()).hexdigest()[:10]}")
    result = run(config)
    paths = write_report(result, out, pdf=not args.no_pdf)
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
    ident = json.dumps([[label, cfg.to_dict()] for label, cfg in labelled], sort_keys=True)
    out = Path(args.out) if args.out else Path("output") / f"compare-{hashlib.sha256(ident.encode()).hexdigest()[:10]}"
    results = run_comparison(labelled)
    report = write_comparison(results, out, pdf=not args.no_pdf)
    first = next(iter(results.values()))
    print(f"{len(results)} strategies, {first.provenance['period']['trade_from']} to "
          f"{first.provenance['period']['trade_to']}, benchmark {first.config.get('benchmark') or 'none'}:")
    width = max(len(label) for label in results)
    for label, m in report["metrics"].items():
        m = m["metrics"]
        print(f"  {label:<{width}}  CAGR {m['cagr']:7.2%}  Sharpe {m['sharpe']:5.2f}  "
              f"max drawdown {m['max_drawdown']:7.2%}  {m['n_trades']:>5} trades")
    print(f"wrote {out}/: " + ", ".join(sorted(p.name for p in out.iterdir())))
    return 0


def cmd_list(args) -> int:
    from strategies import STRATEGIES
    for key, cls in STRATEGIES.items():
        print(f"{key}\n  {cls.sentence()}")
        for name, default in cls.defaults().items():
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
            print(f"    {name} = {shown!s:<14} {cls.param_docs.get(name, '')}")
        print()
    return 0


COMMANDS = {"data": cmd_data, "run": cmd_run, "compare": cmd_compare, "list": cmd_list}


def _showwarning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # no subcommand: the default run
        args = parser.parse_args([*(["--debug"] if args.debug else []), "run"])
    warnings.showwarning = _showwarning
    if not args.debug:  # third-party chatter (yfinance's own deprecations and retry logs)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        logging.getLogger("yfinance").setLevel(logging.CRITICAL)
    try:
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
