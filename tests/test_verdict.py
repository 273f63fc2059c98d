"""Verdicts that reconcile the statistics: p-value formatting, Holm, the decision rules, and
synthetic event studies built with the real statistics of rotationlab.stats (a planted edge,
pure noise, and clustered triggers on an autocorrelated series with no edge)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.signal import lfilter

from rotationlab import stats as st
from rotationlab import verdict as V
from rotationlab.overfit import overfitting

# ------------------------------------------------------------------------------------
# formatting and Holm
# ------------------------------------------------------------------------------------


def test_format_p_floor_and_plain_values():
    assert V.format_p(1 / 1001, 1000) == "< 0.001 (1,000 draws)"
    assert V.format_p(2 / 1001, 1000, two_sided=True) == "< 0.002 (1,000 draws)"
    assert V.format_p(1 / 2001, 2000) == "< 0.0005 (2,000 draws)"
    assert V.format_p(1 / 1000, 999) == "<= 0.001 (999 draws)"    # the bound equals the floor
    assert V.format_p(2 / 1001, 1000) == "0.002"                  # one-sided: above its floor
    assert V.format_p(0.03421, 1000) == "0.034"
    assert V.format_p(0.00042) == "0.00042"
    assert V.format_p(1.0, 500) == "1.000"
    assert V.format_p(None) == V.format_p(float("nan"), 100) == "n/a"
    # the floor as the real null produces it: an edge no random draw reaches
    values = pd.Series(np.random.default_rng(0).normal(size=500), index=pd.bdate_range("2000-01-03", periods=500))
    r = st.random_date_null(values, 5, observed=10.0, n_draws=1000, seed=0)
    assert V.format_p(r["p_value_greater"], r["n_draws"]) == "< 0.001 (1,000 draws)"
    assert V.format_p(r["p_value_two_sided"], r["n_draws"], two_sided=True) == "< 0.002 (1,000 draws)"


def test_holm_adjustment_by_hand():
    """p = (0.01, 0.04, 0.03, 0.005): sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 =
    0.02, 0.03, 0.06, 0.04, running maximum 0.02, 0.03, 0.06, 0.06."""
    np.testing.assert_allclose(V.holm_adjust([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(V.holm_adjust([0.5, 0.6]), [1.0, 1.0])
    out = V.holm_adjust([0.02, np.nan, 0.01])
    assert np.isnan(out[1]) and np.allclose(out[[0, 2]], [0.02, 0.02])
    assert V.holm_adjust([]).size == 0


def test_rules_are_the_module_docstring():
    for rule, words in ((V.EVENT_RULE, ["circular-shift", "Holm", "excludes 0", "10 independent events",
                                        "never decides"]),
                        (V.RUN_RULE, ["random-timing", "above 0", "fewer than 10 rotation episodes"]),
                        (V.SWEEP_RULE, ["PBO >= 0.5", "DSR < 0.95", "DSR >= 0.95 and PBO < 0.5"])):
        assert rule in " ".join(V.__doc__.split())
        assert all(w in rule for w in words), (rule, words)


# ------------------------------------------------------------------------------------
# event study: the rule on hand-made results
# ------------------------------------------------------------------------------------

def _row(h, *, mean, lo, hi, p, p_random=0.5, n_ind=40, n=200):
    return {f"rotation_minus_growth_{h}d": {
        "leg": "rotation_minus_growth", "horizon_days": h, "n_events": n, "n_independent": n_ind, "mean": mean,
        "ci_low": lo, "ci_high": hi, "p_value_two_sided": p_random, "p_value_two_sided_cluster": p}}


def _results(*rows):
    out = {"rotation_5d": {"leg": "rotation", "mean": 0.1, "ci_low": 0.05, "ci_high": 0.2, "n_events": 200,
                           "n_independent": 40, "p_value_two_sided_cluster": 0.0001, "p_value_two_sided": 0.0001}}
    for r in rows:
        out.update(r)
    return out


def test_event_rule_on_hand_made_results():
    edge = V.event_study_verdict(_results(_row(5, mean=0.01, lo=0.002, hi=0.02, p=0.001),
                                          _row(20, mean=0.02, lo=-0.01, hi=0.05, p=0.4)), n_null=1000)
    assert edge["verdict"] == "evidence of an edge" and edge["n_horizons_tested"] == 2  # the other leg not judged
    assert json.loads(json.dumps(edge)) == edge  # plain data, as study.json holds it
    assert edge["by_horizon"][0]["p_adjusted"] == pytest.approx(0.002)
    # p = 0.001 is below the two-sided floor of 1,000 draws: shown as the bound
    assert "at 5 days" in edge["sentence"] and "p < 0.002 (1,000 draws) against shifted" in edge["sentence"]
    assert "Holm-adjusted over 2 horizons: 0.002" in edge["sentence"]
    # the bootstrap interval includes 0: significant p or not, no evidence
    veto = V.event_study_verdict(_results(_row(5, mean=0.01, lo=-0.001, hi=0.02, p=0.001, p_random=0.001)),
                                 n_null=1000)
    assert veto["verdict"] == "no evidence of an edge"
    assert "includes 0" in veto["by_horizon"][0]["status"]
    assert "random dates would give p < 0.002 (1,000 draws)" in veto["sentence"]
    against = V.event_study_verdict(_results(_row(60, mean=-0.03, lo=-0.05, hi=-0.01, p=0.002)), n_null=1000)
    assert against["verdict"] == "evidence against the rule"
    mixed = V.event_study_verdict(_results(_row(5, mean=0.01, lo=0.002, hi=0.02, p=0.001),
                                           _row(60, mean=-0.03, lo=-0.05, hi=-0.01, p=0.002)), n_null=1000)
    assert mixed["verdict"] == "inconclusive" and "higher at 5 days but lower at 60 days" in mixed["sentence"]


def test_holm_keeps_one_lucky_horizon_from_deciding():
    """p = 0.03 at one of five horizons would pass alpha alone; Holm over five makes it 0.15."""
    rows = [_row(h, mean=0.001, lo=-0.01, hi=0.01, p=0.5) for h in (1, 5, 60, 120)]
    rows.append(_row(20, mean=0.02, lo=0.005, hi=0.04, p=0.03))
    v = V.event_study_verdict(_results(*rows), n_null=1000)
    assert v["verdict"] == "no evidence of an edge"
    e20 = next(e for e in v["by_horizon"] if e["horizon_days"] == 20)
    assert e20["p_adjusted"] == pytest.approx(0.15) and e20["counts_as"] is None
    assert [e["horizon_days"] for e in v["by_horizon"]] == [1, 5, 20, 60, 120]


def test_too_few_independent_events_is_inconclusive():
    few = V.event_study_verdict(_results(_row(20, mean=0.05, lo=0.01, hi=0.09, p=0.001, n_ind=6),
                                         _row(60, mean=0.05, lo=0.01, hi=0.09, p=0.001, n_ind=3),
                                         {"rotation_minus_growth_120d": {"n_events": 1}}), n_null=1000)
    assert few["verdict"] == "inconclusive"
    assert "the most is 6, at 20 days" in few["sentence"]
    assert few["by_horizon"][-1]["status"].startswith("too few events to test")
    # one horizon with enough events decides; the thin one is named
    some = V.event_study_verdict(_results(_row(5, mean=0.0, lo=-0.01, hi=0.01, p=0.7, n_ind=80),
                                          _row(60, mean=0.05, lo=0.01, hi=0.09, p=0.001, n_ind=3)), n_null=1000)
    assert some["verdict"] == "no evidence of an edge" and "Too few independent events to count at 60 days" in \
        some["sentence"]


# ------------------------------------------------------------------------------------
# event study: synthetic series through the real statistics
# ------------------------------------------------------------------------------------

HORIZONS = (5, 20, 60)


def _forward(daily: np.ndarray, h: int) -> np.ndarray:
    """h-day forward sum from the day after t (entry one day after the trigger)."""
    c = np.r_[0.0, np.cumsum(daily)]
    out = np.full(len(daily), np.nan)
    t = np.arange(len(daily) - h - 1)
    out[t] = c[t + 1 + h] - c[t + 1]
    return out


def _runs(rng, n: int, on_days: float, off_days: float) -> np.ndarray:
    """A two-state signal with geometric run lengths (mean on_days on, off_days off): triggers
    that come in clusters, independent of the returns."""
    state, out, i = False, np.zeros(n, dtype=bool), 0
    while i < n:
        length = int(rng.geometric(1 / (on_days if state else off_days)))
        out[i:i + length] = state
        i, state = i + length, not state
    return out


def _independent(pos: np.ndarray, h: int) -> int:
    kept, last = 0, None
    for p in pos:
        if last is None or p - last >= h:
            kept, last = kept + 1, p
    return kept


def _study(daily: np.ndarray, triggers: np.ndarray, seed: int, *, edge_per_day: float = 0.0,
           n_null: int = 999, n_boot: int = 299) -> dict:
    """``summary["results"]`` as rotationlab.study builds it, for rotation minus growth: the
    block-bootstrap CI of the mean, the random-date and the circular-shift null."""
    idx = pd.bdate_range("1990-01-01", periods=len(daily))
    rng = np.random.default_rng(seed)
    out = {}
    for h in HORIZONS:
        pool = pd.Series(_forward(daily, h), index=idx).dropna()
        at = idx[triggers]
        at = at[at.isin(pool.index)]
        pool.loc[at] += edge_per_day * h                     # what follows a trigger, shifted up
        ev = pool.reindex(at)
        ci = st.mean_ci_block_bootstrap(ev.to_numpy(), n_boot=n_boot, seed=rng,
                                        min_block_length=min(h, max(1, len(ev) // 4)))
        rd = st.random_date_null(pool, len(ev), observed=float(ev.mean()), n_draws=n_null, seed=rng)
        cs = st.circular_shift_null(pool, ev.index, n_draws=n_null, seed=rng, min_shift=h + 1)
        out[f"rotation_minus_growth_{h}d"] = {
            "leg": "rotation_minus_growth", "horizon_days": h, "n_events": len(ev),
            "n_independent": _independent(pool.index.get_indexer(ev.index), h), "mean": float(ev.mean()),
            "ci_low": ci["low"], "ci_high": ci["high"], "p_value_two_sided": rd["p_value_two_sided"],
            "p_value_two_sided_cluster": cs["p_value_two_sided"]}
    return out


def test_planted_edge_is_evidence():
    """iid daily excess returns, clustered triggers, and +0.1% a day over the horizon after
    every trigger (+2% at 20 days): an edge (at 20 and 60 days; at 5 days, +0.5% against
    1.8% of noise, the shifted null, which lands on other clusters too, has less power)."""
    rng = np.random.default_rng(200)
    daily = rng.normal(0, 0.008, 4000)
    res = _study(daily, _runs(rng, 4000, 12, 120), seed=0, edge_per_day=0.001)
    v = V.event_study_verdict(res, n_null=999)
    assert v["verdict"] == "evidence of an edge", v["sentence"]
    assert [e["counts_as"] for e in v["by_horizon"]] == [None, "positive", "positive"]
    assert v["sentence"].startswith("Evidence of an edge: after the triggers")


def test_pure_noise_is_no_evidence():
    """iid returns, triggers on random days: no evidence, for all but at most 1 of 20 seeds."""
    verdicts = []
    for seed in range(20):
        rng = np.random.default_rng(300 + seed)
        res = _study(rng.normal(0, 0.008, 3000), rng.random(3000) < 0.05, seed=seed)
        verdicts.append(V.event_study_verdict(res, n_null=999)["verdict"])
    assert verdicts.count("no evidence of an edge") >= 19, verdicts
    assert verdicts[0] == "no evidence of an edge"


def test_clustered_noise_is_not_an_edge_though_random_dates_say_so():
    """No edge, but triggers in runs (about 12 days on, 120 off) on a series with a slowly
    drifting mean (AR(1), phi = 0.98): the clustered events' mean varies far more than the
    mean of as many random days, so the random-date null calls many seeds significant; the
    circular-shift null keeps the clusters and the verdict does not: at most 1 of the first 20
    seeds and 3 of 40 (5% is the level; these seeds give 1 and 2), while a random-date
    p-value below 0.05 at some horizon flags 34 of the 40."""
    false_pos, naive = [], []
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        drift = lfilter([1.0], [1.0, -0.98], rng.normal(0, 0.0006, 4500))[500:]
        daily = drift + rng.normal(0, 0.006, 4000)
        res = _study(daily, _runs(rng, 4000, 12, 120), seed=seed)
        v = V.event_study_verdict(res, n_null=999)
        assert v["verdict"] != "inconclusive"  # enough independent events: the test has teeth
        false_pos.append(v["verdict"] == "evidence of an edge")
        naive.append(any(r["p_value_two_sided"] < 0.05 for r in res.values()))
    assert sum(false_pos[:20]) <= 1 and sum(false_pos) <= 3, false_pos
    assert sum(naive) >= 24, sum(naive)  # the naive random-date p alone flags most seeds


# ------------------------------------------------------------------------------------
# run
# ------------------------------------------------------------------------------------

def _run_stats(p_greater, *, p_less=None, excess=(0.02, 0.005, 0.035), n_episodes=25, n_draws=1000):
    out = {"alpha": 0.05, "n_draws": n_draws, "cagr": {"estimate": 0.1, "low": 0.05, "high": 0.15},
           "sharpe": {"estimate": 0.8, "low": 0.3, "high": 1.3}}
    if excess is not None:
        out["excess_return"] = dict(zip(("estimate", "low", "high"), excess))
    out["random_timing"] = None if p_greater is None else {
        "p_value_greater": p_greater, "p_value_less": 1 - p_greater if p_less is None else p_less,
        "n_draws": n_draws, "n_episodes": n_episodes}
    return out


def test_run_rule_on_hand_made_statistics():
    edge = V.run_verdict(_run_stats(1 / 1001))
    assert edge["verdict"] == "evidence of an edge" and "< 0.001 (1,000 draws)" in edge["sentence"]
    assert edge["p_random_timing_text"] == "< 0.001 (1,000 draws)" and edge["excess_ci_side"] == "above"
    # beats the benchmark, but random timing of the same rotations does as well
    held = V.run_verdict(_run_stats(0.31))
    assert held["verdict"] == "no evidence of an edge"
    assert "random dates did as well (p 0.310)" in held["sentence"] and "not from when it switched" in held["sentence"]
    assert "+2.00% a year (95% CI +0.50% to +3.50%), above 0" in held["sentence"]
    # timing beats random, but the excess return's interval includes 0
    veto = V.run_verdict(_run_stats(0.004, excess=(0.01, -0.004, 0.025)))
    assert veto["verdict"] == "no evidence of an edge" and "which includes 0" in veto["sentence"]
    against = V.run_verdict(_run_stats(0.995, p_less=0.006, excess=(-0.03, -0.05, -0.01)))
    assert against["verdict"] == "evidence against the rule"
    no_bench = V.run_verdict(_run_stats(0.01, excess=None))
    assert no_bench["verdict"] == "evidence of an edge" and no_bench["excess_ci_side"] is None
    assert V.run_verdict(_run_stats(None))["verdict"] == "inconclusive"
    few = V.run_verdict(_run_stats(0.001, n_episodes=4))
    assert few["verdict"] == "inconclusive" and "only 4 rotation episodes" in few["sentence"]


def test_run_verdict_from_real_statistics():
    """Rotated leg better during the rule's episodes (planted timing) vs the same legs with the
    episodes where nothing happens: built with random_timing_null and block_bootstrap_ci."""
    rng = np.random.default_rng(20)
    n = 3000
    growth = rng.normal(0.0004, 0.012, n)
    rotated = rng.normal(0.0003, 0.009, n)
    episodes = [(60 + 230 * i, 40) for i in range(12)]
    mask = np.zeros(n, dtype=bool)
    for s, ln in episodes:
        mask[s:s + ln] = True

    def verdict(rot, growth):
        strat = np.where(mask, rot, growth)
        rt = st.random_timing_null(rot, growth, episodes, n_draws=999, seed=1)
        pair = np.column_stack([strat, growth])
        ex = st.block_bootstrap_ci(pair, lambda x: (x[:, 0] - x[:, 1]).mean() * 252, n_boot=200, seed=2)
        return V.run_verdict({"alpha": 0.05, "excess_return": ex, "random_timing": rt})

    planted = verdict(rotated + 0.004 * mask, growth)
    assert planted["verdict"] == "evidence of an edge", planted["sentence"]
    # no planted timing: an edge at most once in 10 seeds
    noise = [verdict(r.normal(0.0003, 0.009, n), r.normal(0.0004, 0.012, n))["verdict"]
             for r in map(np.random.default_rng, range(30, 40))]
    assert noise.count("evidence of an edge") <= 1, noise


# ------------------------------------------------------------------------------------
# sweep
# ------------------------------------------------------------------------------------

def _sweep(dsr, pbo, **kw):
    return {"applicable": True, "deflated_sharpe_ratio": dsr, "pbo": pbo, "best": "lookback_days=20",
            "best_sharpe_annual": 1.1, "expected_max_sharpe_annual": 0.9, "n_trials": 60,
            "n_trials_effective": 14.2, "pbo_combinations": 12870, "basis": "daily returns", **kw}


def test_sweep_rule_on_hand_made_dicts():
    assert V.sweep_verdict(_sweep(0.97, 0.12))["verdict"] == "robust"
    overfit = V.sweep_verdict(_sweep(0.93, 0.825))
    assert overfit["verdict"] == "likely overfit" and "82% of the 12,870 CSCV splits" in overfit["sentence"]
    assert V.sweep_verdict(_sweep(0.99, 0.5))["verdict"] == "likely overfit"       # PBO decides first
    luck = V.sweep_verdict(_sweep(0.93, 0.2))
    assert luck["verdict"] == "selection luck not ruled out" and "0.930 (< 0.95)" in luck["sentence"]
    assert V.sweep_verdict(_sweep(float("nan"), 0.2))["verdict"] == "selection luck not ruled out"
    assert V.sweep_verdict(_sweep(0.95, 0.49))["verdict"] == "robust"              # the boundaries
    na = V.sweep_verdict({"applicable": False, "reason": "needs at least 2 combinations"})
    assert na["verdict"] == "not applicable" and "2 combinations" in na["sentence"]
    excess = V.sweep_verdict(_sweep(0.97, 0.1, basis="daily returns in excess of the benchmark (...)"))
    assert "in excess of the benchmark" in excess["sentence"]


def test_sweep_verdict_on_real_overfitting_statistics():
    rng = np.random.default_rng(7)
    common = rng.normal(0, 0.01, 2000)
    x = 0.5 * common[:, None] + rng.normal(0, 0.01, (2000, 20))
    frame = pd.DataFrame(x, index=pd.bdate_range("2001-01-01", periods=2000), columns=[f"c{i}" for i in range(20)])
    assert V.sweep_verdict(overfitting(frame))["verdict"] != "robust"
    frame["c0"] += 0.003
    assert V.sweep_verdict(overfitting(frame))["verdict"] == "robust"
