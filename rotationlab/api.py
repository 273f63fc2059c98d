"""The public Python API (``import rotationlab as rl``); the command line is a thin layer over it.

Every function takes an optional ``config`` (a TOML file path, a :class:`~rotationlab.configfile.Settings`
or a :class:`~rotationlab.config.RunConfig`) and keyword settings that override it key by key,
named as the command-line flags are (``strategy``, ``params``, ``start``, ``source``,
``data_dir``, ``benchmark``, ``commission_bps``, ``fill``, ``grid``, ``horizons``...), and an
optional ``data``: a DataFrame of closes, a dict of OHLCV frames, or ``{symbol: Bars}`` (then no
file is read)::

    import rotationlab as rl
    run = rl.run(start="2005-01-01", params={"threshold": 0.02})
    run.metrics["metrics"]["cagr"], run.equity, run.trades, run.signals
    run.report("output/my-run")                 # PNGs, report.pdf, report.html, CSVs, JSON

Results are plain objects; ``.report(path)`` writes the same folder the command line writes.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rotationlab import configfile as CF
from rotationlab.config import RunConfig
from rotationlab.errors import UserError

#: Keyword settings -> (table, key) of the config file layout.
KEYWORDS = {
    "source": ("data", "source"), "data_dir": ("data", "data_dir"), "cache_dir": ("data", "cache_dir"),
    "offline": ("data", "offline"), "symbols": ("data", "symbols"), "start": ("data", "start"),
    "end": ("data", "end"), "align": ("data", "align"), "max_ffill_days": ("data", "max_ffill_days"),
    "adjustments": ("data", "adjustments"), "strict_adjustment": ("data", "strict_adjustment"),
    "date_format": ("data", "date_format"), "sources": ("data", "sources"), "splice": ("data", "splice"),
    "strategy": ("strategy", "name"), "params": ("strategy", "params"),
    "cash": ("costs", "cash"), "commission_bps": ("costs", "commission_bps"),
    "slippage_bps": ("costs", "slippage_bps"), "fill": ("costs", "fill"), "cash_buffer": ("costs", "cash_buffer"),
    "drift_tolerance": ("costs", "drift_tolerance"), "whole_shares": ("costs", "whole_shares"),
    "benchmark": (None, "benchmark"), "seed": (None, "seed"),
    "out": ("report", "out"), "pdf": ("report", "pdf"), "html": ("report", "html"), "metric": ("report", "metric"),
    "top": ("report", "top"), "heatmap": ("report", "heatmap"), "progress": ("report", "progress"),
    "grid": ("sweep", "grid"), "constraint": ("sweep", "constraint"), "jobs": ("sweep", "jobs"),
    "dask_scheduler": ("sweep", "dask_scheduler"), "engine": ("sweep", "engine"), "confirm": ("sweep", "confirm"),
    "strategies": ("compare", "strategies"), "baselines": ("compare", "baselines"),
    "horizons": ("study", "horizons"), "entry_lag": ("study", "entry_lag"), "n_boot": ("study", "n_boot"),
    "n_null": ("study", "n_null"), "when": ("study", "when"), "on": ("study", "on"), "analogs": ("study", "analogs"),
    "factors": ("factors", "enabled"), "factor_file": ("factors", "file"), "factor_units": ("factors", "units"),
    "hac_lags": ("factors", "hac_lags"),
    "is_years": ("walkforward", "is_years"), "oos_years": ("walkforward", "oos_years"),
    "anchored": ("walkforward", "anchored"), "objective": ("walkforward", "objective"),
}


def tables(kw: dict) -> dict:
    """Keyword settings as config-file tables."""
    out: dict = {}
    for k, v in kw.items():
        if v is None:
            continue
        if k not in KEYWORDS:
            import difflib
            close = difflib.get_close_matches(k, list(KEYWORDS), n=1)
            raise UserError(f"unknown setting {k!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                            + f"; settings: {', '.join(KEYWORDS)}")
        table, key = KEYWORDS[k]
        if isinstance(v, Path):
            v = str(v)
        if table is None:
            out[key] = v
        else:
            out.setdefault(table, {})[key] = v
    if isinstance(out.get("sweep", {}).get("grid"), (list, tuple)):
        out["sweep"]["grid"] = dict(out["sweep"]["grid"])
    return out


def settings(config=None, labels: dict | None = None, **kw) -> CF.Settings:
    """:class:`~rotationlab.configfile.Settings` from ``config`` and keyword overrides (``rule``:
    a Rule class defined in Python, or ``path.py:Class``, instead of ``strategy``)."""
    if kw.get("rule") is not None:
        kw["strategy"] = _rule_name(kw.pop("rule"))
    kw.pop("rule", None)
    over = tables(kw)
    if isinstance(config, CF.Settings):
        if not over:
            return config
        base = _settings_tables(config)
        s = CF.settings(CF.merge(base, over), config_file=config.config_file)
        return s
    if isinstance(config, RunConfig):
        return CF.settings(CF.merge(_run_tables(config), over))
    if config is None or isinstance(config, (str, Path)):
        return CF.from_file(config, over, labels)
    raise UserError(f"config must be a path to a TOML file, Settings or RunConfig, not {type(config).__name__}")


def _run_tables(cfg: RunConfig) -> dict:
    ex = cfg.execution
    data = {"source": cfg.source, "offline": cfg.offline, "align": cfg.align.kind,
            "max_ffill_days": cfg.align.max_ffill_days, "strict_adjustment": cfg.strict_adjustment}
    for k in ("data_dir", "cache_dir", "start", "end", "date_format"):
        if getattr(cfg, k):
            data[k] = getattr(cfg, k)
    if cfg.adjustments:
        data["adjustments"] = dict(cfg.adjustments)
    if cfg.sources:
        data["sources"] = dict(cfg.sources)
    if cfg.splice:
        data["splice"] = dict(cfg.splice)
    return {"benchmark": cfg.benchmark or "none", "data": data,
            "strategy": {"name": cfg.strategy, "params": dict(cfg.params)},
            "costs": {"cash": ex.cash, "commission_bps": ex.commission_bps, "slippage_bps": ex.slippage_bps,
                      "fill": ex.fill, "cash_buffer": ex.cash_buffer, "drift_tolerance": ex.drift_tolerance,
                      "whole_shares": not ex.fractional}}


def _settings_tables(s: CF.Settings) -> dict:
    out = _run_tables(s.run)
    out["seed"] = s.seed
    if s.symbols is not None:
        out["data"]["symbols"] = list(s.symbols)
    sw = s.sweep
    out["sweep"] = {k: v for k, v in {"grid": dict(sw.grid), "constraint": sw.constraint, "jobs": sw.jobs,
                                      "dask_scheduler": sw.dask_scheduler, "engine": sw.engine,
                                      "confirm": sw.confirm}.items() if v is not None}
    out["report"] = {k: v for k, v in {"out": s.report.out, "pdf": s.report.pdf, "html": s.report.html,
                                       "progress": s.report.progress, "metric": sw.metric, "top": sw.top,
                                       "heatmap": sw.heatmap}.items() if v is not None}
    st = s.study
    out["study"] = {k: v for k, v in {"horizons": list(st.horizons), "entry_lag": st.entry_lag, "n_boot": st.n_boot,
                                      "n_null": st.n_null, "when": st.when, "on": st.on,
                                      "analogs": st.analogs}.items() if v is not None}
    w = s.walkforward
    out["walkforward"] = {"is_years": w.is_years, "oos_years": w.oos_years, "anchored": w.anchored,
                          "objective": w.objective}
    out["compare"] = {"strategies": [{"name": n, "params": dict(p)} for n, p in s.strategies],
                      "baselines": s.baselines}
    return out


# -- data -----------------------------------------------------------------------------------------
def load_sample(symbols=("^DJI", "^IXIC", "^GSPC"), start=None, end=None) -> dict:
    """The embedded offline sample (``^IXIC``, ``^GSPC`` 1999-2018, ``^DJI`` close 1885-2023)."""
    from data_feeds import get_source
    return get_source("sample").load_many(list(symbols), start, end)


def load_csv(data_dir, symbols, start=None, end=None, **options) -> dict:
    """A folder of ``SYMBOL.csv`` files (any of the layouts the csv source reads)."""
    from data_feeds import get_source
    return get_source("csv", data_dir=data_dir, **options).load_many(list(symbols), start, end)


def load_yahoo(symbols, start=None, end=None, cache_dir=None, offline=False, **options) -> dict:
    """Yahoo Finance daily bars via yfinance, through the on-disk cache."""
    from data_feeds import get_source
    return get_source("yahoo", cache_dir=cache_dir, offline=offline, **options).load_many(list(symbols), start, end)


def _data(data, s: CF.Settings, symbols) -> dict:
    """Bars for ``symbols``: from ``data`` (frames or Bars) when given, else from the source."""
    if data is None:
        from rotationlab.engine import load_data
        return load_data(s.run, symbols)
    from data_feeds.frames import bars_from
    bars = bars_from(data, s.run.adjustments)
    missing = [x for x in symbols if x not in bars]
    if missing:
        raise UserError(f"the data given has no {', '.join(missing)} (it has {', '.join(bars)}); add them, or "
                        "choose the strategy's symbols with params=")
    return bars


def _emit(warns) -> None:
    """Each data warning of a command once (DataWarning: shown as one ``warning:`` line)."""
    from data_feeds import DataWarning
    for w in dict.fromkeys(warns):
        warnings.warn(w, DataWarning, stacklevel=3)


# -- run ------------------------------------------------------------------------------------------
@dataclass
class Run:
    """One backtest: the engine's result, its metrics (and statistics), the settings it ran on."""

    result: object
    metrics: dict
    settings: CF.Settings
    data: dict = field(default=None, repr=False)

    @property
    def equity(self) -> pd.Series:
        return self.result.equity

    @property
    def benchmark(self):
        return self.result.benchmark

    @property
    def growth(self):
        return self.result.growth

    @property
    def trades(self) -> pd.DataFrame:
        return self.result.trades

    @property
    def signals(self):
        return self.result.signals

    @property
    def weights(self) -> pd.DataFrame:
        return self.result.weights

    @property
    def warnings(self) -> tuple:
        return self.result.warnings

    @property
    def factors(self) -> dict | None:
        """The factor attribution (``metrics["factors"]``): loadings, t-statistics, alpha, R²
        of the rule's monthly excess returns on market, size and value; None when turned off."""
        return self.metrics.get("factors")

    def report(self, out=None, *, pdf: bool = True, html: bool = True, force: bool = False, command=None,
               timings: dict | None = None, helpers=None) -> Path:
        """Write the run's folder (CSVs, metrics.json, PNGs, report.pdf, report.html, manifest).
        ``helpers``: a started :class:`reports.run_report.RunHelpers` (else forked here)."""
        from reports.run_report import write_report
        from rotationlab.outdir import OutputFolder
        out = Path(out or self.settings.report.out or default_out("run", self.settings))
        folder = OutputFolder(out, "run", self.identity(), force=force, command=command).check()
        write_report(self, folder, pdf=pdf, html=html, timings=timings, helpers=helpers)
        folder.finish({"run": self.settings.run.to_dict(), "resolved_params": self.result.config["params"],
                       "seed": self.settings.seed}, self.result.provenance, seed=self.settings.seed,
                      config_file=self.settings.config_file)
        return out

    def identity(self) -> dict:
        return {"run": self.settings.run.to_dict(), "seed": self.settings.seed}


def default_out(kind: str, s: CF.Settings, extra: str = "") -> Path:
    from rotationlab.manifest import sha256_of
    ident = sha256_of({"kind": kind, "run": s.run.to_dict(), "seed": s.seed, "extra": extra})[:10]
    name = s.run.strategy.rsplit(":", 1)[-1] if ".py:" in s.run.strategy else s.run.strategy
    return Path("output") / f"{kind if kind != 'run' else name}-{ident}"


def run(config=None, *, data=None, rule=None, stats: bool = True, on_result=None, **kw) -> Run:
    """Run one strategy (default: the divergence rule on the embedded sample).

    ``rule``: a Rule class (or ``path.py:Class``) instead of ``strategy=``; ``stats=False`` skips
    the bootstrap and random-timing statistics (faster); ``on_result(result)`` is called with the
    engine's result before the metrics and statistics are computed (to start drawing its charts
    meanwhile, say)."""
    from rotationlab.engine import needed_symbols
    from rotationlab.engine import run as engine_run
    from rotationlab.metrics import compute_metrics
    from rotationlab.runstats import run_statistics
    s = settings(config, rule=rule, **kw)
    cfg = s.run
    from rotationlab.config import make_rule
    r = make_rule(cfg.strategy, cfg.params)
    needed = needed_symbols(cfg, r)
    s.check_symbols(needed, f"strategy {r.name()}")
    f = s.factors
    if f.file:  # a factor file given: read (and check) it before any work
        from rotationlab.factors import load_factors
        loaded = load_factors(f.file, units=f.units)
    else:
        loaded = None
    bars = _data(data, s, needed)
    result = engine_run(cfg, data=bars, rule=r)
    _emit(result.warnings)
    if on_result is not None:
        on_result(result)
    metrics = compute_metrics(result)
    if stats:
        from rotationlab.verdict import run_verdict
        metrics["statistics"] = run_statistics(result, seed=s.seed)
        metrics["statistics"]["verdict"] = run_verdict(metrics["statistics"])
    if f.enabled or f.file:
        from rotationlab.factors import run_attribution
        metrics["factors"] = run_attribution(result, f.file, units=f.units, hac_lags=f.hac_lags,
                                             required=f.file is not None, loaded=loaded)
    return Run(result=result, metrics=metrics, settings=s, data=bars)


def _rule_name(rule) -> str:
    """A strategy name for ``rule`` (a name, ``path.py:Class``, or a Rule class defined in Python)."""
    if isinstance(rule, str):
        return rule
    from strategies.base import remember
    return remember(rule)


# -- compare --------------------------------------------------------------------------------------
@dataclass
class Comparison:
    results: dict                  # label -> RunResult, in order
    metrics: dict                  # label -> compute_metrics()
    settings: CF.Settings
    configs: list                  # (label, RunConfig)

    def report(self, out=None, *, pdf: bool = True, html: bool = True, force: bool = False, command=None) -> Path:
        from reports.compare_report import write_comparison
        from rotationlab.outdir import OutputFolder
        out = Path(out or self.settings.report.out or default_out("compare", self.settings,
                                                                    repr([c.to_dict() for _, c in self.configs])))
        folder = OutputFolder(out, "compare", self.identity(), force=force, command=command).check()
        write_comparison(self, folder, pdf=pdf, html=html)
        first = next(iter(self.results.values()))
        symbols = {}
        for r in self.results.values():
            for sym, meta in r.provenance.get("symbols", {}).items():
                symbols.setdefault(sym, meta)
        folder.finish({"strategies": [[label, cfg.to_dict()] for label, cfg in self.configs]},
                      {"symbols": symbols, "alignment": first.provenance.get("alignment"),
                       "period": first.provenance.get("period"),
                       "by_strategy": {lab: r.provenance for lab, r in self.results.items()}},
                      seed=self.settings.seed, config_file=self.settings.config_file)
        return out

    def identity(self) -> dict:
        return {"strategies": [[label, cfg.to_dict()] for label, cfg in self.configs]}


def compare(config=None, *, data=None, strategies=None, baselines=None, progress=None, **kw) -> Comparison:
    """Strategies on identical data, period and costs, with the first one's baselines (buy-and-hold
    of the benchmark and of its growth basket, a 50/50 blend, always rotated).

    ``strategies``: a list of names, ``(name, params)`` pairs or ``"KEY:k=v;k=v"`` strings
    (default: the configured strategy)."""
    from rotationlab.comparison import parse_spec, run_comparison, with_baselines
    from rotationlab.engine import needed_symbols
    from rotationlab.metrics import compute_metrics
    if strategies is not None:
        specs = []
        for item in strategies:
            if isinstance(item, str):
                name, params = parse_spec(item)
                specs.append({"name": name, "params": dict(p.split("=", 1) for p in params)})
            else:
                name, params = item
                specs.append({"name": _rule_name(name), "params": dict(params or {})})
        kw["strategies"] = specs
    if baselines is not None:
        kw["baselines"] = baselines
    s = settings(config, **kw)
    from rotationlab.config import make_rule
    configs = []
    for name, params in s.strategies:
        rule = make_rule(name, params)
        given = {k: rule.values[k] for k in params}
        configs.append(dataclasses.replace(s.run, strategy=name, params=given))
    labelled = with_baselines(configs, baselines=s.baselines)
    symbols = list(dict.fromkeys(x for _, c in labelled for x in needed_symbols(c)))
    for label, c in labelled:
        s.check_symbols(needed_symbols(c), f"strategy {label}")
    bars = _data(data, s, symbols)
    results = run_comparison(labelled, data=bars, progress=progress)
    _emit([w for r in results.values() for w in r.warnings])
    metrics = {lab: compute_metrics(r) for lab, r in results.items()}
    return Comparison(results=results, metrics=metrics, settings=s, configs=labelled)


__all__ = ["Comparison", "Run", "compare", "load_csv", "load_sample", "load_yahoo", "run", "settings"]


# -- sweep ----------------------------------------------------------------------------------------
@dataclass
class SweepRun:
    """A finished (or resumed) sweep: its rows, the overfitting statistics, where it was written."""

    spec: object
    frame: pd.DataFrame            # sweep.csv as a typed DataFrame, in grid order
    outcome: object
    overfitting: dict | None
    out: Path
    settings: CF.Settings
    confirmed: str | None = None
    report_files: dict = field(default_factory=dict)

    def top(self, n: int = 10) -> pd.DataFrame:
        from rotationlab.sweeps import top_table
        return top_table(self.frame, self.spec, self.spec.metric, n)

    def summary_lines(self) -> list[str]:
        from reports.sweep_report import top_text
        from rotationlab.sweeps import cell
        o = self.outcome
        s = self.settings.sweep
        where = f"Dask scheduler {s.dask_scheduler}" if s.dask_scheduler else (
            "the fast engine" if s.engine == "fast" else f"{min(s.jobs or default_jobs(), max(o.computed, 1))} local "
                                                         "job(s)")
        streamed = float((getattr(o, "fast", None) or {}).get("timings", {}).get("streaming", 0.0))
        engine = o.seconds - streamed
        rate = f", {o.computed / engine:,.0f} combos/s" if o.computed and engine > 0 else ""
        extra = f" (+ {streamed:.2f} s streaming the trials and the overfitting statistics)" if streamed else ""
        lines = [f"sweep {self.spec.base.strategy}: {o.total} combinations ({o.computed} computed on {where}, "
                 f"{o.reused} already in sweep.csv), {o.errors} failed, {engine:.2f} s{rate}{extra}"]
        if self.confirmed:
            lines.append(self.confirmed)
        ov = self.overfitting
        if ov and ov.get("applicable"):
            lines.append(f"overfitting: deflated Sharpe {ov['deflated_sharpe_ratio']:.3f} over "
                         f"{ov['n_trials_effective']:.1f} effective trials; PBO {ov['pbo']:.3f}")
            if ov.get("verdict"):
                lines.append(f"verdict: {ov['verdict']['verdict']}: {ov['verdict']['sentence']}")
        failed = self.frame[self.frame["error"] != ""]
        if len(failed):
            lines.append(f"{len(failed)} combination(s) failed (see the error column of sweep.csv), e.g. "
                         f"{', '.join(f'{n}={cell(failed.iloc[0][n])}' for n in self.spec.names)}: "
                         f"{failed.iloc[0]['error']}")
        top = self.top(s.top)
        lines.append(f"top {len(top)} by {self.spec.metric}:")
        lines.append(top_text(top, self.spec, self.spec.metric))
        lines.append(f"wrote {self.out}/: " + ", ".join(sorted(p.name for p in self.out.iterdir()
                                                                 if not p.name.startswith("."))))
        return lines


def default_jobs() -> int:
    from rotationlab.sweeps import default_jobs as dj
    return dj()


def sweep(config=None, *, data=None, grid=None, resume: bool = False, force: bool = False, report: bool = True,
          command=None, **kw) -> SweepRun:
    """Run a strategy over a parameter grid into a folder (``out``; resumable), with the
    overfitting statistics of every trial; ``grid``: ``{name: values}`` (lists or ``--grid``
    text such as ``"0.01:0.05:0.01"``)."""
    from rotationlab import sweeps as S
    if grid is not None:
        kw["grid"] = dict(grid)
    s = settings(config, **kw)
    sw = s.sweep
    spec = S.build_spec(s.run, list(sw.grid), sw.constraint, sw.metric)
    heat = S.parse_heatmap(sw.heatmap, spec)
    if sw.engine != "fast" and sw.confirm:
        raise UserError("--confirm checks the fast engine against backtrader: add --engine fast")
    if sw.confirm < 0:
        raise UserError("--confirm N: give 0 or more rows")
    if sw.jobs is not None and sw.jobs < 1:
        raise UserError(f"--jobs {sw.jobs}: give at least 1 worker")
    if sw.top < 1:
        raise UserError(f"--top {sw.top}: give at least 1 row")
    s.check_symbols(spec.symbols, f"the grid of {s.run.strategy}")
    out = Path(s.report.out or (Path("output") / f"sweep-{spec.config_hash()[:10]}"))
    bars = _data(data, s, spec.symbols)
    outcome = S.run_sweep(spec, bars, out, jobs=sw.jobs, dask_scheduler=sw.dask_scheduler, resume=resume,
                          force=force, progress=s.report.progress, seed=s.seed, engine=sw.engine,
                          config_file=s.config_file, command=command)
    frame = S.load_rows(spec, outcome.rows_path)
    over = outcome.overfitting
    confirmed = None
    if sw.engine == "fast" and sw.confirm > 0:
        confirmed = _confirm_fast(spec, bars, frame, sw.confirm, s.seed, sw.jobs or default_jobs())
    res = SweepRun(spec=spec, frame=frame, outcome=outcome, overfitting=over, out=out, settings=s,
                   confirmed=confirmed)
    if report:
        best = _best_run(spec, frame, bars, sw.engine)
        from reports.sweep_report import write_sweep_report
        write_sweep_report(res, outcome.folder, heatmap=heat, top=sw.top, pdf=s.report.pdf, html=s.report.html,
                           best=best)
        S.finish_manifest(outcome)
    return res


def _best_run(spec, frame, bars, engine: str = "fast"):
    """The best row's equity (the fast engine's, exactly backtrader's; or a backtrader run for
    backtrader sweeps) and the benchmark's metrics, for the report."""
    from rotationlab import sweeps as S
    from rotationlab.metrics import compute_metrics
    ok = frame[(frame["error"] == "") & frame[spec.metric].notna()]
    if not len(ok):
        return None
    best = S.ranked(ok, spec.metric).iloc[0]
    combo = next(c for c in spec.combos if c.id == best["combo_id"])
    from rotationlab import fast
    if engine == "fast" and fast.kernel_available():
        result = fast.result_for(fast.Prepared(spec.base, bars), dict(zip(spec.names, combo.values)))
    else:
        from rotationlab.engine import run as engine_run
        result = engine_run(spec.config(combo), data=bars)
    return {"result": result, "combo": combo, "metrics": compute_metrics(result, with_tearsheet=False)}


def _confirm_fast(spec, data, frame, n, seed, jobs) -> str:
    """Re-run the best ``n`` rows and ``n`` random ones in backtrader (AgreementError if they
    differ) and check the rule's vectorized form against its per-bar one on them."""
    import numpy as np

    from rotationlab import fast
    from rotationlab import sweeps as S
    ok = frame[frame["error"] == ""]
    best = list(S.ranked(ok, spec.metric)["combo_id"].iloc[:n])
    rest = [c for c in ok["combo_id"] if c not in best]
    rng = np.random.default_rng(seed)
    picks = best + list(rng.choice(rest, size=min(n, len(rest)), replace=False)) if rest else best
    by_id = {c.id: c for c in spec.combos}
    sets = [dict(zip(spec.names, by_id[c].values)) for c in picks]
    sub = fast.run_fast(fast.prepare(spec.base, data, sets), sets)
    diffs = fast.confirm(spec.base, data, sets, sub, jobs=jobs)
    forms = fast.check_forms(spec.base, data, sets)
    both = f"; vectorized and per-bar decisions identical on {forms} rows" if forms else ""
    return (f"confirmed {len(sets)} rows in backtrader ({len(best)} best, {len(sets) - len(best)} random): largest "
            f"relative equity difference {float(np.max(diffs)):.2e} (tolerance "
            f"{fast.tolerance_for(spec.base.execution):.0e}){both}")


# -- study ----------------------------------------------------------------------------------------
@dataclass
class StudyRun:
    """An event study: what followed the rule's triggers (or the days a condition held)."""

    study: object                  # rotationlab.events.EventStudy
    lag: pd.DataFrame | None
    settings: CF.Settings

    @property
    def summary(self) -> dict:
        return self.study.summary

    @property
    def events(self) -> pd.DataFrame:
        return self.study.events

    @property
    def title(self) -> str:
        return self.study.title

    def report(self, out=None, *, pdf: bool = True, html: bool = True, force: bool = False, command=None) -> Path:
        from reports.study_report import write_study
        from rotationlab.outdir import OutputFolder
        st = self.settings.study
        out = Path(out or self.settings.report.out or default_out(
            "study", self.settings, repr((st.horizons, st.entry_lag, st.n_boot, st.n_null, st.when, st.on))))
        folder = OutputFolder(out, "study", self.identity(), force=force, command=command).check()
        write_study(self.study, folder, pdf=pdf, lag=self.lag, html=html)
        folder.finish({"run": self.settings.run.to_dict(), "study": dataclasses.asdict(self.settings.study),
                       "seed": self.settings.seed}, self.study.result.provenance, seed=self.settings.seed,
                      config_file=self.settings.config_file)
        return out

    def identity(self) -> dict:
        return {"run": self.settings.run.to_dict(), "study": dataclasses.asdict(self.settings.study),
                "seed": self.settings.seed}


def study(config=None, *, data=None, lag: bool = True, **kw) -> StudyRun:
    """Event study of the rule's triggers: forward returns of the rotation basket, growth and
    their difference, bootstrap intervals, random-date and clustering-aware nulls, a verdict, and
    (``lag``) the same rule filled ever later."""
    from rotationlab.config import make_rule
    from rotationlab.engine import needed_symbols
    from rotationlab.events import event_study, lag_sensitivity
    s = settings(config, **kw)
    st = s.study
    rule = make_rule(s.run.strategy, s.run.params)
    needed = needed_symbols(s.run, rule)
    if st.when:
        from rotationlab import expr as X
        needed = list(dict.fromkeys([*needed, *X.parse(st.when, what="--when").needed_symbols({})]))
    s.check_symbols(needed, f"strategy {rule.name()}")
    bars = _data(data, s, needed)
    es = event_study(s.run, horizons=st.horizons, entry_lag=st.entry_lag, n_boot=st.n_boot, n_null=st.n_null,
                     seed=s.seed, data=bars, when=st.when, on=st.on, analogs=st.analogs)
    _emit(es.result.warnings)
    from rotationlab.verdict import event_study_verdict
    es.summary["verdict"] = event_study_verdict(es.summary["results"], n_null=es.summary["n_null"],
                                                alpha=es.summary["alpha"])
    table = lag_sensitivity(s.run, data=bars) if lag and not (st.when or st.on) else None
    return StudyRun(study=es, lag=table, settings=s)


# -- walk-forward ---------------------------------------------------------------------------------
@dataclass
class WalkForwardRun:
    wf: object                     # rotationlab.walk_forward.WalkForward
    settings: CF.Settings
    spec: object

    @property
    def summary(self) -> dict:
        return self.wf.summary

    def report(self, out=None, *, pdf: bool = True, html: bool = True, force: bool = False, command=None) -> Path:
        from reports.walkforward_report import write_walkforward
        from rotationlab.outdir import OutputFolder
        w = self.settings.walkforward
        out = Path(out or self.settings.report.out or Path("output") / (
            f"walkforward-{self.spec.config_hash()[:10]}-{w.is_years:g}-{w.oos_years:g}"
            f"{'-anchored' if w.anchored else ''}-{w.objective}"))
        folder = OutputFolder(out, "walkforward", self.identity(), force=force, command=command).check()
        write_walkforward(self.wf, folder, self.settings.run.strategy, self.wf.summary["run"]["rule"], pdf=pdf,
                          html=html)
        folder.finish({"run": self.settings.run.to_dict(), "grid": self.spec.describe()["grid"],
                       "walkforward": dataclasses.asdict(w)}, (self.wf.summary.get("run") or {}).get("provenance", {}),
                      seed=self.settings.seed, config_file=self.settings.config_file)
        return out

    def identity(self) -> dict:
        return {"spec": self.spec.identity(), "walkforward": dataclasses.asdict(self.settings.walkforward)}


def walkforward(config=None, *, data=None, grid=None, **kw) -> WalkForwardRun:
    """Choose parameters in-sample over ``grid`` in each window, trade them out-of-sample, stitch."""
    from rotationlab import sweeps as S
    from rotationlab.walk_forward import walk_forward
    if grid is not None:
        kw["grid"] = dict(grid)
    s = settings(config, **kw)
    spec = S.build_spec(s.run, list(s.sweep.grid), s.sweep.constraint)
    s.check_symbols(spec.symbols, f"the grid of {s.run.strategy}")
    bars = _data(data, s, spec.symbols)
    w = s.walkforward
    wf = walk_forward(spec, bars, is_years=w.is_years, oos_years=w.oos_years, anchored=w.anchored,
                      objective=w.objective, jobs=s.sweep.jobs or default_jobs())
    return WalkForwardRun(wf=wf, settings=s, spec=spec)


# -- signal ---------------------------------------------------------------------------------------
@dataclass
class Signal:
    """The state of a rule at the close of one day."""

    info: dict

    def to_dict(self) -> dict:
        return dict(self.info)

    def line(self) -> str:
        i = self.info
        parts = [f"{i['strategy']} as of {i['asof']}: {i['state']}"]
        if i.get("since"):
            parts[0] += f" since {i['since']}"
        if i.get("spread") is not None:
            parts.append(f"{i.get('spread_label', 'signal')} {i['spread']:+.2%}")
        if i.get("distance"):
            parts.append(i["distance"]["text"])
        if i.get("last_trigger"):
            parts.append(f"last trigger {i['last_trigger']}")
        if i.get("note"):
            parts.append(f"note: {i['note']}")
        return "; ".join(parts)


def signal(config=None, *, data=None, asof=None, **kw) -> Signal:
    """The rule's state at the close of ``asof`` (default: the last day of the data): growth or
    rotated and since when, the logged signal values, the last trigger and the distance to the
    next flip in the signal's own units."""
    from rotationlab.config import make_rule
    from rotationlab.engine import needed_symbols
    from rotationlab.state import rule_state
    s = settings(config, **kw)
    if asof is not None:
        from data_feeds.base import check_date
        check_date(asof, "--asof")
        asof = str(pd.Timestamp(asof).date())
        if asof > str(pd.Timestamp.today().date()):
            raise UserError(f"--asof {asof} is after today; give a past day (or leave it out for the last day of "
                            "the data)")
        s = CF.replace_run(s, end=asof, start=None)
    rule = make_rule(s.run.strategy, s.run.params)
    needed = needed_symbols(s.run, rule)
    s.check_symbols(needed, f"strategy {rule.name()}")
    bars = _data(data, s, needed)
    info = rule_state(s.run, bars, rule, asof)
    if asof is not None and str(info["asof"]) < asof:
        info["note"] = f"the data end on {info['asof']}, before --asof {asof}"
    return Signal(info)
