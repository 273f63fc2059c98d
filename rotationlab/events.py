"""Event study of a signal strategy's trigger: what followed each Dow-over-Nasdaq divergence?

For every trigger date (a close at which the rule's trigger condition held) it measures the
forward returns of the rotation basket, of growth, and of rotation minus growth at several
horizons, then asks whether those outcomes differ from what the same number of randomly chosen
eligible days would show (random-date null), with block-bootstrap confidence intervals for the
mean (forward windows overlap, so neighbouring events are not independent).

Forward returns start at the close of the day *after* the trigger (``entry_lag=1``): the signal is
known at the trigger's close, so the first close one could hold from is the next one. Each basket
is bought and held over the horizon at its weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rotationlab import stats
from rotationlab.config import RunConfig, make_rule
from rotationlab.engine import needed_symbols, run
from rotationlab.errors import UserError
from rotationlab.results import RunResult

HORIZONS = (1, 5, 20, 60, 120)


def basket_forward(closes: pd.DataFrame, weights: dict, horizon: int, entry_lag: int) -> pd.Series:
    """Forward return of a buy-and-hold basket from close ``t+entry_lag`` to ``t+entry_lag+horizon``,
    indexed by ``t`` (NaN where the window leaves the data or a member has no price)."""
    total = pd.Series(0.0, index=closes.index)
    for s, w in weights.items():
        p = closes[s]
        start, end = p.shift(-entry_lag), p.shift(-(entry_lag + horizon))
        total = total + w * (end / start - 1.0)
    return total


def independent(dates: pd.DatetimeIndex, calendar: pd.DatetimeIndex, horizon: int) -> pd.DatetimeIndex:
    """Greedy non-overlapping subset: each kept event starts at least ``horizon`` bars after the
    previous kept one."""
    pos = calendar.get_indexer(dates)
    kept, last = [], None
    for d, p in zip(dates, pos):
        if last is None or p - last >= horizon:
            kept.append(d)
            last = p
    return pd.DatetimeIndex(kept)


@dataclass
class EventStudy:
    events: pd.DataFrame            # date index: spread, then <leg>_<h>d forward returns
    paths: dict                     # leg -> DataFrame (events x day 0..max horizon) cumulative returns
    null_paths: dict                # leg -> DataFrame (low/median/high x day): cluster-preserving null
    path_ci: dict                   # leg -> DataFrame (low/high x day): bootstrap band of the mean path
    summary: dict                   # study.json content (without the run header)
    result: RunResult               # the strategy run that produced the triggers
    data: dict | None = None        # the bars used (reused for the execution-lag runs)
    legs: dict = field(default_factory=dict)
    label: str | None = None        # what the events are (default: the rule's triggers)

    @property
    def title(self) -> str:
        return self.label or self.result.strategy


def _bootstrap_path_band(paths: np.ndarray, *, n_boot: int, alpha: float, block: int, rng, days) -> pd.DataFrame:
    """Stationary block bootstrap of the mean path over events (resampled as arch's
    StationaryBootstrap resamples), as low/high quantiles by day."""
    from rotationlab.stats import stationary_bootstrap_indices
    means = np.stack([paths[stationary_bootstrap_indices(len(paths), block, rng)].mean(axis=0)
                      for _ in range(n_boot)])
    return pd.DataFrame(np.quantile(means, [alpha / 2, 1 - alpha / 2], axis=0), index=["low", "high"], columns=days)


def study_legs(result: RunResult) -> dict:
    """The rule's rotation and growth baskets at the weights the rule holds them (weights summing
    below 1 leave the rest in cash, which earns nothing: the basket measured is the one held)."""
    b = result.baskets
    if not b.get("rotation") or not b.get("growth"):
        raise UserError(f"strategy {result.strategy} has no rotation and growth baskets to study; "
                        "use a rule with both (e.g. dow_nasdaq_divergence, signal_rule)")
    return {"rotation": dict(b["rotation"]), "growth": dict(b["growth"])}


def event_study(config: RunConfig, *, horizons=HORIZONS, entry_lag: int = 1, n_boot: int = 1000,
                n_null: int = 2000, seed: int = 0, data=None, alpha: float = 0.05, when: str | None = None,
                on=None, analogs: int = 20) -> EventStudy:
    """What followed the rule's triggers; or (``when``) the days a condition held; or (``on``)
    the ``analogs`` days whose conditions were closest to those of day ``on``."""
    rule = make_rule(config.strategy, config.params)
    if not rule.has_signal and when is None and on is None:
        raise UserError(f"strategy {rule.name()} logs no trigger; study needs a signal strategy "
                        "such as dow_nasdaq_divergence, or --when / --on")
    horizons = tuple(sorted({int(h) for h in horizons}))
    if not horizons or horizons[0] < 1:
        raise UserError("--horizons must be positive whole numbers of trading days, e.g. 1,5,20")
    cond = None
    if when is not None:
        from rotationlab import expr as X
        cond = X.parse(when, what="--when")
    if data is None:
        from rotationlab.engine import load_data
        extra = list(cond.needed_symbols({})) if cond is not None else []
        data = load_data(config, list(dict.fromkeys([*needed_symbols(config, rule), *extra])))
    result = run(config, data=data)
    legs = study_legs(result)
    closes = result.closes
    sig = result.signals
    label = None
    info: dict = {}
    if cond is not None:
        triggers, eligible_days, info = condition_days(cond, data, closes.index, config)
        label = f"days when {when}"
        if len(triggers) == 0:
            raise UserError(f"--when {when!r} never held between {closes.index[0]:%Y-%m-%d} and "
                            f"{closes.index[-1]:%Y-%m-%d}; loosen it or widen the period")
    elif on is not None:
        triggers, eligible_days, info = analog_days(data, closes.index, legs, on, analogs, max(horizons) + entry_lag,
                                                    config)
        label = f"the {len(triggers)} closest analogs of {pd.Timestamp(on):%Y-%m-%d}"
    else:
        eligible_days = sig.index[sig["state"] != "warmup"]
        triggers = sig.index[sig["triggered"].astype(bool)]
        if len(triggers) == 0:
            raise UserError(f"the rule never triggered between {sig.index[0]:%Y-%m-%d} and {sig.index[-1]:%Y-%m-%d}; "
                            "lower threshold or lookback_days, or widen the period")
    flags = pd.Series(True, index=triggers).reindex(closes.index, fill_value=False)

    fwd = {}
    for h in horizons:
        r = basket_forward(closes, legs["rotation"], h, entry_lag)
        g = basket_forward(closes, legs["growth"], h, entry_lag)
        fwd[("rotation", h)], fwd[("growth", h)], fwd[("rotation_minus_growth", h)] = r, g, r - g

    if cond is not None or on is not None:
        events = pd.DataFrame({"spread": info.get("values", pd.Series(np.nan, index=triggers)).reindex(triggers)},
                              index=triggers)
    else:
        events = pd.DataFrame({"spread": sig.loc[triggers, "spread"]}, index=triggers)
    for (leg, h), series in fwd.items():
        events[f"{leg}_{h}d"] = series.reindex(triggers)
    events.index.name = "date"

    rng = np.random.default_rng(seed)
    summary = {"horizons": list(horizons), "entry_lag": entry_lag, "seed": seed, "n_boot": n_boot,
               "n_null": n_null, "alpha": alpha, "n_triggers": int(len(triggers)),
               "n_trigger_onsets": int((flags & ~flags.shift(1, fill_value=False)).sum()),
               "events": label or "the rule's trigger days", **{k: v for k, v in info.items() if k != "values"},
               "eligible_days": int(len(eligible_days)), "legs": legs, "results": {}}
    for (leg, h), series in fwd.items():
        ev = series.reindex(triggers).dropna()
        pool = series.reindex(eligible_days).dropna()
        key = f"{leg}_{h}d"
        if len(ev) < 2:
            summary["results"][key] = {"n_events": int(len(ev))}
            continue
        ind = independent(ev.index, closes.index, h)
        # forward windows of neighbouring triggers overlap: resample blocks at least h events long
        ci = stats.mean_ci_block_bootstrap(ev.to_numpy(), n_boot=n_boot, alpha=alpha, seed=rng,
                                           min_block_length=min(h, max(1, len(ev) // 4)))
        null = stats.random_date_null(pool, len(ev), observed=float(ev.mean()), n_draws=n_null, seed=rng,
                                      band_alpha=alpha)
        shift = stats.circular_shift_null(pool, ev.index, n_draws=n_null, seed=rng, band_alpha=alpha,
                                          min_shift=h + entry_lag)
        summary["results"][key] = {
            "leg": leg, "horizon_days": h, "n_events": int(len(ev)), "n_independent": int(len(ind)),
            "mean": float(ev.mean()), "median": float(ev.median()), "hit_rate": float((ev > 0).mean()),
            "mean_independent": float(ev.reindex(ind).mean()),
            "ci_low": ci["low"], "ci_high": ci["high"], "block_length": ci["block_length"],
            "null_mean": null["null_mean"], "null_low": null["null_low"], "null_high": null["null_high"],
            "p_value_two_sided": null["p_value_two_sided"], "p_value_greater": null["p_value_greater"],
            "p_value_less": null["p_value_less"],
            "p_value_two_sided_cluster": shift["p_value_two_sided"],
            "p_value_greater_cluster": shift["p_value_greater"],
            "cluster_null_low": shift["null_low"], "cluster_null_high": shift["null_high"],
            "unconditional_mean": float(pool.mean()),
        }

    # Mean forward paths (day 0..max horizon) for the figures: a block-bootstrap band around the
    # events' mean path, and the cluster-preserving (circular shift) null band.
    hmax = max(horizons)
    paths, null_paths, path_ci = {}, {}, {}
    days = list(range(0, hmax + 1))
    for leg in ("rotation", "growth", "rotation_minus_growth"):
        cols = {}
        for d in days:
            if d == 0:
                cols[d] = pd.Series(0.0, index=closes.index)
            elif leg == "rotation_minus_growth":
                cols[d] = (basket_forward(closes, legs["rotation"], d, entry_lag)
                           - basket_forward(closes, legs["growth"], d, entry_lag))
            else:
                cols[d] = basket_forward(closes, legs[leg], d, entry_lag)
        full = pd.DataFrame(cols)
        pool = full.reindex(eligible_days).dropna()
        ev_paths = full.reindex(triggers).dropna()
        paths[leg] = ev_paths
        if len(ev_paths) < 2 or len(pool) < 3:
            continue
        path_ci[leg] = _bootstrap_path_band(ev_paths.to_numpy(), n_boot=min(n_boot, 500), alpha=alpha,
                                            block=max(1, min(hmax, len(ev_paths) // 4)), rng=rng, days=days)
        pos = pool.index.get_indexer(ev_paths.index)
        pos = pos[pos >= 0]
        arr = pool.to_numpy()
        lo = max(1, min(hmax + entry_lag, (len(pool) - 1) // 2))
        offsets = rng.integers(lo, len(pool) - lo + 1, size=min(n_null, 500))
        draws = np.stack([arr[(pos + k) % len(pool)].mean(axis=0) for k in offsets])
        null_paths[leg] = pd.DataFrame(np.quantile(draws, [alpha / 2, 0.5, 1 - alpha / 2], axis=0),
                                       index=["low", "median", "high"], columns=days)
    summary["path_method"] = ("mean cumulative forward return of the events by day; band: stationary block "
                              "bootstrap over events; null band: the event dates circularly shifted along "
                              "the eligible days (keeps their clustering)")
    return EventStudy(events=events, paths=paths, null_paths=null_paths, path_ci=path_ci, summary=summary,
                      result=result, legs=legs, data=data, label=label)


def _panel_closes(data: dict, symbols, calendar, config: RunConfig):
    """Closes of ``symbols`` over their whole histories, aligned (the study's extra symbols)."""
    from rotationlab.layout import build_panel
    import dataclasses
    panel = build_panel(dataclasses.replace(config, end=None), data, list(symbols))
    return panel


def condition_days(cond, data: dict, dates, config: RunConfig):
    """(event days, eligible days, info): the days of ``dates`` on which the expression ``cond``
    holds, and those on which it is defined, evaluated causally over the symbols' whole histories."""
    from rotationlab import expr as X
    symbols = list(cond.needed_symbols({}))
    missing = [s for s in symbols if s not in data]
    if missing:
        raise UserError(f"--when uses {', '.join(missing)}, which is not loaded; use symbols of the data source")
    panel = _panel_closes(data, symbols, dates, config)
    env = X.Panel(close={s: panel.closes[panel.slot(s)] for s in symbols},
                  open={s: panel.opens[panel.slot(s)] for s in symbols},
                  high={s: panel.highs[panel.slot(s)] for s in symbols},
                  low={s: panel.lows[panel.slot(s)] for s in symbols})
    ctx = X.SeriesContext(env, {})
    value = pd.Series(cond.evaluate(ctx), index=panel.calendar)
    margin = pd.Series(cond.margin(ctx, check=False), index=panel.calendar)
    value = value.reindex(dates)
    eligible = dates[value.notna().to_numpy()]
    events = dates[(value == 1.0).to_numpy()]
    return events, eligible, {"condition": cond.text, "values": margin.reindex(dates),
                              "values_are": "the condition's margin (its distance from flipping)"}


ANALOG_WINDOWS = (1, 5, 20)


def analog_days(data: dict, dates, legs: dict, on, k: int, after: int, config: RunConfig):
    """(analog days, eligible days, info): the ``k`` days before ``on`` whose conditions are
    closest to ``on``'s: the returns of the rule's growth and rotation baskets' symbols over the
    last 1, 5 and 20 days, each standardised by its own standard deviation over the history, by
    Euclidean distance. Days within 20 bars of ``on`` and days less than ``after`` bars before
    the end of the data (their outcome unknown) are left out; so are days too close to a chosen
    analog (at least 5 bars apart), so that one episode does not fill the list."""
    day = pd.Timestamp(on)
    symbols = list(dict.fromkeys([*legs["rotation"], *legs["growth"]]))
    closes = pd.DataFrame({s: data[s].frame["close"] for s in symbols}).reindex(dates)
    if day not in closes.index:
        later = closes.index[closes.index >= day]
        if not len(later):
            raise UserError(f"--on {day:%Y-%m-%d} is after the data ({closes.index[-1]:%Y-%m-%d}); choose an earlier day")
        day = later[0]
    feats = {}
    for s in symbols:
        for n in ANALOG_WINDOWS:
            feats[f"{s} {n}d"] = closes[s] / closes[s].shift(n) - 1.0
    f = pd.DataFrame(feats)
    z = (f - f.mean()) / f.std(ddof=1)
    target = z.loc[day]
    if target.isna().any():
        raise UserError(f"--on {day:%Y-%m-%d}: not enough history before it for {ANALOG_WINDOWS[-1]}-day returns")
    pos = {d: i for i, d in enumerate(closes.index)}
    i_on = pos[day]
    ok = z.notna().all(axis=1).to_numpy().copy()
    idx = np.arange(len(z))
    ok &= np.abs(idx - i_on) > 20
    ok &= idx < len(z) - after
    cand = z[ok]
    dist = np.sqrt(((cand - target) ** 2).sum(axis=1)).sort_values(kind="stable")
    chosen = []
    for d in dist.index:
        if all(abs(pos[d] - pos[c]) >= 5 for c in chosen):
            chosen.append(d)
        if len(chosen) >= k:
            break
    if len(chosen) < 2:
        raise UserError(f"--on {day:%Y-%m-%d}: fewer than 2 analog days in the history; widen the period")
    events = pd.DatetimeIndex(sorted(chosen))
    eligible = z.index[ok]
    return events, eligible, {
        "on": f"{day:%Y-%m-%d}", "conditions_on": {c: float(f.loc[day, c]) for c in f.columns},
        "analogs": [{"date": f"{d:%Y-%m-%d}", "distance": float(dist[d])} for d in sorted(chosen, key=lambda d: dist[d])],
        "distance": ("Euclidean distance between the days' returns of " + ", ".join(symbols) + " over the last "
                     + ", ".join(map(str, ANALOG_WINDOWS)) + " days, each standardised by its standard deviation "
                     "over the history; analogs at least 5 bars apart, none within 20 bars of the day itself"),
        "values": dist.reindex(events)}


LAGS = ("same_close", "next_open", "next_close", "second_open")


def lag_sensitivity(config: RunConfig, data=None, metrics_fn=None) -> pd.DataFrame:
    """The same rule and data filled at the same close, the next open, the next close and the
    open two days later: how much of the edge survives execution delay."""
    from dataclasses import replace

    from rotationlab.metrics import compute_metrics
    metrics_fn = metrics_fn or (lambda r: compute_metrics(r, with_tearsheet=False))
    rows = {}
    for fill in LAGS:
        res = run(replace(config, execution=replace(config.execution, fill=fill)), data=data)
        m = metrics_fn(res)["metrics"]
        rows[fill] = {k: m.get(k) for k in ("cagr", "sharpe", "max_drawdown", "excess_cagr", "n_trades")}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "fill"
    base = table.loc["same_close", "cagr"]
    bench = base - table.loc["same_close", "excess_cagr"] if "excess_cagr" in table and pd.notna(
        table.loc["same_close", "excess_cagr"]) else None
    if bench is not None and base != bench:
        table["edge_kept"] = (table["cagr"] - bench) / (base - bench)
    return table
