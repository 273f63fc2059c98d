"""rotationlab.metrics: the moved metrics against the previous implementation (from git), the
array helpers against rotationlab.stats and empyrical, and the tear-sheet sections against
quantstats (drawdown table, trailing-return windows, rolling beta), empyrical (capture ratios) and
hand computations on tiny series (trailing returns, crisis windows at the data's edges, annual
returns, time in asset and holding lengths, vs growth).

Real curves: the default backtest of the embedded sample (1999-2018) and a synthetic equity whose
last drawdown is not recovered.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import types

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SHARED_MARKET, needs_shared

from rotationlab import metrics as M
from rotationlab.config import RunConfig
from rotationlab.results import dump_json

#: The commit this module was moved from (reports/metrics.py as it was there is the reference).
OLD_COMMIT = "93008efe03a139017e6bfa6e93b46f553b1682ab"


def with_growth(result, growth):
    """``result`` with a ``growth`` value series (as runs will carry it)."""
    return dataclasses.replace(result, growth=growth)


@pytest.fixture(scope="module")
def result():
    from rotationlab.engine import run
    return run(RunConfig())


@pytest.fixture(scope="module")
def hold_result():
    from rotationlab.engine import run
    return run(RunConfig(strategy="buy_and_hold", start="2005-01-01", end="2007-12-31"))


@pytest.fixture(scope="module")
def growth(result):
    """Buy-and-hold of the growth basket (^IXIC), rebased to the starting cash, computed here."""
    c = result.closes["^IXIC"].reindex(result.equity.index)
    return (result.equity.iloc[0] * c / c.iloc[0]).rename("growth")


@pytest.fixture(scope="module")
def full(result, growth):
    return M.compute_metrics(with_growth(result, growth))


@pytest.fixture(scope="module")
def old():
    """reports/metrics.py as it was before the move, loaded from git as a module."""
    try:
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:reports/metrics.py"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"git history with commit {OLD_COMMIT[:10]} is not available")
    mod = types.ModuleType("old_reports_metrics")
    exec(compile(src, "old_reports_metrics.py", "exec", dont_inherit=True), mod.__dict__)
    return mod


@pytest.fixture(scope="module")
def qs():
    return pytest.importorskip("quantstats")


def synthetic_equity() -> pd.Series:
    """A seeded random walk with flat (all-cash) stretches, a first-day loss and an open final
    drawdown (the last value is well below the peak)."""
    rng = np.random.default_rng(1)
    r = rng.normal(0.001, 0.008, 700)
    r[0] = -0.02
    r[100:130] = 0.0
    r[400:420] = 0.0
    r[-80:] = -abs(r[-80:]) * 0.8
    idx = pd.bdate_range("2010-01-01", periods=len(r) + 1)
    return pd.Series(1e6 * np.r_[1.0, np.cumprod(1 + r)], index=idx, name="equity")


def assert_same_numbers(now, before, rel: float = 1e-12) -> None:
    """The same structure and keys, strings and counts equal, floats equal to ``rel``: the ratios
    were read from empyrical before and are computed here now, with numpy's summation instead of
    bottleneck's (the last one or two bits of a standard deviation move, nothing more)."""
    assert type(now) is type(before) or {type(now), type(before)} <= {int, float}, (now, before)
    if isinstance(before, dict):
        assert list(now) == list(before)
        for k in before:
            assert_same_numbers(now[k], before[k], rel)
    elif isinstance(before, (list, tuple)):
        assert len(now) == len(before)
        for a, b in zip(now, before):
            assert_same_numbers(a, b, rel)
    elif isinstance(before, float):
        assert (np.isnan(now) and np.isnan(before)) or now == pytest.approx(before, rel=rel, abs=1e-15), (now, before)
    else:
        assert now == before


# -- the move: same names, same results ----------------------------------------------------------
def test_compute_metrics_equals_the_previous_implementation(result, hold_result, old):
    no_bench = dataclasses.replace(hold_result, benchmark=None)
    for res in (result, hold_result, no_bench):
        res = dataclasses.replace(res, growth=None)  # the previous results had no growth reference
        before = json.loads(dump_json(old.compute_metrics(res)))
        now = json.loads(dump_json(M.compute_metrics(res)))
        assert "tearsheet" in now and "vs_growth" not in now and "growth_metrics" not in now
        # every previous key, with the previous values (to 1e-12: see assert_same_numbers)
        assert_same_numbers({k: now[k] for k in before}, before)
        assert list(now["metrics"]) == list(before["metrics"])
        assert_same_numbers(json.loads(dump_json(M.compute_metrics(res, with_tearsheet=False))), before)


def _series_cases(result):
    rng = np.random.default_rng(11)
    idx = pd.bdate_range("2001-01-01", periods=600)
    noisy = pd.Series(rng.normal(0.0004, 0.012, 600), index=idx)
    holes = noisy.copy()
    holes.iloc[[0, 17, 300]] = np.nan
    return {
        "real": M.strategy_returns(result), "benchmark": M.benchmark_returns(result), "noisy": noisy,
        "with NaN": holes, "constant": pd.Series(0.001, index=idx), "flat": pd.Series(0.0, index=idx),
        "losing": -noisy.abs(), "one": noisy.iloc[:1], "two": noisy.iloc[:2], "empty": noisy.iloc[:0],
    }


def test_ratios_are_empyricals(result):
    """The ratios computed here equal empyrical's on real, noisy, holed, constant, losing and tiny
    series (to 1e-12: numpy sums where empyrical's bottleneck sums; NaN where it gives NaN)."""
    def same(a, b):  # as metrics.json has them: a non-finite ratio is NaN (None in the JSON)
        a, b = M._f(a), M._f(b)
        return (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-15)
    cases = _series_cases(result)
    ref = cases["benchmark"]
    for name, r in cases.items():
        pairs = {
            "annual_return": (M.cagr(r), ep.annual_return(r, annualization=252)),
            "annual_volatility": (M.annual_volatility(r), ep.annual_volatility(r, annualization=252)),
            "sharpe": (M.sharpe(r), ep.sharpe_ratio(r, annualization=252)),
            "sortino": (M.sortino(r), ep.sortino_ratio(r, annualization=252)),
            "max_drawdown": (M.max_drawdown(r), ep.max_drawdown(r)),
            "calmar": (M.calmar(r), ep.calmar_ratio(r, annualization=252)),
        }
        if len(r) and name not in ("benchmark",):
            b = ref.iloc[:len(r)].set_axis(r.index) if len(ref) >= len(r) else None
            if b is not None:
                a_here, b_here = M.alpha_beta(r, b)
                a_ep, b_ep = ep.alpha_beta(r, b, annualization=252)
                pairs.update({"alpha": (a_here, a_ep), "beta": (b_here, b_ep),
                              "excess_sharpe": (M.excess_sharpe(r, b), ep.excess_sharpe(r, b))})
        bad = {k: v for k, v in pairs.items() if not same(*v)}
        assert not bad, (name, bad)
    r = cases["real"]
    pd.testing.assert_series_equal(M.rolling_sharpe(r, 126), ep.roll_sharpe_ratio(r, 126).reindex(r.index),
                                   check_exact=False, rtol=1e-12, check_names=False)


def test_helpers_equal_the_previous_implementation(result, old):
    assert M.METRIC_ROWS == old.METRIC_ROWS and M.RELATIVE == old.RELATIVE and M.TRADING == old.TRADING
    assert (M.PERIODS, M.N_WORST_DRAWDOWNS) == (old.PERIODS, old.N_WORST_DRAWDOWNS)
    r = M.strategy_returns(result)
    b = M.benchmark_returns(result)
    pd.testing.assert_series_equal(r, old.strategy_returns(result))
    pd.testing.assert_series_equal(b, old.benchmark_returns(result))
    pd.testing.assert_series_equal(M.wealth(r), old.wealth(r))
    pd.testing.assert_frame_equal(M.drawdown_episodes(result.equity), old.drawdown_episodes(result.equity))
    assert M.worst_drawdowns(result.equity, 8) == old.worst_drawdowns(result.equity, 8)
    pd.testing.assert_frame_equal(M.rotation_episodes(result), old.rotation_episodes(result))
    for x in (r, b):
        pd.testing.assert_frame_equal(M.monthly_returns(x), old.monthly_returns(x), check_exact=True)
        pd.testing.assert_series_equal(M.yearly_returns(x), old.yearly_returns(x), check_exact=True)
    pd.testing.assert_series_equal(M.rolling_return(r, 63), old.rolling_return(r, 63), check_exact=True)
    pd.testing.assert_series_equal(M.rolling_sharpe(r), old.rolling_sharpe(r), check_exact=False, rtol=1e-12)
    assert M.holding_spans(result.weights) == old.holding_spans(result.weights)
    assert M.annual_turnover(result) == old.annual_turnover(result)
    assert_same_numbers(M.returns_metrics(b, 1e-4), old.returns_metrics(b, 1e-4))
    for value, kind in ((0.1234, "pct"), (1.5, "ratio"), (1234.0, "days"), (12.34, "days1"), (7, "int"),
                        (None, "pct"), (float("nan"), "ratio"), ("x", "text")):
        assert M.fmt(value, kind) == old.fmt(value, kind)


def test_monthly_and_yearly_aggregation_is_empyricals_to_the_last_bit(result):
    rng = np.random.default_rng(5)
    x = pd.Series(rng.normal(0.0, 0.02, 3000), index=pd.bdate_range("2001-03-07", periods=3000, name="date"))
    x.iloc[[3, 400]] = np.nan  # empyrical compounds a NaN return as 0
    for s in (M.strategy_returns(result), M.benchmark_returns(result), x, x.iloc[:2]):
        for period in ("monthly", "yearly"):
            pd.testing.assert_series_equal(M._aggregate(s, period), ep.aggregate_returns(s, period),
                                           check_exact=True)
    with pytest.raises(ValueError):
        M._aggregate(x, "weekly")


def test_reports_metrics_reexports_the_core_module(old):
    from reports import metrics as RM
    public = [n for n in vars(old) if not n.startswith("_") and n not in ("annotations", "ep", "np", "pd",
                                                                          "RunResult")]
    for name in public:
        assert getattr(RM, name) is getattr(M, name), name
    assert RM.compute_metrics is M.compute_metrics and RM._f is M._f
    for name in M.__all__:
        assert hasattr(RM, name), name


def test_sharpe_and_cagr_are_the_stats_helpers():
    from rotationlab import stats
    assert stats.sharpe is M.sharpe and stats.cagr is M.cagr  # one definition, in the metrics module
    rng = np.random.default_rng(3)
    x = rng.normal(0.0005, 0.01, (300, 4))
    x[5, 1] = np.nan
    x[:, 3] = 0.001  # constant column
    cases = [x[:, 0], x, pd.DataFrame(x, columns=list("abcd")), x[:1], x[:1, 0], np.zeros((0, 2)),
             np.full(10, -1.5)]
    for arr in cases:
        for a, b in ((M.sharpe(arr), stats.sharpe(arr)), (M.sharpe(arr, 12, 1e-4), stats.sharpe(arr, 12, 1e-4)),
                     (M.cagr(arr), stats.cagr(arr)), (M.cagr(arr, 52), stats.cagr(arr, 52))):
            assert type(a) is type(b)
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    s = pd.Series(x[:, 0], index=pd.bdate_range("2020-01-01", periods=300))
    assert M.sharpe(s) == pytest.approx(ep.sharpe_ratio(s, annualization=252), rel=1e-12)
    assert M.cagr(s) == pytest.approx(ep.annual_return(s, annualization=252), rel=1e-12)
    assert isinstance(M.cagr(pd.DataFrame(x)), pd.Series)


# -- growth reference ---------------------------------------------------------------------------
def test_growth_metrics_and_vs_growth_against_an_independent_computation(result, growth, full):
    e = result.equity.to_numpy()
    g = growth.to_numpy()
    r, q = e[1:] / e[:-1] - 1, g[1:] / g[:-1] - 1
    n = len(r)
    a = r - q
    beta = np.cov(r, q, ddof=1)[0, 1] / np.var(q, ddof=1)
    expect = {
        "excess_cagr": np.prod(1 + r) ** (252 / n) - np.prod(1 + q) ** (252 / n),
        "tracking_error": a.std(ddof=1) * np.sqrt(252),
        "information_ratio": a.mean() / a.std(ddof=1) * np.sqrt(252),
        "beta": beta,
        "alpha": (1 + np.mean(r - beta * q)) ** 252 - 1,
    }
    vs = full["vs_growth"]
    assert set(vs) == set(M.RELATIVE)
    for key, value in expect.items():
        assert vs[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    gm = full["growth_metrics"]
    assert gm["cagr"] == pytest.approx(np.prod(1 + q) ** (252 / n) - 1, rel=1e-9)
    assert gm["max_drawdown"] == pytest.approx(np.min(g / np.maximum.accumulate(g) - 1), rel=1e-9)
    assert set(gm) == set(full["benchmark_metrics"])
    # the rule's CAGR minus growth's: the "rule vs holding growth" line
    assert vs["excess_cagr"] == pytest.approx(full["metrics"]["cagr"] - gm["cagr"], rel=1e-12)
    assert full["growth_drawdowns"][0]["depth"] == pytest.approx(gm["max_drawdown"], rel=1e-9)
    # relative metrics are one function: against the benchmark it gives the metrics' own values
    rel = M.relative_metrics(M.strategy_returns(result), M.benchmark_returns(result))
    assert rel == {k: full["metrics"][k] for k in M.RELATIVE}


def test_growth_against_itself_and_absent(result, growth, hold_result):
    same = with_growth(hold_result, hold_result.equity)
    vs = M.compute_metrics(same)["vs_growth"]
    assert vs["excess_cagr"] == 0.0 and vs["tracking_error"] == 0.0 and vs["beta"] == pytest.approx(1.0)
    out = M.compute_metrics(with_growth(hold_result, None))
    assert "vs_growth" not in out and out["tearsheet"]["capture"]["growth"] is None


# -- drawdown table: quantstats ------------------------------------------------------------------
def _qs_details(qs, values: pd.Series) -> pd.DataFrame:
    return qs.stats.drawdown_details(qs.stats.to_drawdown_series(values))


def _assert_same_as_quantstats(ours: pd.DataFrame, theirs: pd.DataFrame):
    assert len(ours) == len(theirs) > 0
    for col in ("start", "valley", "end"):
        assert list(ours[col].dt.strftime("%Y-%m-%d")) == list(theirs[col]), col
    assert list(ours["days"]) == list(theirs["days"])
    np.testing.assert_allclose(ours["depth"].to_numpy() * 100, theirs["max drawdown"].to_numpy(),
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("curve", ["sample", "synthetic"])
def test_drawdown_details_equal_quantstats(qs, result, curve):
    values = result.equity if curve == "sample" else synthetic_equity()
    ours = M.drawdown_details(values)
    _assert_same_as_quantstats(ours, _qs_details(qs, values))
    # fed the returns instead of the values, quantstats gives the same table
    returns = values.pct_change().dropna()
    _assert_same_as_quantstats(ours, _qs_details(qs, returns))
    # the top 10 as quantstats' report sorts them (ties: by start date on both sides)
    table = M.drawdown_table(values)
    top = _qs_details(qs, values).assign(d=lambda f: f["max drawdown"]).sort_values(["d", "start"]).head(10)
    assert [t["start"] for t in table] == list(top["start"])
    assert [t["end"] for t in table] == list(top["end"])
    assert [t["days"] for t in table] == list(top["days"])
    np.testing.assert_allclose([t["depth"] * 100 for t in table], top["max drawdown"], atol=1e-6)
    # our own columns: the peak is the day before start, the recovery the day after end (if any),
    # trading_days is drawdown_episodes' days (peak to recovery or to the last date)
    idx = values.index
    for t in table:
        s, e = idx.get_loc(pd.Timestamp(t["start"])), idx.get_loc(pd.Timestamp(t["end"]))
        assert t["peak"] == f"{idx[s - 1]:%Y-%m-%d}"
        assert t["recovered"] == (e + 1 < len(idx))
        assert t["recovery"] == (f"{idx[e + 1]:%Y-%m-%d}" if t["recovered"] else None)
        assert t["trading_days"] == (e + 1 if t["recovered"] else len(idx) - 1) - (s - 1)
    episodes = M.drawdown_episodes(values)
    assert table[0]["trading_days"] == episodes["days"].iloc[0]
    assert table[0]["peak"] == f"{episodes['peak'].iloc[0]:%Y-%m-%d}"
    assert table[0]["valley"] == f"{episodes['trough'].iloc[0]:%Y-%m-%d}"


def test_synthetic_curve_ends_in_an_open_drawdown(qs):
    values = synthetic_equity()
    det = M.drawdown_details(values)
    assert len(det) >= 20 and det["start"].iloc[0] == values.index[1]  # the first-day loss opens one
    last = det.iloc[-1]
    assert not last["recovered"] and pd.isna(last["recovery"]) and last["end"] == values.index[-1]
    theirs = _qs_details(qs, values).iloc[-1]
    assert theirs["end"] == f"{values.index[-1]:%Y-%m-%d}"  # quantstats ends an open drawdown on the last date


def test_quantstats_misses_an_open_drawdown_from_the_first_return(qs):
    """Fed returns whose first day is a loss never recovered, quantstats finds no drawdown; fed the
    values (starting point included, as ours always are) it agrees with us."""
    idx = pd.bdate_range("2020-01-01", periods=4)
    r = pd.Series([-0.1, 0.02, -0.01, 0.03], index=idx)
    assert _qs_details(qs, r).empty
    values = M.wealth(r) * 100
    ours = M.drawdown_details(values)
    assert len(ours) == 1 and not ours["recovered"].iloc[0]
    _assert_same_as_quantstats(ours, _qs_details(qs, values))


def test_drawdown_details_by_hand():
    idx = pd.bdate_range("2020-01-01", periods=9)  # Wed 1 .. Mon 13 January
    eq = pd.Series([100, 110, 99, 105, 111, 90, 95, 100, 105], index=idx, dtype=float)
    det = M.drawdown_details(eq)
    assert list(det["start"]) == [idx[2], idx[5]] and list(det["valley"]) == [idx[2], idx[5]]
    assert list(det["end"]) == [idx[3], idx[8]] and list(det["peak"]) == [idx[1], idx[4]]
    assert det["recovery"].iloc[0] == idx[4] and pd.isna(det["recovery"].iloc[1])
    assert list(det["days"]) == [4, 6]  # Fri 3 .. Mon 6 January; Wed 8 .. Mon 13 January
    assert list(det["trading_days"]) == [3, 4]
    assert det["depth"].to_numpy() == pytest.approx([99 / 110 - 1, 90 / 111 - 1])
    assert M.drawdown_details(pd.Series([1.0, 2.0, 3.0], index=idx[:3])).empty
    assert M.drawdown_table(eq)[0]["depth"] == pytest.approx(90 / 111 - 1)


# -- trailing returns ---------------------------------------------------------------------------
def test_trailing_returns_by_hand():
    v = pd.Series({"2014-06-30": 90.0, "2015-06-30": 100.0, "2016-12-30": 110.0, "2017-12-29": 120.0,
                   "2018-06-29": 115.0, "2018-09-28": 126.0, "2018-11-30": 130.0, "2018-12-14": 125.0,
                   "2018-12-31": 140.0})
    v.index = pd.to_datetime(v.index)
    t = M.trailing_returns(v)
    assert list(t) == [k for k, *_ in M.TRAILING_PERIODS]
    assert t["mtd"] == pytest.approx(140 / 130 - 1)  # from the November close
    assert t["3m"] == pytest.approx(140 / 126 - 1)   # anchor 2018-09-30 (Sunday): the close before it
    assert t["6m"] == pytest.approx(140 / 115 - 1)   # anchor 2018-06-30 (Saturday)
    assert t["ytd"] == pytest.approx(140 / 120 - 1) == t["1y"]
    assert t["3y"] == pytest.approx((140 / 100) ** (252 / 7) - 1)  # 7 returns after 2015-06-30
    assert t["5y"] is None and t["10y"] is None  # the data does not reach back 5 years
    assert t["all"] == pytest.approx((140 / 90) ** (252 / 8) - 1)
    # anchor on a trading day: the return from that close (quantstats would add one more day)
    w = pd.Series([100.0, 104.0, 110.0, 121.0],
                  index=pd.to_datetime(["2017-06-28", "2017-06-29", "2018-05-31", "2018-06-29"]))
    assert M.trailing_returns(w)["1y"] == pytest.approx(121 / 104 - 1)
    # month ends clip: 3 months before 31 May is 28 February
    u = pd.Series([100.0, 105.0, 107.0, 110.0],
                  index=pd.to_datetime(["2018-02-27", "2018-02-28", "2018-03-01", "2018-05-31"]))
    t = M.trailing_returns(u)
    assert t["3m"] == pytest.approx(110 / 105 - 1) and t["mtd"] == pytest.approx(110 / 107 - 1)
    assert t["1y"] is None
    assert all(x is None for x in M.trailing_returns(u.iloc[:1]).values())


def test_trailing_returns_against_quantstats(qs, result, full):
    eq = result.equity
    df = eq.pct_change().dropna()
    t = M.trailing_returns(eq)
    today = df.index[-1]  # 2018-12-31: its 3M, 6M, 1Y anchors fall on weekends, so windows coincide
    assert today == pd.Timestamp("2018-12-31")
    off = pd.DateOffset
    windows = {"mtd": pd.Timestamp("2018-12-01"), "3m": today - off(months=3), "6m": today - off(months=6),
               "ytd": pd.Timestamp("2018-01-01"), "1y": today - off(years=1)}
    for key, start in windows.items():
        assert t[key] == pytest.approx(qs.stats.comp(df[df.index >= start]), rel=1e-9), key
    for key, months in (("3y", 36), ("5y", 60), ("10y", 120)):  # ours: full windows, quantstats' cagr
        assert t[key] == pytest.approx(qs.stats.cagr(df[df.index > today - off(months=months)]), rel=1e-9), key
    assert t["all"] == pytest.approx(qs.stats.cagr(df), rel=1e-9)
    assert t["all"] == pytest.approx(full["metrics"]["cagr"], rel=1e-12)
    # quantstats' metrics() table (percent, rounded to 2 decimals)
    table = qs.reports.metrics(df, display=False, mode="full", as_pct=True)["Strategy"]
    for key, label in (("mtd", "MTD"), ("3m", "3M"), ("6m", "6M"), ("ytd", "YTD"), ("1y", "1Y"),
                       ("all", "All-time (ann.)")):
        assert abs(t[key] * 100 - float(table[label])) <= 0.005 + 1e-9, key
    # in the tear sheet, for every series
    ts = full["tearsheet"]["trailing_returns"]
    assert ts["as_of"] == "2018-12-31" and ts["rule"] == t
    assert ts["benchmark"]["all"] == pytest.approx(full["benchmark_metrics"]["cagr"], rel=1e-9)
    assert ts["growth"]["ytd"] == pytest.approx(full["tearsheet"]["annual_returns"][-1]["growth"], rel=1e-9)


# -- rolling beta and correlation ----------------------------------------------------------------
def test_rolling_beta_and_correlation(qs, result, full):
    r, b = M.strategy_returns(result), M.benchmark_returns(result)
    roll = M.rolling_relative(r, b)
    assert list(roll.columns) == ["beta_126", "correlation_126", "beta_252", "correlation_252"]
    for w in (126, 252):
        assert roll[f"beta_{w}"].iloc[:w - 1].isna().all() and roll[f"beta_{w}"].iloc[w - 1:].notna().all()
        greeks = qs.stats.rolling_greeks(r, b, periods=w)
        np.testing.assert_allclose(roll[f"beta_{w}"].iloc[w - 1:], greeks["beta"].iloc[w - 1:], rtol=1e-8)
        for end in (w, 2000, len(r)):
            x, y = r.iloc[end - w:end].to_numpy(), b.iloc[end - w:end].to_numpy()
            assert roll[f"correlation_{w}"].iloc[end - 1] == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-8)
            assert roll[f"beta_{w}"].iloc[end - 1] == pytest.approx(ep.beta(x, y), rel=1e-8)
    summary = full["tearsheet"]["rolling"]["benchmark"]
    assert summary["252"]["beta"]["last"] == pytest.approx(roll["beta_252"].iloc[-1], rel=1e-12)
    assert summary["126"]["correlation"]["mean"] == pytest.approx(roll["correlation_126"].mean(), rel=1e-12)
    assert summary["126"]["beta"]["min"] <= summary["126"]["beta"]["mean"] <= summary["126"]["beta"]["max"]


def test_rolling_relative_with_flat_stretches():
    idx = pd.bdate_range("2020-01-01", periods=6)
    r = pd.Series([0.0, 0.0, 0.0, 0.01, -0.02, 0.03], index=idx)
    b = pd.Series([0.01, 0.02, -0.01, 0.0, 0.0, 0.0], index=idx)
    roll = M.rolling_relative(r, b, windows=(3,))
    # flat rule: beta 0, correlation undefined; flat benchmark: both undefined
    assert roll["beta_3"].iloc[2] == 0.0 and np.isnan(roll["correlation_3"].iloc[2])
    assert np.isnan(roll["beta_3"].iloc[5]) and np.isnan(roll["correlation_3"].iloc[5])
    s = M.rolling_summary(roll)
    assert s["3"]["correlation"]["last"] == pytest.approx(roll["correlation_3"].dropna().iloc[-1])


# -- capture ratios ------------------------------------------------------------------------------
def test_capture_ratios_by_hand():
    idx = pd.bdate_range("2020-01-01", periods=6)
    r = pd.Series([0.02, -0.01, 0.03, 0.005, -0.02, 0.01], index=idx)
    b = pd.Series([0.01, -0.02, 0.02, 0.0, -0.01, 0.005], index=idx)
    c = M.capture_ratios(r, b)
    up = ((1.02 * 1.03 * 1.01) ** (252 / 3) - 1) / ((1.01 * 1.02 * 1.005) ** (252 / 3) - 1)
    down = ((0.99 * 0.98) ** (252 / 2) - 1) / ((0.98 * 0.99) ** (252 / 2) - 1)
    assert c["up_capture"] == pytest.approx(up, rel=1e-12)
    assert c["down_capture"] == pytest.approx(down, rel=1e-12) == pytest.approx(1.0)
    assert c["up_down_ratio"] == pytest.approx(up / down)
    assert (c["up_days"], c["down_days"]) == (3, 2)  # the flat benchmark day counts in neither
    none_down = M.capture_ratios(r, b.clip(lower=0))
    assert none_down["down_capture"] is None and none_down["down_days"] == 0


def test_capture_ratios_equal_empyrical(result, growth, full):
    r = M.strategy_returns(result)
    for name, ref in (("benchmark", M.benchmark_returns(result)), ("growth", M.returns_of(growth))):
        c = full["tearsheet"]["capture"][name]
        assert c["up_capture"] == pytest.approx(ep.up_capture(r, ref), rel=1e-9, abs=1e-6), name
        assert c["down_capture"] == pytest.approx(ep.down_capture(r, ref), rel=1e-9, abs=1e-6), name
        assert c["up_down_ratio"] == pytest.approx(ep.up_down_capture(r, ref), rel=1e-9), name
        assert c["up_days"] == int((ref > 0).sum()) and c["down_days"] == int((ref < 0).sum())


# -- crises ---------------------------------------------------------------------------------------
TEST_CRISIS = (M.Crisis("t", "Test", "2020-01-06", "2020-01-10"),)


def _values(start, n, vals=None):
    idx = pd.bdate_range(start, periods=n)
    return pd.Series(vals if vals is not None else 100.0 + np.arange(n), index=idx, dtype=float)


def test_crisis_window_inside_and_at_the_edges_of_the_data():
    # Thu 2 .. Tue 14 January 2020; the window runs from the Mon 6 close to the Fri 10 close
    rule = _values("2020-01-02", 9, [100, 101, 102, 96, 99, 90, 94, 92, 95])
    bench = _values("2020-01-02", 9, [50, 50, 50, 45, 48, 40, 44, 44, 44])
    row, = M.crisis_table({"rule": rule, "benchmark": bench, "growth": None}, TEST_CRISIS)
    assert (row["from"], row["to"], row["days"], row["complete"]) == ("2020-01-06", "2020-01-10", 4, True)
    assert row["rule"] == pytest.approx(94 / 102 - 1) and row["benchmark"] == pytest.approx(44 / 50 - 1)
    assert row["growth"] is None
    assert row["rule_max_drawdown"] == pytest.approx(90 / 102 - 1)
    # data starting inside the window (Wed 8): cut to the data, not complete
    row, = M.crisis_table({"rule": rule.iloc[4:]}, TEST_CRISIS)
    assert (row["from"], row["to"], row["days"], row["complete"]) == ("2020-01-08", "2020-01-10", 2, False)
    assert row["rule"] == pytest.approx(94 / 99 - 1) and row["rule_max_drawdown"] == pytest.approx(90 / 99 - 1)
    # data ending inside the window (Thu 9)
    row, = M.crisis_table({"rule": rule.iloc[:6]}, TEST_CRISIS)
    assert (row["from"], row["to"], row["complete"]) == ("2020-01-06", "2020-01-09", False)
    assert row["rule"] == pytest.approx(90 / 102 - 1)
    # data starting on the peak and ending on the trough: complete
    row, = M.crisis_table({"rule": rule.iloc[2:7]}, TEST_CRISIS)
    assert row["complete"] and row["days"] == 4
    # windows the data does not reach into: left out
    assert M.crisis_table({"rule": rule.iloc[7:]}, TEST_CRISIS) == []   # starts after the trough
    assert M.crisis_table({"rule": rule.iloc[:3]}, TEST_CRISIS) == []   # ends on the peak
    assert M.crisis_table({"rule": rule.iloc[6:]}, TEST_CRISIS) == []   # starts on the trough
    # a peak on a weekend starts from the close before it
    weekend = (M.Crisis("w", "Weekend", "2020-01-04", "2020-01-08"),)
    row, = M.crisis_table({"rule": rule}, weekend)
    assert row["from"] == "2020-01-03" and row["rule"] == pytest.approx(99 / 101 - 1)


def test_crises_on_the_sample(result, growth, full):
    rows = {row["key"]: row for row in full["tearsheet"]["crises"]}
    # the sample (1999-01-11 .. 2018-12-31) covers every crisis up to 2018 Q4, all completely
    assert list(rows) == ["dotcom", "sept11", "gfc", "euro2011", "selloff2015", "q4_2018"]
    spx = result.closes["^GSPC"]
    nas = growth
    for c in M.CRISES:
        if c.key not in rows:
            continue
        row = rows[c.key]
        assert row["complete"] and (row["from"], row["to"]) == (c.peak, c.trough)
        assert row["benchmark"] == pytest.approx(spx[c.trough] / spx[c.peak] - 1, rel=1e-9)
        assert row["growth"] == pytest.approx(nas[c.trough] / nas[c.peak] - 1, rel=1e-9)
        seg = result.equity[c.peak:c.trough]
        assert row["rule"] == pytest.approx(seg.iloc[-1] / seg.iloc[0] - 1, rel=1e-12)
        assert row["rule_max_drawdown"] == pytest.approx((seg / seg.cummax() - 1).min(), rel=1e-12)
        assert row["rule_max_drawdown"] <= min(row["rule"], 0.0) + 1e-15


@needs_shared
def test_crisis_dates_are_sp500_closing_highs_and_lows():
    spx = pd.read_csv(SHARED_MARKET / "^GSPC.csv", parse_dates=["date"], index_col="date")["close"]
    for c in M.CRISES:
        window = spx[c.peak:c.trough]
        assert f"{window.idxmax():%Y-%m-%d}" == c.peak, c.name
        assert f"{window.idxmin():%Y-%m-%d}" == c.trough, c.name


# -- annual returns ----------------------------------------------------------------------------
def test_annual_returns_table_by_hand():
    idx = pd.to_datetime(["2019-12-30", "2019-12-31", "2020-01-02", "2020-06-30", "2020-12-31", "2021-01-04"])
    v = pd.Series([100, 110, 99, 120, 132, 66], index=idx, dtype=float)
    bv = pd.Series([10, 10, 11, 11, 12, 12], index=idx, dtype=float)
    rows = M.annual_returns_table(M.returns_of(v), M.returns_of(bv))
    assert [row["year"] for row in rows] == [2019, 2020, 2021]
    assert [row["rule"] for row in rows] == pytest.approx([0.1, 132 / 110 - 1, -0.5])
    assert [row["benchmark"] for row in rows] == pytest.approx([0.0, 0.2, 0.0])
    assert all(row["growth"] is None for row in rows)
    assert [(row["from"], row["to"], row["days"]) for row in rows] == [
        ("2019-12-31", "2019-12-31", 1), ("2020-01-02", "2020-12-31", 3), ("2021-01-04", "2021-01-04", 1)]


def test_annual_returns_in_the_tearsheet(result, growth, full):
    rows = full["tearsheet"]["annual_returns"]
    r = M.strategy_returns(result)
    y = M.yearly_returns(r)
    assert [row["year"] for row in rows] == list(y.index) == list(range(1999, 2019))
    assert [row["rule"] for row in rows] == pytest.approx(list(y), rel=1e-12)
    c = result.closes["^GSPC"]
    year_end = c.groupby(c.index.year).last()
    assert rows[5]["benchmark"] == pytest.approx(year_end[2004] / year_end[2003] - 1, rel=1e-9)
    assert rows[5]["growth"] == pytest.approx(growth[:"2004"].iloc[-1] / growth[:"2003"].iloc[-1] - 1, rel=1e-9)
    assert sum(row["days"] for row in rows) == len(r)


# -- time in asset and holding lengths ------------------------------------------------------------
def test_time_in_assets_by_hand():
    w = pd.DataFrame({"A": [0, .5, .5, 0, 0, .99, .99, 0],
                      "B": [0, .49, .49, .99, .99, 0, 0, .99],
                      "C": [0.0] * 8}, index=pd.bdate_range("2020-01-01", periods=8))
    w.iloc[0, 0] = np.nan
    t = M.time_in_assets(w)
    assert t["days"] == 8
    a, b, c = t["symbols"]["A"], t["symbols"]["B"], t["symbols"]["C"]
    assert (a["share_of_days"], a["holdings"], a["average_holding_days"]) == (0.5, 2, 2.0)
    assert a["average_weight"] == pytest.approx((0.5 + 0.5 + 0.99 + 0.99) / 8)
    assert (b["share_of_days"], b["holdings"], b["average_holding_days"]) == (5 / 8, 2, 2.5)
    assert (c["share_of_days"], c["holdings"], c["average_holding_days"]) == (0.0, 0, None)
    assert t["cash"]["share_of_days"] == 1 / 8
    assert t["cash"]["average_weight"] == pytest.approx((1 + 7 * 0.01) / 8)
    assert M.time_in_assets(w.iloc[:0])["days"] == 0


def test_time_in_assets_on_the_sample(result, full):
    t = full["tearsheet"]["time_in_assets"]
    w = result.weights
    assert set(t["symbols"]) == set(w.columns)
    total = sum(s["average_weight"] for s in t["symbols"].values()) + t["cash"]["average_weight"]
    assert total == pytest.approx(1.0, rel=1e-12)
    assert 1 - t["cash"]["average_weight"] == pytest.approx(full["metrics"]["exposure"], rel=1e-12)
    spans = M.holding_spans(w)
    n = sum(s["holdings"] for s in t["symbols"].values())
    mean = sum(s["holdings"] * s["average_holding_days"] for s in t["symbols"].values()) / n
    assert n == len(spans) and mean == pytest.approx(full["metrics"]["avg_holding_days"], rel=1e-12)
    for sym, s in t["symbols"].items():
        assert s["share_of_days"] == pytest.approx((w[sym] > 1e-9).mean())


# -- the whole tear sheet --------------------------------------------------------------------------
def test_tearsheet_is_json_ready_and_complete(full, hold_result):
    ts = full["tearsheet"]
    assert set(ts) == {"drawdowns", "annual_returns", "trailing_returns", "rolling", "capture", "crises",
                       "time_in_assets", "notes"}
    json.dumps(ts, allow_nan=False)  # plain Python values, no NaN
    assert set(ts["drawdowns"]) == {"rule", "benchmark", "growth"}
    assert ts["drawdowns"]["rule"][0]["depth"] == pytest.approx(full["metrics"]["max_drawdown"], rel=1e-9)
    assert ts["drawdowns"]["benchmark"][0]["depth"] == pytest.approx(full["benchmark_metrics"]["max_drawdown"],
                                                                     rel=1e-9)
    bare = M.compute_metrics(dataclasses.replace(hold_result, benchmark=None, growth=None))["tearsheet"]
    json.dumps(bare, allow_nan=False)
    assert bare["rolling"]["benchmark"] is None and bare["capture"] == {"benchmark": None, "growth": None}
    assert bare["drawdowns"]["benchmark"] is None and bare["trailing_returns"]["growth"] is None
    assert all(row["benchmark"] is None for row in bare["annual_returns"])
